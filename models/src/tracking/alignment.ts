/**
 * Canonical face crop (FFHQ framing, which EG3D's cameras assume) from the mesh, and the exact
 * inverse used to paste an edited crop back.
 *
 * The framing follows the FFHQ alignment recipe (Karras et al., `recreate_aligned_images`):
 * eye centres and mouth corners define a rotated square of side
 * 2·max(2·|eye_to_eye|, 1.8·|eye_to_mouth|) centred at eye_avg + 0.1·eye_to_mouth. Here the
 * eye centres are means of the mesh's eye contours and the mouth corners are points 61/291.
 * A crop of any size (256 for the editor, 512 for output) is the same similarity, scaled.
 *
 * 'eg3d' framing (the default) is what EG3D's cameras and its focal length 4.2647 assume: EG3D
 * re-cropped FFHQ with its own pipeline, framing the head slightly wider and lower than the
 * FFHQ recipe. We express it as an adjustment of the FFHQ square: centre moved down by
 * 0.070·side along the crop's y axis, side × 1.059. Those two numbers were measured on the
 * 10 EG3D-framed FFHQ inputs shipped with the 3DPE code (mean over images of where our
 * FFHQ-recipe square falls in them: dy = −0.070 ± 0.014 of the side, side = 1.059 ± 0.035 ×
 * the image), so an 'eg3d' crop of such an image is close to the image itself.
 */
import type { Frame } from '../frame.js';
import { LEFT_EYE, RIGHT_EYE, MOUTH_LEFT, MOUTH_RIGHT } from './mesh-indices.js';
import { type Affine, invertAffine, sampleBilinear, warpAffineRGB, floatToRGB24 } from './image-ops.js';

/** A canonical crop in frame pixels: centre c and half-side vector x (y = x rotated +90°). */
export interface CropFrame {
  cx: number;
  cy: number;
  /** Half-side vector along the crop's +x (toward the subject's left eye). */
  hx: number;
  hy: number;
}

function meanXY(mesh: ArrayLike<number>, idx: readonly number[]): [number, number] {
  let x = 0, y = 0;
  for (const i of idx) {
    x += mesh[3 * i];
    y += mesh[3 * i + 1];
  }
  return [x / idx.length, y / idx.length];
}

export type Framing = 'eg3d' | 'ffhq';

/** EG3D framing relative to the FFHQ recipe (see the file comment). */
export const EG3D_FRAMING = { shiftDown: 0.07, sideScale: 1 / 1.059 } as const;

/** Canonical crop from a 468×3 mesh in frame pixels. `zoom` > 1 frames wider. */
export function cropFromMesh(mesh: ArrayLike<number>, zoom = 1, framing: Framing = 'eg3d'): CropFrame {
  const eyeL = meanXY(mesh, RIGHT_EYE); // image-left eye (the subject's right)
  const eyeR = meanXY(mesh, LEFT_EYE);
  const mouthL: [number, number] = [mesh[3 * MOUTH_RIGHT], mesh[3 * MOUTH_RIGHT + 1]];
  const mouthR: [number, number] = [mesh[3 * MOUTH_LEFT], mesh[3 * MOUTH_LEFT + 1]];
  const eyeAvg = [(eyeL[0] + eyeR[0]) / 2, (eyeL[1] + eyeR[1]) / 2];
  const e2e = [eyeR[0] - eyeL[0], eyeR[1] - eyeL[1]];
  const mouthAvg = [(mouthL[0] + mouthR[0]) / 2, (mouthL[1] + mouthR[1]) / 2];
  const e2m = [mouthAvg[0] - eyeAvg[0], mouthAvg[1] - eyeAvg[1]];
  // x = eye_to_eye − flipud(eye_to_mouth)·[−1, 1]
  let x = [e2e[0] + e2m[1], e2e[1] - e2m[0]];
  const n = Math.hypot(x[0], x[1]);
  const half = Math.max(Math.hypot(e2e[0], e2e[1]) * 2.0, Math.hypot(e2m[0], e2m[1]) * 1.8) * zoom;
  const ux = x[0] / n, uy = x[1] / n; // unit x; unit y = (−uy, ux)
  let cx = eyeAvg[0] + 0.1 * e2m[0], cy = eyeAvg[1] + 0.1 * e2m[1];
  let h = half;
  if (framing === 'eg3d') {
    const down = EG3D_FRAMING.shiftDown * 2 * half;
    cx += -uy * down;
    cy += ux * down;
    h = half * EG3D_FRAMING.sideScale;
  }
  return { cx, cy, hx: ux * h, hy: uy * h };
}

