/**
 * The face mesh's depth at the view a call asks for: the editor's novel views re-project the
 * source-view edit through it where it covers the face (the graph's `mesh_depth` input; the
 * triplane's rendered depth fills the rest). The same computation as
 * models/training/pe_editor/mesh_depth.py, checked against its fixture (mesh_parity.json):
 * the tracker's 468 points, in the aligned crop's pixels with z in the same pixel scale, are
 * placed along the source camera's rays at depth RADIUS + z·(world per pixel), as the 3D
 * teacher places them; projected into the target camera; and the mesh's triangles rasterised
 * at 32² with a z-buffer (nearest wins). 0 where no triangle covers a pixel.
 *
 * Runs once per novel-view edit (0.2 ms): its scratch buffers are kept between calls; the 4 KB
 * result is a new array unless `out` is given, since a job holds on to it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CropFrame } from '../tracking/alignment.js';
import { frameToCropTransform } from '../tracking/alignment.js';
import { EG3D_FOCAL, EG3D_RADIUS } from '../tracking/head-pose.js';
import { MESH_POINTS } from '../tracking/mesh-indices.js';

export const MESH_DEPTH_RES = 32;

/** mesh_triangles.json (written by pe_editor.export): MediaPipe's tesselation as index triples. */
export function loadMeshTriangles(assetsDir: string): Int32Array {
  const j = JSON.parse(readFileSync(path.join(assetsDir, 'mesh_triangles.json'), 'utf8')) as { triangles: number[]; count: number };
  if (!Array.isArray(j.triangles) || j.triangles.length !== 3 * j.count) throw new Error('mesh_triangles.json: bad triangle list');
  const t = Int32Array.from(j.triangles);
  for (const i of t) if (i < 0 || i >= MESH_POINTS) throw new Error('mesh_triangles.json: index out of range');
  return t;
}

export class MeshDepth {
  private readonly px = new Float64Array(MESH_POINTS);
  private readonly py = new Float64Array(MESH_POINTS);
  private readonly pz = new Float64Array(MESH_POINTS);
  private readonly zbuf: Float64Array;

  constructor(private readonly triangles: Int32Array, readonly res = MESH_DEPTH_RES) {
    this.zbuf = new Float64Array(res * res);
  }

  /**
   * `mesh`: 468×3 crop pixels of a `size`² crop; `srcCam`, `tgtCam`: EG3D labels (25) →
   * `out` (res², row-major), the depth along the target camera's axis, 0 where uncovered.
   */
  compute(mesh: ArrayLike<number>, size: number, srcCam: ArrayLike<number>, tgtCam: ArrayLike<number>, out = new Float32Array(this.res * this.res)): Float32Array {
    if (mesh.length < 3 * MESH_POINTS) throw new Error('mesh must have 468×3 numbers');
    const wpp = EG3D_RADIUS / EG3D_FOCAL / size;
    const s = srcCam, t = tgtCam;
    const res = this.res;
    for (let i = 0; i < MESH_POINTS; i++) {
      // along the source camera's ray through the point, at its depth; then to world (c2w)
      const d = EG3D_RADIUS + mesh[3 * i + 2] * wpp;
      const xc = (((mesh[3 * i] + 0.5) / size) - 0.5) / EG3D_FOCAL * d;
      const yc = (((mesh[3 * i + 1] + 0.5) / size) - 0.5) / EG3D_FOCAL * d;
      const wx = s[0] * xc + s[1] * yc + s[2] * d + s[3];
      const wy = s[4] * xc + s[5] * yc + s[6] * d + s[7];
      const wz = s[8] * xc + s[9] * yc + s[10] * d + s[11];
      // world → target camera (rigid: Rᵀ(p − o)), then its pixels at res²
      const dx = wx - t[3], dy = wy - t[7], dz = wz - t[11];
      const cx = t[0] * dx + t[4] * dy + t[8] * dz;
      const cy = t[1] * dx + t[5] * dy + t[9] * dz;
      const cz = t[2] * dx + t[6] * dy + t[10] * dz;
      this.px[i] = (t[16] * cx / cz + t[18]) * res - 0.5;
      this.py[i] = (t[20] * cy / cz + t[21]) * res - 0.5;
      this.pz[i] = cz;
    }
    const zb = this.zbuf;
    zb.fill(Infinity);
    const tri = this.triangles;
    const { px, py, pz } = this;
    for (let k = 0; k < tri.length; k += 3) {
      const a = tri[k], b = tri[k + 1], c = tri[k + 2];
      const x0 = px[a], y0 = py[a], x1 = px[b], y1 = py[b], x2 = px[c], y2 = py[c];
      const xa = Math.max(Math.floor(Math.min(x0, x1, x2)), 0), xb = Math.min(Math.ceil(Math.max(x0, x1, x2)), res - 1);
      const ya = Math.max(Math.floor(Math.min(y0, y1, y2)), 0), yb = Math.min(Math.ceil(Math.max(y0, y1, y2)), res - 1);
      if (xa > xb || ya > yb) continue;
      const den = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2);
      if (Math.abs(den) < 1e-9) continue;
      for (let gy = ya; gy <= yb; gy++) {
        for (let gx = xa; gx <= xb; gx++) {
          const w0 = ((y1 - y2) * (gx - x2) + (x2 - x1) * (gy - y2)) / den;
          const w1 = ((y2 - y0) * (gx - x2) + (x0 - x2) * (gy - y2)) / den;
          const w2 = 1 - w0 - w1;
          if (w0 < -1e-3 || w1 < -1e-3 || w2 < -1e-3) continue;
          const z = w0 * pz[a] + w1 * pz[b] + w2 * pz[c];
          const o = gy * res + gx;
          if (z < zb[o]) zb[o] = z;
        }
      }
    }
    for (let i = 0; i < zb.length; i++) out[i] = zb[i] === Infinity ? 0 : zb[i];
    return out;
  }
}

/**
 * The tracker's mesh (468×3 frame pixels) in the pixels of the `size`² aligned crop `crop`
 * (z scaled with x and y: the crop is a similarity of the frame).
 */
export function meshInCrop(mesh: ArrayLike<number>, crop: CropFrame, size: number, out = new Float32Array(3 * MESH_POINTS)): Float32Array {
  const [a, b, tx, c, d, ty] = frameToCropTransform(crop, size);
  const k = Math.hypot(a, c);
  for (let i = 0; i < MESH_POINTS; i++) {
    const x = mesh[3 * i], y = mesh[3 * i + 1];
    out[3 * i] = a * x + b * y + tx;
    out[3 * i + 1] = c * x + d * y + ty;
    out[3 * i + 2] = mesh[3 * i + 2] * k;
  }
  return out;
}
