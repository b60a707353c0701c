"""Numba kernels that run many iterations of a method on a generalised linear problem without returning to Python.

Problem: ``f(x) = (1/n) Σ φ(a_iᵀX, y_i) + (l2/2)‖x‖²`` with ``φ'(z, y) = z − y`` (least squares, ``LOSS_LS``),
``−y·σ(−y z)`` (logistic, ``LOSS_LOGISTIC``) or ``softmax(z) − e_y`` (softmax, ``LOSS_SOFTMAX``: ``K`` scores
``z = a_iᵀX`` with ``X`` = ``x`` as a ``dim_features × K`` row-major matrix; ``K = 1`` otherwise), on dense rows
(``A``) or CSR rows (``indptr, indices, data``); ``dense`` says which is live, the other arguments are empty
placeholders, so one compiled specialisation serves both. Minibatch gradient
``g = (1/b) Σ_{t ∈ B} a_t ⊗ φ'(a_tᵀX, y_t) + l2·x``, as `LinearModelProblem.grad_batch`.

Each kernel mirrors the operation order of the Python reference (``methods/*.py`` on the problem's NumPy oracle),
so element-wise arithmetic rounds identically; only sums of several terms (dense dot products, which BLAS
accumulates in its own order) may differ in the last bits. The element-wise update rules are not written again
here: they are the one-pass loops of `sgdlab.methods.fused`, compiled serially (see :func:`serial`).

Every kernel has the same contract: run at most ``len(offsets) − 1`` iterations (batch ``t`` is
``idx[offsets[t]:offsets[t+1]]``, step size ``alphas[t]``) while ``evals < max_evals``; stop right after an
iteration whose ``‖x‖²`` is not finite; return ``(iterations, evals, diverged)``.
"""

from __future__ import annotations

import types

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

from sgdlab.methods import fused

LOSS_LS = 0
LOSS_LOGISTIC = 1
LOSS_SOFTMAX = 2

#: Per-sample kernels prefetch the rows of the iteration this many steps ahead.
AHEAD = 8

# element-wise methods, by the fused kernel they use
SGD, MOMENTUM, DIAGONAL, ADADELTA, ADAM = 0, 1, 2, 3, 4

_jit = numba.njit(cache=True, nogil=True)
# Sums whose order BLAS does not fix either: let LLVM vectorise them.
_jit_sum = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})


def serial(fn):
    """``fn`` (a loop over ``prange`` from `sgdlab.methods.fused`) compiled without threads, for use per iteration.

    A renamed copy: numba's disk cache keys entries by the function's name, not by its ``parallel`` flag, so
    compiling the very same function here would share (and clash with) fused's parallel cache entries.
    """
    fn.__globals__["prange"] = numba.prange  # what fused binds when it compiles; plain range without parallel=True
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__)
    copy.__qualname__ = fn.__qualname__ + "_serial"
    return _jit(copy)


_sgd = serial(fused.sgd_update)
_momentum = serial(fused.momentum_update)
_diagonal = serial(fused.diagonal_update)
_adadelta = serial(fused.adadelta_update)
_adam = serial(fused.adam_update)


