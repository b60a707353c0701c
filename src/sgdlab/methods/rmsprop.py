"""RMSProp."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods.base import MethodInfo, flag
from sgdlab.methods.diagonal import DiagonallyScaled


@dataclasses.dataclass(kw_only=True)
class RMSProp(DiagonallyScaled):
    """RMSProp (Tieleman & Hinton, *Neural Networks for Machine Learning*, lecture 6e, 2012), per coordinate:

    `v_j ← γ v_j + (1 − γ) g_j²;   x_j ← x_j − α g_j / √(v_j + ε)`    (lecture, `convention="lecture"`)

    `convention="torch"` puts ε outside the root, `α g_j / (√v_j + ε)`, as torch.optim.RMSprop (whose
    `alpha` is our `gamma`). Defaults from the course notes: `lr = 1e-3`, `gamma = 0.9`, `eps = 1e-8`.

    torch.optim.RMSprop's options (Graves, *Generating sequences with recurrent neural networks*, 2013):
    `centered` keeps the running mean `ḡ ← ḡ + (1 − γ)(g − ḡ)` and divides by `d(v − ḡ²)`, an estimate
    of the variance; `momentum = μ > 0` steps by a buffer `b ← μ b + g/d`, `x ← x − α b`;
    `weight_decay = λ` adds `λx` to the gradient and `maximize` ascends (`g ← −g` first).

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        eps: `ε > 0`, which keeps the denominator away from 0.
        weight_decay: Coupled L2 decay `λ ≥ 0`: `λx` is added to the gradient (torch's `weight_decay`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` (the lab's form) or `"torch"` (torch.optim's form and ranges, e.g. `lr = 0`).
        centered: Divide by the estimated variance instead of the second moment (torch's `centered`).
        momentum: torch's momentum `μ ≥ 0` on the scaled step.
        gamma: The decay `γ ∈ [0, 1)` of the squared-gradient average (torch's `alpha`).

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.RMSProp(lr=0.01), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.006...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=DiagonallyScaled.fused_diagonal,
        compiled="elementwise",
        torch="torch.optim.RMSprop",
        torch_keywords=(("alpha", "gamma"),),
    )
    lr: float | None = 1e-3
    gamma: float = 0.9
    centered: bool = False
    momentum: float = 0.0

    def _validate(self) -> None:
        super()._validate()
        self.gamma = _checks.unit_interval("gamma", self.gamma)
        self.centered = flag("centered", self.centered)
        self.momentum = _checks.nonnegative("momentum", self.momentum)  # torch's range: any μ ≥ 0

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        v *= self.gamma
        v += (1.0 - self.gamma) * g * g
