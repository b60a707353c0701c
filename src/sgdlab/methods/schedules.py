"""Step-size schedules: multiplicative factors `s(k)` so that the step at iteration `k ≥ 1` is `α_k = α·s(k)`.

Names accepted wherever a schedule is: `"constant"` (1), `"1/k"` (α/k), `"1/sqrt(k)"` (α/√k),
`"cosine"` (needs the run's length, which `sgdlab.run` supplies); parametrised ones are objects:
`StepDecay(every, factor)`, `Cosine(total, final)`, `Warmup(steps, then)`, `InverseTime(k0)`, or their
text, e.g. `"InverseTime(k0=400)"` — what a record shows is what an experiment file can ask for.
"""

from __future__ import annotations

import ast
import dataclasses
import math
from dataclasses import dataclass, replace

from sgdlab import _checks


class Schedule:
    """A factor `s(k)` for iterations `k = 1, 2, …`.

    Subclasses are frozen dataclasses whose `__call__(k)` is `s(k)`; `str(schedule)` is its text, which
    `as_schedule` (and an experiment file) reads back.

    Examples:
        >>> from sgdlab.methods import InverseTime, Schedule
        >>> isinstance(InverseTime(), Schedule), str(InverseTime(k0=10))
        (True, 'InverseTime(k0=10)')
    """

    def __call__(self, k: int) -> float:
        raise TypeError(f"{type(self).__name__} is abstract")

    def with_total(self, total: int | None) -> Schedule:
        """This schedule, told the run's total number of iterations (only some schedules need it)."""
        return self


@dataclass(frozen=True)
class Constant(Schedule):
    """`s(k) = 1`.

    Examples:
        >>> from sgdlab.methods import Constant
        >>> [Constant()(k) for k in (1, 10, 100)], str(Constant())
        ([1.0, 1.0, 1.0], 'constant')
    """

    def __call__(self, k: int) -> float:
        return 1.0

    def __str__(self) -> str:
        return "constant"


@dataclass(frozen=True)
class InverseTime(Schedule):
    """`s(k) = k0 / (k0 + k − 1)`: the lecture's `α_k = α0/k` for `k0 = 1`, delayed decay for larger `k0`.

    Args:
        k0: The delay `k0 > 0`: the factor halves at `k = k0 + 1`. A good `k0` is about the number of
            iterations the constant step `α` needs to reach its noise floor.

    Raises:
        ValueError: `k0` is not positive.

    Examples:
        >>> from sgdlab.methods import InverseTime
        >>> [InverseTime()(k) for k in (1, 2, 4)]
        [1.0, 0.5, 0.25]
        >>> [InverseTime(k0=10)(k) for k in (1, 11, 91)]
        [1.0, 0.5, 0.1]
    """

    k0: float = 1.0

    def __post_init__(self) -> None:
        _checks.positive("k0", self.k0)

    def __call__(self, k: int) -> float:
        return self.k0 / (self.k0 + k - 1)

    def __str__(self) -> str:
        return "1/k" if self.k0 == 1 else f"InverseTime(k0={self.k0:g})"


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """`s(k) = 1/√k`.

    Examples:
        >>> from sgdlab.methods import InverseSqrt
        >>> [InverseSqrt()(k) for k in (1, 4, 100)], str(InverseSqrt())
        ([1.0, 0.5, 0.1], '1/sqrt(k)')
    """

    def __call__(self, k: int) -> float:
        return 1.0 / math.sqrt(k)

    def __str__(self) -> str:
        return "1/sqrt(k)"


