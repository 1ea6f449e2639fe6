"""Export the trained editor to ONNX + prompt bank, with a PyTorch/onnxruntime parity check.

python -m pe_editor.export [--ckpt checkpoints/editor_stage2.pt] [--out ../assets/editor]

Writes OUT/:
  editor.onnx        Editor.view: inputs image (1,3,256,256) [0,1], src_cam (1,25), tgt_cam (1,25),
                     tokens (1,K,D), norm (1,NORM_DIM), mesh_depth (1,1,32,32) (the face mesh's depth
                     at tgt_cam, 0 = none: mesh_depth.py); outputs rgb (1,3,256,256) [0,1],
                     depth (1,1,32,32) (the depth the novel view was re-projected with)
  editor.pt          the PyTorch state_dict (fp32) the ONNX graphs were made from: adaptation
                     (pe_editor.adapt) fine-tunes prompts against it at run time
  image_prompt.onnx  ref (1,3,128,128) [0,1] -> tokens (1,K,D)   (image prompts)
  text_proj.onnx     emb (1,384) MiniLM sentence embedding (normalised) -> tokens (1,K,D)
  prompts.json + prompts.bin   float32 tokens for every style phrasing (train + held-out) and
                     the default norm affine (the stage-1 value); offsets in floats into the .bin
  parity.json + parity.bin     one fixed input and PyTorch's outputs (for the runtime's tests)
  export.json        opset, sizes, max |onnxruntime - PyTorch|
  mesh_triangles.json  the face mesh's triangles (MediaPipe's tesselation), for the runtime's
                     mesh depth; mesh_parity.json: landmarks, cameras and mesh_depth.py's output
  stages/            the same graph in three sessions (export_stages.py)
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from .model import D_TOKEN, ENC, IMG, K_TOKENS, NORM_DIM, Editor, ExportEditor
from .train import CKPT_DIR, text_embeddings

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "assets", "editor"))
INPUTS = ["image", "src_cam", "tgt_cam", "tokens", "norm", "mesh_depth"]


def export_onnx(module, args, path, inputs, outputs, opset=17):
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                      opset_version=opset, dynamo=False, do_constant_folding=True)


def ort_session(path, threads=2):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def editor_feed(sess, image, src_cam, tgt_cam, tokens, norm, mesh_depth=None):
    """Feeds for an editor.onnx session (batch 1): mesh_depth (1,1,32,32) is zeros (the render's depth
    only) when not given; exports older than it take no mesh_depth and get none."""
    feed = {"image": image, "src_cam": src_cam, "tgt_cam": tgt_cam, "tokens": tokens, "norm": norm}
    if any(i.name == "mesh_depth" for i in sess.get_inputs()):
        feed["mesh_depth"] = np.zeros((1, 1, 32, 32), np.float32) if mesh_depth is None else mesh_depth
    return feed


def parity_inputs(seed=0):
    """A deterministic input: a smooth random image, source camera yaw 5 pitch 3, target yaw 20,
    a mesh depth covering a disc in the middle (the merge of mesh and render depth is exercised)."""
    from pe_teachers import camera

    g = torch.Generator().manual_seed(seed)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=IMG, mode="bilinear",
                                          align_corners=False)
    src = torch.tensor(camera.label(5, 3))[None]
    tgt = torch.tensor(camera.label(20, 0))[None]
    tokens = torch.randn(1, K_TOKENS, D_TOKEN, generator=g) * 0.5
    norm = torch.randn(1, NORM_DIM, generator=g) * 0.05
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    r2 = (xx - 15.5) ** 2 + (yy - 14.5) ** 2
    mesh = torch.where(r2 < 100, 2.55 + r2 * 1e-3, torch.zeros(())).reshape(1, 1, 32, 32)
    return img, src, tgt, tokens, norm, mesh


def load_editor(ck: dict):
    """A loaded training checkpoint ({"model": state_dict, "step"}) or a bare state_dict (editor.pt)."""
    m = Editor()
    m.load_state_dict(ck["model"] if "model" in ck else ck)
    return m.eval()


def write_mesh_assets(out):
    """mesh_triangles.json, and mesh_parity.json: a held-out face's crop landmarks, two cameras and
    mesh_depth.py's output (the runtime's tests check theirs against it)."""
    import cv2

    from pe_teachers import camera, face, lift
    from .mesh_depth import mesh_depth

    tris = lift.mesh_triangles()
    json.dump({"triangles": tris.ravel().tolist(), "count": int(len(tris))}, open(os.path.join(out, "mesh_triangles.json"), "w"))
    f = os.path.join(os.path.dirname(HERE), "..", "..", "shared", "testdata", "faces", "ffhq-9.png")
    img = cv2.imread(os.path.normpath(f))
    if img is None:
        return None
    p = face.analyse(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    src = camera.label(p.yaw, p.pitch)
    tgt = camera.label(p.yaw + 20, p.pitch - 5)
    d = mesh_depth(p.lm, p.size, src, tgt)
    json.dump({"size": p.size, "lm": np.round(p.lm[:468], 4).ravel().tolist(), "src_cam": src.tolist(), "tgt_cam": tgt.tolist(),
               "res": 32, "depth": d.ravel().tolist(), "covered": int((d > 0).sum())},
              open(os.path.join(out, "mesh_parity.json"), "w"))
    return int((d > 0).sum())


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=os.path.join(CKPT_DIR, "editor_stage2.pt"),
                    help="a training checkpoint, or a bare state_dict such as the shipped editor.pt")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    ck = torch.load(args.ckpt, map_location="cpu")
    m = load_editor(ck)
    ex = ExportEditor(m).eval()
    pin = parity_inputs()
    p_editor = os.path.join(args.out, "editor.onnx")
    export_onnx(ex, pin, p_editor, INPUTS, ["rgb", "depth"], args.opset)
    pt = os.path.join(args.out, "editor.pt")
    if os.path.abspath(args.ckpt) != os.path.abspath(pt):
        torch.save(m.state_dict(), pt)
    export_onnx(m.image_prompt, (torch.rand(1, 3, ENC, ENC),), os.path.join(args.out, "image_prompt.onnx"),
                ["ref"], ["tokens"], args.opset)
    export_onnx(m.text_proj, (torch.randn(1, 384),), os.path.join(args.out, "text_proj.onnx"),
                ["emb"], ["tokens"], args.opset)

    with torch.no_grad():
        ref = [t.numpy() for t in ex(*pin)]
    sess = ort_session(p_editor)
    got = sess.run(None, {k: v.numpy() for k, v in zip(INPUTS, pin)})
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, got))

    # parity fixture: inputs and PyTorch outputs, float32, concatenated
    blobs = [t.numpy().astype(np.float32).ravel() for t in pin] + [r.astype(np.float32).ravel() for r in ref]
    names = INPUTS + ["rgb", "depth"]
    shapes = [list(t.shape) for t in pin] + [list(r.shape) for r in ref]
    off, meta = 0, {}
    for n, b, s in zip(names, blobs, shapes):
        meta[n] = {"offset": off, "shape": s}
        off += b.size
    np.concatenate(blobs).tofile(os.path.join(args.out, "parity.bin"))
    json.dump(meta, open(os.path.join(args.out, "parity.json"), "w"), indent=1)

    # prompt bank
    from pe_teachers import styles

    T = text_embeddings()
    chunks, entries, off = [], [], 0
    default_norm = m.default_norm.detach().numpy().astype(np.float32)
    chunks.append(default_norm); off += default_norm.size
    with torch.no_grad():
        for si, name in enumerate(styles.NAMES):
            st = styles.STYLES[name]
            phr = [("train", t, T["train"][si, k]) for k, t in enumerate(st.train_prompts)]
            phr += [("test", t, T["test"][si, k]) for k, t in enumerate(st.test_prompts)]
            for split, text, e in phr:
                tok = m.text_proj(torch.from_numpy(e)[None]).numpy().astype(np.float32).ravel()
                entries.append({"style": name, "text": text, "split": split, "offset": off})
                chunks.append(tok); off += tok.size
    np.concatenate(chunks).tofile(os.path.join(args.out, "prompts.bin"))
    json.dump({"k": K_TOKENS, "d": D_TOKEN, "normDim": NORM_DIM, "defaultNormOffset": 0,
               "styles": list(styles.NAMES), "phrasings": entries,
               "note": "tokens = text_proj(MiniLM(text)); a style id maps to its first training phrasing"},
              open(os.path.join(args.out, "prompts.json"), "w"), indent=1)
    prev = os.path.join(args.out, "export.json")
    if "step" in ck or not os.path.exists(prev):
        trained = {"ckpt": os.path.basename(args.ckpt), "step": int(ck.get("step", -1))}
    else:  # re-exported from a bare state_dict: the training run is the previous export's
        old = json.load(open(prev))
        trained = {"ckpt": old.get("ckpt"), "step": old.get("step"), "reexported_from": os.path.basename(args.ckpt)}
    rep = {"opset": args.opset, **trained,
           "editor_mb": round(os.path.getsize(p_editor) / 1e6, 3), "size": IMG, "image_prompt_size": ENC,
           "parity_max_abs_diff": diff, "k": K_TOKENS, "d": D_TOKEN, "norm_dim": NORM_DIM,
           "mesh_parity_covered": write_mesh_assets(args.out)}
    json.dump(rep, open(os.path.join(args.out, "export.json"), "w"), indent=1)
    print(json.dumps(rep))
    from .export_stages import export_stages

    print(json.dumps(export_stages(m, args.out, args.opset)))
    return rep


if __name__ == "__main__":
    main()
