/**
 * Person/face matte from MediaPipe selfie segmentation (human-models `selfie.json`, 256²
 * input in [0, 1], one sigmoid channel). It runs on the aligned face crop, so the matte lives
 * in crop coordinates: the same space the editor works in, and it follows the face between
 * runs (the tracker can reuse it for a frame or two).
 */
import type { Frame } from '../frame.js';
import { loadHumanModels, type LoadedModels, type Tf } from './human-loader.js';
import { alignFaceFloat, type CropFrame } from './alignment.js';
import { sampleBilinear1 } from './image-ops.js';

export const MATTE_SIZE = 256;

export class SelfieMatte {
  private models: LoadedModels | null = null;

  async init(): Promise<void> {
    if (this.models) return;
    const m = await loadHumanModels();
    if (!m.selfie) throw new Error('selfie segmentation model not loaded');
    this.models = m;
  }

  /**
   * Matte for an aligned crop given as 256×256 RGB floats in [0, 1].
   * Returns 256×256 person probabilities in [0, 1].
   */
  async matteFromCrop(crop01: Float32Array): Promise<Float32Array> {
    await this.init();
    if (crop01.length !== MATTE_SIZE * MATTE_SIZE * 3) throw new Error(`matte input must be ${MATTE_SIZE}² RGB`);
    const tf: Tf = this.models!.tf;
    const x = tf.tensor4d(crop01, [1, MATTE_SIZE, MATTE_SIZE, 3]);
    try {
      const y = this.models!.selfie!.execute(x) as ReturnType<Tf['tensor']>;
      try {
        return Float32Array.from((await y.data()) as Float32Array);
      } finally {
        y.dispose();
      }
    } finally {
      x.dispose();
    }
  }

  /** Matte in the crop space of `crop` (aligned from the frame at 256²). */
  async matteForFace(frame: Frame, crop: CropFrame): Promise<Float32Array> {
    return this.matteFromCrop(alignFaceFloat(frame, crop, MATTE_SIZE, 1 / 255, 0));
  }
}

/** Resample a square matte (e.g. 256²) to another square size with bilinear filtering. */
export function resizeMatte(m: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return m;
  const out = new Float32Array(to * to);
  const k = from / to;
  for (let y = 0; y < to; y++) {
    for (let x = 0; x < to; x++) out[y * to + x] = sampleBilinear1(m, from, from, (x + 0.5) * k, (y + 0.5) * k);
  }
  return out;
}
