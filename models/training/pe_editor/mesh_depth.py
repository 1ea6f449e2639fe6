"""The face mesh's depth at a target view, for the editor's novel views (Editor.view's mesh_depth).

mesh_depth(lm, size, src_cam, tgt_cam) -> (32, 32) float32: each pixel's distance along the target
camera's axis to the nearest triangle of the 468-point face mesh, 0 where no triangle covers it
(outside the face and in the mesh's openings: eyes, mouth). The landmarks are in the aligned
crop's pixels (size x size), z in the same pixel scale (MediaPipe's convention, which the runtime's
tracker shares), and are placed in the world exactly as the 3D teacher places them
(lift.landmarks_world): depth RADIUS + z * world_per_pixel along the source camera's rays.

The runtime (models/src/editor/mesh-depth.ts) does the same from the tracker's mesh; the export
writes the triangles (mesh_triangles.json) and a fixture so the two are checked equal.
"""
from __future__ import annotations

import numpy as np

from pe_teachers import camera, lift

RES = 32


def world_points(lm: np.ndarray, size: int, src_cam: np.ndarray) -> np.ndarray:
    """(N,3) crop pixels + z -> (N,3) world points, through the source camera (label, 25)."""
    c2w = np.asarray(src_cam, np.float64)[:16].reshape(4, 4)
    d = camera.RADIUS + lm[:, 2].astype(np.float64) * camera.world_per_pixel(size)
    un = (lm[:, 0] + 0.5) / size
    vn = (lm[:, 1] + 0.5) / size
    X = np.stack([(un - 0.5) / camera.FOCAL * d, (vn - 0.5) / camera.FOCAL * d, d, np.ones_like(d)], -1)
    return (X @ c2w.T)[:, :3]


def mesh_depth(lm: np.ndarray, size: int, src_cam: np.ndarray, tgt_cam: np.ndarray, res: int = RES) -> np.ndarray:
    w = world_points(np.asarray(lm, np.float64)[:468], size, src_cam)
    px, py, z = lift.project(w, np.asarray(tgt_cam, np.float64)[:16].reshape(4, 4), res)
    d = lift.rasterize_mesh_depth(np.stack([px, py, z], 1), res)
    return np.nan_to_num(d, nan=0.0).astype(np.float32)
