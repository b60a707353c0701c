"""Small matrix products in register tiles: `C[rows] += B[rows, cols] · D`, with `D` and `C` 4·V columns wide.

`accumulate_products` cuts the rows of `C` into groups of four and its columns into tiles of twelve (three
vectors; two or one for the last): each tile's 4 × 3 sums stay in registers (`simd`) over the whole inner
dimension, so a load of a row of `D` serves four rows and a load of an element of `B` three vectors — the
microkernel of a matrix product (Goto and van de Geijn, *Anatomy of high-performance matrix multiplication*, ACM
TOMS 2008). Twelve vectors of sums, three of a row of `D` and one broadcast fill AVX2's sixteen registers. The
sums run in the inner dimension's order, so the result does not depend on the threads around the call.
"""

from __future__ import annotations

from sgdlab.engine.kernels.common import jit_inline
from sgdlab.engine.kernels.simd import LANES, load, multiply_add, store

#: Vectors per column tile (the module's docstring counts the registers).
TILE = 3


def padded_width(k: int) -> int:
    """The columns of `D` and `C` for `k` outputs: a whole number of vectors."""
    return -(-k // LANES) * LANES


def _four_rows(B, b_row, b_col, D, count, C, c_row, c_col, vectors):
    """`C[c_row + p, c_col : c_col + 4·vectors] += Σ_q B[b_row + p, b_col + q] · D[q, …]`, p < 4."""
    s0, s1 = load(C[c_row], c_col, vectors), load(C[c_row + 1], c_col, vectors)
    s2, s3 = load(C[c_row + 2], c_col, vectors), load(C[c_row + 3], c_col, vectors)
    for q in range(count):
        w = load(D[q], c_col, vectors)
        s0 = multiply_add(B[b_row, b_col + q], w, s0)
        s1 = multiply_add(B[b_row + 1, b_col + q], w, s1)
        s2 = multiply_add(B[b_row + 2, b_col + q], w, s2)
        s3 = multiply_add(B[b_row + 3, b_col + q], w, s3)
    store(C[c_row], c_col, s0)
    store(C[c_row + 1], c_col, s1)
    store(C[c_row + 2], c_col, s2)
    store(C[c_row + 3], c_col, s3)


def _one_row(B, b_row, b_col, D, count, C, c_row, c_col, vectors):
    """`_four_rows` for one row."""
    s = load(C[c_row], c_col, vectors)
    for q in range(count):
        s = multiply_add(B[b_row, b_col + q], load(D[q], c_col, vectors), s)
    store(C[c_row], c_col, s)


def _tile(B, b_row, b_col, D, count, C, c_row, c_col, four, vectors):
    """One tile: four rows (`_four_rows`) or one (`_one_row`) × `vectors` vectors from column `c_col`."""
    if four:
        _four_rows(B, b_row, b_col, D, count, C, c_row, c_col, vectors)
    else:
        _one_row(B, b_row, b_col, D, count, C, c_row, c_col, vectors)


def _row_tiles(B, b_row, b_col, D, count, C, c_row, four):
    """One group of rows (four, or one) across every column tile of `C`: tiles of `TILE` vectors, then one of
    two or one for the rest."""
    width = C.shape[1]
    col = 0
    while width - col >= TILE * LANES:
        _tile(B, b_row, b_col, D, count, C, c_row, col, four, TILE)
        col += TILE * LANES
    if width - col == 2 * LANES:
        _tile(B, b_row, b_col, D, count, C, c_row, col, four, 2)
    elif width - col == LANES:
        _tile(B, b_row, b_col, D, count, C, c_row, col, four, 1)


def accumulate_products(B, b_row, b_col, rows, count, D, C):
    """`C[p, :] += Σ_{q < count} B[b_row + p, b_col + q] · D[q, :]` for `p < rows`; `C` and `D` have the same
    number of columns, a multiple of `LANES` (`padded_width`). `B` may be any 2-D view (a transpose included)."""
    for p in range(0, rows - rows % 4, 4):
        _row_tiles(B, b_row + p, b_col, D, count, C, p, True)
    for p in range(rows - rows % 4, rows):
        _row_tiles(B, b_row + p, b_col, D, count, C, p, False)


_four_rows, _one_row, _tile = jit_inline(_four_rows), jit_inline(_one_row), jit_inline(_tile)
_row_tiles = jit_inline(_row_tiles)
accumulate_products = jit_inline(accumulate_products)
