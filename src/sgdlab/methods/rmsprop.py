"""RMSProp."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import MethodInfo
from sgdlab.methods.diagonal import DiagonallyScaled


@dataclasses.dataclass(kw_only=True)
class RMSProp(DiagonallyScaled):
    """RMSProp (Tieleman & Hinton, *Neural Networks for Machine Learning*, lecture 6e, 2012), per coordinate:

    ``v_j ← γ v_j + (1 − γ) g_j²;   x_j ← x_j − α g_j / √(v_j + ε)``    (lecture, ``convention="lecture"``)

    ``convention="torch"`` puts ε outside the root, ``α g_j / (√v_j + ε)``, as torch.optim.RMSprop (whose
    ``alpha`` is our ``gamma``). Defaults from the course notes: ``lr = 1e-3``, ``gamma = 0.9``, ``eps = 1e-8``.
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=DiagonallyScaled.fused_diagonal, compiled="elementwise", torch="torch.optim.RMSprop"
    )
    lr: float | None = 1e-3
    gamma: float = 0.9

    def _validate(self) -> None:
        super()._validate()
        self.gamma = _checks.unit_interval("gamma", self.gamma)

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        v *= self.gamma
        v += (1.0 - self.gamma) * g * g
