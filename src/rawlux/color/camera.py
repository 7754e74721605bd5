"""Camera colour per DNG spec 1.6 chapter 6: dual-illuminant interpolation, white point from a
camera neutral, camera -> XYZ(D50) matrix, and the inverse (xy / kelvin+tint -> camera neutral).

Notation (DNG spec): ``CM`` ColorMatrix (XYZ -> reference camera), ``CC`` CameraCalibration,
``AB`` diag(AnalogBalance), ``FM`` ForwardMatrix (white-balanced camera -> XYZ D50).
``XYZtoCamera = AB @ CC @ CM``. Matrices of the two calibration illuminants are blended with a
weight linear in inverse CCT (clamped outside the two illuminants' CCTs).

Camera neutral ``n``: camera RGB of a neutral surface, scaled so ``max(n) == 1``.

Fallback for ``ColorCalibration.source == "none"`` (a bare mosaic without metadata): camera RGB
is treated as linear sRGB / Rec.709 (D65), i.e. ``CM = inverse(sRGB -> XYZ)`` with illuminant D65.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rawlux.color.cct import cct_tint_to_xy, xy_to_cct
from rawlux.color.illuminants import light_source_cct
from rawlux.color.spaces import WHITE_D50, XYZ_D50, XYZ_to_xy, bradford, xy_to_XYZ
from rawlux.core.errors import CorruptInput, InvalidParameter
from rawlux.core.image import LIGHT_SOURCE_D65, ColorCalibration, ColorSpace
from rawlux.color.spaces import xyz_to_rgb

_MAX_COND = 1e8


@dataclass(frozen=True)
class CameraProfile:
    """Validated float64 DNG colour data (see module docstring). ``cct1 <= cct2`` is not
    guaranteed; slot 2 may be absent (``cm2 is None``): then the profile is single-illuminant."""

    cm1: np.ndarray
    cm2: np.ndarray | None
    fm1: np.ndarray | None
    fm2: np.ndarray | None
    cc1: np.ndarray
    cc2: np.ndarray
    ab: np.ndarray  # (3,)
    cct1: float
    cct2: float

    __hash__ = object.__hash__

    @property
    def dual(self) -> bool:
        return self.cm2 is not None

    @property
    def has_forward(self) -> bool:
        return self.fm1 is not None and (not self.dual or self.fm2 is not None)


def _mat(m: np.ndarray | None, name: str, source: str | None) -> np.ndarray | None:
    if m is None:
        return None
    a = np.asarray(m, dtype=np.float64)
    if a.size == 9:
        a = a.reshape(3, 3)
    if a.shape != (3, 3):
        raise CorruptInput(f"{name} has shape {a.shape}, expected 3x3", source)
    if not np.all(np.isfinite(a)):
        raise CorruptInput(f"{name} contains NaN/inf", source)
    if not np.any(a):
        raise CorruptInput(f"{name} is all zeros", source)
    if np.linalg.cond(a) > _MAX_COND:
        raise CorruptInput(f"{name} is singular (cond {np.linalg.cond(a):.3g})", source)
    return a


def fallback_calibration() -> ColorCalibration:
    """Calibration used when a file has none: camera RGB = linear sRGB (D65), neutral (1,1,1)."""
    return ColorCalibration(
        color_matrix1=xyz_to_rgb(ColorSpace.SRGB),
        illuminant1=LIGHT_SOURCE_D65,
        source="none",
    )


def camera_profile(cal: ColorCalibration | None, source: str | None = None) -> CameraProfile:
    """Validate ``cal`` into a :class:`CameraProfile`.

    Raises :class:`CorruptInput` (naming ``source``) for missing, zero, non-finite or singular
    matrices. ``cal is None`` or ``cal.source == "none"`` without matrices uses the sRGB fallback.
    """
    if cal is None or (
        cal.source == "none" and cal.color_matrix1 is None and cal.color_matrix2 is None
    ):
        cal = fallback_calibration()
    cm1 = _mat(cal.color_matrix1, "ColorMatrix1", source)
    cm2 = _mat(cal.color_matrix2, "ColorMatrix2", source)
    fm1 = _mat(cal.forward_matrix1, "ForwardMatrix1", source)
    fm2 = _mat(cal.forward_matrix2, "ForwardMatrix2", source)
    cc1 = _mat(cal.camera_calibration1, "CameraCalibration1", source)
    cc2 = _mat(cal.camera_calibration2, "CameraCalibration2", source)
    ill1, ill2 = int(cal.illuminant1 or 0), int(cal.illuminant2 or 0)
    if cm1 is None and cm2 is None:
        raise CorruptInput("no ColorMatrix in the file (camera colour unknown)", source)
    if cm1 is None:  # only slot 2: use it as the single matrix
        cm1, fm1, cc1, ill1 = cm2, fm2, cc2, ill2
        cm2 = fm2 = cc2 = None
    t1 = light_source_cct(ill1) if ill1 in _KNOWN else 0.0
    t2 = light_source_cct(ill2) if ill2 in _KNOWN else 0.0
    if cm2 is not None and (t1 <= 0 or t2 <= 0 or t1 == t2):
        # interpolation undefined (unknown illuminant): DNG SDK behaviour is to use matrix 1
        cm2 = fm2 = cc2 = None
    if cm2 is None:
        fm2 = cc2 = None
    if fm1 is not None and cm2 is not None and fm2 is None:
        fm1 = None  # ForwardMatrix only usable when present for both illuminants
    ab = (
        np.ones(3)
        if cal.analog_balance is None
        else np.asarray(cal.analog_balance, np.float64).ravel()
    )
    if ab.shape != (3,) or not np.all(np.isfinite(ab)) or np.any(ab <= 0):
        raise CorruptInput(f"AnalogBalance {ab.tolist()} must be 3 positive numbers", source)
    eye = np.eye(3)
    return CameraProfile(
        cm1=cm1,
        cm2=cm2,
        fm1=fm1,
        fm2=fm2 if cm2 is not None else None,
        cc1=eye if cc1 is None else cc1,
        cc2=eye if cc2 is None else cc2,
        ab=ab,
        cct1=t1 if t1 > 0 else 5000.0,
        cct2=t2,
    )


_KNOWN = {1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}


def interpolation_weight(cct: float, cct1: float, cct2: float) -> float:
    """Weight of calibration 1 at ``cct`` (kelvin): linear in 1/CCT, clamped to [0, 1]."""
    if cct1 == cct2 or cct1 <= 0 or cct2 <= 0:
        return 1.0
    w = (1.0 / cct - 1.0 / cct2) / (1.0 / cct1 - 1.0 / cct2)
    return float(np.clip(w, 0.0, 1.0))


def _blend(p: CameraProfile, cct: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(CM, CC, FM) interpolated at ``cct``."""
    if not p.dual:
        return p.cm1, p.cc1, p.fm1
    w = interpolation_weight(cct, p.cct1, p.cct2)
    cm = w * p.cm1 + (1 - w) * p.cm2  # type: ignore[operator]
    cc = w * p.cc1 + (1 - w) * p.cc2
    fm = None if not p.has_forward else w * p.fm1 + (1 - w) * p.fm2  # type: ignore[operator]
    return cm, cc, fm


