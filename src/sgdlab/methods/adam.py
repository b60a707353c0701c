"""Adam and its two descendants: AMSGrad (a non-decreasing denominator) and AdamW (decoupled decay)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops, fused
from sgdlab.methods.base import Fused, MethodInfo, State, SteppedMethod, check_torch_options, flag, torch_gradient

_HOOKS = ("_denominator",)
_BETAS = (("betas", ("beta1", "beta2")),)


@dataclasses.dataclass(kw_only=True)
class Adam(SteppedMethod):
    """Adam (Kingma & Ba, *Adam: a method for stochastic optimization*, ICLR 2015), per coordinate:

    `m_j ← β1 m_j + (1 − β1) g_j;   v_j ← β2 v_j + (1 − β2) g_j²`
    `m̂_j = m_j / (1 − β1^k);   v̂_j = v_j / (1 − β2^k)`
    `x_j ← x_j − α m̂_j / (√v̂_j + ε)`

    Same convention as torch.optim.Adam. `weight_decay = λ > 0` adds the coupled L2 gradient `λx` to
    `g` before the moments (torch's `weight_decay`; contrast `AdamW`). Defaults from the paper:
    `lr = 1e-3`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`.

    torch.optim.Adam's options: `amsgrad` is `AMSGrad`'s denominator (whose two conventions
    `convention` chooses; it also admits torch's `lr = 0`), `decoupled_weight_decay` is `AdamW`'s
    decay, `maximize` ascends (`g ← −g` before the decay and the moments).

    `eps` must be > 0: with `ε = 0` a coordinate whose gradients have all been zero (a zero gradient, an
    all-zero feature) has `m̂ = v̂ = 0` and the update `0/0`. torch.optim accepts `eps=0` and returns NaN there.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta1: The first moment's decay `β1 ∈ [0, 1)`.
        beta2: The second moment's decay `β2 ∈ [0, 1)`.
        eps: `ε > 0`, added to the root of the second moment.
        weight_decay: `λ ≥ 0`: coupled L2 decay, or decoupled with `decoupled_weight_decay=True`.
        amsgrad: Use AMSGrad's non-decreasing denominator (`AMSGrad`).
        decoupled_weight_decay: Decouple the decay from the moments (`AdamW`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` or `"torch"`: which AMSGrad maximum (above), and torch's ranges (`lr = 0`).
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.Adam(lr=0.05), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.008...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", None), _HOOKS),
        compiled="elementwise",
        torch="torch.optim.Adam",
        torch_keywords=_BETAS,
    )
    lr: float | None = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    #: `True` (AdamW): `λx` is added to the step, not to the gradient that feeds the moments.
    decoupled_weight_decay: bool = False
    maximize: bool = False
    convention: str = "lecture"
    #: How the fused kernels round under torch's convention: `"foreach"` as torch.optim's for-loop/foreach ops
    #: (lerp, addcmul, `add` with `alpha` as one multiply-add), `"fused"` as its `fused=True` CPU kernel (step
    #: size `lr/(1 − β₁ᵏ)` in double, AdamW's decay as a factor `1 − lr·λ`). Same math; the last bits differ.
    rounding: str = "foreach"

    def _validate(self) -> None:
        super()._validate()
        self.rounding = _checks.choice("rounding", self.rounding, fused.ROUNDINGS)
        self.beta1 = _checks.unit_interval("beta1", self.beta1)
        self.beta2 = _checks.unit_interval("beta2", self.beta2)
        self.eps = _checks.positive("eps", self.eps)  # a zero gradient would give m̂/√v̂ = 0/0
        check_torch_options(self)
        self.amsgrad = flag("amsgrad", self.amsgrad)
        self.decoupled_weight_decay = flag("decoupled_weight_decay", self.decoupled_weight_decay)

    @classmethod
    def check_torch_call(cls, keywords: dict[str, Any]) -> None:
        """As torch.optim.Adam: `betas` both floats or both (1-element) tensors, and no tensor `lr` or `betas`
        with `foreach=True` and `capturable=False` (torch's multi-tensor path cannot take them)."""
        betas = keywords.get("betas")
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        tensors = [hasattr(beta, "numel") for beta in betas]
        if not (all(tensors) or all(isinstance(beta, float) for beta in betas)):
            raise ValueError(f"betas must be either both floats or both Tensors, got {betas!r}")
        if keywords.get("foreach") and not keywords.get("capturable"):
            for name, value in (("lr", keywords.get("lr")), ("betas[0]", betas[0]), ("betas[1]", betas[1])):
                if hasattr(value, "numel"):
                    raise ValueError(f"{name} as a Tensor is not supported for capturable=False and foreach=True")

    def init(self, x: np.ndarray) -> State:
        state = {**super().init(x), "m": _ops.zeros_like(x), "v": _ops.zeros_like(x)}
        if self.amsgrad:
            state["vmax"] = _ops.zeros_like(x)
        self._check_eps(x)
        return state

    def _denominator(self, state: State) -> np.ndarray:
        """`√v̂ + ε`, or AMSGrad's with the running maximum: of `v̂` (lecture), of the raw `v` bias-corrected
        afterwards (torch)."""
        correction = 1.0 - self.beta2 ** state["k"]
        if not self.amsgrad:
            return _ops.sqrt(state["v"] / correction) + self.eps
        vmax = state["vmax"]
        if self.convention == "lecture":
            _ops.maximum_into(vmax, state["v"] / correction)
            return _ops.sqrt(vmax) + self.eps
        _ops.maximum_into(vmax, state["v"])
        return _ops.sqrt(vmax / correction) + self.eps

    def fused_spec(self) -> Fused | None:
        """The kernel's state slots (AMSGrad's maximum where `amsgrad`), and the lecture's convention's own loop
        (`fused.adam_lecture_update`, same arguments)."""
        spec = super().fused_spec()
        if spec is None:
            return None
        if self.amsgrad:
            spec = dataclasses.replace(spec, state=("m", "v", "vmax"))
        return dataclasses.replace(spec, kernel="adam_lecture") if self.convention == "lecture" else spec

    def fused_step_args(self, k: int) -> tuple:
        """`1/(1 − β₁ᵏ)` and `1/(1 − β₂ᵏ)` (lecture) or `√(1 − β₂ᵏ)`, which torch's kernels divide by."""
        correction2 = 1.0 - self.beta2**k
        second = 1.0 / correction2 if self.convention == "lecture" else math.sqrt(correction2)
        return 1.0 / (1.0 - self.beta1**k), second

    def fused_args(self) -> tuple:
        decoupled = self.weight_decay if self.decoupled_weight_decay else 0.0
        b1, b2, coupled, sign = self.beta1, self.beta2, self.weight_decay - decoupled, -1.0 if self.maximize else 1.0
        mode = 0 if self.convention == "lecture" else 1
        return (b1, 1.0 - b1, b2, 1.0 - b2, self.eps, coupled, decoupled, sign, self.amsgrad, mode)  # fmt: skip

    def fused_scalars(self, alpha: float, k: int) -> tuple | None:
        """With `rounding="fused"` (torch's convention): the kernel's scalars as torch's fused CPU kernel computes
        them in double (step size `α/(1 − β₁ᵏ)`, decay factor `1 − αλ`, `√(1 − β₂ᵏ)` with `pow`); otherwise
        `None` (the plain `fused_step_args`/`fused_args`). Callers that pass the scalars in their own layout
        (the compiled GLM segments) keep the foreach rounding."""
        if self.rounding != "fused" or self.convention == "lecture":
            return None
        args = self.fused_args()
        k = float(k)  # `pow` as torch's `std::pow(β, step)`, not repeated squaring
        step = alpha / (1.0 - math.pow(self.beta1, k))
        factor = 1.0 - alpha * args[6]
        return (step, factor, math.sqrt(1.0 - math.pow(self.beta2, k)), *args[:6], 1.0 if args[6] else 0.0,
                *args[7:9], max(2, fused.lanes("fused")))  # fmt: skip

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        decoupled = self.decoupled_weight_decay
        g = torch_gradient(x, g, self.maximize, 0.0 if decoupled else self.weight_decay)
        m, v = state["m"], state["v"]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        direction = m / (1.0 - self.beta1 ** state["k"]) / self._denominator(state)
        if decoupled:
            direction = direction + self.weight_decay * x  # x is still the previous iterate here
        x -= alpha * direction


