"""The editor graph in stages, so a run whose prompt was superseded stops early.

python -m pe_editor.export_stages [--assets ../assets/editor]

A prompt switch waits for the editor run in progress (up to a whole run, 100-300 ms on a loaded
2-core machine) before its own run can start; onnxruntime cannot abort a run. Run as three
sessions, the runtime drops a superseded run between stages. The stages are the editor's own
forward() cut at its two narrow points (the triplane and the rendered features), exported from
the same weights as editor.onnx (ASSETS/editor.pt) and checked against it:

  stages/encode.onnx  image (1,3,256,256), src_cam (1,25), tokens (1,K,D), norm (1,NORM_DIM)
                      -> planes (1,3,C,64,64)                        E_low, E_high, xattn, decoder
  stages/render.onnx  planes, tgt_cam (1,25) -> feat (1,16,32,32), depth (1,1,32,32)   renderer
  stages/finish.onnx  image, feat (rendered at src_cam) -> rgb (1,3,256,256) [0,1], the edit at the
                      source view                         SR, refine (Editor.finish_source: no warp)
  stages/lift.onnx    planes, image, feat (rendered at src_cam), src_cam, tgt_cam, mesh_depth (1,1,32,32)
                      -> rgb (1,3,256,256), depth (1,1,32,32)    the novel view: finish's source-view
                      edit, re-projected (Editor.view: 16^2 depth + SourceLift)
  A source view is encode -> render (at src_cam) -> finish; a novel view is encode -> render -> lift
  (one session, not finish then lift: a session boundary and the copies cost ~4 ms). editor.onnx computes both in one graph (at the source view its lift is
  the identity).
  stages/stages.json  the chains' max |stages - editor.onnx| on the parity input, both views
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from torch import nn

from .export import DEFAULT_OUT, INPUTS, export_onnx, ort_session, parity_inputs
from .model import Editor


class EncodeStage(nn.Module):
    """(image (B,3,256,256), src_cam (B,25), tokens (B,K,D), norm (B,NORM_DIM)) -> planes (B,3,C,64,64)"""

    def __init__(self, m: Editor):
        super().__init__()
        self.m = m

    def forward(self, image, src_cam, tokens, norm):
        return self.m.encode(image, src_cam, tokens, norm)


class RenderStage(nn.Module):
    """(planes (B,3,C,64,64), tgt_cam (B,25)) -> feat (B,16,32,32), depth (B,1,32,32)"""

    def __init__(self, m: Editor):
        super().__init__()
        self.m = m

    def forward(self, planes, tgt_cam):
        return self.m.renderer(planes, tgt_cam)


class FinishStage(nn.Module):
    """(image (B,3,256,256), feat (B,16,32,32) rendered at the source camera) -> rgb (B,3,256,256)
    in [0,1], the source-view edit (Editor.finish_source)"""

    def __init__(self, m: Editor):
        super().__init__()
        self.m = m

    def forward(self, image, feat):
        return self.m.finish_source(image, feat)


class LiftStage(nn.Module):
    """(planes, image (B,3,256,256), feat (B,16,32,32) at src_cam, src_cam, tgt_cam, mesh_depth
    (B,1,32,32)) -> rgb (B,3,256,256), depth (B,1,32,32), as Editor.view after the render"""

    def __init__(self, m: Editor):
        super().__init__()
        self.m = m

    def forward(self, planes, image, feat, src_cam, tgt_cam, mesh_depth):
        return self.m.lift_view(planes, self.m.finish_source(image, feat), src_cam, tgt_cam, mesh_depth)


def export_stages(m: Editor, out_dir: str, opset: int = 17) -> dict:
    """Writes OUT/stages/*.onnx from `m` and checks the chain against OUT/editor.onnx."""
    d = os.path.join(out_dir, "stages")
    os.makedirs(d, exist_ok=True)
    image, src, tgt, tokens, norm, mesh = parity_inputs()
    with torch.no_grad():
        planes = m.encode(image, src, tokens, norm)
        feat, depth = m.renderer(planes, src)
    export_onnx(EncodeStage(m).eval(), (image, src, tokens, norm), os.path.join(d, "encode.onnx"),
                ["image", "src_cam", "tokens", "norm"], ["planes"], opset)
    export_onnx(RenderStage(m).eval(), (planes, tgt), os.path.join(d, "render.onnx"),
                ["planes", "tgt_cam"], ["feat", "depth"], opset)
    export_onnx(FinishStage(m).eval(), (image, feat), os.path.join(d, "finish.onnx"), ["image", "feat"], ["rgb"], opset)
    export_onnx(LiftStage(m).eval(), (planes, image, feat, src, tgt, mesh), os.path.join(d, "lift.onnx"),
                ["planes", "image", "feat", "src_cam", "tgt_cam", "mesh_depth"], ["rgb", "depth"], opset)

    feeds = {k: v.numpy() for k, v in zip(INPUTS, (image, src, tgt, tokens, norm, mesh))}
    whole = ort_session(os.path.join(out_dir, "editor.onnx"))
    full_novel = whole.run(None, feeds)
    full_src = whole.run(None, {**feeds, "tgt_cam": feeds["src_cam"]})
    (p,) = ort_session(os.path.join(d, "encode.onnx")).run(None, {k: feeds[k] for k in ("image", "src_cam", "tokens", "norm")})
    f, dep = ort_session(os.path.join(d, "render.onnx")).run(None, {"planes": p, "tgt_cam": feeds["src_cam"]})
    (rgb,) = ort_session(os.path.join(d, "finish.onnx")).run(None, {"image": feeds["image"], "feat": f})
    rgb_t, dep_t = ort_session(os.path.join(d, "lift.onnx")).run(
        None, {"planes": p, "image": feeds["image"], "feat": f, "src_cam": feeds["src_cam"], "tgt_cam": feeds["tgt_cam"],
               "mesh_depth": feeds["mesh_depth"]})
    diff_src = float(np.abs(full_src[0] - rgb).max())
    diff_novel = max(float(np.abs(full_novel[0] - rgb_t).max()), float(np.abs(full_novel[1] - dep_t).max()))
    diff = max(diff_src, diff_novel)
    names = ("encode", "render", "finish", "lift")
    rep = {"stages": list(names), "opset": opset,
           "max_abs_diff_vs_editor_onnx": diff, "source_view_diff": diff_src, "novel_view_diff": diff_novel,
           "mb": {s: round(os.path.getsize(os.path.join(d, f"{s}.onnx")) / 1e6, 3) for s in names}}
    if diff > 1e-4:
        raise SystemExit(f"staged editor differs from editor.onnx by {diff}")
    json.dump(rep, open(os.path.join(d, "stages.json"), "w"), indent=1)
    return rep


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=DEFAULT_OUT, help="editor assets: editor.pt in, stages/ out")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    m = Editor()
    m.load_state_dict(torch.load(os.path.join(args.assets, "editor.pt"), map_location="cpu"))
    print(json.dumps(export_stages(m.eval(), args.assets, args.opset)))


if __name__ == "__main__":
    main()
