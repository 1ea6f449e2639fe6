"""Build the teachers' training cache.

python -m pe_teachers.build_dataset [--src DIR|default] [--out CACHE_DIR] [--frame-step N]
       [--max-items N] [--styles a,b,...] [--no-views] [--include-held-out]

Sources: a folder of images and/or videos (recursively). `default` = ../shared/testdata beside the
repository: the portraits in faces/ and every frame of the clips in video/ (subsample with
--frame-step). Held-out faces (used for the style references and for evaluation) are skipped
unless --include-held-out: faces/ffhq-9.png, faces/ffhq-10.png and video/talking-d12.mp4.

Per item, in OUT/<source-id>/:
  crop.png         aligned 256x256 portrait (FFHQ-style framing)
  matte.png        person matte (selfie segmentation), 8-bit
  mesh.npy         (478, 3) float32 face mesh in crop pixels (z: same scale, smaller = nearer)
  camera.json      yaw/pitch (deg, EG3D convention) and the EG3D 25-d label c of the source view
  depth.npy        float16 source-view depth (distance along the camera axis, world units)
  views/y{Y}_p{P}.png + .depth.npy (float16) + .cov.png: the 3D teacher at the yaw/pitch grid
  styles/<style>.png  the 2D teachers' edits at the source view (strength 1)
  done.json        written last: an item with done.json is skipped (resumable)
Deterministic: the same inputs give byte-identical files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import cv2
import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEFAULT_TESTDATA = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "testdata"))
DEFAULT_OUT = os.path.join(REPO_ROOT, "models", "training", "cache", "teachers")
HELD_OUT = ("ffhq-9.png", "ffhq-10.png", "talking-d12.mp4")
IMG_EXT = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VID_EXT = (".mp4", ".webm", ".mov", ".mkv", ".avi")


def list_sources(src: str, frame_step: int, include_held_out: bool):
    """[(item_id, kind, path, frame_index)] in a deterministic order."""
    items = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            if not include_held_out and f in HELD_OUT:
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, src)
            base = rel.replace(os.sep, "__").rsplit(".", 1)[0]
            if f.lower().endswith(IMG_EXT):
                items.append((base, "image", path, 0))
            elif f.lower().endswith(VID_EXT):
                cap = cv2.VideoCapture(path)
                n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                cap.release()
                for k in range(0, max(n, 0), max(1, frame_step)):
                    items.append((f"{base}__f{k:05d}", "video", path, k))
    return items


class _Frames:
    """Sequential frame reader (seeking in mp4 is slow and not always exact)."""

    def __init__(self):
        self.path, self.cap, self.pos = None, None, 0

    def get(self, path, k):
        if path != self.path or k < self.pos:
            if self.cap is not None:
                self.cap.release()
            self.cap, self.path, self.pos = cv2.VideoCapture(path), path, 0
        fr = None
        while self.pos <= k:
            ok, fr = self.cap.read()
            self.pos += 1
            if not ok:
                return None
        return cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)


def build_item(img, out_dir, style_names, views=True):
    from . import face, lift, styles
    from .imageio import save_rgb

    p = face.analyse(img)
    os.makedirs(out_dir, exist_ok=True)
    save_rgb(os.path.join(out_dir, "crop.png"), p.crop)
    cv2.imwrite(os.path.join(out_dir, "matte.png"), (np.clip(p.matte, 0, 1) * 255 + 0.5).astype(np.uint8))
    np.save(os.path.join(out_dir, "mesh.npy"), p.lm.astype(np.float32))
    geo = lift.source_geometry(p)
    np.save(os.path.join(out_dir, "depth.npy"), geo.depth.astype(np.float16))
    with open(os.path.join(out_dir, "camera.json"), "w") as fh:
        json.dump({"yaw": round(p.yaw, 4), "pitch": round(p.pitch, 4),
                   "c": [round(float(x), 6) for x in p.camera_label()],
                   "align_matrix": [[round(float(x), 6) for x in r] for r in p.M]}, fh)
    if views:
        vd = os.path.join(out_dir, "views")
        os.makedirs(vd, exist_ok=True)
        for y, pt in lift.VIEW_GRID:
            v = lift.render(p, y, pt, geo=geo)
            stem = os.path.join(vd, f"y{y:+d}_p{pt:+d}")
            save_rgb(stem + ".png", v.image)
            np.save(stem + ".depth.npy", v.depth.astype(np.float16))
            cv2.imwrite(stem + ".cov.png", v.coverage.astype(np.uint8) * 255)
    sd = os.path.join(out_dir, "styles")
    os.makedirs(sd, exist_ok=True)
    for n in style_names:
        save_rgb(os.path.join(sd, f"{n}.png"), styles.apply(p.crop, n, 1.0, p.masks))
    return p


def main(argv=None):
    from tqdm import tqdm

    from . import styles
    from .imageio import InputError

    ap = argparse.ArgumentParser(prog="python -m pe_teachers.build_dataset", description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="default", help="folder of images/videos, or 'default' (../shared/testdata)")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"cache folder (default {DEFAULT_OUT})")
    ap.add_argument("--frame-step", type=int, default=1, help="use every N-th video frame (default 1: all)")
    ap.add_argument("--max-items", type=int, default=0, help="stop after N items (0 = all)")
    ap.add_argument("--styles", default="all", help="comma-separated style ids or 'all'")
    ap.add_argument("--no-views", action="store_true", help="skip the 3D teacher's views")
    ap.add_argument("--include-held-out", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(a.threads)
    except Exception:
        pass
    cv2.setNumThreads(a.threads)
    src = DEFAULT_TESTDATA if a.src == "default" else a.src
    if not os.path.isdir(src):
        print(f"error: source folder not found: {src}", file=sys.stderr)
        return 2
    names = styles.NAMES if a.styles == "all" else [s.strip() for s in a.styles.split(",") if s.strip()]
    bad = [n for n in names if n not in styles.STYLES]
    if bad:
        print(f"error: unknown styles {bad}; known: {styles.NAMES}", file=sys.stderr)
        return 2
    items = list_sources(src, a.frame_step, a.include_held_out)
    if a.max_items:
        items = items[: a.max_items]
    os.makedirs(a.out, exist_ok=True)
    frames = _Frames()
    stats = {"done": 0, "skipped": 0, "no_face": 0}
    manifest = []
    for item_id, kind, path, k in tqdm(items, desc="teachers", unit="item"):
        od = os.path.join(a.out, item_id)
        if os.path.exists(os.path.join(od, "done.json")):
            stats["skipped"] += 1
            manifest.append(item_id)
            continue
        try:
            if kind == "image":
                from .imageio import load_rgb

                img = load_rgb(path)
            else:
                img = frames.get(path, k)
                if img is None:
                    continue
            build_item(img, od, names, views=not a.no_views)
        except InputError:
            stats["no_face"] += 1
            continue
        with open(os.path.join(od, "done.json"), "w") as fh:
            json.dump({"source": os.path.relpath(path, src), "frame": k, "styles": names,
                       "views": [] if a.no_views else [f"y{y:+d}_p{p:+d}" for y, p in __import__(
                           "pe_teachers.lift", fromlist=["VIEW_GRID"]).VIEW_GRID]}, fh)
        stats["done"] += 1
        manifest.append(item_id)
    with open(os.path.join(a.out, "manifest.json"), "w") as fh:
        json.dump({"src": os.path.abspath(src), "items": manifest,
                   "digest": hashlib.sha256("\n".join(manifest).encode()).hexdigest()}, fh, indent=0)
    print(f"built {stats['done']}, already done {stats['skipped']}, no face {stats['no_face']} -> {a.out}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
