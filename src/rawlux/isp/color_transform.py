"""Stage 7: camera RGB (linear, white balanced) -> linear Rec.2020 D65, scene-referred, >= 0.

One fused 3x3 per image: ``M = 2^(BaselineExposure + exposure_ev) * RGB2020<-XYZ(D65) @
Bradford(D50 -> D65) @ CameraToXYZ_D50(neutral) @ diag(1 / wb_gains)`` where the camera neutral
is ``1 / wb_gains`` (the white the white_balance stage used), so a white-balanced grey of value
``v`` becomes Rec.2020 ``(v, v, v)`` times the exposure factor. CameraToXYZ_D50 follows DNG spec
ch. 6 (ForwardMatrix when present, else ColorMatrix + Bradford; dual-illuminant interpolation),
see :mod:`rawlux.color.camera`. An image that was not white balanced uses the as-shot neutral.
Negative results (out-of-gamut noise) and NaN are clamped to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError
from rawlux.core.image import ColorSpace, Encoding, Image, Referred
from rawlux.core.params import StageParams, param
from rawlux.core.pipeline import Contract, StageDef
from rawlux.color.camera import as_shot_neutral, camera_profile, camera_to_xyz_d50
from rawlux.color.spaces import rgb_to_rgb64
from rawlux.core.fused import PixelMatrix

SCENE_REC2020 = Contract(Image, "float32", ColorSpace.REC2020, Encoding.LINEAR, Referred.SCENE)
_TAKES = Contract(Image, "float32", ColorSpace.CAMERA, Encoding.LINEAR, Referred.SCENE)


@dataclass(frozen=True)
class ColorTransformParams(StageParams):
    """Colour transform parameters."""

    exposure_ev: float = param(
        0.0, lo=-10.0, hi=10.0, unit="EV", doc="exposure added to BaselineExposure"
    )


def camera_matrix(img: Image, params: ColorTransformParams = ColorTransformParams()) -> np.ndarray:
    """The fused 3x3 float64 matrix (camera RGB as held by ``img`` -> scaled linear Rec.2020)."""
    prof = camera_profile(img.calibration, img.source)
    if img.white_balanced and img.wb_gains is not None:
        g = np.asarray(img.wb_gains, np.float64).ravel()
        if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ContractError(f"wb_gains {g.tolist()} must be 3 positive numbers")
        neutral = 1.0 / g
        neutral /= neutral.max()
        pre = np.diag(neutral)  # undo the gains: camera = neutral * balanced (max-normalised)
    elif img.white_balanced:
        neutral = np.ones(3)  # balanced by someone else: assume the white is camera (1, 1, 1)
        pre = np.eye(3)
    else:
        neutral = None if img.calibration is None else as_shot_neutral(img.calibration, img.source)
        if neutral is None:
            neutral = np.ones(3)
        pre = np.eye(3)
    cam_to_xyz, _ = camera_to_xyz_d50(prof, neutral, img.source)
    m = rgb_to_rgb64(ColorSpace.XYZ_D50, ColorSpace.REC2020) @ cam_to_xyz @ pre
    return m * 2.0 ** (float(img.baseline_exposure) + params.exposure_ev)


@njit(cache=True, nogil=True, fastmath=False, aot="void(f4[:, ::1], f4[:, ::1], b1, f4[:, ::1], i8, i8)")
def _matrix_kernel(src, m, clamp, dst, k0, k1):  # pragma: no cover - compiled
    """dst[k] = m @ src[k] for (N, 3) float32 rows k0 .. k1; with ``clamp`` max(., 0) and NaN -> 0."""
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    zero = np.float32(0.0)
    for k in range(k0, k1):
        a, b, c = src[k, 0], src[k, 1], src[k, 2]
        x = m00 * a + m01 * b + m02 * c
        y = m10 * a + m11 * b + m12 * c
        z = m20 * a + m21 * b + m22 * c
        if clamp:  # "x > 0" is False for NaN, so NaN -> 0
            x = x if x > zero else zero
            y = y if y > zero else zero
            z = z if z > zero else zero
        dst[k, 0] = x
        dst[k, 1] = y
        dst[k, 2] = z


def apply_matrix(data: np.ndarray, m: np.ndarray, clamp_negative: bool = True) -> np.ndarray:
    """``out[..., i] = sum_j m[i, j] * data[..., j]`` for float32 (H, W, 3) into a new array, in one
    parallel pass; with ``clamp_negative`` negatives and NaN become 0."""
    src = np.ascontiguousarray(data, np.float32)
    if src.ndim != 3 or src.shape[2] != 3:
        raise ContractError(f"apply_matrix needs (H, W, 3) data, got shape {src.shape}")
    out = np.empty_like(src)
    flat = src.reshape(-1, 3)
    run_bands(_matrix_kernel, flat.shape[0], flat, np.ascontiguousarray(m, np.float32), bool(clamp_negative),
              out.reshape(-1, 3), min_rows=1 << 15)
    return out


def apply_matrix_reference(data: np.ndarray, m: np.ndarray, clamp_negative: bool = True) -> np.ndarray:
    """Numpy reference of :func:`apply_matrix` (float64 maths, float32 result)."""
    out = np.asarray(data, np.float64) @ np.asarray(m, np.float64).T
    if clamp_negative:
        out = np.where(out > 0, out, 0.0)
    return out.astype(np.float32)


def color_transform(img: Image, params: ColorTransformParams = ColorTransformParams()) -> Image:
    """Camera RGB -> scene-referred linear Rec.2020 (see module docstring)."""
    if img.space is not ColorSpace.CAMERA or img.encoding is not Encoding.LINEAR:
        raise ContractError(
            f"color_transform takes linear camera RGB, got {img.space.value}/{img.encoding.value}"
        )
    m = camera_matrix(img, params)
    out = apply_matrix(img.data, m)
    return img.with_data(out, space=ColorSpace.REC2020, white_balanced=True)


def color_transform_pointwise(img: Image, params: ColorTransformParams = ColorTransformParams()) -> object | None:
    """Stage fusion hint: the stage is one 3x3 matrix + clamp at 0 (see ``StageDef.pointwise``)."""
    if img.space is not ColorSpace.CAMERA or img.encoding is not Encoding.LINEAR:
        return None  # the stage itself raises the contract error

    return PixelMatrix(
        camera_matrix(img, params), True, {"space": ColorSpace.REC2020, "white_balanced": True}
    )


STAGE = StageDef(
    "color_transform", color_transform, ColorTransformParams, takes=_TAKES, gives=SCENE_REC2020,
    pointwise=color_transform_pointwise,
)
