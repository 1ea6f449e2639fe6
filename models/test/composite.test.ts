import { describe, expect, it } from 'vitest';
import type { Frame } from '../src/frame.js';
import { type CropFrame, forEachCoveredPixel } from '../src/tracking/alignment.js';
import { compositeFace } from '../src/tracking/composite.js';
import { sampleBilinear, sampleBilinear1 } from '../src/tracking/image-ops.js';

// compositeFace runs on every edited frame and is written for speed (one flat loop, inlined
// taps, reused scratch). This checks it against the plain per-pixel formulation it replaced —
// feathered border × matte × alpha, bilinear edit, colour match in the blend band — on
// synthetic frames with rotated crops, crops hanging off the frame, mattes and alphas.

function reference(frame: Frame, edited: Frame, crop: CropFrame, opts: { matte?: Float32Array; alpha?: Float32Array; feather?: number; colorMatch?: number }): number {
  const size = edited.width;
  const feather = Math.max(1e-3, (opts.feather ?? 0.08) * size);
  const colorMatch = Math.min(1, Math.max(0, opts.colorMatch ?? 0.5));
  const side = (m: Float32Array) => Math.round(Math.sqrt(m.length));
  const matte = opts.matte, mSide = matte ? side(matte) : 0;
  const alpha = opts.alpha, aSide = alpha ? side(alpha) : 0;
  const smooth = (t: number) => (t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t));
  const idx: number[] = [], wts: number[] = [], cols: number[] = [];
  const px = [0, 0, 0];
  forEachCoveredPixel(frame.width, frame.height, crop, size, (p, u, v) => {
    let w = smooth(Math.min(u, v, size - u, size - v) / feather);
    if (matte) w *= sampleBilinear1(matte, mSide, mSide, (u / size) * mSide, (v / size) * mSide);
    if (alpha) w *= sampleBilinear1(alpha, aSide, aSide, (u / size) * aSide, (v / size) * aSide);
    if (w <= 0) return;
    sampleBilinear(edited.data, size, size, Math.min(Math.max(u, 0.5), size - 0.5), Math.min(Math.max(v, 0.5), size - 0.5), 0, px);
    idx.push(p);
    wts.push(w);
    cols.push(px[0], px[1], px[2]);
  });
  const shift = [0, 0, 0];
  if (colorMatch > 0) {
    const so = [0, 0, 0], se = [0, 0, 0];
    let sw = 0;
    for (let i = 0; i < idx.length; i++) {
      if (wts[i] >= 0.98) continue;
      const b = wts[i] * (1 - wts[i]);
      for (let c = 0; c < 3; c++) {
        so[c] += b * frame.data[idx[i] * 3 + c];
        se[c] += b * cols[3 * i + c];
      }
      sw += b;
    }
    if (sw > 1e-6) for (let c = 0; c < 3; c++) shift[c] = (colorMatch * (so[c] - se[c])) / sw;
  }
  for (let i = 0; i < idx.length; i++) {
    for (let c = 0; c < 3; c++) {
      const o = idx[i] * 3 + c;
      const v = wts[i] * (cols[3 * i + c] + shift[c]) + (1 - wts[i]) * frame.data[o];
      frame.data[o] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return idx.length;
}

/** Deterministic pseudo-random bytes with some structure (gradients + noise). */
function image(w: number, h: number, seed: number): Frame {
  const data = new Uint8Array(w * h * 3);
  let s = seed;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const o = (y * w + x) * 3;
      data[o] = (x * 255) / w;
      data[o + 1] = (y * 255) / h;
      data[o + 2] = (s >>> 24) & 255;
    }
  }
  return { width: w, height: h, data, timestampMs: 0 };
}

function matteOf(side: number): Float32Array {
  const m = new Float32Array(side * side);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) m[y * side + x] = Math.max(0, 1 - Math.hypot(x - side / 2, y - side / 2) / (side / 2));
  return m;
}

const crops: [string, CropFrame][] = [
  ['upright, inside', { cx: 320, cy: 240, hx: 110, hy: 0 }],
  ['rotated', { cx: 300, cy: 250, hx: 120 * Math.cos(0.3), hy: 120 * Math.sin(0.3) }],
  ['off the top-left corner', { cx: 40, cy: 30, hx: 90 * Math.cos(-0.5), hy: 90 * Math.sin(-0.5) }],
  ['bigger than the frame', { cx: 320, cy: 240, hx: 400, hy: 50 }],
];
const variants = [
  { name: 'matte + strength, no colour match (the editor)', opts: { matte: matteOf(256), alpha: new Float32Array([0.7]), colorMatch: 0 } },
  { name: 'feather only, colour match 0.5', opts: { feather: 0.04 } },
  { name: 'alpha map + colour match 1', opts: { alpha: matteOf(32), colorMatch: 1 } },
];

describe('compositeFace matches the per-pixel reference', () => {
  for (const [cname, crop] of crops) {
    for (const v of variants) {
      it(`${cname}: ${v.name}`, () => {
        const edited = image(128, 128, 7);
        const a = image(640, 480, 1);
        const b = image(640, 480, 1);
        const nRef = reference(a, edited, crop, v.opts);
        const n = compositeFace(b, edited, crop, v.opts);
        expect(n).toBeGreaterThan(0);
        // Pixels right on the crop's edge may fall either side of it (float steps).
        expect(Math.abs(n - nRef)).toBeLessThanOrEqual(Math.max(4, nRef * 0.002));
        const orig = image(640, 480, 1).data;
        let maxDiff = 0, changed = 0;
        for (let i = 0; i < a.data.length; i++) {
          const d = Math.abs(a.data[i] - b.data[i]);
          if (d > maxDiff) maxDiff = d;
          if (b.data[i] !== orig[i]) changed++;
        }
        expect(maxDiff).toBeLessThanOrEqual(1);
        expect(changed).toBeGreaterThan(0);
      });
    }
  }

  it('leaves the frame alone where the weight is zero and for a crop wholly outside it', () => {
    const edited = image(64, 64, 3);
    const f = image(320, 240, 2);
    const before = f.data.slice();
    expect(compositeFace(f, edited, { cx: -500, cy: -500, hx: 50, hy: 0 })).toBe(0);
    expect(compositeFace(f, edited, { cx: 160, cy: 120, hx: 50, hy: 0 }, { alpha: new Float32Array([0]) })).toBe(0);
    expect(Buffer.compare(Buffer.from(f.data), Buffer.from(before))).toBe(0);
  });
});
