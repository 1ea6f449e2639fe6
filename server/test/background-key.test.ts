import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { BACKGROUND_KEY, DEFAULT_FILTER_SETTINGS } from '@portrait-edit/shared';
import { readImage, type Frame } from '@portrait-edit/models';
import { BackgroundKey } from '../src/filter/background-key.js';
import { PassthroughProcessor } from '../src/filter/processors/passthrough.js';

const TESTDATA = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'testdata');

/** A 640×480 frame with the portrait in the middle and a flat wall around it, like a webcam. */
async function webcamLike(): Promise<Frame> {
  const face = await readImage(path.join(TESTDATA, 'faces', 'ffhq-1.png'), { maxSide: 512 });
  const W = 640, H = 480, s = 400, x0 = (W - s) >> 1, y0 = H - s;
  const data = new Uint8Array(W * H * 3).fill(200);
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const sx = Math.floor((x * face.width) / s), sy = Math.floor((y * face.height) / s);
      data.set(face.data.subarray((sy * face.width + sx) * 3, (sy * face.width + sx) * 3 + 3), ((y0 + y) * W + x0 + x) * 3);
    }
  }
  return { width: W, height: H, data, timestampMs: 0 };
}

const isKey = (d: Uint8Array, i: number) => Math.abs(d[i] - BACKGROUND_KEY[0]) < 8 && Math.abs(d[i + 1] - BACKGROUND_KEY[1]) < 8 && Math.abs(d[i + 2] - BACKGROUND_KEY[2]) < 8;

describe('background key (settings.background = "key")', () => {
  test('paints outside the person in the key colour, leaves the face, does nothing when off', async () => {
    const p = new BackgroundKey(new PassthroughProcessor());
    const src = await webcamLike();
    const ctx = { peerId: 'p', settings: { ...DEFAULT_FILTER_SETTINGS, enabled: true, background: 'key' as const } };
    // The matte model loads off the frame path: frames pass unkeyed until it is ready.
    let r = await p.process({ ...src, data: src.data.slice() }, ctx);
    for (let i = 0; i < 200 && Buffer.compare(Buffer.from(r.frame.data), Buffer.from(src.data)) === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = await p.process({ ...src, data: src.data.slice() }, ctx);
    }
    const d = r.frame.data, W = src.width;
    const at = (x: number, y: number) => (y * W + x) * 3;
    // Corners (wall) keyed; the middle of the face kept as it was.
    for (const [x, y] of [[5, 5], [W - 6, 5], [5, 200], [W - 6, 200]]) expect(isKey(d, at(x, y)), `corner ${x},${y}`).toBe(true);
    const c = at(W >> 1, 480 - 200);
    expect(isKey(d, c)).toBe(false);
    expect(Math.abs(d[c] - src.data[c])).toBeLessThan(3);
    let keyed = 0;
    for (let i = 0; i < d.length; i += 3) if (isKey(d, i)) keyed++;
    const share = keyed / (d.length / 3);
    expect(share).toBeGreaterThan(0.2);
    expect(share).toBeLessThan(0.8);

    const off = await p.process({ ...src, data: src.data.slice() }, { ...ctx, settings: { ...ctx.settings, background: 'keep' as const } });
    expect(Buffer.compare(Buffer.from(off.frame.data), Buffer.from(src.data))).toBe(0);
    await p.close();
  }, 120_000);
});
