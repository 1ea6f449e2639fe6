/**
 * Pixel-level helpers shared by the tracker (detector/mesh crops), alignment (canonical crop and
 * its inverse) and compositing. Plain typed-array loops: at these sizes (≤ 512²) they cost ~1 ms
 * and avoid TF.js tensor round trips.
 *
 * Coordinates are continuous pixel coordinates: pixel (i, j) covers [i, i+1) × [j, j+1) and its
 * centre is (i + 0.5, j + 0.5). A transform maps a destination pixel centre to a source point.
 */

/** 2×3 affine map: x' = a·x + b·y + tx, y' = c·x + d·y + ty. */
export type Affine = [number, number, number, number, number, number];

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (Math.abs(det) < 1e-12) throw new Error('singular affine transform');
  const ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** Composition: (p ∘ q)(x) = p(q(x)). */
export function composeAffine(p: Affine, q: Affine): Affine {
  return [
    p[0] * q[0] + p[1] * q[3], p[0] * q[1] + p[1] * q[4], p[0] * q[2] + p[1] * q[5] + p[2],
    p[3] * q[0] + p[4] * q[3], p[3] * q[1] + p[4] * q[4], p[3] * q[2] + p[4] * q[5] + p[5],
  ];
}

/**
 * Similarity that maps a `size`×`size` square crop onto the source: the crop centre lands on
 * (cx, cy), the crop spans `side` source pixels, rotated by `angle` radians (image y is down,
 * so positive angles are clockwise on screen).
 */
export function squareCropTransform(cx: number, cy: number, side: number, angle: number, size: number): Affine {
  const s = side / size;
  const cos = Math.cos(angle) * s, sin = Math.sin(angle) * s;
  const h = size / 2;
  // src = centre + R·s·(dst − h)
  return [cos, -sin, cx - cos * h + sin * h, sin, cos, cy - sin * h - cos * h];
}

export interface WarpOptions {
  /** Output value = sample * scale + offset (e.g. 1/255, 0 for [0,1]; 1/127.5, −1 for [−1,1]). */
  scale?: number;
  offset?: number;
  /** Value (before scale/offset) for samples outside the source. Default 0 (black). */
  fill?: number;
  /**
   * Average n×n bilinear taps per output pixel. Plain bilinear aliases when shrinking by more
   * than ~2.5×, which hurts detection on large frames; 'auto' picks n from the scale (≤ 4).
   */
  supersample?: number | 'auto';
}

/**
 * Warp a packed RGB24 image into a dw×dh float RGB buffer with bilinear sampling.
 * `m` maps destination pixel coordinates to source pixel coordinates.
 */
