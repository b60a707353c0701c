"""Heavy-ball and Nesterov momentum, in the velocity form that torch.optim.SGD uses."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops, fused
from sgdlab.methods.base import (
    Fused,
    MethodInfo,
    State,
    SteppedMethod,
    check_torch_options,
    expected_smoothness,
    torch_gradient,
)


@dataclasses.dataclass(kw_only=True)
class Momentum(SteppedMethod):
    """Heavy ball (Polyak, 1964): `v ← β v + g;  x ← x − α_k v`.

    For a constant step this is exactly `x_{k+1} = x_k − α g_k + β (x_k − x_{k−1})`. Default
    `lr = (1 − β)/(2 L_b)`: the effective step `α/(1 − β)` equals SGD's default `1/(2 L_b)`
    (a heuristic that keeps the long-run step of SGD; see `expected_smoothness`).

    torch.optim.SGD(momentum=β)'s options: `dampening = d` scales the new gradient, `v ← β v + (1 − d) g`;
    `weight_decay = λ` and `maximize` make `g` torch's gradient (`−g`, then `+ λx`). The conventions
    differ only in the first step and in the range of `β`: `"lecture"` (the default, the lab's) starts from
    `v = 0`, so `v₁ = (1 − d) g₁`, and needs `β < 1`; `"torch"` starts the buffer as a copy of the first
    gradient, `v₁ = g₁` (the same when `d = 0`), and admits `β ≥ 1` and `lr = 0` as torch does.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta: The momentum `β`, in `[0, 1)` (`convention="torch"`: any `β ≥ 0`).
        dampening: torch's dampening `d ∈ [0, 1]`: the new gradient is scaled by `1 − d`.
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Momentum(beta=0.9), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0048...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("momentum", ("v",), hooks=("nesterov",)),
        compiled="elementwise",
        torch="torch.optim.SGD",
        torch_keywords=(("momentum", "beta"),),
    )
    beta: float = 0.9
    dampening: float = 0.0
    weight_decay: float = 0.0
    maximize: bool = False
    convention: str = "lecture"
    rounding: str = "foreach"

    def _validate(self) -> None:
        super()._validate()
        check_torch_options(self)
        self.rounding = _checks.choice("rounding", self.rounding, fused.ROUNDINGS)
        self.beta = (_checks.nonnegative if self.torch_ranges else _checks.unit_interval)("beta", self.beta)
        self.dampening = _checks.closed_unit_interval("dampening", self.dampening)
        if self.nesterov and self.dampening:
            raise ValueError(f"dampening must be 0 for Nesterov momentum, got {self.dampening}")

    def default_lr(self, problem, batch_size) -> float:
        if self.beta >= 1:
            raise ValueError(f"{self.name}'s default step size (1 − beta)/(2 L_b) needs beta < 1; pass lr=")
        L_b = expected_smoothness(problem, batch_size)
        return self._inverse("step size (1 − beta)/(2 L_b)", "L_b", L_b, (1.0 - self.beta) * 0.5)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "v": _ops.zeros_like(x)}

    #: `True` for the look-ahead step of `Nesterov`.
    nesterov: ClassVar[bool] = False

    def sparse_update(self) -> str:
        if self.weight_decay:  # torch.optim.SGD cannot add the dense λx to a sparse gradient either
            raise RuntimeError("weight_decay option is not compatible with sparse gradients (as torch.optim.SGD)")
        return "dense"  # every coordinate's velocity decays, whether its gradient entry is there or not

    def fused_step_args(self, k: int) -> tuple:
        """`(keep, gain)` of `v ← keep·v + gain·g`: torch's first step copies the gradient."""
        return (0.0, 1.0) if k == 1 and self.convention == "torch" else (self.beta, 1.0 - self.dampening)

    def fused_args(self) -> tuple:
        return self.beta, -1.0 if self.maximize else 1.0, self.weight_decay, self.nesterov, fused.lanes(self.rounding)

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        g = torch_gradient(x, g, self.maximize, self.weight_decay)
        v = state["v"]
        if state["k"] == 1 and self.convention == "torch":
            v[...] = g  # torch.optim.SGD: the buffer is a copy of the first gradient
        else:
            v *= self.beta
            v += g if self.dampening == 0 else (1.0 - self.dampening) * g
        x -= alpha * (g + self.beta * v) if self.nesterov else alpha * v


@dataclasses.dataclass(kw_only=True)
class Nesterov(Momentum):
    """Nesterov momentum (Nesterov, 1983; Sutskever et al., 2013): `v ← β v + g;  x ← x − α_k (g + β v)`.

    The look-ahead form of torch.optim.SGD(nesterov=True), with `Momentum`'s options and conventions
    (`dampening` must be 0, as torch requires). Default `lr` as `Momentum`.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta: The momentum `β`, in `[0, 1)` (`convention="torch"`: any `β ≥ 0`).
        dampening: Must be 0 (as torch requires for Nesterov momentum).
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Nesterov(beta=0.9), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0048...
    """

    info: ClassVar[MethodInfo] = Momentum.info

    nesterov: ClassVar[bool] = True
