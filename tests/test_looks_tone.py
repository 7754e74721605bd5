"""Tone curve properties (hypothesis): monotone, 0 -> black, bounded, slope at the pivot."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import InvalidParameter
from rawlux.looks.tone import apply_tone_table, solve_curve, tone_curve, tone_table


def _feasible(kw: dict) -> bool:
    """White too close to the pivot for the slope has no solution (and is rejected on load)."""
    try:
        solve_curve(kw["grey"], kw["contrast"], kw["white"])
        return True
    except InvalidParameter:
        return False


curves = st.fixed_dictionaries({
    "pivot": st.floats(0.05, 0.5),
    "grey": st.floats(0.08, 0.4),
    "contrast": st.floats(0.5, 2.5),
    "white": st.floats(3.0, 12.0),
    "toe": st.floats(0.0, 1.0),
    "black": st.just(0.0),
}).filter(_feasible)


@settings(max_examples=60, deadline=None)
@given(curves)
def test_monotone_zero_bounded(kw: dict) -> None:
    x = np.concatenate([[0.0], np.geomspace(1e-8, 1e4, 2000)])
    y = tone_curve(x, **kw)
    assert y[0] == 0.0
    assert np.all(np.diff(y) >= -1e-12)
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert y[-1] == pytest.approx(1.0)  # far above white


@settings(max_examples=40, deadline=None)
@given(curves, st.floats(0.0, 0.1))
def test_black_lift_bounds(kw: dict, black: float) -> None:
    kw = dict(kw, black=black)
    y = tone_curve(np.array([0.0, 1e-3, 1.0, 1e5]), **kw)
    assert y[0] == pytest.approx(black)
    assert np.all(y >= black - 1e-12) and np.all(y <= 1.0)


@settings(max_examples=40, deadline=None)
@given(curves)
def test_pivot_and_slope(kw: dict) -> None:
    kw = dict(kw, toe=0.0)
    p = kw["pivot"]
    y = tone_curve(np.array([p / 1.01, p, p * 1.01]), **kw)
    assert y[1] == pytest.approx(kw["grey"], rel=1e-6)
    slope = np.log(y[2] / y[0]) / np.log(1.01 ** 2)
    assert slope == pytest.approx(kw["contrast"], rel=0.02)


@settings(max_examples=20, deadline=None)
@given(curves)
def test_table_matches_curve(kw: dict) -> None:
    tab = tone_table(**kw)
    x = np.geomspace(1e-5, 200.0, 500)
    np.testing.assert_allclose(apply_tone_table(np.log2(x), tab), tone_curve(x, **kw), atol=2e-3)


def test_infeasible_curve_is_an_error() -> None:
    with pytest.raises(InvalidParameter):
        solve_curve(0.09, 1.0, 3.0)  # cannot climb from 0.09 to 1 in 3 stops at slope <= 1


def test_invalid_curve() -> None:
    with pytest.raises(InvalidParameter):
        tone_curve(np.ones(3), grey=1.5)
    with pytest.raises(InvalidParameter):
        tone_curve(np.ones(3), toe=2.0)
