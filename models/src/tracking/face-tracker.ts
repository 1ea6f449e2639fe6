/**
 * Multi-face tracker for the frame path: BlazeFace detection every N frames, FaceMesh (468
 * points) on every frame, the mesh of frame t giving the crop for frame t+1 in between, and
 * One-Euro smoothing of landmarks and pose. Each face keeps a stable id while tracked.
 *
 * Why not `human.detect()`: it hides per-stage timings, resizes boxes only on detection frames
 * and allocates tensors per stage; running the same graph models directly costs ~1 ms of JS
 * for crops and gives us control of tracking and smoothing.
 */
import type { Frame } from '../frame.js';
import { loadHumanModels, loadExtraModel, type LoadedModels, type Tf } from './human-loader.js';
import { FaceDetector, boxIoU, type Detection } from './detector.js';
import { squareCropTransform, warpAffineRGB } from './image-ops.js';
import { OneEuroVector, type OneEuroParams } from './one-euro.js';
import { poseFromMesh, cameraFromPose, type HeadPose } from './head-pose.js';
import { cropFromMesh, type CropFrame, type Framing } from './alignment.js';
import { MESH_POINTS, LEFT_EYE_OUTER, RIGHT_EYE_OUTER } from './mesh-indices.js';
import type { GraphModel } from '@tensorflow/tfjs-converter';

export type Box = [number, number, number, number];

export interface TrackerOptions {
  /** Most faces tracked at once. */
  maxFaces: number;
  /** Run the detector every N frames (and on every frame while no face is tracked). */
  detectEvery: number;
  /** 'short' = facemesh-detection-short (128², faces within ~2 m: webcams); 'full' = blazeface 256². */
  detector: 'short' | 'full';
  minDetectScore: number;
  /** Drop a track when the mesh model's face-presence probability falls below this. */
  minMeshScore: number;
  /** Mesh crop side = roiScale × face extent (MediaPipe uses 1.5). */
  roiScale: number;
  /**
   * Re-run the mesh once on a new face's first frame with the crop from its own landmarks
   * (the detector's box is coarser): one extra mesh run per new face, steadier first pose.
   */
  refineNewFaces: boolean;
  /** Framing of `TrackedFace.crop` (see alignment.ts). */
  framing: Framing;
  /** One-Euro parameters; `false` disables smoothing (raw output). */
  smoothing: false | { mesh: OneEuroParams; pose: OneEuroParams };
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  maxFaces: 4,
  detectEvery: 10,
  detector: 'short',
  minDetectScore: 0.5,
  minMeshScore: 0.5,
  roiScale: 1.5,
  refineNewFaces: true,
  framing: 'eg3d',
  smoothing: {
    // Landmarks: beta in face-sizes/s. Pose: beta in degrees/s.
    mesh: { minCutoff: 1.5, beta: 8, dCutoff: 1.0 },
    pose: { minCutoff: 1.0, beta: 0.05, dCutoff: 1.0 },
  },
};

export interface TrackedFace {
  /** Stable while the face stays tracked; never reused within a tracker. */
  id: number;
  /** Box around the (smoothed) mesh, frame pixels [x, y, w, h], clamped to the frame. */
  box: Box;
  /** Face-presence probability from the mesh model. */
  score: number;
  /** 468×3 smoothed landmarks in frame pixels (z: depth in the same pixel scale). */
  mesh: Float32Array;
  /** The same, before smoothing. */
  meshRaw: Float32Array;
  pose: HeadPose;
  poseRaw: HeadPose;
  /** EG3D camera (16 cam-to-world + 9 intrinsics) for `pose`. */
  camera: number[];
  /** Canonical (FFHQ-framed) crop from the smoothed mesh: see alignment.ts. */
  crop: CropFrame;
  /** Frames this face has been tracked. */
  age: number;
}

export interface StageTimings {
  detect: number;
  mesh: number;
  pose: number;
  total: number;
}

export interface TrackResult {
  width: number;
  height: number;
  timestampMs: number;
  faces: TrackedFace[];
  /** Whether the detector ran on this frame. */
  detected: boolean;
  timings: StageTimings;
}

interface Roi {
  cx: number;
  cy: number;
  side: number;
  angle: number;
}

interface Track {
  id: number;
  roi: Roi;
  age: number;
  meshFilter: OneEuroVector;
  poseFilter: OneEuroVector;
}

const MESH_SIZE = 192;

