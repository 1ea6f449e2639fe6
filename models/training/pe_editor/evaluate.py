"""Issue 5's evaluation: the exported 3DPE editor vs the teacher engine on held-out faces.

python -m pe_editor.evaluate [--assets ../assets/editor] [--json out.json] [--faces N]

Faces: testdata faces/ffhq-9.png, faces/ffhq-10.png and frames 0 and 100 of video/talking-d12.mp4
(held out of the training cache). Prompts: the 5 HELD-OUT phrasings of each of the 14 styles
(phrasing k = face index mod 5), tokens from the exported prompt bank (MiniLM -> text_proj,
the same tokens the Node runtime uses). The editor runs in onnxruntime (Python, 2 threads),
exactly the committed graph.

Measures (dlib ResNet face descriptor, as docs/teachers.md; landmarks placed by the mesh):
  identity      cosine(input crop, source-view output), mean over faces x styles
  3D consistency cosine between the yaw -20 and +20 views and the yaw 0 view (pitch = the
                source's), mean over the two pairs; 3dpe: the views a call shows (Editor.view, with the
                mesh depth of the face's own landmarks, as the call's tracker gives it); teacher: 2D
                edit lifted by the 3D teacher
  style L1      mean |output - teacher edit| at the source view, 256^2, in [0,1] units; for scale,
                `input L1` = |input - teacher edit| (what no edit at all scores)
  recon L1      the editor with no prompt (null tokens) vs the input, source view
  temporal      on talking-d12 (held out): consecutive frames whose aligned input crops barely changed
                (mean |delta| below the clip's median): mean |output_t - output_t+1| (x255), 3dpe vs
                the teacher's 2D edit of each frame; lower = steadier. Per-frame, no smoothing either side.
  ms            editor per call (one view, 256^2 in/out) vs teacher: stylizer + lift per view

The JSON keeps the old keys and adds {"engines": {"3dpe": {identity, consistency3d, styleFidelity,
temporal, msPerImage}, "teacher": {...}}, "perStyle": [...]} (styleFidelity = 1 - L1 to the teacher's
edit, so the teacher scores 1 by construction).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np

from pe_teachers import camera, face, identity, lift, styles

from .export import DEFAULT_OUT, editor_feed, ort_session
from .mesh_depth import mesh_depth
from .model import IMG

TESTDATA = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "testdata"))


def held_out_faces():
    out = []
    for f in ("ffhq-9.png", "ffhq-10.png"):
        out.append((f[:-4], cv2.cvtColor(cv2.imread(os.path.join(TESTDATA, "faces", f)), cv2.COLOR_BGR2RGB)))
    cap = cv2.VideoCapture(os.path.join(TESTDATA, "video", "talking-d12.mp4"))
    k = 0
    while True:
        ok, fr = cap.read()
        if not ok:
            break
        if k in (0, 100):
            out.append((f"talking-d12-f{k}", cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)))
        k += 1
        if k > 100:
            break
    cap.release()
    return out


class Bank:
    def __init__(self, d):
        self.meta = json.load(open(os.path.join(d, "prompts.json")))
        self.data = np.fromfile(os.path.join(d, "prompts.bin"), np.float32)
        k, dd = self.meta["k"], self.meta["d"]
        self.norm = self.data[:self.meta["normDim"]][None]
        self.tok = {(e["style"], e["text"]): self.data[e["offset"]:e["offset"] + k * dd].reshape(1, k, dd)
                    for e in self.meta["phrasings"]}
        self.k, self.d = k, dd


def to_in(crop256):
    x = cv2.resize(crop256, (IMG, IMG), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return x.transpose(2, 0, 1)[None].copy()


def to_img(rgb, size=256):
    x = (np.clip(rgb[0].transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    return cv2.resize(x, (size, size), interpolation=cv2.INTER_CUBIC) if size != x.shape[0] else x


def clip_frames(name="talking-d12.mp4", n=40, step=1):
    cap = cv2.VideoCapture(os.path.join(TESTDATA, "video", name))
    out, k = [], 0
    while len(out) < n:
        ok, fr = cap.read()
        if not ok:
            break
        if k % step == 0:
            out.append(cv2.cvtColor(fr, cv2.COLOR_BGR2RGB))
        k += 1
    cap.release()
    return out


def temporal(run, bank, frames, style_names):
    """-> {'3dpe': mean output change, 'teacher': ..., 'input': ..., 'pairs': n} (x255) on the steady pairs."""
    crops, srcs, masks = [], [], []
    for f in frames:
        p = face.analyse(f)
        if p is None:
            continue
        crops.append(p.crop); srcs.append(camera.label(p.yaw, p.pitch)); masks.append(p.masks)
    din = [float(np.abs(crops[i].astype(np.float32) - crops[i + 1]).mean()) for i in range(len(crops) - 1)]
    if not din:
        return None
    thr = float(np.median(din))
    steady = [i for i, d in enumerate(din) if d <= thr]
    o3, ot = [], []
    for s in style_names:
        tok = bank.tok[(s, styles.STYLES[s].test_prompts[0])]
        outs = [run(to_in(c), src, src, tok)[0][0] for c, src in zip(crops, srcs)]
        teds = [styles.apply(c, s, 1.0, m).astype(np.float32) for c, m in zip(crops, masks)]
        for i in steady:
            o3.append(float(np.abs(outs[i] - outs[i + 1]).mean()) * 255)
            ot.append(float(np.abs(teds[i] - teds[i + 1]).mean()))
    return {"3dpe": round(float(np.mean(o3)), 3), "teacher": round(float(np.mean(ot)), 3),
            "input": round(float(np.mean([din[i] for i in steady])), 3), "pairs": len(steady),
            "styles": list(style_names), "clip": "talking-d12.mp4", "frames": len(crops)}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=DEFAULT_OUT)
    ap.add_argument("--json", default=None)
    ap.add_argument("--faces", type=int, default=4)
    ap.add_argument("--adapted", default="ocean", help="an adapted style in ASSETS/styles made by adapt --demo")
    ap.add_argument("--frames", type=int, default=30, help="frames of talking-d12 for the temporal measure")
    args = ap.parse_args(argv)
    sess = ort_session(os.path.join(args.assets, "editor.onnx"), threads=2)
    bank = Bank(args.assets)
    null = np.zeros((1, bank.k, bank.d), np.float32)

    def run(x, src, tgt, tok, p=None):
        """p: the Portrait, whose crop landmarks give the mesh depth at a novel view (as the call's tracker)"""
        t = time.perf_counter()
        md = None if p is None or tgt is src else mesh_depth(p.lm, p.size, src, tgt)[None, None]
        r = sess.run(None, editor_feed(sess, x, src[None], tgt[None], tok, bank.norm, md))
        return r[0], time.perf_counter() - t

    R = {k: [] for k in ("id_3dpe", "id_teacher", "cons_3dpe", "cons_teacher", "l1_3dpe", "l1_input",
                         "recon_l1", "ms_3dpe", "ms_teacher_2d", "ms_teacher_view", "cons_recon_3dpe")}
    per_style = {s: {"id_3dpe": [], "id_teacher": [], "l1_3dpe": [], "l1_input": []} for s in styles.NAMES}
    faces = held_out_faces()[:args.faces]
    for fi, (name, img) in enumerate(faces):
        p = face.analyse(img)
        if p is None:
            continue
        geo = lift.source_geometry(p)
        wl = lift.landmarks_world(p, geo)
        src = camera.label(p.yaw, p.pitch)
        cams = {y: camera.label(y, p.pitch) for y in (-20, 0, 20)}
        pts = {}
        for y in (-20, 0, 20):
            px, py, _ = lift.project(wl[:468], camera.cam2world(y, p.pitch), 256)
            pts[y] = np.stack([px, py], 1)
        lm = p.lm[:468, :2]
        e_in = identity.embed(p.crop, lm)
        x = to_in(p.crop)
        rec, _ = run(x, src, src, null)
        R["recon_l1"].append(float(np.abs(rec - x).mean()))
        er = {y: identity.embed(to_img(run(x, src, cams[y], null, p)[0]), pts[y]) for y in (-20, 0, 20)}
        R["cons_recon_3dpe"].append(np.mean([identity.cosine(er[0], er[-20]), identity.cosine(er[0], er[20])]))
        for s in styles.NAMES:
            phr = styles.STYLES[s].test_prompts[fi % 5]
            tok = bank.tok[(s, phr)]
            t = time.perf_counter()
            ted = styles.apply(p.crop, s, 1.0, p.masks)
            R["ms_teacher_2d"].append(time.perf_counter() - t)
            out, dt = run(x, src, src, tok)
            R["ms_3dpe"].append(dt)
            t128 = to_in(ted)
            l1, l1i = float(np.abs(out - t128).mean()), float(np.abs(x - t128).mean())
            i3, it = identity.cosine(e_in, identity.embed(to_img(out), lm)), identity.cosine(e_in, identity.embed(ted, lm))
            for k, v in (("l1_3dpe", l1), ("l1_input", l1i), ("id_3dpe", i3), ("id_teacher", it)):
                R[k].append(v); per_style[s][k].append(v)
            e3 = {y: identity.embed(to_img(run(x, src, cams[y], tok, p)[0]), pts[y]) for y in (-20, 0, 20)}
            R["cons_3dpe"].append(np.mean([identity.cosine(e3[0], e3[-20]), identity.cosine(e3[0], e3[20])]))
            et = {}
            for y in (-20, 0, 20):
                t = time.perf_counter()
                v = lift.render(p, y, p.pitch, image=ted, geo=geo)
                R["ms_teacher_view"].append(time.perf_counter() - t)
                et[y] = identity.embed(v.image, pts[y])
            R["cons_teacher"].append(np.mean([identity.cosine(et[0], et[-20]), identity.cosine(et[0], et[20])]))
        print(f"{name}: done", flush=True)
    m = lambda v: round(float(np.mean(v)), 4)
    med = lambda v: round(1000 * float(np.median(v)), 1)
    adapted = adapted_eval(args, sess, bank, faces)
    temp = temporal(run, bank, clip_frames(n=args.frames), ("golden_statue", "zombie", "pencil_sketch")) if args.frames > 1 else None
    rep = {
        "faces": [n for n, _ in faces], "cases": len(R["id_3dpe"]),
        "prompts": "held-out phrasings (5 per style, k = face index mod 5)",
        "identity": {"3dpe": m(R["id_3dpe"]), "teacher": m(R["id_teacher"])},
        "consistency_pm20": {"3dpe": m(R["cons_3dpe"]), "teacher": m(R["cons_teacher"]),
                             "3dpe_no_prompt": m(R["cons_recon_3dpe"])},
        "style_l1": {"3dpe_vs_teacher": m(R["l1_3dpe"]), "input_vs_teacher": m(R["l1_input"])},
        "recon_l1_no_prompt": m(R["recon_l1"]),
        "ms": {"3dpe_editor_onnxruntime_py_2threads": med(R["ms_3dpe"]),
               "teacher_stylizer": med(R["ms_teacher_2d"]), "teacher_lift_per_view": med(R["ms_teacher_view"])},
        "per_style": {s: {k: m(v) for k, v in d.items()} for s, d in per_style.items()},
        "identity_note": "dlib descriptor cosine; different people average 0.849 on the testdata faces",
        "adapted_style": adapted,
        "temporal": temp,
    }
    rep["engines"] = {
        "3dpe": {"identity": rep["identity"]["3dpe"], "consistency3d": rep["consistency_pm20"]["3dpe"],
                 "styleFidelity": round(1 - rep["style_l1"]["3dpe_vs_teacher"], 4),
                 "temporal": temp and temp["3dpe"], "msPerImage": rep["ms"]["3dpe_editor_onnxruntime_py_2threads"]},
        "teacher": {"identity": rep["identity"]["teacher"], "consistency3d": rep["consistency_pm20"]["teacher"],
                    "styleFidelity": 1.0, "temporal": temp and temp["teacher"],
                    "msPerImage": round(rep["ms"]["teacher_stylizer"] + 3 * rep["ms"]["teacher_lift_per_view"], 1)},
    }
    rep["perStyle"] = [{"style": s, "identity3dpe": m(per_style[s]["id_3dpe"]),
                        "identityTeacher": m(per_style[s]["id_teacher"]),
                        "styleFidelity3dpe": round(1 - m(per_style[s]["l1_3dpe"]), 4),
                        "styleFidelityInput": round(1 - m(per_style[s]["l1_input"]), 4)}
                       for s, d in rep["per_style"].items()]
    s = json.dumps(rep, indent=1)
    print(s)
    if args.json:
        open(args.json, "w").write(s)
    return rep


def adapted_eval(args, sess, bank, faces):
    """L1 to the demo transform on the held-out faces: adapted tokens+norm vs the best of the 14 bank
    styles' tokens (held-out phrasing 0) vs no edit."""
    from .adapt import DEMOS

    meta_p = os.path.join(args.assets, "styles", f"{args.adapted}.json")
    if not os.path.exists(meta_p):
        return None
    meta = json.load(open(meta_p))
    blob = np.fromfile(os.path.join(args.assets, "styles", f"{args.adapted}.bin"), np.float32)
    tok = blob[meta["tokensOffset"]:meta["tokensOffset"] + bank.k * bank.d].reshape(1, bank.k, bank.d)
    norm = blob[meta["normOffset"]:meta["normOffset"] + meta["normDim"]][None]
    demo = DEMOS[meta["source"]]
    la, lb, ln = [], {s: [] for s in styles.NAMES}, []
    for _, img in faces:
        p = face.analyse(img)
        x, src = to_in(p.crop), camera.label(p.yaw, p.pitch)
        tgt = to_in(demo(p.crop))
        la.append(float(np.abs(sess.run(None, editor_feed(sess, x, src[None], src[None], tok, norm))[0] - tgt).mean()))
        for s in styles.NAMES:
            t = bank.tok[(s, styles.STYLES[s].test_prompts[0])]
            lb[s].append(float(np.abs(sess.run(None, editor_feed(sess, x, src[None], src[None], t, bank.norm))[0] - tgt).mean()))
        ln.append(float(np.abs(x - tgt).mean()))
    best = min(lb, key=lambda s: np.mean(lb[s]))
    return {"name": args.adapted, "transform": meta["source"], "pairs": meta["pairs"], "steps": meta["steps"],
            "l1_adapted": round(float(np.mean(la)), 4), "l1_best_bank_style": round(float(np.mean(lb[best])), 4),
            "best_bank_style": best, "l1_unedited_input": round(float(np.mean(ln)), 4)}


if __name__ == "__main__":
    main()
