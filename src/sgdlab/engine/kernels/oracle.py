"""The oracle of a generalised linear problem, in compiled pieces: `φ'`, scores `a_iᵀX`, minibatch and full
gradients, `‖x‖²`, in the operation order of `sgdlab.problems.glm` (see `sgdlab.engine.glm_kernels`)."""

from __future__ import annotations

import numpy as np

from sgdlab.engine.kernels.common import LOSS_LS, LOSS_SOFTMAX, jit, jit_sum


@jit
def dphi(loss, z, y):
    """`φ'(z, y)`, in the reference's order: `z − y` or `−y · expit(−y z)` with `expit(u) = 1/(1 + e^{−u})`."""
    if loss == LOSS_LS:
        return z - y
    return -y * (1.0 / (1.0 + np.exp(-(-y * z))))


@jit_sum
def dense_dot(A, i, x):
    s = 0.0
    for j in range(x.size):
        s += A[i, j] * x[j]
    return s


@jit
def csr_dot(indptr, indices, data, i, x):
    s = 0.0  # sequential, as scipy's csr_matvec
    for p in range(indptr[i], indptr[i + 1]):
        s += data[p] * x[indices[p]]
    return s


@jit
def score(A, indptr, indices, data, dense, i, x):
    """`a_iᵀx`."""
    if dense:
        return dense_dot(A, i, x)
    return csr_dot(indptr, indices, data, i, x)


@jit_sum
def norm_sq(x):
    s = 0.0
    for j in range(x.size):
        s += x[j] * x[j]
    return s


@jit
def softmax_dphi(A, indptr, indices, data, dense, i, x, K, label, z):
    """`z ← softmax(a_iᵀX) − e_y` (`X` = `x` as `dim_features × K`)."""
    z[:] = 0.0
    if dense:
        for j in range(A.shape[1]):
            a = A[i, j]
            for k in range(K):
                z[k] += a * x[j * K + k]
    else:
        for p in range(indptr[i], indptr[i + 1]):
            a, base = data[p], indices[p] * K
            for k in range(K):
                z[k] += a * x[base + k]
    softmax_minus_label(z, label)


@jit
def softmax_minus_label(z, label):
    """`z ← softmax(z) − e_label` as scipy's `softmax` then `p[y] −= 1`: shifted by the largest score,
    exponentiated, divided by the sum. Returns `logsumexp` of the scores (the checkpoint pass's loss needs it)."""
    top = z[0]
    for k in range(1, z.size):
        top = max(top, z[k])
    total = 0.0
    for k in range(z.size):
        z[k] = np.exp(z[k] - top)
        total += z[k]
    for k in range(z.size):
        z[k] = z[k] / total
    z[int(label)] -= 1.0
    return top + np.log(total)


@jit
def add_outer(A, indptr, indices, data, dense, i, v, K, out):
    """`out += a_i ⊗ v` (`out[j·K + k] += a_ij v_k`; `K = 1`: `out += a_i · v_0`)."""
    if dense:
        for j in range(A.shape[1]):
            a = A[i, j]
            for k in range(K):
                out[j * K + k] += a * v[k]
    else:
        for p in range(indptr[i], indptr[i + 1]):
            a, base = data[p], indices[p] * K
            for k in range(K):
                out[base + k] += a * v[k]


@jit
def sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z):
    """`z ← φ'(a_iᵀX, y_i)` (`K` numbers)."""
    if loss == LOSS_SOFTMAX:
        softmax_dphi(A, indptr, indices, data, dense, i, x, K, y[i], z)
    else:
        z[0] = dphi(loss, score(A, indptr, indices, data, dense, i, x), y[i])


@jit
def batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z):
    """`g ← (1/b) Σ_{t ∈ idx[lo:hi]} a_t ⊗ φ'(a_tᵀX, y_t) + l2·x` (`+ l2·x` only when `l2 ≠ 0`, as
    `reg_grad`); `z` is a `K`-vector of work space."""
    g[:] = 0.0
    for t in range(lo, hi):
        i = idx[t]
        sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z)
        add_outer(A, indptr, indices, data, dense, i, z, K, g)
    b = hi - lo
    for j in range(x.size):
        g[j] = g[j] / b
    if l2 != 0.0:
        for j in range(x.size):
            g[j] = g[j] + l2 * x[j]


@jit
def full_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, n, out, z):
    """`out ← (1/n) Σ_i a_i ⊗ φ'(a_iᵀX, y_i) + l2·x`: `Problem.grad`."""
    out[:] = 0.0
    for i in range(n):
        sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z)
        add_outer(A, indptr, indices, data, dense, i, z, K, out)
    for j in range(x.size):
        out[j] = out[j] / n
    if l2 != 0.0:
        for j in range(x.size):
            out[j] = out[j] + l2 * x[j]
