"""Recover a PyTorch state_dict of pe_editor.model.Editor from the exported ONNX graphs.

python scripts/weights_from_onnx.py [--assets ../assets/editor] -o checkpoints/recovered.pt

Why: the training checkpoints are not committed (only the ONNX graphs were), and a later change
of the network (a new module) should start from the trained weights rather than from scratch.
Initializers are matched by name (the exporter keeps `m.<param>` names where it can) and, for the
ones constant folding renamed, by graph position and shape (Linear weights appear transposed as
MatMul inputs). The default norm comes from prompts.bin. Every parameter must be found, or it
stops with the list of the missing ones.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pe_editor.model import Editor  # noqa: E402


def initializers(path):
    g = onnx.load(path).graph
    return [(i.name, numpy_helper.to_array(i)) for i in g.initializer]


def fill(module, prefix, inits, out):
    """Copy `module`'s parameters from initializers `inits` [(name, array)]; returns missing names."""
    by_name = dict(inits)
    used = set()
    missing = []
    params = [(n, p) for n, p in module.state_dict().items()]
    for n, p in params:
        for cand in (f"{prefix}{n}", n):
            a = by_name.get(cand)
            if a is not None and tuple(a.shape) == tuple(p.shape):
                out[n] = torch.from_numpy(a.copy()); used.add(cand); break
        else:
            missing.append(n)
    # renamed ones: take unused initializers in order, matching shape (or transposed shape)
    # the exporter numbers folded initializers in trace order, which is the module's parameter order
    rest = sorted(((k, a) for k, a in inits if k not in used), key=lambda t: int(t[0].rsplit("_", 1)[-1]) if t[0].rsplit("_", 1)[-1].isdigit() else 0)
    still = []
    for n in missing:
        shape = tuple(module.state_dict()[n].shape)
        hit = None
        for j, (k, a) in enumerate(rest):
            if k.startswith("onnx::MatMul"):  # x @ W^T was folded to MatMul(x, W^T): always transposed
                if tuple(a.T.shape) == shape:
                    hit = (j, a.T); break
            elif tuple(a.shape) == shape:
                hit = (j, a); break
        if hit is None:
            still.append(n); continue
        out[n] = torch.from_numpy(np.ascontiguousarray(hit[1]))
        rest.pop(hit[0])
    return still


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.path.join(here, "..", "assets", "editor"))
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    m = Editor()
    sd = {}
    missing = []
    for mod_name, onnx_file, prefix in (("e_low", "editor.onnx", "m.e_low."), ("e_high", "editor.onnx", "m.e_high."),
                                        ("xattn", "editor.onnx", "m.xattn."), ("decoder", "editor.onnx", "m.decoder."),
                                        ("renderer", "editor.onnx", "m.renderer."), ("sr", "editor.onnx", "m.sr."),
                                        ("text_proj", "text_proj.onnx", ""), ("image_prompt", "image_prompt.onnx", "")):
        inits = initializers(os.path.join(args.assets, onnx_file))
        if onnx_file == "editor.onnx":
            inits = [(k, a) for k, a in inits if k.startswith(prefix) or not k.startswith("m.")]
        sub = {}
        miss = fill(getattr(m, mod_name), prefix, inits, sub)
        missing += [f"{mod_name}.{n}" for n in miss]
        sd.update({f"{mod_name}.{k}": v for k, v in sub.items()})
    meta = json.load(open(os.path.join(args.assets, "prompts.json")))
    blob = np.fromfile(os.path.join(args.assets, "prompts.bin"), np.float32)
    sd["default_norm"] = torch.from_numpy(blob[meta["defaultNormOffset"]:meta["defaultNormOffset"] + meta["normDim"]].copy())
    res = m.load_state_dict(sd, strict=False)
    print("not recovered (fresh):", sorted(set(k.split(".")[0] for k in res.missing_keys)), "failed:", missing)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"model": m.state_dict(), "step": 0}, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
