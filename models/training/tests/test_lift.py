import numpy as np

from pe_teachers import camera, lift


def psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def test_source_depth_sanity(portrait):
    geo = lift.source_geometry(portrait)
    d = geo.depth
    assert d.shape == (256, 256) and np.isfinite(d).all()
    lm = portrait.lm
    nose = d[int(lm[1, 1]), int(lm[1, 0])]
    eye = d[int(lm[468, 1]), int(lm[468, 0])]
    cheek_edge = d[int(lm[234, 1]), int(lm[234, 0])]
    bg = d[geo.part == 0]
    assert nose < eye < cheek_edge + 0.02  # the nose tip is nearest
    assert bg.size and np.median(bg) > np.median(d[geo.part == 2])  # background behind the face
    assert 2.3 < nose < 2.7 < np.median(bg) < 3.2  # near the EG3D radius


def test_render_at_source_view_reproduces_source(portrait, portrait_turned):
    for p in (portrait, portrait_turned):
        v = lift.render_source(p)
        assert v.image.shape == (256, 256, 3) and v.depth.shape == (256, 256)
        assert v.coverage.mean() > 0.95
        assert psnr(v.image, p.crop) > 27


def test_novel_views_move_the_face_and_are_deterministic(portrait):
    geo = lift.source_geometry(portrait)
    a = lift.render(portrait, 30, 0, geo=geo)
    b = lift.render(portrait, 30, 0, geo=geo)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.depth, b.depth)
    c = lift.render(portrait, -30, 0, geo=geo)
    # the nose tip moves in opposite directions for +-30 degrees
    wl = lift.landmarks_world(portrait, geo)
    xa, _, _ = lift.project(wl[1:2], camera.cam2world(30, 0), 256)
    xc, _, _ = lift.project(wl[1:2], camera.cam2world(-30, 0), 256)
    x0 = portrait.lm[1, 0]
    assert (xa[0] - x0) * (xc[0] - x0) < 0
    assert np.abs(a.image.astype(int) - c.image.astype(int)).mean() > 10
    for v in (a, c, lift.render(portrait, 0, 20, geo=geo), lift.render(portrait, 0, -20, geo=geo)):
        assert v.image.min() >= 0 and np.isfinite(v.depth).all() and (v.depth > 2.0).all()
        assert v.coverage.mean() > 0.6


def test_render_of_an_edited_crop(portrait):
    from pe_teachers import styles

    ed = styles.apply(portrait.crop, "thermal", 1.0, portrait.masks)
    v = lift.render(portrait, 15, -10, image=ed)
    assert v.image.shape == (256, 256, 3)
    # thermal palette survives the lift (no original skin colours)
    assert np.abs(v.image.astype(int) - lift.render(portrait, 15, -10).image.astype(int)).mean() > 30
