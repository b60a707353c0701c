"""Variance-reduced methods for finite sums: SAG, SAGA, SVRG.

They need the per-sample oracle, so they run through `sgdlab.run` (`step(x, g, state)` alone is not
enough). Problems are `f_i = ℓ_i + R` (see `sgdlab.problems.base`): the tables store the data gradients
`∇ℓ_i` and the shared regulariser's gradient `∇R(x)` is added exactly at every step — the variant that
scikit-learn's SAG/SAGA use, with the same fixed points and no more variance than the textbook form.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import MethodInfo, State, SteppedMethod
from sgdlab.problems.glm import LinearModelProblem


@dataclasses.dataclass(kw_only=True)
class _TableMethod(SteppedMethod):
    """Keeps the last data gradient seen for every sample, `table[i] = ∇ℓ_i(φ_i)`, and their sum.

    Stored two ways, with the same arithmetic meaning:

    * generic problems: `table` is `n × dim`, row `i` is `∇ℓ_i(φ_i)`;
    * generalised linear models (`LinearModelProblem`, `ℓ_i(x) = φ(a_iᵀX, y_i)`): with `φ_i` the iterate
      at sample `i`'s last visit (`Φ_i` as a `dim_features × K` matrix), `∇ℓ_i(φ_i) =
      a_i ⊗ φ'(a_iᵀΦ_i, y_i)`, so `table` is `n × K` and row `i` holds those `K` derivatives `φ'` (one
      number per sample for least squares and logistic regression — Schmidt, Le Roux & Bach's and Defazio's
      memory-saving form, as in scikit-learn's `sag_fast`); a table difference `∇ℓ_j(x) − ∇ℓ_j(φ_j)` is then
      `a_j ⊗ (φ'(a_jᵀX, y_j) − table[j])`.

    `table_sum = Σ_i ∇ℓ_i(φ_i)` (`dim`) in both. A state that already holds a table keeps its layout.
    """

    def _table_state(self, problem, x: np.ndarray, state: State) -> None:
        if "table" not in state:
            width = problem.n_outputs if _linear_model(problem) else x.size
            state["table"] = np.zeros((problem.n, width), dtype=x.dtype)
            state["table_sum"] = np.zeros_like(x)

    def _refresh(self, problem, x: np.ndarray, idx: np.ndarray, state: State) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate `∇ℓ_j(x)` on the batch; store it; return (new − old) averaged over the batch, and the
        updated table mean."""
        self._table_state(problem, x, state)
        table, total = state["table"], state["table_sum"]
        unique, first = np.unique(idx, return_index=True)  # a repeated index is stored (and summed) once
        if _linear_model(problem) and table.shape[1] == problem.n_outputs:
            rows, fresh = problem.sample_derivatives(x, idx)
            fresh = fresh.reshape(len(idx), -1).astype(x.dtype, copy=False)
            diff = fresh - table[idx]  # y_t − table[t] = a_t ⊗ diff_t
            correction = np.asarray(rows.T @ diff).ravel() / len(idx)
            if len(idx) > 1:
                rows, diff = rows[first], diff[first]
            total += np.asarray(rows.T @ diff).ravel()
        else:
            fresh = problem.component_grads(x, idx).astype(x.dtype, copy=False)
            correction = (fresh - table[idx]).mean(axis=0)
            total += (fresh[first] - table[unique]).sum(axis=0)
        table[unique] = fresh[first]
        return correction, total / problem.n


def _linear_model(problem) -> bool:
    """Whether `problem`'s component gradients are `a_i ⊗ φ'(a_iᵀX, y_i)` (its own GLM oracle, not overridden)."""
    return isinstance(problem, LinearModelProblem) and type(problem).component_grads is (
        LinearModelProblem.component_grads
    )


@dataclasses.dataclass(kw_only=True)
class SAG(_TableMethod):
    """SAG (Schmidt, Le Roux & Bach, *Minimizing finite sums with the stochastic average gradient*, 2017):

    `y_j ← ∇ℓ_j(x)` for the sampled `j`;   `x ← x − α ((1/n) Σ_i y_i + ∇R(x))`  (table starts at 0).

    A biased estimate with linear convergence for strongly convex `f`. Default `lr = 1/(16 L_max)`, the
    step of the paper's convergence theorem (the authors note that `1/L_max` often works in practice).

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).

    Raises:
        ValueError: A step size out of its range, or an unknown schedule.
        TypeError: `step(x, g, state)` called directly: the method needs the problem's oracle (`sgdlab.run`).

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.SAG(), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0047...
    """

    info: ClassVar[MethodInfo] = MethodInfo(elementwise=False, compiled="sag")

    def default_lr(self, problem, batch_size) -> float:
        return self._inverse("step size 1/(16 L_max)", "L_max", problem.L_max, scale=16.0)

    def iterate(self, problem, x, idx, state) -> int:
        alpha = self._advance(state)
        _, mean = self._refresh(problem, x, idx, state)
        x -= alpha * (mean + problem.reg_grad(x))
        return len(idx)


@dataclasses.dataclass(kw_only=True)
class SAGA(_TableMethod):
    """SAGA (Defazio, Bach & Lacoste-Julien, NeurIPS 2014):

    `g = ∇ℓ_j(x) − y_j + (1/n) Σ_i y_i + ∇R(x)`;  `y_j ← ∇ℓ_j(x)`;  `x ← x − α g`  (table starts at 0).

    An unbiased estimate whose variance vanishes at the optimum: linear convergence for strongly convex
    `f`. Default `lr = 1/(3 L_max)`, the step of the paper's Theorem 1.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).

    Raises:
        ValueError: A step size out of its range, or an unknown schedule.
        TypeError: `step(x, g, state)` called directly: the method needs the problem's oracle (`sgdlab.run`).

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.SAGA(), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0047...
        >>> bool(trace.subopt[-1] < 1e-10)  # linear convergence to the minimiser
        True
    """

    info: ClassVar[MethodInfo] = MethodInfo(elementwise=False, compiled="saga")

    def default_lr(self, problem, batch_size) -> float:
        return self._inverse("step size 1/(3 L_max)", "L_max", problem.L_max, scale=3.0)

    def iterate(self, problem, x, idx, state) -> int:
        alpha = self._advance(state)
        old_mean = state["table_sum"] / problem.n if "table_sum" in state else 0.0
        correction, _ = self._refresh(problem, x, idx, state)
        x -= alpha * (correction + old_mean + problem.reg_grad(x))
        return len(idx)


@dataclasses.dataclass(kw_only=True)
class SVRG(SteppedMethod):
    """SVRG (Johnson & Zhang, *Accelerating stochastic gradient descent using predictive variance
    reduction*, NeurIPS 2013). Every `inner` iterations take a snapshot `x̃ ← x` and `μ̃ = ∇f(x̃)`
    (cost `n`); in between

    `g = ∇f_B(x) − ∇f_B(x̃) + μ̃;   x ← x − α g`   (cost `2b` per iteration).

    The snapshot is the last iterate (the paper's practical option I). Defaults follow the paper's
    experiments and analysis: `inner = 2n/b` iterations (`m = 2n` for convex problems) and
    `lr = 1/(10 L_max)` (inside the theorem's `η < 1/(4L)` regime).

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        inner: Iterations between snapshots (a positive integer; `None`: `2n/b`).

    Raises:
        ValueError: A hyperparameter out of its range, or an unknown schedule.
        TypeError: `step(x, g, state)` called directly: the method needs the problem's oracle (`sgdlab.run`).

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.SVRG(), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.005...
    """

    info: ClassVar[MethodInfo] = MethodInfo(elementwise=False, compiled="svrg")
    inner: int | None = None

    def _validate(self) -> None:
        super()._validate()
        if self.inner is not None:
            self.inner = _checks.positive_int("inner", self.inner)

    def default_lr(self, problem, batch_size) -> float:
        return self._inverse("step size 1/(10 L_max)", "L_max", problem.L_max, scale=10.0)

    def resolve(self, problem, batch_size=1, total_iters=None):
        resolved = super().resolve(problem, batch_size, total_iters)
        inner = self.inner or max(1, round(2 * problem.n / max(batch_size, 1)))
        return dataclasses.replace(resolved, inner=inner)

    def iterate(self, problem, x, idx, state) -> int:
        if self.inner is None:
            raise ValueError("SVRG.inner is unset: pass inner=, or run through sgdlab.run")
        cost = 2 * len(idx)
        if state["k"] % self.inner == 0:
            state["snapshot"] = x.copy()
            state["snapshot_grad"] = problem.grad(x)
            cost += problem.n
        alpha = self._advance(state)
        snapshot = state["snapshot"]
        g = problem.grad_batch(x, idx) - problem.grad_batch(snapshot, idx) + state["snapshot_grad"]
        x -= alpha * g
        return cost
