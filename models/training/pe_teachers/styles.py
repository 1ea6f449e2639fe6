"""The 2D editing teachers: a bank of named, deterministic portrait stylizers.

Every stylizer is a pure function of (image, face-region masks): numpy/OpenCV image operations,
face-aware where it matters (skin, eyes, irises, lips, hair, body, background come from the
MediaPipe face mesh + selfie matte, see face.region_masks). Any texture (paper, canvas, marble
veins, grain) comes from a generator seeded by the style's name, so a style gives the same
output for the same input on every run. `strength` in [0, 1] blends the input with the full
effect; strength 0 returns the input unchanged.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from .imageio import to_f32, to_u8

cv2.setNumThreads(1)


# ----------------------------------------------------------------------------- helpers
def lum(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] * 0.299 + img[..., 1] * 0.587 + img[..., 2] * 0.114).astype(np.float32)


def gray3(x: np.ndarray) -> np.ndarray:
    return np.repeat(x[..., None], 3, axis=2)


def m3(mask: np.ndarray) -> np.ndarray:
    return mask[..., None].astype(np.float32)


def blend(a, b, m):
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if np.ndim(m) == 2 and max(a.ndim, b.ndim) == 3:
        m = m3(m)
    return a * (1.0 - m) + b * m


def palette(t: np.ndarray, stops) -> np.ndarray:
    """Map t in [0,1] through colour stops [(pos, (r,g,b)), ...]."""
    pos = np.array([s[0] for s in stops], np.float32)
    cols = np.array([s[1] for s in stops], np.float32)
    t = np.clip(t, 0, 1)
    return np.stack([np.interp(t, pos, cols[:, c]) for c in range(3)], axis=-1).astype(np.float32)


def bilateral(img: np.ndarray, s: float, sigma_color: float = 0.08, sigma_space: float = 4.0, n: int = 1):
    out = img
    for _ in range(n):
        out = cv2.bilateralFilter(out, d=-1, sigmaColor=sigma_color, sigmaSpace=sigma_space * s)
    return out


def gblur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), max(sigma, 0.3))


def saturate(img: np.ndarray, k: float) -> np.ndarray:
    g = gray3(lum(img))
    return np.clip(g + (img - g) * k, 0, 1)


def seed_of(name: str) -> int:
    return zlib.crc32(name.encode())


def fractal_noise(h: int, w: int, seed: int, base: int = 4, octaves: int = 4) -> np.ndarray:
    """Deterministic value noise in [0,1]."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w), np.float32)
    amp, tot = 1.0, 0.0
    for o in range(octaves):
        n = base * (2**o)
        grid = rng.random((n + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        tot += amp
        amp *= 0.5
    out /= tot
    out = (out - out.min()) / max(float(np.ptp(out)), 1e-6)
    return out


def grain(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((h, w)).astype(np.float32)


def edges_dog(img: np.ndarray, s: float, sigma: float = 1.0, k: float = 1.6, thresh: float = 0.012) -> np.ndarray:
    """Difference-of-Gaussians line map in [0,1] (1 = ink)."""
    g = lum(img)
    d = gblur(g, sigma * s) - gblur(g, sigma * k * s)
    return np.clip((-d - thresh) / (thresh * 2.0), 0, 1)


def canny(img: np.ndarray, lo: int = 40, hi: int = 110) -> np.ndarray:
    g = to_u8(lum(img))
    return (cv2.Canny(g, lo, hi) > 0).astype(np.float32)


def vignette(h: int, w: int, k: float = 0.5) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / np.sqrt(2)
    return np.clip(1 - k * r**2, 0, 1)


def local_contrast(x: np.ndarray, s: float, sigma: float = 8.0, k: float = 1.5) -> np.ndarray:
    b = gblur(x, sigma * s)
    return np.clip(b + (x - b) * k, 0, 1)


def normalize(x: np.ndarray, m: np.ndarray | None = None, lo=2, hi=98) -> np.ndarray:
    vals = x[m > 0.5] if m is not None and (m > 0.5).sum() > 50 else x.reshape(-1)
    a, b = np.percentile(vals, [lo, hi])
    return np.clip((x - a) / max(b - a, 1e-3), 0, 1)


def default_masks(h: int, w: int) -> dict:
    """Masks when no face analysis is available: everything is 'person', no facial parts."""
    one, zero = np.ones((h, w), np.float32), np.zeros((h, w), np.float32)
    return dict(face=zero, skin=zero, eyes=zero, iris=zero, sclera=zero, lips=zero, brows=zero, hair=zero,
                body=one, person=one, background=zero)


def _shade(img, M, s):
    """Smoothed, contrast-normalised luminance of the person: the 'sculpted' shape."""
    base = bilateral(img, s, 0.1, 3.0, n=2)
    L = lum(base)
    L = normalize(L, M["person"], 1, 99)
    return local_contrast(L, s, 10, 1.4)


def _spec(L, p=6.0):
    return np.clip(L, 0, 1) ** p


# ----------------------------------------------------------------------------- styles
def golden_statue(img, M, s):
    L = _shade(img, M, s)
    # blank statue eyes: fill the eyes with the surrounding skin shade
    eyes = M["eyes"]
    L = blend(L, gblur(L, 6 * s), np.clip(eyes * 1.5, 0, 1))
    gold = palette(L, [(0, (0.16, 0.09, 0.01)), (0.35, (0.52, 0.33, 0.06)), (0.65, (0.86, 0.66, 0.20)),
                       (0.88, (1.0, 0.86, 0.42)), (1.0, (1.0, 0.98, 0.82))])
    gold = np.clip(gold + gray3(_spec(L, 8) * 0.35), 0, 1)
    bg = gray3(lum(img)) * 0.35 + np.array([0.05, 0.04, 0.02], np.float32)
    return blend(bg, gold, M["person"])


def bronze(img, M, s):
    L = _shade(img, M, s)
    L = blend(L, gblur(L, 6 * s), np.clip(M["eyes"] * 1.5, 0, 1))
    br = palette(L, [(0, (0.10, 0.05, 0.02)), (0.4, (0.42, 0.23, 0.10)), (0.72, (0.72, 0.45, 0.22)),
                     (1.0, (0.98, 0.80, 0.58))])
    h, w = L.shape
    n = fractal_noise(h, w, seed_of("bronze"), base=6)
    crev = np.clip((gblur(L, 3 * s) - L) * 8 + (0.35 - L) * 2, 0, 1)
    pat = np.clip(crev * (0.4 + 0.8 * n), 0, 1) * 0.85
    br = blend(br, palette(L, [(0, (0.12, 0.30, 0.25)), (1, (0.45, 0.75, 0.62))]), pat)
    br = np.clip(br + gray3(_spec(L, 10) * 0.25), 0, 1)
    bg = gray3(gblur(lum(img), 2 * s)) * 0.45 + np.array([0.06, 0.05, 0.04], np.float32)
    return blend(bg, br, M["person"])


def marble(img, M, s):
    L = _shade(img, M, s)
    L = blend(L, gblur(L, 8 * s), np.clip(M["eyes"] * 1.6 + M["brows"] * 0.8, 0, 1))  # blank eyes
    h, w = L.shape
    n = fractal_noise(h, w, seed_of("marble"), base=3, octaves=5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / max(h, w)
    v = np.abs(np.sin((xx * 1.2 + yy * 0.8 + n * 2.0) * np.pi * 2.0))
    veins = np.clip(1 - v / 0.035, 0, 1) * 0.22 + np.clip(1 - v / 0.2, 0, 1) * 0.05
    base = palette(0.25 + 0.75 * L, [(0, (0.30, 0.30, 0.32)), (0.6, (0.78, 0.77, 0.76)), (1, (0.98, 0.97, 0.95))])
    mar = np.clip(base - gray3(veins) * np.array([1.0, 1.0, 0.9], np.float32), 0, 1)
    bg = palette(gblur(lum(img), 3 * s), [(0, (0.05, 0.06, 0.09)), (1, (0.30, 0.33, 0.40))])
    return blend(bg, mar, M["person"])


def pencil_sketch(img, M, s):
    g = lum(img)
    inv = 1 - g
    b = gblur(inv, 6 * s)
    dodge = np.clip(g / np.maximum(1 - b, 1e-3), 0, 1)
    dodge = dodge**2.2
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    hatch = 0.5 + 0.5 * np.sin((xx + yy) * (np.pi / (2.2 * s)))
    dark = np.clip((0.5 - gblur(g, 2 * s)) * 2, 0, 1)
    sk = np.clip(dodge - dark * (1 - hatch) * 0.35, 0, 1)
    # fainter strokes on the background
    sk = blend(sk, 1 - (1 - sk) * 0.45, M["background"])
    paper = 0.94 + 0.04 * fractal_noise(h, w, seed_of("paper"), base=16, octaves=3)
    out = gray3(sk * paper) * np.array([0.98, 0.97, 0.93], np.float32)
    return out


def comic_ink(img, M, s):
    sm = bilateral(img, s, 0.12, 3.0, n=3)
    hsv = cv2.cvtColor(sm, cv2.COLOR_RGB2HSV)
    v = hsv[..., 2]
    hsv[..., 2] = np.clip(np.floor(v * 4) / 3.2 + 0.12, 0, 1)
    hsv[..., 1] = np.clip(np.floor(hsv[..., 1] * 4) / 3.0 * 1.25, 0, 1)
    flat = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    g8 = cv2.medianBlur(to_u8(lum(img)), 5)
    ink = cv2.adaptiveThreshold(g8, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 5)
    ink = (ink < 128).astype(np.float32)
    ink = np.maximum(ink, cv2.dilate(canny(sm, 60, 140), np.ones((2, 2), np.uint8)))
    out = flat * (1 - m3(ink * 0.95))
    return np.clip(out, 0, 1)


def oil_paint(img, M, s):
    u = to_u8(saturate(img, 1.35))
    op = to_f32(cv2.xphoto.oilPainting(u, max(3, int(round(6 * s))), 1))
    op = to_f32(cv2.edgePreservingFilter(to_u8(op), flags=cv2.RECURS_FILTER, sigma_s=20, sigma_r=0.3))
    h, w = op.shape[:2]
    n = fractal_noise(h, w, seed_of("canvas"), base=32, octaves=2)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 0.5 + 0.25 * np.sin(xx * np.pi / (1.5 * s)) + 0.25 * np.sin(yy * np.pi / (1.5 * s))
    tex = (n - 0.5) * 0.10 + (weave - 0.5) * 0.06
    # brush relief: emboss of the luminance
    L = lum(op)
    gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3)
    relief = np.clip((gx + gy) * 0.6, -0.12, 0.12)
    out = np.clip(op * 0.95 + gray3(tex + relief) + 0.02, 0, 1)
    warm = np.array([1.04, 1.0, 0.9], np.float32)
    return np.clip(out * warm, 0, 1)


def watercolour(img, M, s):
    st = to_f32(cv2.stylization(to_u8(img), sigma_s=40 * s, sigma_r=0.5))
    st = saturate(st, 1.15)
    st = 1 - (1 - st) * 0.78  # lighter, transparent washes
    h, w = st.shape[:2]
    gran = fractal_noise(h, w, seed_of("watercolour"), base=24, octaves=3)
    st = np.clip(st - gray3((gran - 0.5) * 0.10), 0, 1)
    # darker pigment at the edges of the washes
    b = gblur(st, 3 * s)
    rim = np.clip((b - st).sum(-1) * 2.5, 0, 0.35)
    st = np.clip(st - gray3(rim) * 0.6, 0, 1)
    paper = np.array([0.98, 0.97, 0.94], np.float32)
    bgw = np.clip(M["background"] * 0.75, 0, 1)
    bleed = gblur(bgw, 8 * s)
    out = blend(st, np.ones_like(st) * paper, bleed)
    lines = edges_dog(img, s, 1.0, 1.6, 0.02) * 0.25
    return np.clip(out - gray3(lines) * M["person"][..., None], 0, 1)


def pop_art(img, M, s):
    sm = bilateral(img, s, 0.15, 3.0, n=2)
    L = normalize(lum(sm), M["person"], 3, 97)
    h, w = L.shape
    tone = np.digitize(L, [0.30, 0.62]).astype(np.float32)  # 0 shadow, 1 mid, 2 light
    skin = palette(tone / 2, [(0, (0.55, 0.05, 0.35)), (0.5, (1.0, 0.35, 0.60)), (1, (1.0, 0.80, 0.85))])
    hair = palette(tone / 2, [(0, (0.05, 0.05, 0.20)), (0.5, (1.0, 0.85, 0.05)), (1, (1.0, 0.98, 0.55))])
    body = palette(tone / 2, [(0, (0.05, 0.05, 0.25)), (0.5, (0.10, 0.45, 1.0)), (1, (0.60, 0.85, 1.0))])
    out = body
    out = blend(out, hair, np.clip(M["hair"] + M["brows"], 0, 1))
    out = blend(out, skin, np.clip(M["face"] - M["brows"], 0, 1))
    out = blend(out, np.array([0.95, 0.05, 0.15], np.float32) * np.ones_like(out), M["lips"])
    out = blend(out, gray3((tone > 0.5).astype(np.float32) * 0.95), M["eyes"])
    bg = np.ones_like(out) * np.array([0.05, 0.85, 0.85], np.float32)
    # Ben-Day dots on the background and on mid tones
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p = 6.0 * s
    dots = (((xx % p) - p / 2) ** 2 + (((yy + (xx // p % 2) * p / 2) % p) - p / 2) ** 2) < (p * 0.3) ** 2
    bg = blend(bg, np.ones_like(bg) * np.array([0.15, 0.55, 1.0], np.float32), dots.astype(np.float32))
    out = blend(bg, out, M["person"])
    out = blend(out, out * 0.75, (dots * (tone == 1) * M["person"]).astype(np.float32))
    ink = cv2.dilate(canny(sm, 50, 120), np.ones((2, 2), np.uint8))
    return np.clip(out * (1 - m3(ink)), 0, 1)


def neon(img, M, s):
    sm = bilateral(img, s, 0.1, 3.0, n=2)
    e = np.maximum(canny(sm, 30, 90), edges_dog(sm, s, 1.0, 1.6, 0.01))
    person_edge = np.abs(cv2.Laplacian(gblur(M["person"], 1.0 * s), cv2.CV_32F)) * 3
    e = np.clip(np.maximum(e * (0.3 + 0.7 * M["person"]), np.clip(person_edge, 0, 1)), 0, 1)
    h, w = e.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (yy / h * 0.7 + xx / w * 0.3)
    col = palette(t, [(0, (1.0, 0.1, 0.9)), (0.5, (0.3, 0.3, 1.0)), (1, (0.0, 1.0, 0.95))])
    glow = gblur(e, 2.5 * s) * 2.2 + gblur(e, 7 * s) * 2.5
    base = img * 0.12 * m3(M["person"]) + np.array([0.02, 0.0, 0.06], np.float32)
    out = base + col * m3(np.clip(glow, 0, 1.5)) + gray3(e) * 0.55
    return np.clip(out, 0, 1)


def zombie(img, M, s):
    L = lum(img)
    Ls = gblur(L, 0.8 * s)
    h, w = L.shape
    n = fractal_noise(h, w, seed_of("zombie"), base=8, octaves=4)
    rot = np.clip((n - 0.55) * 3, 0, 1)
    skin_col = palette(Ls, [(0, (0.08, 0.10, 0.06)), (0.5, (0.42, 0.50, 0.36)), (1, (0.80, 0.86, 0.70))])
    skin_col = blend(skin_col, skin_col * np.array([0.55, 0.35, 0.35], np.float32), rot * 0.8)
    out = blend(img, skin_col, np.clip(M["skin"] + M["body"] * 0.6 + M["brows"], 0, 1))
    # sunken dark-purple eye sockets
    eyes = M["eyes"]
    sock = np.clip(gblur(cv2.dilate(eyes, np.ones((int(9 * s) | 1,) * 2, np.uint8)), 5 * s) * 1.6 - eyes, 0, 1)
    out = blend(out, out * np.array([0.35, 0.22, 0.35], np.float32), sock * 0.9)
    # bloodshot yellow sclera, milky irises
    out = blend(out, palette(L, [(0, (0.3, 0.2, 0.05)), (1, (0.95, 0.85, 0.45))]), M["sclera"] * 0.9)
    out = blend(out, np.ones_like(out) * np.array([0.85, 0.88, 0.85], np.float32), M["iris"] * 0.9)
    out = blend(out, palette(L, [(0, (0.10, 0.02, 0.08)), (1, (0.45, 0.25, 0.38))]), M["lips"])
    out = blend(out, gray3(L) * np.array([0.8, 0.85, 0.75], np.float32), M["hair"] * 0.8)
    bg = gray3(gblur(L, 2 * s)) * np.array([0.35, 0.45, 0.30], np.float32)
    out = blend(bg, out, M["person"])
    out = np.clip((out - 0.5) * 1.2 + 0.45, 0, 1) * m3(vignette(h, w, 0.7))
    return np.clip(out, 0, 1)


def thermal(img, M, s):
    L = lum(img)
    T = 0.12 + 0.10 * gblur(L, 6 * s)
    T = T + M["person"] * 0.38 + M["face"] * 0.22 + M["skin"] * 0.08
    T = T - M["hair"] * 0.18 + M["eyes"] * 0.10 + M["lips"] * 0.06
    T = T + (gblur(L, 3 * s) - 0.5) * 0.12 * M["face"]
    T = gblur(T, 3.0 * s)
    Ld = lum(bilateral(img, s, 0.1, 2.0))
    T = T + (Ld - gblur(Ld, 4 * s)) * 0.6 * M["person"]  # facial features stay readable
    return palette(T, [(0, (0.0, 0.0, 0.10)), (0.2, (0.15, 0.0, 0.45)), (0.4, (0.55, 0.0, 0.55)),
                       (0.6, (0.90, 0.25, 0.05)), (0.78, (1.0, 0.65, 0.0)), (0.92, (1.0, 0.95, 0.35)),
                       (1, (1.0, 1.0, 0.95))])


def sepia(img, M, s):
    k = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    sp = np.clip(img @ k.T, 0, 1)
    sp = sp * 0.82 + 0.10  # faded blacks
    h, w = sp.shape[:2]
    sp = sp * m3(vignette(h, w, 0.6))
    g = grain(h, w, seed_of("sepia")) * 0.03
    sp = gblur(sp, 0.6 * s) + gray3(g)
    return np.clip(sp * np.array([1.0, 0.93, 0.80], np.float32) + np.array([0.04, 0.03, 0.0], np.float32), 0, 1)


def ice(img, M, s):
    L = _shade(img, M, s)
    h, w = L.shape
    n = fractal_noise(h, w, seed_of("ice"), base=5, octaves=5)
    cr = np.abs(np.sin((n * 6.0) * np.pi))
    cracks = np.clip(1 - cr / 0.05, 0, 1)
    icec = palette(L, [(0, (0.05, 0.18, 0.35)), (0.45, (0.35, 0.65, 0.88)), (0.8, (0.75, 0.92, 1.0)),
                       (1, (0.97, 1.0, 1.0))])
    icec = np.clip(icec + gray3(cracks) * 0.45 + gray3(_spec(L, 5)) * 0.3, 0, 1)
    frost = gblur(n, 1.0) * 0.15
    icec = np.clip(icec + gray3(frost) - 0.05, 0, 1)
    bg = palette(gblur(lum(img), 4 * s), [(0, (0.0, 0.03, 0.10)), (1, (0.20, 0.35, 0.55))])
    return blend(bg, icec, M["person"])


def blue_avatar(img, M, s):
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    L = lum(img)
    h, w = L.shape
    skin = palette(normalize(L, M["skin"]), [(0, (0.02, 0.12, 0.30)), (0.5, (0.15, 0.45, 0.80)),
                                                (1, (0.60, 0.88, 1.0))])
    n = fractal_noise(h, w, seed_of("avatar"), base=6, octaves=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    stripes = np.clip((np.sin((xx * 0.5 + yy + n * 60 * s) * np.pi / (9 * s)) - 0.75) * 3, 0, 1) * 0.5
    skin = skin * m3(1 - stripes * 0.6)
    area = np.clip(M["skin"] + M["body"] * 0.5 + M["brows"] * 0.5, 0, 1)
    out = blend(img, skin, area)
    out = blend(out, palette(L, [(0, (0.25, 0.18, 0.0)), (1, (1.0, 0.85, 0.2))]), M["iris"])
    out = blend(out, out * np.array([0.3, 0.5, 0.9], np.float32), M["lips"] * 0.8)
    out = blend(out, gray3(L) * np.array([0.25, 0.25, 0.35], np.float32), M["hair"] * 0.8)
    del hsv
    return np.clip(out, 0, 1)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Style:
    name: str
    title: str
    fn: Callable
    train_prompts: tuple
    test_prompts: tuple


_P = {
    "golden_statue": (
        "golden statue",
        ["a golden statue", "turn the person into a gold statue", "make it a statue made of gold",
         "gilded sculpture of a face", "shiny gold metal bust", "solid gold figure", "golden idol",
         "covered in gold leaf"],
        ["a statue of pure gold", "gold sculpture", "make him look like a golden trophy", "gilded head",
         "cast in shining gold"],
    ),
    "bronze": (
        "bronze sculpture",
        ["a bronze sculpture", "bronze statue with green patina", "cast in bronze", "an old bronze bust",
         "weathered copper statue", "verdigris bronze monument", "bronze figure in a park", "antique bronze casting"],
        ["turn her into bronze", "a patinated bronze head", "a copper and bronze statue",
         "bronze memorial sculpture", "aged bronze with verdigris"],
    ),
    "marble": (
        "marble statue",
        ["a marble statue", "white marble sculpture", "carved from marble", "greek marble bust",
         "classical stone sculpture", "roman marble statue", "a statue chiselled in white stone",
         "veined marble carving"],
        ["an ancient greek statue", "make it a white stone bust", "michelangelo marble sculpture",
         "a marble figure in a museum", "carved out of marble stone"],
    ),
    "pencil_sketch": (
        "pencil sketch",
        ["a pencil sketch", "graphite drawing", "hand drawn pencil portrait", "sketch with a pencil on paper",
         "black and white pencil drawing", "rough graphite sketch", "shaded pencil illustration",
         "drawn in pencil"],
        ["pencil drawing of a face", "a sketchbook portrait", "graphite on white paper", "make it a sketch",
         "an artist's pencil study"],
    ),
    "comic_ink": (
        "comic book ink",
        ["a comic book drawing", "comic ink illustration", "graphic novel style", "inked comic art",
         "cartoon with bold black outlines", "superhero comic panel", "cel shaded cartoon", "manga ink drawing"],
        ["make it look like a comic", "a cartoon character", "bold inked outlines like a comic strip",
         "graphic novel illustration", "comic style portrait"],
    ),
    "oil_paint": (
        "oil painting",
        ["an oil painting", "oil on canvas portrait", "painted with thick brush strokes", "impasto oil paint",
         "classical painted portrait", "renaissance oil painting", "van gogh style painting",
         "rembrandt style portrait painting"],
        ["a painting on canvas", "make it an oil painting", "thick oil paint strokes", "an old master painting",
         "painted portrait in oils"],
    ),
    "watercolour": (
        "watercolour",
        ["a watercolor painting", "watercolour portrait", "soft watercolor washes", "aquarelle painting",
         "painted with watercolours on paper", "loose watercolor illustration", "wet on wet watercolour",
         "pastel watercolor art"],
        ["make it watercolor", "a delicate watercolour", "watercolor sketch of a face",
         "aquarelle illustration on paper", "soft washes of watercolour paint"],
    ),
    "pop_art": (
        "pop art",
        ["pop art", "andy warhol style", "roy lichtenstein pop art", "bright pop art poster",
         "screen print with flat bold colours", "sixties pop art portrait", "halftone dots pop art",
         "colorful warhol silkscreen"],
        ["a warhol portrait", "make it pop art", "retro pop art with ben-day dots", "pop art print",
         "lichtenstein comic pop style"],
    ),
    "neon": (
        "neon glow",
        ["neon lights", "glowing neon outline", "cyberpunk neon glow", "synthwave neon portrait",
         "face drawn in neon tubes", "electric glowing lines in the dark", "neon sign style", "tron style glow"],
        ["glowing neon face", "a neon sign of a person", "cyberpunk glowing lines", "bright neon outline at night",
         "retrowave neon"],
    ),
    "zombie": (
        "zombie",
        ["a zombie", "turn into a zombie", "undead walking dead", "rotting zombie face", "scary zombie makeup",
         "living dead horror", "decaying corpse face", "halloween zombie"],
        ["make me a zombie", "an undead ghoul", "zombie apocalypse survivor turned", "rotten undead skin",
         "horror movie zombie"],
    ),
    "thermal": (
        "thermal camera",
        ["thermal camera", "infrared heat map", "thermal imaging", "heat vision", "predator thermal view",
         "FLIR infrared image", "thermographic camera shot", "temperature heatmap of a face"],
        ["seen through a thermal camera", "infrared thermal vision", "a heat signature image",
         "thermal scan of a person", "night vision heat camera"],
    ),
    "sepia": (
        "sepia photo",
        ["a sepia photograph", "old vintage photo", "antique sepia tone", "nineteenth century photograph",
         "faded brown old photo", "victorian era portrait photo", "aged sepia picture", "old western daguerreotype"],
        ["make it look like an old photo", "a vintage sepia portrait", "1900s photograph",
         "brownish antique picture", "an old faded photograph"],
    ),
    "ice": (
        "ice sculpture",
        ["an ice sculpture", "frozen in ice", "carved from ice", "a statue made of ice", "frozen crystal face",
         "frosty ice figure", "glacier ice carving", "icy blue frozen statue"],
        ["turn into ice", "a frozen ice statue", "made of frozen crystal", "an ice carving of a head",
         "frozen solid"],
    ),
    "blue_avatar": (
        "blue avatar",
        ["blue skinned alien", "avatar na'vi", "blue skin with stripes", "pandora alien avatar",
         "a blue humanoid alien", "navi from avatar", "turn the skin blue", "blue alien with golden eyes"],
        ["make me an avatar", "blue-skinned na'vi", "a blue alien from pandora", "give her blue skin",
         "avatar movie character"],
    ),
}

_FN = {
    "golden_statue": golden_statue, "bronze": bronze, "marble": marble, "pencil_sketch": pencil_sketch,
    "comic_ink": comic_ink, "oil_paint": oil_paint, "watercolour": watercolour, "pop_art": pop_art,
    "neon": neon, "zombie": zombie, "thermal": thermal, "sepia": sepia, "ice": ice, "blue_avatar": blue_avatar,
}

STYLES: dict[str, Style] = {
    k: Style(k, v[0], _FN[k], tuple(v[1]), tuple(v[2])) for k, v in _P.items()
}
NAMES = list(STYLES)


def apply(img: np.ndarray, style: str, strength: float = 1.0, masks: dict | None = None) -> np.ndarray:
    """Stylize an RGB image (uint8 or float [0,1]); returns the same dtype.

    masks: face.region_masks(...) for the image (aligned crop); None = no face-aware parts.
    """
    if style not in STYLES:
        raise KeyError(f"unknown style {style!r}; known: {', '.join(NAMES)}")
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength == 0.0:
        return img.copy()
    x = to_f32(img)
    h, w = x.shape[:2]
    if masks is None:
        masks = default_masks(h, w)
    s = min(h, w) / 256.0
    y = STYLES[style].fn(np.ascontiguousarray(x), masks, s).astype(np.float32)
    out = x * (1.0 - strength) + y * strength if strength < 1.0 else y
    return to_u8(out) if img.dtype == np.uint8 else np.clip(out, 0, 1)
