"""Stage 3: white balance on the normalised mosaic (RAW_NORM -> RAW_NORM).

The white is a camera neutral ``n`` (camera RGB of a grey surface, ``max(n) = 1``) taken from
the file (as-shot), estimated from the pixels (auto, :mod:`rawlux.isp.awb`) or computed from a
colour temperature and tint through the file's colour matrices (kelvin). Gains are ``1 / n``
(so the smallest gain is exactly 1.0 and no channel is pushed down); each CFA site (or linear
channel) is multiplied by the gain of its colour; ``RawImage.wb_gains`` records (gR, gG, gB).
Values above 1.0 are kept (highlight reconstruction needs them).

Kelvin/tint: ``kelvin`` in K (1700..50000); ``tint`` on the Adobe/DNG +-150 scale
(``tint ~= 3000 * Duv``; positive = the light is greener than the Planckian locus, so the
picture is made more magenta).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from rawlux.core.errors import ContractError, InvalidParameter
from rawlux.core.image import CFA, RawImage
from rawlux.core.params import Choice, StageParams, param
from rawlux.core.fused import SiteAffine, apply_site_affine
from rawlux.core.pipeline import RAW_NORM, StageDef
from rawlux.color.camera import as_shot_neutral, camera_profile, kelvin_to_neutral
from rawlux.isp.awb import estimate_neutral

class WbMode(Choice):
    """Where the white comes from."""

    AS_SHOT = "as-shot"
    AUTO = "auto"
    KELVIN = "kelvin"


WB_MODES = WbMode.values()


@dataclass(frozen=True)
class WhiteBalanceParams(StageParams):
    """White balance parameters (see module docstring for the tint scale)."""

    mode: WbMode = param(WbMode.AS_SHOT, doc="where the white comes from: as-shot (file), auto (estimated), kelvin")
    kelvin: float = param(
        5500.0, lo=1700.0, hi=50000.0, unit="K", doc="colour temperature (mode kelvin)"
    )
    tint: float = param(
        0.0,
        lo=-150.0,
        hi=150.0,
        unit="Adobe tint (3000*Duv)",
        doc="+ green light, - magenta (mode kelvin)",
    )


class NoAsShotWhite(UserWarning):
    """The file carries no as-shot white; auto white balance was used instead (which follows
    the camera's embedded preview when the file has one, see :mod:`rawlux.isp.awb`)."""


def parse_wb(text: str) -> WhiteBalanceParams:
    """Parse the CLI ``--wb`` value ``as-shot | auto | KELVIN[,TINT]`` (e.g. ``5500,+10``)."""
    s = str(text).strip().lower()
    if s in ("as-shot", "asshot", "as_shot", "camera"):
        return WhiteBalanceParams(mode="as-shot")
    if s == "auto":
        return WhiteBalanceParams(mode="auto")
    parts = s.split(",")
    if len(parts) not in (1, 2):
        raise InvalidParameter(f"--wb {text!r}: expected as-shot, auto or KELVIN[,TINT]")
    try:
        kelvin = float(parts[0].strip().removesuffix("k"))
        tint = float(parts[1]) if len(parts) == 2 else 0.0
    except ValueError:
        raise InvalidParameter(f"--wb {text!r}: expected as-shot, auto or KELVIN[,TINT]") from None
    if not (1700.0 <= kelvin <= 50000.0):
        raise InvalidParameter(f"--wb {text!r}: kelvin {kelvin:g} is outside [1700, 50000] K")
    if not (-150.0 <= tint <= 150.0):
        raise InvalidParameter(f"--wb {text!r}: tint {tint:g} is outside [-150, 150]")
    return WhiteBalanceParams(mode="kelvin", kelvin=kelvin, tint=tint)


def gains_from_neutral(neutral: np.ndarray) -> np.ndarray:
    """(R, G, B) float32 gains ``1/neutral`` normalised so the smallest gain is 1.0."""
    n = np.asarray(neutral, np.float64).ravel()
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise InvalidParameter(f"camera neutral {n.tolist()} must be 3 positive finite numbers")
    g = 1.0 / n
    return (g / g.min()).astype(np.float32)


def find_neutral(raw: RawImage, params: WhiteBalanceParams) -> np.ndarray:
    """The camera neutral (max 1) that ``params`` selects for ``raw``."""
    cal = raw.calibration
    if params.mode == "kelvin":
        return kelvin_to_neutral(camera_profile(cal, raw.source), params.kelvin, params.tint)
    if params.mode == "as-shot":
        n = as_shot_neutral(cal, raw.source) if cal is not None else None
        if n is not None:
            return n
        how = (
            "auto, led by the camera's embedded preview"
            if "wb_preview" in (raw.metadata.extra or {})
            else "auto"
        )
        warnings.warn(
            f"{raw.source or 'raw image'}: no as-shot white balance in the file; using {how}",
            NoAsShotWhite,
            stacklevel=3,
        )

    return estimate_neutral(raw)


def white_balance_affine(raw: RawImage, params: WhiteBalanceParams = WhiteBalanceParams()) -> SiteAffine | None:
    """Stage fusion hint: the gains as a per-site affine map when the white comes from metadata
    (as-shot neutral present, or kelvin); None for auto (needs the pixels) and error cases."""
    if raw.wb_gains is not None or params.mode == "auto":
        return None
    if params.mode == "as-shot":
        if raw.calibration is None or as_shot_neutral(raw.calibration, raw.source) is None:
            return None  # the stage warns and falls back to auto
    g = gains_from_neutral(find_neutral(raw, params))
    tile = g if raw.cfa is CFA.LINEAR else g[np.asarray(raw.cfa_pattern)]
    return SiteAffine.step(np.zeros_like(tile), tile, {"wb_gains": g.copy()})


def apply_gains(raw: RawImage, gains: np.ndarray) -> RawImage:
    """Multiply each CFA site (or linear channel) by the gain of its colour; sets ``wb_gains``."""
    if raw.data.dtype != np.float32:
        raise ContractError(
            f"white balance needs the normalised float32 mosaic, got {raw.data.dtype}"
        )
    g = np.asarray(gains, np.float32).ravel()
    if raw.cfa is CFA.LINEAR:
        out = raw.data * g[None, None, :]
    else:
        pattern = np.asarray(raw.cfa_pattern)
        tile = g[pattern]
        out = apply_site_affine(raw.data, SiteAffine.step(np.zeros_like(tile), tile))
    return raw.with_data(out, wb_gains=g.copy())


def white_balance(raw: RawImage, params: WhiteBalanceParams = WhiteBalanceParams()) -> RawImage:
    """Apply the white balance ``params`` selects to a normalised RawImage."""
    if raw.data.dtype != np.float32:
        raise ContractError(
            f"white balance needs the normalised float32 mosaic, got {raw.data.dtype}"
        )
    if raw.wb_gains is not None:
        raise ContractError("white balance already applied to this image (wb_gains is set)")
    return apply_gains(raw, gains_from_neutral(find_neutral(raw, params)))


STAGE = StageDef(
    "white_balance", white_balance, WhiteBalanceParams, takes=RAW_NORM, gives=RAW_NORM,
    affine=white_balance_affine,
)
