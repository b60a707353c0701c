"""Stochastic gradient descent."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import fused
from sgdlab.methods.base import (
    Fused,
    Method,
    MethodInfo,
    State,
    SteppedMethod,
    check_torch_options,
    expected_smoothness,
    flag,
    torch_gradient,
)
from sgdlab.methods.momentum import Momentum, Nesterov


@dataclasses.dataclass(kw_only=True)
class SGD(SteppedMethod):
    """SGD: `x ← x − α_k ∇f_{i_k}(x)` with `i_k ~ Uniform{1..n}` (a minibatch averages `b` indices).

    `α_k = lr · schedule(k)`. Default `lr = 1/(2 L_b)` with the minibatch expected smoothness
    `L_b = L_max/b + (1 − 1/b) L` — the constant step of Gower et al., *SGD: general analysis and
    improved rates* (ICML 2019), which is `1/(2 L_max)` for `b = 1`.

    torch.optim.SGD's options: `weight_decay = λ` adds `λx` to the gradient (coupled L2) and `maximize`
    ascends (`g ← −g`, before the decay, in torch's order). `convention="torch"` admits torch's ranges
    (`lr = 0`); the rule is the same. torch.optim.SGD with `momentum > 0` is `Momentum` or
    `Nesterov` (`from_torch`).

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
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
        >>> sl.methods.SGD().resolve(prob).lr == 1 / (2 * prob.L_max)  # the default for b = 1
        True
        >>> trace = sl.run(prob, sl.methods.SGD(lr=0.05, schedule="1/k"), epochs=20, seed=0)
        >>> trace.status, bool(trace.loss[-1] < trace.loss[0])
        ('budget', True)
    """

    info: ClassVar[MethodInfo] = MethodInfo(fused=Fused("sgd"), compiled="elementwise", torch="torch.optim.SGD")
    weight_decay: float = 0.0
    maximize: bool = False
    convention: str = "lecture"
    rounding: str = "foreach"

    def _validate(self) -> None:
        super()._validate()
        check_torch_options(self)
        self.rounding = _checks.choice("rounding", self.rounding, fused.ROUNDINGS)

    @classmethod
    def from_torch(cls, *, momentum: Any = 0.0, dampening: Any = 0.0, nesterov: Any = False, **keywords) -> Method:
        """torch.optim.SGD: this class without momentum, `Momentum` (`beta = momentum`) or
        `Nesterov` with it."""
        momentum, dampening = _checks.nonnegative("momentum", momentum), _checks.real("dampening", dampening)
        if flag("nesterov", nesterov) and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov=True requires momentum > 0 and dampening = 0 (as torch.optim.SGD)")
        if momentum > 0:
            rule = Nesterov if nesterov else Momentum
            return rule.from_torch(momentum=momentum, dampening=dampening, **keywords)
        return super().from_torch(**keywords)  # without momentum torch ignores dampening

    def default_lr(self, problem, batch_size) -> float:
        return self._inverse("step size 1/(2 L_b)", "L_b", expected_smoothness(problem, batch_size), 0.5)

    def sparse_update(self) -> str:
        if self.weight_decay:  # torch.optim.SGD cannot add the dense λx to a sparse gradient either
            raise RuntimeError("weight_decay option is not compatible with sparse gradients (as torch.optim.SGD)")
        return "rows"

    def fused_args(self) -> tuple:
        return -1.0 if self.maximize else 1.0, self.weight_decay, fused.lanes(self.rounding)

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        x -= alpha * torch_gradient(x, g, self.maximize, self.weight_decay)
