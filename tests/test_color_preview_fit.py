"""Colour matrix fitted to the embedded preview (rawlux.color.preview_fit) and its io wiring."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import rawlux
from rawlux.color.preview_fit import (
    PreviewFitRejected,
    camera_at_preview_scale,
    fit_preview_matrix,
    match_preview,
)
from rawlux.color.transfer import srgb_oetf

# white-balanced camera RGB -> linear sRGB, rows sum to 1 (a plausible camera)
TRUE_M = np.array([[1.7, -0.55, -0.15], [-0.25, 1.45, -0.2], [0.05, -0.6, 1.55]])
TRUE_N = np.array([0.55, 1.0, 0.7])  # camera neutral
GRBG = np.array([[1, 0], [2, 1]])
# sky box of the DC50 frame (768x512, rows 16:96, cols 24:296): clear blue sky left of the towers
SKY = (slice(16, 96), slice(24, 296))


def _scene(rng: np.random.Generator, grey: bool = False) -> np.ndarray:
    """Camera RGB superpixels (128, 192, 3): 8x8 blocks of random colours, a third of them grey
    (or all grey)."""
    blocks = rng.uniform(0.05, 0.6, size=(16, 24, 3))
    greys = np.ones((16, 24), bool) if grey else rng.random((16, 24)) < 1 / 3
    blocks[greys] = blocks[greys][:, :1]
    blocks = blocks * TRUE_N
    return np.kron(blocks, np.ones((8, 8, 1)))


def _mosaic(sp: np.ndarray) -> np.ndarray:
    """GRBG mosaic (2x the superpixel size) of camera RGB ``sp``."""
    h, w = sp.shape[:2]
    m = np.zeros((2 * h, 2 * w))
    m[0::2, 0::2] = sp[..., 1]
    m[0::2, 1::2] = sp[..., 0]
    m[1::2, 0::2] = sp[..., 2]
    m[1::2, 1::2] = sp[..., 1]
    return m


def _preview(sp: np.ndarray, scale: int = 4) -> np.ndarray:
    """The camera's 'preview': matrix, exposure, sRGB encoding, area downscale, 8 bit."""
    lin = np.clip((sp / TRUE_N) @ TRUE_M.T * 1.3, 0, 1)
    h, w = sp.shape[0] // scale, sp.shape[1] // scale
    small = lin.reshape(h, scale, w, scale, 3).mean((1, 3))
    return np.round(srgb_oetf(small) * 255).astype(np.uint8)


def test_fit_recovers_a_known_matrix() -> None:
    rng = np.random.default_rng(3)
    sp = _scene(rng)
    pv = _preview(sp)
    cam, ok = camera_at_preview_scale(_mosaic(sp), GRBG, pv.shape[:2])
    fit = fit_preview_matrix(cam, pv, ok, neutral=TRUE_N)
    assert np.abs(fit.matrix - TRUE_M).max() < 0.05
    assert np.allclose(fit.matrix.sum(1), 1.0)  # neutral stays neutral
    assert abs(fit.gamma - 1.0) < 0.05  # a plain sRGB preview has no extra tone contrast
    assert fit.residual < 0.01
    # without a given neutral the preview's own white is found
    fit2 = fit_preview_matrix(cam, pv, ok)
    assert np.abs(fit2.neutral - TRUE_N).max() < 0.02
    # the DNG-style matrix maps XYZ of the D65 white to the camera neutral
    from rawlux.color.spaces import rgb_to_xyz
    from rawlux.core.image import ColorSpace

    cam_white = fit2.color_matrix @ rgb_to_xyz(ColorSpace.SRGB).sum(1)
    assert np.abs(cam_white / cam_white.max() - fit2.neutral).max() < 1e-6


