"""EG3D camera convention.

cam2world is a 4x4 OpenCV-style camera-to-world matrix (x right, y down, z forward in camera
space; world y is up, the face looks towards +z). The camera sits on a sphere of radius 2.7
around the origin and looks at it, exactly like EG3D's LookAtPoseSampler with
horizontal angle h = pi/2 + yaw and vertical angle v = pi/2 + pitch:
  yaw > 0   -> camera moves to world +x (the image's right side of a frontal face)
  pitch > 0 -> camera moves to world -y (below the face, looking up)
Intrinsics are normalised: fx = fy = 4.2647, cx = cy = 0.5 (pixel = K @ X_cam / z * size).
The 25-d label `c` = cam2world.flatten() (16) + K.flatten() (9), as in EG3D's dataset.json.
"""
from __future__ import annotations

import math

import numpy as np

RADIUS = 2.7
FOCAL = 4.2647


def intrinsics() -> np.ndarray:
    return np.array([[FOCAL, 0.0, 0.5], [0.0, FOCAL, 0.5], [0.0, 0.0, 1.0]], dtype=np.float64)


def cam2world(yaw_deg: float, pitch_deg: float, radius: float = RADIUS) -> np.ndarray:
    h = math.pi / 2 + math.radians(yaw_deg)
    v = math.pi / 2 + math.radians(pitch_deg)
    v = min(max(v, 1e-5), math.pi - 1e-5)
    origin = np.array(
        [
            radius * math.sin(v) * math.cos(math.pi - h),
            radius * math.cos(v),
            radius * math.sin(v) * math.sin(math.pi - h),
        ]
    )
    forward = -origin / np.linalg.norm(origin)
    up = np.array([0.0, 1.0, 0.0])
    right = -np.cross(up, forward)
    right /= np.linalg.norm(right)
    up2 = np.cross(forward, right)
    up2 /= np.linalg.norm(up2)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, up2, forward, origin
    return m


def label(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """EG3D's 25-d camera label."""
    return np.concatenate([cam2world(yaw_deg, pitch_deg).reshape(-1), intrinsics().reshape(-1)]).astype(np.float32)


def world_per_pixel(size: int) -> float:
    """World units per pixel of a `size`-pixel image at the look-at point (distance RADIUS)."""
    return RADIUS / FOCAL / size
