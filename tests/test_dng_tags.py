"""DNG tag helpers: property tests for level tiling, crops, rationals and matrix checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.core.errors import CorruptInput, UnsupportedInput
from rawlux.io.dng import (
    TAG,
    DngTags,
    _Tag,
    _tag_numbers,
    black_from_tags,
    calibration_from_tags,
    crop_from_tags,
)


def _tags(**values) -> DngTags:
    """A DngTags built from (dtype, value) pairs keyed by tag name."""
    raw = {TAG[k]: _Tag(TAG[k], dt, v) for k, (dt, v) in values.items()}
    return DngTags("t.dng", raw, {})


def _rational(vals, signed=False) -> tuple[int, ...]:
    out = []
    for v in vals:
        out += [int(round(v * 10000)), 10000]
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 7), st.integers(0, 7), st.data())
def test_black_level_tiling(rr, rc, oy, ox, data):
    pat = np.array(
        data.draw(st.lists(st.integers(0, 4000), min_size=rr * rc, max_size=rr * rc)), float
    )
    tags = _tags(BlackLevelRepeatDim=(3, (rr, rc)), BlackLevel=(4, tuple(int(v) for v in pat)))
    got = black_from_tags(tags, (oy, ox), (2, 2))
    p = pat.reshape(rr, rc)
    want = np.array([[p[(oy + y) % rr, (ox + x) % rc] for x in range(2)] for y in range(2)])
    np.testing.assert_array_equal(got, want)


def test_black_level_fractional_and_deltas():
    tags = _tags(
        BlackLevelRepeatDim=(3, (2, 2)),
        BlackLevel=(5, (262286, 256, 262331, 256, 262088, 256, 262126, 256)),
        BlackLevelDeltaV=(10, (1, 1, -1, 1)),  # mean 0
        BlackLevelDeltaH=(10, (2, 1, 4, 1)),  # mean 3
    )
    got = black_from_tags(tags, (0, 0), (2, 2))
    np.testing.assert_allclose(got, np.array([[262286, 262331], [262088, 262126]]) / 256 + 3)


def test_black_level_count_mismatch():
    with pytest.raises(CorruptInput, match="BlackLevel"):
        black_from_tags(
            _tags(BlackLevelRepeatDim=(3, (2, 2)), BlackLevel=(4, (1, 2, 3))), (0, 0), (2, 2)
        )


@given(
    st.lists(
        st.tuples(st.integers(-(2**31), 2**31 - 1), st.integers(0, 2**32 - 1)),
        min_size=1,
        max_size=9,
    )
)
def test_rational_tag_numbers(pairs):
    flat = tuple(x for pair in pairs for x in pair)
    got = _tag_numbers(_Tag(1, 10, flat))
    assert got == [n / d if d else 0.0 for n, d in pairs]  # zero denominator reads as 0 (dng_sdk)


@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 400), st.integers(1, 400))
def test_crop_is_clamped_into_the_data(x, y, w, h):
    c = crop_from_tags(_tags(DefaultCropOrigin=(4, (x, y)), DefaultCropSize=(4, (w, h))), 100, 120)
    assert 0 <= c.top < 100 and 0 <= c.left < 120
    assert 1 <= c.height and c.top + c.height <= 100 and 1 <= c.width and c.left + c.width <= 120


def _cal(**extra):
    base = {"ColorMatrix1": (10, _rational([0.9, -0.3, -0.1, -0.4, 1.3, 0.1, -0.05, 0.2, 0.6]))}
    base.update(extra)
    return calibration_from_tags(_tags(**base))


def test_calibration_checks():
    cal = _cal(AsShotNeutral=(5, _rational([0.5, 1, 0.7])), CalibrationIlluminant1=(3, 21))
    assert cal.illuminant1 == 21 and cal.color_matrix1.shape == (3, 3)
    with pytest.raises(CorruptInput, match="ColorMatrix1 is all zeros"):
        _cal(ColorMatrix1=(10, (0, 1) * 9))
    with pytest.raises(CorruptInput, match="ForwardMatrix1 is singular"):
        _cal(ForwardMatrix1=(10, _rational([1, 2, 3, 2, 4, 6, 0, 0, 1])))
    with pytest.raises(UnsupportedInput, match="4-colour"):
        _cal(ColorMatrix1=(10, _rational(list(range(1, 13)))))
    with pytest.raises(CorruptInput, match="AsShotWhiteXY"):
        _cal(AsShotWhiteXY=(5, _rational([0.7, 0.5])))
    with pytest.raises(CorruptInput, match="no ColorMatrix1"):
        calibration_from_tags(_tags())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=9, max_size=9))
def test_matrix_tags_accept_only_regular_matrices(vals):
    m = np.round(np.array(vals), 4).reshape(3, 3)
    tags = _tags(ColorMatrix1=(10, _rational(m.ravel())))
    regular = np.any(m) and abs(np.linalg.det(m / np.abs(m).max())) >= 1e-9
    if regular:
        np.testing.assert_allclose(tags.matrix(TAG["ColorMatrix1"]), m, atol=1e-12)
    else:
        with pytest.raises(CorruptInput, match="ColorMatrix1"):
            tags.matrix(TAG["ColorMatrix1"])