@intrinsic
def _prefetch(typingctx, array, offset):
    """Hint the CPU to fetch ``array.flat[offset]`` into cache (``llvm.prefetch``: read, high locality)."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        pointer = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        builder.call(fn, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return numba.types.void(array, offset), codegen


@_jit
def _prefetch_row(M, i):
    """Prefetch row ``i`` of a C-contiguous matrix, one cache line (8 doubles) at a time: per-sample steps visit
    rows in random order and would otherwise wait on memory for each row."""
    d = M.shape[1]
    for q in range(0, d, 8):
        _prefetch(M, i * d + q)


# --- the oracle pieces ---------------------------------------------------------------------------------------
@_jit
def _dphi(loss, z, y):
    """``φ'(z, y)``, in the reference's order: ``z − y`` or ``−y · expit(−y z)`` with ``expit(u) = 1/(1 + e^{−u})``."""
    if loss == LOSS_LS:
        return z - y
    return -y * (1.0 / (1.0 + np.exp(-(-y * z))))


@_jit_sum
def _dense_dot(A, i, x):
    s = 0.0
    for j in range(x.size):
        s += A[i, j] * x[j]
    return s


@_jit
def _csr_dot(indptr, indices, data, i, x):
    s = 0.0  # sequential, as scipy's csr_matvec
    for p in range(indptr[i], indptr[i + 1]):
        s += data[p] * x[indices[p]]
    return s


@_jit
def _score(A, indptr, indices, data, dense, i, x):
    """``a_iᵀx``."""
    if dense:
        return _dense_dot(A, i, x)
    return _csr_dot(indptr, indices, data, i, x)


@_jit_sum
def _norm2(x):
    s = 0.0
    for j in range(x.size):
        s += x[j] * x[j]
    return s


@_jit
def _softmax_dphi(A, indptr, indices, data, dense, i, x, K, label, z):
    """``z ← softmax(a_iᵀX) − e_y`` (``X`` = ``x`` as ``dim_features × K``)."""
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
    _softmax_minus_label(z, label)


@_jit
def _softmax_minus_label(z, label):
    """``z ← softmax(z) − e_label`` as scipy's ``softmax`` then ``p[y] −= 1``: shifted by the largest score,
    exponentiated, divided by the sum."""
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


@_jit
def _add_outer(A, indptr, indices, data, dense, i, v, K, out):
    """``out += a_i ⊗ v`` (``out[j·K + k] += a_ij v_k``; ``K = 1``: ``out += a_i · v_0``)."""
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


@_jit
def _sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z):
    """``z ← φ'(a_iᵀX, y_i)`` (``K`` numbers)."""
    if loss == LOSS_SOFTMAX:
        _softmax_dphi(A, indptr, indices, data, dense, i, x, K, y[i], z)
    else:
        z[0] = _dphi(loss, _score(A, indptr, indices, data, dense, i, x), y[i])


@_jit
def _batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z):
    """``g ← (1/b) Σ_{t ∈ idx[lo:hi]} a_t ⊗ φ'(a_tᵀX, y_t) + l2·x`` (``+ l2·x`` only when ``l2 ≠ 0``, as
    ``reg_grad``); ``z`` is a ``K``-vector of work space."""
    g[:] = 0.0
    for t in range(lo, hi):
        i = idx[t]
        _sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z)
        _add_outer(A, indptr, indices, data, dense, i, z, K, g)
    b = hi - lo
    for j in range(x.size):
        g[j] = g[j] / b
    if l2 != 0.0:
        for j in range(x.size):
            g[j] = g[j] + l2 * x[j]


@_jit
def _full_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, n, out, z):
    """``out ← (1/n) Σ_i a_i ⊗ φ'(a_iᵀX, y_i) + l2·x``: `Problem.grad`."""
    out[:] = 0.0
    for i in range(n):
        _sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, z)
        _add_outer(A, indptr, indices, data, dense, i, z, K, out)
    for j in range(x.size):
        out[j] = out[j] / n
    if l2 != 0.0:
        for j in range(x.size):
            out[j] = out[j] + l2 * x[j]


# --- SGD and the element-wise methods ------------------------------------------------------------------------
@_jit
def _sgd_dense_single(A, i, s, l2, alpha, x):
    """Per-sample SGD on a dense row, fused: ``x_j ← x_j − α (a_ij s + l2 x_j)`` (no fast-math: the reference's
    rounding, element by element)."""
    for j in range(x.size):
        x[j] = x[j] - alpha * (A[i, j] * s + l2 * x[j])


