"""Adadelta."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops
from sgdlab.methods.base import Fused, MethodInfo, State, SteppedMethod, check_torch_options, torch_gradient


@dataclasses.dataclass(kw_only=True)
class Adadelta(SteppedMethod):
    """Adadelta (Zeiler, *ADADELTA: an adaptive learning rate method*, 2012), per coordinate:

    `v_j ← γ v_j + (1 − γ) g_j²`
    `g̃_j = √(Δx_j + ε) / √(v_j + ε) · g_j`
    `x_j ← x_j − lr · g̃_j`
    `Δx_j ← ρ Δx_j + (1 − ρ) g̃_j²`

    The lecture's method has no step size: `lr = 1` (the default). torch.optim.Adadelta multiplies the
    step by its `lr` in the same place, with one decay `rho` for both averages (`gamma = rho` here).
    Defaults from the paper: `gamma = rho = 0.95`, `eps = 1e-6`.

    torch.optim.Adadelta's options: `weight_decay = λ` adds `λx` to the gradient and `maximize` ascends
    (`g ← −g` first). `convention="torch"` admits torch's ranges (`lr = 0`); the rule is the same.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        gamma: The decay `γ ∈ [0, 1)` of the squared-gradient average.
        rho: The decay `ρ ∈ [0, 1)` of the squared-update average.
        eps: `ε > 0`, inside both roots.
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Adadelta(), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0048...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adadelta", ("v", "dx")),
        compiled="elementwise",
        torch="torch.optim.Adadelta",
        torch_keywords=(("rho", "gamma"), ("rho", "rho")),
    )
    lr: float | None = 1.0
    gamma: float = 0.95
    rho: float = 0.95
    eps: float = 1e-6
    weight_decay: float = 0.0
    maximize: bool = False
    convention: str = "lecture"

    def _validate(self) -> None:
        super()._validate()
        self.gamma = _checks.unit_interval("gamma", self.gamma)
        self.rho = _checks.unit_interval("rho", self.rho)
        self.eps = _checks.positive("eps", self.eps)  # ε = 0 would freeze Δx at 0 forever
        check_torch_options(self)

    def init(self, x: np.ndarray) -> State:
        state = {**super().init(x), "v": _ops.zeros_like(x), "dx": _ops.zeros_like(x)}
        self._check_eps(x)
        return state

    def fused_args(self) -> tuple:
        sign = -1.0 if self.maximize else 1.0
        return self.gamma, 1.0 - self.gamma, self.rho, 1.0 - self.rho, self.eps, sign, self.weight_decay

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        g = torch_gradient(x, g, self.maximize, self.weight_decay)
        v, dx = state["v"], state["dx"]
        v *= self.gamma
        v += (1.0 - self.gamma) * g * g
        g_tilde = _ops.sqrt(dx + self.eps) / _ops.sqrt(v + self.eps) * g
        x -= alpha * g_tilde
        dx *= self.rho
        dx += (1.0 - self.rho) * g_tilde * g_tilde
