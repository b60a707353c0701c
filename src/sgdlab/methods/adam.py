"""Adam and its two descendants: AMSGrad (a non-decreasing denominator) and AdamW (decoupled decay)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops
from sgdlab.methods.base import CONVENTIONS, Fused, MethodInfo, State, SteppedMethod

_HOOKS = ("_direction", "_denominator", "decoupled_decay")


@dataclasses.dataclass(kw_only=True)
class Adam(SteppedMethod):
    """Adam (Kingma & Ba, *Adam: a method for stochastic optimization*, ICLR 2015), per coordinate:

    ``m_j ← β1 m_j + (1 − β1) g_j;   v_j ← β2 v_j + (1 − β2) g_j²``
    ``m̂_j = m_j / (1 − β1^k);   v̂_j = v_j / (1 − β2^k)``
    ``x_j ← x_j − α m̂_j / (√v̂_j + ε)``

    Same convention as torch.optim.Adam. ``weight_decay = λ > 0`` adds the coupled L2 gradient ``λx`` to
    ``g`` before the moments (torch's ``weight_decay``; contrast :class:`AdamW`). Defaults from the paper:
    ``lr = 1e-3``, ``beta1 = 0.9``, ``beta2 = 0.999``, ``eps = 1e-8``.

    ``eps`` must be > 0: with ``ε = 0`` a coordinate whose gradients have all been zero (a zero gradient, an
    all-zero feature) has ``m̂ = v̂ = 0`` and the update ``0/0``. torch.optim accepts ``eps=0`` and returns NaN there.
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", None), _HOOKS), compiled="elementwise", torch="torch.optim.Adam"
    )
    lr: float | None = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    #: ``True`` (AdamW): ``λx`` is added to the step, not to the gradient that feeds the moments.
    decoupled_decay: ClassVar[bool] = False

    def _validate(self) -> None:
        super()._validate()
        self.beta1 = _checks.unit_interval("beta1", self.beta1)
        self.beta2 = _checks.unit_interval("beta2", self.beta2)
        self.eps = _checks.positive("eps", self.eps)  # a zero gradient would give m̂/√v̂ = 0/0
        self.weight_decay = _checks.nonnegative("weight_decay", self.weight_decay)

    def init(self, x: np.ndarray) -> State:
        state = {**super().init(x), "m": _ops.zeros_like(x), "v": _ops.zeros_like(x)}
        self._check_eps(x)
        return state

    def _denominator(self, state: State) -> np.ndarray:
        """``√v̂ + ε``."""
        return _ops.sqrt(state["v"] / (1.0 - self.beta2 ** state["k"])) + self.eps

    def _direction(self, x: np.ndarray, g: np.ndarray, state: State) -> np.ndarray:
        """Update the moments and return ``m̂ / (√v̂ + ε)``."""
        if self.weight_decay and not self.decoupled_decay:
            g = g + self.weight_decay * x
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        return m / (1.0 - self.beta1 ** state["k"]) / self._denominator(state)

    def fused_step_args(self, k: int) -> tuple:
        return 1.0 / (1.0 - self.beta1**k), 1.0 / (1.0 - self.beta2**k)  # the bias corrections' reciprocals

    def fused_args(self) -> tuple:
        decoupled = self.weight_decay if self.decoupled_decay else 0.0
        amsgrad, lecture = self.info.fused.state[2] is not None, getattr(self, "convention", "lecture") == "lecture"
        b1, b2, coupled = self.beta1, self.beta2, self.weight_decay - decoupled
        return b1, 1.0 - b1, b2, 1.0 - b2, self.eps, coupled, decoupled, amsgrad, lecture

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        direction = self._direction(x, g, state)
        if self.decoupled_decay:
            direction = direction + self.weight_decay * x  # x is still the previous iterate here
        x -= alpha * direction


@dataclasses.dataclass(kw_only=True)
class AMSGrad(Adam):
    """AMSGrad (Reddi, Kale & Kumar, *On the convergence of Adam and beyond*, ICLR 2018): Adam with a
    denominator that never shrinks, which restores convergence where Adam provably fails.

    ``convention="lecture"``: ``v̂max_j ← max(v̂max_j, v̂_j)`` with the bias-corrected ``v̂``, and
    ``x_j ← x_j − α m̂_j / (√v̂max_j + ε)``.
    ``convention="torch"`` (torch.optim.Adam(amsgrad=True)): the maximum is taken of the raw ``v`` and
    bias-corrected afterwards, ``vmax ← max(vmax, v)``, denominator ``√(vmax/(1 − β2^k)) + ε``.
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", "vmax"), _HOOKS), compiled="elementwise", torch="torch.optim.Adam"
    )
    convention: str = "lecture"

    def _validate(self) -> None:
        super()._validate()
        _checks.choice("convention", self.convention, CONVENTIONS)

    def init(self, x: np.ndarray) -> State:
        return {**super().init(x), "vmax": _ops.zeros_like(x)}

    def _denominator(self, state: State) -> np.ndarray:
        correction = 1.0 - self.beta2 ** state["k"]
        vmax = state["vmax"]
        if self.convention == "lecture":
            _ops.maximum_into(vmax, state["v"] / correction)
            return _ops.sqrt(vmax) + self.eps
        _ops.maximum_into(vmax, state["v"])
        return _ops.sqrt(vmax / correction) + self.eps


@dataclasses.dataclass(kw_only=True)
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, *Decoupled weight decay regularization*, ICLR 2019):

    Adam's moments from the plain gradient, then ``x_j ← x_j − α (m̂_j / (√v̂_j + ε) + λ x_j^(k−1))`` — the
    decay uses the previous iterate and is not scaled by the adaptive denominator. Same convention as
    torch.optim.AdamW; default ``weight_decay = 0.01`` (torch's).
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", None), _HOOKS), compiled="elementwise", torch="torch.optim.AdamW"
    )
    weight_decay: float = 0.01
    decoupled_decay: ClassVar[bool] = True
