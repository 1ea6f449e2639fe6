import numpy as np
import pytest

from conftest import face_path
from pe_teachers import camera, face, styles
from pe_teachers.imageio import InputError, load_rgb


def test_alignment_of_ffhq_is_near_identity(portrait):
    # the testdata are FFHQ crops: re-aligning them must be ~ a 0.5x scale with no shift
    M = portrait.M
    assert abs(M[0, 0] - 0.5) < 0.05 and abs(M[1, 1] - 0.5) < 0.05
    assert abs(M[0, 2]) < 16 and abs(M[1, 2]) < 16
    assert portrait.crop.shape == (256, 256, 3) and portrait.crop.dtype == np.uint8
    assert portrait.lm.shape == (478, 3)
    assert portrait.matte.shape == (256, 256) and 0.2 < portrait.matte.mean() < 0.95


def test_pose_sign_flips_with_mirror():
    img = load_rgb(face_path(6))
    a = face.analyse(img)
    b = face.analyse(np.ascontiguousarray(img[:, ::-1]))
    assert abs(a.yaw) > 5
    assert np.sign(a.yaw) == -np.sign(b.yaw)
    assert abs(a.yaw + b.yaw) < 4


def test_masks_are_sane(portrait):
    m = portrait.masks
    for k in ("skin", "eyes", "iris", "lips", "hair", "background", "person"):
        assert m[k].shape == (256, 256) and m[k].min() >= 0 and m[k].max() <= 1
    assert m["skin"].mean() > 0.1 and 0 < m["eyes"].mean() < 0.02 and 0 < m["lips"].mean() < 0.03
    # eyes are above the lips
    ye = np.average(np.nonzero(m["eyes"] > 0.5)[0])
    yl = np.average(np.nonzero(m["lips"] > 0.5)[0])
    assert ye < yl


def test_camera_convention():
    c = camera.cam2world(0, 0)
    assert np.allclose(c[:3, 3], [0, 0, 2.7], atol=1e-6)
    assert np.allclose(c[:3, 2], [0, 0, -1], atol=1e-6)  # looks at the origin
    r = camera.cam2world(30, 0)
    assert r[0, 3] > 0 and abs(np.linalg.norm(r[:3, 3]) - 2.7) < 1e-9
    p = camera.cam2world(0, 20)
    assert p[1, 3] < 0
    lab = camera.label(10, -5)
    assert lab.shape == (25,) and abs(lab[16] - 4.2647) < 1e-4 and abs(lab[18] - 0.5) < 1e-6


def test_bank_size_and_phrasings():
    assert len(styles.NAMES) >= 12
    for n in styles.NAMES:
        st = styles.STYLES[n]
        assert len(st.train_prompts) >= 8 and len(st.test_prompts) >= 5
        assert not set(st.train_prompts) & set(st.test_prompts)


@pytest.mark.parametrize("name", styles.NAMES)
def test_style_deterministic_shapes_strength(portrait, name):
    a = styles.apply(portrait.crop, name, 1.0, portrait.masks)
    b = styles.apply(portrait.crop, name, 1.0, portrait.masks)
    assert a.shape == portrait.crop.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert np.array_equal(styles.apply(portrait.crop, name, 0.0, portrait.masks), portrait.crop)
    diff = np.abs(a.astype(int) - portrait.crop.astype(int)).mean()
    assert diff > 12, f"{name} barely changes the image ({diff:.1f})"
    half = styles.apply(portrait.crop, name, 0.5, portrait.masks)
    dh = np.abs(half.astype(int) - portrait.crop.astype(int)).mean()
    assert 0.3 * diff < dh < 0.7 * diff
    # works without masks (any image) and at another size
    c = styles.apply(portrait.crop[:200, :180], name, 1.0)
    assert c.shape == (200, 180, 3)


def test_styles_are_distinct(portrait):
    outs = {n: styles.apply(portrait.crop, n, 1.0, portrait.masks).astype(np.float32) for n in styles.NAMES}
    names = list(outs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert np.abs(outs[names[i]] - outs[names[j]]).mean() > 8, (names[i], names[j])


def test_no_face_raises():
    img = np.full((300, 300, 3), 127, np.uint8)
    with pytest.raises(InputError):
        face.analyse(img)
