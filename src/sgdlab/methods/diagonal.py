"""Diagonal scaling by a running sum or average of squared gradients: what Adagrad and RMSProp share.

This is also the one place where the lecture's and PyTorch's conventions differ for them: the lecture
divides by ``√(v + ε)``, torch.optim by ``√v + ε``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops
from sgdlab.methods.base import CONVENTIONS, Fused, State, SteppedMethod


@dataclasses.dataclass(kw_only=True)
class DiagonallyScaled(SteppedMethod):
    """``x ← x − α_k g / d(v)`` with ``d(v) = √(v + ε)`` (``convention="lecture"``) or ``√v + ε`` (``"torch"``);
    subclasses define how the squared-gradient statistic ``v`` accumulates (:meth:`accumulate`).

    ``eps`` must be > 0: with ``ε = 0`` a coordinate whose gradients have all been zero has ``v = 0`` and the
    update ``0/0`` (torch.optim accepts ``eps=0`` and returns NaN there)."""

    eps: float = 1e-8
    convention: str = "lecture"
    #: ``True``: ``v`` is a running sum (Adagrad); ``False``: an exponential average with ``gamma`` (RMSProp).
    accumulates: ClassVar[bool] = False
    #: The fused kernel implements ``accumulate`` as the subclass's ``accumulates`` says (see ``Fused.hooks``).
    fused_diagonal: ClassVar[Fused] = Fused("diagonal", ("v",), hooks=("accumulate", "accumulates"))

    def _validate(self) -> None:
        super()._validate()
        self.eps = _checks.positive("eps", self.eps)  # a coordinate with v = 0 would give g/d(v) = 0/0
        _checks.choice("convention", self.convention, CONVENTIONS)

    def init(self, x: np.ndarray) -> State:
        state = {**super().init(x), "v": _ops.zeros_like(x)}
        self._check_eps(x)
        return state

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        """Update ``v`` in place with the new gradient."""
        raise TypeError(f"{type(self).__name__} must define accumulate")

    def fused_args(self) -> tuple:
        gamma = getattr(self, "gamma", 0.0)
        return gamma, 1.0 - gamma, self.eps, self.accumulates, self.convention == "lecture"

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        v = state["v"]
        self.accumulate(v, g)
        denom = _ops.sqrt(v + self.eps) if self.convention == "lecture" else _ops.sqrt(v) + self.eps
        x -= alpha * g / denom
