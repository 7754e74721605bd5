"""Colour spaces, white points and Bradford: equal to colour-science, identities, inverses."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.spaces import (
    WHITE_D50,
    WHITE_D65,
    XYZ_to_xy,
    bradford,
    rgb_to_rgb,
    rgb_to_xyz,
    xy_to_XYZ,
    xyz_to_rgb,
)
from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

CS_NAMES = {
    ColorSpace.SRGB: "sRGB",
    ColorSpace.REC2020: "ITU-R BT.2020",
    ColorSpace.DISPLAY_P3: "Display P3",
}
ILL = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]


@pytest.mark.parametrize("space", list(CS_NAMES))
def test_rgb_to_xyz_equals_colour_science(space: ColorSpace) -> None:
    cs = colour.RGB_COLOURSPACES[CS_NAMES[space]]
    ref = colour.normalised_primary_matrix(cs.primaries, cs.whitepoint)
    m = rgb_to_xyz(space)
    assert m.dtype == np.float64 and m.shape == (3, 3)
    np.testing.assert_allclose(m, ref, atol=1e-12)
    np.testing.assert_allclose(m @ np.ones(3), xy_to_XYZ(WHITE_D65), atol=1e-12)
    np.testing.assert_allclose(xyz_to_rgb(space) @ m, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("src", list(CS_NAMES))
@pytest.mark.parametrize("dst", list(CS_NAMES))
def test_rgb_to_rgb_equals_colour_science(src: ColorSpace, dst: ColorSpace) -> None:
    a, b = colour.RGB_COLOURSPACES[CS_NAMES[src]], colour.RGB_COLOURSPACES[CS_NAMES[dst]]
    ref = np.linalg.inv(colour.normalised_primary_matrix(b.primaries, b.whitepoint)) @ (
        colour.normalised_primary_matrix(a.primaries, a.whitepoint)
    )
    m = rgb_to_rgb(src, dst)
    assert m.dtype == np.float32
    np.testing.assert_allclose(m, ref, atol=2e-7)


def test_xyz_d50_via_bradford_equals_colour_science() -> None:
    cs = colour.RGB_COLOURSPACES["ITU-R BT.2020"]
    m = rgb_to_rgb(ColorSpace.REC2020, ColorSpace.XYZ_D50).astype(np.float64)
    ref = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(ILL["D65"]), colour.xy_to_XYZ(ILL["D50"]), "Bradford"
    ) @ colour.normalised_primary_matrix(cs.primaries, cs.whitepoint)
    np.testing.assert_allclose(m, ref, atol=1e-6)
    # the Rec.2020 white lands on the D50 white
    np.testing.assert_allclose(XYZ_to_xy(m @ np.ones(3)), WHITE_D50, atol=1e-6)
    # and back
    back = rgb_to_rgb(ColorSpace.XYZ_D50, ColorSpace.REC2020).astype(np.float64)
    np.testing.assert_allclose(back @ m, np.eye(3), atol=1e-5)


def test_white_points_equal_colour_science() -> None:
    np.testing.assert_allclose(WHITE_D50, ILL["D50"], atol=1e-12)
    np.testing.assert_allclose(WHITE_D65, ILL["D65"], atol=1e-12)


def test_camera_space_has_no_matrix() -> None:
    with pytest.raises(InvalidParameter, match="camera"):
        rgb_to_xyz(ColorSpace.CAMERA)
    with pytest.raises(InvalidParameter, match="camera"):
        rgb_to_rgb(ColorSpace.CAMERA, ColorSpace.SRGB)


xy_st = st.tuples(st.floats(0.2, 0.5), st.floats(0.25, 0.45)).map(np.array)


@settings(max_examples=200, deadline=None)
@given(xy_st)
def test_bradford_identity(xy: np.ndarray) -> None:
    np.testing.assert_allclose(bradford(xy, xy), np.eye(3), atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(xy_st, xy_st)
def test_bradford_inverse_and_white_mapping(a: np.ndarray, b: np.ndarray) -> None:
    m, n = bradford(a, b), bradford(b, a)
    np.testing.assert_allclose(m @ n, np.eye(3), atol=1e-10)
    np.testing.assert_allclose(m @ xy_to_XYZ(a), xy_to_XYZ(b), atol=1e-10)
    ref = colour.adaptation.matrix_chromatic_adaptation_VonKries(
        colour.xy_to_XYZ(a), colour.xy_to_XYZ(b), "Bradford"
    )
    np.testing.assert_allclose(m, ref, atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(xy_st)
def test_xy_xyz_round_trip(xy: np.ndarray) -> None:
    np.testing.assert_allclose(XYZ_to_xy(xy_to_XYZ(xy)), xy, atol=1e-12)


def test_xyz_to_xy_rejects_black() -> None:
    with pytest.raises(InvalidParameter):
        XYZ_to_xy(np.zeros(3))
