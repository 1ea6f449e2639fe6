"""Customised-prompt adaptation (paper Sec. 3.3 / 4.3): a new style from ~10 before/after pairs,
optimising ONLY the prompt tokens (K, D) and E_high's normalisation affine (NORM_DIM) with the
stage-2 objective (Eq. 7): L_diff at the source view + L_3D vs the frozen stage-1 model applied
to the 'after' image. Nothing else changes, so the result is a small tensor file that the
exported ONNX graph takes as inputs (no re-export).

python -m pe_editor.adapt --pairs DIR --name my_style [--steps 150] [--out ../assets/editor/styles]
  DIR holds NAME_before.png / NAME_after.png pairs (any photos with one face; the 'after' image is
  aligned with the 'before' image's face transform, so both must be the same size and framing).
python -m pe_editor.adapt --demo colormap_ocean --name ocean ...   (pairs made from training
  crops by a transform outside the 14-style bank, see DEMOS)

Writes OUT/NAME.json {k, d, normDim, tokensOffset, normOffset, pairs, steps, loss} + OUT/NAME.bin
(float32 tokens then norm).
"""
from __future__ import annotations

import argparse
import glob
import json
import os

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .data import Packed
from .export import DEFAULT_OUT
from .model import D_TOKEN, K_TOKENS, NORM_DIM, Editor, null_tokens
from .train import CKPT_DIR, HERE, f32, u8

DEMOS = {
    # a style none of the 14 stylizers makes: OpenCV's 'ocean' colour map of the luminance
    "colormap_ocean": lambda rgb: cv2.cvtColor(cv2.applyColorMap(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLORMAP_OCEAN), cv2.COLOR_BGR2RGB),
}


def pairs_from_dir(d):
    from pe_teachers import face

    out = []
    for b in sorted(glob.glob(os.path.join(d, "*_before.png"))):
        a = b.replace("_before.png", "_after.png")
        if not os.path.exists(a):
            continue
        before = cv2.cvtColor(cv2.imread(b), cv2.COLOR_BGR2RGB)
        after = cv2.cvtColor(cv2.imread(a), cv2.COLOR_BGR2RGB)
        if after.shape != before.shape:
            raise SystemExit(f"{a}: the after image must have the before image's size")
        try:
            p = face.analyse(before)
        except Exception:
            continue
        out.append((p.crop, face.warp_crop(after, p.M), p.camera_label()))
    return out


def adapt(model: Editor, teacher: Editor, img, cam, after, vcams, steps=150, lr=3e-2, init_tokens=None, log=None):
    """img/after (N,3,128,128) [0,1], cam (N,25), vcams (N,V,25) -> tokens (1,K,D), norm (NORM_DIM,), loss."""
    for p in list(model.parameters()) + list(teacher.parameters()):
        p.requires_grad_(False)
    tokens = torch.nn.Parameter(init_tokens.clone() if init_tokens is not None else torch.zeros(1, K_TOKENS, D_TOKEN))
    norm = torch.nn.Parameter(model.default_norm.detach().clone())
    opt = torch.optim.Adam([tokens, norm], lr=lr)
    N = img.shape[0]
    with torch.no_grad():
        planes_t = teacher.encode(after, cam, null_tokens(N))
    rng = np.random.default_rng(0)
    loss = torch.tensor(0.0)
    for s in range(steps):
        idx = torch.from_numpy(rng.choice(N, size=min(4, N), replace=False))
        B = len(idx)
        pl = model.encode(img[idx], cam[idx], tokens.expand(B, -1, -1), norm[None].expand(B, -1))
        rgb, raw, _ = model.render(pl, cam[idx])
        l_diff = (rgb - after[idx]).abs().mean() + 0.5 * (raw - F.interpolate(after[idx], size=32, mode="area")).abs().mean()
        v = torch.from_numpy(rng.integers(0, vcams.shape[1], B))
        vc = vcams[idx, v]
        with torch.no_grad():
            rgb_t, _, dep_t = teacher.render(planes_t[idx], vc)
        rgb_v, _, dep_v = model.render(pl, vc)
        loss = l_diff + 0.5 * (pl - planes_t[idx]).abs().mean() + (rgb_v - rgb_t).abs().mean() + 2 * (dep_v - dep_t).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and s % 25 == 0:
            log(f"step {s}: loss {loss.item():.4f} (diff {l_diff.item():.4f})")
    return tokens.detach(), norm.detach(), float(loss.item())


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", default=None)
    ap.add_argument("--demo", choices=sorted(DEMOS), default=None)
    ap.add_argument("--n", type=int, default=10, help="pairs for --demo")
    ap.add_argument("--name", required=True)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--ckpt", default=os.path.join(CKPT_DIR, "editor_stage2.pt"))
    ap.add_argument("--data", default=os.path.join(HERE, "cache", "editor.npz"))
    ap.add_argument("--out", default=os.path.join(DEFAULT_OUT, "styles"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    st = torch.load(args.ckpt, map_location="cpu")
    model = Editor(); model.load_state_dict(st["model"]); model.eval()
    teacher = Editor(); teacher.load_state_dict(torch.load(os.path.join(CKPT_DIR, "editor_stage1.pt"), map_location="cpu")["model"]); teacher.eval()
    from pe_teachers import camera

    if args.demo:
        D = Packed(args.data)
        # only FFHQ portraits and video frames far apart, never the held-out faces (not in the cache)
        idx = np.linspace(0, D.n - 1, args.n).astype(int)
        crops = [D.a["crop"][i].transpose(1, 2, 0) for i in idx]
        after = [DEMOS[args.demo](c) for c in crops]
        img = torch.stack([u8(c.transpose(2, 0, 1)) for c in crops])
        aft = torch.stack([u8(a.transpose(2, 0, 1)) for a in after])
        cam = f32(D.a["cam"][idx])
        vcams = f32(D.a["vcam"][idx])
    else:
        pr = pairs_from_dir(args.pairs)
        if not pr:
            raise SystemExit("no usable *_before.png/*_after.png pairs")
        rs = lambda x: cv2.resize(x, (128, 128), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
        img = torch.stack([u8(rs(b)) for b, _, _ in pr])
        aft = torch.stack([u8(rs(a)) for _, a, _ in pr])
        cam = torch.stack([f32(c.astype(np.float32)) for _, _, c in pr])
        grid = [camera.label(y, p) for y in (-30, -15, 0, 15, 30) for p in (-20, 0, 20)]
        vcams = f32(np.stack([grid] * len(pr)).astype(np.float32))
    tokens, norm, loss = adapt(model, teacher, img, cam, aft, vcams, steps=args.steps, log=print)
    os.makedirs(args.out, exist_ok=True)
    t, n = tokens.numpy().astype(np.float32).ravel(), norm.numpy().astype(np.float32).ravel()
    np.concatenate([t, n]).tofile(os.path.join(args.out, f"{args.name}.bin"))
    meta = {"name": args.name, "k": K_TOKENS, "d": D_TOKEN, "normDim": NORM_DIM, "tokensOffset": 0, "normOffset": t.size,
            "pairs": int(img.shape[0]), "steps": args.steps, "final_loss": round(loss, 5),
            "source": args.demo or os.path.abspath(args.pairs)}
    json.dump(meta, open(os.path.join(args.out, f"{args.name}.json"), "w"), indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
