"""sRGB transfer functions: exact versions against colour-science, fast paths against exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.transfer import (
    decode,
    encode,
    srgb_decode_fast,
    srgb_encode_fast,
    srgb_eotf,
    srgb_oetf,
)
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import Encoding

colour = pytest.importorskip("colour")


def test_exact_matches_colour_science() -> None:
    x = np.linspace(0.0, 1.0, 100001)
    np.testing.assert_allclose(srgb_oetf(x), colour.cctf_encoding(x, "sRGB"), atol=1e-12)
    np.testing.assert_allclose(srgb_eotf(x), colour.cctf_decoding(x, "sRGB"), atol=1e-8)


def test_reference_points() -> None:
    # IEC 61966-2-1: 18% grey encodes to ~0.4613, the break points meet continuously.
    assert srgb_oetf(0.18) == pytest.approx(0.461356, abs=1e-6)
    assert srgb_oetf(0.0031308) == pytest.approx(0.0031308 * 12.92, rel=1e-4)
    assert srgb_oetf(1.0) == pytest.approx(1.0, abs=1e-12)
    assert srgb_eotf(0.04045) == pytest.approx(0.04045 / 12.92, rel=1e-4)


def test_dtype_kept_and_odd_extension() -> None:
    x32 = np.array([-0.5, 0.0, 0.25, 2.0], np.float32)
    assert srgb_oetf(x32).dtype == np.float32
    assert srgb_eotf(x32).dtype == np.float32
    assert srgb_oetf(-0.25) == pytest.approx(-srgb_oetf(0.25))
    assert srgb_oetf(4.0) > 1.0  # no clipping in the exact version


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-4.0, max_value=4.0, allow_nan=False))
def test_round_trip_property(x: float) -> None:
    assert float(srgb_eotf(srgb_oetf(np.float64(x)))) == pytest.approx(x, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), st.floats(min_value=0.0, max_value=1.0))
def test_monotone_property(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert srgb_oetf(np.float64(lo)) <= srgb_oetf(np.float64(hi))
    assert srgb_eotf(np.float64(lo)) <= srgb_eotf(np.float64(hi))


def test_fast_paths_match_exact() -> None:
    x = np.random.default_rng(3).random((257, 313, 3), dtype=np.float32)
    x[0, 0] = [0.0, 1.0, 0.0031308]
    ref = srgb_oetf(x.astype(np.float64))
    assert np.abs(srgb_encode_fast(x) - ref).max() < 2e-6  # far below 16-bit quantisation (1.5e-5)
    ref = srgb_eotf(x.astype(np.float64))
    assert np.abs(srgb_decode_fast(x) - ref).max() < 2e-6


def test_fast_paths_clip_and_nan() -> None:
    x = np.array([np.nan, -1.0, 2.0, np.inf, -np.inf, 0.5], np.float32)
    y = srgb_encode_fast(x)
    np.testing.assert_array_equal(y[:5], [0.0, 0.0, 1.0, 1.0, 0.0])
    assert np.isfinite(y).all()
    out = np.empty_like(x)
    assert srgb_decode_fast(x, out=out) is out
    with pytest.raises(InvalidParameter):
        srgb_encode_fast(x, out=np.empty(3, np.float32))


def test_encode_decode_dispatch() -> None:
    x = np.array([0.1, 0.5])
    np.testing.assert_allclose(decode(encode(x, Encoding.SRGB), Encoding.SRGB), x)
    np.testing.assert_array_equal(encode(x, Encoding.LINEAR), x)


def test_computed_srgb_encoding_in_the_output_kernel_is_16bit_exact() -> None:
    """The output kernel computes the sRGB curve (no table); over [0, 1] it stays within 2e-6
    of the exact curve (a 16-bit code value is 1.5e-5) and is monotonic."""
    from rawlux.core.image import ColorSpace, Encoding, Image, Referred
    from rawlux.isp.output import convert_display

    x = np.linspace(0.0, 1.0, 3 * 200_001, dtype=np.float32)
    x[:6] = [0.0, 1e-9, 1e-6, 0.0031308, 0.00313, 0.0031309]
    img = Image(x.reshape(-1, 1, 3), ColorSpace.SRGB, Encoding.LINEAR, Referred.DISPLAY)
    got = convert_display(img, ColorSpace.SRGB, gamut_map="clip").reshape(-1).astype(np.float64)
    exact = srgb_oetf(x.astype(np.float64))
    assert np.abs(got - exact).max() < 2e-6
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(got[order]) >= -1e-7)
