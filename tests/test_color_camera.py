"""DNG camera colour: dual-illuminant interpolation, neutral <-> white point, camera -> XYZ D50."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawlux.color.camera import (
    as_shot_neutral,
    camera_profile,
    camera_to_xyz_d50,
    interpolation_weight,
    kelvin_to_neutral,
    neutral_to_xy,
    xy_to_neutral,
)
from rawlux.color.cct import cct_tint_to_xy, xy_to_cct
from rawlux.color.spaces import (
    WHITE_D50,
    WHITE_D65,
    XYZ_D50,
    XYZ_to_xy,
    bradford,
    rgb_to_xyz,
    xy_to_XYZ,
)
from rawlux.core.errors import CorruptInput
from rawlux.core.image import ColorCalibration, ColorSpace

# A plausible camera: XYZ -> camera matrices for A (slot 1) and D65 (slot 2) (Adobe-style values).
CM_A = np.array([[0.8180, -0.2150, -0.0860], [-0.4480, 1.2530, 0.2050], [-0.0920, 0.2150, 0.6280]])
CM_D65 = np.array(
    [[0.7280, -0.1880, -0.0700], [-0.4300, 1.1750, 0.2850], [-0.0710, 0.1640, 0.6870]]
)


def cal(**kw) -> ColorCalibration:  # type: ignore[no-untyped-def]
    base = {"color_matrix1": CM_A, "color_matrix2": CM_D65, "illuminant1": 17, "illuminant2": 21}
    base.update(kw)
    return ColorCalibration(**base)


@settings(max_examples=200, deadline=None)
@given(st.floats(1000, 30000), st.floats(1000, 30000))
def test_interpolation_weight_bounds_and_monotone(t: float, t_other: float) -> None:
    w = interpolation_weight(t, 2850, 6500)
    assert 0.0 <= w <= 1.0
    w2 = interpolation_weight(t_other, 2850, 6500)
    if t < t_other:
        assert w >= w2
    if t <= 2850:
        assert w == 1.0
    if t >= 6500:
        assert w == 0.0


@settings(max_examples=200, deadline=None)
@given(st.floats(2000, 9000))
def test_interpolation_weight_continuous_and_linear_in_mired(t: float) -> None:
    eps = 1e-3
    assert (
        abs(interpolation_weight(t + eps, 2850, 6500) - interpolation_weight(t, 2850, 6500)) < 1e-6
    )
    if 2850 < t < 6500:
        expect = (1 / t - 1 / 6500) / (1 / 2850 - 1 / 6500)
        assert abs(interpolation_weight(t, 2850, 6500) - expect) < 1e-12


def test_interpolation_weight_spec_values() -> None:
    assert interpolation_weight(2850, 2850, 6500) == 1.0
    assert interpolation_weight(6500, 2850, 6500) == 0.0
    assert interpolation_weight(5000, 2850, 2850) == 1.0  # degenerate: matrix 1


@settings(max_examples=100, deadline=None)
@given(st.floats(2000, 12000), st.floats(-30, 30))
def test_neutral_white_point_round_trip(cct: float, tint: float) -> None:
    p = camera_profile(cal())
    xy = cct_tint_to_xy(cct, tint)
    n = xy_to_neutral(p, xy)
    assert abs(n.max() - 1) < 1e-12 and np.all(n > 0)
    np.testing.assert_allclose(neutral_to_xy(p, n), xy, atol=2e-6)
    np.testing.assert_allclose(kelvin_to_neutral(p, cct, tint), n, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.floats(2000, 12000), st.floats(-20, 20))
def test_camera_to_xyz_maps_neutral_to_d50(cct: float, tint: float) -> None:
    p = camera_profile(cal())
    n = kelvin_to_neutral(p, cct, tint)
    m, xy = camera_to_xyz_d50(p, n)
    np.testing.assert_allclose(m @ n, XYZ_D50, atol=1e-9)
    assert abs(float(xy_to_cct(xy)) - cct) / cct < 1e-3


def test_single_matrix_path_is_inverse_then_bradford() -> None:
    c = ColorCalibration(color_matrix1=CM_D65, illuminant1=21)
    p = camera_profile(c)
    n = xy_to_neutral(p, WHITE_D65)
    m, xy = camera_to_xyz_d50(p, n)
    np.testing.assert_allclose(xy, WHITE_D65, atol=1e-7)
    ref = bradford(WHITE_D65, WHITE_D50) @ np.linalg.inv(CM_D65)
    ref = ref / (ref @ n)[1]
    np.testing.assert_allclose(m, ref, atol=1e-9)


def test_interpolated_matrix_between_calibrations() -> None:
    """At a white between A and D65 the XYZ->camera matrix is the inverse-CCT blend (DNG 6)."""
    p = camera_profile(cal())
    for cct in (2000.0, 2850.0, 4000.0, 5000.0, 6500.0, 9000.0):
        n = kelvin_to_neutral(p, cct)
        xy = neutral_to_xy(p, n)
        w = interpolation_weight(float(xy_to_cct(xy)), 2850, 6500)
        cm = w * CM_A + (1 - w) * CM_D65
        # the neutral must be the camera response of the white through the blended matrix
        ref = cm @ xy_to_XYZ(xy)
        np.testing.assert_allclose(n, ref / ref.max(), atol=1e-9)


def test_forward_matrix_path() -> None:
    # build forward matrices consistent with the colour matrices at A and D65
    fms = []
    for cm, wxy in ((CM_A, cct_tint_to_xy(2850.0, 0.0)), (CM_D65, cct_tint_to_xy(6500.0, 0.0))):
        n = cm @ xy_to_XYZ(wxy)
        n = n / n.max()
        fm = bradford(wxy, WHITE_D50) @ np.linalg.inv(cm) @ np.diag(n)
        fms.append(fm / (fm @ np.ones(3))[1])
    cf = cal(forward_matrix1=fms[0], forward_matrix2=fms[1])
    pf, pc = camera_profile(cf), camera_profile(cal())
    assert pf.has_forward and not pc.has_forward
    for cct in (2850.0, 6500.0):
        n = kelvin_to_neutral(pc, cct)
        mf, _ = camera_to_xyz_d50(pf, n)
        mc, _ = camera_to_xyz_d50(pc, n)
        np.testing.assert_allclose(mf @ n, XYZ_D50, atol=1e-9)
        np.testing.assert_allclose(mf, mc, atol=2e-3)


def test_analog_balance_and_camera_calibration() -> None:
    """Raw values scaled by k in hardware, declared as AnalogBalance k: same colour result."""
    k = np.array([1.3, 1.0, 0.8])
    p0 = camera_profile(cal())
    pk = camera_profile(cal(analog_balance=k))
    n0 = kelvin_to_neutral(p0, 4500.0)
    nk = kelvin_to_neutral(pk, 4500.0)
    np.testing.assert_allclose(nk, k * n0 / (k * n0).max(), atol=1e-9)
    m0, _ = camera_to_xyz_d50(p0, n0)
    mk, _ = camera_to_xyz_d50(pk, nk)
    rgb = np.array([0.2, 0.5, 0.3])
    a = m0 @ rgb
    b = mk @ (k * rgb)
    np.testing.assert_allclose(a / a[1], b / b[1], atol=1e-9)
    # CameraCalibration acts the same way (per-illuminant)
    cc = np.diag(k)
    pc = camera_profile(cal(camera_calibration1=cc, camera_calibration2=cc))
    nc = kelvin_to_neutral(pc, 4500.0)
    np.testing.assert_allclose(nc, nk, atol=1e-9)


def test_as_shot_white_xy() -> None:
    xy = cct_tint_to_xy(4200.0, 5.0)
    c = cal(as_shot_white_xy=xy)
    n = as_shot_neutral(c)
    np.testing.assert_allclose(n, xy_to_neutral(camera_profile(c), xy), atol=1e-12)
    assert as_shot_neutral(cal()) is None
    np.testing.assert_allclose(
        as_shot_neutral(cal(as_shot_neutral=np.array([0.5, 1.0, 0.7]))), [0.5, 1, 0.7]
    )


def test_fallback_when_no_metadata_is_srgb() -> None:
    p = camera_profile(ColorCalibration(source="none"))
    m, xy = camera_to_xyz_d50(p, np.ones(3))
    np.testing.assert_allclose(xy, WHITE_D65, atol=1e-7)
    np.testing.assert_allclose(
        m, bradford(WHITE_D65, WHITE_D50) @ rgb_to_xyz(ColorSpace.SRGB), atol=1e-9
    )
    p2 = camera_profile(None)
    np.testing.assert_allclose(p2.cm1, p.cm1)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"color_matrix1": np.zeros((3, 3))}, "ColorMatrix1 is all zeros"),
        ({"color_matrix1": np.ones((3, 3))}, "ColorMatrix1 is singular"),
        ({"color_matrix2": np.full((3, 3), np.nan)}, "ColorMatrix2 contains NaN"),
        ({"color_matrix1": np.ones(4)}, "ColorMatrix1 has shape"),
        ({"forward_matrix1": np.ones((3, 3))}, "ForwardMatrix1 is singular"),
        ({"color_matrix1": None, "color_matrix2": None}, "no ColorMatrix"),
        ({"analog_balance": np.array([1.0, 0.0, 1.0])}, "AnalogBalance"),
    ],
)
def test_bad_matrices_raise_corrupt_input(kw: dict, match: str) -> None:
    with pytest.raises(CorruptInput, match=match) as e:
        camera_profile(cal(**kw), "cam.dng")
    assert str(e.value).startswith("cam.dng: ")
    assert "\n" not in str(e.value)


def test_bad_neutral_raises() -> None:
    p = camera_profile(cal())
    for n in (np.array([1.0, -1.0, 1.0]), np.array([np.nan, 1, 1]), np.zeros(3)):
        with pytest.raises(CorruptInput, match="neutral"):
            neutral_to_xy(p, n, "x.dng")


def test_unknown_illuminant_uses_matrix_one() -> None:
    p = camera_profile(cal(illuminant2=0))
    assert not p.dual
    np.testing.assert_allclose(p.cm1, CM_A)


def test_only_slot_two() -> None:
    p = camera_profile(ColorCalibration(color_matrix2=CM_D65, illuminant2=21))
    np.testing.assert_allclose(p.cm1, CM_D65)
    n = xy_to_neutral(p, WHITE_D65)
    np.testing.assert_allclose(XYZ_to_xy(np.linalg.solve(CM_D65, n)), WHITE_D65, atol=1e-9)


# ------------------------------------------------------------- cross-check with colour-hdri


@settings(max_examples=40, deadline=None)
@given(st.floats(2200, 11000), st.floats(-20, 20))
def test_equals_colour_hdri_dng_implementation(cct: float, tint: float) -> None:
    """Same results as colour-hdri's DNG white-paper implementation (independent code)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdri = pytest.importorskip("colour_hdri.models.dng")
    cc1, cc2 = np.diag([1.05, 1.0, 0.97]), np.diag([1.02, 1.0, 0.99])
    ab = np.array([1.1, 1.0, 0.9])
    fm1 = np.array([[0.61, 0.24, 0.11], [0.27, 0.82, -0.09], [0.05, -0.22, 0.99]])
    fm2 = np.array([[0.66, 0.20, 0.10], [0.29, 0.79, -0.08], [0.03, -0.12, 0.91]])
    c = cal(camera_calibration1=cc1, camera_calibration2=cc2, analog_balance=ab)
    p = camera_profile(c)
    args = (2850.0, 6500.0, CM_A, CM_D65, cc1, cc2, ab)
    xy = cct_tint_to_xy(cct, tint)
    n = xy_to_neutral(p, xy)
    n_ref = hdri.xy_to_camera_neutral(xy, *args)
    np.testing.assert_allclose(n, n_ref / n_ref.max(), atol=2e-4)
    xy_ref = hdri.camera_neutral_to_xy(n, *args)
    np.testing.assert_allclose(neutral_to_xy(p, n), xy_ref, atol=2e-4)
    for fms in ((None, None), (fm1, fm2)):
        pf = camera_profile(cal(camera_calibration1=cc1, camera_calibration2=cc2, analog_balance=ab,
                                forward_matrix1=fms[0], forward_matrix2=fms[1]))  # fmt: skip
        m, wxy = camera_to_xyz_d50(pf, n)
        ref = hdri.matrix_camera_space_to_XYZ(
            wxy, *args, *(fms if fms[0] is not None else (np.identity(3),) * 2)
        )
        ref = ref / (ref @ n)[1]  # colour-hdri leaves the scale free; rawlux maps n to Y = 1
        np.testing.assert_allclose(m, ref, atol=5e-4)
