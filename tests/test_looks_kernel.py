"""The fast look kernel: agrees with the numpy reference for every look, its building blocks
(fast log2, block means, upsampling) are exact enough, and bad input stays bounded."""

from __future__ import annotations

import dataclasses as dc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.jit import njit  # binds the lazy fast_log2 when compiled
from rawlux.core.fastmath import fast_log2
from rawlux.looks.local import block_mean, downsample_norm, upsample_columns, upsample_reference
from rawlux.looks.registry import get_look, look_names
from rawlux.looks.render import render_look, render_reference

#: stated agreement of the kernel (float32, fast log2) with the float64 numpy reference
KERNEL_TOL = 2e-5


@njit(cache=True)
def _log2_all(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_log2(x[i])
    return out


def _scene(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth colourful scene-linear Rec.2020 with a bright top band, a deep shadow and
    some exact zeros and over-range values."""
    import cv2

    rng = np.random.default_rng(seed)
    col = cv2.resize(rng.random((9, 13, 3)).astype(np.float32), (w, h),
                     interpolation=cv2.INTER_CUBIC).clip(0.0, None)
    light = np.where(np.arange(w)[None, :] > w * 0.6, 0.01, 0.3).astype(np.float32)
    img = col * light[..., None] * (0.5 + rng.random((h, w, 1), dtype=np.float32))
    img[: h // 5] *= 20.0
    img[h // 2, : w // 8] = 0.0
    return np.ascontiguousarray(img, np.float32)


def _no_grain(name: str):  # type: ignore[no-untyped-def]
    spec = get_look(name)
    return dc.replace(spec, grain=dc.replace(spec.grain, amount=0.0))


@pytest.mark.parametrize("name", [n for n in look_names() if n != "neutral"])
def test_kernel_matches_reference_every_look(name: str) -> None:
    x = _scene(67, 93, seed=len(name))  # odd sizes: partial row chunks
    spec = _no_grain(name)
    for strength in (1.0, 0.6):
        np.testing.assert_allclose(render_look(x, spec, strength),
                                   render_reference(x, spec, strength), atol=KERNEL_TOL)


def test_kernel_matches_reference_with_block_downsampling() -> None:
    x = _scene(781, 1031, seed=7)  # short side >= 768: 2x2 blocks, partial last blocks
    spec = _no_grain("vibrant")
    spec = dc.replace(spec, vignette=dc.replace(spec.vignette, amount=-0.5))
    np.testing.assert_allclose(render_look(x, spec), render_reference(x, spec), atol=KERNEL_TOL)


def test_monochrome_kernel_is_exactly_grey_and_tinted_by_diagonal() -> None:
    x = _scene(50, 70, seed=2)
    mono = render_look(x, "mono")
    assert np.abs(mono - mono[..., :1]).max() <= 1e-6  # grey diagonal of a mono LUT is grey
    sepia = render_look(x, _no_grain("sepia"))
    assert (sepia[..., 0] - sepia[..., 2]).mean() > 0.005


def test_fast_log2_accuracy_dense() -> None:
    x = np.geomspace(1e-12, 3e38, 400_001).astype(np.float32)
    ref = np.log2(x.astype(np.float64))
    err = np.abs(_log2_all(x) - ref)
    assert err.max() <= 2e-7 + 4e-8 * np.abs(ref).max()  # series error + float32 rounding
    mid = (x > 2.0 ** -24) & (x < 2.0 ** 8)  # the range that matters for pictures
    assert err[mid].max() <= 2.5e-6


@settings(max_examples=200, deadline=None)
@given(st.floats(2.0 ** -100, 2.0 ** 100, allow_nan=False, width=32))
def test_fast_log2_property(v: float) -> None:
    got = float(_log2_all(np.array([v], np.float32))[0])
    ref = float(np.log2(np.float64(np.float32(v))))
    assert abs(got - ref) <= 2e-7 + 1.2e-7 * abs(ref)


@pytest.mark.parametrize("h,w,k,step", [(20, 30, 4, 1), (23, 31, 4, 1), (9, 9, 3, 1), (5, 7, 1, 1),
                                         (23, 31, 4, 2), (21, 9, 7, 2)])
def test_block_mean_matches_numpy(h: int, w: int, k: int, step: int) -> None:
    x = np.random.default_rng(h * w).random((h, w, 3), dtype=np.float32)
    got = block_mean(x, k, step)
    sh, sw = -(-h // k), -(-w // k)
    assert got.shape == (sh, sw, 3)
    for q in range(sh):
        for p in range(sw):
            ref = x[q * k:(q + 1) * k:step, p * k:(p + 1) * k].reshape(-1, 3).mean(0)
            np.testing.assert_allclose(got[q, p], ref, rtol=1e-5)


def test_downsample_norm_is_log_of_block_max() -> None:
    x = _scene(800, 900, seed=3)
    ln, k = downsample_norm(x)
    assert k == 2 and ln.shape == (400, 450) and ln.dtype == np.float32
    ref = np.log2(np.maximum(block_mean(x, 2).max(-1), 2.0 ** -20))
    np.testing.assert_allclose(ln, ref, atol=1e-5)


@pytest.mark.parametrize("sw,w,k", [(9, 35, 4), (8, 35, 4), (1, 5, 7), (572, 4000, 7)])
def test_column_upsampling_matches_reference(sw: int, w: int, k: int) -> None:
    from rawlux.looks.local import upsample_taps

    c = np.random.default_rng(0).random((6, sw), dtype=np.float32)
    h = 23
    rows = upsample_columns(c, w, k)  # the kernel: along x once, then two rows blended per row
    assert rows.shape == (6, w) and rows.dtype == np.float32 and rows.flags.c_contiguous
    y0, y1, wy = upsample_taps(6, h, k)
    full = rows[y0] * (1 - wy[:, None]) + rows[y1] * wy[:, None]
    ref = upsample_reference(c, h, w, k)
    np.testing.assert_allclose(full, ref, atol=1e-6)
    assert ref.min() >= c.min() - 1e-6 and ref.max() <= c.max() + 1e-6  # bilinear: no overshoot


@pytest.mark.parametrize("name", ["vibrant", "mono-hc", "soft-film"])
def test_bad_values_stay_bounded(name: str) -> None:
    x = _scene(40, 50, seed=5)
    x[1, 1] = (np.nan, 0.2, 0.3)
    x[2, 2] = (0.1, np.inf, 0.0)
    x[3, 3] = (-1.0, -2.0, 0.5)
    x[4, 4] = np.nan
    x[5, 5] = np.inf
    x[6, 6] = (1e30, 1e-30, 0.0)
    for strength in (1.0, 0.5):
        out = render_look(x, name, strength)
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    out = render_look(x, name)
    assert out[4, 4].max() <= 0.1  # all-NaN pixel -> black
    assert out[5, 5].min() >= 0.8  # +inf -> white (up to the look's tint / vignette)


@pytest.mark.parametrize("name,strength,shape", [
    ("vibrant", 1.0, (131, 157)), ("slide", 1.0, (131, 157)), ("slide", 0.6, (131, 157)),
    ("mono-hc", 0.5, (131, 157)), ("neutral", 1.0, (131, 157)), ("authentic", 1.0, (800, 1040)),
])
def test_render_in_place_equals_new_array(name: str, strength: float, shape: tuple[int, int]) -> None:
    """``out=data`` (in place, several row bands, grain and blending included) gives exactly
    the pixels of rendering into a new array, and leaves no input pixel unrendered."""
    from rawlux.looks.render import clip_neutral

    x = _scene(*shape, seed=11)
    x[7, 9] = (np.nan, np.inf, -1.0)
    ref = render_look(x, name, strength)
    y = x.copy()
    got = render_look(y, name, strength, out=y)
    assert got is y
    np.testing.assert_array_equal(y, ref)
    neutral = clip_neutral(x)
    if name != "neutral":
        assert np.abs(ref - neutral).max() > 0.05  # the look did something
    z = x.copy()
    assert clip_neutral(z, out=z) is z
    np.testing.assert_array_equal(z, neutral)


def test_render_into_bad_output_raises() -> None:
    from rawlux.core.errors import InvalidParameter

    x = _scene(40, 50, seed=1)
    for bad in (np.empty((40, 50, 3), np.float64), np.empty((40, 51, 3), np.float32),
                np.empty((40, 50, 3), np.float32, order="F")):
        with pytest.raises(InvalidParameter):
            render_look(x, "vivid", out=bad)
    buf = np.zeros((41, 50, 3), np.float32)
    buf[1:] = x
    with pytest.raises(InvalidParameter):  # overlaps the input without being it
        render_look(buf[1:], "vivid", out=buf[:-1])
