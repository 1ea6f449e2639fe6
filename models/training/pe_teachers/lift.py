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
    bg_depth: float = camera.RADIUS  # the background plane's distance along the source camera axis


_TRIS = None


def mesh_triangles() -> np.ndarray:
    """Triangles of MediaPipe's face mesh (3-cycles of FACEMESH_TESSELATION), (T, 3)."""
    global _TRIS
    if _TRIS is None:
        from .face import _mp

        edges = _mp().solutions.face_mesh.FACEMESH_TESSELATION
        nb: dict = {}
        for a, b in edges:
            nb.setdefault(a, set()).add(b)
            nb.setdefault(b, set()).add(a)
        tris = set()
        for a, b in edges:
            for c in nb[a] & nb[b]:
                tris.add(tuple(sorted((a, b, c))))
        _TRIS = np.array(sorted(tris), dtype=np.int64)
    return _TRIS


def rasterize_mesh_depth(lm: np.ndarray, size: int) -> np.ndarray:
    """z-buffered (nearest wins) barycentric rasterisation of the mesh's z; NaN where no triangle."""
    tri = mesh_triangles()
    P = lm[:, :2] - 0.0
    Z = lm[:, 2]
    zbuf = np.full((size, size), np.inf, np.float64)
    for t in tri:
        (x0, y0), (x1, y1), (x2, y2) = P[t[0]], P[t[1]], P[t[2]]
        xa, xb = int(max(np.floor(min(x0, x1, x2)), 0)), int(min(np.ceil(max(x0, x1, x2)), size - 1))
        ya, yb = int(max(np.floor(min(y0, y1, y2)), 0)), int(min(np.ceil(max(y0, y1, y2)), size - 1))
        if xa > xb or ya > yb:
            continue
        den = (y1 - y2) * (x0 - x2) + (x2 - x1) * (y0 - y2)
        if abs(den) < 1e-9:
            continue
        gy, gx = np.mgrid[ya:yb + 1, xa:xb + 1].astype(np.float64)
        w0 = ((y1 - y2) * (gx - x2) + (x2 - x1) * (gy - y2)) / den
        w1 = ((y2 - y0) * (gx - x2) + (x0 - x2) * (gy - y2)) / den
        w2 = 1 - w0 - w1
        inside = (w0 >= -1e-3) & (w1 >= -1e-3) & (w2 >= -1e-3)
        if not inside.any():
            continue
        z = w0 * Z[t[0]] + w1 * Z[t[1]] + w2 * Z[t[2]]
        sub = zbuf[ya:yb + 1, xa:xb + 1]
        np.minimum(sub, np.where(inside, z, np.inf), out=sub)
    zbuf[~np.isfinite(zbuf)] = np.nan
    return zbuf.astype(np.float32)


def face_oval_idx():
    from .face import region_indices

    return region_indices("FACEMESH_FACE_OVAL")


