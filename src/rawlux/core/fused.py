"""Execution helpers for fused stages (see ``docs/architecture.md``, "Execution fast paths").

A mosaic stage whose whole effect on its input is a **per-CFA-site affine map**
``out = (data - sub[site]) * mul[site]`` can say so (``StageDef.affine``). The pipeline then
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
from rawlux.core.jit import njit, run_bands

from rawlux.core.errors import ContractError


@dataclass(frozen=True)
class SiteAffine:
    """A chain of per-site affine steps ``v = (v - sub[site]) * mul[site]``, output float32.

    ``sub``/``mul``: float32 arrays (n_steps, ph, pw) — tiles laid over a mosaic like the CFA
    tile (site ``(i, j)`` uses ``[k, i % ph, j % pw]``) — or (n_steps, 3) per-channel vectors for
    LINEAR (H, W, 3) raws. Steps are applied in order with float32 arithmetic, exactly as the
    stages they stand for compute, so a fused run is bit-identical to the unfused one.
    ``changes``: the RawImage fields the stage(s) set besides the pixels (black, white,
    wb_gains, ...), applied with ``RawImage.with_data``.
    """

    sub: np.ndarray
    mul: np.ndarray
    changes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = np.asarray(self.sub, np.float32)
        m = np.asarray(self.mul, np.float32)
        if s.shape != m.shape or s.ndim not in (2, 3):
            raise ContractError(f"SiteAffine sub {s.shape} / mul {m.shape} must be equal step tiles")
        object.__setattr__(self, "sub", s)
        object.__setattr__(self, "mul", m)

    @staticmethod
    def step(sub: np.ndarray, mul: np.ndarray, changes: Mapping[str, Any] | None = None) -> "SiteAffine":
        """One step ``(v - sub) * mul`` with (ph, pw) or (3,) tiles."""
        s = np.asarray(sub, np.float32)
        return SiteAffine(s[None], np.asarray(mul, np.float32)[None], dict(changes or {}))

    @staticmethod
    def identity(like: np.ndarray, changes: Mapping[str, Any] | None = None) -> "SiteAffine":
        """No step at all (the pixels are unchanged), with ``like``'s tile shape."""
        shape = (0, *np.shape(like))
        return SiteAffine(np.zeros(shape, np.float32), np.ones(shape, np.float32), dict(changes or {}))

    def then(self, nxt: "SiteAffine") -> "SiteAffine":
        """This chain followed by ``nxt`` (tiles of different periods are tiled to their lcm)."""
        s1, m1, s2, m2 = _common_tiles(self.sub, self.mul, nxt.sub, nxt.mul)
        return SiteAffine(
            np.concatenate([s1, s2]), np.concatenate([m1, m2]), {**self.changes, **nxt.changes}
        )


