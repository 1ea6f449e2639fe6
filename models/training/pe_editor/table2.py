"""The paper's Table 2 on our editor: distance to the ground truth of a held-out style after 0.1, 1,
2 and 5 minutes of adaptation (pe_editor.adapt) with 2, 5, 10, 20 and 50 pairs.

python -m pe_editor.table2 [--demo colormap_ocean] [--pairs 2,5,10,20,50] [--marks 0.1,1,2,5]
                           [--threads 2] [--json ../../docs/adaptation-table2.json]
                           [--md ../../docs/adaptation-table2.md] [--png ../../docs/adaptation-table2.png]

Style: a transform none of the 14 trained stylizers makes (adapt.DEMOS; default OpenCV's 'ocean'
colour map of the luminance), i.e. a teacher outside the bank. Training pairs: real portraits that
are not evaluation faces (adapt.demo_pairs: FFHQ 1-8, then frames of the training clips); the n-pair
sets are nested (the first n of 50). Evaluation: the held-out faces (ffhq-9, ffhq-10, talking-d12
frames 0/50/100/150), never seen in training or adaptation; ground truth = the transform applied to
the face's aligned crop; output = the editor at the source view with the adapted tokens + norm
(the PyTorch twin of the exported graph).

Distances (mean over the evaluation faces, IMG^2, [0, 1] units): L1 (pixel) and DSSIM = (1 - SSIM) / 2
(structural; 11x11 Gaussian window). The paper reports LPIPS; no pretrained perceptual network is
available offline here, so DSSIM stands in for it. Time = optimisation time only (snapshots are
evaluated with the clock stopped), on whatever the machine gives: this runs on 2 shared CPU cores.

Results are appended to the JSON as each configuration finishes (a re-run skips the finished ones
unless --fresh), then the markdown table and the plot are written.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import adapt as A
from .model import IMG

DOCS = os.path.normpath(os.path.join(A.HERE, "..", "..", "docs"))


def eval_faces():
    from pe_teachers import face

    ims = [(f"ffhq-{i}", cv2.cvtColor(cv2.imread(os.path.join(A.TESTDATA, "faces", f"ffhq-{i}.png")), cv2.COLOR_BGR2RGB)) for i in (9, 10)]
    cap = cv2.VideoCapture(os.path.join(A.TESTDATA, "video", "talking-d12.mp4"))
    k = 0
    while k <= 150:
        ok, fr = cap.read()
        if not ok:
            break
        if k in (0, 50, 100, 150):
            ims.append((f"talking-d12-f{k}", cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)))
        k += 1
    cap.release()
    out = []
    for name, im in ims:
        p = face.analyse(im)
        crop = p.crop if p.crop.shape[0] == IMG else cv2.resize(p.crop, (IMG, IMG), interpolation=cv2.INTER_AREA)
        out.append((name, crop, p.camera_label()))
    return out


def _gauss(size=11, sigma=1.5):
    g = torch.exp(-((torch.arange(size) - size // 2) ** 2).float() / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None].repeat(3, 1, 1, 1)


def ssim(x, y, w=None):
    """x, y (B,3,H,W) in [0,1] -> per-image mean SSIM (B,)."""
    w = _gauss() if w is None else w
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    f = lambda t: F.conv2d(t, w, groups=3)
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return s.mean((1, 2, 3))


class Evaluator:
    def __init__(self, model, faces, demo):
        self.model = model
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float() / 255.0
        self.x = torch.stack([t(c) for _, c, _ in faces])
        self.gt = torch.stack([t(A.DEMOS[demo](c)) for _, c, _ in faces])
        self.cam = torch.stack([torch.from_numpy(np.asarray(c, np.float32)) for _, _, c in faces])
        self.w = _gauss()

    @torch.no_grad()
    def __call__(self, tokens, norm):
        n = self.x.shape[0]
        pl = self.model.encode(self.x, self.cam, tokens.expand(n, -1, -1), norm[None].expand(n, -1))
        rgb, _, _ = A.render(self.model, pl, self.cam, self.x, self.cam)
        rgb = rgb.clamp(0, 1)
        gt = self.gt if rgb.shape[-1] == self.gt.shape[-1] else F.interpolate(self.gt, size=rgb.shape[-1], mode="area")
        return {"l1": float((rgb - gt).abs().mean()), "dssim": float(((1 - ssim(rgb, gt, self.w)) / 2).mean())}

    def unedited(self):
        return {"l1": float((self.x - self.gt).abs().mean()), "dssim": float(((1 - ssim(self.x, self.gt, self.w)) / 2).mean())}


def run_config(model, teacher, items, ev, marks_s, lr, log, batch=2, detail=False):
    img, aft, cam, vcams = A.tensors(items)
    todo = sorted(marks_s)
    snaps = []

    def on_step(s, el, loss, tok, norm):
        while todo and el >= todo[0]:
            m = todo.pop(0)
            d = ev(tok, norm)
            snaps.append({"mark_s": m, "elapsed_s": round(el, 2), "step": s, "loss": round(loss, 5), **{k: round(v, 5) for k, v in d.items()}})
            log(f"    {m / 60:g} min (step {s}): L1 {d['l1']:.4f}  DSSIM {d['dssim']:.4f}")
        if s % 50 == 0:
            log(f"    step {s}  {el:6.1f}/{marks_s[-1]:.0f} s  loss {loss:.4f}")
        return not todo

    t0 = time.time()
    A.adapt(model, teacher, img, cam, aft, vcams, steps=None, seconds=marks_s[-1] + 1e-3, lr=lr, on_step=on_step,
            batch=batch, detail=detail)
    return {"snapshots": snaps, "steps": A.adapt.last_steps, "wall_s": round(time.time() - t0, 1),
            "s_per_step": round(A.adapt.last_seconds / max(1, A.adapt.last_steps), 4)}


def write_docs(rep, md_path, png_path):
    marks = rep["marks_min"]
    lines = [
        "# Adaptation speed: the paper's Table 2 on our editor",
        "",
        f"Generated by `python -m pe_editor.table2` ({rep['date']}, {rep['machine']}). Held-out style: **{rep['demo']}**",
        "(a transform none of the 14 trained stylizers makes). Pairs: real portraits that are not evaluation faces;",
        f"evaluation: {len(rep['eval_faces'])} held-out faces ({', '.join(rep['eval_faces'])}) at the source view.",
        "Only the prompt tokens and E_high's normalisation affine are optimised (paper Sec. 3.3, Eq. 7); the",
        f"editor weights are `{rep['weights']}` (sha256 {rep['editor']['weights']}, editor.onnx {rep['editor']['onnx']}).",
        "Time is optimisation time on **2 shared CPU cores** (other engineers' training and tests ran at the",
        "same time, so steps per minute varied; see `s/step`).",
        "",
        "The paper reports LPIPS; no pretrained perceptual network exists offline here, so the distances are",
        "pixel L1 and DSSIM = (1 − SSIM)/2, both in [0, 1] image units, mean over the evaluation faces.",
        "",
    ]
    for metric, title in (("l1", "L1"), ("dssim", "DSSIM")):
        lines += [f"## {title} to the ground truth", "", "| #pairs / time | " + " | ".join(f"{m:g} min" for m in marks) + " | steps | s/step |",
                  "|---|" + "---|" * (len(marks) + 2)]
        for r in rep["rows"]:
            vals = {round(s["mark_s"] / 60, 3): s[metric] for s in r["snapshots"]}
            lines.append(f"| {r['pairs']} | " + " | ".join(f"{vals[round(m, 3)]:.4f}" if round(m, 3) in vals else "–" for m in marks)
                         + f" | {r['steps']} | {r['s_per_step']:.3f} |")
        lines += ["", f"For scale: the unedited input scores {rep['unedited'][metric]:.4f}; the editor with no prompt (t = 0) "
                      f"{rep['t0'][metric]:.4f}.", ""]
    sps = [r["s_per_step"] for r in rep["rows"] if r.get("s_per_step")]
    notes = []
    if sps and max(sps) > 2 * min(sps):
        notes.append(f"- **Throughput differed {max(sps) / min(sps):.0f}x between rows** ({min(sps):.2f} to {max(sps):.2f} s per step: "
                     "the load other work put on the shared cores changed during the run), so the rows differ in the number of "
                     "steps as much as in the number of pairs: compare rows by their `steps` too, not only by the time columns.")
    u, ed = rep["unedited"]["dssim"], min(s["dssim"] for r in rep["rows"] for s in r["snapshots"])
    if u < ed:
        notes.append(f"- On DSSIM the unedited input ({u:.4f}) is closer to the ground truth than any output ({ed:.4f} at best): the "
                     "editor's renders are blurrier than their input (models/MODEL_CARD.md), and structure is what SSIM measures; "
                     "the held-out style is a colour mapping, which L1 sees and SSIM barely does. DSSIM hardly moves with adaptation.")
    if notes:
        lines += ["## Reading it", ""] + notes + [""]
    crit = rep.get("criterion")
    if crit:
        lines += ["## The issue's target", "",
                  f"With {crit['pairs']} pairs: L1 at 2 min {crit['at_2']:.4f} vs at 5 min {crit['at_5']:.4f} → "
                  f"{100 * crit['ratio'] - 100:+.1f} % ({'within' if crit['ok'] else 'NOT within'} 10 %).", ""]
    for extra in rep.get("notes", []):
        lines += [extra, ""]
    lines += ["![distance vs adaptation time](adaptation-table2.png)", "",
              "Raw numbers: `docs/adaptation-table2.json`."]
    open(md_path, "w").write("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric, title in ((axs[0], "l1", "L1"), (axs[1], "dssim", "DSSIM")):
        for r in rep["rows"]:
            xs = [0] + [s["elapsed_s"] / 60 for s in r["snapshots"]]
            ys = [rep["t0"][metric]] + [s[metric] for s in r["snapshots"]]
            ax.plot(xs, ys, marker="o", label=f"{r['pairs']} pairs")
        ax.axhline(rep["unedited"][metric], color="gray", ls="--", lw=1, label="unedited input")
        ax.set_xlabel("adaptation time (min, 2 CPU cores)")
        ax.set_ylabel(f"{title} to ground truth (held-out faces)")
        ax.set_title(f"{title}: held-out style '{rep['demo']}'")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", default="colormap_ocean", choices=sorted(A.DEMOS))
    ap.add_argument("--pairs", default="2,5,10,20,50")
    ap.add_argument("--marks", default="0.1,1,2,5", help="minutes")
    ap.add_argument("--lr", type=float, default=3e-2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--detail", action="store_true")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", default=os.path.join(DOCS, "adaptation-table2.json"))
    ap.add_argument("--md", default=os.path.join(DOCS, "adaptation-table2.md"))
    ap.add_argument("--png", default=os.path.join(DOCS, "adaptation-table2.png"))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--docs-only", action="store_true", help="rewrite the markdown and the plot from the JSON")
    args = ap.parse_args(argv)
    if args.docs_only:
        write_docs(json.load(open(args.json)), args.md, args.png)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log = lambda s: print(s, file=sys.stderr, flush=True)
    marks = [float(m) for m in args.marks.split(",")]
    ns = [int(n) for n in args.pairs.split(",")]
    model, teacher, weights = A.load_models(args.weights)
    editor = {"onnx": A.file_hash(os.path.join(A.ASSETS, "editor.onnx")), "weights": A.file_hash(weights)}
    rep = None
    if os.path.exists(args.json) and not args.fresh:
        rep = json.load(open(args.json))
        if (rep.get("editor") != editor or rep.get("marks_min") != marks or rep.get("demo") != args.demo
                or rep.get("batch") != args.batch or rep.get("detail") != args.detail or rep.get("threads") != args.threads):
            log("existing JSON is for other weights/marks/style: starting fresh")
            rep = None
    log("analysing faces…")
    faces = eval_faces()
    ev = Evaluator(model, faces, args.demo)
    pool = A.demo_pairs(args.demo, max(ns))
    if len(pool) < max(ns):
        log(f"only {len(pool)} usable training portraits; the largest sets are capped")
    if rep is None:
        z = A.null_tokens(1)
        rep = {"demo": args.demo, "marks_min": marks, "editor": editor, "weights": os.path.relpath(weights, os.path.join(A.HERE, "..", "..")),
               "eval_faces": [n for n, _, _ in faces], "lr": args.lr, "threads": args.threads, "batch": args.batch, "detail": args.detail,
               "unedited": ev.unedited(), "t0": ev(z, model.default_norm.detach()), "rows": []}
    rep["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rep["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} thread{'s' if args.threads > 1 else ''}"
    done = {r["pairs"] for r in rep["rows"]}
    for n in ns:
        if n in done:
            log(f"{n} pairs: already in {args.json}, skipped")
            continue
        items = pool[:n]
        log(f"{n} pairs ({len(items)} usable), {marks[-1]:g} min…")
        r = run_config(model, teacher, items, ev, [m * 60 for m in marks], args.lr, log, args.batch, args.detail)
        rep["rows"].append({"pairs": n, "usable": len(items), **r})
        rep["rows"].sort(key=lambda r: r["pairs"])
        json.dump(rep, open(args.json, "w"), indent=1)
    ten = next((r for r in rep["rows"] if r["pairs"] == 10), None)
    if ten:
        by = {round(s["mark_s"] / 60, 3): s["l1"] for s in ten["snapshots"]}
        if 2.0 in by and marks[-1] in by:
            ratio = by[2.0] / by[round(marks[-1], 3)]
            rep["criterion"] = {"pairs": 10, "at_2": by[2.0], "at_5": by[round(marks[-1], 3)], "ratio": round(ratio, 4), "ok": abs(ratio - 1) <= 0.10}
    json.dump(rep, open(args.json, "w"), indent=1)
    write_docs(rep, args.md, args.png)
    log(f"wrote {args.json}, {args.md}, {args.png}")


if __name__ == "__main__":
    main()