def source_geometry(p: Portrait) -> Geometry:
    size = p.size
    wpp = camera.world_per_pixel(size)
    lm = p.lm[:468]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # --- face: mesh depth (pixels -> world units), NaN outside the mesh hull
    z_face = rasterize_mesh_depth(lm, size)
    face_in = np.isfinite(z_face)
    # the mesh's own openings (eyes, mouth): fill their depth from the surrounding surface
    from scipy.ndimage import binary_fill_holes

    holes = binary_fill_holes(face_in) & ~face_in
    if holes.any():
        zf0 = np.where(face_in, z_face, 0).astype(np.float32)
        z_face = np.where(holes, cv2.inpaint(zf0, holes.astype(np.uint8), 5, cv2.INPAINT_TELEA), z_face)
        face_in = face_in | holes
    if face_in.sum() < 50:  # degenerate mesh: fall back to interpolation over the 2D triangulation
        interp = LinearNDInterpolator(lm[:, :2], lm[:, 2])
        z_face = interp(xx + 0.0, yy + 0.0).astype(np.float32)
        face_in = np.isfinite(z_face)
    # --- proxy: a head ellipsoid fitted to the mesh outline and the matte, + the inflated silhouette
    person = np.maximum(p.matte, p.masks["face"] if p.masks else 0) > 0.5
    person |= face_in
    face_w = float(np.ptp(lm[:, 0]))
    oval = lm[face_oval_idx()]
    cx = float(oval[:, 0].mean())
    cy = float(lm[:, 1].min() + 0.45 * np.ptp(lm[:, 1]))
    a = 0.5 * face_w * 1.12
    # vertical extent from the matte above the face (hair) and the chin below
    col = person[:, int(np.clip(cx, 0, size - 1))]
    top = int(np.argmax(col)) if col.any() else int(lm[:, 1].min())
    b = max(0.5 * (float(lm[:, 1].max()) - min(top, float(lm[:, 1].min()))) * 1.02, a)
    cy = 0.5 * (float(lm[:, 1].max()) + min(top, float(lm[:, 1].min())))
    u = (xx - cx) / a
    v = (yy - cy) / b
    rr = u * u + v * v
    sq = np.sqrt(np.clip(1 - rr, 0, 1))
    # fit z0, c on the mesh outline: z ~ z0 - c * sqrt(1 - u^2 - v^2)
    ou = (oval[:, 0] - cx) / a
    ov = (oval[:, 1] - cy) / b
    os_ = np.sqrt(np.clip(1 - ou * ou - ov * ov, 0, 1))
    A = np.stack([np.ones_like(os_), -os_], 1)
    z0, c = np.linalg.lstsq(A, oval[:, 2], rcond=None)[0]
    if not (0.3 * a < c < 2.0 * a):
        c = 0.9 * a
        z0 = float(np.median(oval[:, 2] + c * os_))
    z_head = z0 - c * sq
    inside = rr < 1.0
    # everything else of the person (hair beyond the ellipse, neck, shoulders): a shallow inflation
    dist = cv2.distanceTransform(person.astype(np.uint8), cv2.DIST_L2, 5).astype(np.float32)
    Rb = 0.35 * face_w
    d = np.minimum(dist, Rb)
    z_body = z0 + 0.15 * c - 0.7 * np.sqrt(np.maximum(d * (2 * Rb - d), 0))
    z_proxy = np.where(inside, np.minimum(z_head, z_body), z_body)
    z_proxy = cv2.GaussianBlur(z_proxy.astype(np.float32), (0, 0), 2.0)
    # background plane behind the head
    z_bg = float(max(np.max(z_proxy[person]) if person.any() else 0, z0) + 0.8 * a)
    z = np.where(person, z_proxy, z_bg).astype(np.float32)
    # the face: mesh depth, blended into the proxy over a band inside the outline
    din = cv2.distanceTransform(face_in.astype(np.uint8), cv2.DIST_L2, 5)
    fin = np.clip(din / 16.0, 0, 1)
    zf = np.where(face_in, z_face, z)
    z = fin * zf + (1 - fin) * np.where(face_in, np.minimum(z, zf + 0.0), z)
    z = np.where(person, np.minimum(z, z_bg - 1.0), z)
    part = np.where(face_in, 2, np.where(person, 1, 0)).astype(np.uint8)
    z_rel = z * wpp
    depth = camera.RADIUS + z_rel
    # discontinuities: big depth jumps between neighbours (relative to the pixel footprint)
    gx = np.abs(np.diff(depth, axis=1, append=depth[:, -1:]))
    gy = np.abs(np.diff(depth, axis=0, append=depth[-1:, :]))
    gx = np.maximum(gx, np.roll(gx, 1, axis=1))
    gy = np.maximum(gy, np.roll(gy, 1, axis=0))
    edge = np.maximum(gx, gy) > 8 * wpp
    return Geometry(depth=depth.astype(np.float32), z_rel=z_rel.astype(np.float32), edge=edge, part=part,
                    c2w=camera.cam2world(p.yaw, p.pitch), bg_depth=float(camera.RADIUS + z_bg * wpp))


