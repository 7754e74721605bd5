"""Numba building blocks of the look kernels: 4-wide colour-LUT loads, tone-pair reads and
prefetch (intrinsics). Generic scalar helpers (fast log2/exp2/pow, clip) are in
:mod:`rawlux.core.fastmath`."""

from __future__ import annotations

from rawlux.core.jit import intrinsic


def _tetra_blend4_typer(table, b0, b1, b2, b3, out, o, clip):  # type: ignore[no-untyped-def]
    """Signature and code generator of :func:`tetra_blend4` (``clip``: clip the result to
    [0, 1] with NaN -> 0, like :func:`rawlux.core.fastmath.clip01`)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils

    f4_1d = (isinstance(table, types.Array) and table.dtype == types.float32 and table.ndim == 1
             and isinstance(out, types.Array) and out.dtype == types.float32 and out.ndim == 1)
    if not f4_1d or not all(isinstance(t, types.Integer) for t in (b0, b1, b2, b3, o)):
        return None
    sig = types.void(table, b0, b1, b2, b3, types.float32, types.float32, types.float32,
                     types.float32, out, o)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        tab, i0, i1, i2, i3, a0, a1, a2, a3, dst, oi = args
        tys = sig.args
        vec = ir.VectorType(ir.FloatType(), 4)
        tptr = context.make_array(tys[0])(context, builder, tab).data
        optr = context.make_array(tys[9])(context, builder, dst).data

        def offset(v, ty):  # type: ignore[no-untyped-def]
            return context.cast(builder, v, ty, types.intp)

        def load(v, ty):  # type: ignore[no-untyped-def]
            p = builder.bitcast(builder.gep(tptr, [offset(v, ty)]), vec.as_pointer())
            return builder.load(p, align=4)

        def splat(x):  # type: ignore[no-untyped-def]
            one = builder.insert_element(ir.Constant(vec, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(one, ir.Constant(vec, ir.Undefined),
                                          ir.Constant(ir.VectorType(ir.IntType(32), 4), [0, 0, 0, 0]))

        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec, vec, vec]),
                                             "llvm.fma.v4f32")
        acc = builder.fmul(load(i0, tys[1]), splat(a0))
        acc = builder.call(fma, [load(i1, tys[2]), splat(a1), acc])
        acc = builder.call(fma, [load(i2, tys[3]), splat(a2), acc])
        acc = builder.call(fma, [load(i3, tys[4]), splat(a3), acc])
        if clip:
            zero = ir.Constant(vec, [0.0] * 4)
            one = ir.Constant(vec, [1.0] * 4)
            acc = builder.select(builder.fcmp_ordered(">", acc, zero), acc, zero)  # NaN -> 0
            acc = builder.select(builder.fcmp_ordered("<", acc, one), acc, one)
        p = builder.bitcast(builder.gep(optr, [offset(oi, tys[10])]), vec.as_pointer())
        builder.store(acc, p, align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def tetra_blend4(typingctx, table, b0, b1, b2, b3, w0, w1, w2, w3, out, o):  # type: ignore[no-untyped-def]
    """``out[o:o + 4] = w0 table[b0:b0 + 4] + w1 table[b1:b1 + 4] + ...`` with one 4-wide load
    per vertex and one 4-wide store (numba only; float32 C-contiguous 1D arrays, integer
    offsets, float32 weights). Used for a colour LUT padded to 4 channels: the 4th lane
    written at ``o + 3`` is overwritten by the next pixel (the buffer needs one spare float).
    No bounds checks: the caller guarantees ``b + 4 <= table.size`` and ``o + 4 <= out.size``."""
    return _tetra_blend4_typer(table, b0, b1, b2, b3, out, o, False)


@intrinsic
def tetra_blend4_clip(typingctx, table, b0, b1, b2, b3, w0, w1, w2, w3, out, o):  # type: ignore[no-untyped-def]
    """:func:`tetra_blend4` with the result clipped to [0, 1] (NaN -> 0) before the store."""
    return _tetra_blend4_typer(table, b0, b1, b2, b3, out, o, True)


@intrinsic
def pair_lerp(typingctx, table, i, w):  # type: ignore[no-untyped-def]
    """``table[i] + w * table[i + 1]`` with one 8-byte load (numba only; float32 C-contiguous
    1D ``table``, integer ``i``, float32 ``w``). No bounds check: ``i + 2 <= table.size``."""
    from llvmlite import ir
    from numba import types

    if not (isinstance(table, types.Array) and table.dtype == types.float32 and table.ndim == 1
            and isinstance(i, types.Integer)):
        return None
    sig = types.float32(table, i, types.float32)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        tab, idx, wt = args
        vec = ir.VectorType(ir.FloatType(), 2)
        ptr = context.make_array(sig.args[0])(context, builder, tab).data
        off = context.cast(builder, idx, sig.args[1], types.intp)
        v = builder.load(builder.bitcast(builder.gep(ptr, [off]), vec.as_pointer()), align=4)
        i32 = ir.IntType(32)
        base = builder.extract_element(v, ir.Constant(i32, 0))
        slope = builder.extract_element(v, ir.Constant(i32, 1))
        return builder.fadd(base, builder.fmul(wt, slope))

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, i):  # type: ignore[no-untyped-def]
    """Hint the CPU to fetch the cache line holding ``arr[i]`` (numba only; 1D C-contiguous
    ``arr``, integer ``i``; no bounds check needed: a prefetch never faults)."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils

    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(i, types.Integer)):
        return None
    sig = types.void(arr, i)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        ary, idx = args
        ptr = context.make_array(sig.args[0])(context, builder, ary).data
        addr = builder.gep(ptr, [context.cast(builder, idx, sig.args[1], types.intp)])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(addr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
