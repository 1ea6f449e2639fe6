"""Training data from the teachers' cache (pe_teachers.build_dataset), packed into one .npz.

pack(cache_dir, out_npz) reads every finished item (done.json) and stores, per item:
  crop   (3,128,128) uint8   the aligned crop, downsampled from 256^2 (INTER_AREA)
  cam    (25,) float32       source-view EG3D label
  depth  (32,32) float16     source-view teacher depth (area-averaged)
  views  (V,3,128,128) uint8 the 3D teacher's views (V = 15: yaw -30..30 x pitch -20..20)
  vdepth (V,32,32) float16, vcov (V,32,32) uint8 (coverage: 255 = splatted, 0 = hole-filled)
  vcam   (V,25) float32
  styles (S,3,128,128) uint8 the 2D teachers' edits at the source view (S = 14, strength 1)
"""
from __future__ import annotations

import glob
import json
import os
import re

import cv2
import numpy as np

from pe_teachers import camera, styles

from .model import IMG, RENDER_RES

VIEW_RE = re.compile(r"y([+-]\d+)_p([+-]\d+)\.png$")


def _img(path, size=IMG):
    im = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if im.shape[0] != size:
        im = cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA)
    return im.transpose(2, 0, 1)


def _small(a, size=RENDER_RES):
    return cv2.resize(a.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)


def load_item(d: str) -> dict:
    cam = json.load(open(os.path.join(d, "camera.json")))
    views = sorted(glob.glob(os.path.join(d, "views", "y*_p*.png")))
    views = [v for v in views if VIEW_RE.search(v) and not v.endswith(".cov.png")]
    vimg, vdep, vcov, vcam = [], [], [], []
    for v in views:
        y, p = (float(g) for g in VIEW_RE.search(v).groups())
        vimg.append(_img(v))
        vdep.append(_small(np.load(v[:-4] + ".depth.npy")).astype(np.float16))
        cov = cv2.imread(v[:-4] + ".cov.png", cv2.IMREAD_GRAYSCALE)
        vcov.append(_small(cov).astype(np.uint8))
        vcam.append(camera.label(y, p))
    return {
        "crop": _img(os.path.join(d, "crop.png")),
        "cam": np.asarray(cam["c"], np.float32),
        "depth": _small(np.load(os.path.join(d, "depth.npy"))).astype(np.float16),
        "views": np.stack(vimg), "vdepth": np.stack(vdep), "vcov": np.stack(vcov),
        "vcam": np.stack(vcam).astype(np.float32),
        "styles": np.stack([_img(os.path.join(d, "styles", f"{s}.png")) for s in styles.NAMES]),
    }


def list_items(cache_dir: str) -> list[str]:
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(cache_dir, "*", "done.json")))


def pack(cache_dir: str, out_npz: str, exclude=("ffhq-9", "ffhq-10", "talking-d12")) -> int:
    from tqdm import tqdm

    dirs = [d for d in list_items(cache_dir) if not any(e in os.path.basename(d) for e in exclude)]
    items = [load_item(d) for d in tqdm(dirs, desc="pack")]
    out = {k: np.stack([it[k] for it in items]) for k in items[0]}
    out["ids"] = np.array([os.path.basename(d) for d in dirs])
    np.savez(out_npz, **out)
    return len(items)


class Packed:
    """The packed arrays, loaded in memory, with tensor helpers for batches."""

    def __init__(self, npz: str):
        z = np.load(npz)
        self.a = {k: z[k] for k in z.files}
        self.n = len(self.a["ids"])

    def __len__(self):
        return self.n
