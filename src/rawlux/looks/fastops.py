"""Small numba building blocks for the look kernels: float bit casts and a fast log2."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def f32_bits(typingctx, x):  # type: ignore[no-untyped-def]
    """Reinterpret a float32 as its int32 bit pattern (numba only)."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def bits_f32(typingctx, x):  # type: ignore[no-untyped-def]
    """Reinterpret the low 32 bits of an integer as a float32 (numba only)."""
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
