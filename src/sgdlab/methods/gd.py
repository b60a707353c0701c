"""Full gradient descent with a constant step or Armijo backtracking."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import Fused, MethodInfo, State
from sgdlab.methods.sgd import SGD


@dataclasses.dataclass(kw_only=True)
class GD(SGD):
    """Gradient descent: `x ← x − α ∇f(x)` with `∇f = (1/n) Σ ∇f_i`.

    `line_search=None`: constant step `α` (default `1/L`, the classical choice that guarantees
    descent for an `L`-smooth `f`; Nesterov, *Introductory Lectures*, 2004, §2.1.5).

    `line_search="armijo"`: backtracking until `f(x − t∇f) ≤ f(x) − c·t·‖∇f‖²` (Armijo, 1966), shrinking
    `t` by `shrink`; each iteration starts from twice the previous accepted step, the first from `lr`
    (default 1). It needs no problem constants. Every loss evaluation of the search costs `n` in the
    oracle count, like a full gradient.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).
        line_search: `None` (constant step) or `"armijo"` (backtracking).
        c: Armijo's sufficient-decrease constant, in `(0, 1)`.
        shrink: The factor that shrinks a rejected trial step, in `(0, 1)`.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.GD(), iters=50)  # lr = 1/L
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0047...
        >>> sl.run(prob, sl.methods.GD(line_search="armijo"), iters=1000, target_subopt=1e-10).status
        'ok'
    """

    #: element-wise with a constant step (`line_search=None`); the line search needs f, and `step` refuses it.
    info: ClassVar[MethodInfo] = MethodInfo(full_batch=True, fused=Fused("sgd"))
    line_search: str | None = None
    c: float = 1e-4
    shrink: float = 0.5

    def _validate(self) -> None:
        super()._validate()
        _checks.choice("line_search", self.line_search, (None, "armijo"))
        self.c = _checks.open_unit_interval("c", self.c)
        self.shrink = _checks.open_unit_interval("shrink", self.shrink)

    def default_lr(self, problem, batch_size) -> float:
        return 1.0 if self.line_search else self._inverse("step size 1/L", "L", problem.L)

    def step(self, x: np.ndarray, g: np.ndarray, state: State) -> None:
        if self.line_search:
            raise TypeError("GD with a line search needs f: run it through sgdlab.run")
        super().step(x, g, state)

    def iterate(self, problem, x, idx, state) -> int:
        if not self.line_search:
            self.step(x, problem.grad(x), state)
            return problem.n
        alpha = self._advance(state)
        g = problem.grad(x)
        f0, g2 = problem.loss(x), float(g @ g)
        t = 2.0 * state["t"] if "t" in state else alpha
        evals = 2 * problem.n
        for _ in range(200):
            trial = x - t * g
            evals += problem.n
            if problem.loss(trial) <= f0 - self.c * t * g2:
                break
            t *= self.shrink
        x[:] = trial
        state["t"] = t
        return evals
