import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import TRAINING, face_path
from pe_teachers import prompts, styles

PY = sys.executable


@pytest.fixture(scope="module")
def selector():
    return prompts.text_selector()


def test_text_selection_held_out_phrasings(selector):
    C = selector.confusion("test")
    acc = np.trace(C) / C.sum()
    assert C.sum() == sum(len(styles.STYLES[n].test_prompts) for n in styles.NAMES)
    assert acc >= 0.90, f"held-out accuracy {acc:.3f}"
    assert selector.select("golden_statue")[0] == "golden_statue"


def test_image_prompt_selection():
    from pe_teachers import face
    from pe_teachers.imageio import load_rgb

    sel = prompts.image_selector()
    assert len(sel.names) >= 3 * len(styles.NAMES)
    p = face.analyse(load_rgb(face_path(4)))  # a face not used by the references
    ok = sum(sel.select(styles.apply(p.crop, n, 1.0, p.masks))[0] == n for n in styles.NAMES)
    assert ok / len(styles.NAMES) >= 0.85


def run_cli(*args):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([PY, "-m", "pe_teachers.cli", *args], cwd="/", env=env, capture_output=True,
                          text=True, timeout=240)


def test_cli_edit_source_and_novel_view(tmp_path):
    from PIL import Image

    out = tmp_path / "o.png"
    r = run_cli("edit", face_path(3), "--style", "sepia", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (512, 512)
    out2 = tmp_path / "o2.png"
    r = run_cli("edit", face_path(3), "--prompt", "a golden statue", "--yaw", "20", "--pitch", "-10",
                "--strength", "0.8", "-o", str(out2))
    assert r.returncode == 0, r.stderr
    assert Image.open(out2).size == (256, 256)


def test_cli_bad_inputs(tmp_path):
    txt = tmp_path / "x.png"
    txt.write_text("not an image")
    r = run_cli("edit", str(txt), "--style", "sepia", "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "not an image" in r.stderr
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (320, 240), (90, 120, 200)).save(blank)
    r = run_cli("edit", str(blank), "--style", "sepia", "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "no face" in r.stderr
    # a 20000x20000 PNG: rejected from its header, never decoded
    huge = tmp_path / "huge.png"
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IEND", b""))
    r = run_cli("edit", str(huge), "--style", "sepia", "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "too large" in r.stderr
    r = run_cli("edit", str(tmp_path / "missing.png"), "--style", "sepia", "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2
    r = run_cli("edit", face_path(3), "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2 and "prompt" in r.stderr
    r = run_cli("edit", face_path(3), "--style", "sepia", "--strength", "3", "-o", str(tmp_path / "o.png"))
    assert r.returncode == 2


def test_dataset_builder_resumable(tmp_path):
    import shutil

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(face_path(5), src / "a.png")
    (src / "b.png").write_bytes(b"garbage")
    out = tmp_path / "cache"
    args = [PY, "-m", "pe_teachers.build_dataset", "--src", str(src), "--out", str(out),
            "--styles", "sepia,neon"]
    r = subprocess.run(args, cwd=TRAINING, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    item = out / "a"
    for f in ("crop.png", "matte.png", "mesh.npy", "camera.json", "depth.npy", "done.json",
              "styles/sepia.png", "styles/neon.png", "views/y+30_p+0.png", "views/y-15_p-20.depth.npy"):
        assert (item / f).exists(), f
    first = (item / "views" / "y+30_p+0.png").read_bytes()
    r = subprocess.run(args, cwd=TRAINING, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0 and "already done 1" in r.stderr
    shutil.rmtree(item)
    r = subprocess.run(args, cwd=TRAINING, capture_output=True, text=True, timeout=240)
    assert (item / "views" / "y+30_p+0.png").read_bytes() == first  # deterministic