/** Similarity mapping crop pixel coordinates (size×size) to frame pixel coordinates. */
export function cropToFrameTransform(c: CropFrame, size: number): Affine {
  // frame = c + a·x + b·y with a = 2u/size − 1, b = 2v/size − 1 and y = (−hy, hx).
  const k = 2 / size;
  return [k * c.hx, -k * c.hy, c.cx - c.hx + c.hy, k * c.hy, k * c.hx, c.cy - c.hy - c.hx];
}

export function frameToCropTransform(c: CropFrame, size: number): Affine {
  return invertAffine(cropToFrameTransform(c, size));
}

/** Side of the crop in frame pixels and its rotation (radians, clockwise on screen). */
export function cropGeometry(c: CropFrame): { side: number; angle: number } {
  return { side: 2 * Math.hypot(c.hx, c.hy), angle: Math.atan2(c.hy, c.hx) };
}

/** Aligned RGB24 crop (size×size) of the frame; outside the frame reads black. */
export function alignFace(frame: Frame, c: CropFrame, size: number): Frame {
  const f = warpAffineRGB(frame.data, frame.width, frame.height, cropToFrameTransform(c, size), size, size, {
    supersample: 'auto',
  });
  return { width: size, height: size, data: floatToRGB24(f), timestampMs: frame.timestampMs };
}

/**
 * Aligned crop as floats, value·scale + offset (model input), without rounding. Pass `out`
 * (size²·3) to reuse a buffer frame after frame instead of allocating one.
 */
export function alignFaceFloat(frame: Frame, c: CropFrame, size: number, scale = 1, offset = 0, out?: Float32Array): Float32Array {
  return warpAffineRGB(frame.data, frame.width, frame.height, cropToFrameTransform(c, size), size, size, {
    supersample: 'auto', scale, offset,
  }, out);
}

/**
 * Walk the frame pixels covered by the crop, calling `fn(frameIndex, u, v)` with the
 * continuous crop coordinates (u, v) of the frame pixel centre: the exact inverse map.
 */
export function forEachCoveredPixel(
  frameW: number, frameH: number, c: CropFrame, size: number,
  fn: (pixel: number, u: number, v: number) => void,
): void {
  const toFrame = cropToFrameTransform(c, size);
  const inv = invertAffine(toFrame);
  // Bounding box of the crop's corners in the frame.
  const xs: number[] = [], ys: number[] = [];
  for (const [u, v] of [[0, 0], [size, 0], [0, size], [size, size]]) {
    xs.push(toFrame[0] * u + toFrame[1] * v + toFrame[2]);
    ys.push(toFrame[3] * u + toFrame[4] * v + toFrame[5]);
  }
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), x1 = Math.min(frameW - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(frameH - 1, Math.ceil(Math.max(...ys)));
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      const u = inv[0] * px + inv[1] * py + inv[2];
      const v = inv[3] * px + inv[4] * py + inv[5];
      if (u < 0 || v < 0 || u > size || v > size) continue;
      fn(y * frameW + x, u, v);
    }
  }
}

/**
 * Paste a crop back into the frame in place (hard edge, no blending) using the inverse map.
 * `composite.ts` does the feathered, matted, colour-matched version for edited crops.
 */
export function pasteBack(frame: Frame, crop: Frame, c: CropFrame): void {
  const size = crop.width;
  if (crop.height !== size) throw new Error('pasteBack: crop must be square');
  const px = [0, 0, 0];
  const d = frame.data;
  forEachCoveredPixel(frame.width, frame.height, c, size, (p, u, v) => {
    sampleBilinear(crop.data, size, size, Math.min(Math.max(u, 0.5), size - 0.5), Math.min(Math.max(v, 0.5), size - 0.5), 0, px);
    const o = p * 3;
    d[o] = Math.round(px[0]);
    d[o + 1] = Math.round(px[1]);
    d[o + 2] = Math.round(px[2]);
  });
}
