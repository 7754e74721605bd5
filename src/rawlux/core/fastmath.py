"""Scalar numba building blocks shared by pixel kernels: float bit casts, fast log2/exp2/pow,
a NaN-safe clip. All are ``inline="always"`` and branch-free (selects), so loops that call them
vectorise. Lazy (``rawlux.core.jit``): importing this module does not import numba."""

from __future__ import annotations

import numpy as np

from rawlux.core.jit import intrinsic, njit


@intrinsic
def f32_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """Reinterpret a float32 as its int32 bit pattern (numba only)."""
    from llvmlite import ir
    from numba import types

    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def bits_f32(typingctx, x):  # type: ignore[no-untyped-def]
    """Reinterpret the low 32 bits of an integer as a float32 (numba only)."""
    from llvmlite import ir
    from numba import types

    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        v = args[0]
        if x.bitwidth != 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return types.float32(x), codegen


_INV_LN2 = np.float32(1.0 / np.log(2.0))


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def fast_log2(x: float) -> float:
    """log2 of a positive normal float32 (error < 2e-7 plus the float32 rounding of the
    result): exponent bits plus an atanh series of the mantissa reduced to [sqrt(1/2), sqrt(2))."""
    b = f32_bits(np.float32(x))
    e = np.float32((b >> 23) - 127)
    m = bits_f32((b & np.int32(0x007FFFFF)) | np.int32(0x3F800000))
    if m > np.float32(1.4142135):
        m = m * np.float32(0.5)
        e = e + np.float32(1.0)
    s = (m - np.float32(1.0)) / (m + np.float32(1.0))
    s2 = s * s
    p = np.float32(2.0 / 9.0)
    p = p * s2 + np.float32(2.0 / 7.0)
    p = p * s2 + np.float32(2.0 / 5.0)
    p = p * s2 + np.float32(2.0 / 3.0)
    p = p * s2 + np.float32(2.0)
    return e + s * p * _INV_LN2


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def fast_exp2(x: float) -> float:
    """2**x for float32 ``x`` in [-126, 127] (relative error < 3e-7: a least-squares
    fit on Chebyshev nodes, plus float32 rounding): exponent bits times a
    degree-6 polynomial of the fractional part (results below 2**-126 flush to 0)."""
    x = min(max(np.float32(x), np.float32(-126.0)), np.float32(127.0))
    e = np.floor(x)
    f = x - e
    p = np.float32(0.00021690608991775662)
    p = p * f + np.float32(0.0012443081941455603)
    p = p * f + np.float32(0.009678472764790058)
    p = p * f + np.float32(0.05548352375626564)
    p = p * f + np.float32(0.2402298003435135)
    p = p * f + np.float32(0.6931470036506653)
    p = p * f + np.float32(1.0)
    return p * bits_f32((np.int32(e) + np.int32(127)) << 23)


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def fast_pow(a: float, g: float) -> float:
    """``a ** g`` for float32 ``a > 0`` via :func:`fast_log2` / :func:`fast_exp2`
    (relative error about 1e-6 for |g log2 a| < 20)."""
    return fast_exp2(np.float32(g) * fast_log2(a))


@njit(cache=True, inline="always", error_model="numpy")
def clip01(v: float) -> float:
    """Clip a float32 to [0, 1] with NaN -> 0 (``max``/``min`` would keep NaN; the comparisons
    below are select instructions, so loops using this still vectorise)."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    v = v if v > zero else zero  # noqa: FURB136 - NaN must become 0
    return v if v < one else one  # noqa: FURB136