@_jit
def elementwise_segment(
    method, A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, params, bc1, bc2,
    s1, s2, s3, g,
):  # fmt: skip
    """SGD (``method=SGD``) and the element-wise methods, whose update is the fused loop of their class:
    ``params`` holds their hyperparameters (see `sgdlab.engine.compiled`), ``s1..s3`` their state arrays,
    ``bc1, bc2`` Adam's bias corrections ``1 − β^k`` per iteration."""
    evals = 0
    count = offsets.size - 1
    z = np.empty(K)
    for t in range(count):
        if evals >= max_evals:
            return t, evals, False
        lo, hi = offsets[t], offsets[t + 1]
        alpha = alphas[t]
        if method == SGD and dense and hi - lo == 1 and loss != LOSS_SOFTMAX:
            # one row: (a_ij s)/1 + l2 x_j, then x − α g, element by element — the reference's rounding
            i = idx[lo]
            if lo + AHEAD < idx.size:
                _prefetch(y, idx[lo + AHEAD])
                _prefetch_row(A, idx[lo + AHEAD])
            s = _dphi(loss, _dense_dot(A, i, x), y[i])
            _sgd_dense_single(A, i, s, l2, alpha, x)
            norm2 = _norm2(x)
        else:
            _batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z)
            if method == SGD:
                _sgd(x, g, alpha)
            elif method == MOMENTUM:
                _momentum(x, g, s1, alpha, params[0], params[1] != 0.0)
            elif method == DIAGONAL:
                _diagonal(x, g, s1, alpha, params[0], 1.0 - params[0], params[1], params[2] != 0.0, params[3] != 0.0)
            elif method == ADADELTA:
                _adadelta(x, g, s1, s2, alpha, params[0], 1.0 - params[0], params[1], 1.0 - params[1], params[2])
            else:
                _adam(x, g, s1, s2, s3, alpha, params[0], 1.0 - params[0], params[1], 1.0 - params[1], params[2],
                      1.0 / bc1[t], 1.0 / bc2[t], params[3], params[4], params[5] != 0.0, params[6] != 0.0)  # fmt: skip
            norm2 = _norm2(x)
        evals += hi - lo
        if not np.isfinite(norm2):
            return t + 1, evals, True
    return count, evals, False


# --- variance reduction --------------------------------------------------------------------------------------
@_jit
def table_segment(
    saga, A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, table, table_sum,
    fresh, diffs, order, correction, work,
):  # fmt: skip
    """SAGA (``saga=True``) and SAG with the GLM table of `sgdlab.methods.variance_reduced`: ``table[i] = φ'_i``
    (``K`` numbers), the derivative at the sample's last visit (``∇ℓ_i = a_i ⊗ φ'_i``), and
    ``table_sum = Σ_i a_i ⊗ table[i]``. With ``δ_t = φ'(a_tᵀX, y_t) − table[t]``:

    SAGA: ``x ← x − α ((1/b) Σ_{t∈B} a_t ⊗ δ_t + table_sum_old/n + l2 x)``;
    SAG: ``x ← x − α (table_sum_new/n + l2 x)``; then (both) ``table[t] ← φ'(a_tᵀX, y_t)`` and
    ``table_sum += Σ a_t ⊗ δ_t``, a repeated index once, summed in ascending index order as ``np.unique`` orders
    it. ``fresh, diffs`` (``b × K``) and ``order`` have room for a batch; ``correction`` and ``work`` are
    ``dim``-vectors, and ``work`` must be zero on entry (it is left zero)."""
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
                _prefetch(y, ahead)
                _prefetch(table, ahead)
                if dense:
                    _prefetch_row(A, ahead)
            s = _dphi(loss, _score(A, indptr, indices, data, dense, i, x), y[i])
            diff = s - table[i, 0]
            table[i, 0] = s
            if not dense:  # a_i δ as a dense vector (zeros off the row, as scipy's Aᵀδ), for the pass below
                for p in range(indptr[i], indptr[i + 1]):
                    work[indices[p]] += data[p] * diff
            # (+ l2·x with l2 = 0 adds 0.0, as the reference's scalar reg_grad does)
            if dense:
                _table_pass_dense(saga, A, i, diff, l2, alpha, nf, x, table_sum)
            else:
                _table_pass(saga, work, l2, alpha, nf, x, table_sum)
                for p in range(indptr[i], indptr[i + 1]):
                    work[indices[p]] = 0.0
            norm2 = _norm2(x)
        else:
            for r in range(b):  # every derivative at the same x, against the table before this batch
                i = idx[lo + r]
                _sample_dphi(A, indptr, indices, data, dense, y, loss, K, i, x, fresh[r])
                for k in range(K):
                    diffs[r, k] = fresh[r, k] - table[i, k]
            correction[:] = 0.0
            for r in range(b):
                _add_outer(A, indptr, indices, data, dense, idx[lo + r], diffs[r], K, correction)
            for j in range(x.size):
                correction[j] = correction[j] / b
                if saga:
                    correction[j] = correction[j] + table_sum[j] / n
            # the table changes are summed first, then added to table_sum (as `total += Aᵀδ`)
            order[:b] = np.argsort(idx[lo:hi], kind="mergesort")
            for q in range(b):
                r = order[q]
                i = idx[lo + r]
                if q > 0 and idx[lo + order[q - 1]] == i:
                    continue  # stored once; numpy's unique keeps the first occurrence
                _add_outer(A, indptr, indices, data, dense, i, diffs[r], K, work)
                for k in range(K):
                    table[i, k] = fresh[r, k]
            for j in range(x.size):
                table_sum[j] += work[j]
                work[j] = 0.0
            for j in range(x.size):
                step = correction[j] if saga else table_sum[j] / n
                if l2 != 0.0:
                    step = step + l2 * x[j]
                x[j] = x[j] - alpha * step
            norm2 = _norm2(x)
        evals += b
        if not np.isfinite(norm2):
            return t + 1, evals, True
    return count, evals, False


