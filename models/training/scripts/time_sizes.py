"""Editor speed at 256² and 512² on onnxruntime (Python, CPU EP), source and novel view.

python scripts/time_sizes.py [--threads 2] [--runs 30] [--json out.json]

The committed weights (assets/editor/editor.pt) are exported twice into a temporary directory:
at 256² (the shipped graph) and at 512² (same weights; the encoders still see 128², the detail
warp and refine run at 512²). Prints median / min ms per call.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pe_editor.export import DEFAULT_OUT, INPUTS, export_onnx, ort_session, parity_inputs  # noqa: E402
from pe_editor.model import D_TOKEN, K_TOKENS, NORM_DIM, Editor, ExportEditor  # noqa: E402
from pe_teachers import camera  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    m = Editor()
    m.load_state_dict(torch.load(os.path.join(DEFAULT_OUT, "editor.pt"), map_location="cpu"))
    ex = ExportEditor(m.eval()).eval()
    src = camera.label(5, 3)[None].astype(np.float32)
    views = {"source": src, "novel": camera.label(25, 0)[None].astype(np.float32)}
    rep = {"threads": args.threads, "runs": args.runs, "ms": {}}
    with tempfile.TemporaryDirectory() as d:
        for size in (256, 512):
            pin = (torch.rand(1, 3, size, size), torch.from_numpy(src), torch.from_numpy(src),
                   torch.zeros(1, K_TOKENS, D_TOKEN), m.default_norm.detach()[None], parity_inputs()[-1])
            path = os.path.join(d, f"editor{size}.onnx")
            export_onnx(ex, pin, path, INPUTS, ["rgb", "depth"])
            sess = ort_session(path, threads=args.threads)
            feed = {k: v.numpy().astype(np.float32) for k, v in zip(INPUTS, pin)}
            for name, tgt in views.items():
                feed["tgt_cam"] = tgt
                sess.run(None, feed)
                ts = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    sess.run(None, feed)
                    ts.append(1000 * (time.perf_counter() - t))
                rep["ms"][f"{size}_{name}"] = {"median": round(float(np.median(ts)), 1), "min": round(min(ts), 1)}
                print(f"{size}² {name}: median {np.median(ts):.1f} ms, min {min(ts):.1f} ms", flush=True)
    if args.json:
        json.dump(rep, open(args.json, "w"), indent=1)
    return rep


if __name__ == "__main__":
    main()