def xyz_to_camera(p: CameraProfile, xy: np.ndarray) -> np.ndarray:
    """``AB @ CC @ CM`` interpolated at the CCT of white ``xy`` (3x3 float64)."""
    cm, cc, _ = _blend(p, float(xy_to_cct(np.asarray(xy, np.float64))))
    return np.diag(p.ab) @ cc @ cm


def _norm_neutral(n: np.ndarray, source: str | None) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64).ravel()
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise CorruptInput(
            f"camera neutral {np.round(n, 6).tolist()} must be 3 positive numbers", source
        )
    return n / n.max()


def neutral_to_xy(p: CameraProfile, neutral: np.ndarray, source: str | None = None) -> np.ndarray:
    """White chromaticity of a camera neutral: iterate neutral -> xy -> CCT -> matrix -> xy
    until it moves less than 1e-7 (DNG spec 6, "Translating Camera Neutral Coordinates")."""
    n = _norm_neutral(neutral, source)
    last = WHITE_D50.copy()
    for i in range(30):
        m = xyz_to_camera(p, last)
        try:
            xyz = np.linalg.solve(m, n)
        except np.linalg.LinAlgError:
            raise CorruptInput("interpolated ColorMatrix is singular", source) from None
        if np.sum(xyz) <= 0:
            raise CorruptInput(f"camera neutral {np.round(n, 6).tolist()} maps outside XYZ", source)
        nxt = XYZ_to_xy(xyz)
        nxt = np.clip(nxt, 1e-3, 0.999)
        if np.max(np.abs(nxt - last)) < 1e-7:
            return nxt
        if i == 29:
            nxt = 0.5 * (nxt + last)
        last = nxt
    return last


