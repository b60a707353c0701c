"""Adagrad."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab.methods.base import MethodInfo
from sgdlab.methods.diagonal import DiagonallyScaled


@dataclasses.dataclass(kw_only=True)
class Adagrad(DiagonallyScaled):
    """Adagrad (Duchi, Hazan & Singer, JMLR 2011), per coordinate ``j``:

    ``v_j ← v_j + g_j²;   x_j ← x_j − α g_j / √(v_j + ε)``        (lecture, ``convention="lecture"``)

    ``convention="torch"`` puts ε outside the root, ``x_j ← x_j − α g_j / (√v_j + ε)``, as
    torch.optim.Adagrad does. Defaults: ``lr = 0.01`` (torch.optim's), ``eps = 1e-6`` (the lecture's).
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=DiagonallyScaled.fused_diagonal, compiled="elementwise", torch="torch.optim.Adagrad"
    )
    accumulates: ClassVar[bool] = True
    lr: float | None = 0.01
    eps: float = 1e-6

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        v += g * g
