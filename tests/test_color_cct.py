"""CCT / tint / Duv maths and EXIF LightSource codes (property tests, colour-science references)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.cct import (
    TINT_SCALE,
    cct_tint_to_xy,
    cct_to_xy,
    cct_to_xy_daylight,
    uv_to_xy,
    xy_to_cct,
    xy_to_cct_duv,
    xy_to_cct_tint,
    xy_to_uv,
)
from rawlux.color.illuminants import light_source, light_source_cct, light_source_xy
from rawlux.core.errors import InvalidParameter

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

ILL = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]


@settings(max_examples=300, deadline=None)
@given(st.floats(1700, 25000), st.floats(-100, 100))
def test_cct_tint_round_trip(cct: float, tint: float) -> None:
    t2, tint2 = xy_to_cct_tint(cct_tint_to_xy(cct, tint))
    # Robertson lines are not exactly perpendicular to the interpolated chord: tiny mismatch
    assert abs(float(t2) - cct) / cct < 2e-5
    assert abs(float(tint2) - tint) < 2e-3


@settings(max_examples=150, deadline=None)
@given(st.floats(2000, 20000), st.floats(-0.02, 0.02))
def test_cct_duv_agrees_with_colour_science_ohno(cct: float, duv: float) -> None:
    xy = cct_to_xy(cct, duv)
    ref_cct, ref_duv = colour.temperature.uv_to_CCT_Ohno2013(colour.xy_to_UCS_uv(xy))
    got_cct, got_duv = xy_to_cct_duv(xy)
    # Robertson vs Ohno: differ by well under 0.3 % in CCT and 2e-4 in Duv in this range
    assert abs(float(got_cct) - ref_cct) / ref_cct < 3e-3
    assert abs(float(got_duv) - ref_duv) < 2e-4


@pytest.mark.parametrize("name", ["A", "D50", "D65", "D75", "FL2", "FL11", "LED-B3"])
def test_named_illuminant_cct(name: str) -> None:
    ref_cct, ref_duv = colour.temperature.uv_to_CCT_Ohno2013(colour.xy_to_UCS_uv(ILL[name]))
    cct, duv = xy_to_cct_duv(ILL[name])
    assert abs(float(cct) - ref_cct) < 5.0
    assert abs(float(duv) - ref_duv) < 1.5e-4


@settings(max_examples=100, deadline=None)
@given(st.floats(1700, 25000), st.floats(0, 60))
def test_tint_sign_positive_is_green(cct: float, tint: float) -> None:
    """Positive tint lies above the Planckian locus (larger v), i.e. towards green."""
    above = xy_to_uv(cct_tint_to_xy(cct, tint))
    on = xy_to_uv(cct_tint_to_xy(cct, 0.0))
    assert above[1] >= on[1] - 1e-12
    _, duv = xy_to_cct_duv(cct_tint_to_xy(cct, tint))
    assert abs(float(duv) * TINT_SCALE - tint) < 2e-3


@settings(max_examples=100, deadline=None)
@given(st.floats(1700, 20000), st.floats(1.0001, 1.3))
def test_cct_monotonic_along_locus(cct: float, factor: float) -> None:
    assert float(xy_to_cct(cct_tint_to_xy(cct * factor))) > float(xy_to_cct(cct_tint_to_xy(cct)))


@settings(max_examples=100, deadline=None)
@given(st.floats(4000, 25000))
def test_daylight_locus_equals_colour_science(cct: float) -> None:
    np.testing.assert_allclose(
        cct_to_xy_daylight(cct), colour.temperature.CCT_to_xy_CIE_D(cct), atol=1e-12
    )


def test_planckian_locus_matches_blackbody() -> None:
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    for t in (2000, 2856, 4000, 6500, 10000):
        sd = colour.sd_blackbody(t, colour.SpectralShape(360, 830, 1))
        xy = colour.XYZ_to_xy(colour.sd_to_XYZ(sd, cmfs))
        assert np.abs(cct_tint_to_xy(t, 0.0) - xy).max() < 2.5e-4


@settings(max_examples=100, deadline=None)
@given(st.tuples(st.floats(0.2, 0.5), st.floats(0.25, 0.45)))
def test_uv_round_trip(xy: tuple[float, float]) -> None:
    np.testing.assert_allclose(uv_to_xy(xy_to_uv(np.array(xy))), xy, atol=1e-12)


def test_vectorised() -> None:
    xy = cct_tint_to_xy(np.array([2500.0, 5000.0, 9000.0]), np.array([0.0, 10.0, -10.0]))
    assert xy.shape == (3, 2)
    cct, tint = xy_to_cct_tint(xy)
    np.testing.assert_allclose(cct, [2500, 5000, 9000], rtol=2e-5)
    np.testing.assert_allclose(tint, [0, 10, -10], atol=2e-3)


def test_bad_values() -> None:
    with pytest.raises(InvalidParameter):
        cct_tint_to_xy(-5.0)
    with pytest.raises(InvalidParameter):
        cct_tint_to_xy(float("nan"))
    with pytest.raises(InvalidParameter):
        xy_to_cct_tint(np.array([np.nan, 0.3]))
    with pytest.raises(InvalidParameter, match="locus"):
        cct_to_xy(5000, locus="moon")


def test_light_sources() -> None:
    assert light_source(17).name == "Standard light A" and light_source_cct(17) == 2850.0
    assert light_source_cct(21) == 6500.0 and light_source_cct(23) == 5000.0
    np.testing.assert_allclose(light_source_xy(21), ILL["D65"], atol=1e-12)
    np.testing.assert_allclose(light_source_xy(17), ILL["A"], atol=1e-12)
    np.testing.assert_allclose(light_source_xy(22), ILL["D75"], atol=1e-12)
    assert light_source_xy(0) is None
    # every code with a CCT has a chromaticity close to that CCT
    for code in (1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24):
        xy = light_source_xy(code)
        assert xy is not None
        assert abs(float(xy_to_cct(xy)) - light_source_cct(code)) / light_source_cct(code) < 0.02
    with pytest.raises(InvalidParameter, match="LightSource"):
        light_source(99)
