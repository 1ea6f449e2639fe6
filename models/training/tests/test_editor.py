"""3DPE editor network: shapes, ONNX parity, a tiny overfit, the committed export."""
import json
import os

import numpy as np
import pytest
import torch

from pe_editor import model as M
from pe_editor.train import stage1_loss, stage2_loss
from pe_teachers import camera

ASSETS = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "assets", "editor"))


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _cams(b, yaw=0.0):
    return torch.tensor(np.stack([camera.label(yaw, 0.0)] * b))


def test_shapes():
    m = M.Editor().eval()
    img = torch.rand(2, 3, M.IMG, M.IMG)
    with torch.no_grad():
        out = m(img, _cams(2), _cams(2, 20), M.null_tokens(2))
        assert out["rgb"].shape == (2, 3, M.IMG, M.IMG)
        assert out["raw"].shape == (2, 3, M.RENDER_RES, M.RENDER_RES)
        assert out["depth"].shape == (2, 1, M.RENDER_RES, M.RENDER_RES)
        assert out["triplane"].shape == (2, 3, M.PLANE_C, M.PLANE_RES, M.PLANE_RES)
        d = out["depth"]
        assert float(d.min()) >= M.NEAR - 1e-4 and float(d.max()) <= M.FAR + 1e-4
        assert m.text_proj(torch.randn(3, M.TEXT_DIM)).shape == (3, M.K_TOKENS, M.D_TOKEN)
        assert m.image_prompt(torch.rand(3, 3, M.IMG, M.IMG)).shape == (3, M.K_TOKENS, M.D_TOKEN)


def test_fresh_cross_attention_is_identity_and_tokens_matter_after_training_it():
    xa = M.CrossAttention()
    f = torch.randn(1, 64, 8, 8)
    assert torch.allclose(xa(f, torch.randn(1, M.K_TOKENS, M.D_TOKEN)), f)
    torch.nn.init.normal_(xa.o.weight, std=0.1)
    a, b = xa(f, torch.randn(1, M.K_TOKENS, M.D_TOKEN)), xa(f, torch.randn(1, M.K_TOKENS, M.D_TOKEN))
    assert (a - b).abs().max() > 1e-3


def test_camera_rays_hit_the_origin_at_the_centre():
    o, d = M.camera_rays(_cams(1, 15.0), res=2)
    centre = d.mean(1)  # the 4 pixel rays average to the principal ray
    p = o[:, 0] + centre * 2.7
    assert p.abs().max() < 1e-3


def test_detail_warp_is_the_identity_at_the_source_view_whatever_the_depth():
    img = torch.rand(1, 3, M.IMG, M.IMG)
    cam = _cams(1, 12.0)
    for depth in (torch.full((1, 1, 32, 32), 2.5), 2.4 + torch.rand(1, 1, 32, 32) * 0.9):
        warped, valid = M.DetailWarp()(img, depth, cam, cam)
        assert float(valid.mean()) == 1.0
        assert (warped - img)[..., 2:-2, 2:-2].abs().max() < 1e-3


def test_detail_warp_moves_points_with_the_view():
    # a frontal source, target turned by 20 deg: a point on a plane at the depth of the head centre
    # must sample the source away from where it sits in the target image, and stay inside it
    img = torch.rand(1, 3, M.IMG, M.IMG)
    warped, valid = M.DetailWarp()(img, torch.full((1, 1, 32, 32), 2.7), _cams(1), _cams(1, 20.0))
    assert 0.5 < float(valid.mean()) < 1.0
    assert (warped - img).abs().mean() > 0.05


