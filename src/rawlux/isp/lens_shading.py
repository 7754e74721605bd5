"""Stage 2: lens shading — DNG OpcodeList2 (GainMap, FixVignetteRadial) on the normalised raw.

:func:`apply_opcodes` implements the gain opcodes of DNG 1.6 ch. 6 on a float32 mosaic (H, W)
or linear raw / RGB (H, W, 3); black_level uses it for OpcodeList1 (on DN) and geometry for
OpcodeList3 (on camera RGB). Geometry conventions follow the DNG SDK:

* **GainMap** — the pixels ``rows top, top+RowPitch, ... < bottom`` x ``cols left, left+ColPitch,
  ... < right`` of planes ``plane .. plane+planes-1`` are multiplied by the map bilinearly
  interpolated at the pixel centre in coordinates relative to the *image* (``v = (row + 0.5)/H``,
  ``h = (col + 0.5)/W``); map sample ``(i, j)`` sits at ``(MapOriginV + i*MapSpacingV,
  MapOriginH + j*MapSpacingH)``; outside the sample grid the edge value is held. Map plane
  ``min(p - plane, MapPlanes - 1)`` serves image plane ``p``. Results are not clipped.
* **FixVignetteRadial** — every plane is multiplied by ``1 + k0 r^2 + k1 r^4 + ... + k4 r^10``,
  ``r`` = distance of the pixel from the centre ``(cx*W, cy*H)`` divided by the distance from
  the centre to the farthest image corner.

Preview-only opcodes are skipped; unknown opcodes are skipped with a warning unless marked
optional (``skip_unknown=False`` raises :class:`UnsupportedInput` instead).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError, UnsupportedInput
from rawlux.core.image import (
    FixVignetteRadial,
    GainMap,
    Opcode,
    RawImage,
    UnknownOpcode,
    WarpRectilinear,
)
from rawlux.core.params import StageParams, param
from rawlux.core.fused import SiteAffine
from rawlux.core.pipeline import RAW_NORM, StageDef
from rawlux.isp.warp import warp_rectilinear


class UnsupportedOpcodeWarning(UserWarning):
    """A required DNG opcode was skipped because rawlux does not implement it."""


@dataclass(frozen=True)
class LensShadingParams(StageParams):
    """Lens shading stage parameters."""

    enabled: bool = param(True, doc="apply the DNG OpcodeList2 gain maps / vignette correction")


# ----------------------------------------------------------------------------------- GainMap


def _interp_weights(pos: np.ndarray, origin: float, spacing: float, n: int) -> np.ndarray:
    """(len(pos), n) float64 bilinear weights of map samples at relative positions ``pos``."""
    w = np.zeros((pos.size, n), np.float64)
    rows = np.arange(pos.size)
    if n == 1 or spacing <= 0:
        w[:, 0] = 1.0
        return w
    idx = (pos - origin) / spacing
    i1 = np.clip(np.floor(idx), 0, n - 1).astype(np.int64)
    frac = np.where((idx > 0) & (i1 < n - 1), idx - i1, 0.0)
    i2 = np.minimum(i1 + 1, n - 1)
    np.add.at(w, (rows, i1), 1.0 - frac)
    np.add.at(w, (rows, i2), frac)
    return w


def gain_map_values(op: GainMap, height: int, width: int) -> tuple[slice, slice, np.ndarray]:
    """Row/column slices of the pixels ``op`` touches and their (rows, cols, map_planes) gains.

    The slices are clipped to the image; the gains array is float32 and aligned with
    ``data[rows, cols]``.
    """
    top, left = max(int(op.top), 0), max(int(op.left), 0)
    bottom, right = min(int(op.bottom), height), min(int(op.right), width)
    rp, cp = max(int(op.row_pitch), 1), max(int(op.col_pitch), 1)
    rs, cs = slice(top, bottom, rp), slice(left, right, cp)
    r = np.arange(height)[rs]
    c = np.arange(width)[cs]
    g = np.asarray(op.gains, np.float64)
    if g.ndim == 2:
        g = g[..., None]
    if g.ndim != 3 or g.size == 0:
        raise ContractError(f"GainMap gains must be (rows, cols, planes), got shape {g.shape}")
    wr = _interp_weights((r + 0.5) / height, float(op.origin_v), float(op.spacing_v), g.shape[0])
    wc = _interp_weights((c + 0.5) / width, float(op.origin_h), float(op.spacing_h), g.shape[1])
    wr32, wc32 = wr.astype(np.float32), wc.T.astype(np.float32)
    vals = np.empty((r.size, c.size, g.shape[2]), np.float32)
    for p in range(g.shape[2]):
        vals[..., p] = (wr32 @ g[..., p].astype(np.float32)) @ wc32
    return rs, cs, vals


def _col_weights(
    pos: np.ndarray, origin: float, spacing: float, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-tap form of :func:`_interp_weights`: indices i1, i2 (int64) and fraction (float32)."""
    if n == 1 or spacing <= 0:
        z = np.zeros(pos.size, np.int64)
        return z, z, np.zeros(pos.size, np.float32)
    idx = (pos - origin) / spacing
    i1 = np.clip(np.floor(idx), 0, n - 1).astype(np.int64)
    frac = np.where((idx > 0) & (i1 < n - 1), idx - i1, 0.0).astype(np.float32)
    return i1, np.minimum(i1 + 1, n - 1), frac


