/**
 * Debug drawing for the tracker (mesh points, face box, pose axes) straight into RGB24 frames,
 * and the FrameProcessor that shows it in the call when the panel's "debug overlay" is on.
 */
import type { Frame, FrameProcessor, ProcessContext, ProcessResult } from '../frame.js';
import { FaceTracker, type TrackedFace, type TrackerOptions } from './face-tracker.js';
import { faceAxes } from './head-pose.js';
import { NOSE_TIP } from './mesh-indices.js';

type RGB = readonly [number, number, number];

function putPixel(f: Frame, x: number, y: number, c: RGB): void {
  const xi = Math.round(x), yi = Math.round(y);
  if (xi < 0 || yi < 0 || xi >= f.width || yi >= f.height) return;
  const o = (yi * f.width + xi) * 3;
  f.data[o] = c[0];
  f.data[o + 1] = c[1];
  f.data[o + 2] = c[2];
}

export function drawLine(f: Frame, x0: number, y0: number, x1: number, y1: number, c: RGB, thickness = 1): void {
  const n = Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))) + 1;
  const r = Math.floor(thickness / 2);
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    const x = x0 + (x1 - x0) * t, y = y0 + (y1 - y0) * t;
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) putPixel(f, x + dx, y + dy, c);
  }
}

export function drawRect(f: Frame, box: readonly [number, number, number, number], c: RGB): void {
  const [x, y, w, h] = box;
  drawLine(f, x, y, x + w, y, c);
  drawLine(f, x + w, y, x + w, y + h, c);
  drawLine(f, x + w, y + h, x, y + h, c);
  drawLine(f, x, y + h, x, y, c);
}

const MESH_COLOR: RGB = [0, 255, 255];
const BOX_COLOR: RGB = [255, 255, 0];
const X_COLOR: RGB = [255, 40, 40];
const Y_COLOR: RGB = [40, 255, 40];
const Z_COLOR: RGB = [60, 120, 255];

/** Draw one tracked face: mesh points, box, and pose axes from the nose tip. */
export function drawFace(f: Frame, face: TrackedFace): void {
  const m = face.mesh;
  const dot = face.box[2] > 160 ? 1 : 0;
  for (let i = 0; i < m.length; i += 3) {
    for (let dy = -dot; dy <= dot; dy++) for (let dx = -dot; dx <= dot; dx++) putPixel(f, m[i] + dx, m[i + 1] + dy, MESH_COLOR);
  }
  drawRect(f, face.box, BOX_COLOR);
  // Axes: x toward the subject's left (red), up (green), out of the face (blue), drawn as
  // the orthographic projection of the face axes.
  const { x, y, z } = faceAxes(m);
  const len = 0.5 * Math.max(face.box[2], face.box[3]);
  const ox = m[3 * NOSE_TIP], oy = m[3 * NOSE_TIP + 1];
  const th = Math.max(1, Math.round(len / 60));
  drawLine(f, ox, oy, ox + x[0] * len, oy + x[1] * len, X_COLOR, th);
  drawLine(f, ox, oy, ox - y[0] * len, oy - y[1] * len, Y_COLOR, th);
  drawLine(f, ox, oy, ox - z[0] * len, oy - z[1] * len, Z_COLOR, th);
}

export function drawOverlay(f: Frame, faces: readonly TrackedFace[]): void {
  for (const face of faces) drawFace(f, face);
}

/**
 * FrameProcessor 'tracker-overlay': when `ctx.settings.debugOverlay` is on, tracks faces and
 * draws mesh + pose axes in place; otherwise passes the frame through untouched (no tracking
 * cost). One tracker per processor instance, i.e. per stream, so ids stay per stream.
 */
export class TrackerOverlayProcessor implements FrameProcessor {
  readonly name = 'tracker-overlay';
  readonly tracker: FaceTracker;

  constructor(options: Partial<TrackerOptions> = {}) {
    this.tracker = new FaceTracker(options);
  }

  async init(): Promise<void> {
    await this.tracker.init();
  }

  async process(frame: Frame, ctx: ProcessContext): Promise<ProcessResult> {
    if (!ctx.settings.debugOverlay) {
      this.tracker.reset(); // stale tracks would mislead when the overlay comes back on
      return { frame, edited: false, reason: 'overlay off' };
    }
    const r = await this.tracker.track(frame);
    if (r.faces.length === 0) return { frame, edited: false, reason: 'no face' };
    drawOverlay(frame, r.faces);
    return { frame, edited: true };
  }
}
