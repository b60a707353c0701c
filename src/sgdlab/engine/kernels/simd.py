"""Rows of four doubles as LLVM vectors inside numba code, for register tiles of multiply-adds.

LLVM's vectorisers turn a loop into vector code, but a tile of accumulators that lives in registers across a whole
loop (a small matrix product's microkernel) they leave scalar (on one thread of a Xeon, `A @ X` for a 1e5 × 50
design and 10 classes: 7.5 G multiply-adds/s as scalar sums, 21.5 G/s written with these). Here a numba value of
type `f64x4` is one `<4 x double>`: one AVX2 register, two SSE2 or NEON registers where the machine is narrower
(LLVM splits it), so the code runs on every CPU numba does. A group of them is a tuple (`load`, `store`,
`multiply_add`); the number of vectors is a literal, fixed when numba compiles the caller.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models, register_default
from numba.core.errors import RequireLiteralValue
from numba.extending import intrinsic

LANES = 4
_VECTOR = ir.VectorType(ir.DoubleType(), LANES)


class F64x4(types.Type):
    """Four doubles in one LLVM vector."""

    def __init__(self) -> None:
        super().__init__(name="f64x4")


f64x4 = F64x4()


@register_default(F64x4)
class _F64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _vector_address(context, builder, array_type, array, start, v):
    """The address of vector `v` from `array[start]` (1-D), as a `<4 x double>*`, without the bounds check or
    negative-index wraparound."""
    ary = context.make_array(array_type)(context, builder, array)
    index = builder.add(start, ir.Constant(start.type, LANES * v))
    item = cgutils.get_item_pointer(context, builder, array_type, ary, [index], wraparound=False, boundscheck=False)
    return builder.bitcast(item, _VECTOR.as_pointer())


def _is_row(row) -> bool:
    """Whether numba's type `row` is a 1-D float64 array (what `load` and `store` address)."""
    return isinstance(row, types.Array) and row.ndim == 1 and row.dtype == types.float64


def _count(count) -> int:
    if not isinstance(count, types.IntegerLiteral):
        raise RequireLiteralValue("the number of vectors must be a literal")
    return count.literal_value


@intrinsic
def load(typingctx, row, start, count):
    """`(row[start : start + 4], row[start + 4 : start + 8], …)`: `count` vectors of a 1-D float64 array."""
    if not _is_row(row):
        return None
    n = _count(count)

    def codegen(context, builder, signature, args):
        vectors = [
            builder.load(_vector_address(context, builder, signature.args[0], args[0], args[1], v), align=8)
            for v in range(n)
        ]
        return context.make_tuple(builder, signature.return_type, vectors)

    return types.UniTuple(f64x4, n)(row, start, count), codegen


@intrinsic
def store(typingctx, row, start, vectors):
    """`row[start : start + 4 · len(vectors)] ← vectors`."""
    if not (_is_row(row) and isinstance(vectors, types.UniTuple) and vectors.dtype == f64x4):
        return None
    n = vectors.count

    def codegen(context, builder, signature, args):
        for v in range(n):
            address = _vector_address(context, builder, signature.args[0], args[0], args[1], v)
            builder.store(builder.extract_value(args[2], v), address, align=8)
        return context.get_dummy_value()

    return types.void(row, start, vectors), codegen


@intrinsic
def multiply_add(typingctx, a, vectors, sums):
    """`sums + a · vectors`, vector by vector, `a` a float64 broadcast to every lane (`llvm.fmuladd`: one fused
    multiply-add where the CPU has them)."""
    if not (isinstance(sums, types.UniTuple) and sums.dtype == f64x4 and vectors == sums):
        return None

    def codegen(context, builder, signature, args):
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), "llvm.fmuladd.v4f64"
        )
        lane = ir.VectorType(ir.IntType(32), LANES)
        one = builder.insert_element(ir.Constant(_VECTOR, ir.Undefined), args[0], ir.Constant(ir.IntType(32), 0))
        broadcast = builder.shuffle_vector(one, one, ir.Constant(lane, [0] * LANES))
        out = [
            builder.call(fmuladd, [broadcast, builder.extract_value(args[1], v), builder.extract_value(args[2], v)])
            for v in range(sums.count)
        ]
        return context.make_tuple(builder, signature.return_type, out)

    return sums(types.float64, vectors, sums), codegen
