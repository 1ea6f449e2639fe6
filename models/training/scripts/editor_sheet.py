"""Contact sheet of the editor on held-out faces (the exported ONNX, or a checkpoint).

python scripts/editor_sheet.py [--ckpt checkpoints/editor_stage2.pt | --assets ../assets/editor] -o sheet.jpg
Rows: held-out faces (ffhq-9, ffhq-10, talking-d12 frame 0). Columns: input crop, no prompt
(source view), no prompt yaw -20 / +20, then styles at the source view (held-out phrasings) and
one style at yaw -20 / +20; the last row pair shows the teacher's edits for the same styles.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pe_teachers import camera, face, styles  # noqa: E402
from pe_editor.evaluate import Bank, held_out_faces, to_in, to_img  # noqa: E402
from pe_editor.export import DEFAULT_OUT, editor_feed, ort_session  # noqa: E402
from pe_editor.mesh_depth import mesh_depth  # noqa: E402

SHOW = ["golden_statue", "pencil_sketch", "zombie", "neon", "marble", "pop_art"]


def label(img, text):
    img = img.copy()
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=DEFAULT_OUT)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--size", type=int, default=160)
    a = ap.parse_args()
    sess = ort_session(os.path.join(a.assets, "editor.onnx"))
    bank = Bank(a.assets)
    null = np.zeros((1, bank.k, bank.d), np.float32)
    S = a.size

    def run(x, src, tgt, tok):
        md = None if tgt is src else mesh_depth(lm, 256, src, tgt)[None, None]
        return sess.run(None, editor_feed(sess, x, src[None], tgt[None], tok, bank.norm, md))[0]

    rows = []
    for name, img in held_out_faces()[:3]:
        p = face.analyse(img)
        lm = p.lm
        x = to_in(p.crop)
        src = camera.label(p.yaw, p.pitch)
        c = lambda y: camera.label(y, p.pitch)
        r = [label(cv2.resize(p.crop, (S, S)), name), label(to_img(run(x, src, src, null), S), "no prompt"),
             label(to_img(run(x, src, c(-20), null), S), "no prompt y-20"), label(to_img(run(x, src, c(20), null), S), "y+20")]
        t = []
        for s in SHOW:
            phr = styles.STYLES[s].test_prompts[0]
            r.append(label(to_img(run(x, src, src, bank.tok[(s, phr)]), S), phr[:22]))
            t.append(label(cv2.resize(styles.apply(p.crop, s, 1.0, p.masks), (S, S)), "teacher " + s[:12]))
        tok = bank.tok[(SHOW[0], styles.STYLES[SHOW[0]].test_prompts[0])]
        r += [label(to_img(run(x, src, c(-20), tok), S), "y-20"), label(to_img(run(x, src, c(20), tok), S), "y+20")]
        blank = np.zeros((S, S, 3), np.uint8)
        rows.append(np.concatenate(r, 1))
        rows.append(np.concatenate([blank] * 4 + t + [blank] * 2, 1))
    sheet = np.concatenate(rows, 0)
    cv2.imwrite(a.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(a.out, sheet.shape)


if __name__ == "__main__":
    main()
