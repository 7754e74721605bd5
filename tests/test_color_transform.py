"""color_transform stage: grey stays grey, exposure, clamping, float64 reference, contract."""

from __future__ import annotations


import numpy as np
import pytest

from rawlux.color.camera import camera_profile, camera_to_xyz_d50, kelvin_to_neutral
from rawlux.color.spaces import XYZ_D50, rgb_to_rgb64
from rawlux.core.errors import ContractError, CorruptInput, InvalidParameter
from rawlux.core.image import ColorCalibration, ColorSpace, Encoding, Image, Referred
from rawlux.isp.color_transform import STAGE, ColorTransformParams, camera_matrix, color_transform
from rawlux.core.pipeline import CAMERA_LINEAR
from rawlux.isp.white_balance import gains_from_neutral

CM_A = np.array([[0.8180, -0.2150, -0.0860], [-0.4480, 1.2530, 0.2050], [-0.0920, 0.2150, 0.6280]])
CM_D65 = np.array(
    [[0.7280, -0.1880, -0.0700], [-0.4300, 1.1750, 0.2850], [-0.0710, 0.1640, 0.6870]]
)
CAL = ColorCalibration(color_matrix1=CM_A, color_matrix2=CM_D65, illuminant1=17, illuminant2=21)


def img(
    data: np.ndarray, kelvin: float = 4000.0, baseline: float = 0.0, cal: ColorCalibration = CAL
) -> Image:
    g = gains_from_neutral(kelvin_to_neutral(camera_profile(cal), kelvin))
    return Image(np.ascontiguousarray(data, np.float32), ColorSpace.CAMERA, calibration=cal, wb_gains=g,
                 baseline_exposure=baseline)  # fmt: skip


@pytest.mark.parametrize("kelvin", [2500.0, 4000.0, 6500.0, 10000.0])
def test_balanced_grey_stays_grey(kelvin: float) -> None:
    grey = np.full((4, 5, 3), 0.3, np.float32)
    out = color_transform(img(grey, kelvin))
    assert (
        out.space is ColorSpace.REC2020
        and out.referred is Referred.SCENE
        and out.encoding is Encoding.LINEAR
    )
    np.testing.assert_allclose(out.data, 0.3, atol=2e-5)


def test_exposure_and_baseline_scale() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.5, (6, 6, 3)).astype(np.float32)
    a = color_transform(img(x)).data
    b = color_transform(img(x, baseline=0.5), ColorTransformParams(exposure_ev=0.5)).data
    np.testing.assert_allclose(b, a * 2.0, rtol=1e-5, atol=1e-7)
    with pytest.raises(InvalidParameter):
        ColorTransformParams(exposure_ev=30.0)


def test_matches_float64_reference_and_clamps() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.05, 1.5, (16, 16, 3)).astype(np.float32)
    im = img(x, 3200.0)
    out = color_transform(im).data
    n = 1.0 / im.wb_gains.astype(np.float64)
    n /= n.max()
    m, _ = camera_to_xyz_d50(camera_profile(CAL), n)
    ref = (
        x.astype(np.float64)
        @ (rgb_to_rgb64(ColorSpace.XYZ_D50, ColorSpace.REC2020) @ m @ np.diag(n)).T
    )
    np.testing.assert_allclose(out, np.maximum(ref, 0), atol=2e-5)
    assert out.min() >= 0.0 and (ref < 0).any()


def test_unbalanced_input_uses_as_shot() -> None:
    cal = ColorCalibration(
        color_matrix1=CM_D65, illuminant1=21, as_shot_neutral=np.array([0.5, 1.0, 0.8])
    )
    raw_grey = np.broadcast_to(np.array([0.5, 1.0, 0.8], np.float32) * 0.4, (3, 3, 3)).copy()
    im = Image(raw_grey, ColorSpace.CAMERA, calibration=cal, white_balanced=False)
    out = color_transform(im).data
    np.testing.assert_allclose(out, 0.4, atol=2e-5)
    assert color_transform(im).white_balanced


def test_camera_matrix_white_is_d50_path() -> None:
    im = img(np.zeros((2, 2, 3)))
    m = camera_matrix(im)
    np.testing.assert_allclose(m @ np.ones(3), np.ones(3), atol=1e-9)
    assert np.isclose(XYZ_D50[1], 1.0)


def test_errors() -> None:
    bad = ColorCalibration(color_matrix1=np.zeros((3, 3)), illuminant1=21)
    im = Image(np.zeros((2, 2, 3), np.float32), ColorSpace.CAMERA, calibration=bad, wb_gains=np.ones(3, np.float32),
               source="bad.dng")  # fmt: skip
    with pytest.raises(CorruptInput, match="bad.dng: ColorMatrix1 is all zeros"):
        color_transform(im)
    with pytest.raises(ContractError):
        color_transform(Image(np.zeros((2, 2, 3), np.float32), ColorSpace.SRGB))


def test_stage_contract() -> None:
    assert STAGE.takes.accepts(CAMERA_LINEAR)
    assert STAGE.gives.space is ColorSpace.REC2020


def test_nan_and_inf_input() -> None:
    x = np.full((2, 3, 3), 0.2, np.float32)
    x[0, 0, 1] = np.nan
    x[1, 2, 0] = np.inf
    out = color_transform(img(x)).data
    assert not np.isnan(out).any() and out.min() >= 0.0
    np.testing.assert_allclose(out[0, 1], 0.2, atol=2e-5)