@_jit
def _table_pass_dense(saga, A, i, diff, l2, alpha, nf, x, table_sum):
    """One SAGA/SAG step on the dense row ``a_i`` with ``δ = diff``, in one pass."""
    if saga:
        for j in range(x.size):
            c = A[i, j] * diff
            step = c + table_sum[j] / nf  # the old mean: table_sum before this update
            table_sum[j] += c
            x[j] = x[j] - alpha * (step + l2 * x[j])
    else:
        for j in range(x.size):
            sj = table_sum[j] + A[i, j] * diff
            table_sum[j] = sj
            x[j] = x[j] - alpha * (sj / nf + l2 * x[j])


@_jit
def _table_pass(saga, c, l2, alpha, nf, x, table_sum):
    """As :func:`_table_pass_dense` with ``a_i δ`` given as the dense vector ``c``."""
    if saga:
        for j in range(x.size):
            step = c[j] + table_sum[j] / nf
            table_sum[j] += c[j]
            x[j] = x[j] - alpha * (step + l2 * x[j])
    else:
        for j in range(x.size):
            sj = table_sum[j] + c[j]
            table_sum[j] = sj
            x[j] = x[j] - alpha * (sj / nf + l2 * x[j])


@_jit
def svrg_segment(
    A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, max_evals, alphas, k0, inner, n, snapshot,
    snapshot_grad, g, g_snap,
):  # fmt: skip
    """SVRG: every ``inner`` iterations ``x̃ ← x``, ``μ̃ ← ∇f(x̃)`` (cost ``n``); then
    ``x ← x − α (∇f_B(x) − ∇f_B(x̃) + μ̃)`` (cost ``2b``). ``k0`` is the step counter before the first iteration."""
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
            _full_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, n, snapshot_grad, z)
            cost += n
        alpha = alphas[t]
        _batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, x, idx, lo, hi, g, z)
        _batch_grad(A, indptr, indices, data, dense, y, loss, K, l2, snapshot, idx, lo, hi, g_snap, z)
        for j in range(x.size):
            x[j] = x[j] - alpha * (g[j] - g_snap[j] + snapshot_grad[j])
        evals += cost
        if not np.isfinite(_norm2(x)):
            return t + 1, evals, True
    return count, evals, False


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

#: ``dim · max|x_j|²`` above this makes a lazy chunk unsafe (see above).
SAFE_NORM2 = 1e300
#: The running shrinkage product is folded into ``x`` below this, before it can underflow.
MIN_SCALE = 1e-100


@_jit
def _max_abs(x):
    m = 0.0
    for j in range(x.size):
        a = abs(x[j])
        if not a <= m:  # NaN propagates
            m = a
    return m


@_jit
def _lazy_dphi(indptr, indices, data, y, loss, i, x, w, z):
    """``z ← φ'(w·a_iᵀV, y_i)`` for the CSR row ``i`` (``V`` = ``x`` as ``dim_features × K``, ``K = z.size``)."""
    K = z.size
    if loss == LOSS_SOFTMAX:
        z[:] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            a, base = data[p], indices[p] * K
            for k in range(K):
                z[k] += a * x[base + k]
        for k in range(K):
            z[k] = w * z[k]
        _softmax_minus_label(z, y[i])
    else:
        z[0] = _dphi(loss, w * _csr_dot(indptr, indices, data, i, x), y[i])