def background_plate(img: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The image with the person removed (inpainted at low resolution, blurred): what a disocclusion shows."""
    size = img.shape[0]
    lo = 64
    small = cv2.resize(img, (lo, lo), interpolation=cv2.INTER_AREA)
    m = cv2.resize((person > 0.3).astype(np.uint8), (lo, lo), interpolation=cv2.INTER_NEAREST)
    m = cv2.dilate(m, np.ones((5, 5), np.uint8))
    if m.all():
        fill = np.full_like(small, small.reshape(-1, 3).mean(0).astype(np.uint8))
    else:
        fill = cv2.inpaint(small, m, 8, cv2.INPAINT_TELEA)
    fill = cv2.GaussianBlur(fill, (0, 0), 1.5)
    return cv2.resize(fill, (size, size), interpolation=cv2.INTER_CUBIC)


def _plane_homography(geo: Geometry, c2w_t: np.ndarray, size: int) -> np.ndarray:
    """Homography from source pixels to target pixels for the background plane."""
    d = geo.bg_depth
    f = camera.FOCAL
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float64)
    un = corners / size
    X = np.stack([(un[:, 0] - 0.5) / f * d, (un[:, 1] - 0.5) / f * d, np.full(4, d), np.ones(4)], -1)
    Xw = (X @ geo.c2w.T)[:, :3]
    px, py, _ = project(Xw, c2w_t, size)
    dst = np.stack([px + 0.5, py + 0.5], -1)
    return cv2.getPerspectiveTransform(corners.astype(np.float32), dst.astype(np.float32))


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
        # 1) cracks: holes mostly surrounded by splats take their neighbours' mean
        cf = cov.astype(np.float32)
        num = cv2.blur(out.astype(np.float32) * cf[..., None], (3, 3))
        den = cv2.blur(cf, (3, 3))
        crack = (~cov) & (den > 0.5)
        out[crack] = np.clip(num[crack] / den[crack][:, None] + 0.5, 0, 255).astype(np.uint8)
        # 2) disocclusions and borders: the background plate, re-rendered as the background plane
        person = np.maximum(p.matte, p.masks["face"] if p.masks else 0)
        plate = background_plate(img, person)
        H = _plane_homography(geo, c2w_t, size)
        plate_t = cv2.warpPerspective(plate, H, (size, size), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REFLECT101)
        rest = (~cov) & ~crack
        # thin holes (depth-edge pixels that nothing covers, e.g. at the source view) and holes
        # surrounded by the person (e.g. forehead/hair seams seen from above): local inpainting;
        # the others (disocclusions of the background, borders): the background plate
        n_lab, lab = cv2.connectedComponents(rest.astype(np.uint8), connectivity=8)
        dist = cv2.distanceTransform(rest.astype(np.uint8), cv2.DIST_L2, 3)
        maxd = np.zeros(n_lab, np.float32)
        np.maximum.at(maxd, lab.reshape(-1), dist.reshape(-1))
        thin = rest & (maxd[lab] <= 2.5)
        a_cov = np.where(cov, alp, 0).astype(np.float32)
        near = cv2.GaussianBlur(a_cov, (0, 0), 4) / np.maximum(
            cv2.GaussianBlur(cov.astype(np.float32), (0, 0), 4), 1e-3)
        local = thin | (rest & (near > 0.7))
        far = rest & ~local
        soft = cv2.GaussianBlur(far.astype(np.float32), (0, 0), 1.0)[..., None]
        soft = np.maximum(soft, far[..., None].astype(np.float32))
        out = np.clip(out * (1 - soft) + plate_t * soft + 0.5, 0, 255).astype(np.uint8)
        if local.any():
            out[local] = plate_t[local]  # no black pixels seen by the inpainting
            out = cv2.inpaint(out, local.astype(np.uint8), 4, cv2.INPAINT_TELEA)
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
