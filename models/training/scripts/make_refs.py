"""Make the style reference images (image prompts) under assets/refs/.

They are made on faces that the training set never uses: testdata faces ffhq-9 and ffhq-10 and
frame 0 of testdata video talking-d12.mp4 (see pe_teachers.build_dataset.HELD_OUT).
Usage: python scripts/make_refs.py [--testdata ../../../shared/testdata]
"""
import argparse
import os
import sys

import cv2

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pe_teachers import build_dataset, face, styles  # noqa: E402
from pe_teachers.imageio import load_rgb, save_rgb  # noqa: E402
from pe_teachers.prompts import REFS_DIR  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default=build_dataset.DEFAULT_TESTDATA)
    a = ap.parse_args()
    srcs = [("ffhq9", load_rgb(os.path.join(a.testdata, "faces", "ffhq-9.png"))),
            ("ffhq10", load_rgb(os.path.join(a.testdata, "faces", "ffhq-10.png")))]
    cap = cv2.VideoCapture(os.path.join(a.testdata, "video", "talking-d12.mp4"))
    ok, fr = cap.read()
    cap.release()
    srcs.append(("d12f0", cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)))
    os.makedirs(REFS_DIR, exist_ok=True)
    for tag, img in srcs:
        p = face.analyse(img)
        for n in styles.NAMES:
            save_rgb(os.path.join(REFS_DIR, f"{n}-{tag}.png"), styles.apply(p.crop, n, 1.0, p.masks))
    print("wrote", len(srcs) * len(styles.NAMES), "references to", REFS_DIR)


if __name__ == "__main__":
    main()
