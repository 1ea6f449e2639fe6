"""Measure the teachers and make the contact sheets.

python scripts/report.py  ->  docs/teacher-styles.jpg, docs/teacher-turntable.jpg, docs/teachers-report.json
(prints a markdown summary; docs/teachers.md quotes it)
"""
import json
import os
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

torch.set_num_threads(1)
from pe_teachers import build_dataset, face, identity, lift, prompts, styles  # noqa: E402
from pe_teachers.imageio import load_rgb  # noqa: E402

REPO = build_dataset.REPO_ROOT
TD = build_dataset.DEFAULT_TESTDATA
DOCS = os.path.join(REPO, "docs")


def label(im, text):
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, im.size[0], 14], fill=(0, 0, 0))
    d.text((3, 1), text, fill=(255, 255, 255))
    return im


def main():
    rep = {}
    # --- text prompts
    ts = prompts.text_selector()
    C = ts.confusion("test")
    rep["text_heldout_accuracy"] = float(np.trace(C) / C.sum())
    rep["text_train_accuracy"] = float(np.trace(ts.confusion("train")) / ts.confusion("train").sum())
    rep["text_confusion"] = {"labels": styles.NAMES, "matrix": C.tolist()}
    wrong = []
    for n in styles.NAMES:
        for t in styles.STYLES[n].test_prompts:
            got = ts.select(t)[0]
            if got != n:
                wrong.append([t, n, got])
    rep["text_errors"] = wrong
    # --- portraits
    ports = {i: face.analyse(load_rgb(os.path.join(TD, "faces", f"ffhq-{i}.png"))) for i in range(1, 11)}
    # --- image prompts: styles applied to the training faces 1..8 vs refs (made on 9, 10, d12)
    isel = prompts.image_selector()
    ok = tot = 0
    for i in range(1, 9):
        p = ports[i]
        for n in styles.NAMES:
            ok += isel.select(styles.apply(p.crop, n, 1.0, p.masks))[0] == n
            tot += 1
    rep["image_prompt_accuracy"] = ok / tot
    ref_map = {}
    for k in range(1, 11):
        r = load_rgb(os.path.join(TD, "styles", f"ref-{k}.png"))
        try:
            r = face.analyse(r).crop
        except Exception:
            pass
        ref_map[f"ref-{k}.png"] = isel.select(r)[0]
    rep["testdata_style_refs_mapped_to"] = ref_map
    # --- timings + identity per style (source view) on faces 1..10
    tim = {n: [] for n in styles.NAMES}
    idc = {n: [] for n in styles.NAMES}
    idd = {n: [] for n in styles.NAMES}
    sheet_rows = []
    for i in range(1, 11):
        p = ports[i]
        e0 = identity.embed(p.crop, p.lm[:468, :2])
        row = [label(Image.fromarray(p.crop).resize((128, 128), Image.LANCZOS), f"ffhq-{i}")]
        for n in styles.NAMES:
            t = time.perf_counter()
            out = styles.apply(p.crop, n, 1.0, p.masks)
            tim[n].append(time.perf_counter() - t)
            e1 = identity.embed(out, p.lm[:468, :2])
            idc[n].append(identity.cosine(e0, e1))
            idd[n].append(identity.distance(e0, e1))
            row.append(label(Image.fromarray(out).resize((128, 128), Image.LANCZOS), n if i == 1 else ""))
        sheet_rows.append(row)
    rep["style_ms"] = {n: round(1000 * float(np.median(v)), 1) for n, v in tim.items()}
    rep["identity_cosine_by_style"] = {n: round(float(np.mean(v)), 4) for n, v in idc.items()}
    rep["identity_distance_by_style"] = {n: round(float(np.mean(v)), 4) for n, v in idd.items()}
    # different people, for scale
    E = [identity.embed(ports[i].crop, ports[i].lm[:468, :2]) for i in range(1, 11)]
    cross = [identity.cosine(E[a], E[b]) for a in range(10) for b in range(a + 1, 10)]
    crossd = [identity.distance(E[a], E[b]) for a in range(10) for b in range(a + 1, 10)]
    rep["identity_cosine_different_people"] = round(float(np.mean(cross)), 4)
    rep["identity_distance_different_people"] = round(float(np.mean(crossd)), 4)
    W = 128 * (len(styles.NAMES) + 1)
    sheet = Image.new("RGB", (W, 128 * 10))
    for r, row in enumerate(sheet_rows):
        for c, im in enumerate(row):
            sheet.paste(im, (c * 128, r * 128))
    sheet.save(os.path.join(DOCS, "teacher-styles.jpg"), quality=88)
    # --- 3D consistency: identity between +-20 deg yaw views and the source view; timings
    yaws = [-30, -20, -10, 0, 10, 20, 30]
    cons, cons_d, tgeo, trend, cov = [], [], [], [], []
    cons_styled = {n: [] for n in ("golden_statue", "sepia", "zombie")}
    for i in range(1, 11):
        p = ports[i]
        t = time.perf_counter()
        geo = lift.source_geometry(p)
        tgeo.append(time.perf_counter() - t)
        wl = lift.landmarks_world(p, geo)
        src = lift.render_source(p, geo=geo)
        e0 = identity.embed(src.image, p.lm[:468, :2])
        for y in (-20, 20):
            t = time.perf_counter()
            v = lift.render(p, y, p.pitch, geo=geo)
            trend.append(time.perf_counter() - t)
            cov.append(v.coverage.mean())
            px, py, _ = lift.project(wl[:468], __import__("pe_teachers.camera", fromlist=["x"]).cam2world(y, p.pitch), 256)
            pts = np.stack([px, py], 1)
            e1 = identity.embed(v.image, pts)
            cons.append(identity.cosine(e0, e1))
            cons_d.append(identity.distance(e0, e1))
            for n in cons_styled:
                ed = styles.apply(p.crop, n, 1.0, p.masks)
                es = identity.embed(lift.render_source(p, image=ed, geo=geo).image, p.lm[:468, :2])
                ev = identity.embed(lift.render(p, y, p.pitch, image=ed, geo=geo).image, pts)
                cons_styled[n].append(identity.cosine(es, ev))
    rep["lift_geometry_ms"] = round(1000 * float(np.median(tgeo)), 1)
    rep["lift_render_ms"] = round(1000 * float(np.median(trend)), 1)
    rep["lift_coverage_pm20"] = round(float(np.mean(cov)), 4)
    rep["identity_cosine_pm20_vs_source"] = round(float(np.mean(cons)), 4)
    rep["identity_distance_pm20_vs_source"] = round(float(np.mean(cons_d)), 4)
    rep["identity_cosine_pm20_vs_source_styled"] = {n: round(float(np.mean(v)), 4) for n, v in cons_styled.items()}
    tt = Image.new("RGB", (192 * len(yaws), 192 * 3))
    for r, i in enumerate((1, 3, 6)):
        p = ports[i]
        geo = lift.source_geometry(p)
        for c, y in enumerate(yaws):
            v = lift.render(p, y, 0, geo=geo)
            tt.paste(label(Image.fromarray(v.image).resize((192, 192), Image.LANCZOS), f"yaw {y:+d}" if r == 0 else ""),
                     (c * 192, r * 192))
    tt.save(os.path.join(DOCS, "teacher-turntable.jpg"), quality=90)
    with open(os.path.join(DOCS, "teachers-report.json"), "w") as fh:
        json.dump(rep, fh, indent=1)
    print(json.dumps({k: v for k, v in rep.items() if k != "text_confusion"}, indent=1))


if __name__ == "__main__":
    main()
