"""Compiled segments: whole stretches of iterations in one numba call, for methods on generalised linear problems.

`sgdlab.run` asks `segment_for` once per run; where it returns a function, that function replaces
`python_segment` and keeps its contract exactly: same `SegmentResult`, the same budgets (`max_iters`,
`max_evals`, `deadline`, the clock read between chunks of about a millisecond), divergence (`‖x‖²` not
finite) reported at the iteration it happens, and `x`, the method's `state` dict (same keys, same arrays) and
the sampler left as the Python loop leaves them — so checkpoints, resuming and recording work unchanged and the
two paths can take turns within one run.

Covered (everything else, and any run whose arrays are not float64, runs in Python):

* problems: `LeastSquares`, `LogisticRegression` and `SoftmaxRegression` (exactly these classes: a subclass may
  change the oracle), dense or CSR float64 data held in memory (out-of-core data run in Python), with their L2 term;
  for the element-wise methods also `NonconvexLogistic` and `AdamCounterexample` (`kernels.regularised`: the
  data term plus the regulariser's gradient);
* samplers `"uniform"`, `"reshuffle"` and `"blocks"`, any batch size;
* methods: those whose `MethodInfo.compiled` names a segment — `"elementwise"` (the element-wise methods, SGD
  with every schedule: the minibatch gradient, then their fused kernel per `MethodInfo.fused`, both conventions),
  `"sag"`, `"saga"`, `"svrg"` — exactly the registering classes (a subclass may change the update). A segment
  or fused kernel this module does not know is an error.

On CSR data with one sample per iteration, SGD, SAG and SAGA update lazily (just in time): the L2 shrinkage and
the table mean, which touch every coordinate, are applied in closed form when a row next reads a coordinate, so an
iteration costs O(nnz(a_i)) instead of O(dim) (see `glm_kernels.sgd_lazy_segment`; same iterates to rounding).

Step sizes are computed in Python by the method's own `step_size` (its schedule), a chunk at a time; the
element-wise updates are those of `sgdlab.methods.fused` (see `sgdlab.engine.glm_kernels`). `tests/test_compiled.py`
checks every (problem, storage, method, batch size) against the Python path. `SGDLAB_COMPILED=0` turns the
compiled segments off; so does `disabled` within a block.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from sgdlab._switch import Switch
from sgdlab.engine.samplers import Sampler
from sgdlab.engine.segment import SegmentResult, python_segment
from sgdlab.methods import Method
from sgdlab.methods.base import registering_class
from sgdlab.problems.base import Problem
from sgdlab.problems.counterexample import AdamCounterexample
from sgdlab.problems.glm import LeastSquares, LogisticRegression, SoftmaxRegression
from sgdlab.problems.nonconvex import NonconvexLogistic

_switch = Switch("SGDLAB_COMPILED")
#: `with disabled(): …` — run every segment in Python inside this block.
disabled = _switch.off

#: Iterations per kernel call are chosen so that a call does about this many multiply-adds (~1 ms): the clock
#: (`deadline`) is read between calls.
CHUNK_WORK = 1 << 20
MAX_CHUNK = 8192

_LOSSES = {LeastSquares: 0, LogisticRegression: 1, SoftmaxRegression: 2}  # glm_kernels.LOSS_LS, …, LOSS_SOFTMAX
#: The segments `MethodInfo.compiled` may name.
SEGMENTS = ("elementwise", "sag", "saga", "svrg")


def _segment_kind(method: Method) -> str | None:
    """The method's compiled segment: its class's `info.compiled` if the class registers that info itself."""
    cls = type(method)
    kind = cls.info.compiled if registering_class(cls) is cls else None
    if kind == "elementwise" and method.fused_spec() is None:
        return None  # its kernel does not compute this configuration
    if kind is not None and kind not in SEGMENTS:
        raise ValueError(f"{method.name}: no compiled segment {kind!r}; known: {', '.join(SEGMENTS)}")
    return kind


def _problem_data(problem: Problem) -> dict[str, Any] | None:
    """The problem's arrays in the kernels' layout, or `None` where the kernels do not apply; `"regulariser"`
    (for `kernels.regularised`) is `None` for the plain GLMs."""
    kind = type(problem)
    if kind is AdamCounterexample:  # the data term is its slopes; A, CSR and labels are placeholders
        from sgdlab.engine.kernels import regularised

        none, reg = np.zeros((0, 0)), (regularised.REG_INTERVAL, np.array([problem.penalty, problem.radius]))
        arrays = (none, np.zeros(1, dtype=np.int32), np.zeros(1, dtype=np.int32), np.zeros(0), True,
                  np.ascontiguousarray(problem.slopes, dtype=np.float64), 0, 1, 0.0)  # fmt: skip
        return {"arrays": arrays, "row_cost": 1, "canonical_csr": False,
                "regulariser": (regularised.DATA_SLOPES, *reg)}  # fmt: skip
    if kind is NonconvexLogistic:
        glm = _glm_data(problem, LogisticRegression)
        if glm is not None:
            from sgdlab.engine.kernels import regularised

            glm["regulariser"] = (regularised.DATA_GLM, regularised.REG_NONCONVEX, np.array([problem.penalty]))
        return glm
    return _glm_data(problem, kind)


def _glm_data(problem: Problem, kind: type) -> dict[str, Any] | None:
    """A GLM's arrays in the kernels' layout (its loss that of `kind`), or `None` where the kernels do not apply."""
    if kind not in _LOSSES or problem.data.is_out_of_core:  # rows on disk: the Python path reads them in blocks
        return None
    A, y = problem.A, problem.y
    labels = np.int64 if kind is SoftmaxRegression else np.float64  # class indices, or ±1 / real targets
    if not (isinstance(y, np.ndarray) and y.dtype == labels):
        return None
    empty_index = np.zeros(1, dtype=np.int32)
    if sp.issparse(A):
        if A.dtype != np.float64 or A.format != "csr":
            return None
        dense_A = np.zeros((0, 0))
        indptr, indices, data, dense = A.indptr, A.indices, A.data, False
        row_cost = max(1, A.nnz // max(1, A.shape[0]))
        canonical = bool(A.has_canonical_format)  # sorted, no duplicate entries: rows visit a coordinate once
    else:
        if not (isinstance(A, np.ndarray) and A.dtype == np.float64 and A.flags.c_contiguous):
            return None
        dense_A, indptr, indices, data, dense = A, empty_index, empty_index, np.zeros(0), True
        row_cost, canonical = A.shape[1], False
    y = np.ascontiguousarray(y)
    K = problem.n_outputs
    return {
        "arrays": (dense_A, indptr, indices, data, dense, y, _LOSSES[kind], K, float(problem.l2)),
        "row_cost": row_cost * K,
        "canonical_csr": canonical,
        "regulariser": None,
    }


def _step_sizes(method: Method, k0: int, count: int) -> np.ndarray:
    """`α_k` for `k = k0+1 … k0+count`, from the method's own `step_size` (its schedule)."""
    if method.constant_step_size:
        return np.full(count, method.step_size({"k": k0 + 1}))
    return np.array([method.step_size({"k": k}) for k in range(k0 + 1, k0 + count + 1)], dtype=np.float64)


