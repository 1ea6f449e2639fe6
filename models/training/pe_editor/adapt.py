"""Customised-prompt adaptation (paper Sec. 3.3 / 4.3): a new style from ~10 before/after pairs,
optimising ONLY the prompt tokens (K, D) and E_high's normalisation affine (NORM_DIM) with the
stage-2 objective (Eq. 7): L_diff at the source view + L_3D (triplane, image and depth at a
teacher camera) vs the frozen stage-1 model applied to the 'after' image. Nothing else changes,
so the result is a small tensor file that the exported ONNX graph takes as inputs (no re-export).

python -m pe_editor.adapt --pairs DIR --name my-style [--label "My style"] [--minutes 5] [--out DIR]
  DIR holds pairs as NAME_before.EXT / NAME_after.EXT (also NAME-before / NAME-after) or as
  before/NAME.EXT + after/NAME.EXT, EXT in png/jpg/jpeg/webp. Any photos with one face; the 'after'
  image is aligned with the 'before' image's face transform, so both must show the same framing
  (an 'after' of another size but the same aspect ratio is resized to the 'before').
python -m pe_editor.adapt --demo colormap_ocean --name ocean ...   (pairs made from real portraits
  by a transform outside the 14-style bank, see DEMOS)

Weights: models/assets/editor/editor.pt (the state_dict the committed editor.onnx was exported
from), else checkpoints/editor_stage2.pt. The stage-1 teacher of Eq. 5 is the same network with the
cross-attention's output projection zeroed: stage 1 trains everything but the prompt path and the
cross-attention, whose zero-initialised output projection makes it the identity; stage 2 trains
only the prompt path and the cross-attention. So no second checkpoint is needed.

Time budget: --minutes bounds the optimisation (face analysis and loading come before it);
--steps caps the step count. --progress prints one JSON object per line on stdout (events:
phase, pairs, progress, done, error) for the server's job runner; exit code 2 = unusable input.

Writes OUT/NAME.json {name, label, k, d, normDim, tokensOffset, normOffset, pairs, steps, seconds,
final_loss, source, editor: {onnx, weights} (sha256 prefixes, to flag styles made for other
weights), createdAt} + OUT/NAME.bin (float32 tokens then norm), the .bin first, each written to a
temporary name and renamed.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import inspect
import json
import os
import re
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import model as _model
from .model import D_TOKEN, IMG, K_TOKENS, NORM_DIM, Editor, null_tokens

ENC = getattr(_model, "ENC", IMG)  # the encoders' resolution (= IMG for graphs without a detail path)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSETS = os.path.normpath(os.path.join(HERE, "..", "assets", "editor"))
CKPT_DIR = os.environ.get("PE_EDITOR_CKPT", os.path.join(HERE, "checkpoints"))
TESTDATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "testdata"))
EXTS = (".png", ".jpg", ".jpeg", ".webp")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MIN_PAIRS, MAX_PAIRS = 2, 50
# the 3D teacher's 15 views (yaw x pitch), as in the training cache
VIEW_GRID = [(y, p) for y in (-30, -15, 0, 15, 30) for p in (-20, 0, 20)]

DEMOS = {
    # a style none of the 14 stylizers makes: OpenCV's 'ocean' colour map of the luminance
    "colormap_ocean": lambda rgb: cv2.cvtColor(cv2.applyColorMap(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLORMAP_OCEAN), cv2.COLOR_BGR2RGB),
}


class AdaptInputError(Exception):
    """Unusable pairs (exit code 2; the message is for the user)."""


def file_hash(path: str) -> str | None:
    """sha256 prefix (16 hex) of a file; the server computes the same for editor.onnx."""
    if not os.path.exists(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()[:16]


def default_weights() -> str:
    p = os.path.join(ASSETS, "editor.pt")
    return p if os.path.exists(p) else os.path.join(CKPT_DIR, "editor_stage2.pt")


def load_models(weights: str | None = None):
    """-> (model, teacher, weights path). teacher = the stage-1 network (see the module docstring)."""
    weights = weights or default_weights()
    if not os.path.exists(weights):
        raise FileNotFoundError(f"no editor weights at {weights} (models/assets/editor/editor.pt is committed with the editor)")
    st = torch.load(weights, map_location="cpu")
    sd = st.get("model", st) if isinstance(st, dict) else st
    model = Editor()
    model.load_state_dict(sd)
    teacher = Editor()
    teacher.load_state_dict(sd)
    with torch.no_grad():
        teacher.xattn.o.weight.zero_()
        teacher.xattn.o.bias.zero_()
    for m in (model, teacher):
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    return model, teacher, weights


def _detail_render(model) -> bool:
    """Whether Editor.render takes the source image (the 256^2 graph with the detail path)."""
    return "image" in inspect.signature(model.render).parameters


def render(model, planes, cam, img, src_cam):
    if _detail_render(model):
        return model.render(planes, cam, img, src_cam)
    return model.render(planes, cam)


def _at(x, size):
    return x if x.shape[-1] == size else F.interpolate(x, size=size, mode="area")


def list_pairs(d: str):
    """-> ([(key, before_path, after_path)], [problem strings]) by file name (see the docstring)."""
    files = [f for f in glob.glob(os.path.join(d, "**", "*"), recursive=True) if os.path.isfile(f)]
    before, after, problems = {}, {}, []
    for f in sorted(files):
        rel = os.path.relpath(f, d)
        stem, ext = os.path.splitext(os.path.basename(f))
        if ext.lower() not in EXTS:
            if not os.path.basename(f).startswith("."):
                problems.append(f"{rel}: not a PNG/JPEG/WebP file name, ignored")
            continue
        parent = os.path.basename(os.path.dirname(f)).lower()
        m = re.match(r"^(.+?)[_-](before|after)$", stem, re.I)
        if m:
            key, side = os.path.join(os.path.dirname(rel), m.group(1)), m.group(2).lower()
        elif parent in ("before", "after"):
            key, side = os.path.join(os.path.dirname(os.path.dirname(rel)), stem), parent
        else:
            problems.append(f"{rel}: neither NAME_before/NAME_after nor in a before/ or after/ folder, ignored")
            continue
        (before if side == "before" else after)[key] = f
    for k in sorted(set(before) ^ set(after)):
        problems.append(f"{k}: has a{'' if k in before else 'n'} {'before' if k in before else 'after'} image but no {'after' if k in before else 'before'} image")
    keys = sorted(set(before) & set(after))
    return [(k, before[k], after[k]) for k in keys], problems


def _read(path):
    from pe_teachers.imageio import InputError, load_rgb

    try:
        return load_rgb(path)
    except InputError as e:
        raise AdaptInputError(str(e)) from None


def analyse_pairs(pairs, log=None):
    """[(key, before, after)] paths -> (usable [(key, before crop, after crop, cam)], skipped [str]).
    Crops are IMG^2 uint8 RGB; the 'after' is warped with the 'before' face's alignment."""
    from pe_teachers import face

    out, skipped = [], []
    for i, (k, b, a) in enumerate(pairs):
        before, after = _read(b), _read(a)
        if after.shape[:2] != before.shape[:2]:
            rb, ra = before.shape[1] / before.shape[0], after.shape[1] / after.shape[0]
            if abs(rb - ra) > 0.02 * rb:
                skipped.append(f"{k}: the after image ({after.shape[1]}x{after.shape[0]}) does not have the before image's shape ({before.shape[1]}x{before.shape[0]})")
                continue
            after = cv2.resize(after, (before.shape[1], before.shape[0]), interpolation=cv2.INTER_AREA)
        try:
            p = face.analyse(before)
        except Exception:
            skipped.append(f"{k}: no face found in the before image")
            continue
        rs = lambda x: x if x.shape[0] == IMG else cv2.resize(x, (IMG, IMG), interpolation=cv2.INTER_AREA)
        out.append((k, rs(p.crop), rs(face.warp_crop(after, p.M)), p.camera_label()))
        if log:
            log(i + 1, len(pairs))
    return out, skipped


