"""RGB colour spaces, white points and the matrices between them (pure numpy, no colour-science).

Conventions
-----------
* White points are CIE 1931 2-degree chromaticities ``xy``; XYZ tristimulus values are scaled so
  the white has ``Y = 1``.
* :func:`rgb_to_xyz` maps *linear* RGB of a space to CIE XYZ relative to that space's own white
  (no adaptation). ``XYZ_D50`` is XYZ itself (identity).
* :func:`rgb_to_rgb` maps linear RGB between spaces, adapting white points with the Bradford
  transform (sRGB, Display P3 and Rec.2020 are all D65; ``XYZ_D50`` is the DNG/ICC PCS, D50).
* ``ColorSpace.CAMERA`` has no fixed matrix (it depends on the file): asking for it raises
  :class:`InvalidParameter`.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from rawlux.core.errors import InvalidParameter
from rawlux.core.image import ColorSpace

# ---------------------------------------------------------------------------- white points (xy)

# CIE 1931 2 deg chromaticities as in colour-science's CCS_ILLUMINANTS (D50/D65: the 4-digit
# values used by the DNG SDK, ICC and the RGB space definitions).
WHITE_D50 = np.array([0.3457, 0.3585])
WHITE_D55 = np.array([0.33243, 0.34744])
WHITE_D65 = np.array([0.3127, 0.3290])
WHITE_D75 = np.array([0.29903, 0.31488])
WHITE_A = np.array([0.44758, 0.40745])
WHITE_E = np.array([1.0 / 3.0, 1.0 / 3.0])

#: The DNG profile connection space white (XYZ, Y = 1).
XYZ_D50 = np.array([0.3457 / 0.3585, 1.0, (1 - 0.3457 - 0.3585) / 0.3585])

# ------------------------------------------------------------------------------ primaries (xy)

PRIMARIES: dict[ColorSpace, np.ndarray] = {
    ColorSpace.SRGB: np.array([[0.640, 0.330], [0.300, 0.600], [0.150, 0.060]]),
    ColorSpace.REC2020: np.array([[0.708, 0.292], [0.170, 0.797], [0.131, 0.046]]),
    ColorSpace.DISPLAY_P3: np.array([[0.680, 0.320], [0.265, 0.690], [0.150, 0.060]]),
}

WHITES: dict[ColorSpace, np.ndarray] = {
    ColorSpace.SRGB: WHITE_D65,
    ColorSpace.REC2020: WHITE_D65,
    ColorSpace.DISPLAY_P3: WHITE_D65,
    ColorSpace.XYZ_D50: WHITE_D50,
}

#: Bradford cone response matrix (Lam 1985), XYZ -> sharpened LMS.
BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def xy_to_XYZ(xy: np.ndarray) -> np.ndarray:
    """Chromaticity ``(..., 2)`` -> XYZ ``(..., 3)`` with ``Y = 1``."""
    xy = np.asarray(xy, dtype=np.float64)
    x, y = xy[..., 0], xy[..., 1]
    if np.any(y <= 0):
        raise InvalidParameter(f"chromaticity y must be > 0, got {np.asarray(y).min()}")
    return np.stack([x / y, np.ones_like(x), (1.0 - x - y) / y], axis=-1)


def XYZ_to_xy(XYZ: np.ndarray) -> np.ndarray:
    """XYZ ``(..., 3)`` -> chromaticity ``(..., 2)``; raises on a zero/negative sum."""
    XYZ = np.asarray(XYZ, dtype=np.float64)
    s = XYZ.sum(axis=-1)
    if np.any(s <= 0) or not np.all(np.isfinite(s)):
        raise InvalidParameter(f"XYZ {XYZ.tolist()} has no chromaticity (X+Y+Z <= 0)")
    return np.stack([XYZ[..., 0] / s, XYZ[..., 1] / s], axis=-1)


def white_xy(space: ColorSpace) -> np.ndarray:
    """The white point chromaticity of ``space`` (copy)."""
    if space not in WHITES:
        raise InvalidParameter(f"colour space {space.value!r} has no fixed white point")
    return WHITES[space].copy()


def bradford(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    """3x3 float64 Bradford adaptation XYZ(src white) -> XYZ(dst white).

    Whites are given as xy ``(2,)`` or XYZ ``(3,)`` (only the chromaticity matters).
    """
    s = np.asarray(src_white, dtype=np.float64)
    d = np.asarray(dst_white, dtype=np.float64)
    s = xy_to_XYZ(s) if s.shape == (2,) else s / s[1]
    d = xy_to_XYZ(d) if d.shape == (2,) else d / d[1]
    if s.shape != (3,) or d.shape != (3,):
        raise InvalidParameter(
            f"white points must be xy (2,) or XYZ (3,), got {s.shape}, {d.shape}"
        )
    lms_s = BRADFORD @ s
    lms_d = BRADFORD @ d
    if np.any(np.abs(lms_s) < 1e-12):
        raise InvalidParameter(f"degenerate source white {s.tolist()} for Bradford")
    return np.linalg.inv(BRADFORD) @ np.diag(lms_d / lms_s) @ BRADFORD


def primaries_to_xyz(primaries: np.ndarray, white: np.ndarray) -> np.ndarray:
    """Normalised primary matrix (SMPTE RP 177): linear RGB -> XYZ, RGB (1,1,1) -> white Y=1."""
    p = xy_to_XYZ(np.asarray(primaries, dtype=np.float64)).T  # columns = primaries (Y=1)
    s = np.linalg.solve(p, xy_to_XYZ(white))
    return p * s[None, :]


@cache
def _rgb_to_xyz_cached(space: ColorSpace) -> np.ndarray:
    if space is ColorSpace.XYZ_D50:
        return np.eye(3)
    if space not in PRIMARIES:
        raise InvalidParameter(
            f"colour space {space.value!r} has no fixed matrix; valid: "
            + ", ".join(s.value for s in (*PRIMARIES, ColorSpace.XYZ_D50))
        )
    return primaries_to_xyz(PRIMARIES[space], WHITES[space])


def rgb_to_xyz(space: ColorSpace) -> np.ndarray:
    """3x3 float64: linear RGB of ``space`` -> CIE XYZ (own white, Y of white = 1)."""
    return _rgb_to_xyz_cached(space).copy()


def xyz_to_rgb(space: ColorSpace) -> np.ndarray:
    """3x3 float64 inverse of :func:`rgb_to_xyz`."""
    return np.linalg.inv(_rgb_to_xyz_cached(space))


@cache
def _rgb_to_rgb_cached(src: ColorSpace, dst: ColorSpace) -> np.ndarray:
    m = xyz_to_rgb(dst) @ bradford(WHITES[src], WHITES[dst]) @ rgb_to_xyz(src)
    if src is dst:
        m = np.eye(3)
    return m


def rgb_to_rgb(src: ColorSpace, dst: ColorSpace) -> np.ndarray:
    """3x3 float32: linear RGB in ``src`` -> linear RGB in ``dst`` (Bradford between whites).

    Apply to pixels as ``rgb_dst = M @ rgb_src`` (i.e. ``data @ M.T`` for HWC arrays).
    """
    for s in (src, dst):
        if s not in WHITES:
            raise InvalidParameter(f"colour space {s.value!r} has no fixed matrix")
    return _rgb_to_rgb_cached(src, dst).astype(np.float32)


def rgb_to_rgb64(src: ColorSpace, dst: ColorSpace) -> np.ndarray:
    """Same as :func:`rgb_to_rgb` in float64 (for composing matrices)."""
    rgb_to_rgb(src, dst)  # validation
    return _rgb_to_rgb_cached(src, dst).copy()
