"""The host's x86 floating-point control register (MXCSR), for the fast BFDotAdd chains.

Arm's BFRound rounds to odd: truncate toward zero, then set the last bit if anything was lost.
On x86 the SSE/AVX rounding-control field of MXCSR can make every float32 addition truncate
toward zero, which leaves only "was it exact?" to compute. :func:`mxcsr_get` and
:func:`mxcsr_set` are numba intrinsics around LLVM's ``llvm.x86.sse.stmxcsr`` /
``llvm.x86.sse.ldmxcsr``, which LLVM treats as reading and writing arbitrary memory, so no load
or store (and no arithmetic on loaded values) is moved across them.

``HAS_MXCSR`` is False on other hosts (aarch64, ...): the intrinsics are then never compiled and
callers use their round-to-nearest formulation.
"""

from __future__ import annotations

import platform

#: MXCSR bits 13-14 (RC): 11 = round toward zero.
MXCSR_ROUND_TOWARD_ZERO = 0x6000


def _has_mxcsr() -> bool:
    import numba

    # With numba's JIT disabled (coverage runs) intrinsics cannot run as Python.
    return platform.machine().lower() in ("x86_64", "amd64") and not numba.config.DISABLE_JIT


HAS_MXCSR = _has_mxcsr()


def _mxcsr_intrinsics():
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    i32 = ir.IntType(32)
    i8p = ir.IntType(8).as_pointer()
    fty = ir.FunctionType(ir.VoidType(), [i8p])

    @intrinsic
    def mxcsr_get(typingctx):
        """This thread's MXCSR (``stmxcsr``)."""

        def codegen(context, builder, signature, args):
            slot = builder.alloca(i32)
            fn = cgutils.get_or_insert_function(builder.module, fty, "llvm.x86.sse.stmxcsr")
            builder.call(fn, [builder.bitcast(slot, i8p)])
            return builder.load(slot)

        return types.uint32(), codegen

    @intrinsic
    def mxcsr_set(typingctx, value):
        """Load ``value`` into this thread's MXCSR (``ldmxcsr``)."""

        def codegen(context, builder, signature, args):
            slot = builder.alloca(i32)
            builder.store(args[0], slot)
            fn = cgutils.get_or_insert_function(builder.module, fty, "llvm.x86.sse.ldmxcsr")
            builder.call(fn, [builder.bitcast(slot, i8p)])
            return context.get_dummy_value()

        return types.none(types.uint32), codegen

    return mxcsr_get, mxcsr_set


if HAS_MXCSR:
    mxcsr_get, mxcsr_set = _mxcsr_intrinsics()
