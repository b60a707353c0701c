"""Lazy (just-in-time) updates for CSR rows, one sample per iteration: SGD, SAG and SAGA in O(nnz(a_i))."""

from __future__ import annotations

import numpy as np

from sgdlab.engine.kernels.common import LOSS_SOFTMAX, jit
from sgdlab.engine.kernels.oracle import csr_dot, dphi, softmax_minus_label
from sgdlab.engine.kernels.variance_reduced import table_step

# --- lazy (just-in-time) updates for CSR rows, one sample per iteration -------------------------------------
# An iteration on a sparse row changes every coordinate only through terms that do not depend on the row: the L2
# shrinkage (SGD) and, for SAG/SAGA, the table mean. Those are applied in closed form when a coordinate is next
# read, so an iteration costs O(nnz(a_i)) instead of O(dim). Every coordinate is brought up to date before a
# kernel returns. The closed forms round differently from the step-by-step reference (agreement ~1e-13 relative).
#
# Divergence: the reference checks ‖x‖² after every iteration. Between two visits, a coordinate moves
# monotonically (its distance to a fixed point shrinks by 0 < 1 − α·l2 ≤ 1), so it stays between the values it
# takes at visits, all of which the kernel sees: while ``dim · max|x_j|² ≤ 1e300`` no ‖x‖² along the way can
# overflow. Otherwise (and if ``α·l2 ≥ 1``, where that argument fails) the kernel stops and says ``unsafe``: the
# caller restores the chunk's starting state and runs it with the step-by-step kernel, which stops exactly where
# the reference does.

#: `dim · max|x_j|²` above this makes a lazy chunk unsafe (see above).
SAFE_NORM2 = 1e300
#: The running shrinkage product is folded into `x` below this, before it can underflow.
MIN_SCALE = 1e-100


@jit
def max_abs(x):
    m = 0.0
    for j in range(x.size):
        a = abs(x[j])
        if not a <= m:  # NaN propagates
            m = a
    return m


@jit
def lazy_dphi(indptr, indices, data, y, loss, i, x, w, z):
    """`z ← φ'(w·a_iᵀV, y_i)` for the CSR row `i` (`V` = `x` as `dim_features × K`, `K = z.size`)."""
    K = z.size
    if loss == LOSS_SOFTMAX:
        z[:] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            a, base = data[p], indices[p] * K
            for k in range(K):
                z[k] += a * x[base + k]
        for k in range(K):
            z[k] = w * z[k]
        softmax_minus_label(z, y[i])
    else:
        z[0] = dphi(loss, w * csr_dot(indptr, indices, data, i, x), y[i])


@jit
def sgd_lazy_segment(indptr, indices, data, y, loss, K, l2, x, idx, offsets, max_evals, alphas):
    """Per-sample SGD on CSR rows with `x = w·v`: `z = w·(a_iᵀV)`, `w ← w(1 − α l2)`,
    `v_jk ← v_jk − α a_ij φ'_k(z, y_i) / w` on the row — the same iterate as `x ← x − α (a_i ⊗ φ'_i + l2 x)`
    (bit for bit when `l2 = 0`). `v` is `x` itself; `w` is folded in below `MIN_SCALE` and at the end.
    Returns `(iterations, evals, unsafe)`."""
    count = offsets.size - 1
    bound = x.size * 1.0
    m = max_abs(x)
    z = np.empty(K)
    w = 1.0
    evals = 0
    done = count
    unsafe = False
    for t in range(count):
        if evals >= max_evals:
            done = t
            break
        alpha = alphas[t]
        shrink = 1.0 - alpha * l2
        if not (alpha >= 0.0 and shrink > 0.0):
            done, unsafe = t, True
            break
        i = idx[offsets[t]]
        lazy_dphi(indptr, indices, data, y, loss, i, x, w, z)
        w = w * shrink
        for p in range(indptr[i], indptr[i + 1]):
            a, base = data[p], indices[p] * K
            for k in range(K):
                vj = x[base + k] - alpha * (a * z[k]) / w
                x[base + k] = vj
                v = abs(vj * w)
                if not v <= m:
                    m = v
        evals += 1
        if w < MIN_SCALE:
            for j in range(x.size):
                x[j] = x[j] * w
            w = 1.0
        if not bound * m * m <= SAFE_NORM2:
            done, unsafe = t + 1, True
            break
    if w != 1.0:
        for j in range(x.size):
            x[j] = x[j] * w
    return done, evals, unsafe