export function warpAffineRGB(
  src: Uint8Array, sw: number, sh: number, m: Affine, dw: number, dh: number,
  opts: WarpOptions = {}, out: Float32Array = new Float32Array(dw * dh * 3),
): Float32Array {
  const scale = opts.scale ?? 1, offset = opts.offset ?? 0, fill = opts.fill ?? 0;
  const [a, b, tx, c, d, ty] = m;
  let n = 1;
  if (opts.supersample === 'auto') {
    // Below ~2.5× shrink, plain bilinear is close enough and 4× cheaper.
    const shrink = Math.sqrt(Math.abs(a * d - b * c));
    n = shrink < 2.5 ? 1 : Math.min(4, Math.round(shrink));
  } else if (typeof opts.supersample === 'number') n = Math.max(1, Math.floor(opts.supersample));
  const k = scale / (n * n);
  const stride = sw * 3;
  const maxX = sw - 1, maxY = sh - 1;
  if (n === 1) {
    // One tap per pixel (the common case: crops shrink by < 2.5×): the source point moves by
    // (a, c) per output pixel, so step it instead of recomputing the map.
    for (let v = 0; v < dh; v++) {
      const yy = v + 0.5;
      let fx = a * 0.5 + b * yy + tx - 0.5, fy = c * 0.5 + d * yy + ty - 0.5;
      let o = v * dw * 3;
      for (let u = 0; u < dw; u++, fx += a, fy += c, o += 3) {
        const x0 = Math.floor(fx), y0 = Math.floor(fy);
        let r: number, g: number, bl: number;
        if (x0 >= 0 && y0 >= 0 && x0 < maxX && y0 < maxY) {
          const wx = fx - x0, wy = fy - y0;
          const i = y0 * stride + x0 * 3;
          const j = i + stride;
          const w00 = (1 - wx) * (1 - wy), w10 = wx * (1 - wy), w01 = (1 - wx) * wy, w11 = wx * wy;
          r = src[i] * w00 + src[i + 3] * w10 + src[j] * w01 + src[j + 3] * w11;
          g = src[i + 1] * w00 + src[i + 4] * w10 + src[j + 1] * w01 + src[j + 4] * w11;
          bl = src[i + 2] * w00 + src[i + 5] * w10 + src[j + 2] * w01 + src[j + 5] * w11;
        } else if (x0 < -1 || y0 < -1 || x0 > maxX || y0 > maxY) {
          r = g = bl = fill;
        } else {
          sampleBilinear(src, sw, sh, fx + 0.5, fy + 0.5, fill, PX);
          r = PX[0];
          g = PX[1];
          bl = PX[2];
        }
        out[o] = r * scale + offset;
        out[o + 1] = g * scale + offset;
        out[o + 2] = bl * scale + offset;
      }
    }
    return out;
  }
  for (let v = 0; v < dh; v++) {
    for (let u = 0; u < dw; u++) {
      let r = 0, g = 0, bl = 0;
      for (let sy = 0; sy < n; sy++) {
        const yy = v + (sy + 0.5) / n;
        for (let sx = 0; sx < n; sx++) {
          const xx = u + (sx + 0.5) / n;
          const fx = a * xx + b * yy + tx - 0.5, fy = c * xx + d * yy + ty - 0.5;
          const x0 = Math.floor(fx), y0 = Math.floor(fy);
          const wx = fx - x0, wy = fy - y0;
          if (x0 >= 0 && y0 >= 0 && x0 < maxX && y0 < maxY) {
            // Fast path: all four taps inside.
            const i = y0 * stride + x0 * 3;
            const j = i + stride;
            const w00 = (1 - wx) * (1 - wy), w10 = wx * (1 - wy), w01 = (1 - wx) * wy, w11 = wx * wy;
            r += src[i] * w00 + src[i + 3] * w10 + src[j] * w01 + src[j + 3] * w11;
            g += src[i + 1] * w00 + src[i + 4] * w10 + src[j + 1] * w01 + src[j + 4] * w11;
            bl += src[i + 2] * w00 + src[i + 5] * w10 + src[j + 2] * w01 + src[j + 5] * w11;
          } else if (x0 < -1 || y0 < -1 || x0 > maxX || y0 > maxY) {
            r += fill;
            g += fill;
            bl += fill;
          } else {
            sampleBilinear(src, sw, sh, fx + 0.5, fy + 0.5, fill, PX);
            r += PX[0];
            g += PX[1];
            bl += PX[2];
          }
        }
      }
      const o = (v * dw + u) * 3;
      out[o] = r * k + offset;
      out[o + 1] = g * k + offset;
      out[o + 2] = bl * k + offset;
    }
  }
  return out;
}

const PX = [0, 0, 0];

/** Bilinear RGB sample at continuous pixel coordinates (x, y); outside taps read `fill`. */
export function sampleBilinear(src: Uint8Array | Float32Array, w: number, h: number, x: number, y: number, fill: number, out: number[]): void {
  const fx = x - 0.5, fy = y - 0.5;
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const wx = fx - x0, wy = fy - y0;
  const x1 = x0 + 1, y1 = y0 + 1;
  const in00 = x0 >= 0 && x0 < w && y0 >= 0 && y0 < h;
  const in10 = x1 >= 0 && x1 < w && y0 >= 0 && y0 < h;
  const in01 = x0 >= 0 && x0 < w && y1 >= 0 && y1 < h;
  const in11 = x1 >= 0 && x1 < w && y1 >= 0 && y1 < h;
  const w00 = (1 - wx) * (1 - wy), w10 = wx * (1 - wy), w01 = (1 - wx) * wy, w11 = wx * wy;
  const i00 = (y0 * w + x0) * 3, i10 = i00 + 3, i01 = i00 + w * 3, i11 = i01 + 3;
  for (let ch = 0; ch < 3; ch++) {
    out[ch] =
      (in00 ? src[i00 + ch] : fill) * w00 + (in10 ? src[i10 + ch] : fill) * w10 +
      (in01 ? src[i01 + ch] : fill) * w01 + (in11 ? src[i11 + ch] : fill) * w11;
  }
}

/** Bilinear sample of a single-channel float map with edge clamping. */
export function sampleBilinear1(map: Float32Array, w: number, h: number, x: number, y: number): number {
  const fx = Math.min(Math.max(x - 0.5, 0), w - 1), fy = Math.min(Math.max(y - 0.5, 0), h - 1);
  const x0 = Math.floor(fx), y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1);
  const wx = fx - x0, wy = fy - y0;
  return (map[y0 * w + x0] * (1 - wx) + map[y0 * w + x1] * wx) * (1 - wy) +
    (map[y1 * w + x0] * (1 - wx) + map[y1 * w + x1] * wx) * wy;
}

/** Float RGB (0..255 range) → clamped, rounded RGB24. */
export function floatToRGB24(src: Float32Array, out: Uint8Array = new Uint8Array(src.length)): Uint8Array {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return out;
}