export class FaceTracker {
  readonly options: TrackerOptions;
  private models: LoadedModels | null = null;
  private detector: FaceDetector | null = null;
  private tracks: Track[] = [];
  private nextId = 1;
  private frameIndex = 0;
  private sinceDetect = Number.MAX_SAFE_INTEGER;

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    if (this.options.maxFaces < 1) throw new Error('maxFaces must be ≥ 1');
    if (this.options.detectEvery < 1) throw new Error('detectEvery must be ≥ 1');
  }

  /** Load the models (shared per process) and warm them with one blank run each. */
  async init(): Promise<void> {
    if (this.detector) return;
    const models = await loadHumanModels();
    const detModel: GraphModel = this.options.detector === 'short' ? await shortDetector() : models.detector;
    this.models = models;
    this.detector = new FaceDetector(models.tf, detModel);
    const blank: Frame = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3), timestampMs: 0 };
    await this.detector.detect(blank, { minScore: 1.1, iouThreshold: 0.3, maxFaces: 1 });
    await this.runMesh([new Float32Array(MESH_SIZE * MESH_SIZE * 3)]);
  }

  /** Forget all tracks (e.g. on a stream restart); ids keep increasing. */
  reset(): void {
    this.tracks = [];
    this.sinceDetect = Number.MAX_SAFE_INTEGER;
  }

  /** Frames tracked since creation (or the last reset). */
  get framesTracked(): number {
    return this.frameIndex;
  }

  async track(frame: Frame): Promise<TrackResult> {
    checkFrame(frame);
    await this.init();
    const t0 = performance.now();
    const o = this.options;
    let detectMs = 0;
    let detected = false;
    if (this.tracks.length === 0 || this.sinceDetect >= o.detectEvery) {
      const td = performance.now();
      const dets = await this.detector!.detect(frame, { minScore: o.minDetectScore, iouThreshold: 0.3, maxFaces: o.maxFaces });
      detectMs = performance.now() - td;
      detected = true;
      this.sinceDetect = 0;
      this.addTracks(dets);
    }
    this.sinceDetect++;
    this.frameIndex++;

    const tm = performance.now();
    let meshes = await this.meshAll(frame, this.tracks);
    if (o.refineNewFaces && meshes.some((m) => m.track.age === 0)) {
      const fresh = meshes.filter((m) => m.track.age === 0);
      for (const m of fresh) m.track.roi = roiFromMesh(m.mesh, o.roiScale);
      const again = await this.meshAll(frame, fresh.map((m) => m.track));
      meshes = meshes.filter((m) => m.track.age > 0).concat(again);
      meshes.sort((a, b) => a.track.id - b.track.id);
    }
    const meshMs = performance.now() - tm;

    const tp = performance.now();
    const faces: TrackedFace[] = [];
    const alive: Track[] = [];
    const tSec = frame.timestampMs / 1000;
    for (const { track, mesh: meshRaw, score } of meshes) {
      const roi = roiFromMesh(meshRaw, o.roiScale);
      // A second track on the same face (e.g. detector fired while tracking): keep the older.
      const box = meshBox(meshRaw, frame);
      if (faces.some((f) => boxIoU(f.box, box) > 0.5)) continue;
      track.roi = roi;
      track.age++;
      const poseRawFull = poseFromMesh(meshRaw);
      const poseRaw = { yaw: poseRawFull.yaw, pitch: poseRawFull.pitch, roll: poseRawFull.roll };
      let mesh = meshRaw;
      let pose = poseRaw;
      if (o.smoothing) {
        mesh = track.meshFilter.filter(meshRaw, tSec, roi.side);
        const p = track.poseFilter.filter([poseRaw.yaw, poseRaw.pitch, poseRaw.roll], tSec);
        pose = { yaw: p[0], pitch: p[1], roll: p[2] };
      }
      alive.push(track);
      faces.push({
        id: track.id,
        box: meshBox(mesh, frame),
        score,
        mesh,
        meshRaw,
        pose,
        poseRaw,
        camera: cameraFromPose(pose),
        crop: cropFromMesh(mesh, 1, o.framing),
        age: track.age,
      });
    }
    this.tracks = alive;
    const poseMs = performance.now() - tp;
    return {
      width: frame.width,
      height: frame.height,
      timestampMs: frame.timestampMs,
      faces,
      detected,
      timings: { detect: detectMs, mesh: meshMs, pose: poseMs, total: performance.now() - t0 },
    };
  }

  /** Crop and mesh every given track; tracks whose crop no longer holds a face are left out. */
  private async meshAll(frame: Frame, tracks: Track[]): Promise<Array<{ track: Track; mesh: Float32Array; score: number }>> {
    if (!tracks.length) return [];
    const outputs = await this.runMesh(tracks.map((t) => this.cropFor(frame, t.roi)));
    const res: Array<{ track: Track; mesh: Float32Array; score: number }> = [];
    tracks.forEach((track, i) => {
      const { mesh, score } = outputs[i];
      if (score >= this.options.minMeshScore) res.push({ track, mesh: meshToFrame(mesh, track.roi), score });
    });
    return res;
  }

  /** Start tracks for detections that no current track covers, up to maxFaces. */
  private addTracks(dets: Detection[]): void {
    for (const d of dets) {
      if (this.tracks.length >= this.options.maxFaces) break;
      const covered = this.tracks.some((t) => boxIoU(roiBox(t.roi, 1 / this.options.roiScale), d.box) > 0.3);
      if (covered) continue;
      this.tracks.push({
        id: this.nextId++,
        roi: roiFromDetection(d, this.options.roiScale),
        age: 0,
        meshFilter: new OneEuroVector(MESH_POINTS * 3, this.options.smoothing ? this.options.smoothing.mesh : undefined),
        poseFilter: new OneEuroVector(3, this.options.smoothing ? this.options.smoothing.pose : undefined),
      });
    }
  }

  private cropFor(frame: Frame, roi: Roi): Float32Array {
    const m = squareCropTransform(roi.cx, roi.cy, roi.side, roi.angle, MESH_SIZE);
    return warpAffineRGB(frame.data, frame.width, frame.height, m, MESH_SIZE, MESH_SIZE, { scale: 1 / 255, supersample: 'auto' });
  }

  /** One batched FaceMesh run; returns raw crop-space meshes and presence probabilities. */
  private async runMesh(crops: Float32Array[]): Promise<Array<{ mesh: Float32Array; score: number }>> {
    const tf: Tf = this.models!.tf;
    const n = crops.length;
    const per = MESH_SIZE * MESH_SIZE * 3;
    const batch = new Float32Array(n * per);
    crops.forEach((c, i) => batch.set(c, i * per));
    const x = tf.tensor4d(batch, [n, MESH_SIZE, MESH_SIZE, 3]);
    const outs = this.models!.mesh.execute(x) as ReturnType<Tf['tensor']>[];
    x.dispose();
    try {
      const meshT = outs.find((t) => t.shape[t.shape.length - 1] === 1404);
      const flagT = outs.find((t) => t.shape[t.shape.length - 1] === 1);
      if (!meshT || !flagT) throw new Error('unexpected FaceMesh outputs');
      const meshData = (await meshT.data()) as Float32Array;
      const flags = (await flagT.data()) as Float32Array;
      return crops.map((_, i) => ({
        mesh: meshData.slice(i * 1404, (i + 1) * 1404),
        // The face-flag head already outputs a probability (measured: 1.0 on faces, < 0.002 on
        // background, noise and blank crops).
        score: flags[i],
      }));
    } finally {
      tf.dispose(outs);
    }
  }
}