def _is_vector(a: Any, dim: int) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == (dim,) and a.flags.c_contiguous


def segment_for(method: Method, problem: Problem, sampler: Sampler) -> Callable | None:
    """A compiled replacement for `python_segment` for this run, or `None` when it runs in Python."""
    kind = _segment_kind(method)
    if not _switch.on or sampler.kind == "full" or kind is None:
        return None
    if getattr(method, "lr", None) is None or (kind == "svrg" and method.inner is None):
        return None  # unresolved: the Python path raises the informative error
    glm = _problem_data(problem)
    if glm is None or (glm["regulariser"] is not None and kind != "elementwise"):
        return None
    try:
        from sgdlab.engine import glm_kernels
    except ImportError:  # numba missing
        return None

    dim, n, b = problem.dim, problem.n, sampler.batch_size
    arrays = glm["arrays"]
    # lazy updates: one CSR row per iteration, for SGD and SAG/SAGA (the others change every coordinate anyway)
    plain = glm["regulariser"] is None  # the lazy kernels know the L2 term only
    lazy = b == 1 and glm["canonical_csr"] and plain and (kind in ("sag", "saga") or _is_sgd(method, kind))
    if lazy:  # an iteration costs O(nnz(a_i)); the O(dim) catch-up at each call's end is spread over many
        chunk = max(1, min(MAX_CHUNK, max(CHUNK_WORK // glm["row_cost"], 4 * dim // glm["row_cost"])))
    else:
        chunk = max(1, min(MAX_CHUNK, CHUNK_WORK // (b * glm["row_cost"] + dim)))
    kernel = _kernel_for(method, kind, glm_kernels, n, dim, b, arrays[7], arrays, glm["regulariser"])
    if lazy:
        kernel = _lazy(kernel, kind, glm_kernels, dim, chunk, problem.n_outputs, arrays)

    def compiled_segment(method, problem, x, state, sampler, max_iters, max_evals, deadline):
        if not (_is_vector(x, dim) and kernel.ready(state)):
            return python_segment(method, problem, x, state, sampler, max_iters, max_evals, deadline)
        iters = evals = 0
        while iters < max_iters and evals < max_evals:
            k = chunk
            if max_iters != math.inf:
                k = min(k, int(max_iters - iters))
            if max_evals != math.inf:  # an iteration costs at least one batch (≤ b, shorter at an epoch's end)
                k = min(k, math.ceil((max_evals - evals) / b))
            idx, offsets = sampler.take(k)
            k0 = state["k"]
            done, cost, diverged = kernel(x, state, idx, offsets, float(max_evals - evals), _step_sizes(method, k0, k))
            if done < k:  # stopped early: leave the sampler where `done` calls of next() would
                sampler.untake(done)
            state["k"] = k0 + done
            iters += done
            evals += cost
            if diverged:
                return SegmentResult(iters, evals, True)
            if time.perf_counter() >= deadline:
                break
        return SegmentResult(iters, evals, False)

    return compiled_segment


class _Kernel:
    """One method's kernel call (`fn` completes the state where needed, then runs a chunk) and `ready(state)`:
    whether the state's arrays have the kernel's layout (if not, that segment runs in Python)."""

    def __init__(self, fn: Callable, ready: Callable[[dict], bool]) -> None:
        self.fn, self.ready = fn, ready

    def __call__(self, x, state, idx, offsets, max_evals, alphas) -> tuple[int, int, bool]:
        done, evals, diverged = self.fn(x, state, idx, offsets, max_evals, alphas)
        return int(done), int(evals), bool(diverged)


def _is_sgd(method: Method, kind: str | None) -> bool:
    """Plain SGD steps (`x ← x − α g`): what the lazy CSR kernel for SGD computes."""
    plain = not getattr(method, "weight_decay", 0.0) and not getattr(method, "maximize", False)
    return kind == "elementwise" and method.fused_spec().kernel == "sgd" and plain


def _kernel_for(
    method: Method, kind: str, glm_kernels, n: int, dim: int, b: int, K: int, arrays: tuple, regulariser=None
) -> _Kernel:
    if kind == "svrg":
        g, g_snap = np.empty(dim), np.empty(dim)
        inner = int(method.inner)

        def svrg(x, state, idx, offsets, max_evals, alphas):
            if "snapshot" not in state:  # the first iteration takes it (k = 0); the Python path adds these keys then
                state["snapshot"], state["snapshot_grad"] = np.zeros_like(x), np.zeros_like(x)
            return glm_kernels.svrg_segment(*arrays, x, idx, offsets, max_evals, alphas, state["k"], inner, n,
                                            state["snapshot"], state["snapshot_grad"], g, g_snap)  # fmt: skip

        def svrg_ready(state):
            return "snapshot" not in state or all(_is_vector(state[k], dim) for k in ("snapshot", "snapshot_grad"))

        return _Kernel(svrg, svrg_ready)
    if kind in ("sag", "saga"):
        fresh, diffs, order = np.empty((b, K)), np.empty((b, K)), np.empty(b, dtype=np.int64)
        correction, work = np.empty(dim), np.zeros(dim)
        saga = kind == "saga"

        def table(x, state, idx, offsets, max_evals, alphas):
            if "table" not in state:  # as _TableMethod._table_state: a GLM's table holds K numbers φ' per sample
                state["table"] = np.zeros((n, K), dtype=x.dtype)
                state["table_sum"] = np.zeros_like(x)
            return glm_kernels.table_segment(saga, *arrays, x, idx, offsets, max_evals, alphas, state["table"],
                                             state["table_sum"], fresh, diffs, order, correction, work)  # fmt: skip

        def table_ready(state):
            if "table" not in state:
                return True
            t = state["table"]
            ok = isinstance(t, np.ndarray) and t.dtype == np.float64 and t.shape == (n, K) and t.flags.c_contiguous
            return ok and _is_vector(state["table_sum"], dim)

        return _Kernel(table, table_ready)
    spec = method.fused_spec()
    if kind != "elementwise" or spec is None or spec.kernel not in glm_kernels.CODES:
        known = ", ".join(glm_kernels.CODES)
        raise ValueError(f"{method.name}: no compiled segment {kind!r} with fused kernel {spec}; kernels: {known}")
    code, names = glm_kernels.CODES[spec.kernel], spec.state
    g = np.empty(dim)
    params = np.asarray(method.fused_args(), dtype=np.float64)
    if regulariser is not None:
        from sgdlab.engine.kernels.regularised import regularised_segment as segment_with_regulariser
    per_step = len(method.fused_step_args(1))

    def elementwise(x, state, idx, offsets, max_evals, alphas):
        k0, count = state["k"], len(alphas)
        step_params = np.empty((count, per_step))  # exactly as step computes them, for k = k0+1 … k0+count
        for t in range(count if per_step else 0):
            step_params[t] = method.fused_step_args(k0 + 1 + t)
        s = [state[name] if name else x for name in names] + [x] * (3 - len(names))
        if regulariser is not None:
            return segment_with_regulariser(code, *regulariser, *arrays, x, idx, offsets, max_evals, alphas, params,
                                            step_params, s[0], s[1], s[2], g)  # fmt: skip
        return glm_kernels.elementwise_segment(code, *arrays, x, idx, offsets, max_evals, alphas, params, step_params,
                                               s[0], s[1], s[2], g)  # fmt: skip

    return _Kernel(elementwise, lambda state: all(_is_vector(state.get(name), dim) for name in names if name))


def _lazy(exact: _Kernel, kind: str, glm_kernels, dim: int, chunk: int, K: int, arrays: tuple) -> _Kernel:
    """Just-in-time updates for one CSR row per iteration (`glm_kernels.sgd_lazy_segment`,
    `glm_kernels.table_lazy_segment`), falling back to the step-by-step `exact` kernel for a chunk that the lazy
    one marks unsafe (near overflow): the chunk's starting state is restored first."""
    _, indptr, indices, data, _, y, loss, _, l2 = arrays  # K comes separately
    x_start = np.empty(dim)
    if kind == "elementwise":  # plain SGD (_is_sgd)

        def sgd(x, state, idx, offsets, max_evals, alphas):
            x_start[:] = x
            done, evals, unsafe = glm_kernels.sgd_lazy_segment(indptr, indices, data, y, loss, K, l2, x, idx,
                                                               offsets, max_evals, alphas)  # fmt: skip
            if unsafe:
                x[:] = x_start
                return exact.fn(x, state, idx, offsets, max_evals, alphas)
            return done, evals, False

        return _Kernel(sgd, exact.ready)
    sum_start, last = np.empty(dim), np.zeros(dim // K, dtype=np.int64)
    P, S, undo = np.empty(chunk + 1), np.empty(chunk + 1), np.empty((chunk, K))
    saga = kind == "saga"

    def table(x, state, idx, offsets, max_evals, alphas):
        if "table" not in state:  # as _TableMethod._table_state
            state["table"], state["table_sum"] = np.zeros((y.size, K), dtype=x.dtype), np.zeros_like(x)
        table, table_sum = state["table"], state["table_sum"]
        x_start[:] = x
        sum_start[:] = table_sum
        done, evals, unsafe = glm_kernels.table_lazy_segment(
            saga, indptr, indices, data, y, loss, K, l2, x, idx, offsets, max_evals, alphas, table, table_sum, last,
            P, S, undo,
        )  # fmt: skip
        if unsafe:
            x[:] = x_start
            table_sum[:] = sum_start
            for t in reversed(range(done)):
                table[idx[offsets[t]]] = undo[t]
            return exact.fn(x, state, idx, offsets, max_evals, alphas)
        return done, evals, False

    return _Kernel(table, exact.ready)