@jit
def catch_up(x, table_sum, nf, K, j, last, P, S, u):
    """Feature `j` (coordinates `j·K … j·K + K − 1`) from the end of iteration `last[j]` to the end of
    iteration `u` of `x_q ← (1 − α l2) x_q − α m_q` (`m_q = table_sum_q/n`, constant meanwhile): with
    `P_t = Π (1 − α l2)` and `S_t = Σ α/P`, `x_q(u) = P_u (x_q/P_last − m_q (S_u − S_last))`.
    Returns the largest `|x_q|` it wrote (0 if none)."""
    t0 = last[j]
    m = 0.0
    if t0 < u:
        last[j] = u
        for q in range(j * K, j * K + K):
            xq = P[u] * (x[q] / P[t0] - table_sum[q] / nf * (S[u] - S[t0]))
            x[q] = xq
            a = abs(xq)
            if not a <= m:
                m = a
    return m


@jit
def table_lazy_segment(
    saga, indptr, indices, data, y, loss, K, l2, x, idx, offsets, max_evals, alphas, table, table_sum, last, P, S,
    undo,
):  # fmt: skip
    """SAGA / SAG (as `table_segment`, one sample per iteration) on CSR rows, just in time: the row's
    features are caught up (`catch_up`) before `a_iᵀX` and updated exactly as the reference does; the
    others only through the closed form. `last` (`dim / K`), `P`, `S` (`iterations + 1`) and `undo`
    (`iterations × K`: each iteration's previous `table[i]`, for the caller to restore an unsafe chunk) are
    work arrays. Returns `(iterations, evals, unsafe)`; when unsafe, `iterations` table rows were written."""
    n = table.shape[0]
    nf = float(n)
    count = offsets.size - 1
    features = x.size // K
    bound = x.size * 1.0
    last[:] = 0
    P[0], S[0] = 1.0, 0.0
    m = max_abs(x)
    z, diff = np.empty(K), np.empty(K)
    evals = 0
    done = count
    unsafe = False
    for t in range(1, count + 1):
        if evals >= max_evals:
            done = t - 1
            break
        alpha = alphas[t - 1]
        shrink = 1.0 - alpha * l2
        if not (alpha >= 0.0 and shrink > 0.0):
            done, unsafe = t - 1, True
            break
        i = idx[offsets[t - 1]]
        lo, hi = indptr[i], indptr[i + 1]
        u = t - 1
        for p in range(lo, hi):
            j = indices[p]
            if K == 1:  # catch_up written out: this loop is the hot path
                t0 = last[j]
                if t0 < u:
                    xj = P[u] * (x[j] / P[t0] - table_sum[j] / nf * (S[u] - S[t0]))
                    x[j] = xj
                    last[j] = u
                    a = abs(xj)
                    if not a <= m:
                        m = a
            else:
                a = catch_up(x, table_sum, nf, K, j, last, P, S, u)
                if not a <= m:
                    m = a
        lazy_dphi(indptr, indices, data, y, loss, i, x, 1.0, z)
        for k in range(K):
            diff[k] = z[k] - table[i, k]
            undo[t - 1, k] = table[i, k]
            table[i, k] = z[k]
        P[t] = P[t - 1] * shrink
        S[t] = S[t - 1] + alpha / P[t]
        for p in range(lo, hi):
            j = indices[p]
            a_ij = data[p]
            for k in range(K):
                q = j * K + k
                c = a_ij * diff[k]
                xq, table_sum[q] = table_step(saga, c, c, table_sum[q], x[q], l2, alpha, nf)
                x[q] = xq
                a = abs(xq)
                if not a <= m:
                    m = a
            last[j] = t
        evals += 1
        if P[t] < MIN_SCALE:  # fold the product into x before it underflows
            for j in range(features):
                catch_up(x, table_sum, nf, K, j, last, P, S, t)
            P[t], S[t] = 1.0, 0.0
        if not bound * m * m <= SAFE_NORM2:
            done, unsafe = t, True
            break
    for j in range(features):
        catch_up(x, table_sum, nf, K, j, last, P, S, done)
    return done, evals, unsafe
