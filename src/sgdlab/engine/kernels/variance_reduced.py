"""SAG, SAGA (one stored derivative per sample) and SVRG: minibatch segments on any rows."""

from __future__ import annotations

import numpy as np

from sgdlab.engine.kernels.common import AHEAD, jit, jit_inline, prefetch, prefetch_row
from sgdlab.engine.kernels.oracle import add_outer, batch_grad, dphi, full_grad, norm_sq, sample_dphi, score


@jit_inline
def table_step(saga, correction, change, total, x, l2, alpha, nf):
    """One coordinate of a SAGA (`saga`) or SAG step — the one place either is written: with `total` the
    coordinate of `table_sum` before the step and `change` its table change, SAGA steps by
    `correction + total/n` (the old mean), SAG by `(total + change)/n` (the new one), both plus `l2·x`.
    Returns `(x, total + change)`."""
    if saga:
        step = correction + total / nf
        total = total + change
    else:
        total = total + change
        step = total / nf
    return x - alpha * (step + l2 * x), total


@jit
def table_segment(
    saga, A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, table, table_sum,
    fresh, diffs, order, correction, work,
):  # fmt: skip
    """SAGA (`saga=True`) and SAG with the GLM table of `sgdlab.methods.variance_reduced`: `table[i] = φ'_i`
    (`K` numbers), the derivative at the sample's last visit (`∇ℓ_i = a_i ⊗ φ'_i`), and
    `table_sum = Σ_i a_i ⊗ table[i]`. With `δ_t = φ'(a_tᵀX, y_t) − table[t]`:

    SAGA: `x ← x − α ((1/b) Σ_{t∈B} a_t ⊗ δ_t + table_sum_old/n + l2 x)`;
    SAG: `x ← x − α (table_sum_new/n + l2 x)`; then (both) `table[t] ← φ'(a_tᵀX, y_t)` and
    `table_sum += Σ a_t ⊗ δ_t`, a repeated index once, summed in ascending index order as `np.unique` orders
    it. `fresh, diffs` (`b × K`) and `order` have room for a batch; `correction` and `work` are
    `dim`-vectors, and `work` must be zero on entry (it is left zero)."""
    evals = 0
    n = table.shape[0]
    nf = float(n)
    count = offsets.size - 1
    for t in range(count):
        if evals >= max_evals:
            return t, evals, False
        lo, hi = offsets[t], offsets[t + 1]
        b = hi - lo
        alpha = alphas[t]
        if b == 1 and K == 1:  # the common case in one pass: no sort, no branch inside the loops
            i = idx[lo]
            if lo + AHEAD < idx.size:
                ahead = idx[lo + AHEAD]
                prefetch(y, ahead)
                prefetch(table, ahead)
                if dense:
                    prefetch_row(A, ahead)
            s = dphi(loss, score(A, indptr, indices, data, dense, i, x), y[i])
            diff = s - table[i, 0]
            table[i, 0] = s
            if not dense:  # a_i δ as a dense vector (zeros off the row, as scipy's Aᵀδ), for the pass below
                for p in range(indptr[i], indptr[i + 1]):
                    work[indices[p]] += data[p] * diff
            # (+ l2·x with l2 = 0 adds 0.0, as the reference's scalar reg_grad does)
            if dense and saga:  # saga a constant in each loop, so that LLVM vectorises it
                for j in range(x.size):
                    x[j], table_sum[j] = table_step(True, A[i, j] * diff, A[i, j] * diff, table_sum[j], x[j], l2,
                                                    alpha, nf)  # fmt: skip
            elif dense:
                for j in range(x.size):
                    x[j], table_sum[j] = table_step(False, A[i, j] * diff, A[i, j] * diff, table_sum[j], x[j], l2,
                                                    alpha, nf)  # fmt: skip
            else:
                for j in range(x.size):
                    x[j], table_sum[j] = table_step(saga, work[j], work[j], table_sum[j], x[j], l2, alpha, nf)
                for p in range(indptr[i], indptr[i + 1]):
                    work[indices[p]] = 0.0
            norm2 = norm_sq(x)
        else:
            for r in range(b):  # every derivative at the same x, against the table before this batch
                i = idx[lo + r]
                sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, fresh[r])
                for k in range(K):
                    diffs[r, k] = fresh[r, k] - table[i, k]
            correction[:] = 0.0
            for r in range(b):
                add_outer(A, indptr, indices, data, dense, idx[lo + r], diffs[r], K, correction)
            for j in range(x.size):
                correction[j] = correction[j] / b
            # the table changes are summed first, then added to table_sum (as `total += Aᵀδ`)
            order[:b] = np.argsort(idx[lo:hi], kind="mergesort")
            for q in range(b):
                r = order[q]
                i = idx[lo + r]
                if q > 0 and idx[lo + order[q - 1]] == i:
                    continue  # stored once; numpy's unique keeps the first occurrence
                add_outer(A, indptr, indices, data, dense, i, diffs[r], K, work)
                for k in range(K):
                    table[i, k] = fresh[r, k]
            for j in range(x.size):  # the batch's mean change steps SAGA, its sum of distinct rows updates the table
                x[j], table_sum[j] = table_step(saga, correction[j], work[j], table_sum[j], x[j], l2, alpha, nf)
                work[j] = 0.0
            norm2 = norm_sq(x)
        evals += b
        if not np.isfinite(norm2):
            return t + 1, evals, True
    return count, evals, False


@jit
def svrg_segment(
    A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, k0, inner, n, snapshot,
    snapshot_grad, g, g_snap,
):  # fmt: skip
    """SVRG: every `inner` iterations `x̃ ← x`, `μ̃ ← ∇f(x̃)` (cost `n`); then
    `x ← x − α (∇f_B(x) − ∇f_B(x̃) + μ̃)` (cost `2b`). `k0` is the step counter before the first iteration."""
    evals = 0
    count = offsets.size - 1
    z = np.empty(K)
    for t in range(count):
        if evals >= max_evals:
            return t, evals, False
        lo, hi = offsets[t], offsets[t + 1]
        cost = 2 * (hi - lo)
        if (k0 + t) % inner == 0:
            snapshot[:] = x
            full_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, n, snapshot_grad, z)
            cost += n
        alpha = alphas[t]
        batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z)
        batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, snapshot, idx, lo, hi, g_snap, z)
        for j in range(x.size):
            x[j] = x[j] - alpha * (g[j] - g_snap[j] + snapshot_grad[j])
        evals += cost
        if not np.isfinite(norm_sq(x)):
            return t + 1, evals, True
    return count, evals, False
