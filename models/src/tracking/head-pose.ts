/**
 * Head pose from the 468-point mesh, and EG3D-style camera parameters from a pose.
 *
 * Conventions (all angles in degrees):
 * - Mesh coordinates: image pixels, x right, y down, z away from the camera (MediaPipe: smaller
 *   z is closer), z in the same pixel scale as x/y (the tracker rescales it).
 * - yaw > 0: the subject turns to their left, i.e. the nose points toward the image's right.
 * - pitch > 0: the subject looks up (nose toward the image's top).
 * - roll > 0: the head tilts clockwise on screen (the subject's left eye, image right, drops).
 *
 * Camera (the paper's `c`, EG3D convention): 25 numbers = 16 (cam-to-world 4×4, row-major,
 * OpenCV axes: x right, y down, z forward) + 9 (normalised intrinsics, row-major).
 * World: y up, the head at the origin facing +z. The camera sits on a sphere of radius 2.7 and
 * looks at the origin; a frontal face is the camera at (0, 0, 2.7). A head turned by (yaw,
 * pitch) in front of a fixed camera is the same image as a frontal head seen from a camera
 * moved by (−yaw, −pitch) around it, which is what `cameraFromPose` returns. Roll is not
 * part of the camera: the aligned crop removes it.
 */
import { SYMMETRIC_PAIRS, MIDLINE_UPPER, MIDLINE_LOWER } from './mesh-indices.js';

export interface HeadPose {
  yaw: number;
  pitch: number;
  roll: number;
}

export const EG3D_RADIUS = 2.7;
export const EG3D_FOCAL = 4.2647;
export const EG3D_INTRINSICS = [EG3D_FOCAL, 0, 0.5, 0, EG3D_FOCAL, 0.5, 0, 0, 1] as const;

type V3 = [number, number, number];
const DEG = 180 / Math.PI;

const sub = (a: V3, b: V3): V3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const dot = (a: V3, b: V3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const scale = (a: V3, k: number): V3 => [a[0] * k, a[1] * k, a[2] * k];
function normalize(a: V3): V3 {
  const n = Math.hypot(a[0], a[1], a[2]);
  if (!(n > 0)) throw new Error('degenerate mesh: zero-length axis');
  return scale(a, 1 / n);
}

function meanPoint(mesh: ArrayLike<number>, idx: readonly number[]): V3 {
  const p: V3 = [0, 0, 0];
  for (const i of idx) {
    p[0] += mesh[3 * i];
    p[1] += mesh[3 * i + 1];
    p[2] += mesh[3 * i + 2];
  }
  return scale(p, 1 / idx.length);
}

/**
 * Face axes in camera coordinates: x toward the subject's left, y down the face, z into the
 * head. x comes from the mean left−right offset of rigid symmetric pairs; y from the rigid
 * upper midline (forehead → base of the nose), made orthogonal to x. Columns of the returned
 * row-major 3×3 are (x, y, z).
 */
export function faceAxes(mesh: ArrayLike<number>): { x: V3; y: V3; z: V3; matrix: number[] } {
  let xs: V3 = [0, 0, 0];
  for (const [r, l] of SYMMETRIC_PAIRS) {
    xs = [xs[0] + mesh[3 * l] - mesh[3 * r], xs[1] + mesh[3 * l + 1] - mesh[3 * r + 1], xs[2] + mesh[3 * l + 2] - mesh[3 * r + 2]];
  }
  const x = normalize(xs);
  const down = sub(meanPoint(mesh, MIDLINE_LOWER), meanPoint(mesh, MIDLINE_UPPER));
  const y = normalize(sub(down, scale(x, dot(down, x))));
  const z = cross(x, y);
  return { x, y, z, matrix: [x[0], y[0], z[0], x[1], y[1], z[1], x[2], y[2], z[2]] };
}

/** Yaw/pitch/roll (degrees) of the face axes (see conventions at the top of the file). */
export function poseFromAxes(x: V3, z: V3): HeadPose {
  const f: V3 = [-z[0], -z[1], -z[2]]; // where the nose points
  const yaw = Math.atan2(f[0], -f[2]);
  const pitch = Math.atan2(-f[1], Math.hypot(f[0], f[2]));
  // Roll: angle from the roll-free x axis (for this yaw/pitch) to the face's x axis, about z.
  const x0 = normalize(cross(f, [0, 1, 0]));
  const roll = Math.atan2(dot(cross(x0, x), z), dot(x0, x));
  return { yaw: yaw * DEG, pitch: pitch * DEG, roll: roll * DEG };
}

/** Head pose from a 468×3 mesh (pixels, z in pixel scale). */
export function poseFromMesh(mesh: ArrayLike<number>): HeadPose & { matrix: number[] } {
  const ax = faceAxes(mesh);
  return { ...poseFromAxes(ax.x, ax.z), matrix: ax.matrix };
}

/**
 * Camera for a view of the head at (yaw, pitch) in head-pose terms: `cameraForView(0, 0)` is
 * the frontal camera and `cameraForView(p.yaw, p.pitch)` equals `cameraFromPose(p)`.
 * Angles are geometric (azimuth/elevation on the sphere), not EG3D's LookAtPoseSampler's
 * arccos-warped vertical parameter.
 */
export function cameraForView(yawDeg: number, pitchDeg: number, radius = EG3D_RADIUS): number[] {
  const az = -yawDeg / DEG; // camera azimuth toward world +x (the subject's left)
  const el = -pitchDeg / DEG; // camera elevation (world y up)
  const origin: V3 = [radius * Math.cos(el) * Math.sin(az), radius * Math.sin(el), radius * Math.cos(el) * Math.cos(az)];
  // EG3D create_cam2world_matrix: forward = look-at direction, right = −(up × forward),
  // up' = forward × right; columns (right, up', forward); translation = origin.
  const forward = normalize(scale(origin, -1));
  const right = normalize(scale(cross([0, 1, 0], forward), -1));
  const up = normalize(cross(forward, right));
  return [
    right[0], up[0], forward[0], origin[0],
    right[1], up[1], forward[1], origin[1],
    right[2], up[2], forward[2], origin[2],
    0, 0, 0, 1,
    ...EG3D_INTRINSICS,
  ];
}

export function cameraFromPose(pose: HeadPose, radius = EG3D_RADIUS): number[] {
  return cameraForView(pose.yaw, pose.pitch, radius);
}

/** Inverse of cameraForView: (yaw, pitch) of the head as seen by camera `c` (25 numbers). */
export function viewFromCamera(c: ArrayLike<number>): { yaw: number; pitch: number } {
  const ox = c[3], oy = c[7], oz = c[11];
  const r = Math.hypot(ox, oy, oz);
  const el = Math.asin(oy / r);
  const az = Math.atan2(ox, oz);
  return { yaw: -az * DEG, pitch: -el * DEG };
}
