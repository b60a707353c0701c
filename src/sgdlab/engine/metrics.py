"""Checkpoint metrics in one pass over the data: `f(x)`, `∇f(x)` (hence `‖∇f‖²`) from the same scores.

For a generalised linear problem `f(x) = (1/n) Σ φ(a_iᵀX, y_i) + R(x)` the loss and the gradient share the
scores `z_i = a_iᵀX`: computed separately (`problem.loss`, then `problem.grad`) they read the design three
times (`Ax`; `Ax` and `Aᵀs`). Here:

* `fused_pass` — a numba kernel reads each row once (dense or CSR, float64, in memory): for a chunk of rows
  (`DENSE_CHUNK`, `CSR_CHUNK`) `z_i`, then `φ(z_i, y_i)` and `φ'(z_i, y_i)` in loops LLVM vectorises (the
  logistic link's exp and log1p as polynomials, `_exp_nonpositive` and `_log1p_unit`: numba's `math.exp` is a
  scalar call, 6 ns each here), then `∇ += a_i ⊗ φ'` while the rows are still in cache; on dense designs
  four rows per sweep over the features (`_scores_by_four`, `_add_by_four`: each load of `x` or store of `∇`
  serves four rows). Dense designs are cut into blocks of `ROW_BLOCK` rows spread over numba's threads, each
  summing its own partial gradient, added in block order: the same bits whatever the number of threads. Used
  for `LeastSquares`, `LogisticRegression` and `SoftmaxRegression` themselves (the kernels know their links). On
  dense designs it runs faster than the separate passes, near the memory bandwidth (B6). A dense softmax pass
  takes the rows of a block in chunks of `SOFTMAX_CHUNK`: their scores `Z = A_chunk X` and their gradient terms
  `Aᵀ_chunk (softmax(Z) − Y)` as register-tiled products (`kernels.tiles`: four rows or features × up to twelve
  classes of sums held in registers, the classes padded to whole vectors of four), between them the softmax row
  by row (`_softmax_minus_labels`: the largest score, one vectorised exp over the chunk, a reciprocal a row),
  while the chunk is in cache: 2K multiply-adds per element of the design make this pass bound by its arithmetic,
  not by the memory (B6 compares it with the machine's multiply-add peak). CSR designs are cut into a fixed
  number of row blocks (`csr_blocks`), each summing its own partial gradient; within a block, chunks of
  `CSR_CHUNK` rows get their scores (four partial sums a row), then their links, then their gradient terms
  while their nonzeros are still in cache. The gathers and scatters bound this pass more than the memory does;
  it runs faster than scipy's two sparse products of `shared_scores`.
  Its sums run in another order than BLAS's, so its values agree with `problem.loss`/`problem.grad` to
  rounding (`rtol 1e-12` in the tests), not bit for bit; on one machine they are bit-identical run to run.
* `shared_scores` — NumPy, for any other in-memory linear problem: one `A @ x` shared by the loss and
  the gradient (two reads instead of three), the very operations of `problem.loss`/`problem.grad`, so the
  values are bit-identical to theirs.
* every other problem, and any whose `loss` or `grad` is overridden or patched on the instance:
  `problem.loss` and `problem.grad`.

`loss_and_grad` picks among them. A checkpoint that records the loss without the gradient of a
`SoftmaxRegression`, and its held-out metrics (`evaluate`), take the scores from BLAS and each row's
`logsumexp(z) − z_y` from one compiled pass over them (`softmax_losses`, the rows in parallel through
`_shifted_exp_rows`, then the log of each row's sum) instead of scipy's `logsumexp` and `log_softmax`, equal
to rounding (`rtol 1e-12`).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import prange

from sgdlab._numba_cache import njit
from sgdlab.data.dataset import Dataset
from sgdlab.engine.kernels.common import jit_inline
from sgdlab.engine.kernels.oracle import softmax_minus_label
from sgdlab.engine.kernels.tiles import accumulate_products, padded_width
from sgdlab.methods import fused
from sgdlab.problems.base import Problem
from sgdlab.problems.glm import LeastSquares, LinearModelProblem, LogisticRegression, SoftmaxRegression, class_labels

_LINKS = {LeastSquares: 0, LogisticRegression: 1, SoftmaxRegression: 2}
#: Rows per block of the dense fused pass: each block sums its own gradient, so the result does not depend on how
#: many threads share the blocks.
ROW_BLOCK = 4096
jit_parallel_sum = njit(nogil=True, parallel=True, fastmath={"reassoc", "contract"})
jit_parallel_in_order = njit(nogil=True, parallel=True, fastmath={"contract"})


#: At most this many row blocks on a CSR design, and at most `CSR_BLOCK_BYTES` of partial gradients in all (a
#: CSR design may have millions of columns): enough blocks to share among the threads of a small machine.
CSR_BLOCKS = 16
CSR_BLOCK_BYTES = 1 << 26
#: Rows whose scores the CSR pass computes before their links (vectorised over them) and gradient terms (their
#: nonzeros stay in the L2 cache); the dense pass takes `DENSE_CHUNK` rows at a time (in the L1 cache if they can).
CSR_CHUNK = 256
DENSE_CHUNK = 16
# unsigned offsets into the CSR arrays (numba then skips its negative-index wraparound)
_U1, _U2, _U3, _U4 = (np.uint64(k) for k in range(1, 5))
#: Rows the dense softmax pass takes at once: their scores, softmax and gradient terms while they are in cache
#: (the fastest of 48–256 rows on 1e5 × 50, K = 10).
SOFTMAX_CHUNK = 96


def csr_blocks(n: int, dim: int) -> int:
    """How many row blocks the fused pass cuts an `n × dim` CSR design into: a function of the shape alone, so
    the sums (hence the bits) do not depend on the number of threads."""
    return max(1, min(CSR_BLOCKS, -(-n // ROW_BLOCK), CSR_BLOCK_BYTES // (8 * max(dim, 1))))


def _own_oracle(problem: Problem) -> bool:
    """Whether `problem.loss` and `problem.grad` are `Problem`'s, neither overridden nor patched on the
    instance: only then do the passes here compute what they compute."""
    kind = type(problem)
    return kind.loss is Problem.loss and kind.grad is Problem.grad and not {"loss", "grad"} & set(vars(problem))


def _arrays(problem: Problem, x: np.ndarray):
    """`(kind, A, y)` when the fused kernel applies to `problem` at `x`, else `None`."""
    kind = _LINKS.get(type(problem))
    if kind is None or problem.data.is_out_of_core or not _own_oracle(problem):
        return None
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous):
        return None
    A, y = problem.A, problem.y
    if not isinstance(y, np.ndarray) or y.dtype != (np.int64 if kind == 2 else np.float64):
        return None
    if sp.issparse(A):
        if A.format != "csr" or A.dtype != np.float64:
            return None
    elif not (isinstance(A, np.ndarray) and A.dtype == np.float64 and A.flags.c_contiguous):
        return None
    return kind, A, y


def design_bytes(problem: LinearModelProblem) -> int:
    """Bytes of the design one pass reads: the dense array, or the CSR data, indices and row pointers."""
    A = problem.A
    if sp.issparse(A):
        return int(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes)
    return int(np.asarray(A).nbytes)


def fused_pass(problem: LinearModelProblem, x: np.ndarray) -> tuple[float, np.ndarray]:
    """`(f(x), ∇f(x))` from one read of each row of the design (numba); see the module's docstring."""
    found = _arrays(problem, x)
    if found is None:
        raise TypeError(f"the fused pass does not apply to {problem.name} with x of dtype {x.dtype}")
    kind, A, y = found
    K = problem.n_outputs
    phi = np.empty(problem.n)
    # blocks of rows in parallel, each its own partial gradient, added in block order: the same sums whatever
    # the number of threads
    fused.start_threads()  # numba's pool, started without changing torch's thread count
    if sp.issparse(A):
        blocks = np.zeros((csr_blocks(problem.n, problem.dim), problem.dim))
        rows = -(-problem.n // len(blocks))
        # unsigned positions and column indices, viewed in place: numba then skips its negative-index
        # wraparound, which otherwise halves the speed of these gathers and scatters
        indptr, indices = (v.view(np.uint32 if v.itemsize == 4 else np.uint64) for v in (A.indptr, A.indices))
        if K == 1:
            _csr_single(indptr, indices, A.data, y, x, kind, phi, blocks, rows)
        else:
            _csr_multi(indptr, indices, A.data, y, x.reshape(-1, K), phi, blocks.reshape(len(blocks), -1, K), rows)
    elif K == 1:
        blocks = np.zeros((-(-problem.n // ROW_BLOCK), problem.dim))
        _dense_single(A, y, x, kind, phi, blocks)
    else:
        d, width = problem.dim // K, padded_width(K)
        X = np.zeros((d, width))
        X[:, :K] = x.reshape(d, K)
        blocks = np.zeros((-(-problem.n // ROW_BLOCK), d, width))
        _dense_multi(A, y, X, K, phi, blocks)
        blocks = blocks[:, :, :K]
    g = np.sum(blocks, axis=0).reshape(-1)  # row after row (the outer axis): a fixed order
    loss = float(np.mean(phi) + problem.reg_loss(x))  # np.mean: the pairwise sum of problem.loss
    return loss, g / problem.n + problem.reg_grad(x)


def shared_scores(problem: LinearModelProblem, x: np.ndarray) -> tuple[float, np.ndarray]:
    """`(f(x), ∇f(x))` with one `A @ x` for both: the operations of `problem.loss` and `problem.grad`."""
    x = problem._point(x)
    z = problem._scores(problem.A, x)
    loss = float(float(np.mean(problem._phi(z, problem.y))) + problem.reg_loss(x))
    s = problem._dphi(z, problem.y)
    return loss, np.asarray(problem.A.T @ s).ravel() / problem.n + problem.reg_grad(x)


def _softmax(problem: Problem) -> bool:
    """Exactly a `SoftmaxRegression` with its own oracle and its rows in memory."""
    return type(problem) is SoftmaxRegression and not problem.data.is_out_of_core and _own_oracle(problem)


def softmax_losses(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`logsumexp(z_i) − z_{i, y_i}` for every row of the scores `z` (`n × K`): the per-sample softmax
    cross-entropy, as `SoftmaxRegression` defines it, to rounding — shifted by each row's largest score and
    exponentiated by the fused pass's vectorised exp (numba, rows in parallel; float64 scores), or NumPy's."""
    y = np.asarray(y)
    if z.dtype == np.float64 and z.flags.c_contiguous and y.dtype == np.int64 and len(z):
        out = np.empty(len(z))
        fused.start_threads()
        _softmax_losses(z, y, out)
        return out
    top = z.max(axis=1, keepdims=True)
    shifted = z - top
    np.exp(shifted, out=shifted)
    return top[:, 0] + np.log(shifted.sum(axis=1)) - z[np.arange(len(y)), y]


def _softmax_loss(problem: SoftmaxRegression, x: np.ndarray) -> float:
    x = problem._point(x)
    z = problem._scores(problem.A, x)
    return float(float(np.mean(softmax_losses(z, problem.y))) + problem.reg_loss(x))


def evaluate(problem: Problem, x: np.ndarray, test: object) -> dict[str, float]:
    """`problem.evaluate(x, test)`: for a `SoftmaxRegression` (its own `evaluate`, data in memory) from the
    scores and `softmax_losses` — the same keys and values to rounding."""
    if not (_softmax(problem) and type(problem).evaluate is SoftmaxRegression.evaluate and isinstance(test, Dataset)
            and not test.is_out_of_core):  # fmt: skip
        return problem.evaluate(x, test)
    y, _ = class_labels(test.y, problem.n_outputs)
    z = problem._scores(test.A, problem._point(x))
    losses = softmax_losses(z, y)
    frequent = problem._frequent_classes()[y]
    return {
        "loss": float(np.mean(losses)),
        "accuracy": float(np.mean(np.argmax(z, axis=1) == y)),
        "loss_frequent": float(np.mean(losses[frequent])) if frequent.any() else float("nan"),
        "loss_rare": float(np.mean(losses[~frequent])) if not frequent.all() else float("nan"),
    }


def loss_and_grad(problem: Problem, x: np.ndarray, want_grad: bool = True) -> tuple[float, np.ndarray | None]:
    """`f(x)` and, with `want_grad`, `∇f(x)`, by the fastest pass available (module docstring): the fused
    kernel where it applies, shared scores on the other in-memory linear problems."""
    if not want_grad:
        return (_softmax_loss(problem, x) if _softmax(problem) else problem.loss(x)), None
    if _arrays(problem, x) is not None:
        return fused_pass(problem, x)
    if isinstance(problem, LinearModelProblem) and not problem.data.is_out_of_core and _own_oracle(problem):
        return shared_scores(problem, x)
    return problem.loss(x), problem.grad(x)


# --- the kernels -----------------------------------------------------------------------------------------
# Links, as the problems define them: 0 least squares ½(z − y)², 1 logistic log(1 + e^{−yz}), 2 softmax.


def _links(kind, z, y, start, m, phi, e):
    """For the chunk of rows `start .. start + m`: `phi[start + c] ← φ(z_c, y)`, `z_c ← φ'(z_c, y)`, in loops
    LLVM vectorises (`e`: work space). Least squares ½(z − y)² and z − y; logistic, with t = −y z,
    `logaddexp(0, t) = max(t, 0) + log1p(e^{−|t|})` and `−y·expit(t)`, both without overflow."""
    if kind == 0:
        for c in range(m):
            r = z[c] - y[start + c]
            phi[start + c], z[c] = 0.5 * r * r, r
        return
    for c in range(m):
        e[c] = -abs(y[start + c] * z[c])
    _exp_nonpositive(e, m)
    for c in range(m):
        label, u = y[start + c], e[c]
        t = -label * z[c]
        phi[start + c] = max(t, 0.0) + _log1p_unit(u)
        z[c] = -label / (1.0 + u) if t > 0 else -label * u / (1.0 + u)


# log1p(u) for 0 ≤ u ≤ 1 as 2·atanh(q), q = u / (2 + u) ≤ 1/3, by its series 2q Σ q^{2k} / (2k + 1) to k = 16
# (truncation below 2e-17 relative): no cancellation for small u, and a loop LLVM vectorises.
_ATANH_SERIES = np.array([2.0 / (2 * k + 1) for k in range(16, -1, -1)])


def _log1p_unit(u):
    q = u / (2.0 + u)
    q2 = q * q
    p = _ATANH_SERIES[0]
    for k in range(1, _ATANH_SERIES.size):
        p = p * q2 + _ATANH_SERIES[k]
    return q * p


# exp(v) for v ≤ 0 (shifted scores): 2^k · exp(r), k = round(v / ln 2), r = v − k ln 2 in two parts (Cody–Waite),
# exp(r) by its Taylor polynomial to degree 13 (|r| ≤ ln 2 / 2: truncation below 2e-16), 2^k added to the
# exponent bits. Within 1 ulp of libm's exp, and a loop LLVM vectorises (numba's math.exp is a scalar call,
# 6 ns each here); below −708 the result would be subnormal: there it is exp(−708) ≈ 3e-308 instead, which
# changes no sum of shifted scores (the largest is e^0 = 1) and no probability by more than 3e-308.
_LN2_HI, _LN2_LO, _INV_LN2 = 6.93147180369123816490e-01, 1.90821492927058770002e-10, 1.44269504088896338700e00
_EXP_TAYLOR = np.array([1.0 / math.factorial(i) for i in range(13, -1, -1)])


def _exp_nonpositive(v, m):
    """`v[:m] ← exp(v[:m])`, every `v[i] ≤ 0`."""
    bits = v.view(np.int64)
    for i in range(m):
        t = max(v[i], -708.0)
        k = np.floor(t * _INV_LN2 + 0.5)
        r = (t - k * _LN2_HI) - k * _LN2_LO
        p = _EXP_TAYLOR[0]
        for c in range(1, _EXP_TAYLOR.size):
            p = p * r + _EXP_TAYLOR[c]
        v[i] = p
        bits[i] += np.int64(k) << 52


def _softmax_row(z, label, s):
    """`s ← softmax(z) − e_label`; returns `logsumexp(z) − z[label]`."""
    s[:] = z
    return softmax_minus_label(s, label) - z[label]


def _dense_single(A, y, x, kind, phi, blocks):
    n = A.shape[0]
    for b in prange(blocks.shape[0]):
        g, z, e = blocks[b], np.empty(DENSE_CHUNK), np.empty(DENSE_CHUNK)
        # chunks of rows, as on CSR designs: their scores, their links (vectorised), their gradient terms
        for start in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), DENSE_CHUNK):
            m = min(n, (b + 1) * ROW_BLOCK, start + DENSE_CHUNK) - start
            _scores_by_four(A, x, z, start, m)
            _links(kind, z, y, start, m, phi, e)
            _add_by_four(A, z, g, start, m)


def _csr_dot(indptr, indices, data, i, x):
    """`a_iᵀx` for row `i` of a CSR design: four partial sums (in a fixed order) instead of one chain of dependent
    additions, which bounds the loop by the adder's latency."""
    p, hi = np.uint64(indptr[i]), np.uint64(indptr[i + 1])
    z0 = z1 = z2 = z3 = 0.0
    while p + _U4 <= hi:
        z0 += data[p] * x[indices[p]]
        z1 += data[p + _U1] * x[indices[p + _U1]]
        z2 += data[p + _U2] * x[indices[p + _U2]]
        z3 += data[p + _U3] * x[indices[p + _U3]]
        p += _U4
    z = (z0 + z1) + (z2 + z3)
    while p < hi:
        z += data[p] * x[indices[p]]
        p += _U1
    return z


def _csr_single(indptr, indices, data, y, x, kind, phi, blocks, rows):
    n = indptr.size - 1
    for b in prange(blocks.shape[0]):
        g, z, e = blocks[b], np.empty(CSR_CHUNK), np.empty(CSR_CHUNK)
        # chunks of rows: their scores, then their links, then their gradient terms, read again from cache —
        # one loop doing all three per row runs at half the speed
        for start in range(b * rows, min(n, (b + 1) * rows), CSR_CHUNK):
            stop = min(n, (b + 1) * rows, start + CSR_CHUNK)
            for i in range(start, stop):
                z[i - start] = _csr_dot(indptr, indices, data, i, x)
            _links(kind, z, y, start, stop - start, phi, e)
            for i in range(start, stop):
                si = z[i - start]
                for p in range(indptr[i], indptr[i + 1]):
                    g[indices[p]] += si * data[p]


def _scores_by_four(A, x, z, start, m):
    """`z[c] ← a_{start+c}ᵀ x` for the `m` rows from `start`: four rows per sweep over the features, so that
    each load of `x` serves four dot products (each summed in the same order as one alone)."""
    d = A.shape[1]
    for c in range(0, m - m % 4, 4):
        i = start + c
        z0 = z1 = z2 = z3 = 0.0
        for j in range(d):
            z0 += A[i, j] * x[j]
            z1 += A[i + 1, j] * x[j]
            z2 += A[i + 2, j] * x[j]
            z3 += A[i + 3, j] * x[j]
        z[c], z[c + 1], z[c + 2], z[c + 3] = z0, z1, z2, z3
    for c in range(m - m % 4, m):
        t = 0.0
        for j in range(d):
            t += A[start + c, j] * x[j]
        z[c] = t


def _add_by_four(A, s, g, start, m):
    """`g += Σ_c s[c] · a_{start+c}`: four rows per load and store of `g`."""
    d = A.shape[1]
    for c in range(0, m - m % 4, 4):
        i = start + c
        s0, s1, s2, s3 = s[c], s[c + 1], s[c + 2], s[c + 3]
        for j in range(d):
            g[j] += s0 * A[i, j] + s1 * A[i + 1, j] + s2 * A[i + 2, j] + s3 * A[i + 3, j]
    for c in range(m - m % 4, m):
        for j in range(d):
            g[j] += s[c] * A[start + c, j]


def _dense_multi(A, y, X, K, phi, blocks):
    n, d = A.shape
    width = X.shape[1]  # K padded to whole vectors; the padding of X is zero
    AT = A.T
    for b in prange(blocks.shape[0]):
        G = blocks[b]
        Z, E, L = np.empty((SOFTMAX_CHUNK, width)), np.empty((SOFTMAX_CHUNK, width)), np.empty(SOFTMAX_CHUNK)
        # chunks of rows: their scores, their softmax, their gradient terms while the rows are in cache, both
        # products in register tiles (four rows or features × up to twelve outputs)
        for start in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), SOFTMAX_CHUNK):
            m = min(n, (b + 1) * ROW_BLOCK, start + SOFTMAX_CHUNK) - start
            Z[:m] = 0.0
            accumulate_products(A, start, 0, m, d, X, Z)  # Z = A[rows] X
            _softmax_minus_labels(Z, y, start, m, K, phi, E, L)
            accumulate_products(AT, 0, start, d, m, E, G)  # G += A[rows]ᵀ E


def _softmax_minus_labels(Z, y, start, m, K, phi, E, L):
    """For the chunk's `m` rows of scores (the first `K` columns of `Z`): `E[:, :K] ← softmax(z) − e_y` and
    `phi[start + c] ← logsumexp(z) − z_y`, as `softmax_minus_label` to rounding (the largest score subtracted,
    one vectorised exp, multiplied by the reciprocal of the sum); the padding of `E` is set to zero."""
    _shifted_exp_rows(Z, m, K, E, L)
    for c in range(m):
        total = 0.0
        for k in range(K):
            total += E[c, k]
        w = 1.0 / total
        for k in range(K):
            E[c, k] *= w
        for k in range(K, E.shape[1]):
            E[c, k] = 0.0
        label = y[start + c]
        phi[start + c] = L[c] + math.log(total) - Z[c, label]
        E[c, label] -= 1.0


def _shifted_exp_rows(Z, m, K, E, L):
    """For the first `m` rows of scores (the first `K` columns of `Z`): `L ←` the largest score of each row and
    `E ← exp(z − L)` (one vectorised exp over the rows, `E`'s padding columns included: all of them are
    written, none is read)."""
    for c in range(m):
        t0 = t1 = t2 = t3 = Z[c, 0]  # four running maxima (one would wait on each comparison); max is exact
        for k in range(1, K - (K - 1) % 4, 4):
            t0, t1 = max(t0, Z[c, k]), max(t1, Z[c, k + 1])
            t2, t3 = max(t2, Z[c, k + 2]), max(t3, Z[c, k + 3])
        for k in range(K - (K - 1) % 4, K):
            t0 = max(t0, Z[c, k])
        top = max(max(t0, t1), max(t2, t3))
        for k in range(E.shape[1]):
            E[c, k] = Z[c, k] - top
        L[c] = top
    _exp_nonpositive(E.reshape(-1), m * E.shape[1])


def _softmax_losses(z, y, out):
    n, K = z.shape
    for b in prange(-(-n // ROW_BLOCK)):
        E, L = np.empty((SOFTMAX_CHUNK, K)), np.empty(SOFTMAX_CHUNK)
        for start in range(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), SOFTMAX_CHUNK):
            m = min(n, (b + 1) * ROW_BLOCK, start + SOFTMAX_CHUNK) - start
            _shifted_exp_rows(z[start : start + m], m, K, E, L)
            for c in range(m):
                total = 0.0
                for k in range(K):
                    total += E[c, k]
                out[start + c] = L[c] + math.log(total) - z[start + c, y[start + c]]  # logsumexp(z) − z_y


def _csr_multi(indptr, indices, data, y, X, phi, blocks, rows):
    n = indptr.size - 1
    K = X.shape[1]
    for b in prange(blocks.shape[0]):
        G, z, s = blocks[b], np.empty(K), np.empty(K)
        for i in range(b * rows, min(n, (b + 1) * rows)):
            lo, hi = indptr[i], indptr[i + 1]
            z[:] = 0.0
            for p in range(lo, hi):
                a, j = data[p], indices[p]
                for k in range(K):
                    z[k] += a * X[j, k]
            phi[i] = _softmax_row(z, y[i], s)
            for p in range(lo, hi):
                a, j = data[p], indices[p]
                for k in range(K):
                    G[j, k] += a * s[k]


_links, _log1p_unit, _softmax_row = jit_inline(_links), jit_inline(_log1p_unit), jit_inline(_softmax_row)
_exp_nonpositive = jit_inline(_exp_nonpositive)
_scores_by_four, _add_by_four, _csr_dot = jit_inline(_scores_by_four), jit_inline(_add_by_four), jit_inline(_csr_dot)
_shifted_exp_rows = jit_inline(_shifted_exp_rows)
_softmax_minus_labels = jit_inline(_softmax_minus_labels)
# Dot products and gradient sums in any order (LLVM vectorises them); the same binary rounds the same way.
# Dense designs: blocks of ROW_BLOCK rows on numba's threads (a default run measures on every core).
# CSR designs: a fixed number of row blocks (`csr_blocks`), each with its own dense partial gradient; sums in
# order (reassociated, LLVM vectorises the gathers with instructions slower than scalar loads on some CPUs).
_csr_single, _csr_multi = jit_parallel_in_order(_csr_single), jit_parallel_in_order(_csr_multi)
_dense_single, _dense_multi = jit_parallel_sum(_dense_single), jit_parallel_sum(_dense_multi)
_softmax_losses = jit_parallel_sum(_softmax_losses)
