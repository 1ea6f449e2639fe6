"""Diagnostic for issue 5's consistency: how much do the novel views' method and depth matter?

python scripts/diag_warp_depth.py [--assets ../assets/editor] [--faces 4]

Runs the shipped stages on the held-out faces and styles of pe_editor.evaluate and measures the
+-20 deg identity consistency of five ways to make the novel views:
  render/own       the paper's way, what shipped until session 14: the triplane rendered at the
                   target view, the source's detail warped in with the render's own 32^2 depth
  render/teacher   the same with the 3D teacher's depth at the target view (area-resized to 32^2)
  lift/triplane    the source-view edit re-projected (stages/lift.onnx) with the triplane's 16^2 depth
  lift/mesh        the same where the face mesh covers with its depth (mesh_depth.py): as shipped
  lift/teacher     the same with the teacher's depth everywhere
(session 13 found render/own 0.9753, render/teacher 0.9789; session 14 lift/mesh 0.9844, the
teacher 0.9809.)
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
import torch  # noqa: E402

from pe_editor.export import DEFAULT_OUT, ort_session  # noqa: E402
from pe_editor.model import Editor, high_pass  # noqa: E402
from pe_editor.mesh_depth import mesh_depth  # noqa: E402
from pe_teachers import camera, face, identity, lift, styles  # noqa: E402

WAYS = ("render/own", "render/teacher", "lift/triplane", "lift/mesh", "lift/teacher")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=DEFAULT_OUT)
    ap.add_argument("--faces", type=int, default=4)
    args = ap.parse_args(argv)
    st = {s: ort_session(os.path.join(args.assets, "stages", f"{s}.onnx")) for s in ("encode", "render", "finish", "lift")}
    bank = Bank(args.assets)
    m = Editor()
    m.load_state_dict(torch.load(os.path.join(args.assets, "editor.pt"), map_location="cpu"))
    m.eval()

    def render_view(planes, x, src, tgt, depth=None):
        """the paper's novel view (PyTorch: the stages no longer render at the target camera)"""
        with torch.no_grad():
            P, X, S, T = (torch.from_numpy(a) for a in (planes, x, src, tgt))
            feat, own = m.renderer(P, T)
            d = own if depth is None else torch.from_numpy(depth)
            w, v = m.warp(X, d, S, T)
            return m.refine(m.sr(feat), high_pass(w) * v, v).clamp(0, 1).numpy()
    res = {k: [] for k in WAYS}
    for fi, (name, img) in enumerate(held_out_faces()[:args.faces]):
        p = face.analyse(img)
        if p is None:
            continue
        geo = lift.source_geometry(p)
        wl = lift.landmarks_world(p, geo)
        src = camera.label(p.yaw, p.pitch)[None].astype(np.float32)
        cams = {y: camera.label(y, p.pitch)[None].astype(np.float32) for y in (-20, 0, 20)}
        pts = {}
        for y in cams:
            px, py, _ = lift.project(wl[:468], camera.cam2world(y, p.pitch), 256)
            pts[y] = np.stack([px, py], 1)
        x = to_in(p.crop)
        tdepth = {y: cv2.resize(lift.render(p, y, p.pitch, geo=geo).depth, (32, 32), interpolation=cv2.INTER_AREA)[None, None].astype(np.float32)
                  for y in cams}
        mdepth = {y: mesh_depth(p.lm, p.size, src[0], cams[y][0])[None, None] for y in cams}
        zeros = np.zeros((1, 1, 32, 32), np.float32)
        for s in styles.NAMES:
            tok = bank.tok[(s, styles.STYLES[s].test_prompts[fi % 5])]
            (planes,) = st["encode"].run(None, {"image": x, "src_cam": src, "tokens": tok, "norm": bank.norm})
            fs, _ = st["render"].run(None, {"planes": planes, "tgt_cam": src})
            emb = {k: {} for k in WAYS}
            for y, tgt in cams.items():
                for k, d in (("render/own", None), ("render/teacher", tdepth[y])):
                    emb[k][y] = identity.embed(to_img(render_view(planes, x, src, tgt, d)), pts[y])
                for k, md in (("lift/triplane", zeros), ("lift/mesh", mdepth[y]), ("lift/teacher", tdepth[y])):
                    rgb, _ = st["lift"].run(None, {"planes": planes, "image": x, "feat": fs, "src_cam": src, "tgt_cam": tgt, "mesh_depth": md})
                    emb[k][y] = identity.embed(to_img(rgb), pts[y])
            for k in WAYS:
                e = emb[k]
                res[k].append(np.mean([identity.cosine(e[0], e[-20]), identity.cosine(e[0], e[20])]))
        print(f"{name}: done", {k: round(float(np.mean(v)), 4) for k, v in res.items()}, flush=True)
    print(json.dumps({k: round(float(np.mean(v)), 4) for k, v in res.items()}))


if __name__ == "__main__":
    main()
