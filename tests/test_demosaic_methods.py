"""Demosaic: reference twins, quality vs Menon 2007, CFA equivariance, ranges, errors, stage."""

from __future__ import annotations

import numpy as np
import pytest

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import CFA, ColorSpace, Image, RawImage
from rawlux.isp.demosaic import (
    DEMOSAIC,
    STAGE,
    DemosaicParams,
    bilinear,
    bilinear_reference,
    demosaic,
    demosaic_mosaic,
    normalized_convolution,
    rcd,
    rcd_reference,
)
from rawlux.synth.images import linear_sample as linear_image
from rawlux.synth.images import mosaic
from rawlux.synth.images import psnr as _psnr

BAYERS = (CFA.RGGB, CFA.BGGR, CFA.GRBG, CFA.GBRG)
IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def psnr(a: np.ndarray, b: np.ndarray, border: int = 8) -> float:
    return _psnr(a, b, border=border)


@pytest.fixture(scope="module")
def smooth_rgb() -> np.ndarray:
    rng = np.random.default_rng(1)
    import cv2

    x = cv2.GaussianBlur(rng.random((300, 130, 3), dtype=np.float32), (0, 0), 2.0)  # > 2 strips
    return np.ascontiguousarray(x * 2.0, dtype=np.float32)


@pytest.mark.parametrize("cfa", BAYERS)
@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (17, 9), (64, 80), (131, 257)])
def test_bilinear_numba_equals_numpy_reference(cfa: CFA, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    m = rng.normal(0.4, 0.5, shape).astype(np.float32)
    np.testing.assert_allclose(
        bilinear(m, cfa.pattern()), bilinear_reference(m, cfa.pattern()), rtol=0, atol=2e-6
    )


@pytest.mark.parametrize("cfa", BAYERS)
@pytest.mark.parametrize("shape", [(2, 2), (5, 3), (40, 62), (300, 131)])
def test_rcd_numba_equals_numpy_reference(cfa: CFA, shape: tuple[int, int]) -> None:
    """The strip-parallel numba kernel computes exactly the whole-image numpy maths
    (300 rows: several strips, so strip margins are covered)."""
    rng = np.random.default_rng(shape[0] + shape[1])
    m = (rng.random(shape, dtype=np.float32) * 3.0 - 0.2).astype(np.float32)  # negatives and > 1
    np.testing.assert_allclose(
        rcd(m, cfa.pattern()), rcd_reference(m, cfa.pattern()), rtol=1e-5, atol=2e-6
    )


def test_rcd_reference_on_natural_image() -> None:
    img = linear_image("coffee")[:150, :200]
    p = CFA.GBRG.pattern()
    m = mosaic(img, p)
    np.testing.assert_allclose(rcd(m, p), rcd_reference(m, p), rtol=1e-5, atol=2e-6)


def test_bilinear_keeps_measured_samples(smooth_rgb: np.ndarray) -> None:
    p = CFA.GRBG.pattern()
    m = mosaic(smooth_rgb, p)
    out = bilinear(m, p)
    np.testing.assert_array_equal(mosaic(out, p), m)


def test_rcd_beats_menon2007_psnr() -> None:
    """The default method is better than colour-demosaicing's Menon 2007 on every image."""
    from rawlux.isp.demosaic import menon2007

    p = CFA.RGGB.pattern()
    gains = []
    for name in IMAGES:
        img = linear_image(name)
        m = mosaic(img, p)
        ours = psnr(DEMOSAIC.get(DemosaicParams().method)(m, p), img)
        menon = psnr(menon2007(m, p), img)
        bil = psnr(bilinear(m, p), img)
        assert ours > bil + 2.0, (name, ours, bil)
        assert ours > menon, (name, ours, menon)
        gains.append(ours - menon)
    assert np.mean(gains) > 0.4


@pytest.mark.parametrize("method", ["rcd", "bilinear"])
def test_translation_equivariance_all_layouts(method: str, smooth_rgb: np.ndarray) -> None:
    """Cropping a row/column changes the CFA layout; the interior result must not change."""
    fn = DEMOSAIC.get(method)
    base = CFA.RGGB
    m = mosaic(smooth_rgb, base.pattern())
    full = fn(m, base.pattern())
    for dy in (0, 1):
        for dx in (0, 1):
            sub_cfa = base.shifted(dy, dx)
            sub = fn(np.ascontiguousarray(m[dy:, dx:]), sub_cfa.pattern())
            b = 14
            np.testing.assert_allclose(
                sub[b:-b, b:-b], full[dy + b : -b, dx + b : -b], rtol=1e-5, atol=1e-5
            )
    assert {base.shifted(dy, dx) for dy in (0, 1) for dx in (0, 1)} == set(BAYERS)


@pytest.mark.parametrize("cfa", BAYERS)
def test_each_layout_reconstructs_same_image(cfa: CFA) -> None:
    img = linear_image("chelsea")[:160, :200]
    ref = rcd(mosaic(img, CFA.RGGB.pattern()), CFA.RGGB.pattern())
    out = rcd(mosaic(img, cfa.pattern()), cfa.pattern())
    assert psnr(out, img) > 36.0
    assert psnr(out, ref, border=12) > 38.0


def test_red_blue_swap_equivariance(smooth_rgb: np.ndarray) -> None:
    swapped = np.ascontiguousarray(smooth_rgb[..., ::-1])
    a = rcd(mosaic(smooth_rgb, CFA.RGGB.pattern()), CFA.RGGB.pattern())
    b = rcd(mosaic(swapped, CFA.BGGR.pattern()), CFA.BGGR.pattern())
    np.testing.assert_allclose(a[..., ::-1], b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["rcd", "bilinear", "bilinear_reference"])
def test_flat_field_and_values_above_one(method: str) -> None:
    p = CFA.GBRG.pattern()
    flat = np.full((40, 52), 3.5, np.float32)
    np.testing.assert_allclose(DEMOSAIC.get(method)(flat, p), 3.5, rtol=1e-5)
    grey = mosaic(
        np.broadcast_to(np.linspace(0, 4, 52, dtype=np.float32)[None, :, None], (40, 52, 3)).copy(),
        p,
    )
    out = DEMOSAIC.get(method)(grey, p)
    assert out.dtype == np.float32 and out.shape == (40, 52, 3)
    assert out.max() > 3.5  # nothing is clipped at 1


def test_rcd_is_scale_homogeneous_and_keeps_negatives(smooth_rgb: np.ndarray) -> None:
    p = CFA.RGGB.pattern()
    m = mosaic(smooth_rgb, p)
    np.testing.assert_allclose(rcd(m * 8, p), 8 * rcd(m, p), rtol=2e-3, atol=1e-4)
    noisy = np.random.default_rng(5).normal(0.0, 0.01, m.shape).astype(np.float32)  # dark frame
    out = rcd(noisy, p)
    assert np.isfinite(out).all() and out.min() < 0
    assert abs(float(out.mean())) < 0.002 and float(np.abs(out).max()) < 0.2


@pytest.mark.parametrize("shape", [(2, 2), (2, 7), (5, 3), (13, 29), (130, 9)])
def test_rcd_small_and_odd_sizes(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    m = rng.random(shape, dtype=np.float32)
    out = rcd(m, CFA.GRBG.pattern())
    assert out.shape == (*shape, 3) and np.isfinite(out).all()
    np.testing.assert_array_equal(mosaic(out, CFA.GRBG.pattern()), m)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", ["rcd", "bilinear"])
def test_non_finite_input_raises(bad: float, method: str) -> None:
    m = np.ones((16, 16), np.float32)
    m[5, 7] = bad
    with pytest.raises(ContractError, match="NaN or infinite"):
        DEMOSAIC.get(method)(m, CFA.RGGB.pattern())


def test_input_errors() -> None:
    with pytest.raises(ContractError, match="float32"):
        rcd(np.ones((8, 8), np.float64), CFA.RGGB.pattern())
    with pytest.raises(ContractError, match="Bayer"):
        rcd(np.ones((8, 8), np.float32), np.array([[0, 0], [1, 2]]))
    with pytest.raises(ContractError, match="2x2"):
        rcd(np.ones((1, 8), np.float32), CFA.RGGB.pattern())
    with pytest.raises(InvalidParameter, match="rcd"):
        DEMOSAIC.get("nope")
    with pytest.raises(InvalidParameter, match="bilinear"):
        DemosaicParams(method="nope")


def test_xtrans_normalized_convolution() -> None:
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 3, (6, 6))
    pattern[0, :3] = [0, 1, 2]
    flat = np.full((30, 42), 0.7, np.float32)
    np.testing.assert_allclose(normalized_convolution(flat, pattern), 0.7, rtol=1e-5)
    raw = RawImage(flat, CFA.XTRANS, np.zeros((6, 6), np.float32), 1.0, cfa_pattern=pattern)
    img = demosaic(raw)
    assert img.data.shape == (30, 42, 3)


def _raw(data: np.ndarray, cfa: CFA = CFA.RGGB, gains: bool = True) -> RawImage:
    black = np.zeros(3 if cfa is CFA.LINEAR else (2, 2), np.float32)
    return RawImage(
        data, cfa, black, 1.0, wb_gains=np.array([2.0, 1.0, 1.5], np.float32) if gains else None
    )


def test_stage_contract_and_methods_differ(smooth_rgb: np.ndarray) -> None:
    raw = _raw(mosaic(smooth_rgb, CFA.RGGB.pattern()))
    img = demosaic(raw)
    assert isinstance(img, Image) and img.space is ColorSpace.CAMERA and img.white_balanced
    STAGE.gives_for(DemosaicParams()).check(img, "test")
    np.testing.assert_array_equal(img.data, rcd(raw.data, raw.cfa_pattern))
    other = demosaic(raw, DemosaicParams(method="bilinear"))
    assert np.abs(other.data - img.data).max() > 1e-3
    assert not demosaic(_raw(raw.data, gains=False)).white_balanced


def test_stage_linear_passthrough_and_dtype_errors(smooth_rgb: np.ndarray) -> None:
    raw = _raw(np.ascontiguousarray(smooth_rgb), CFA.LINEAR)
    img = demosaic(raw)
    np.testing.assert_array_equal(img.data, smooth_rgb)
    bad = smooth_rgb.copy()
    bad[3, 3, 1] = np.nan
    with pytest.raises(ContractError, match="NaN"):
        demosaic(_raw(bad, CFA.LINEAR))
    with pytest.raises(ContractError, match="float32"):
        demosaic(RawImage(np.zeros((8, 8), np.uint16), CFA.RGGB, np.zeros((2, 2)), 1023.0))
    assert demosaic_mosaic(np.ones((8, 8), np.float32), CFA.RGGB.pattern(), "bilinear").shape == (
        8,
        8,
        3,
    )