@_jit
def sgd_lazy_segment(indptr, indices, data, y, loss, K, l2, x, idx, offsets, max_evals, alphas):
    """Per-sample SGD on CSR rows with ``x = w·v``: ``z = w·(a_iᵀV)``, ``w ← w(1 − α l2)``,
    ``v_jk ← v_jk − α a_ij φ'_k(z, y_i) / w`` on the row — the same iterate as ``x ← x − α (a_i ⊗ φ'_i + l2 x)``
    (bit for bit when ``l2 = 0``). ``v`` is ``x`` itself; ``w`` is folded in below `MIN_SCALE` and at the end.
    Returns ``(iterations, evals, unsafe)``."""
    count = offsets.size - 1
    bound = x.size * 1.0
    m = _max_abs(x)
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
        _lazy_dphi(indptr, indices, data, y, loss, i, x, w, z)
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


@_jit
def _catch_up(x, table_sum, nf, K, j, last, P, S, u):
    """Feature ``j`` (coordinates ``j·K … j·K + K − 1``) from the end of iteration ``last[j]`` to the end of
    iteration ``u`` of ``x_q ← (1 − α l2) x_q − α m_q`` (``m_q = table_sum_q/n``, constant meanwhile): with
    ``P_t = Π (1 − α l2)`` and ``S_t = Σ α/P``, ``x_q(u) = P_u (x_q/P_last − m_q (S_u − S_last))``.
    Returns the largest ``|x_q|`` it wrote (0 if none)."""
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


@_jit
def table_lazy_segment(
    saga, indptr, indices, data, y, loss, K, l2, x, idx, offsets, max_evals, alphas, table, table_sum, last, P, S,
    undo,
):  # fmt: skip
    """SAGA / SAG (as :func:`table_segment`, one sample per iteration) on CSR rows, just in time: the row's
    features are caught up (:func:`_catch_up`) before ``a_iᵀX`` and updated exactly as the reference does; the
    others only through the closed form. ``last`` (``dim / K``), ``P``, ``S`` (``iterations + 1``) and ``undo``
    (``iterations × K``: each iteration's previous ``table[i]``, for the caller to restore an unsafe chunk) are
    work arrays. Returns ``(iterations, evals, unsafe)``; when unsafe, ``iterations`` table rows were written."""
    n = table.shape[0]
    nf = float(n)
    count = offsets.size - 1
    features = x.size // K
    bound = x.size * 1.0
    last[:] = 0
    P[0], S[0] = 1.0, 0.0
    m = _max_abs(x)
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
            if K == 1:  # _catch_up written out: this loop is the hot path
                t0 = last[j]
                if t0 < u:
                    xj = P[u] * (x[j] / P[t0] - table_sum[j] / nf * (S[u] - S[t0]))
                    x[j] = xj
                    last[j] = u
                    a = abs(xj)
                    if not a <= m:
                        m = a
            else:
                a = _catch_up(x, table_sum, nf, K, j, last, P, S, u)
                if not a <= m:
                    m = a
        _lazy_dphi(indptr, indices, data, y, loss, i, x, 1.0, z)
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
                if saga:
                    step = c + table_sum[q] / nf  # the old mean
                    table_sum[q] += c
                else:
                    table_sum[q] += c
                    step = table_sum[q] / nf
                xq = x[q] - alpha * (step + l2 * x[q])
                x[q] = xq
                a = abs(xq)
                if not a <= m:
                    m = a
            last[j] = t
        evals += 1
        if P[t] < MIN_SCALE:  # fold the product into x before it underflows
            for j in range(features):
                _catch_up(x, table_sum, nf, K, j, last, P, S, t)
            P[t], S[t] = 1.0, 0.0
        if not bound * m * m <= SAFE_NORM2:
            done, unsafe = t, True
            break
    for j in range(features):
        _catch_up(x, table_sum, nf, K, j, last, P, S, done)
    return done, evals, unsafe
