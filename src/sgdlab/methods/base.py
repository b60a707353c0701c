"""What every method shares: hyperparameter handling, the step-size rule, and the oracle protocol.

A method is a dataclass of hyperparameters with two kinds of entry points:

* `init(x) -> state` and `step(x, g, state)` — the update rule for a given (stochastic) gradient
  `g`, applied to `x` in place. `state` is a plain dict with the step counter `"k"`.
* `iterate(problem, x, idx, state) -> cost` — one iteration through the problem's oracle on the
  sample indices `idx`; the default computes `g = problem.grad_batch(x, idx)` and calls `step`.
  Methods that need more than one minibatch gradient (GD with line search, SAG, SAGA, SVRG) override it.

A step size left as `None` is derived from the problem's constants by `resolve` when a run starts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sgdlab import _checks
from sgdlab.methods import _ops, fused
from sgdlab.methods.schedules import Constant, Schedule, as_schedule

if TYPE_CHECKING:
    from sgdlab.problems.base import Problem

State = dict[str, Any]

CONVENTIONS = ("lecture", "torch")


def torch_gradient(x, g, maximize: bool = False, weight_decay: float = 0.0):
    """The gradient torch.optim's rules use: `−g` when maximizing, then plus `λx` (coupled weight decay `λ`),
    in that order. A new array where either applies; `g` itself is never modified."""
    if maximize:
        g = -g
    if weight_decay:
        g = g + weight_decay * x
    return g


@dataclasses.dataclass(frozen=True)
class Fused:
    """A fused kernel of `sgdlab.methods.fused` and how a method's state feeds it.

    Attributes:
        kernel: The kernel's name in `fused.KERNELS`.
        state: The state arrays it updates, in its argument order (`None`: an unused slot, passed `x`).
        hooks: The attributes of the registering class whose formulas the kernel implements besides `_update`
            (e.g. `accumulate`): a subclass that overrides `_update` or one of them has no kernel unless it
            registers its own `MethodInfo`.

    Examples:
        >>> import sgdlab as sl
        >>> sl.methods.Adadelta.info.fused
        Fused(kernel='adadelta', state=('v', 'dx'), hooks=())
    """

    kernel: str
    state: tuple[str | None, ...] = ()
    hooks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """What a method is and which implementations it has: the one record every dispatcher reads.

    A class registers its info by defining `info` in its own body; a subclass that does not inherits it, but
    neither the compiled segments (exact classes only) nor, if it overrides a hook, the fused kernel.

    Attributes:
        elementwise: `step(x, g, state)` alone implements it (otherwise it needs the problem's oracle and
            `step` refuses): `SteppedMethod.step`, the torch adapter (`sgdlab.torch.optim`).
        full_batch: Every iteration uses the full gradient, the engine samples nothing (`sgdlab.run`, the spec
            checks, the playground).
        fused: Its fused kernel and state layout (`Fused`), or `None`: `sgdlab.methods.fused.step` and the
            compiled element-wise segments.
        compiled: Its compiled GLM segment (`"elementwise"`, `"sag"`, `"saga"`, `"svrg"`) or `None`:
            `sgdlab.engine.compiled`.
        torch: The torch.optim optimizer with the same update (under `convention="torch"` where the method
            has one), e.g. `"torch.optim.Adam"`, or `None`: B1, the torch tests, and `sgdlab.torch`, whose
            optimizer of the same name takes that counterpart's keywords (`Method.from_torch`).
        torch_keywords: The counterpart's keywords that name this method's fields differently, as pairs
            `(keyword, field)`: a tuple of fields spreads a sequence (`("betas", ("beta1", "beta2"))`), a
            keyword listed twice gives its value to both fields (`("rho", "gamma"), ("rho", "rho")`); a keyword
            not listed is the field of the same name.

    Examples:
        >>> import sgdlab as sl
        >>> info = sl.methods.RMSProp.info
        >>> info.elementwise, info.full_batch, info.compiled, info.torch, info.torch_keywords
        (True, False, 'elementwise', 'torch.optim.RMSprop', (('alpha', 'gamma'),))
        >>> sl.methods.SVRG.info.elementwise, sl.methods.GD.info.full_batch
        (False, True)
    """

    elementwise: bool = True
    full_batch: bool = False
    fused: Fused | None = None
    compiled: str | None = None
    torch: str | None = None
    torch_keywords: tuple[tuple[str, str | tuple[str, ...]], ...] = ()


def flag(name: str, value: object) -> bool:
    """`value` as a bool after checking it is one (`True`/`False`, or a NumPy bool)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_torch_options(method: Any) -> None:
    """Check the options every torch.optim counterpart shares, in place: `convention` one of `CONVENTIONS` (first:
    a method's other ranges may depend on it), `weight_decay ≥ 0` and `maximize` a bool."""
    _checks.choice("convention", method.convention, CONVENTIONS)
    method.weight_decay = _checks.nonnegative("weight_decay", method.weight_decay)
    method.maximize = flag("maximize", method.maximize)


