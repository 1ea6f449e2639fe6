"""Face analysis with MediaPipe (legacy `solutions` API, weights inside the wheel).

- face mesh: 468 3D points + 10 iris points (refine_landmarks=True)
- selfie segmentation: a person matte
- FFHQ-style alignment (the ffhq-dataset recipe from eye centres and mouth corners)
- head pose (yaw/pitch in EG3D's convention) from the mesh's own axes
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import camera
from .imageio import InputError

cv2.setNumThreads(1)

CROP = 256
_lock = threading.Lock()
_models: dict = {}


def _mp():
    import mediapipe as mp  # imported lazily: 1 s

    return mp


def _mesh():
    with _lock:
        if "mesh" not in _models:
            _models["mesh"] = _mp().solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=4, refine_landmarks=True, min_detection_confidence=0.5
            )
        return _models["mesh"]


def _seg():
    with _lock:
        if "seg" not in _models:
            _models["seg"] = _mp().solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        return _models["seg"]


def _idx(name: str) -> np.ndarray:
    fm = _mp().solutions.face_mesh
    return np.array(sorted({i for e in getattr(fm, name) for i in e}), dtype=np.int64)


_IDX_CACHE: dict = {}


def region_indices(name: str) -> np.ndarray:
    if name not in _IDX_CACHE:
        _IDX_CACHE[name] = _idx(name)
    return _IDX_CACHE[name]


def detect_landmarks(img: np.ndarray) -> np.ndarray | None:
    """Landmarks of the largest face, (478, 3) in pixels (z in the same pixel scale, smaller = nearer)."""
    h, w = img.shape[:2]
    scale = 1.0
    src = img
    if max(h, w) > 1280:  # mediapipe resizes internally anyway; keep the copy small
        scale = 1280.0 / max(h, w)
        src = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    res = _mesh().process(np.ascontiguousarray(src))
    if not res.multi_face_landmarks:
        return None
    best, best_area = None, -1.0
    for f in res.multi_face_landmarks:
        a = np.array([[p.x, p.y, p.z] for p in f.landmark], dtype=np.float64)
        area = np.ptp(a[:, 0]) * np.ptp(a[:, 1])
        if area > best_area:
            best, best_area = a, area
    best[:, 0] *= w
    best[:, 1] *= h
    best[:, 2] *= w
    return best


def person_matte(img: np.ndarray) -> np.ndarray:
    m = _seg().process(np.ascontiguousarray(img)).segmentation_mask
    return np.clip(m.astype(np.float32), 0.0, 1.0)


def _eyes_mouth(lm: np.ndarray):
    a = lm[468:473, :2].mean(0)
    b = lm[473:478, :2].mean(0)
    eye_l, eye_r = (a, b) if a[0] < b[0] else (b, a)  # image-left, image-right
    m1, m2 = lm[61, :2], lm[291, :2]
    mouth_l, mouth_r = (m1, m2) if m1[0] < m2[0] else (m2, m1)
    return eye_l, eye_r, mouth_l, mouth_r


_QUAD_SCALE = 1.0565
_QUAD_SHIFT_DOWN = 0.0776
# the forehead->chin axis of the mesh leans back ~10 deg on a frontal face: measured mean pitch over
# the 10 testdata FFHQ portraits (FFHQ is near-frontal on average, as EG3D's pose labels)
_PITCH_OFFSET = 9.84


def ffhq_quad(lm: np.ndarray) -> np.ndarray:
    eye_l, eye_r, mouth_l, mouth_r = _eyes_mouth(lm)
    eye_avg = (eye_l + eye_r) * 0.5
    eye_to_eye = eye_r - eye_l
    mouth_avg = (mouth_l + mouth_r) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    # calibration to FFHQ's own framing (dlib's 68-point eyes/mouth differ from MediaPipe's irises and
    # mouth corners): measured on the 10 testdata FFHQ portraits, re-aligning them is then ~identity
    x /= _QUAD_SCALE
    y /= _QUAD_SCALE
    c = c + y / np.hypot(*y) * (2 * np.hypot(*y)) * _QUAD_SHIFT_DOWN
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def align_matrix(lm: np.ndarray, size: int = CROP) -> np.ndarray:
    """2x3 similarity from source pixels to the FFHQ-style crop."""
    q = ffhq_quad(lm).astype(np.float32)
    dst = np.array([[0, 0], [0, size], [size, size]], dtype=np.float32)
    return cv2.getAffineTransform(q[:3], dst).astype(np.float64)


def warp_crop(img: np.ndarray, M: np.ndarray, size: int = CROP) -> np.ndarray:
    """Warp to the crop; outside the source, FFHQ-style reflect padding blurred towards its mean."""
    crop = cv2.warpAffine(img, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    valid = cv2.warpAffine(np.ones(img.shape[:2], np.float32), M, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if valid.min() > 0.999:
        return crop
    dist = cv2.distanceTransform((valid > 0.5).astype(np.uint8) ^ 1, cv2.DIST_L2, 3)
    w = np.clip(dist / (size * 0.06), 0, 1)[..., None]
    blur = cv2.GaussianBlur(crop, (0, 0), size / 24)
    out = crop.astype(np.float32) * (1 - w) + blur.astype(np.float32) * w
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def transform_landmarks(lm: np.ndarray, M: np.ndarray) -> np.ndarray:
    s = math.sqrt(abs(np.linalg.det(M[:, :2])))
    out = lm.copy()
    out[:, :2] = lm[:, :2] @ M[:, :2].T + M[:, 2]
    out[:, 2] = lm[:, 2] * s
    return out


def head_pose(lm: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees, EG3D convention, from the mesh axes (eye corners, forehead->chin)."""
    p = lm[:468]
    r = p[263] - p[33]  # image-left outer eye corner -> image-right outer eye corner
    d = p[152] - p[10]  # forehead top -> chin
    r = r / np.linalg.norm(r)
    d = d - r * (d @ r)
    d = d / np.linalg.norm(d)
    n = np.cross(r, d)  # points away from the camera for a frontal face (image coords: x right, y down, z far)
    cam_dir = np.array([0.0, 0.0, -1.0])  # from the head towards the camera, in camera coordinates
    # camera direction in the head frame, then to EG3D world (y up, face looks to +z)
    R = np.stack([r, d, n], axis=1)
    c_head = R.T @ cam_dir
    w = np.array([c_head[0], -c_head[1], -c_head[2]])
    w /= np.linalg.norm(w)
    yaw = math.degrees(math.asin(np.clip(w[0], -1, 1)))
    pitch = -math.degrees(math.asin(np.clip(w[1], -1, 1))) + _PITCH_OFFSET
    return yaw, pitch