@dataclasses.dataclass(kw_only=True)
class AMSGrad(Adam):
    """AMSGrad (Reddi, Kale & Kumar, *On the convergence of Adam and beyond*, ICLR 2018): Adam with a
    denominator that never shrinks, which restores convergence where Adam provably fails.

    `convention="lecture"`: `v̂max_j ← max(v̂max_j, v̂_j)` with the bias-corrected `v̂`, and
    `x_j ← x_j − α m̂_j / (√v̂max_j + ε)`.
    `convention="torch"` (torch.optim.Adam(amsgrad=True)): the maximum is taken of the raw `v` and
    bias-corrected afterwards, `vmax ← max(vmax, v)`, denominator `√(vmax/(1 − β2^k)) + ε`.
    `AMSGrad(...)` is `Adam(amsgrad=True, ...)`.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta1: The first moment's decay `β1 ∈ [0, 1)`.
        beta2: The second moment's decay `β2 ∈ [0, 1)`.
        eps: `ε > 0`, added to the root of the running maximum.
        weight_decay: `λ ≥ 0`: coupled L2 decay, or decoupled with `decoupled_weight_decay=True`.
        amsgrad: Must be `True` (`Adam(amsgrad=False)` is `Adam`).
        decoupled_weight_decay: Decouple the decay from the moments (as `AdamW`).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` or `"torch"`: the maximum of `v̂` or of the raw `v` (above).
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.AMSGrad(lr=0.05), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.0048...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", "vmax"), _HOOKS),
        compiled="elementwise",
        torch="torch.optim.Adam",
        torch_keywords=_BETAS,
    )
    amsgrad: bool = True

    def _validate(self) -> None:
        super()._validate()
        if not self.amsgrad:
            raise ValueError("amsgrad must be True for AMSGrad (Adam(amsgrad=False) is Adam)")


@dataclasses.dataclass(kw_only=True)
class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, *Decoupled weight decay regularization*, ICLR 2019):

    Adam's moments from the plain gradient, then `x_j ← x_j − α (m̂_j / (√v̂_j + ε) + λ x_j^(k−1))` — the
    decay uses the previous iterate and is not scaled by the adaptive denominator. Same convention as
    torch.optim.AdamW; default `weight_decay = 0.01` (torch's). `AdamW(...)` is
    `Adam(decoupled_weight_decay=True, weight_decay=0.01, ...)`, with Adam's other options.

    Args:
        lr: The step size `α` (`None`: derived from the problem when a run starts, by the rule above).
        schedule: The step-size schedule `s(k)`, `α_k = lr · s(k)`: a `Schedule` or its name or text
            (`"constant"`, `"1/k"`, `"InverseTime(k0=100)"`, …).
        beta1: The first moment's decay `β1 ∈ [0, 1)`.
        beta2: The second moment's decay `β2 ∈ [0, 1)`.
        eps: `ε > 0`, added to the root of the second moment.
        weight_decay: The decoupled decay `λ ≥ 0`.
        amsgrad: Use AMSGrad's non-decreasing denominator.
        decoupled_weight_decay: Must be `True` (without it, AdamW is Adam).
        maximize: Ascend instead of descend (`g ← −g`, as torch's `maximize`).
        convention: `"lecture"` or `"torch"` (torch's ranges, and AMSGrad's maximum with `amsgrad=True`).
        rounding: How the fused kernels round: `"foreach"` as torch.optim's foreach ops, `"fused"` as its
            `fused=True` CPU kernels (`sgdlab.torch`'s `fused=True` sets it); the same math, the last bits differ.

    Raises:
        ValueError: A hyperparameter out of its range (the message names it and the allowed values), an unknown
            `convention` or schedule.
        TypeError: A flag that is not `True` or `False`.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> trace = sl.run(prob, sl.methods.AdamW(lr=0.05, weight_decay=0.01), epochs=20, seed=0)
        >>> print(f"{trace.loss[0]:.4f} -> {trace.loss[-1]:.6f}")
        2.3833 -> 0.007...
    """

    info: ClassVar[MethodInfo] = MethodInfo(
        fused=Fused("adam", ("m", "v", None), _HOOKS),
        compiled="elementwise",
        torch="torch.optim.AdamW",
        torch_keywords=_BETAS,
    )
    weight_decay: float = 0.01
    decoupled_weight_decay: bool = True

    def _validate(self) -> None:
        super()._validate()
        if not self.decoupled_weight_decay:
            raise ValueError("decoupled_weight_decay must be True for AdamW (without it, AdamW is Adam)")
