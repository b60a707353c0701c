"""Register-tiled products (`sgdlab.engine.kernels.tiles`) and the vectors they are made of (`kernels.simd`)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from sgdlab.engine.kernels import simd
from sgdlab.engine.kernels.tiles import TILE, accumulate_products, padded_width

# every tile shape: one to three vectors, several tiles, and the one-row and four-row groups
WIDTHS = [4, 8, 12, 16, 20, 24, 28]
SHAPES = [(1, 1), (3, 7), (4, 1), (5, 50), (9, 13), (96, 50)]  # (rows of C, inner dimension)


@numba.njit(fastmath={"contract"})
def _products(B, b_row, b_col, rows, count, D, C):
    accumulate_products(B, b_row, b_col, rows, count, D, C)


@numba.njit
def _round_trip(row, start, out):
    simd.store(out, start, simd.multiply_add(2.0, simd.load(row, start, 2), simd.load(out, start, 2)))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("rows, count", SHAPES)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_accumulate_products_adds_the_product(width, rows, count, layout):
    """`C += B[rows, cols] · D` from an offset into `B`, in either memory order of `B` (the pass takes `Aᵀ`)."""
    rng = np.random.default_rng(width * 1000 + rows * 10 + count)
    B = np.asarray(rng.standard_normal((rows + 3, count + 2)), order=layout)
    D = rng.standard_normal((count, width))
    C = rng.standard_normal((rows, width))
    want = C + B[2 : 2 + rows, 1 : 1 + count] @ D
    _products(B, 2, 1, rows, count, D, C)
    np.testing.assert_allclose(C, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_the_sums_run_in_the_inner_dimensions_order():
    """Each output is `((c + b₀d₀) + b₁d₁) + …` (fused or not, as LLVM's `fmuladd`): exact on integers, and one
    row's result does not depend on how many rows are tiled with it."""
    rng = np.random.default_rng(0)
    B, D = rng.integers(-9, 9, (9, 30)).astype(float), rng.integers(-9, 9, (30, 12)).astype(float)
    together, alone = np.zeros((9, 12)), np.zeros((1, 12))
    _products(B, 0, 0, 9, 30, D, together)
    np.testing.assert_array_equal(together, B @ D)
    _products(B, 5, 0, 1, 30, D, alone)  # row 5: in a group of four above, alone here
    np.testing.assert_array_equal(alone[0], together[5])


def test_vectors_load_multiply_add_and_store():
    row, out = np.arange(12.0), np.ones(12)
    _round_trip(row, 3, out)
    np.testing.assert_array_equal(out, np.r_[np.ones(3), 1 + 2 * np.arange(3.0, 11.0), 1.0])


@pytest.mark.parametrize("k, width", [(1, 4), (4, 4), (5, 8), (10, 12), (12, 12), (13, 16)])
def test_padded_width(k, width):
    assert padded_width(k) == width
    assert TILE * simd.LANES == 12


def test_vectors_refuse_what_they_cannot_address():
    """A 2-D or integer array is a typing error at compile time, not code that reads the wrong memory."""

    @numba.njit
    def load_matrix(m):
        return simd.load(m, 0, 1)

    with pytest.raises(numba.core.errors.TypingError):
        load_matrix(np.zeros((2, 4)))
    with pytest.raises(numba.core.errors.TypingError):
        load_matrix(np.zeros(4, dtype=np.int64))
