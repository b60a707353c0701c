"""Adagrad."""

from __future__ import annotations

import dataclasses

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import CONVENTIONS, State, SteppedMethod


@dataclasses.dataclass(kw_only=True)
class Adagrad(SteppedMethod):
    """Adagrad (Duchi, Hazan & Singer, JMLR 2011), per coordinate ``j``:

    ``v_j ← v_j + g_j²;   x_j ← x_j − α g_j / √(v_j + ε)``        (lecture, ``convention="lecture"``)

    ``convention="torch"`` puts ε outside the root, ``x_j ← x_j − α g_j / (√v_j + ε)``, as
    torch.optim.Adagrad does. Defaults: ``lr = 0.01`` (torch.optim's), ``eps = 1e-6`` (the lecture's).
    """

    lr: float | None = 0.01
    eps: float = 1e-6
    convention: str = "lecture"

    def _validate(self) -> None:
        super()._validate()
        self.eps = _checks.nonnegative("eps", self.eps)
        _checks.choice("convention", self.convention, CONVENTIONS)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "v": np.zeros_like(x)}

    def step(self, x: np.ndarray, g: np.ndarray, state: State) -> None:
        alpha = self._advance(state)
        v = state["v"]
        v += g * g
        denom = np.sqrt(v + self.eps) if self.convention == "lecture" else np.sqrt(v) + self.eps
        x -= alpha * g / denom
