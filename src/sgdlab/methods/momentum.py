"""Heavy-ball and Nesterov momentum, in the velocity form that torch.optim.SGD uses."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops
from sgdlab.methods.base import Fused, MethodInfo, State, SteppedMethod, expected_smoothness


@dataclasses.dataclass(kw_only=True)
class Momentum(SteppedMethod):
    """Heavy ball (Polyak, 1964): ``v ← β v + g;  x ← x − α_k v``.

    For a constant step this is exactly ``x_{k+1} = x_k − α g_k + β (x_k − x_{k−1})``. Default
    ``lr = (1 − β)/(2 L_b)``: the effective step ``α/(1 − β)`` equals SGD's default ``1/(2 L_b)``
    (a heuristic that keeps the long-run step of SGD; see :func:`expected_smoothness`).
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("momentum", ("v",), hooks=("nesterov",)), compiled="elementwise", torch="torch.optim.SGD"
    )
    beta: float = 0.9

    def _validate(self) -> None:
        super()._validate()
        self.beta = _checks.unit_interval("beta", self.beta)

    def default_lr(self, problem, batch_size) -> float:
        L_b = expected_smoothness(problem, batch_size)
        return self._inverse("step size (1 − beta)/(2 L_b)", "L_b", L_b, (1.0 - self.beta) * 0.5)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "v": _ops.zeros_like(x)}

    #: ``True`` for the look-ahead step of :class:`Nesterov`.
    nesterov: ClassVar[bool] = False

    def fused_args(self) -> tuple:
        return self.beta, self.nesterov

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        v = state["v"]
        v *= self.beta
        v += g
        x -= alpha * (g + self.beta * v) if self.nesterov else alpha * v


@dataclasses.dataclass(kw_only=True)
class Nesterov(Momentum):
    """Nesterov momentum (Nesterov, 1983; Sutskever et al., 2013): ``v ← β v + g;  x ← x − α_k (g + β v)``.

    The look-ahead form of torch.optim.SGD(nesterov=True). Default ``lr`` as :class:`Momentum`.
    """

    info: ClassVar[MethodInfo] = Momentum.info

    nesterov: ClassVar[bool] = True
