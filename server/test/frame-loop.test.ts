import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import type { Frame, FrameProcessor } from '@portrait-edit/models';
import { FrameLoop } from '../src/filter/frame-loop.js';

const W = 8;
const H = 4;
const BYTES = W * H * 3;
const ctx = () => ({ peerId: 'p', settings: DEFAULT_FILTER_SETTINGS });
const frameOf = (v: number) => new Uint8Array(BYTES).fill(v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(out: PassThrough): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let acc = Buffer.alloc(0);
  out.on('data', (c: Buffer) => {
    acc = Buffer.concat([acc, c]);
    while (acc.length >= BYTES) {
      frames.push(new Uint8Array(acc.subarray(0, BYTES)));
      acc = acc.subarray(BYTES);
    }
  });
  return frames;
}

describe('FrameLoop', () => {
  test('reassembles frames from arbitrary chunks and edits each one', async () => {
    const out = new PassThrough();
    const got = collect(out);
    const add1: FrameProcessor = { name: 'add1', process: (f: Frame) => (f.data.forEach((v, i) => (f.data[i] = v + 1)), { frame: f, edited: true }) };
    const loop = new FrameLoop({ width: W, height: H, processor: add1, context: ctx, output: out });
    const stream = Buffer.concat([frameOf(10), frameOf(20), frameOf(30)]);
    for (let i = 0; i < stream.length; i += 7) {
      loop.push(stream.subarray(i, i + 7));
      await sleep(1);
    }
    await sleep(20);
    expect(got.map((f) => f[0])).toEqual([11, 21, 31]);
    expect(loop.stats().passthroughReason).toBeNull();
  });

  test('never queues: while the processor is busy only the newest frame waits', async () => {
    const out = new PassThrough();
    const got = collect(out);
    const slow: FrameProcessor = { name: 'slow', process: async (f: Frame) => (await sleep(30), { frame: f, edited: true }) };
    const loop = new FrameLoop({ width: W, height: H, processor: slow, context: ctx, output: out });
    for (let v = 1; v <= 10; v++) loop.push(frameOf(v)); // ten frames arrive at once
    await sleep(150);
    // Frame 1 is processed, 2..9 are dropped as newer ones arrive, 10 is processed next.
    expect(got.map((f) => f[0])).toEqual([1, 10]);
    expect(loop.stats().dropped).toBe(8);
  });

  test('a throwing processor lets the original frame through and says why', async () => {
    const out = new PassThrough();
    const got = collect(out);
    const broken: FrameProcessor = {
      name: 'broken',
      process: (f: Frame) => {
        f.data.fill(0); // a half-done edit that must not leak out
        throw new Error('model exploded');
      },
    };
    const loop = new FrameLoop({ width: W, height: H, processor: broken, context: ctx, output: out });
    loop.push(frameOf(77));
    await sleep(20);
    expect(got).toHaveLength(1);
    expect(got[0].every((v) => v === 77)).toBe(true);
    expect(loop.stats().passthroughReason).toBe('filter error: model exploded');
  });

  test('a processor returning a frame of the wrong size is treated as a failure', async () => {
    const out = new PassThrough();
    const got = collect(out);
    const wrong: FrameProcessor = { name: 'wrong', process: () => ({ frame: { width: 1, height: 1, data: new Uint8Array(3), timestampMs: 0 }, edited: true }) };
    const loop = new FrameLoop({ width: W, height: H, processor: wrong, context: ctx, output: out });
    loop.push(frameOf(5));
    await sleep(20);
    expect(got[0][0]).toBe(5);
    expect(loop.stats().passthroughReason).toMatch(/wrong size/);
  });

  test('drops frames instead of buffering when the encoder is backed up', async () => {
    const out = new PassThrough({ highWaterMark: 1 });
    // Nobody reads `out`: everything written stays buffered.
    const loop = new FrameLoop({ width: W, height: H, processor: { name: 'passthrough', process: (f: Frame) => ({ frame: f, edited: false }) }, context: ctx, output: out });
    for (let v = 1; v <= 20; v++) {
      loop.push(frameOf(v));
      await sleep(2);
    }
    expect(out.writableLength).toBeLessThanOrEqual(2 * BYTES);
    expect(loop.stats().dropped).toBeGreaterThan(10);
  });
});
