/**
 * BlazeFace decoding: turns the raw SSD outputs of Human's face detector graph models
 * (blazeface 256², facemesh-detection-short 128²) into face boxes in frame pixels.
 * Letterboxing, anchor decoding and NMS run in JS: 896 anchors are too few to be worth
 * extra TF.js kernels.
 */
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type { Tf } from './human-loader.js';
import type { Frame } from '../frame.js';
import { warpAffineRGB, type Affine } from './image-ops.js';

export interface Detection {
  /** Face box in frame pixels [x, y, w, h] (the detector's tight box). */
  box: [number, number, number, number];
  score: number;
  /** Six keypoints in frame pixels: right eye, left eye, nose, mouth, right ear, left ear. */
  keypoints: Array<[number, number]>;
}

/** Anchor centres in input pixels (MediaPipe SSD anchors for the short-range face detector). */
function generateAnchors(inputSize: number): Float32Array {
  const strides = [inputSize / 16, inputSize / 8];
  const perCell = [2, 6];
  const out: number[] = [];
  for (let i = 0; i < strides.length; i++) {
    const grid = Math.ceil(inputSize / strides[i]);
    for (let gy = 0; gy < grid; gy++) {
      for (let gx = 0; gx < grid; gx++) {
        for (let n = 0; n < perCell[i]; n++) out.push(strides[i] * (gx + 0.5), strides[i] * (gy + 0.5));
      }
    }
  }
  return new Float32Array(out);
}

function iou(a: Detection['box'], b: Detection['box']): number {
  const x0 = Math.max(a[0], b[0]), y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]), y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const uni = a[2] * a[3] + b[2] * b[3] - inter;
  return uni > 0 ? inter / uni : 0;
}

export { iou as boxIoU };

export interface DetectorOptions {
  minScore: number;
  iouThreshold: number;
  maxFaces: number;
}

export class FaceDetector {
  readonly inputSize: number;
  private readonly anchors: Float32Array;
  private readonly input: Float32Array;

  constructor(private readonly tf: Tf, private readonly model: GraphModel) {
    const shape = model.inputs[0]?.shape;
    this.inputSize = shape && shape[2] && shape[2] > 0 ? shape[2] : 128;
    this.anchors = generateAnchors(this.inputSize);
    this.input = new Float32Array(this.inputSize * this.inputSize * 3);
  }

  async detect(frame: Frame, opts: DetectorOptions): Promise<Detection[]> {
    const S = this.inputSize;
    // Letterbox: the detector wants a square; centre the frame in a side×side square.
    const side = Math.max(frame.width, frame.height);
    const k = side / S;
    const ox = (frame.width - side) / 2, oy = (frame.height - side) / 2;
    const m: Affine = [k, 0, ox, 0, k, oy];
    warpAffineRGB(frame.data, frame.width, frame.height, m, S, S, { scale: 1 / 127.5, offset: -1, supersample: 'auto' }, this.input);
    const tf = this.tf;
    const x = tf.tensor4d(this.input, [1, S, S, 3]);
    let raw: Float32Array;
    try {
      raw = await this.runRaw(x);
    } finally {
      x.dispose();
    }
    const n = this.anchors.length / 2;
    const cand: Detection[] = [];
    for (let i = 0; i < n; i++) {
      const o = i * 17;
      const logit = raw[o];
      const score = 1 / (1 + Math.exp(-logit));
      if (score < opts.minScore) continue;
      const ax = this.anchors[2 * i], ay = this.anchors[2 * i + 1];
      const cx = raw[o + 1] + ax, cy = raw[o + 2] + ay, w = raw[o + 3], h = raw[o + 4];
      const toFrame = (px: number, py: number): [number, number] => [px * k + ox, py * k + oy];
      const [x0, y0] = toFrame(cx - w / 2, cy - h / 2);
      const kps: Array<[number, number]> = [];
      for (let j = 0; j < 6; j++) kps.push(toFrame(raw[o + 5 + 2 * j] + ax, raw[o + 6 + 2 * j] + ay));
      cand.push({ box: [x0, y0, w * k, h * k], score, keypoints: kps });
    }
    cand.sort((a, b) => b.score - a.score);
    const kept: Detection[] = [];
    for (const c of cand) {
      if (kept.length >= opts.maxFaces) break;
      if (kept.every((d) => iou(d.box, c.box) < opts.iouThreshold)) kept.push(c);
    }
    return kept;
  }

  /** Run the graph and return a [896 × 17] row-major array (score logit, box, 6 keypoints). */
  private async runRaw(x: ReturnType<Tf['tensor4d']>): Promise<Float32Array> {
    const tf = this.tf;
    const res = this.model.execute(x) as ReturnType<Tf['tensor']> | ReturnType<Tf['tensor']>[];
    const outs = Array.isArray(res) ? res : [res];
    try {
      if (outs.length === 1) return (await outs[0].data()) as Float32Array;
      // blazeface.json is a converted model with 4 heads: scores and regressors for the
      // 16×16×2 (512) and 8×8×6 (384) anchor grids. Sort by size to identify them.
      const sorted = [...outs].sort((a, b) => a.size - b.size); // 384×1, 512×1, 384×16, 512×16
      const merged = tf.tidy(() => {
        const a512 = tf.concat([sorted[1], sorted[3]], 2);
        const a384 = tf.concat([sorted[0], sorted[2]], 2);
        return tf.concat([a512, a384], 1);
      });
      try {
        return (await merged.data()) as Float32Array;
      } finally {
        merged.dispose();
      }
    } finally {
      tf.dispose(outs);
    }
  }
}