def tensors(items):
    """[(key, before crop, after crop, cam)] -> img, after (N,3,IMG,IMG) [0,1], cam (N,25), vcams (N,V,25)."""
    from pe_teachers import camera

    t = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float() / 255.0
    img = torch.stack([t(b) for _, b, _, _ in items])
    aft = torch.stack([t(a) for _, _, a, _ in items])
    cam = torch.stack([torch.from_numpy(np.asarray(c, np.float32)) for _, _, _, c in items])
    grid = np.stack([camera.label(y, p) for y, p in VIEW_GRID]).astype(np.float32)
    vcams = torch.from_numpy(np.stack([grid] * len(items)))
    return img, aft, cam, vcams


def adapt(model: Editor, teacher: Editor, img, cam, after, vcams, steps=150, lr=3e-2, init_tokens=None, log=None,
          seconds=None, on_step=None, batch=2, seed=0, detail=False):
    """img/after (N,3,S,S) [0,1], cam (N,25), vcams (N,V,25) -> tokens (1,K,D), norm (NORM_DIM,), loss.

    Runs until `steps` optimiser steps (None: no cap) or `seconds` of optimisation time (None: no
    limit). Time counts only the steps themselves: `on_step(step, elapsed_s, loss, tokens, norm)`
    (called after every step; its own time is excluded, so an evaluation there does not eat the
    budget) may return True to stop.

    detail=False: the losses compare the render itself (the super-resolution's output, ENC^2) with
    the targets at that size, leaving out the graph's frozen full-resolution detail path (it adds
    the source's high frequencies after the render; the tokens and norm cannot change it): half the
    cost per step. detail=True runs the whole graph as stage 2 does.
    batch: pairs per step."""
    if steps is None and seconds is None:
        raise ValueError("give steps or seconds")
    for p in list(model.parameters()) + list(teacher.parameters()):
        p.requires_grad_(False)
    tokens = torch.nn.Parameter(init_tokens.clone() if init_tokens is not None else torch.zeros(1, K_TOKENS, D_TOKEN))
    norm = torch.nn.Parameter(model.default_norm.detach().clone())
    opt = torch.optim.Adam([tokens, norm], lr=lr)
    N = img.shape[0]
    if not detail and img.shape[-1] != ENC:
        # encode() works at ENC^2 anyway; pool once instead of every step
        img, after = F.avg_pool2d(img, img.shape[-1] // ENC), F.avg_pool2d(after, after.shape[-1] // ENC)
    rend = (lambda m, pl, c, x, src: render(m, pl, c, x, src)) if detail else (lambda m, pl, c, x, src: m.render(pl, c))
    with torch.no_grad():
        planes_t = teacher.encode(after, cam, null_tokens(N))
    rng = np.random.default_rng(seed)
    loss = torch.tensor(0.0)
    s, elapsed = 0, 0.0
    while (steps is None or s < steps) and (seconds is None or elapsed < seconds):
        t0 = time.perf_counter()
        idx = torch.from_numpy(rng.choice(N, size=min(batch, N), replace=False))
        B = len(idx)
        x, c, y = img[idx], cam[idx], after[idx]
        pl = model.encode(x, c, tokens.expand(B, -1, -1), norm[None].expand(B, -1))
        rgb, raw, _ = rend(model, pl, c, x, c)
        l_diff = (rgb - _at(y, rgb.shape[-1])).abs().mean() + 0.5 * (raw - _at(y, raw.shape[-1])).abs().mean()
        v = torch.from_numpy(rng.integers(0, vcams.shape[1], B))
        vc = vcams[idx, v]
        with torch.no_grad():
            rgb_t, _, dep_t = rend(teacher, planes_t[idx], vc, y, c)
        rgb_v, _, dep_v = rend(model, pl, vc, x, c)
        loss = l_diff + 0.5 * (pl - planes_t[idx]).abs().mean() + (rgb_v - rgb_t).abs().mean() + 2 * (dep_v - dep_t).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        s += 1
        elapsed += time.perf_counter() - t0
        if log and s % 25 == 0:
            log(f"step {s}: loss {loss.item():.4f} (diff {l_diff.item():.4f})")
        if on_step and on_step(s, elapsed, float(loss.item()), tokens.detach(), norm.detach()):
            break
    adapt.last_steps, adapt.last_seconds = s, elapsed
    return tokens.detach(), norm.detach(), float(loss.item())


def write_style(out_dir: str, name: str, tokens, norm, meta: dict) -> dict:
    """OUT/NAME.bin then OUT/NAME.json (the .json is what makes a style exist), each atomically."""
    os.makedirs(out_dir, exist_ok=True)
    t = tokens.numpy().astype(np.float32).ravel()
    n = norm.numpy().astype(np.float32).ravel()
    if not (np.isfinite(t).all() and np.isfinite(n).all()):
        raise RuntimeError("adaptation diverged (non-finite tensors); nothing written")
    full = {"name": name, "k": K_TOKENS, "d": D_TOKEN, "normDim": NORM_DIM, "tokensOffset": 0, "normOffset": int(t.size), **meta}
    b = os.path.join(out_dir, f"{name}.bin")
    j = os.path.join(out_dir, f"{name}.json")
    np.concatenate([t, n]).tofile(b + ".part")
    os.replace(b + ".part", b)
    with open(j + ".part", "w") as f:
        json.dump(full, f, indent=1)
    os.replace(j + ".part", j)
    return full


def demo_pairs(demo: str, n: int):
    """n pairs of the DEMOS transform on real portraits that are not the evaluation faces: FFHQ
    1-8, then frames of the training clips (never ffhq-9/10 or talking-d12)."""
    from pe_teachers import face

    imgs = [cv2.cvtColor(cv2.imread(os.path.join(TESTDATA, "faces", f"ffhq-{i}.png")), cv2.COLOR_BGR2RGB) for i in range(1, 9)]
    clips = [os.path.join(TESTDATA, "video", f"talking-d{k}.mp4") for k in (0, 3, 6, 9, 11)]
    f = 0
    while len(imgs) < n:
        for c in clips:
            cap = cv2.VideoCapture(c)
            cap.set(cv2.CAP_PROP_POS_FRAMES, 7 + 13 * f)
            ok, fr = cap.read()
            cap.release()
            if ok:
                imgs.append(cv2.cvtColor(fr, cv2.COLOR_BGR2RGB))
        f += 1
        if f > 200:
            break
    out = []
    for i, im in enumerate(imgs):
        if len(out) >= n:
            break
        try:
            p = face.analyse(im)
        except Exception:
            continue
        rs = lambda x: x if x.shape[0] == IMG else cv2.resize(x, (IMG, IMG), interpolation=cv2.INTER_AREA)
        crop = rs(p.crop)
        out.append((f"demo-{i}", crop, DEMOS[demo](crop), p.camera_label()))
    return out


class Reporter:
    """Human lines on stderr, or JSON lines on stdout for the server (--progress)."""

    def __init__(self, json_lines: bool):
        self.json = json_lines
        self.last = 0.0

    def emit(self, event: str, **kw):
        if self.json:
            sys.stdout.write(json.dumps({"event": event, **kw}) + "\n")
            sys.stdout.flush()
        elif event == "progress":
            print(f"  step {kw['step']:5d}  {kw['elapsed']:6.1f}/{kw['budget']:.0f} s  loss {kw['loss']:.4f}", file=sys.stderr)
        elif event != "done":
            print(f"{event}: {json.dumps(kw)}", file=sys.stderr)

    def progress(self, step, elapsed, budget, loss, every=1.0):
        now = time.monotonic()
        if now - self.last >= every:
            self.last = now
            self.emit("progress", step=step, elapsed=round(elapsed, 2), budget=budget, loss=round(loss, 5))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", default=None)
    ap.add_argument("--demo", choices=sorted(DEMOS), default=None)
    ap.add_argument("--n", type=int, default=10, help="pairs for --demo")
    ap.add_argument("--name", required=True, help="style id: lower-case letters, digits and '-'")
    ap.add_argument("--label", default=None, help="display name (default: the id)")
    ap.add_argument("--minutes", type=float, default=5.0, help="optimisation time budget")
    ap.add_argument("--steps", type=int, default=None, help="step cap (default: none, the budget decides)")
    ap.add_argument("--lr", type=float, default=3e-2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: on 2 shared cores a second thread mostly spins)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--detail", action="store_true", help="losses through the full-resolution detail path (2x slower)")
    ap.add_argument("--weights", default=None, help="editor state_dict (default: assets/editor/editor.pt)")
    ap.add_argument("--out", default=os.path.join(ASSETS, "styles"))
    ap.add_argument("--progress", action="store_true", help="JSON lines on stdout")
    args = ap.parse_args(argv)
    rep = Reporter(args.progress)
    try:
        return run(args, rep)
    except AdaptInputError as e:
        rep.emit("error", message=str(e), code=2)
        if not args.progress:
            print(f"adapt: {e}", file=sys.stderr)
        return 2


def run(args, rep: Reporter) -> int:
    if not NAME_RE.match(args.name):
        raise AdaptInputError(f"bad style id {args.name!r}: lower-case letters, digits and '-' (1-64)")
    if (args.pairs is None) == (args.demo is None):
        raise AdaptInputError("give --pairs DIR or --demo NAME")
    if not 0 < args.minutes <= 60:
        raise AdaptInputError("--minutes must be in (0, 60]")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rep.emit("phase", phase="loading")
    model, teacher, weights = load_models(args.weights)
    skipped = []
    rep.emit("phase", phase="faces")
    if args.demo:
        items = demo_pairs(args.demo, args.n)
    else:
        if not os.path.isdir(args.pairs):
            raise AdaptInputError(f"not a folder: {args.pairs}")
        pairs, problems = list_pairs(args.pairs)
        skipped += problems
        if len(pairs) > MAX_PAIRS:
            raise AdaptInputError(f"{len(pairs)} pairs: at most {MAX_PAIRS}")
        if len(pairs) < MIN_PAIRS:
            raise AdaptInputError(f"{len(pairs)} pair{'s' if len(pairs) != 1 else ''} found: at least {MIN_PAIRS} are needed"
                                  + (f" ({'; '.join(problems[:3])})" if problems else ""))
        items, bad = analyse_pairs(pairs, log=lambda i, n: rep.emit("faces", done=i, total=n))
        skipped += bad
    rep.emit("pairs", usable=len(items), skipped=skipped)
    if len(items) < MIN_PAIRS:
        raise AdaptInputError(f"only {len(items)} usable pair(s): at least {MIN_PAIRS} are needed ({'; '.join(skipped[:3])})")
    img, aft, cam, vcams = tensors(items)
    budget = args.minutes * 60
    rep.emit("phase", phase="training", budget=budget)

    def on_step(s, el, loss, _t, _n):
        rep.progress(s, el, budget, loss)
        return False

    t0 = time.time()
    tokens, norm, loss = adapt(model, teacher, img, cam, aft, vcams, steps=args.steps, lr=args.lr, seconds=budget, on_step=on_step,
                               batch=args.batch, detail=args.detail)
    rep.progress(adapt.last_steps, adapt.last_seconds, budget, loss, every=0)
    meta = {"label": (args.label or args.name)[:60], "pairs": len(items), "steps": adapt.last_steps,
            "seconds": round(adapt.last_seconds, 1), "wall_seconds": round(time.time() - t0, 1), "minutes": args.minutes,
            "final_loss": round(loss, 5), "source": args.demo or "pairs", "skipped": skipped[:20],
            "editor": {"onnx": file_hash(os.path.join(ASSETS, "editor.onnx")), "weights": file_hash(weights)},
            "createdAt": int(time.time() * 1000)}
    full = write_style(args.out, args.name, tokens, norm, meta)
    rep.emit("done", meta=full)
    if not args.progress:
        print(json.dumps(full))
    return 0


if __name__ == "__main__":
    sys.exit(main())