let shortModel: Promise<GraphModel> | null = null;
function shortDetector(): Promise<GraphModel> {
  shortModel ??= loadExtraModel('facemesh-detection-short.json');
  return shortModel;
}

export function checkFrame(frame: Frame): void {
  const { width, height, data } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`bad frame size ${width}x${height}`);
  if (data.length !== width * height * 3) throw new Error(`frame data is ${data.length} bytes, expected ${width * height * 3} (RGB24)`);
}

/** Crop-space mesh (192² pixels) → frame pixels; z scaled like x/y. */
function meshToFrame(raw: Float32Array, roi: Roi): Float32Array {
  const k = roi.side / MESH_SIZE;
  const cos = Math.cos(roi.angle) * k, sin = Math.sin(roi.angle) * k;
  const h = MESH_SIZE / 2;
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i += 3) {
    const u = raw[i] - h, v = raw[i + 1] - h;
    out[i] = roi.cx + cos * u - sin * v;
    out[i + 1] = roi.cy + sin * u + cos * v;
    out[i + 2] = raw[i + 2] * k;
  }
  return out;
}

/** MediaPipe's landmarks→ROI: eye line sets the rotation, rotated bbox × scale sets the side. */
function roiFromMesh(mesh: Float32Array, scale: number): Roi {
  const r = RIGHT_EYE_OUTER * 3, l = LEFT_EYE_OUTER * 3;
  const angle = Math.atan2(mesh[l + 1] - mesh[r + 1], mesh[l] - mesh[r]);
  const cos = Math.cos(angle), sin = Math.sin(angle);
  let u0 = Infinity, u1 = -Infinity, v0 = Infinity, v1 = -Infinity;
  for (let i = 0; i < mesh.length; i += 3) {
    const u = cos * mesh[i] + sin * mesh[i + 1];
    const v = -sin * mesh[i] + cos * mesh[i + 1];
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const cu = (u0 + u1) / 2, cv = (v0 + v1) / 2;
  return { cx: cos * cu - sin * cv, cy: sin * cu + cos * cv, side: Math.max(u1 - u0, v1 - v0) * scale, angle };
}

function roiFromDetection(d: Detection, scale: number): Roi {
  const [rx, ry] = d.keypoints[0], [lx, ly] = d.keypoints[1];
  let angle = Math.atan2(ly - ry, lx - rx);
  if (Math.abs(angle) > Math.PI / 2) angle = 0; // implausible keypoints: assume upright
  return { cx: d.box[0] + d.box[2] / 2, cy: d.box[1] + d.box[3] / 2, side: Math.max(d.box[2], d.box[3]) * scale, angle };
}

function roiBox(roi: Roi, shrink = 1): Box {
  const s = roi.side * shrink;
  return [roi.cx - s / 2, roi.cy - s / 2, s, s];
}

function meshBox(mesh: Float32Array, frame: Frame): Box {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < mesh.length; i += 3) {
    if (mesh[i] < x0) x0 = mesh[i];
    if (mesh[i] > x1) x1 = mesh[i];
    if (mesh[i + 1] < y0) y0 = mesh[i + 1];
    if (mesh[i + 1] > y1) y1 = mesh[i + 1];
  }
  x0 = Math.max(0, x0);
  y0 = Math.max(0, y0);
  x1 = Math.min(frame.width, x1);
  y1 = Math.min(frame.height, y1);
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)];
}