def xy_to_neutral(p: CameraProfile, xy: np.ndarray) -> np.ndarray:
    """Camera neutral (max = 1) of a white of chromaticity ``xy``."""
    n = xyz_to_camera(p, xy) @ xy_to_XYZ(np.asarray(xy, np.float64))
    if np.any(n <= 0):
        raise InvalidParameter(
            f"white xy {np.round(xy, 5).tolist()} gives a non-positive camera neutral"
        )
    return n / n.max()


def kelvin_to_neutral(p: CameraProfile, kelvin: float, tint: float = 0.0) -> np.ndarray:
    """Camera neutral (max = 1) for a white of ``kelvin`` K and ``tint`` (+-150 scale, + green)."""
    return xy_to_neutral(p, cct_tint_to_xy(kelvin, tint))


def as_shot_neutral(cal: ColorCalibration, source: str | None = None) -> np.ndarray | None:
    """The file's as-shot camera neutral (from AsShotNeutral or AsShotWhiteXY), or None."""
    if cal.as_shot_neutral is not None:
        return _norm_neutral(cal.as_shot_neutral, source)
    if cal.as_shot_white_xy is not None:
        xy = np.asarray(cal.as_shot_white_xy, np.float64).ravel()
        if xy.shape != (2,) or not np.all(np.isfinite(xy)) or xy[1] <= 0:
            raise CorruptInput(f"AsShotWhiteXY {xy.tolist()} is not a chromaticity", source)
        return xy_to_neutral(camera_profile(cal, source), xy)
    return None


def camera_to_xyz_d50(
    p: CameraProfile, neutral: np.ndarray, source: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(3x3 float64 camera RGB -> XYZ D50, white xy) for camera neutral ``neutral``.

    The matrix maps the (max-normalised) neutral to the D50 white with Y = 1. ForwardMatrix path:
    ``FM @ diag(1/refNeutral) @ inv(AB @ CC)``; ColorMatrix path: ``inv(CM' @ Bradford(D50 ->
    white))`` normalised so the D50 white maps to a camera value with maximum 1.
    """
    n = _norm_neutral(neutral, source)
    xy = neutral_to_xy(p, n, source)
    cm, cc, fm = _blend(p, float(xy_to_cct(xy)))
    abcc = np.diag(p.ab) @ cc
    try:
        if fm is not None:
            ref = np.linalg.solve(abcc, n)
            if np.any(ref <= 0):
                raise CorruptInput(f"CameraCalibration maps the neutral to {ref.tolist()}", source)
            m = fm @ np.diag(1.0 / ref) @ np.linalg.inv(abcc)
            # FM maps reference (1,1,1) to D50; keep the convention that n maps to Y = 1
            y = (m @ n)[1]
            if not y > 0:
                raise CorruptInput("ForwardMatrix maps the white to Y <= 0", source)
            m = m / y
        else:
            pcs_to_cam = abcc @ cm @ bradford(WHITE_D50, xy)
            peak = np.max(pcs_to_cam @ XYZ_D50)
            if not peak > 0:
                raise CorruptInput(
                    "ColorMatrix maps the D50 white to a non-positive camera value", source
                )
            m = np.linalg.inv(pcs_to_cam / peak)
    except np.linalg.LinAlgError:
        raise CorruptInput("camera colour matrices are singular", source) from None
    if not np.all(np.isfinite(m)):
        raise CorruptInput("camera -> XYZ matrix is not finite", source)
    return m, xy
