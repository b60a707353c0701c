"""What every GLM kernel shares: the loss codes, numba's compile options (cached on disk) and row prefetching."""

from __future__ import annotations

import numba
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

from sgdlab._numba_cache import njit

LOSS_LS = 0
LOSS_LOGISTIC = 1
LOSS_SOFTMAX = 2

#: Per-sample kernels prefetch the rows of the iteration this many steps ahead.
AHEAD = 8

jit = njit(nogil=True)
# Small pieces of hot loops: inlined into their callers (numba IR), so that LLVM vectorises the loops around them.
jit_inline = njit(nogil=True, inline="always")
# Sums whose order BLAS does not fix either: let LLVM vectorise them.
jit_sum = njit(nogil=True, fastmath={"reassoc", "contract"})


@intrinsic
def prefetch(typingctx, array, offset):
    """Hint the CPU to fetch `array.flat[offset]` into cache (`llvm.prefetch`: read, high locality)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        builder.call(fn, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return numba.types.void(array, offset), codegen


@jit
def prefetch_row(M, i):
    """Prefetch row `i` of a C-contiguous matrix, one cache line (8 doubles) at a time: per-sample steps visit
    rows in random order and would otherwise wait on memory for each row."""
    d = M.shape[1]
    for q in range(0, d, 8):
        prefetch(M, i * d + q)