def test_fit_rejects_grey_scene_and_garbage() -> None:
    rng = np.random.default_rng(4)
    sp = _scene(rng, grey=True)
    pv = _preview(sp)
    cam, ok = camera_at_preview_scale(_mosaic(sp), GRBG, pv.shape[:2])
    with pytest.raises(PreviewFitRejected, match="too little colour"):
        fit_preview_matrix(cam, pv, ok)
    sp = _scene(rng)
    garbage = rng.integers(20, 230, size=pv.shape, dtype=np.uint8)
    cam, ok = camera_at_preview_scale(_mosaic(sp), GRBG, pv.shape[:2])
    with pytest.raises(PreviewFitRejected, match="ill-conditioned|residual|neutral"):
        fit_preview_matrix(cam, garbage, ok)
    with pytest.raises(PreviewFitRejected, match="usable preview pixels"):
        fit_preview_matrix(cam, np.full_like(pv, 255), ok)  # all clipped
    with pytest.raises(PreviewFitRejected, match="aspect"):
        camera_at_preview_scale(_mosaic(sp), GRBG, (32, 32))


def test_match_preview_turns_a_rotated_preview_and_rejects_another_picture() -> None:
    rng = np.random.default_rng(5)
    sp = _scene(rng)
    pv = _preview(sp)
    mosaic = _mosaic(sp)
    cam, ok, turned = match_preview(mosaic, GRBG, np.rot90(pv, 2))
    assert np.array_equal(turned, pv)
    fit = fit_preview_matrix(cam, turned, ok, neutral=TRUE_N)
    assert np.abs(fit.matrix - TRUE_M).max() < 0.05
    other = _preview(_scene(np.random.default_rng(6)))
    with pytest.raises(PreviewFitRejected, match="does not match"):
        match_preview(mosaic, GRBG, other)


def _sky_chroma(img: rawlux.Image) -> float:
    import colour

    rgb = np.clip(img.data[SKY], 0, 1).astype(np.float64)
    lab = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb))
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def test_kdc_sky_gets_colour_from_preview_fit(raw_dir: Path) -> None:
    from rawlux.io.raw import _XYZ_TO_SRGB

    raw = rawlux.open_raw(raw_dir / "kodak_dc50.kdc")
    cal = raw.calibration
    assert cal.source == "preview"
    rows = dict(rawlux.io.raw.describe(raw))
    assert rows["colour source"] == "fitted to the embedded preview"
    before = replace(raw, calibration=replace(cal, color_matrix1=_XYZ_TO_SRGB, source="libraw"))
    c_before = _sky_chroma(rawlux.develop(before, look="neutral"))
    c_after = _sky_chroma(rawlux.develop(raw, look="neutral"))
    h, w, buf = raw.metadata.extra["wb_preview"]
    pv = np.frombuffer(buf, np.uint8).reshape(h, w, 3).astype(np.float64) / 255.0
    import colour

    lab = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(pv[2:12, 3:37]))  # same sky box at 1/8 scale
    c_preview = float(np.hypot(lab[..., 1], lab[..., 2]).mean())
    # measured: before 4.2, after 10.8, preview 13.3 (CIELAB C*)
    assert c_after > 2.0 * c_before
    assert c_after < 1.2 * c_preview
    assert abs(c_after - c_preview) < abs(c_before - c_preview) / 2


def test_d1_with_libraw_matrix_is_untouched(raw_dir: Path) -> None:
    import rawpy

    raw = rawlux.open_raw(raw_dir / "nikon_d1.nef")
    assert raw.calibration.source == "libraw"
    with rawpy.imread(str(raw_dir / "nikon_d1.nef")) as rp:
        lib = np.asarray(rp.rgb_xyz_matrix, np.float64)[:3, :3]
    assert np.array_equal(raw.calibration.color_matrix1, lib)
    assert "color_matrix_note" not in raw.metadata.extra
    # its preview (160x120, 4:3) is another crop of the 3:2 frame: a fit would be rejected
    h, w, buf = raw.metadata.extra["wb_preview"]
    pv = np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    with pytest.raises(PreviewFitRejected, match="aspect"):
        match_preview(raw.data.astype(np.float32) / raw.white, raw.cfa_pattern, pv)