@njit(cache=True, nogil=True, fastmath=True,
      aot="void(f4[:, :, :], i8, i8, i8, i8, i8, f4[:, ::1], i8[::1], i8[::1], f4[::1], i8, i8)")
def _gain_map_kernel(data3, p, r0, rstep, c0, cstep, t, i1, i2, f, a0, a1):  # pragma: no cover
    """data3[r0 + a*rstep, c0 + b*cstep, p] *= lerp(t[a, i1[b]], t[a, i2[b]], f[b]), a in [a0, a1)."""
    nc = i1.size
    for a in range(a0, a1):
        r = r0 + a * rstep
        for b in range(nc):
            g = t[a, i1[b]] + f[b] * (t[a, i2[b]] - t[a, i1[b]])
            data3[r, c0 + b * cstep, p] *= g


def _apply_gain_map(data: np.ndarray, op: GainMap) -> None:
    """In-place GainMap: the map is interpolated along rows once (a small matrix product),
    then along columns per pixel inside a numba kernel (no full-size gain plane)."""
    h, w = data.shape[:2]
    data3 = data if data.ndim == 3 else data[:, :, None]
    nplanes = data3.shape[2]
    top, left = max(int(op.top), 0), max(int(op.left), 0)
    bottom, right = min(int(op.bottom), h), min(int(op.right), w)
    rp, cp = max(int(op.row_pitch), 1), max(int(op.col_pitch), 1)
    rows = np.arange(top, bottom, rp)
    cols = np.arange(left, right, cp)
    if rows.size == 0 or cols.size == 0:
        return
    g = np.asarray(op.gains, np.float64)
    if g.ndim == 2:
        g = g[..., None]
    if g.ndim != 3 or g.size == 0:
        raise ContractError(f"GainMap gains must be (rows, cols, planes), got shape {g.shape}")
    wr = _interp_weights((rows + 0.5) / h, float(op.origin_v), float(op.spacing_v), g.shape[0])
    i1, i2, f = _col_weights((cols + 0.5) / w, float(op.origin_h), float(op.spacing_h), g.shape[1])
    for p in range(int(op.plane), min(int(op.plane) + max(int(op.planes), 1), nplanes)):
        mp = min(p - int(op.plane), g.shape[2] - 1)
        t = np.ascontiguousarray(wr @ g[..., mp], dtype=np.float32)  # (rows, map cols)
        run_bands(_gain_map_kernel, rows.size, data3, p, top, rp, left, cp, t, i1, i2, f, min_rows=4)


# ------------------------------------------------------------------------- FixVignetteRadial


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy",
      aot="void(f4[:, :, :], f8, f8, f8, f8[::1], i8, i8)")