def test_onnx_parity(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from pe_editor.export import INPUTS, export_onnx, parity_inputs

    m = M.Editor().eval()
    torch.nn.init.normal_(m.xattn.o.weight, std=0.05)  # make the prompt path active
    ex = M.ExportEditor(m).eval()
    args = parity_inputs()
    p = str(tmp_path / "e.onnx")
    export_onnx(ex, args, p, INPUTS, ["rgb", "depth"])
    with torch.no_grad():
        ref = [t.numpy() for t in ex(*args)]
    s = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    assert names == INPUTS  # tokens and norm are graph inputs
    got = s.run(None, {k: v.numpy() for k, v in zip(INPUTS, args)})
    for a, b in zip(ref, got):
        assert a.shape == b.shape
        assert np.abs(a - b).max() < 1e-3


def test_staged_export_chains_to_the_whole_graph(tmp_path):
    pytest.importorskip("onnxruntime")
    from pe_editor.export import INPUTS, export_onnx, parity_inputs
    from pe_editor.export_stages import export_stages

    m = M.Editor().eval()
    torch.nn.init.normal_(m.xattn.o.weight, std=0.05)
    export_onnx(M.ExportEditor(m).eval(), parity_inputs(), str(tmp_path / "editor.onnx"), INPUTS, ["rgb", "depth"])
    rep = export_stages(m, str(tmp_path))  # raises when the chain differs by more than 1e-4
    assert rep["max_abs_diff_vs_editor_onnx"] < 1e-4
    assert rep["source_view_diff"] < 1e-4 and rep["novel_view_diff"] < 1e-4
    assert all((tmp_path / "stages" / f"{s}.onnx").exists() for s in ("encode", "render", "finish", "lift"))


def test_view_at_the_source_camera_is_the_source_edit_whatever_the_depth():
    m = M.Editor().eval()
    torch.nn.init.normal_(m.xattn.o.weight, std=0.05)
    img, src, tok = torch.rand(1, 3, M.IMG, M.IMG), _cams(1, 5), torch.randn(1, M.K_TOKENS, M.D_TOKEN)
    with torch.no_grad():
        ref = m.render(m.encode(img, src, tok), src, img, src)[0].clamp(0, 1)
        for mesh in (torch.zeros(1, 1, 32, 32), torch.full((1, 1, 32, 32), 2.5)):
            rgb, _ = m.view(img, src, src, tok, m.default_norm[None], mesh)
            assert (rgb - ref).abs().max() < 1e-4
        # a novel view is not the source edit, and it depends on the depth
        a, _ = m.view(img, src, _cams(1, 25), tok, m.default_norm[None], torch.zeros(1, 1, 32, 32))
        b, _ = m.view(img, src, _cams(1, 25), tok, m.default_norm[None], torch.full((1, 1, 32, 32), 2.4))
        assert (a - ref).abs().mean() > 1e-3 and (a - b).abs().mean() > 1e-4


def test_merge_depth_takes_the_mesh_where_it_covers():
    mesh = torch.zeros(1, 1, 32, 32)
    mesh[..., 10:20, 10:20] = 2.5
    d = M.merge_depth(mesh, torch.full((1, 1, 16, 16), 3.0))
    assert d.shape == (1, 1, 32, 32)
    assert torch.all(d[..., 10:20, 10:20] == 2.5) and torch.all(d[..., :10, :] == 3.0)


@pytest.mark.skipif(not os.path.exists(os.path.join(ASSETS, "mesh_parity.json")), reason="no committed export")
def test_mesh_depth_reproduces_the_committed_fixture_and_is_a_face():
    from pe_editor.mesh_depth import mesh_depth

    f = json.load(open(os.path.join(ASSETS, "mesh_parity.json")))
    lm = np.array(f["lm"], np.float64).reshape(468, 3)
    d = mesh_depth(lm, f["size"], np.array(f["src_cam"]), np.array(f["tgt_cam"]))
    assert np.abs(d.ravel() - np.array(f["depth"], np.float32)).max() < 1e-4
    face_px = d[d > 0]
    assert 150 < face_px.size < 700  # the face covers a good part of the 32^2 crop, not all of it
    assert 2.3 < face_px.min() < face_px.max() < 3.0  # around the camera distance (EG3D radius 2.7)
    # at the source view, the nose tip (landmark 1) is nearer than the face's average
    ds = mesh_depth(lm, f["size"], np.array(f["src_cam"]), np.array(f["src_cam"]))
    x, y = (lm[1, :2] + 0.5) * 32 / f["size"] - 0.5
    assert ds[int(round(y)), int(round(x))] < ds[ds > 0].mean()


def _fake_stage1_batch(b=2):
    img = torch.rand(b, 3, M.IMG, M.IMG)
    return (img, _cams(b), _cams(b, 15), img.clone(), torch.full((b, 1, 32, 32), 2.8),
            torch.ones(b, 1, 32, 32), torch.zeros(b, dtype=torch.bool))


def test_tiny_overfit_stage1():
    m = M.Editor()
    batch = _fake_stage1_batch()
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    first = None
    for _ in range(12):
        loss, _ = stage1_loss(m, batch)
        first = first if first is not None else loss.item()
        opt.zero_grad(); loss.backward(); opt.step()
    assert loss.item() < 0.8 * first


def test_stage2_step_moves_only_the_prompt_path():
    m = M.Editor()
    teacher = M.Editor().eval()
    for n, p in m.named_parameters():
        p.requires_grad_(n.startswith(("xattn.", "text_proj.", "image_prompt.")))
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    b = 2
    batch = (torch.rand(b, 3, M.IMG, M.IMG), _cams(b), torch.rand(b, 3, M.IMG, M.IMG), torch.randn(b, M.TEXT_DIM),
             torch.rand(b, 3, M.IMG, M.IMG), torch.tensor([0, 1]), _cams(b, -15))
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        loss, parts = stage2_loss(m, teacher, batch)
        opt.zero_grad(); loss.backward(); opt.step()
    assert set(parts) == {"diff", "tri", "img3d", "dep3d"}
    for n, p in m.named_parameters():
        moved = not torch.equal(before[n], p.detach())
        if n.startswith(("e_low.", "e_high.", "decoder.", "renderer.", "sr.", "refine.", "default_norm")):
            assert not moved, n
    assert not torch.equal(before["xattn.o.weight"], m.xattn.o.weight.detach())


@pytest.mark.skipif(not os.path.exists(os.path.join(ASSETS, "editor.onnx")), reason="no committed export")
def test_committed_export_matches_its_pytorch_reference():
    ort = pytest.importorskip("onnxruntime")
    from pe_editor.export import INPUTS

    meta = json.load(open(os.path.join(ASSETS, "parity.json")))
    blob = np.fromfile(os.path.join(ASSETS, "parity.bin"), np.float32)
    get = lambda k: blob[meta[k]["offset"]:meta[k]["offset"] + int(np.prod(meta[k]["shape"]))].reshape(meta[k]["shape"])
    s = ort.InferenceSession(os.path.join(ASSETS, "editor.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in s.get_inputs()] == INPUTS
    got = s.run(None, {k: get(k) for k in INPUTS})
    assert np.abs(got[0] - get("rgb")).max() < 1e-3
    assert np.abs(got[1] - get("depth")).max() < 1e-3
    rep = json.load(open(os.path.join(ASSETS, "export.json")))
    assert rep["parity_max_abs_diff"] < 1e-3 and rep["editor_mb"] < 20


def test_adaptation_trains_only_tokens_and_norm():
    from pe_editor.adapt import adapt

    m, teacher = M.Editor().eval(), M.Editor().eval()
    torch.nn.init.normal_(m.xattn.o.weight, std=0.05)  # a trained-like prompt path (fresh = zero)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    n = 3
    img, after = torch.rand(n, 3, M.IMG, M.IMG), torch.rand(n, 3, M.IMG, M.IMG)
    vc = torch.stack([_cams(2, 15)] * n)
    tokens, norm, loss = adapt(m, teacher, img, _cams(n), after, vc, steps=2)
    assert tokens.shape == (1, M.K_TOKENS, M.D_TOKEN) and norm.shape == (M.NORM_DIM,)
    assert np.isfinite(loss)
    assert tokens.abs().sum() > 0  # moved from the zero init
    for k, p in m.named_parameters():
        assert torch.equal(before[k], p.detach()), k
