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
