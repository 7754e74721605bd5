"""Execution helpers for fused stages (see ``docs/architecture.md``, "Stage fusion").

A mosaic stage whose whole effect on its input is a **per-CFA-site affine map**
``out = data * scale[site] + offset[site]`` can say so (``StageDef.affine``). The pipeline then
composes a run of such stages (black level, lens shading without opcodes, as-shot/Kelvin white
balance) into one :class:`SiteAffine` and makes a single pass over the mosaic instead of one
pass per stage. This module holds the composition maths and the one numba kernel; the numpy
reference :func:`apply_site_affine_reference` is what the kernel is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import lcm
from typing import Any, Mapping

import numpy as np
from numba import njit, prange

from rawlux.core.errors import ContractError


@dataclass(frozen=True)
class SiteAffine:
    """``out = data * scale + offset`` per site of a repeating tile, output float32.

    ``scale``/``offset``: float64 (ph, pw) tiles laid over a mosaic like the CFA tile (site
    ``(i, j)`` uses ``[i % ph, j % pw]``), or (3,) per-channel vectors for LINEAR (H, W, 3)
    raws. ``changes``: the RawImage fields the stage(s) set besides the pixels (black, white,
    wb_gains, ...), applied with ``RawImage.with_data``.
    """

    scale: np.ndarray
    offset: np.ndarray
    changes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = np.asarray(self.scale, np.float64)
        o = np.asarray(self.offset, np.float64)
        if s.shape != o.shape or s.ndim not in (1, 2) or s.size == 0:
            raise ContractError(f"SiteAffine scale {s.shape} / offset {o.shape} must be equal tiles")
        object.__setattr__(self, "scale", s)
        object.__setattr__(self, "offset", o)

    @staticmethod
    def identity(like: np.ndarray) -> "SiteAffine":
        """The map that changes nothing, with ``like``'s tile shape."""
        return SiteAffine(np.ones(np.shape(like)), np.zeros(np.shape(like)))

    def then(self, nxt: "SiteAffine") -> "SiteAffine":
        """This map followed by ``nxt`` (tiles of different periods are tiled to their lcm)."""
        s1, o1, s2, o2 = _common_tiles(self.scale, self.offset, nxt.scale, nxt.offset)
        return SiteAffine(s1 * s2, o1 * s2 + o2, {**self.changes, **nxt.changes})


def _common_tiles(*tiles: np.ndarray) -> list[np.ndarray]:
    nd = {t.ndim for t in tiles}
    if nd == {1}:
        if len({t.shape for t in tiles}) != 1:
            raise ContractError(f"per-channel affine maps of different lengths {[t.shape for t in tiles]}")
        return list(tiles)
    if nd != {2}:
        raise ContractError("cannot compose a per-channel affine map with a per-site one")
    ph = lcm(*(t.shape[0] for t in tiles))
    pw = lcm(*(t.shape[1] for t in tiles))
    return [np.tile(t, (ph // t.shape[0], pw // t.shape[1])) for t in tiles]


@njit(cache=True, parallel=True, fastmath=True)
def _site_affine(data, scale, offset):  # pragma: no cover - compiled
    h, w = data.shape
    ph, pw = scale.shape
    out = np.empty((h, w), np.float32)
    for i in prange(h):
        si = scale[i % ph]
        oi = offset[i % ph]
        row = data[i]
        orow = out[i]
        if pw == 2:
            s0, s1, o0, o1 = si[0], si[1], oi[0], oi[1]
            for j in range(0, w - 1, 2):
                orow[j] = np.float32(row[j]) * s0 + o0
                orow[j + 1] = np.float32(row[j + 1]) * s1 + o1
            if w % 2:
                orow[w - 1] = np.float32(row[w - 1]) * s0 + o0
        else:
            for j in range(w):
                orow[j] = np.float32(row[j]) * si[j % pw] + oi[j % pw]
    return out


def _as_2d(data: np.ndarray, aff: SiteAffine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if aff.scale.ndim == 1:  # LINEAR (H, W, C): a (1, C) tile over (H*W, C)
        if data.ndim != 3 or data.shape[2] != aff.scale.size:
            raise ContractError(f"per-channel affine map {aff.scale.shape} does not fit data {data.shape}")
        d2 = data.reshape(-1, data.shape[2])
        return d2, aff.scale[None, :], aff.offset[None, :]
    if data.ndim != 2:
        raise ContractError(f"per-site affine map needs a 2-D mosaic, got shape {data.shape}")
    return data, aff.scale, aff.offset


def apply_site_affine(data: np.ndarray, aff: SiteAffine) -> np.ndarray:
    """``data * scale + offset`` per site (uint16 or float32 in, new float32 array out)."""
    d2, s, o = _as_2d(np.ascontiguousarray(data), aff)
    out = _site_affine(d2, np.ascontiguousarray(s, np.float32), np.ascontiguousarray(o, np.float32))
    return out.reshape(data.shape)


def apply_site_affine_reference(data: np.ndarray, aff: SiteAffine) -> np.ndarray:
    """Numpy reference of :func:`apply_site_affine` (float64 maths, float32 result)."""
    d2, s, o = _as_2d(np.asarray(data), aff)
    h, w = d2.shape
    reps = (-(-h // s.shape[0]), -(-w // s.shape[1]))
    st = np.tile(s, reps)[:h, :w]
    ot = np.tile(o, reps)[:h, :w]
    return (d2.astype(np.float64) * st + ot).astype(np.float32).reshape(np.shape(data))