def _spread(keyword: str, fields: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`betas=(0.9, 0.999)` → `{"beta1": 0.9, "beta2": 0.999}`."""
    if not isinstance(value, tuple | list) or len(value) != len(fields):
        raise TypeError(f"{keyword} must be a tuple of {len(fields)} numbers, got {value!r}")
    return dict(zip(fields, value, strict=True))


def _torch_named(message: str, renames: tuple) -> str:
    """An error message that starts with a field's name, restated with torch's keyword (`beta1` → `betas[0]`)."""
    for keyword, field in renames:
        for i, name in enumerate(field if isinstance(field, tuple) else (field,)):
            if message.startswith(f"{name} "):
                shown = f"{keyword}[{i}]" if isinstance(field, tuple) else keyword
                return f"{shown}{message[len(name) :]}"
    return message


def registering_class(cls: type) -> type:
    """The class in `cls`'s MRO that defines the `MethodInfo` it has (`cls` itself if it registers one)."""
    return next(k for k in cls.__mro__ if "info" in vars(k))


def expected_smoothness(problem: Problem, batch_size: int) -> float:
    """`L_b = L_max/b + (1 − 1/b)·L`: the expected smoothness of a minibatch of `b` indices drawn
    uniformly with replacement (Gower et al., *SGD: general analysis and improved rates*, ICML 2019).

    Args:
        problem: A problem with the constants `L` and `L_max`.
        batch_size: The minibatch size `b` (values below 1 count as 1).

    Returns:
        `L_b`, from `L_max` (`b = 1`) down towards `L` (`b → ∞`).

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.1, seed=0))
        >>> sl.methods.expected_smoothness(prob, 1) == prob.L_max
        True
        >>> bool(prob.L < sl.methods.expected_smoothness(prob, 10) < prob.L_max)
        True
    """
    b = max(int(batch_size), 1)
    return problem.L_max / b + (1.0 - 1.0 / b) * problem.L


@dataclasses.dataclass(kw_only=True)
class Method:
    """Base class of all methods; subclasses are dataclasses whose fields are the hyperparameters.

    Examples:
        >>> import sgdlab as sl
        >>> adam = sl.methods.Adam(lr=0.01)
        >>> isinstance(adam, sl.methods.Method), adam.name, adam.hyperparameters()["beta2"]
        (True, 'Adam', 0.999)
        >>> import numpy as np
        >>> sl.methods.SAGA().step(np.zeros(2), np.zeros(2), {"k": 0})
        Traceback (most recent call last):
        ...
        TypeError: SAGA needs the problem's oracle; run it through sgdlab.run
    """

    #: What the method is and which implementations it has (each registered method defines its own).
    info: ClassVar[MethodInfo] = MethodInfo(elementwise=False)
    #: `info.full_batch`, kept as a class attribute for the engine and the playground.
    full_batch: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.full_batch = cls.info.full_batch
        spec = cls.info.fused
        if "info" in vars(cls) and spec is not None and spec.kernel not in fused.KERNELS:
            raise ValueError(f"{cls.__name__}: no fused kernel {spec.kernel!r}; known: {', '.join(fused.KERNELS)}")

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def fused_kernel(cls) -> Fused | None:
        """`info.fused` where that kernel computes this class's update: the registering class's own, or a
        subclass's that overrides neither `_update` nor any of the kernel's `hooks`; else `None`."""
        spec, owner = cls.info.fused, registering_class(cls)
        if spec is None or owner is cls:
            return spec
        same = all(getattr(cls, hook) is getattr(owner, hook) for hook in ("_update", *spec.hooks))
        return spec if same else None

    def fused_spec(self) -> Fused | None:
        """The fused kernel that computes this very configuration, with the state arrays it updates: `fused_kernel`,
        whose slots a method whose options add state arrays (AMSGrad's maximum, RMSProp's averages) fills in."""
        return type(self).fused_kernel()

    @classmethod
    def from_torch(cls, **keywords: Any) -> Method:
        """The method that `info.torch` runs with these keywords (torch's names, `info.torch_keywords`), under
        torch's convention; a refused value's error names torch's keyword. Implementation flags (`foreach`, …)
        are not hyperparameters: the caller removes them."""
        fields: dict[str, Any] = {}
        for keyword, value in keywords.items():
            targets = [field for name, field in cls.info.torch_keywords if name == keyword] or [keyword]
            for field in targets:
                if isinstance(field, tuple):
                    fields.update(_spread(keyword, field, value))
                else:
                    fields[field] = value
        if "convention" in {f.name for f in dataclasses.fields(cls)}:
            fields["convention"] = "torch"
        try:
            return cls(**fields)
        except (TypeError, ValueError) as error:
            raise type(error)(_torch_named(str(error), cls.info.torch_keywords)) from None

    @classmethod
    def check_torch_call(cls, keywords: dict[str, Any]) -> None:
        """Refuse, with torch's exception type, what `info.torch`'s constructor refuses besides out-of-range
        hyperparameters (which `from_torch` refuses): nothing, unless a method says otherwise."""

    def _validate(self) -> None:
        """Check hyperparameters; subclasses extend this and raise `ValueError` naming the parameter."""

    @property
    def name(self) -> str:
        return type(self).__name__

    def hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters as plain values (schedules as their text), for records and reports."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Schedule) else value
        return out

    # --- the update rule --------------------------------------------------------------------------
    def init(self, x: np.ndarray) -> State:
        """A fresh state for iterate `x` (arrays of `x`'s shape and dtype)."""
        _ops.check_iterate(x)
        return {"k": 0}

    def step(self, x: np.ndarray, g: np.ndarray, state: State) -> None:
        """Update `x` in place with gradient `g`."""
        raise TypeError(f"{self.name} needs the problem's oracle; run it through sgdlab.run")

    def fused_args(self) -> tuple:
        """The fused kernel's arguments after the step size and the per-step ones (`info.fused`)."""
        return ()

    def fused_step_args(self, k: int) -> tuple:
        """The fused kernel's arguments that change with the step counter `k` (right after the step size)."""
        return ()

    # --- the oracle protocol ----------------------------------------------------------------------
    def resolve(self, problem: Problem, batch_size: int = 1, total_iters: int | None = None) -> Method:
        """A copy with every unset hyperparameter derived from `problem` (and the run's length)."""
        return self

    def iterate(self, problem: Problem, x: np.ndarray, idx: np.ndarray, state: State) -> int:
        """One iteration on the samples `idx`; returns its cost in component-gradient evaluations."""
        self.step(x, problem.grad_batch(x, idx), state)
        return len(idx)


@dataclasses.dataclass(kw_only=True)
class SteppedMethod(Method):
    """A method with a step size `lr` (α) and a schedule: `α_k = lr · schedule(k)`.

    `lr=None` is resolved from the problem by `default_lr` when a run starts.

    Args:
        lr: The step size `α` (`None`: derived from the problem by `default_lr` when a run starts).
        schedule: The step-size schedule `s(k)`: a `Schedule` or its name or text (`"constant"`, `"1/k"`, …).

    Raises:
        ValueError: `lr` is not positive (`convention="torch"`: negative), or the schedule is unknown.

    Examples:
        An element-wise method steps a NumPy array in place, without a problem:

        >>> import numpy as np
        >>> import sgdlab as sl
        >>> sgd = sl.methods.SGD(lr=0.1)
        >>> x = np.array([1.0, -2.0])
        >>> state = sgd.init(x)
        >>> sgd.step(x, np.array([1.0, 1.0]), state)
        >>> x, state["k"]
        (array([ 0.9, -2.1]), 1)
    """

    lr: float | None = None
    schedule: str | Schedule = "constant"

    def _validate(self) -> None:
        if self.lr is not None:  # torch's lr = 0 freezes a group, or ends a schedule; a lab run needs a step
            self.lr = (_checks.nonnegative if self.torch_ranges else _checks.positive)("lr", self.lr)
        self.schedule = as_schedule(self.schedule)

    @property
    def torch_ranges(self) -> bool:
        """Whether hyperparameters may take torch.optim's ranges (`convention="torch"`): `lr = 0`, and
        momentum `≥ 1` where the method has one."""
        return getattr(self, "convention", None) == "torch"

    def sparse_update(self) -> str:
        """How a sparse gradient (`sgdlab.torch`) updates the iterate: `"rows"` — a zero gradient entry leaves
        its coordinate and state unchanged, so only the gradient's rows are stepped — or `"dense"` — as the
        densified gradient. `RuntimeError` (torch.optim's type) where the method refuses sparse gradients."""
        raise RuntimeError(f"{self.name} does not support sparse gradients")

    def default_lr(self, problem: Problem, batch_size: int) -> float:
        """The step size used when `lr` is unset (each subclass documents its rule and paper)."""
        raise TypeError(f"{self.name} has no default step size rule; pass lr=")

    def _inverse(
        self, rule: str, constant: str, value: float, numerator: float = 1.0, scale: float = 1.0, remedy: str = ""
    ) -> float:
        """`numerator / (scale · value)` for a default derived from a problem constant (`rule` is its formula, e.g.
        `"1/(2 L_b)"`): undefined, and refused naming the constant, when the constant is 0, negative, not finite,
        or so small that its inverse overflows."""
        what, remedy = f"{self.name}'s default {rule}", remedy or "pass lr="
        if not math.isfinite(value):
            raise ValueError(f"{what} is undefined because {constant} = {value}; {remedy}")
        if value <= 0:
            raise ValueError(
                f"{what} is undefined because {constant} = {value:g} (all-zero data, or a problem without "
                f"curvature); {remedy}"
            )
        inverse = numerator / (scale * value)
        if not math.isfinite(inverse):
            raise ValueError(
                f"{what} is undefined because {constant} = {value:.3g} is so small that its inverse overflows "
                f"float64; {remedy}, or rescale the data (sl.data.standardize)"
            )
        return inverse

    def resolve(self, problem: Problem, batch_size: int = 1, total_iters: int | None = None) -> Method:
        lr = self.lr if self.lr is not None else self.default_lr(problem, batch_size)
        # (checked again: a schedule assigned after construction is still a name or text)
        return dataclasses.replace(self, lr=lr, schedule=as_schedule(self.schedule).with_total(total_iters))

    def step(self, x: np.ndarray, g: np.ndarray, state: State) -> None:
        """Element-wise methods: advance the counter, then the fused kernel (`fused.step`) or the reference
        `_update`."""
        if not self.info.elementwise:
            return super().step(x, g, state)  # refuses
        alpha = self._advance(state, x, g)
        if not fused.step(self, x, g, state, alpha):
            self._update(x, g, state, alpha)

    def _update(self, x: np.ndarray, g: np.ndarray, state: State, alpha: float) -> None:
        """The reference update rule with step size `alpha` (`state["k"]` already advanced)."""
        raise TypeError(f"{self.name} defines no update rule")

    @property
    def constant_step_size(self) -> bool:
        """Whether `α_k` is the same at every `k` (a constant schedule, and no decay of the method's own)."""
        return isinstance(self.schedule, Constant)

    def step_size(self, state: State) -> float:
        """`α_k` for the iteration in progress (`state["k"]` already advanced)."""
        if self.lr is None:
            raise ValueError(
                f"{self.name}.lr is unset: pass lr=, or run through sgdlab.run, which derives it from the problem"
            )
        return self.lr * self.schedule(state["k"])

    def _check_eps(self, x) -> None:
        """`eps` keeps a denominator away from 0 only if it is not 0 in the iterate's type."""
        if _ops.rounds_to_zero(self.eps, x):
            raise ValueError(f"eps={self.eps:g} is 0 in {x.dtype}, the iterate's type: pass a larger eps, or float64")

    def _advance(self, state: State, x=None, g=None) -> float:
        """Advance the step counter and return `α_k` (checking, when given, that `g` matches `x`)."""
        if g is not None:
            _ops.check_step(x, g)
        if "k" not in state:
            raise ValueError(f"state must be {self.name}.init(x)'s (it has no step counter 'k')")
        state["k"] += 1
        return self.step_size(state)
