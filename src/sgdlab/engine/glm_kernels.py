"""Numba kernels that run many iterations of a method on a generalised linear problem without returning to Python.

Problem: `f(x) = (1/n) Σ φ(a_iᵀX, y_i) + (l2/2)‖x‖²` with `φ'(z, y) = z − y` (least squares, `LOSS_LS`),
`−y·σ(−y z)` (logistic, `LOSS_LOGISTIC`) or `softmax(z) − e_y` (softmax, `LOSS_SOFTMAX`: `K` scores
`z = a_iᵀX` with `X` = `x` as a `dim_features × K` row-major matrix; `K = 1` otherwise), on dense rows
(`A`) or CSR rows (`indptr, indices, data`); `dense` says which is live, the other arguments are empty
placeholders, so one compiled specialisation serves both. Minibatch gradient
`g = (1/b) Σ_{t ∈ B} a_t ⊗ φ'(a_tᵀX, y_t) + l2·x`, as `LinearModelProblem.grad_batch`.

Each kernel mirrors the operation order of the Python reference (`methods/*.py` on the problem's NumPy oracle),
so element-wise arithmetic rounds identically; only sums of several terms (dense dot products, which BLAS
accumulates in its own order) may differ in the last bits. The element-wise update rules are not written again
here: they are the one-pass loops of `sgdlab.methods.fused`, compiled serially (see
`sgdlab.methods.fused.serial`).

Every kernel has the same contract: run at most `len(offsets) − 1` iterations (batch `t` is
`idx[offsets[t]:offsets[t+1]]`, step size `alphas[t]`) while `evals < max_evals`; stop right after an
iteration whose `‖x‖²` is not finite; return `(iterations, evals, diverged)`.

The kernels live in `sgdlab.engine.kernels`, one module per job: `common` (compile options, prefetching),
`oracle` (`φ'`, scores, gradients), `elementwise` (SGD and the element-wise methods), `variance_reduced`
(SAG/SAGA, whose step is written once as `table_step`, and SVRG) and `lazy` (just-in-time CSR updates). This
module is their entry points, which `sgdlab.engine.compiled` calls.
"""

from sgdlab.engine.kernels.common import LOSS_LOGISTIC, LOSS_LS, LOSS_SOFTMAX
from sgdlab.engine.kernels.elementwise import CODES, elementwise_segment
from sgdlab.engine.kernels.lazy import MIN_SCALE, SAFE_NORM2, sgd_lazy_segment, table_lazy_segment
from sgdlab.engine.kernels.variance_reduced import svrg_segment, table_segment

__all__ = [
    "CODES", "LOSS_LOGISTIC", "LOSS_LS", "LOSS_SOFTMAX", "MIN_SCALE", "SAFE_NORM2", "elementwise_segment",
    "sgd_lazy_segment", "svrg_segment", "table_lazy_segment", "table_segment",
]  # fmt: skip
