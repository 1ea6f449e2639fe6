"""The baseline 'teacher' engine: 2D stylizer at the source view, then the mesh lift.

This is the paper's "IP2P + Live3D" baseline row with our teachers: edit the aligned source
crop with the style chosen by the prompt, then re-render it at the requested view.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import face, lift, styles
from .imageio import InputError


def choose_style(prompt: str | None = None, ref: np.ndarray | None = None) -> tuple[str, str]:
    """(style id, how it was chosen)."""
    if ref is not None:
        from .prompts import image_selector

        try:
            rp = face.analyse(ref)
            ref_img = rp.crop  # compare aligned crops, like the references
        except InputError:
            ref_img = cv2.resize(ref, (256, 256), interpolation=cv2.INTER_AREA)
        name, d = image_selector().select(ref_img)
        return name, f"image prompt -> {name} (feature distance {d:.2f})"
    if prompt is None or not prompt.strip():
        raise InputError("give a text prompt (--prompt) or a reference image (--ref)")
    from .prompts import text_selector

    name, sc = text_selector().select(prompt)
    return name, f"text prompt {prompt!r} -> {name} (similarity {sc:.2f})"


def paste_back(img: np.ndarray, p: face.Portrait, edited_crop: np.ndarray) -> np.ndarray:
    """Composite the edited aligned crop into the source frame with a feathered person matte."""
    H, W = img.shape[:2]
    size = p.size
    Minv = cv2.invertAffineTransform(p.M)
    warped = cv2.warpAffine(edited_crop, Minv, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    m = np.maximum(p.matte, p.masks.get("face", 0) if p.masks else 0).astype(np.float32)
    # fade out towards the crop border so no square seam shows
    e = np.ones((size, size), np.float32)
    b = max(2, size // 32)
    e[:b, :] = e[-b:, :] = 0
    e[:, :b] = e[:, -b:] = 0
    e = cv2.GaussianBlur(e, (0, 0), b)
    m = cv2.GaussianBlur(m, (0, 0), size / 128) * e
    mw = cv2.warpAffine(m, Minv, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = img.astype(np.float32) * (1 - mw[..., None]) + warped.astype(np.float32) * mw[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def edit(img: np.ndarray, style: str, strength: float = 1.0, yaw: float | None = None,
         pitch: float | None = None, out_size: int | None = None) -> tuple[np.ndarray, dict]:
    p = face.analyse(img)
    edited = styles.apply(p.crop, style, strength, p.masks)
    info = {"style": style, "source_yaw": round(p.yaw, 2), "source_pitch": round(p.pitch, 2)}
    if yaw is None and pitch is None:
        info["view"] = "source"
        return paste_back(img, p, edited), info
    y = p.yaw if yaw is None else float(yaw)
    pt = p.pitch if pitch is None else float(pitch)
    v = lift.render(p, y, pt, image=edited)
    out = v.image
    if out_size and out_size != out.shape[0]:
        out = cv2.resize(out, (out_size, out_size), interpolation=cv2.INTER_CUBIC)
    info.update(view="novel", yaw=y, pitch=pt, coverage=round(float(v.coverage.mean()), 4))
    return out, info
