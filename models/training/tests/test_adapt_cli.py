"""Style adaptation as a product (issue 7): pairing rules, the time budget, the teacher derived from
one state_dict, the CLI's outputs and its refusals, and the Table 2 distances."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from pe_editor import adapt as A
from pe_editor import model as M
from conftest import TESTDATA, TRAINING, face_path


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _touch(p, data=b"x"):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(data)


def test_list_pairs_by_suffix_and_by_folder(tmp_path):
    d = str(tmp_path)
    for f in ("a_before.png", "a_after.png", "b-before.JPG", "b-after.jpg", "set/before/c.webp", "set/after/c.webp",
              "lonely_before.png", "notes.txt", "x.png", "set/after/orphan.png", ".hidden.png"):
        _touch(os.path.join(d, f))
    pairs, problems = A.list_pairs(d)
    assert [k for k, _, _ in pairs] == ["a", "b", os.path.join("set", "c")]
    text = "\n".join(problems)
    assert "lonely: has a before image but no after image" in text
    assert "orphan: has an after image but no before image" in text
    assert "notes.txt" in text and "x.png" in text


def _fresh_weights(tmp_path):
    m = M.Editor()
    torch.nn.init.normal_(m.xattn.o.weight, std=0.05)  # a trained-like prompt path (fresh = zero)
    p = str(tmp_path / "editor.pt")
    torch.save(m.state_dict(), p)
    return m, p


def test_teacher_is_the_stage1_network(tmp_path):
    m, p = _fresh_weights(tmp_path)
    model, teacher, _ = A.load_models(p)
    f = torch.randn(1, 64, 8, 8)
    t = torch.randn(1, M.K_TOKENS, M.D_TOKEN)
    assert torch.allclose(teacher.xattn(f, t), f)  # the cross-attention contributes nothing
    assert not torch.allclose(model.xattn(f, t), f)
    for (n, a), (_, b) in zip(model.named_parameters(), teacher.named_parameters()):
        if not n.startswith("xattn.o."):
            assert torch.equal(a, b), n
    assert all(not q.requires_grad for q in list(model.parameters()) + list(teacher.parameters()))


def test_time_budget_stops_and_on_step_time_is_not_counted(tmp_path):
    import time

    _, p = _fresh_weights(tmp_path)
    model, teacher, _ = A.load_models(p)
    n = 2
    img, after = torch.rand(n, 3, M.IMG, M.IMG), torch.rand(n, 3, M.IMG, M.IMG)
    from pe_teachers import camera

    cam = torch.from_numpy(np.stack([camera.label(0, 0)] * n))
    vc = torch.from_numpy(np.stack([np.stack([camera.label(y, q) for y, q in A.VIEW_GRID])] * n).astype(np.float32))
    seen = []

    def on_step(s, el, loss, tok, norm):
        seen.append(el)
        time.sleep(0.3)  # e.g. an evaluation: must not eat the optimisation budget
        return False

    t0 = time.time()
    tok, norm, loss = A.adapt(model, teacher, img, cam, after, vc, steps=None, seconds=0.5, on_step=on_step)
    assert A.adapt.last_seconds >= 0.5 and A.adapt.last_steps == len(seen) >= 1
    assert seen == sorted(seen) and seen[-1] >= 0.5
    assert time.time() - t0 >= 0.5 + 0.3 * len(seen) - 0.05
    assert np.isfinite(loss) and tok.abs().sum() > 0


def test_write_style_refuses_non_finite(tmp_path):
    with pytest.raises(RuntimeError):
        A.write_style(str(tmp_path), "x", torch.full((1, M.K_TOKENS, M.D_TOKEN), float("nan")), torch.zeros(M.NORM_DIM), {})
    assert os.listdir(tmp_path) == []


def _pairs_dir(d, idx=(1, 2, 3)):
    os.makedirs(d, exist_ok=True)
    for i in idx:
        im = cv2.imread(face_path(i))
        cv2.imwrite(os.path.join(d, f"p{i}_before.png"), im)
        rgb = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
        cv2.imwrite(os.path.join(d, f"p{i}_after.png"), cv2.cvtColor(A.DEMOS["colormap_ocean"](rgb), cv2.COLOR_RGB2BGR))


def _run(args):
    env = {**os.environ, "PYTHONPATH": TRAINING, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pe_editor.adapt", *args], cwd=TRAINING, env=env, capture_output=True, text=True, timeout=300)


def test_cli_writes_a_style_with_progress_and_editor_hash(tmp_path):
    _, w = _fresh_weights(tmp_path)
    pairs = str(tmp_path / "pairs")
    _pairs_dir(pairs)
    # a half-size 'after' of the same aspect is resized; a different aspect is skipped, not fatal
    im = cv2.imread(os.path.join(pairs, "p3_after.png"))
    cv2.imwrite(os.path.join(pairs, "p3_after.png"), cv2.resize(im, (256, 256)))
    cv2.imwrite(os.path.join(pairs, "wide_before.png"), cv2.imread(face_path(4)))
    cv2.imwrite(os.path.join(pairs, "wide_after.png"), np.zeros((100, 300, 3), np.uint8))
    out = str(tmp_path / "styles")
    r = _run(["--pairs", pairs, "--name", "sea-test", "--label", "Sea test", "--minutes", "1", "--steps", "3",
              "--weights", w, "--out", out, "--threads", "1", "--progress"])
    assert r.returncode == 0, r.stderr[-2000:]
    events = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "phase" and "pairs" in kinds and "progress" in kinds and kinds[-1] == "done"
    pe = next(e for e in events if e["event"] == "pairs")
    assert pe["usable"] == 3 and any("wide" in s for s in pe["skipped"])
    meta = json.load(open(os.path.join(out, "sea-test.json")))
    assert meta["name"] == "sea-test" and meta["label"] == "Sea test" and meta["pairs"] == 3 and meta["steps"] == 3
    assert meta["editor"]["weights"] == A.file_hash(w) and len(meta["editor"]["weights"]) == 16
    blob = np.fromfile(os.path.join(out, "sea-test.bin"), np.float32)
    assert blob.size == M.K_TOKENS * M.D_TOKEN + M.NORM_DIM and np.isfinite(blob).all()
    assert meta["normOffset"] == M.K_TOKENS * M.D_TOKEN
    assert not [f for f in os.listdir(out) if f.endswith(".part")]


@pytest.mark.parametrize("case", ["one_pair", "not_images", "no_face", "bad_name"])
def test_cli_refuses_bad_pairs_with_exit_2(tmp_path, case):
    _, w = _fresh_weights(tmp_path)
    pairs = str(tmp_path / "pairs")
    name = "ok"
    if case == "one_pair":
        _pairs_dir(pairs, idx=(1,))
    elif case == "not_images":
        _pairs_dir(pairs, idx=(1,))
        _touch(os.path.join(pairs, "q_before.png"), b"this is not a png")
        _touch(os.path.join(pairs, "q_after.png"), b"nor this")
    elif case == "no_face":
        os.makedirs(pairs)
        for k in ("a", "b"):
            cv2.imwrite(os.path.join(pairs, f"{k}_before.png"), np.full((200, 200, 3), 128, np.uint8))
            cv2.imwrite(os.path.join(pairs, f"{k}_after.png"), np.full((200, 200, 3), 30, np.uint8))
    else:
        _pairs_dir(pairs, idx=(1, 2))
        name = "Bad Name!"
    out = str(tmp_path / "styles")
    r = _run(["--pairs", pairs, "--name", name, "--minutes", "1", "--steps", "2", "--weights", w, "--out", out, "--progress"])
    assert r.returncode == 2, r.stderr[-2000:]
    err = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{") and '"error"' in l]
    assert err and err[-1]["message"]
    msg = err[-1]["message"]
    assert {"one_pair": "at least 2", "not_images": "not an image", "no_face": "no face", "bad_name": "style id"}[case] in msg
    assert not os.path.exists(out) or not os.listdir(out)


def test_ssim_and_distances():
    from pe_editor.table2 import ssim

    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    assert (ssim(x, 1 - x) < 0.5).all()
