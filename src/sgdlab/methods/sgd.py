"""Stochastic gradient descent."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab.methods.base import Fused, MethodInfo, State, SteppedMethod, expected_smoothness


@dataclasses.dataclass(kw_only=True)
class SGD(SteppedMethod):
    """SGD: ``x ← x − α_k ∇f_{i_k}(x)`` with ``i_k ~ Uniform{1..n}`` (a minibatch averages ``b`` indices).

    ``α_k = lr · schedule(k)``. Default ``lr = 1/(2 L_b)`` with the minibatch expected smoothness
    ``L_b = L_max/b + (1 − 1/b) L`` — the constant step of Gower et al., *SGD: general analysis and
    improved rates* (ICML 2019), which is ``1/(2 L_max)`` for ``b = 1``.
    """

    info: ClassVar[MethodInfo] = MethodInfo(fused=Fused("sgd"), compiled="elementwise", torch="torch.optim.SGD")

    def default_lr(self, problem, batch_size) -> float:
        return self._inverse("step size 1/(2 L_b)", "L_b", expected_smoothness(problem, batch_size), 0.5)

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        x -= alpha * g
