"""Adagrad."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import fused
from sgdlab.methods.base import MethodInfo, State
from sgdlab.methods.diagonal import DiagonallyScaled


@dataclasses.dataclass(kw_only=True)
class Adagrad(DiagonallyScaled):
    """Adagrad (Duchi, Hazan & Singer, JMLR 2011), per coordinate `j`:

    `v_j ← v_j + g_j²;   x_j ← x_j − α g_j / √(v_j + ε)`        (lecture, `convention="lecture"`)

    `convention="torch"` puts ε outside the root, `x_j ← x_j − α g_j / (√v_j + ε)`, as
    torch.optim.Adagrad does. Defaults: `lr = 0.01` (torch.optim's), `eps = 1e-6` (the lecture's).

    torch.optim.Adagrad's options: `lr_decay = η` divides the step, `α_k = lr·s(k)/(1 + (k − 1) η)`;
    `initial_accumulator_value` is `v₀` (0 by default); `weight_decay` and `maximize` as for
    `RMSProp`. A zero gradient entry leaves its coordinate and its `v` unchanged, so a
    sparse gradient steps only its rows (without weight decay, which would move every coordinate).

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        eps: `ε > 0`, which keeps the denominator away from 0.
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).
        lr_decay: torch's `lr_decay ≥ 0`.
        initial_accumulator_value: The initial accumulator `v₀ ≥ 0`.
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Adagrad(lr=0.5), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0060...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=DiagonallyScaled.fused_diagonal, compiled="elementwise", torch="torch.optim.Adagrad"
    )
    accumulates: ClassVar[bool] = True
    lr: float | None = 0.01
    eps: float = 1e-6
    lr_decay: float = 0.0
    initial_accumulator_value: float = 0.0
    rounding: str = "foreach"

    def _validate(self) -> None:
        super()._validate()
        self.rounding = _checks.choice("rounding", self.rounding, fused.ROUNDINGS)
        self.lr_decay = _checks.nonnegative("lr_decay", self.lr_decay)
        self.initial_accumulator_value = _checks.nonnegative(
            "initial_accumulator_value", self.initial_accumulator_value
        )

    def init(self, x: np.ndarray) -> State:
        state = super().init(x)
        if self.initial_accumulator_value:
            state["v"] += self.initial_accumulator_value
        return state

    @property
    def constant_step_size(self) -> bool:
        return super().constant_step_size and not self.lr_decay

    def step_size(self, state: State) -> float:
        alpha = super().step_size(state)
        return alpha / (1.0 + (state["k"] - 1) * self.lr_decay) if self.lr_decay else alpha

    def fused_scalars(self, alpha: float, k: int) -> tuple | None:
        """With `rounding="fused"` and an `lr_decay = η`: the kernel's scalars with the step size as torch's fused
        CPU kernel computes it in double, `α_k = lr·s(k)/(1 + (k − 1)η)` with the denominator one multiply-add (its
        compiler contracts it), not the two roundings of `step_size` (torch's for-loop and foreach Adagrad, in
        Python); otherwise `None` (the plain scalars)."""
        if not self.lr_decay or self.rounding != "fused" or not math.isfinite(self.lr_decay):
            return None
        # `super()` skips this class's decayed step size; a rational `a·b + c` converts to float rounded once
        base = super().step_size({"k": k})
        alpha = base / float(Fraction(k - 1) * Fraction(self.lr_decay) + 1)
        return (alpha, *self.fused_step_args(k), *self.fused_args())

    def sparse_update(self) -> str:
        if self.weight_decay:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients (as torch.optim.Adagrad)")
        return "rows"

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        v += g * g
