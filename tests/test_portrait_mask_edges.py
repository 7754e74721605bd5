"""Hair edges: the edge-halo measure and the matte refinement on synthetic hair with truth."""

from __future__ import annotations

import cv2
import numpy as np

from rawlux.portrait.mask import edge_halo, matte_edges, refine_mask

H, W = 200, 240


def _hair() -> tuple[np.ndarray, np.ndarray]:
    """Dark head (disc) with 1-px dark strands 20 px out into a bright background; true alpha."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = (((xx - 120) ** 2 + (yy - 130) ** 2) < 60**2).astype(np.float32)
    for t in np.linspace(np.pi * 1.1, np.pi * 1.9, 24):
        for r in np.arange(58, 80, 0.5):
            x, y = int(round(120 + r * np.cos(t))), int(round(130 + r * np.sin(t)))
            alpha[y, x] = 1.0
    bg = np.empty((H, W, 3), np.float32)
    bg[:] = [0.95, 0.93, 0.85]
    bg[:, : W // 2] = [0.85, 0.9, 0.95]  # two bright background tones
    rgb = alpha[..., None] * np.float32([0.18, 0.12, 0.08]) + (1 - alpha[..., None]) * bg
    return rgb.astype(np.float32), alpha


def _render(rgb: np.ndarray, matte: np.ndarray, sigma: float = 12.0) -> np.ndarray:
    """What the bokeh renderer does at the edge: sharp subject by its matte over the blurred
    *visible* background (normalised by the background's own coverage)."""
    bgw = 1.0 - matte
    num = cv2.GaussianBlur(rgb * bgw[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(bgw, (0, 0), sigma)[..., None]
    blurred = num / np.maximum(den, 1e-4)
    return (matte[..., None] * rgb + (1 - matte[..., None]) * blurred).astype(np.float32)


def test_edge_halo_measures_spill_and_lost_strands():
    rgb, alpha = _hair()
    head = (((np.mgrid[0:H, 0:W][1] - 120) ** 2 + (np.mgrid[0:H, 0:W][0] - 130) ** 2) < 60**2)
    perfect = edge_halo(rgb, _render(rgb, alpha), head.astype(np.float32), band_px=4)
    assert abs(perfect.inner) < 1e-3 and abs(perfect.outer) < 0.02
    # a matte without the strands: they are blurred away into the bright background
    lost = edge_halo(rgb, _render(rgb, head.astype(np.float32)), head.astype(np.float32),
                     band_px=4)
    assert lost.outer > perfect.outer + 0.03
    # a matte 4 px too small: background light spills onto the hair edge (a halo)
    small = cv2.erode(head.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(np.float32)
    spill = edge_halo(rgb, _render(rgb, small), head.astype(np.float32), band_px=4)
    assert spill.inner > 0.1


def test_refinement_keeps_strands_and_reduces_the_halo():
    rgb, alpha = _hair()
    # a coarse net output: the head blob at 1/8 resolution, no strands, soft edge
    head = (((np.mgrid[0:H, 0:W][1] - 120) ** 2 + (np.mgrid[0:H, 0:W][0] - 130) ** 2)
            < 64**2).astype(np.float32)
    coarse = cv2.resize(cv2.resize(head, (W // 8, H // 8), interpolation=cv2.INTER_AREA), (W, H),
                        interpolation=cv2.INTER_LINEAR)
    ref = (alpha > 0.5).astype(np.float32)
    strands = (alpha > 0.5) & (cv2.erode(head.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0)
    halos = {}
    for name, m in (("coarse", coarse), ("guided", refine_mask(rgb, coarse)),
                    ("matting", refine_mask(rgb, coarse, matting=True))):
        e = edge_halo(rgb, _render(rgb, m), ref, band_px=4)
        halos[name] = abs(e.inner) + abs(e.outer)
        halos[name + "_strand_alpha"] = float(m[strands].mean())
    assert halos["guided"] < halos["coarse"]
    assert halos["matting"] < halos["coarse"]
    assert halos["matting_strand_alpha"] > halos["coarse_strand_alpha"]
    # matte_edges leaves confident regions alone
    m = refine_mask(rgb, coarse)
    out = matte_edges(rgb, m)
    far = cv2.distanceTransform((m < 0.5).astype(np.uint8), cv2.DIST_L2, 3) > 20
    assert np.allclose(out[far], m[far])


def test_real_hair_halo_is_lower_than_the_nets(shared_data):
    """Curly hair and backlit hair on bright backgrounds (real photos): after a strong blur of
    the background by the refined matte, the edge halo (inner + outer brightness excess, in a
    band of 1 % of the long side around the edge) is below the raw network matte's."""
    from rawlux.io.photo import open_photo
    from rawlux.portrait.mask import default_model

    for name, gain in (("cc0_pexels_woman_curly_hair.png", 0.9),
                       ("cc0_pexels_woman_backlit_bright_background.png", 0.97)):
        rgb = np.clip(open_photo(shared_data / "portraits" / name).data, 0, 1)
        raw = np.clip(default_model().predict(rgb), 0, 1)
        net = np.clip(cv2.resize(raw, (rgb.shape[1], rgb.shape[0])), 0, 1)
        ref = refine_mask(rgb, raw, matting=False)  # common band for both
        halo = {}
        for tag, m in (("net", net), ("refined", refine_mask(rgb, raw))):
            e = edge_halo(rgb, _render(rgb, m), ref)
            halo[tag] = e.inner + e.outer
        assert halo["refined"] < gain * halo["net"], (name, halo)
