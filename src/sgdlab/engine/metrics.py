"""Checkpoint metrics in one pass over the data: `f(x)`, `∇f(x)` (hence `‖∇f‖²`) from the same scores.

For a generalised linear problem `f(x) = (1/n) Σ φ(a_iᵀX, y_i) + R(x)` the loss and the gradient share the
scores `z_i = a_iᵀX`: computed separately (`problem.loss`, then `problem.grad`) they read the design three
times (`Ax`; `Ax` and `Aᵀs`). Here:

* `fused_pass` — a numba kernel reads each row once (dense or CSR, float64, in memory): `z_i`, then
  `φ(z_i, y_i)` and `φ'(z_i, y_i)`, then `∇ += a_i ⊗ φ'` while the row is still in cache. The rows are cut
  into blocks (`ROW_BLOCK` rows, longer when the partial gradients would pass `PARTIAL_SIZE` numbers) spread
  over numba's threads, each summing its own partial gradient, added in block order: the same bits whatever
  the number of threads. Softmax runs with the classes outermost (`Xᵀ`, `Gᵀ`), so that each score and each
  gradient row is a contiguous, vectorised loop over the features. Used for `LeastSquares`,
  `LogisticRegression` and `SoftmaxRegression` themselves (the kernels know their links) on dense designs:
  2.6–3.3× faster than the separate passes (B6). On CSR designs the gathers and scatters of its rows, even in
  parallel, measured no faster than scipy's two sparse products (B6), so CSR designs use `shared_scores`.
  Its sums run in another order than BLAS's, so its values agree with `problem.loss`/`problem.grad` to
  rounding (`rtol 1e-12` in the tests), not bit for bit; on one machine they are bit-identical run to run.
* `shared_scores` — NumPy, for any other in-memory linear problem: one `A @ x` shared by the loss and
  the gradient (two reads instead of three), the very operations of `problem.loss`/`problem.grad`, so the
  values are bit-identical to theirs.
* every other problem, and any whose `loss` or `grad` is overridden or patched on the instance:
  `problem.loss` and `problem.grad`.

`loss_and_grad` picks among them. A checkpoint that records the loss without the gradient of a
`SoftmaxRegression`, and its held-out metrics (`evaluate`), take the scores from BLAS and each row's
`logsumexp(z) − z_y` from NumPy (`softmax_losses`) instead of scipy's `logsumexp` and `log_softmax`
— about 5× faster on the heavy-tail claim's 100 classes —, equal to rounding (`rtol 1e-12`). That pass is
bound by `exp`: NumPy's is vectorised, numba's (without SVML) scalar, and a compiled per-row pass measured
1.7× slower.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.sparse as sp
from numba import prange

from sgdlab.data.dataset import Dataset
from sgdlab.engine.kernels.common import jit_inline
from sgdlab.engine.kernels.oracle import softmax_minus_label
from sgdlab.methods import fused
from sgdlab.problems.base import Problem
from sgdlab.problems.glm import LeastSquares, LinearModelProblem, LogisticRegression, SoftmaxRegression, class_labels

_LINKS = {LeastSquares: 0, LogisticRegression: 1, SoftmaxRegression: 2}
#: Rows per block of the dense fused pass: each block sums its own gradient, so the result does not depend on how
#: many threads share the blocks.
ROW_BLOCK = 4096
#: At most this many numbers in all the blocks' partial gradients (32 MB): wide designs get longer blocks.
PARTIAL_SIZE = 1 << 22
jit_parallel_sum = numba.njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
# CSR rows: their dot products stay in order — reordered, LLVM turns them into vector gathers, 3–4× slower (B6).
jit_parallel = numba.njit(cache=True, nogil=True, parallel=True)
# CSR rows: no reassociation — LLVM would vectorise the gathers `x[indices[p]]`, 3–4× slower than scalar loads here.
jit_parallel = numba.njit(cache=True, nogil=True, parallel=True)


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


def _block_rows(n: int, width: int) -> int:
    """Rows per block of the parallel passes: `ROW_BLOCK`, more when the blocks' partial gradients (`width`
    numbers each) would exceed `PARTIAL_SIZE` numbers in all. It depends on the shape only, not on the
    number of threads, so neither do the sums."""
    blocks = max(1, min(-(-n // ROW_BLOCK), PARTIAL_SIZE // max(width, 1)))
    return max(ROW_BLOCK, -(-n // blocks))


def fused_pass(problem: LinearModelProblem, x: np.ndarray) -> tuple[float, np.ndarray]:
    """`(f(x), ∇f(x))` from one read of each row of the design (numba); see the module's docstring."""
    found = _arrays(problem, x)
    if found is None:
        raise TypeError(f"the fused pass does not apply to {problem.name} with x of dtype {x.dtype}")
    kind, A, y = found
    K, n = problem.n_outputs, problem.n
    phi = np.empty(n)
    rows = _block_rows(n, problem.dim)
    # blocks of rows in parallel, each its own partial gradient, added in block order: the same sums whatever
    # the number of threads
    fused.start_threads()  # numba's pool, started without changing torch's thread count
    if sp.issparse(A):
        blocks = np.zeros((-(-n // rows), problem.dim))
        # column indices as unsigned integers (a view): numba then skips the negative-index wraparound on every
        # gather and scatter (measured 2.4x faster on the gathers)
        indices = A.indices.view(np.uint32 if A.indices.itemsize == 4 else np.uint64)
        if K == 1:
            _csr_single(A.indptr, indices, A.data, y, x, kind, phi, blocks, rows)
        else:
            _csr_multi(A.indptr, indices, A.data, y, x.reshape(-1, K), phi, blocks.reshape(len(blocks), -1, K),
                       rows)  # fmt: skip
        g = np.sum(blocks, axis=0)  # row after row (the outer axis): a fixed order
    elif K == 1:
        blocks = np.zeros((-(-n // rows), problem.dim))
        _dense_single(A, y, x, kind, phi, blocks, rows)
        g = np.sum(blocks, axis=0)
    else:  # classes outermost (`Xᵀ`, `Gᵀ`): each score and each gradient row is a contiguous loop over features
        blocks = np.zeros((-(-n // rows), K, problem.dim // K))
        _dense_multi(A, y, np.ascontiguousarray(x.reshape(-1, K).T), phi, blocks, rows)
        g = np.ascontiguousarray(np.sum(blocks, axis=0).T).ravel()
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
    cross-entropy, as `SoftmaxRegression` defines it, to rounding — shifted by each row's largest score,
    exponentiated in place (NumPy's vectorised `exp`: without SVML, numba's `exp` is scalar and a compiled
    per-row pass measured slower, B6)."""
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
    kernel where it applies (dense or CSR, float64), shared scores for other in-memory linear problems."""
    if not want_grad:
        return (_softmax_loss(problem, x) if _softmax(problem) else problem.loss(x)), None
    if _arrays(problem, x) is not None:
        return fused_pass(problem, x)
    if isinstance(problem, LinearModelProblem) and not problem.data.is_out_of_core and _own_oracle(problem):
        return shared_scores(problem, x)
    return problem.loss(x), problem.grad(x)


# --- the kernels -----------------------------------------------------------------------------------------
# Links, as the problems define them: 0 least squares ½(z − y)², 1 logistic log(1 + e^{−yz}), 2 softmax.


def _link(kind, z, y):
    if kind == 0:
        r = z - y
        return 0.5 * r * r, r
    t = -y * z  # logaddexp(0, t) and −y·expit(t), both without overflow
    if t > 0:
        e = math.exp(-t)
        return t + math.log1p(e), -y / (1.0 + e)
    e = math.exp(t)
    return math.log1p(e), -y * e / (1.0 + e)


def _softmax_row(z, label, s):
    """`s ← softmax(z) − e_label`; returns `logsumexp(z) − z[label]`."""
    s[:] = z
    return softmax_minus_label(s, label) - z[label]


def _dense_single(A, y, x, kind, phi, blocks, rows):
    n, d = A.shape
    for b in prange(blocks.shape[0]):
        g = blocks[b]
        for i in range(b * rows, min(n, (b + 1) * rows)):
            z = 0.0
            for j in range(d):
                z += A[i, j] * x[j]
            phi[i], s = _link(kind, z, y[i])
            for j in range(d):
                g[j] += s * A[i, j]


def _csr_single(indptr, indices, data, y, x, kind, phi, blocks, rows):
    n = indptr.size - 1
    for b in prange(blocks.shape[0]):
        g = blocks[b]
        for i in range(b * rows, min(n, (b + 1) * rows)):
            start, stop = indptr[i], indptr[i + 1]
            z = 0.0
            for p in range(start, stop):
                z += data[p] * x[indices[p]]
            phi[i], s = _link(kind, z, y[i])
            for p in range(start, stop):  # the row's indices and values are still in cache
                g[indices[p]] += s * data[p]


def _dense_multi(A, y, XT, phi, blocks, rows):
    n, d = A.shape
    K = XT.shape[0]
    for b in prange(blocks.shape[0]):
        GT, z, s = blocks[b], np.empty(K), np.empty(K)
        for i in range(b * rows, min(n, (b + 1) * rows)):
            a = A[i]
            for k in range(K):
                t = 0.0
                for j in range(d):
                    t += a[j] * XT[k, j]
                z[k] = t
            phi[i] = _softmax_row(z, y[i], s)
            for k in range(K):
                sk = s[k]
                for j in range(d):
                    GT[k, j] += sk * a[j]


def _csr_multi(indptr, indices, data, y, X, phi, blocks, rows):
    n = indptr.size - 1
    K = X.shape[1]
    for b in prange(blocks.shape[0]):
        G, z, s = blocks[b], np.empty(K), np.empty(K)
        for i in range(b * rows, min(n, (b + 1) * rows)):
            z[:] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                a, j = data[p], indices[p]
                for k in range(K):
                    z[k] += a * X[j, k]
            phi[i] = _softmax_row(z, y[i], s)
            for p in range(indptr[i], indptr[i + 1]):
                a, j = data[p], indices[p]
                for k in range(K):
                    G[j, k] += a * s[k]


_link, _softmax_row = jit_inline(_link), jit_inline(_softmax_row)
# Dot products and gradient sums in any order (LLVM vectorises them); the same binary rounds the same way.
# Blocks of rows on numba's threads (a default run measures on every core).
_csr_single, _csr_multi = jit_parallel(_csr_single), jit_parallel(_csr_multi)
_dense_single, _dense_multi = jit_parallel_sum(_dense_single), jit_parallel_sum(_dense_multi)
