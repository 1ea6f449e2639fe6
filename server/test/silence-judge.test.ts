import { spawn } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { BUSY_SILENCE_FACTOR, processCpuMs, SilenceJudge } from '../src/filter/filter-worker-pool.js';

// A silent filter worker is hung only if it is not computing: real processes, one spinning on
// the CPU, one stopped (what the fault test's 'hang' does to a worker).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
const stopped = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
afterAll(() => {
  busy.kill('SIGKILL');
  stopped.kill('SIGKILL');
});

/** Checks every 500 ms (the pipeline's heartbeat check) for `ms`, as if silent all along. */
async function judge(pid: number, silentFrom: number, limit: number, ms: number): Promise<number | null> {
  const j = new SilenceJudge(() => processCpuMs(pid));
  for (let t = 0; t <= ms; t += 500) {
    if (j.hung(silentFrom + t, limit)) return silentFrom + t;
    await sleep(500);
  }
  return null;
}

describe('hung or just slow', () => {
  test.skipIf(processCpuMs(process.pid) === null)('a silent worker using no CPU is hung at the limit; one computing gets longer', async () => {
    await sleep(300);
    stopped.kill('SIGSTOP');
    const limit = 1000;
    // Silent since 500 ms before the first check.
    expect(await judge(stopped.pid!, 500, limit, 3000)).toBe(1500);
    const busyAt = await judge(busy.pid!, 500, limit, limit * BUSY_SILENCE_FACTOR + 2000);
    expect(busyAt).toBeGreaterThan(limit * BUSY_SILENCE_FACTOR);
    expect(busyAt).toBeLessThanOrEqual(limit * BUSY_SILENCE_FACTOR + 500);
  }, 20_000);

  test('without CPU figures every silence past the limit is a hang', () => {
    const j = new SilenceJudge(() => null);
    expect(j.hung(900, 1000)).toBe(false);
    expect(j.hung(1100, 1000)).toBe(true);
  });
});
