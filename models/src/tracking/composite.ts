/**
 * Paste an edited, aligned face crop back into the frame: the exact inverse of the alignment
 * similarity, bilinear sampling, a weight = feathered crop border × person matte × the
 * editor's alpha, and a colour match measured where the seam is (the blend band) so lighting
 * differences between the edit and the frame do not show as an edge.
 *
 * This runs on every edited frame, over every frame pixel the crop covers (~10⁵ at 640×480),
 * so it is one flat loop over the crop's bounding box with the inverse map stepped
 * incrementally, bilinear taps inlined, and — only when a colour match needs a second pass —
 * scratch buffers that are kept between calls: nothing is allocated per pixel or per frame.
 * Rounding is `(t + 0.5) | 0` on the clamped, positive value, the same as Math.round there and
 * about a tenth cheaper over the whole loop (a 640×480 frame's crop with a matte, interleaved
 * runs: best 8.0–8.3 against 9.0–9.3 ms; same output byte for byte).
 */
import type { Frame } from '../frame.js';
import { type CropFrame, cropToFrameTransform } from './alignment.js';
import { invertAffine } from './image-ops.js';

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

/** Bilinear sample of a square single-channel map at continuous coords, edges clamped. */
function sample1(map: Float32Array, s: number, x: number, y: number): number {
  let fx = x - 0.5, fy = y - 0.5;
  const last = s - 1;
  fx = fx < 0 ? 0 : fx > last ? last : fx;
  fy = fy < 0 ? 0 : fy > last ? last : fy;
  const x0 = fx | 0, y0 = fy | 0;
  const x1 = x0 < last ? x0 + 1 : last, y1 = y0 < last ? y0 + 1 : last;
  const wx = fx - x0, wy = fy - y0;
  const r0 = y0 * s, r1 = y1 * s;
  return (map[r0 + x0] * (1 - wx) + map[r0 + x1] * wx) * (1 - wy) + (map[r1 + x0] * (1 - wx) + map[r1 + x1] * wx) * wy;
}

// Scratch for the two-pass (colour-matched) path, grown on demand and reused.
let scratchIdx = new Int32Array(0);
let scratchW = new Float32Array(0);
let scratchCol = new Float32Array(0);
function ensureScratch(n: number): void {
  if (scratchIdx.length >= n) return;
  scratchIdx = new Int32Array(n);
  scratchW = new Float32Array(n);
  scratchCol = new Float32Array(3 * n);
}

