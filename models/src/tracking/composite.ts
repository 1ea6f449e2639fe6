/**
 * Paste an edited, aligned face crop back into the frame: the exact inverse of the alignment
 * similarity, bilinear sampling, a weight = feathered crop border × person matte × the
 * editor's alpha, and a colour match measured where the seam is (the blend band) so lighting
 * differences between the edit and the frame do not show as an edge.
 */
import type { Frame } from '../frame.js';
import { type CropFrame, forEachCoveredPixel } from './alignment.js';
import { sampleBilinear, sampleBilinear1 } from './image-ops.js';

export interface CompositeOptions {
  /** Person/face matte in crop space (square, any size), values in [0, 1]. */
  matte?: Float32Array;
  /** Editor alpha in crop space (square, any size), values in [0, 1]. */
  alpha?: Float32Array;
  /** Width of the soft edge at the crop border, as a fraction of the crop side (default 0.08). */
  feather?: number;
  /**
   * 0..1: how far to move the edit's mean colour in the blend band toward the frame's there
   * (default 0.5). 0 keeps the edit's colours exactly (e.g. a deliberate colour change).
   */
  colorMatch?: number;
}

function side(m: Float32Array): number {
  const s = Math.round(Math.sqrt(m.length));
  if (s * s !== m.length) throw new Error('matte/alpha must be square');
  return s;
}

const smoothstep = (t: number): number => (t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t));

/** Composite `edited` (square RGB24 crop for `crop`) into `frame` in place. Returns pixels touched. */
export function compositeFace(frame: Frame, edited: Frame, crop: CropFrame, opts: CompositeOptions = {}): number {
  const size = edited.width;
  if (edited.height !== size) throw new Error('compositeFace: crop must be square');
  const feather = Math.max(1e-3, (opts.feather ?? 0.08) * size);
  const colorMatch = Math.min(1, Math.max(0, opts.colorMatch ?? 0.5));
  const matte = opts.matte, mSide = matte ? side(matte) : 0;
  const alpha = opts.alpha, aSide = alpha ? side(alpha) : 0;

  // Pass 1: per covered pixel, weight and edited colour (kept for pass 2).
  const idx: number[] = [];
  const wts: number[] = [];
  const cols: number[] = [];
  const px = [0, 0, 0];
  forEachCoveredPixel(frame.width, frame.height, crop, size, (p, u, v) => {
    const edge = Math.min(u, v, size - u, size - v);
    let w = smoothstep(edge / feather);
    if (matte) w *= sampleBilinear1(matte, mSide, mSide, (u / size) * mSide, (v / size) * mSide);
    if (alpha) w *= sampleBilinear1(alpha, aSide, aSide, (u / size) * aSide, (v / size) * aSide);
    if (w <= 0) return;
    sampleBilinear(edited.data, size, size, Math.min(Math.max(u, 0.5), size - 0.5), Math.min(Math.max(v, 0.5), size - 0.5), 0, px);
    idx.push(p);
    wts.push(w);
    cols.push(px[0], px[1], px[2]);
  });

  // Colour match in the blend band (0 < w < 1), weighted toward the middle of the band.
  const shift = [0, 0, 0];
  if (colorMatch > 0) {
    const so = [0, 0, 0], se = [0, 0, 0];
    let sw = 0;
    for (let i = 0; i < idx.length; i++) {
      const w = wts[i];
      if (w >= 0.98) continue;
      const b = w * (1 - w);
      const o = idx[i] * 3;
      for (let c = 0; c < 3; c++) {
        so[c] += b * frame.data[o + c];
        se[c] += b * cols[3 * i + c];
      }
      sw += b;
    }
    if (sw > 1e-6) for (let c = 0; c < 3; c++) shift[c] = (colorMatch * (so[c] - se[c])) / sw;
  }

  const d = frame.data;
  for (let i = 0; i < idx.length; i++) {
    const w = wts[i], o = idx[i] * 3;
    for (let c = 0; c < 3; c++) {
      const e = cols[3 * i + c] + shift[c];
      const v = w * e + (1 - w) * d[o + c];
      d[o + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return idx.length;
}
