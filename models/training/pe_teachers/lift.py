"""The 3D teacher: lift one aligned portrait to other views (replaces EG3D + Live3D).

Geometry of the source view, per pixel, in the source camera:
  * face:       the MediaPipe mesh's own depth (z of the 468 points, linearly interpolated over
                their Delaunay triangulation),
  * head/hair/neck/shoulders: a proxy inflated from the person matte's silhouette
                (an ellipsoidal profile h = sqrt(d (2R - d)) of the distance d to the silhouette,
                R = the head's half width: a sphere of radius R for a round silhouette), shifted so
                that it meets the mesh at the face outline,
  * background: a plane behind the head.
Pixels are unprojected with the EG3D source camera (estimated head pose), moved to world space,
and forward-splatted (2x supersampled, z-buffered, nearest-first) into the target camera;
depth-discontinuity pixels are dropped so disocclusions become holes, and holes are filled by
inpainting (OpenCV Telea). Outputs: the image, the depth (distance along the camera axis, world
units) and the coverage mask at the target view, plus the source-view depth.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from . import camera
from .face import Portrait

cv2.setNumThreads(1)

VIEW_GRID = [(y, p) for p in (-20, 0, 20) for y in (-30, -15, 0, 15, 30)]


@dataclass
class Geometry:
    depth: np.ndarray  # (H, W) float32: distance along the source camera axis, world units
    z_rel: np.ndarray  # (H, W) float32: depth relative to the head centre, world units (+ = farther)
    edge: np.ndarray  # (H, W) bool: depth discontinuities (dropped when splatting)
    part: np.ndarray  # (H, W) uint8: 0 background, 1 proxy (hair/neck/body), 2 face mesh
    c2w: np.ndarray  # source cam2world


def source_geometry(p: Portrait) -> Geometry:
    size = p.size
    wpp = camera.world_per_pixel(size)
    lm = p.lm[:468]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # --- face: mesh depth (pixels -> world units), NaN outside the mesh hull
    interp = LinearNDInterpolator(lm[:, :2], lm[:, 2])
    z_face = interp(xx + 0.0, yy + 0.0).astype(np.float32)
    face_in = np.isfinite(z_face)
    # --- proxy: ellipsoidal inflation of the person silhouette
    person = np.maximum(p.matte, p.masks["face"] if p.masks else 0) > 0.5
    person |= face_in
    dist = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 5).astype(np.float32)
    face_w = np.ptp(lm[:, 0])
    R = 0.62 * face_w
    d = np.minimum(dist, R)
    h = np.sqrt(np.maximum(d * (2 * R - d), 0))
    z_proxy = -h * 0.9  # pixels; 0 = silhouette plane through the head centre
    # meet the mesh at the face outline
    ring = face_in & (cv2.erode(face_in.astype(np.uint8), np.ones((5, 5), np.uint8)) == 0)
    if ring.sum() > 10:
        off = float(np.median(z_face[ring] - z_proxy[ring]))
    else:
        off = 0.0
    z_proxy = z_proxy + off
    # background plane behind the head
    z_bg = float(np.max(z_proxy[person]) if person.any() else 0) + 0.8 * R
    z = np.where(person, z_proxy, z_bg).astype(np.float32)
    # the face: mesh depth, feathered into the proxy inside the outline
    fin = cv2.GaussianBlur(cv2.erode(face_in.astype(np.float32), np.ones((5, 5), np.uint8)), (0, 0), 2.0)
    zf = np.where(face_in, z_face, z)
    z = fin * zf + (1 - fin) * z
    z = np.where(person, np.minimum(z, z_bg - 1.0), z)
    part = np.where(face_in, 2, np.where(person, 1, 0)).astype(np.uint8)
    z_rel = z * wpp
    depth = camera.RADIUS + z_rel
    # discontinuities: big depth jumps between neighbours (relative to the pixel footprint)
    gx = np.abs(np.diff(depth, axis=1, append=depth[:, -1:]))
    gy = np.abs(np.diff(depth, axis=0, append=depth[-1:, :]))
    gx = np.maximum(gx, np.roll(gx, 1, axis=1))
    gy = np.maximum(gy, np.roll(gy, 1, axis=0))
    edge = np.maximum(gx, gy) > 6 * wpp
    return Geometry(depth=depth.astype(np.float32), z_rel=z_rel.astype(np.float32), edge=edge, part=part,
                    c2w=camera.cam2world(p.yaw, p.pitch))


def _unproject(depth: np.ndarray, c2w: np.ndarray, size: int, ss: int) -> np.ndarray:
    n = depth.shape[0]
    f = camera.FOCAL
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    un, vn = np.meshgrid(t, t)
    d = depth.astype(np.float64)
    X = np.stack([(un - 0.5) / f * d, (vn - 0.5) / f * d, d, np.ones_like(d)], -1).reshape(-1, 4)
    return (X @ c2w.T)[:, :3]


def project(points_world: np.ndarray, c2w: np.ndarray, size: int):
    """World points -> (pixel x, pixel y, depth) in a `size` image of camera c2w."""
    w2c = np.linalg.inv(c2w)
    Xc = points_world @ w2c[:3, :3].T + w2c[:3, 3]
    z = Xc[:, 2]
    px = (camera.FOCAL * Xc[:, 0] / z + 0.5) * size - 0.5
    py = (camera.FOCAL * Xc[:, 1] / z + 0.5) * size - 0.5
    return px, py, z


def landmarks_world(p: Portrait, geo: Geometry) -> np.ndarray:
    """The mesh points as world points (to place them in another view)."""
    size = p.size
    wpp = camera.world_per_pixel(size)
    lm = p.lm
    d = camera.RADIUS + lm[:, 2] * wpp
    un = (lm[:, 0] + 0.5) / size
    vn = (lm[:, 1] + 0.5) / size
    X = np.stack([(un - 0.5) / camera.FOCAL * d, (vn - 0.5) / camera.FOCAL * d, d, np.ones_like(d)], -1)
    return (X @ geo.c2w.T)[:, :3]


@dataclass
class View:
    image: np.ndarray  # uint8 (H, W, 3)
    depth: np.ndarray  # float32 (H, W), along the target camera axis
    coverage: np.ndarray  # bool (H, W): pixels that received a splat (before hole filling)
    alpha: np.ndarray  # float32 (H, W): the person matte at the target view
    yaw: float
    pitch: float


def render(p: Portrait, yaw: float, pitch: float, image: np.ndarray | None = None,
           geo: Geometry | None = None, ss: int = 2) -> View:
    """Re-render the portrait (or an edited version of its crop, `image`) at EG3D view (yaw, pitch)."""
    size = p.size
    geo = geo or source_geometry(p)
    img = p.crop if image is None else image
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    n = size * ss
    depth_u = cv2.resize(geo.depth, (n, n), interpolation=cv2.INTER_LINEAR)
    edge_u = cv2.resize(geo.edge.astype(np.uint8), (n, n), interpolation=cv2.INTER_NEAREST).astype(bool)
    col_u = cv2.resize(img, (n, n), interpolation=cv2.INTER_LINEAR).reshape(-1, 3)
    alpha_u = cv2.resize(p.matte.astype(np.float32), (n, n), interpolation=cv2.INTER_LINEAR).reshape(-1)
    Xw = _unproject(depth_u, geo.c2w, size, ss)
    c2w_t = camera.cam2world(yaw, pitch)
    px, py, z = project(Xw, c2w_t, size)
    tx = np.round(px).astype(np.int64)
    ty = np.round(py).astype(np.int64)
    ok = (tx >= 0) & (tx < size) & (ty >= 0) & (ty < size) & (z > 0) & ~edge_u.reshape(-1)
    idx = (ty * size + tx)[ok]
    zk = z[ok]
    src = np.nonzero(ok)[0]
    order = np.lexsort((zk, idx))  # by pixel, then nearest first
    first = np.unique(idx[order], return_index=True)[1]
    win = order[first]
    pix = idx[win]
    out = np.zeros((size * size, 3), np.uint8)
    dep = np.zeros(size * size, np.float32)
    alp = np.zeros(size * size, np.float32)
    cov = np.zeros(size * size, bool)
    out[pix] = col_u[src[win]]
    dep[pix] = zk[win]
    alp[pix] = alpha_u[src[win]]
    cov[pix] = True
    out = out.reshape(size, size, 3)
    dep = dep.reshape(size, size)
    alp = alp.reshape(size, size)
    cov = cov.reshape(size, size)
    hole = (~cov).astype(np.uint8)
    if hole.any():
        out = cv2.inpaint(out, hole, 3, cv2.INPAINT_TELEA)
        # depth / alpha holes: nearest valid neighbour, preferring the farther surface (disocclusions
        # reveal what is behind)
        dfill = dep.copy()
        dfill[~cov] = 0
        big = cv2.dilate(dfill, np.ones((3, 3), np.uint8), iterations=max(1, size // 32))
        dep = np.where(cov, dep, big).astype(np.float32)
        dep = np.where(dep > 0, dep, float(dep[cov].max()) if cov.any() else camera.RADIUS)
        alp = np.where(cov, alp, cv2.inpaint(to_u8(alp), hole, 3, cv2.INPAINT_TELEA).astype(np.float32) / 255.0)
    return View(image=out, depth=dep, coverage=cov, alpha=alp.astype(np.float32), yaw=float(yaw), pitch=float(pitch))


def to_u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_source(p: Portrait, image: np.ndarray | None = None, geo: Geometry | None = None) -> View:
    return render(p, p.yaw, p.pitch, image=image, geo=geo)


def depth_to_u8(depth: np.ndarray) -> np.ndarray:
    """A viewable depth image: near = bright."""
    lo, hi = np.percentile(depth, [1, 99])
    return (np.clip((hi - depth) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
