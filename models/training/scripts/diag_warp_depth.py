"""Diagnostic for issue 5's consistency gap: how much of it is the depth the detail warp uses?

python scripts/diag_warp_depth.py [--assets ../assets/editor] [--faces 4]

The editor's novel views warp the source image's detail with the renderer's own 32^2 depth
(stages/finish.onnx takes `depth` as an input). This runs the shipped stages on the held-out
faces and styles of pe_editor.evaluate and measures the +-20 deg identity consistency three ways:
  own       the editor as shipped (its own depth)
  teacher   the 3D teacher's depth at the target view (lift.render, area-resized to 32^2), same
            features, same finish stage: what an exact 32^2 depth would give
  flat      a constant depth (the median of its own): what no depth information gives
If `teacher` is well above `own`, a finer/better depth for the warp is worth training for.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pe_editor.evaluate import Bank, held_out_faces, to_img, to_in  # noqa: E402
from pe_editor.export import DEFAULT_OUT, ort_session  # noqa: E402
from pe_teachers import camera, face, identity, lift, styles  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=DEFAULT_OUT)
    ap.add_argument("--faces", type=int, default=4)
    args = ap.parse_args(argv)
    st = {s: ort_session(os.path.join(args.assets, "stages", f"{s}.onnx")) for s in ("encode", "render", "finish")}
    bank = Bank(args.assets)
    res = {"own": [], "teacher": [], "flat": []}
    for fi, (name, img) in enumerate(held_out_faces()[:args.faces]):
        p = face.analyse(img)
        if p is None:
            continue
        geo = lift.source_geometry(p)
        wl = lift.landmarks_world(p, geo)
        src = camera.label(p.yaw, p.pitch)[None].astype(np.float32)
        pts = {}
        for y in (-20, 0, 20):
            px, py, _ = lift.project(wl[:468], camera.cam2world(y, p.pitch), 256)
            pts[y] = np.stack([px, py], 1)
        x = to_in(p.crop)
        tdepth = {y: cv2.resize(lift.render(p, y, p.pitch, geo=geo).depth, (32, 32), interpolation=cv2.INTER_AREA)[None, None].astype(np.float32)
                  for y in (-20, 20)}
        for s in styles.NAMES:
            tok = bank.tok[(s, styles.STYLES[s].test_prompts[fi % 5])]
            (planes,) = st["encode"].run(None, {"image": x, "src_cam": src, "tokens": tok, "norm": bank.norm})
            emb = {k: {} for k in res}
            for y in (-20, 0, 20):
                tgt = camera.label(y, p.pitch)[None].astype(np.float32)
                feat, depth = st["render"].run(None, {"planes": planes, "tgt_cam": tgt})
                variants = {"own": depth, "teacher": tdepth.get(y, depth), "flat": np.full_like(depth, np.median(depth))}
                for k, d in variants.items():
                    (rgb,) = st["finish"].run(None, {"image": x, "src_cam": src, "tgt_cam": tgt, "feat": feat, "depth": d})
                    emb[k][y] = identity.embed(to_img(rgb), pts[y])
            for k in res:
                e = emb[k]
                res[k].append(np.mean([identity.cosine(e[0], e[-20]), identity.cosine(e[0], e[20])]))
        print(f"{name}: done", {k: round(float(np.mean(v)), 4) for k, v in res.items()}, flush=True)
    print(json.dumps({k: round(float(np.mean(v)), 4) for k, v in res.items()}))


if __name__ == "__main__":
    main()
