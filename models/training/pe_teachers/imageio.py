"""Safe image loading: check the header before decoding (no decompression bombs)."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

MAX_SIDE = 8192
MAX_PIXELS = 40_000_000


class InputError(Exception):
    """A bad user input (not an image, too large, no face...). CLIs map it to exit code 2."""


def probe(path: str) -> tuple[int, int]:
    if not os.path.isfile(path):
        raise InputError(f"not a file: {path}")
    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
    except Image.DecompressionBombError as e:
        raise InputError(f"image too large: {e}") from None
    except Exception as e:  # PIL.UnidentifiedImageError and friends
        raise InputError(f"not an image (or unsupported format): {path} ({e.__class__.__name__})") from None
    if w <= 0 or h <= 0:
        raise InputError(f"empty image: {path}")
    if w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
        raise InputError(
            f"image too large: {w}x{h} (limits: {MAX_SIDE} px per side, {MAX_PIXELS // 1_000_000} Mpx)"
        )
    return w, h


def load_rgb(path: str) -> np.ndarray:
    """uint8 HxWx3 RGB. Raises InputError on anything that is not a sane image."""
    probe(path)
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            arr = np.asarray(im, dtype=np.uint8).copy()
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"could not decode image {path}: {e}") from None
    if min(arr.shape[:2]) < 32:
        raise InputError(f"image too small: {arr.shape[1]}x{arr.shape[0]}")
    return arr


def save_rgb(path: str, img: np.ndarray, quality: int = 92) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    im = Image.fromarray(to_u8(img))
    if path.lower().endswith((".jpg", ".jpeg")):
        im.save(path, quality=quality)
    else:
        im.save(path)


def to_u8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_f32(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    return img.astype(np.float32)
