"""Diagonal scaling by a running sum or average of squared gradients: what Adagrad and RMSProp share.

This is also the one place where the lecture's and PyTorch's conventions differ for them: the lecture
divides by `√(v + ε)`, torch.optim by `√v + ε`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops, fused
from sgdlab.methods.base import Fused, State, SteppedMethod, check_torch_options, torch_gradient


@dataclasses.dataclass(kw_only=True)
class DiagonallyScaled(SteppedMethod):
    """`x ← x − α_k g / d(v)` with `d(v) = √(v + ε)` (`convention="lecture"`) or `√v + ε` (`"torch"`);
    subclasses define how the squared-gradient statistic `v` accumulates (`accumulate`).

    `g` is torch.optim's gradient: `−g` when `maximize`, then plus `λx` (`weight_decay = λ`). RMSProp adds
    `centered` (`v` minus the squared running mean of `g` in `d`) and `momentum` (a buffer of the scaled
    steps): they are class attributes here, fields of `RMSProp`.

    `eps` must be > 0: with `ε = 0` a coordinate whose gradients have all been zero has `v = 0` and the
    update `0/0` (torch.optim accepts `eps=0` and returns NaN there)."""

    eps: float = 1e-8
    weight_decay: float = 0.0
    maximize: bool = False
    convention: str = "lecture"
    #: `True`: `v` is a running sum (Adagrad); `False`: an exponential average with `gamma` (RMSProp).
    accumulates: ClassVar[bool] = False
    centered: ClassVar[bool] = False
    momentum: ClassVar[float] = 0.0
    #: The fused kernel implements `accumulate` as the subclass's `accumulates` says (see `Fused.hooks`); its
    #: last two slots are RMSProp's running mean and momentum buffer, filled in where used (`fused_spec`).
    fused_diagonal: ClassVar[Fused] = Fused("diagonal", ("v", None, None), hooks=("accumulate", "accumulates"))

    def _validate(self) -> None:
        super()._validate()
        self.eps = _checks.positive("eps", self.eps)  # a coordinate with v = 0 would give g/d(v) = 0/0
        check_torch_options(self)

    def init(self, x: np.ndarray) -> State:
        state = {**super().init(x), "v": _ops.zeros_like(x)}
        if self.centered:
            state["gbar"] = _ops.zeros_like(x)
        if self.momentum > 0:
            state["buf"] = _ops.zeros_like(x)
        self._check_eps(x)
        return state

    def accumulate(self, v: np.ndarray, g: np.ndarray) -> None:
        """Update `v` in place with the new gradient."""
        raise TypeError(f"{type(self).__name__} must define accumulate")

    def fused_spec(self) -> Fused | None:
        spec = super().fused_spec()
        if spec is None:
            return None
        slots = ("v", "gbar" if self.centered else None, "buf" if self.momentum > 0 else None)
        return dataclasses.replace(spec, state=slots)

    def fused_args(self) -> tuple:
        gamma = getattr(self, "gamma", 0.0)
        sign = -1.0 if self.maximize else 1.0
        lanes = fused.lanes(getattr(self, "rounding", "foreach"))  # Adagrad's option (torch has no fused RMSprop)
        return (gamma, 1.0 - gamma, self.eps, sign, self.weight_decay, self.momentum, self.accumulates, self.centered,
                self.convention == "lecture", lanes)  # fmt: skip

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        g = torch_gradient(x, g, self.maximize, self.weight_decay)
        v = state["v"]
        self.accumulate(v, g)
        if self.centered:  # the running mean ḡ ← ḡ + (1 − γ)(g − ḡ) (torch's lerp), and v − ḡ² in place of v
            mean = state["gbar"]
            mean += (1.0 - self.gamma) * (g - mean)
            v = v - mean * mean
        denom = _ops.sqrt(v + self.eps) if self.convention == "lecture" else _ops.sqrt(v) + self.eps
        if self.momentum > 0:  # Graves (2013) / torch: b ← μ b + g/d, x ← x − α b
            buf = state["buf"]
            buf *= self.momentum
            buf += g / denom
            x -= alpha * buf
        else:
            x -= alpha * g / denom
