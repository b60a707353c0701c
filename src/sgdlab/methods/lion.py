"""Lion."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops
from sgdlab.methods.base import Fused, MethodInfo, State, SteppedMethod


@dataclasses.dataclass(kw_only=True)
class Lion(SteppedMethod):
    """Lion (Chen et al., *Symbolic discovery of optimization algorithms*, NeurIPS 2023, arXiv:2302.06675), per
    coordinate:

    `c_j = β1 m_j + (1 − β1) g_j;   x_j ← x_j − α (sign(c_j) + λ x_j);   m_j ← β2 m_j + (1 − β2) g_j`

    Every coordinate moves by exactly `α` (plus the decay): the sign of an interpolation between the momentum and
    the gradient, while the momentum itself averages with the slower `β2`. `sign(0) = 0` (as NumPy's and
    torch's `sign`), so a coordinate whose `c` is 0 moves by the decay alone. `weight_decay = λ` is decoupled,
    as in AdamW (the previous iterate, not scaled by the sign). Defaults from the paper: `lr = 1e-4` (3–10× smaller
    than AdamW's, as the update's norm is larger), `beta1 = 0.9`, `beta2 = 0.99`, `weight_decay = 0`.
    torch.optim has no Lion.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta1: The interpolation weight `β1 ∈ [0, 1)` of the momentum in the sign.
        beta2: The momentum's decay `β2 ∈ [0, 1)`.
        weight_decay: The decoupled decay `λ ≥ 0`.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), or an
            unknown schedule.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Lion(lr=0.01), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.008...
    """

    info: ClassVar[MethodInfo] = MethodInfo(fused=Fused("lion", ("m",)), compiled="elementwise")
    lr: float | None = 1e-4
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0

    def _validate(self) -> None:
        super()._validate()
        self.beta1 = _checks.unit_interval("beta1", self.beta1)
        self.beta2 = _checks.unit_interval("beta2", self.beta2)
        self.weight_decay = _checks.nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "m": _ops.zeros_like(x)}

    def fused_args(self) -> tuple:
        return self.beta1, 1.0 - self.beta1, self.beta2, 1.0 - self.beta2, self.weight_decay

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        m = state["m"]
        direction = _ops.sign(self.beta1 * m + (1.0 - self.beta1) * g) + self.weight_decay * x
        x -= alpha * direction
        m *= self.beta2
        m += (1.0 - self.beta2) * g