def _common_tiles(*tiles: np.ndarray) -> list[np.ndarray]:
    nd = {t.ndim for t in tiles}
    if nd == {2}:
        if len({t.shape[1:] for t in tiles}) != 1:
            raise ContractError(f"per-channel affine maps of different lengths {[t.shape for t in tiles]}")
        return list(tiles)
    if nd != {3}:
        raise ContractError("cannot compose a per-channel affine map with a per-site one")
    ph = lcm(*(t.shape[1] for t in tiles))
    pw = lcm(*(t.shape[2] for t in tiles))
    return [np.tile(t, (1, ph // t.shape[1], pw // t.shape[2])) for t in tiles]


_AFFINE_SIG = "void({}[:, ::1], f4[:, :, ::1], f4[:, :, ::1], f4[:, ::1], i8, i8)"


@njit(cache=True, nogil=True, aot=(_AFFINE_SIG.format("u2"), _AFFINE_SIG.format("f4")))
def _site_affine_rows(data, sub, mul, out, r0, r1):  # pragma: no cover - compiled
    """Rows ``r0 .. r1`` of ``out = steps(data)`` (one band of :func:`apply_site_affine`)."""
    w = data.shape[1]
    n, ph, pw = sub.shape
    for i in range(r0, r1):
        row = data[i]
        orow = out[i]
        for j in range(w):
            orow[j] = np.float32(row[j])
        for k in range(n):  # one step at a time over the row (it stays in cache)
            sk = sub[k, i % ph]
            mk = mul[k, i % ph]
            if pw == 2:
                s0, s1, m0, m1 = sk[0], sk[1], mk[0], mk[1]
                for j in range(0, w - 1, 2):
                    orow[j] = (orow[j] - s0) * m0
                    orow[j + 1] = (orow[j + 1] - s1) * m1
                if w % 2:
                    orow[w - 1] = (orow[w - 1] - s0) * m0
            else:
                for j in range(w):
                    orow[j] = (orow[j] - sk[j % pw]) * mk[j % pw]


def _as_2d(data: np.ndarray, aff: SiteAffine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if aff.sub.ndim == 2:  # LINEAR (H, W, C): a (1, C) tile over (H*W, C)
        if data.ndim != 3 or data.shape[2] != aff.sub.shape[1]:
            raise ContractError(f"per-channel affine map {aff.sub.shape} does not fit data {data.shape}")
        return data.reshape(-1, data.shape[2]), aff.sub[:, None, :], aff.mul[:, None, :]
    if data.ndim != 2:
        raise ContractError(f"per-site affine map needs a 2-D mosaic, got shape {data.shape}")
    return data, aff.sub, aff.mul


def apply_site_affine(data: np.ndarray, aff: SiteAffine) -> np.ndarray:
    """Apply the steps of ``aff`` (uint16 or float32 in, new float32 array out)."""
    d2, s, m = _as_2d(np.ascontiguousarray(data), aff)
    if d2.dtype != np.uint16:
        d2 = np.ascontiguousarray(d2, np.float32)
    out = np.empty(d2.shape, np.float32)
    run_bands(_site_affine_rows, d2.shape[0], d2, np.ascontiguousarray(s, np.float32),
              np.ascontiguousarray(m, np.float32), out)
    return out.reshape(data.shape)


def apply_site_affine_reference(data: np.ndarray, aff: SiteAffine) -> np.ndarray:
    """Numpy reference of :func:`apply_site_affine` (same float32 steps, whole-array numpy)."""
    d2, s, m = _as_2d(np.asarray(data), aff)
    h, w = d2.shape
    v = d2.astype(np.float32)
    for k in range(s.shape[0]):
        reps = (-(-h // s.shape[1]), -(-w // s.shape[2]))
        v = (v - np.tile(s[k], reps)[:h, :w]) * np.tile(m[k], reps)[:h, :w]
    return v.astype(np.float32).reshape(np.shape(data))


@dataclass(frozen=True)
class PixelMatrix:
    """A stage's whole effect on an RGB :class:`~rawlux.core.image.Image` as the per-pixel map
    ``out = m @ rgb`` (then ``max(., 0)`` with NaN -> 0 when ``clamp_negative``), optionally
    keeping only the rectangle ``window = (top, left, height, width)`` of its input, plus the
    Image fields it sets (``changes``). Used to fuse pointwise stages (colour matrices, a crop)
    into the stage before, which then computes and writes only the window."""

    matrix: np.ndarray
    clamp_negative: bool = False
    changes: Mapping[str, Any] = field(default_factory=dict)
    window: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        m = np.asarray(self.matrix, np.float64)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)):
            raise ContractError(f"PixelMatrix needs a finite 3x3 matrix, got shape {m.shape}")
        object.__setattr__(self, "matrix", m)
        if self.window is not None:
            t, l, h, w = (int(v) for v in self.window)
            if t < 0 or l < 0 or h < 1 or w < 1:
                raise ContractError(f"PixelMatrix window {self.window} is not a rectangle")
            object.__setattr__(self, "window", (t, l, h, w))

    @staticmethod
    def identity(**changes: Any) -> "PixelMatrix":
        return PixelMatrix(np.eye(3), False, changes)

    @staticmethod
    def crop(window: tuple[int, int, int, int], **changes: Any) -> "PixelMatrix":
        """Keep ``window`` = (top, left, height, width) of the input, pixels unchanged."""
        return PixelMatrix(np.eye(3), False, changes, window)

    def then(self, nxt: "PixelMatrix") -> "PixelMatrix | None":
        """This map followed by ``nxt``, or None when that is not one matrix (a clamp followed
        by a non-identity matrix). Windows compose (``nxt``'s is relative to this output)."""
        changes = {**self.changes, **nxt.changes}
        window = self.window
        if nxt.window is not None:
            t, l, h, w = nxt.window
            if window is not None:
                if t + h > window[2] or l + w > window[3]:
                    raise ContractError(f"window {nxt.window} lies outside the {window[3]}x{window[2]} input")
                t, l = t + window[0], l + window[1]
            window = (t, l, h, w)
        if self.clamp_negative:
            if not np.array_equal(nxt.matrix, np.eye(3)):
                return None
            return PixelMatrix(self.matrix, True, changes, window)  # a clamp again changes nothing
        return PixelMatrix(nxt.matrix @ self.matrix, nxt.clamp_negative, changes, window)
