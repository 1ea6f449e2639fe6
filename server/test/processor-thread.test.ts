import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import type { Frame, ProcessContext } from '@portrait-edit/models';
import { ThreadedProcessor } from '../src/filter/processor-thread.js';

// The processor chain on its own thread: a processor that throws, stalls, crashes its thread
// or never returns costs edited frames, never the stream (issue 8).

const ctx: ProcessContext = { peerId: 'p', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true } };
const frame = (mode: number): Frame => {
  const data = new Uint8Array(64 * 48 * 3).fill(7);
  data[0] = mode;
  return { width: 64, height: 48, data, timestampMs: 0 };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function untilEdited(p: ThreadedProcessor, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await p.process(frame(0), ctx);
    if (r.edited) return performance.now() - t0;
    await sleep(50);
  }
  throw new Error(`not edited again within ${timeoutMs} ms`);
}

describe('ThreadedProcessor', () => {
  let p: ThreadedProcessor;
  beforeAll(async () => {
    process.env.PE_TEST_PROCESSORS = '1';
    p = await ThreadedProcessor.create('test-faults', { stallMs: 300, restartAfterMs: 4000 });
  }, 60_000);
  afterAll(async () => {
    await p?.close();
  });

  test('frames are edited on the thread and come back in place', async () => {
    const f = frame(0);
    const r = await p.process(f, ctx);
    expect(r.edited).toBe(true);
    expect(r.frame).toBe(f);
    expect(f.data[1]).toBe(42);
    expect(f.data[2]).toBe(7);
  });

  test('a processor that throws passes that frame through with the reason', async () => {
    const f = frame(2);
    const r = await p.process(f, ctx);
    expect(r).toMatchObject({ edited: false, reason: 'filter error: test fault' });
    expect(f.data[1]).toBe(7);
    expect((await p.process(frame(0), ctx)).edited).toBe(true);
  });

  test('a stalled frame goes out unedited after stallMs; later frames pass through until the thread is free', async () => {
    const t0 = performance.now();
    const r = await p.process(frame(1), ctx);
    const waited = performance.now() - t0;
    expect(r.edited).toBe(false);
    expect(r.reason).toMatch(/stalled/);
    expect(waited).toBeLessThan(1000);
    const r2 = await p.process(frame(0), ctx);
    expect(r2).toMatchObject({ edited: false });
    expect(r2.reason).toMatch(/stalled/);
    await untilEdited(p, 6000);
    expect(p.restartCount).toBe(0);
  }, 20_000);

  test('a thread that crashes is replaced; frames pass through meanwhile', async () => {
    const r = await p.process(frame(3), ctx);
    expect(r.edited).toBe(false);
    expect(r.reason).toMatch(/crashed|exited|stalled/);
    const r2 = await p.process(frame(0), ctx);
    expect(r2.edited).toBe(false);
    await untilEdited(p, 15_000);
    expect(p.restartCount).toBe(1);
  }, 30_000);

  test('a thread stuck for good is terminated after restartAfterMs and replaced', async () => {
    const r = await p.process(frame(4), ctx);
    expect(r.reason).toMatch(/stalled/);
    await sleep(4200);
    const r2 = await p.process(frame(0), ctx);
    expect(r2.edited).toBe(false);
    expect(r2.reason).toMatch(/stuck|restart/);
    await untilEdited(p, 15_000);
    expect(p.restartCount).toBe(2);
  }, 30_000);
});

test('a processor that cannot load fails create() with its message and leaves no thread', async () => {
  await expect(ThreadedProcessor.create('no-such-processor')).rejects.toThrow(/unknown processor/);
});