def _vignette_kernel(data3, cx, cy, inv_d2, k, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1``: multiply by the radial polynomial gain (in place)."""
    h, w, n = data3.shape
    for i in range(r0, r1):
        dy2 = (np.float64(i) - cy) ** 2 * inv_d2
        for j in range(w):
            r2 = dy2 + (np.float64(j) - cx) ** 2 * inv_d2
            gain = np.float32(
                1.0 + r2 * (k[0] + r2 * (k[1] + r2 * (k[2] + r2 * (k[3] + r2 * k[4]))))
            )
            for p in range(n):
                data3[i, j, p] *= gain


def vignette_gain(op: FixVignetteRadial, height: int, width: int) -> np.ndarray:
    """The (H, W) float32 gain plane of ``op`` (numpy reference of the in-place kernel)."""
    cx, cy, inv_d2 = _vignette_geometry(op, height, width)
    y = (np.arange(height, dtype=np.float64) - cy) ** 2 * inv_d2
    x = (np.arange(width, dtype=np.float64) - cx) ** 2 * inv_d2
    r2 = y[:, None] + x[None, :]
    k = op.k
    return (1.0 + r2 * (k[0] + r2 * (k[1] + r2 * (k[2] + r2 * (k[3] + r2 * k[4]))))).astype(
        np.float32
    )


def _vignette_geometry(
    op: FixVignetteRadial, height: int, width: int
) -> tuple[float, float, float]:
    cx, cy = float(op.center[0]) * width, float(op.center[1]) * height
    d2 = max(cx * cx, (width - cx) ** 2) + max(cy * cy, (height - cy) ** 2)
    return cx, cy, 1.0 / d2 if d2 > 0 else 0.0


def _apply_vignette(data: np.ndarray, op: FixVignetteRadial) -> None:
    h, w = data.shape[:2]
    cx, cy, inv_d2 = _vignette_geometry(op, h, w)
    data3 = data if data.ndim == 3 else data[:, :, None]
    run_bands(_vignette_kernel, h, data3, float(cx), float(cy), float(inv_d2),
              np.ascontiguousarray(op.k, np.float64))


# ---------------------------------------------------------------------------------- dispatch


def _name(op: Opcode) -> str:
    return op.name if isinstance(op, UnknownOpcode) else type(op).__name__


def apply_opcodes(
    data: np.ndarray,
    opcodes: Sequence[Opcode],
    cfa_pattern: np.ndarray | None = None,
    *,
    skip_unknown: bool = True,
) -> np.ndarray:
    """Apply DNG gain opcodes to float32 (H, W) mosaic or (H, W, 3) data; returns a new array.

    ``cfa_pattern`` is informational (GainMap selects CFA sites through its row/column pitch
    and offsets, per the spec). WarpRectilinear is applied to (H, W, 3) data via
    :func:`rawlux.isp.warp.warp_rectilinear` and skipped with a warning on a mosaic.
    """
    if not isinstance(data, np.ndarray) or data.dtype != np.float32:
        raise ContractError(
            f"apply_opcodes needs float32 data, got {getattr(data, 'dtype', type(data))}"
        )
    if data.ndim not in (2, 3):
        raise ContractError(f"apply_opcodes needs (H, W) or (H, W, C) data, got shape {data.shape}")
    out = np.array(data, dtype=np.float32, order="C", copy=True)
    for op in opcodes:
        if op.preview_only:
            continue
        if isinstance(op, GainMap):
            _apply_gain_map(out, op)
        elif isinstance(op, FixVignetteRadial):
            _apply_vignette(out, op)
        elif isinstance(op, WarpRectilinear) and out.ndim == 3:
            out = warp_rectilinear(out, op)
        elif op.optional:
            continue
        elif skip_unknown:
            warnings.warn(
                f"skipping unsupported DNG opcode {_name(op)} (id {op.opcode_id}) on shape {data.shape}",
                UnsupportedOpcodeWarning,
                stacklevel=2,
            )
        else:
            raise UnsupportedInput(f"DNG opcode {_name(op)} (id {op.opcode_id}) is not supported")
    return out


def lens_shading(raw: RawImage, params: LensShadingParams = LensShadingParams()) -> RawImage:
    """Apply ``raw.opcodes2`` (lens shading) to a normalised RawImage; no-op when disabled."""
    if raw.data.dtype != np.float32:
        raise ContractError(f"lens shading needs the normalised float32 raw, got {raw.data.dtype}")
    if not params.enabled or not raw.opcodes2:
        return raw
    return raw.with_data(apply_opcodes(raw.data, raw.opcodes2, raw.cfa_pattern))


def lens_shading_affine(raw: RawImage, params: LensShadingParams = LensShadingParams()) -> object | None:
    """Stage fusion hint: the identity map when there is nothing to apply, else None."""
    if params.enabled and raw.opcodes2:
        return None
    return SiteAffine.identity(np.ones(3) if raw.data.ndim == 3 else np.ones((1, 1)))


STAGE = StageDef(
    "lens_shading", lens_shading, LensShadingParams, takes=RAW_NORM, gives=RAW_NORM,
    affine=lens_shading_affine,
)