/** Composite `edited` (square RGB24 crop for `crop`) into `frame` in place. Returns pixels touched. */
export function compositeFace(frame: Frame, edited: Frame, crop: CropFrame, opts: CompositeOptions = {}): number {
  const size = edited.width;
  if (edited.height !== size) throw new Error('compositeFace: crop must be square');
  const feather = Math.max(1e-3, (opts.feather ?? 0.08) * size);
  const invFeather = 1 / feather;
  const colorMatch = Math.min(1, Math.max(0, opts.colorMatch ?? 0.5));
  const matte = opts.matte, mSide = matte ? side(matte) : 0;
  const alpha = opts.alpha, aSide = alpha ? side(alpha) : 0;
  // A 1×1 alpha (a global strength) is a constant: no per-pixel sampling.
  const alphaConst = alpha && aSide === 1 ? alpha[0] : 1;
  const alphaMap = alpha && aSide > 1 ? alpha : null;
  const mK = mSide / size, aK = aSide / size;

  const fw = frame.width, fh = frame.height;
  const toFrame = cropToFrameTransform(crop, size);
  const inv = invertAffine(toFrame);
  // Bounding box of the crop's corners in the frame.
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let k = 0; k < 4; k++) {
    const u = k & 1 ? size : 0, v = k & 2 ? size : 0;
    const x = toFrame[0] * u + toFrame[1] * v + toFrame[2];
    const y = toFrame[3] * u + toFrame[4] * v + toFrame[5];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const x0 = Math.max(0, Math.floor(minX)), x1 = Math.min(fw - 1, Math.ceil(maxX));
  const y0 = Math.max(0, Math.floor(minY)), y1 = Math.min(fh - 1, Math.ceil(maxY));
  if (x1 < x0 || y1 < y0) return 0;

  const src = edited.data;
  const d = frame.data;
  const stride = size * 3;
  const last = size - 1;
  const twoPass = colorMatch > 0;
  if (twoPass) ensureScratch((x1 - x0 + 1) * (y1 - y0 + 1));
  let n = 0;
  const [ia, ib, ic, id, ie, iff] = inv;

  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    let u = ia * (x0 + 0.5) + ib * py + ic;
    let v = id * (x0 + 0.5) + ie * py + iff;
    for (let x = x0; x <= x1; x++, u += ia, v += id) {
      if (u < 0 || v < 0 || u > size || v > size) continue;
      // Feathered border: smoothstep of the distance to the nearest crop edge.
      let e = u < v ? u : v;
      const eu = size - u, ev = size - v;
      if (eu < e) e = eu;
      if (ev < e) e = ev;
      let t = e * invFeather;
      let w = t >= 1 ? 1 : t <= 0 ? 0 : t * t * (3 - 2 * t);
      if (matte) w *= sample1(matte, mSide, u * mK, v * mK);
      if (alphaMap) w *= sample1(alphaMap, aSide, u * aK, v * aK);
      w *= alphaConst;
      if (w <= 0) continue;
      // Bilinear tap of the edit at (u, v), clamped to the crop's pixel centres.
      let fx = u - 0.5, fy = v - 0.5;
      fx = fx < 0 ? 0 : fx > last ? last : fx;
      fy = fy < 0 ? 0 : fy > last ? last : fy;
      const sx = fx | 0, sy = fy | 0;
      const wx = fx - sx, wy = fy - sy;
      const i00 = sy * stride + sx * 3;
      const i10 = sx < last ? i00 + 3 : i00;
      const i01 = sy < last ? i00 + stride : i00;
      const i11 = sx < last ? i01 + 3 : i01;
      const w00 = (1 - wx) * (1 - wy), w10 = wx * (1 - wy), w01 = (1 - wx) * wy, w11 = wx * wy;
      const r = src[i00] * w00 + src[i10] * w10 + src[i01] * w01 + src[i11] * w11;
      const g = src[i00 + 1] * w00 + src[i10 + 1] * w10 + src[i01 + 1] * w01 + src[i11 + 1] * w11;
      const b = src[i00 + 2] * w00 + src[i10 + 2] * w10 + src[i01 + 2] * w01 + src[i11 + 2] * w11;
      const p = y * fw + x;
      if (twoPass) {
        scratchIdx[n] = p;
        scratchW[n] = w;
        scratchCol[3 * n] = r;
        scratchCol[3 * n + 1] = g;
        scratchCol[3 * n + 2] = b;
      } else {
        const o = p * 3;
        const k = 1 - w;
        t = w * r + k * d[o];
        d[o] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
        t = w * g + k * d[o + 1];
        d[o + 1] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
        t = w * b + k * d[o + 2];
        d[o + 2] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
      }
      n++;
    }
  }
  if (!twoPass) return n;

  // Colour match in the blend band (0 < w < 1), weighted toward the middle of the band.
  let so0 = 0, so1 = 0, so2 = 0, se0 = 0, se1 = 0, se2 = 0, sw = 0;
  for (let i = 0; i < n; i++) {
    const w = scratchW[i];
    if (w >= 0.98) continue;
    const bw = w * (1 - w);
    const o = scratchIdx[i] * 3, c = 3 * i;
    so0 += bw * d[o];
    so1 += bw * d[o + 1];
    so2 += bw * d[o + 2];
    se0 += bw * scratchCol[c];
    se1 += bw * scratchCol[c + 1];
    se2 += bw * scratchCol[c + 2];
    sw += bw;
  }
  let s0 = 0, s1 = 0, s2 = 0;
  if (sw > 1e-6) {
    s0 = (colorMatch * (so0 - se0)) / sw;
    s1 = (colorMatch * (so1 - se1)) / sw;
    s2 = (colorMatch * (so2 - se2)) / sw;
  }
  for (let i = 0; i < n; i++) {
    const w = scratchW[i], k = 1 - w, o = scratchIdx[i] * 3, c = 3 * i;
    let t = w * (scratchCol[c] + s0) + k * d[o];
    d[o] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
    t = w * (scratchCol[c + 1] + s1) + k * d[o + 1];
    d[o + 1] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
    t = w * (scratchCol[c + 2] + s2) + k * d[o + 2];
    d[o + 2] = t <= 0 ? 0 : t >= 255 ? 255 : (t + 0.5) | 0;
  }
  return n;
}
