"""Element-wise methods on problems beyond the plain GLMs: a GLM with a nonconvex regulariser, and Reddi et al.'s
counterexample (linear losses on an interval kept by a penalty).

The gradient is the data term's (the GLM's minibatch gradient of `oracle.batch_grad`, or the mean of the sampled
slopes) plus the regulariser's, added as `grad_batch` adds `reg_grad` (same operation order); the update is the
method's serial fused loop through `elementwise.update`, as in `elementwise_segment`.
"""

from __future__ import annotations

import numpy as np

from sgdlab.engine.kernels import elementwise as ew
from sgdlab.engine.kernels.common import jit
from sgdlab.engine.kernels.oracle import batch_grad, norm_sq

#: The data term: a GLM's (`A`, `y`, `loss`, …) or the counterexample's slopes (`y`, one per sample, `dim = 1`).
DATA_GLM = 0
DATA_SLOPES = 1
#: The regulariser added to it: `NonconvexLogistic`'s `l2·x + penalty·2x/(1 + x²)²` (`reg = (penalty,)`), or
#: `AdamCounterexample`'s `penalty·sign(x)·max(|x| − radius, 0)` (`reg = (penalty, radius)`).
REG_NONCONVEX = 0
REG_INTERVAL = 1


@jit
def add_regulariser(kind, reg, l2, x, g):
    """`g ← g + ∇R(x)`, grouped as the problems' `reg_grad` (`l2·x` first, when `l2 ≠ 0`)."""
    if kind == REG_NONCONVEX:
        penalty = reg[0]
        for j in range(x.size):
            r = penalty * 2.0 * x[j] / (1.0 + x[j] ** 2) ** 2
            g[j] = g[j] + (l2 * x[j] + r if l2 != 0.0 else r)
    else:
        penalty, radius = reg[0], reg[1]
        for j in range(x.size):
            d = abs(x[j]) - radius
            outside = d if (d > 0.0 or d != d) else 0.0  # np.maximum(d, 0): NaN passes through
            g[j] = g[j] + penalty * np.sign(x[j]) * outside


def _regularised_segment(
    kernel, data_kind, reg_kind, reg, A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals,
    alphas, params, step_params, s1, s2, s3, g,
):  # fmt: skip
    """`elementwise_segment`'s contract and arguments, with the data term `data_kind` and the regulariser
    `reg_kind` (parameters `reg`); `l2` belongs to the regulariser."""
    evals = 0
    count = offsets.size - 1
    z = np.empty(K)
    for t in range(count):
        if evals >= max_evals:
            return t, evals, False
        lo, hi = offsets[t], offsets[t + 1]
        if data_kind == DATA_SLOPES:
            total = 0.0
            for u in range(lo, hi):
                total += y[idx[u]]
            g[0] = total / (hi - lo)
        else:
            batch_grad(A, indptr, indices, data, dense, y, loss, K, 0.0, x, idx, lo, hi, g, z)
        add_regulariser(reg_kind, reg, l2, x, g)
        ew.update(kernel, x, g, s1, s2, s3, alphas[t], step_params[t], params)
        evals += hi - lo
        if not np.isfinite(norm_sq(x)):
            return t + 1, evals, True
    return count, evals, False


regularised_segment = jit(_regularised_segment)
