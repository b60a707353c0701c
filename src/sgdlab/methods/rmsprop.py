"""RMSProp."""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import CONVENTIONS, State, SteppedMethod


@dataclasses.dataclass(kw_only=True)
class RMSProp(SteppedMethod):
    """RMSProp (Tieleman & Hinton, *Neural Networks for Machine Learning*, lecture 6e, 2012), per coordinate:

    ``v_j ← γ v_j + (1 − γ) g_j²;   x_j ← x_j − α g_j / √(v_j + ε)``    (lecture, ``convention="lecture"``)

    ``convention="torch"`` puts ε outside the root, ``α g_j / (√v_j + ε)``, as torch.optim.RMSprop (whose
    ``alpha`` is our ``gamma``). Defaults from the course notes: ``lr = 1e-3``, ``gamma = 0.9``, ``eps = 1e-8``.
    """

    lr: float | None = 1e-3
    gamma: float = 0.9
    eps: float = 1e-8
    convention: str = "lecture"

    def _validate(self) -> None:
        super()._validate()
        self.gamma = _checks.unit_interval("gamma", self.gamma)
        self.eps = _checks.nonnegative("eps", self.eps)
        _checks.choice("convention", self.convention, CONVENTIONS)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "v": np.zeros_like(x)}

    def step(self, x: np.ndarray, g: np.ndarray, state: State) -> None:
        alpha = self._advance(state)
        v = state["v"]
        v *= self.gamma
        v += (1.0 - self.gamma) * g * g
        denom = np.sqrt(v + self.eps) if self.convention == "lecture" else np.sqrt(v) + self.eps
        x -= alpha * g / denom