def _hull_mask(pts: np.ndarray, size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(pts[:, :2] * 4).astype(np.int32))
    cv2.fillConvexPoly(m, hull, 255, lineType=cv2.LINE_AA, shift=2)
    return m.astype(np.float32) / 255.0


def _skin_like(img: np.ndarray, skin: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Pixels of the person whose colour matches the face skin (neck, ears, forehead above the mesh)."""
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float32)[..., 1:]
    sel = skin > 0.9
    if sel.sum() < 50:
        return np.zeros_like(skin)
    v = ycc[sel]
    mu = v.mean(0)
    cov = np.cov(v.T) + np.eye(2) * 4.0
    d = ycc - mu
    md = np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)
    like = np.clip(1.0 - (np.sqrt(md) - 2.0) / 1.5, 0, 1).astype(np.float32)
    return like * (person > 0.5)


def region_masks(lm: np.ndarray, matte: np.ndarray, size: int = CROP, img: np.ndarray | None = None) -> dict:
    """Soft masks (float32 HxW in [0,1]) of face regions in crop coordinates."""
    face = _hull_mask(lm[region_indices("FACEMESH_FACE_OVAL")], size)
    eye_l = _hull_mask(lm[region_indices("FACEMESH_LEFT_EYE")], size)
    eye_r = _hull_mask(lm[region_indices("FACEMESH_RIGHT_EYE")], size)
    eyes = np.maximum(eye_l, eye_r)
    iris = np.maximum(_hull_mask(lm[468:473], size), _hull_mask(lm[473:478], size)) * eyes
    lips = _hull_mask(lm[region_indices("FACEMESH_LIPS")], size)
    brows = np.maximum(
        _hull_mask(lm[region_indices("FACEMESH_LEFT_EYEBROW")], size),
        _hull_mask(lm[region_indices("FACEMESH_RIGHT_EYEBROW")], size),
    )
    k = max(3, size // 64) | 1
    eyes_d = cv2.dilate(eyes, np.ones((k, k), np.uint8))
    skin = np.clip(face - eyes_d - lips - brows, 0, 1)
    person = np.clip(np.maximum(matte, face), 0, 1)
    # hair: person pixels outside the (slightly grown) face, above the mouth line
    face_big = cv2.dilate(face, np.ones((k * 2 + 1, k * 2 + 1), np.uint8))
    mouth_y = lm[[61, 291], 1].mean()
    yy = np.arange(size, dtype=np.float32)[:, None] * np.ones((1, size), np.float32)
    above = np.clip((mouth_y - yy) / (size * 0.05) + 0.5, 0, 1)
    hair = np.clip(person - face_big, 0, 1) * above
    body = np.clip(person - face_big - hair, 0, 1)
    if img is not None:
        # extend the skin beyond the mesh oval to skin-coloured pixels of the person, near the face
        near = cv2.dilate(face, np.ones((size // 6 | 1, size // 6 | 1), np.uint8))
        ext = _skin_like(img, skin, person) * near * (1 - cv2.dilate(np.maximum(eyes, lips), np.ones((k, k), np.uint8)))
        ext = cv2.morphologyEx(ext, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        skin = np.maximum(skin, np.clip(ext - brows, 0, 1) * (1 - face) + skin * face)
        hair = np.clip(hair - ext, 0, 1)
        body = np.clip(body - ext, 0, 1)
    out = dict(face=face, skin=skin, eyes=eyes, iris=iris, sclera=np.clip(eyes - iris, 0, 1), lips=lips,
               brows=brows, hair=hair, body=body, person=person, background=1.0 - person)
    return {n: cv2.GaussianBlur(v, (0, 0), size / 256.0) for n, v in out.items()}


@dataclass
class Portrait:
    """An aligned portrait: everything the teachers need."""

    crop: np.ndarray  # uint8 (CROP, CROP, 3)
    lm: np.ndarray  # (478, 3) landmarks in crop pixels
    matte: np.ndarray  # float32 (CROP, CROP)
    M: np.ndarray  # 2x3 affine, source pixels -> crop
    src_shape: tuple  # (H, W) of the source image
    yaw: float
    pitch: float
    masks: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.crop.shape[0]

    def camera_label(self) -> np.ndarray:
        return camera.label(self.yaw, self.pitch)


def analyse(img: np.ndarray, size: int = CROP) -> Portrait:
    """Detect, align and segment the largest face in an RGB uint8 image. Raises InputError if none."""
    lm = detect_landmarks(img)
    if lm is None:
        raise InputError("no face found in the image")
    M = align_matrix(lm, size)
    crop = warp_crop(img, M, size)
    # re-run the mesh on the aligned crop: more pixels on the face, more precise than warping
    lm_c = detect_landmarks(crop)
    if lm_c is None:
        lm_c = transform_landmarks(lm, M)
    matte = person_matte(crop)
    yaw, pitch = head_pose(lm_c)
    p = Portrait(crop=crop, lm=lm_c, matte=matte, M=M, src_shape=img.shape[:2], yaw=yaw, pitch=pitch)
    p.masks = region_masks(lm_c, matte, size, crop)
    return p


def close():
    with _lock:
        for m in _models.values():
            try:
                m.close()
            except Exception:
                pass
        _models.clear()
