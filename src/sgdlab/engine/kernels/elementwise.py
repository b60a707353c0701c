"""SGD and the element-wise methods: minibatch gradient, then the method's fused update loop, per iteration."""

from __future__ import annotations

import numpy as np

from sgdlab.engine.kernels.common import AHEAD, LOSS_SOFTMAX, jit, prefetch, prefetch_row
from sgdlab.engine.kernels.oracle import batch_grad, dense_dot, dphi, norm_sq
from sgdlab.methods import fused

_sgd = fused.serial(fused.sgd_update)
_momentum = fused.serial(fused.momentum_update)
_diagonal = fused.serial(fused.diagonal_update)
_adadelta = fused.serial(fused.adadelta_update)
_adam = fused.serial(fused.adam_update)
_adam_lecture = fused.serial(fused.adam_lecture_update)
_lion = fused.serial(fused.lion_update)
#: The serial kernels' codes, by the names of `sgdlab.methods.fused.KERNELS` (`Fused.kernel`).
CODES = {"sgd": 0, "momentum": 1, "diagonal": 2, "adadelta": 3, "adam": 4, "lion": 5, "adam_lecture": 6}
SGD, MOMENTUM, DIAGONAL, ADADELTA, ADAM, LION, ADAM_LECTURE = CODES.values()


@jit
def _sgd_dense_single(A, i, s, l2, alpha, sign, decay, x):
    """Per-sample SGD on a dense row, fused: `x_j ← x_j − α (sign (a_ij s + l2 x_j) + decay x_j)` (no fast-math:
    the reference's rounding, element by element)."""
    for j in range(x.size):
        x[j] = x[j] - alpha * (sign * (A[i, j] * s + l2 * x[j]) + decay * x[j])


def _update(kernel, x, g, s1, s2, s3, alpha, q, p):
    """One step of the fused loop `kernel` (a code of `CODES`) as `step` calls it: `loop(x, g, *state, α, *q, *p)`
    with the method's `fused_step_args(k)` in `q`, its `fused_args()` in `p` (flags as 0/1) and its state arrays in
    `s1..s3` (unused slots: `x`). An unknown code is an error. Every compiled segment updates through this."""
    if kernel == SGD:
        _sgd(x, g, alpha, p[0], p[1])
    elif kernel == MOMENTUM:
        _momentum(x, g, s1, alpha, q[0], q[1], p[0], p[1], p[2], p[3] != 0.0)
    elif kernel == DIAGONAL:
        _diagonal(x, g, s1, s2, s3, alpha, p[0], p[1], p[2], p[3], p[4], p[5], p[6] != 0.0, p[7] != 0.0,
                  p[8] != 0.0)  # fmt: skip
    elif kernel == ADADELTA:
        _adadelta(x, g, s1, s2, alpha, p[0], p[1], p[2], p[3], p[4], p[5], p[6])
    elif kernel == ADAM:
        _adam(x, g, s1, s2, s3, alpha, q[0], q[1], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
              p[8] != 0.0, p[9] != 0.0)  # fmt: skip
    elif kernel == ADAM_LECTURE:
        _adam_lecture(x, g, s1, s2, s3, alpha, q[0], q[1], p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                      p[8] != 0.0, p[9] != 0.0)  # fmt: skip
    elif kernel == LION:
        _lion(x, g, s1, alpha, p[0], p[1], p[2], p[3], p[4])
    else:
        raise ValueError("compiled segment: unknown kernel code")


def _elementwise_segment(
    kernel, A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, params, step_params,
    s1, s2, s3, g,
):  # fmt: skip
    """SGD and the element-wise methods, whose update is the fused loop `kernel` (a code of `CODES`) called
    as `step` calls it: `loop(x, g, *state, α_t, *step_params[t], *params)` with the method's `fused_args()`
    in `params` (flags as 0/1), its `fused_step_args(k)` for the chunk's iterations in `step_params` and its
    state arrays in `s1..s3` (unused slots: `x`). An unknown code is an error."""
    evals = 0
    count = offsets.size - 1
    z = np.empty(K)
    p = params
    for t in range(count):
        if evals >= max_evals:
            return t, evals, False
        lo, hi = offsets[t], offsets[t + 1]
        alpha = alphas[t]
        if kernel == SGD and dense and hi - lo == 1 and loss != LOSS_SOFTMAX:
            # one row: (a_ij s)/1 + l2 x_j, then x − α g, element by element — the reference's rounding
            i = idx[lo]
            if lo + AHEAD < idx.size:
                prefetch(y, idx[lo + AHEAD])
                prefetch_row(A, idx[lo + AHEAD])
            s = dphi(loss, dense_dot(A, i, x), y[i])
            _sgd_dense_single(A, i, s, l2, alpha, p[0], p[1], x)
        else:
            batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z)
            update(kernel, x, g, s1, s2, s3, alpha, step_params[t], p)
        evals += hi - lo
        if not np.isfinite(norm_sq(x)):
            return t + 1, evals, True
    return count, evals, False


update = jit(_update)
elementwise_segment = jit(_elementwise_segment)