@dataclass(frozen=True)
class StepDecay(Schedule):
    """`s(k) = factor^⌊(k−1)/every⌋`: multiply the step by `factor` every `every` iterations.

    Args:
        every: Iterations between two decays (a positive integer).
        factor: The multiplier, in `(0, 1)`.

    Raises:
        ValueError: `every` is not a positive integer, or `factor` is not in `(0, 1)`.

    Examples:
        >>> from sgdlab.methods import StepDecay
        >>> decay = StepDecay(every=100, factor=0.5)
        >>> [decay(k) for k in (1, 100, 101, 201)]
        [1.0, 1.0, 0.5, 0.25]
    """

    every: int = 1000
    factor: float = 0.1

    def __post_init__(self) -> None:
        _checks.positive_int("every", self.every)
        _checks.open_unit_interval("factor", self.factor)

    def __call__(self, k: int) -> float:
        return self.factor ** ((k - 1) // self.every)


@dataclass(frozen=True)
class Cosine(Schedule):
    """`s(k) = final + (1 − final)·(1 + cos(π (k−1)/total))/2` for `k ≤ total`, then `final`.

    Loshchilov & Hutter, *SGDR* (2017), without restarts. `total=None` takes the run's length.

    Args:
        total: Iterations the decay spans (a positive integer; `None`: the run's length, set by `sgdlab.run`).
        final: The factor at the end, in `[0, 1]`.

    Raises:
        ValueError: `total` is not a positive integer or `final` not in `[0, 1]`; calling the schedule before
            `total` is known.

    Examples:
        >>> from sgdlab.methods import Cosine
        >>> cosine = Cosine(total=100, final=0.1)
        >>> [round(cosine(k), 3) for k in (1, 51, 101, 500)]
        [1.0, 0.55, 0.1, 0.1]
    """

    total: int | None = None
    final: float = 0.0

    def __post_init__(self) -> None:
        if self.total is not None:
            _checks.positive_int("total", self.total)
        _checks.closed_unit_interval("final", self.final)

    def with_total(self, total: int | None) -> Schedule:
        return self if self.total is not None or total is None else replace(self, total=max(int(total), 1))

    def __call__(self, k: int) -> float:
        if self.total is None:
            raise ValueError("Cosine schedule needs total=: the number of iterations it spans")
        t = min(k - 1, self.total) / self.total
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up `s(k) = k/steps` for `k ≤ steps`, then `then(k − steps)` (Goyal et al., 2017).

    Args:
        steps: Warm-up iterations (a positive integer).
        then: The schedule after the warm-up (a `Schedule`, or its name or text), counted from 1 again.

    Raises:
        ValueError: `steps` is not a positive integer, or `then` is not a schedule.

    Examples:
        >>> from sgdlab.methods import Warmup
        >>> warmup = Warmup(steps=4, then="1/k")
        >>> [warmup(k) for k in (1, 2, 4, 5, 6)]
        [0.25, 0.5, 1.0, 1.0, 0.5]
    """

    steps: int = 100
    then: Schedule = Constant()

    def __post_init__(self) -> None:
        _checks.positive_int("steps", self.steps)
        object.__setattr__(self, "then", as_schedule(self.then, "then"))

    def with_total(self, total: int | None) -> Schedule:
        return replace(self, then=self.then.with_total(None if total is None else max(total - self.steps, 1)))

    def __call__(self, k: int) -> float:
        return k / self.steps if k <= self.steps else self.then(k - self.steps)


_NAMED = {"constant": Constant(), "1/k": InverseTime(), "1/sqrt(k)": InverseSqrt(), "cosine": Cosine()}
SCHEDULE_NAMES: tuple[str, ...] = tuple(_NAMED)


_CLASSES = {cls.__name__: cls for cls in (Constant, InverseTime, InverseSqrt, StepDecay, Cosine, Warmup)}


def _parse_call(text: str) -> Schedule | None:
    """`"InverseTime(k0=400)"` → `InverseTime(k0=400)`: a class name with literal keyword arguments."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _CLASSES):
        return None
    cls = _CLASSES[call.func.id]
    fields = [f.name for f in dataclasses.fields(cls)]
    known = ", ".join(fields) or "none"
    if call.args or any(k.arg is None for k in call.keywords):
        raise ValueError(f"schedule must be written with {cls.__name__}'s parameters by name ({known}); got {text!r}")
    kwargs = {}
    for keyword in call.keywords:
        if keyword.arg not in fields:
            raise ValueError(
                f"schedule must be written with {cls.__name__}'s parameters ({known}); got {keyword.arg!r} in {text!r}"
            )
        if keyword.arg == "then" and isinstance(keyword.value, ast.Call):  # a nested schedule
            kwargs["then"] = _parse_call(ast.unparse(keyword.value))
            if kwargs["then"] is None:
                return None
            continue
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            raise ValueError(f"schedule must be written with literal values; got {keyword.arg}= in {text!r}") from None
    return cls(**kwargs)


def as_schedule(spec: str | Schedule | None, name: str = "schedule") -> Schedule:
    """A schedule from a name, its text (`"StepDecay(every=100, factor=0.5)"`) or an object (`None`: constant);
    `name` is the argument's name in error messages."""
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str) and spec in _NAMED:
        return _NAMED[spec]
    parsed = _parse_call(spec) if isinstance(spec, str) else None
    if parsed is not None:
        return parsed
    raise ValueError(
        f"{name} must be a Schedule, its text such as 'InverseTime(k0=10)', or one of "
        f"{', '.join(map(repr, SCHEDULE_NAMES))}; got {spec!r}"
    )
