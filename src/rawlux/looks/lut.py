"""Colour look-up tables: the :class:`Lut` object and pure LUT maths (apply, resample, identity).

A :class:`Lut` is 1D (``table`` (N, 3)) or 3D (``table`` (N, N, N, 3) indexed ``[r, g, b]``), with
``domain_min``/``domain_max`` (per channel, input values mapped to the first/last node) and the
``encoding`` the LUT expects on input and produces on output:

* ``"srgb-rec709"`` (default, like most creative LUTs): sRGB-encoded values, Rec.709 primaries;
* ``"linear-rec709"``, ``"srgb-rec2020"``, ``"linear-rec2020"``.

Interpolation: ``"tetrahedral"`` (default) or ``"trilinear"`` for 3D tables; 1D tables are
linear per channel. File I/O lives in :mod:`rawlux.io.cube`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rawlux.core.errors import InvalidParameter

ENCODINGS = ("srgb-rec709", "linear-rec709", "srgb-rec2020", "linear-rec2020")
INTERPOLATIONS = ("tetrahedral", "trilinear")


@dataclass(frozen=True, eq=False)
class Lut:
    """A 1D or 3D colour LUT (see module docstring); ``table`` is float32, C-contiguous."""

    table: np.ndarray
    domain_min: tuple[float, float, float] = (0.0, 0.0, 0.0)
    domain_max: tuple[float, float, float] = (1.0, 1.0, 1.0)
    title: str = ""
    encoding: str = "srgb-rec709"
    interpolation: str = "tetrahedral"
    comments: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.table, dtype=np.float32)
        object.__setattr__(self, "table", t)
        if not (t.ndim == 2 and t.shape[1] == 3 or t.ndim == 4 and t.shape[3] == 3
                and t.shape[0] == t.shape[1] == t.shape[2]):
            raise InvalidParameter(f"LUT table must be (N, 3) or (N, N, N, 3), got {t.shape}")
        if t.shape[0] < 2:
            raise InvalidParameter(f"LUT size must be at least 2, got {t.shape[0]}")
        if not np.all(np.isfinite(t)):
            raise InvalidParameter("LUT table holds NaN or infinite values")
        lo = tuple(float(v) for v in self.domain_min)
        hi = tuple(float(v) for v in self.domain_max)
        if len(lo) != 3 or len(hi) != 3 or any(not b > a for a, b in zip(lo, hi)):
            raise InvalidParameter(f"LUT domain must have min < max per channel, got {lo} {hi}")
        object.__setattr__(self, "domain_min", lo)
        object.__setattr__(self, "domain_max", hi)
        if self.encoding not in ENCODINGS:
            raise InvalidParameter(
                f"LUT encoding {self.encoding!r} is not one of: {', '.join(ENCODINGS)}")
        if self.interpolation not in INTERPOLATIONS:
            raise InvalidParameter(f"LUT interpolation {self.interpolation!r} is not one of: "
                                   f"{', '.join(INTERPOLATIONS)}")

    @property
    def is_3d(self) -> bool:
        return self.table.ndim == 4

    @property
    def size(self) -> int:
        return int(self.table.shape[0])


# ------------------------------------------------------------------------------------ maths

from numba import njit, prange


def identity_lut(size: int = 33, dims: int = 3, **kw: object) -> Lut:
    """An identity LUT (1D (N, 3) or 3D (N, N, N, 3)) on [0, 1]."""
    if size < 2:
        raise InvalidParameter(f"LUT size must be at least 2, got {size}")
    g = np.linspace(0.0, 1.0, size, dtype=np.float32)
    if dims == 1:
        return Lut(np.stack([g, g, g], axis=1), **kw)  # type: ignore[arg-type]
    r, gg, b = np.meshgrid(g, g, g, indexing="ij")
    return Lut(np.stack([r, gg, b], axis=-1), **kw)  # type: ignore[arg-type]


def lut_from_function(fn, size: int = 33, **kw: object) -> Lut:  # type: ignore[no-untyped-def]
    """Sample ``fn((..., 3) float64 in [0, 1]) -> (..., 3)`` on a size^3 grid into a 3D Lut."""
    grid = identity_lut(size).table.astype(np.float64)
    return Lut(np.asarray(fn(grid), np.float32), **kw)  # type: ignore[arg-type]


def _to_index(values: np.ndarray, lut: Lut) -> np.ndarray:
    lo = np.asarray(lut.domain_min, np.float32)
    hi = np.asarray(lut.domain_max, np.float32)
    x = (np.asarray(values, np.float32) - lo) / (hi - lo) * np.float32(lut.size - 1)
    x = np.nan_to_num(x, nan=0.0, posinf=lut.size - 1, neginf=0.0)
    return np.clip(x, 0.0, lut.size - 1).astype(np.float32)


def apply_1d_reference(values: np.ndarray, lut: Lut) -> np.ndarray:
    """Per-channel linear interpolation of a 1D LUT (inputs clamped to the domain)."""
    x = _to_index(values, lut)
    n = lut.size
    i0 = np.minimum(np.floor(x).astype(np.int64), n - 2)
    f = x - i0
    out = np.empty(x.shape, np.float32)
    for c in range(3):
        t = lut.table[:, c]
        out[..., c] = t[i0[..., c]] * (1 - f[..., c]) + t[i0[..., c] + 1] * f[..., c]
    return out


def apply_3d_reference(values: np.ndarray, lut: Lut, method: str | None = None) -> np.ndarray:
    """Numpy reference of 3D interpolation (``method`` tetrahedral | trilinear; default the LUT's)."""
    method = method or lut.interpolation
    x = _to_index(values, lut).reshape(-1, 3).astype(np.float64)
    n = lut.size
    i = np.minimum(np.floor(x).astype(np.int64), n - 2)
    f = x - i
    T = lut.table.astype(np.float64)

    def c(dr: int, dg: int, db: int) -> np.ndarray:
        return T[i[:, 0] + dr, i[:, 1] + dg, i[:, 2] + db]

    fr, fg, fb = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    if method == "trilinear":
        c00 = c(0, 0, 0) * (1 - fr) + c(1, 0, 0) * fr
        c01 = c(0, 0, 1) * (1 - fr) + c(1, 0, 1) * fr
        c10 = c(0, 1, 0) * (1 - fr) + c(1, 1, 0) * fr
        c11 = c(0, 1, 1) * (1 - fr) + c(1, 1, 1) * fr
        c0 = c00 * (1 - fg) + c10 * fg
        c1 = c01 * (1 - fg) + c11 * fg
        out = c0 * (1 - fb) + c1 * fb
    elif method == "tetrahedral":
        c000, c111 = c(0, 0, 0), c(1, 1, 1)
        cases = [
            ((fr > fg) & (fg > fb), (1 - fr) * c000 + (fr - fg) * c(1, 0, 0) + (fg - fb) * c(1, 1, 0) + fb * c111),
            ((fr > fg) & (fg <= fb) & (fr > fb), (1 - fr) * c000 + (fr - fb) * c(1, 0, 0) + (fb - fg) * c(1, 0, 1) + fg * c111),
            ((fr > fg) & (fr <= fb), (1 - fb) * c000 + (fb - fr) * c(0, 0, 1) + (fr - fg) * c(1, 0, 1) + fg * c111),
            ((fr <= fg) & (fb > fg), (1 - fb) * c000 + (fb - fg) * c(0, 0, 1) + (fg - fr) * c(0, 1, 1) + fr * c111),
            ((fr <= fg) & (fb <= fg) & (fb > fr), (1 - fg) * c000 + (fg - fb) * c(0, 1, 0) + (fb - fr) * c(0, 1, 1) + fr * c111),
        ]
        out = (1 - fg) * c000 + (fg - fr) * c(0, 1, 0) + (fr - fb) * c(1, 1, 0) + fb * c111
        for mask, val in reversed(cases):
            out = np.where(mask, val, out)
    else:
        raise InvalidParameter(f"interpolation {method!r} is not one of: {', '.join(INTERPOLATIONS)}")
    return out.reshape(np.shape(values)).astype(np.float32)


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def tetra_sample(T: np.ndarray, n: int, x: float, y: float, z: float) -> tuple[float, float, float]:
    """Tetrahedral interpolation of a flattened (n, n, n, 3) table ``T`` (C order, ``[r, g, b]``)
    at index coordinates ``x, y, z`` (clamped to [0, n-1]); branch-free vertex selection."""
    nm2 = n - 2
    zero = np.float32(0.0)
    top = np.float32(nm2 + 1)
    x = np.float32(min(max(np.float32(x), zero), top))
    y = np.float32(min(max(np.float32(y), zero), top))
    z = np.float32(min(max(np.float32(z), zero), top))
    i = min(int(x), nm2)
    j = min(int(y), nm2)
    k = min(int(z), nm2)
    fr = x - np.float32(i)
    fg = y - np.float32(j)
    fb = z - np.float32(k)
    sb = 3
    sg = 3 * n
    sr = 3 * n * n
    base = i * sr + j * sg + k * sb
    rg = fr > fg
    gb = fg > fb
    rb = fr > fb
    r_max = rg and rb
    g_max = (not rg) and gb
    r_min = (not rg) and (not rb)
    g_min = rg and (not gb)
    f1 = fr if r_max else (fg if g_max else fb)
    o1 = sr if r_max else (sg if g_max else sb)
    f3 = fr if r_min else (fg if g_min else fb)
    o3 = sr if r_min else (sg if g_min else sb)
    f2 = fr + fg + fb - f1 - f3
    o2 = sr + sg + sb - o3
    w0 = np.float32(1.0) - f1
    w1 = f1 - f2
    w2 = f2 - f3
    p1 = base + o1
    p2 = base + o2
    p3 = base + sr + sg + sb
    a = w0 * T[base] + w1 * T[p1] + w2 * T[p2] + f3 * T[p3]
    b = w0 * T[base + 1] + w1 * T[p1 + 1] + w2 * T[p2 + 1] + f3 * T[p3 + 1]
    c = w0 * T[base + 2] + w1 * T[p1 + 2] + w2 * T[p2 + 2] + f3 * T[p3 + 2]
    return a, b, c


@njit(cache=True, inline="always")
def trilinear_sample(T: np.ndarray, x: float, y: float, z: float) -> tuple[float, float, float]:
    """Trilinear interpolation of table ``T`` (N, N, N, 3) at index coordinates (clamped)."""
    nm2 = T.shape[0] - 2
    x = min(max(x, 0.0), nm2 + 1.0)
    y = min(max(y, 0.0), nm2 + 1.0)
    z = min(max(z, 0.0), nm2 + 1.0)
    i = min(int(x), nm2)
    j = min(int(y), nm2)
    k = min(int(z), nm2)
    fr = x - i
    fg = y - j
    fb = z - k
    o = np.zeros(3)
    for c in range(3):
        c00 = T[i, j, k, c] * (1 - fr) + T[i + 1, j, k, c] * fr
        c01 = T[i, j, k + 1, c] * (1 - fr) + T[i + 1, j, k + 1, c] * fr
        c10 = T[i, j + 1, k, c] * (1 - fr) + T[i + 1, j + 1, k, c] * fr
        c11 = T[i, j + 1, k + 1, c] * (1 - fr) + T[i + 1, j + 1, k + 1, c] * fr
        o[c] = (c00 * (1 - fg) + c10 * fg) * (1 - fb) + (c01 * (1 - fg) + c11 * fg) * fb
    return o[0], o[1], o[2]


@njit(cache=True, parallel=True, error_model="numpy")
def _apply_3d_kernel(x: np.ndarray, T: np.ndarray, tetra: bool, out: np.ndarray) -> None:  # pragma: no cover
    n = x.shape[0]
    size = T.shape[0]
    flat = T.reshape(-1)
    for p in prange(n):
        if tetra:
            a, b, c = tetra_sample(flat, size, x[p, 0], x[p, 1], x[p, 2])
        else:
            a, b, c = trilinear_sample(T, x[p, 0], x[p, 1], x[p, 2])
        out[p, 0] = a
        out[p, 1] = b
        out[p, 2] = c


def apply_lut(values: np.ndarray, lut: Lut, method: str | None = None) -> np.ndarray:
    """Apply ``lut`` to ``values`` (..., 3) given in the LUT's input encoding; float32 result.

    Inputs outside the domain are clamped to it (as .cube readers do); 3D LUTs use ``method``
    (tetrahedral | trilinear; default the LUT's own) via a numba kernel, 1D LUTs are linear.
    """
    if not lut.is_3d:
        return apply_1d_reference(values, lut)
    method = method or lut.interpolation
    if method not in INTERPOLATIONS:
        raise InvalidParameter(f"interpolation {method!r} is not one of: {', '.join(INTERPOLATIONS)}")
    shape = np.shape(values)
    x = _to_index(values, lut).reshape(-1, 3)
    out = np.empty_like(x)
    _apply_3d_kernel(x, lut.table, method == "tetrahedral", out)
    return out.reshape(shape)


def _lut_space(lut: Lut) -> tuple[bool, bool]:
    """(is_srgb_encoded, is_rec709_primaries) for the LUT's encoding."""
    enc, prim = lut.encoding.split("-")
    return enc == "srgb", prim == "rec709"


def apply_lut_rec2020(rgb: np.ndarray, lut: Lut, strength: float = 1.0) -> np.ndarray:
    """Apply ``lut`` to display-linear Rec.2020 ``rgb`` [0, 1], converting to and from the LUT's
    encoding; ``strength`` blends the result with the input. Returns float32 [0, 1]."""
    from rawlux.color.spaces import rgb_to_rgb
    from rawlux.color.transfer import srgb_eotf, srgb_oetf
    from rawlux.core.image import ColorSpace

    srgb, is709 = _lut_space(lut)
    x = np.asarray(rgb, np.float32)
    if is709:
        x = x @ rgb_to_rgb(ColorSpace.REC2020, ColorSpace.SRGB).T
    x = np.clip(x, 0.0, 1.0)
    if srgb:
        x = srgb_oetf(x)
    y = apply_lut(x, lut)
    if srgb:
        y = srgb_eotf(y)
    if is709:
        y = y @ rgb_to_rgb(ColorSpace.SRGB, ColorSpace.REC2020).T
    y = np.clip(y, 0.0, 1.0).astype(np.float32)
    if strength < 1.0:
        y = (rgb + np.float32(strength) * (y - rgb)).astype(np.float32)
    return np.ascontiguousarray(y)
