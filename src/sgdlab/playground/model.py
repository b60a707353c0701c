"""What the playground shows, as plain Python: a problem, a method and its settings → a path and its curves.

Nothing here draws or needs Bokeh, and nothing here computes an update: a path is
[`sgdlab.viz.trajectories.iterate_path`][sgdlab.viz.trajectories.iterate_path] (the engine's sampler, `resolve`, `init`
and segment function, so it ends where `sl.run` with the same arguments ends), the curves are the problem's own `loss`
(batched: `loss_many`) and `grad` at each iterate, and the contours are `sgdlab.viz.trajectories.loss_grid`.

Divergence is a result, never an exception: a path stops where `iterate_path` stops (`‖x‖²` overflowed)
or at the first iterate whose loss is not finite or exceeds `f* + D·max(f(x0) − f*, 1)`, with `D` the
engine's own default `divergence_factor` — the rule `sl.run` applies at its checkpoints, here applied
at every iterate because every iterate is drawn.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import sgdlab as sl
from sgdlab.methods import METHODS
from sgdlab.problems import AdamCounterexample, Quadratic2D, Rosenbrock, TwoParameterLeastSquares
from sgdlab.problems.base import Problem
from sgdlab.viz.trajectories import iterate_path, loss_grid

#: The problems the playground offers, by key: their labels in the problem menu.
PROBLEMS: dict[str, str] = {
    "quadratic": "ill-conditioned quadratic",
    "rosenbrock": "Rosenbrock",
    "least-squares": "least squares, 2 parameters",
    "reddi": "Reddi et al. (1-D)",  # short enough for the menu's width (the caption names the problem)
}

#: The methods the playground offers (every sgdlab method with a 2-D picture worth drawing; SLBFGS needs
#: larger problems to mean anything).
METHOD_NAMES: tuple[str, ...] = (
    "GD", "SGD", "Momentum", "Nesterov", "Adagrad", "RMSProp", "Adadelta", "Adam", "AMSGrad", "AdamW",
    "SAG", "SAGA", "SVRG",
)  # fmt: skip

#: Hyperparameters the playground has a control for; a method shows those among its dataclass fields.
HYPERPARAMETERS: tuple[str, ...] = (
    "lr", "schedule", "beta", "gamma", "rho", "beta1", "beta2", "eps", "weight_decay",
)  # fmt: skip

#: The step-size schedules offered (the engine's names).
SCHEDULES: tuple[str, ...] = ("constant", "1/k", "1/sqrt(k)")

#: `sl.run`'s default divergence factor `D` (read from its signature, not copied).
DIVERGENCE_FACTOR: float = inspect.signature(sl.run).parameters["divergence_factor"].default

MAX_STEPS = 5000


@dataclass(frozen=True)
class ProblemSettings:
    """Which problem, and its parameters (`kappa`, `angle` in radians: the quadratic; `C`: Reddi's)."""

    key: str = "quadratic"
    kappa: float = 10.0
    angle: float = 0.5
    C: float = 3.0

    def __post_init__(self) -> None:
        if self.key not in PROBLEMS:
            raise ValueError(f"unknown problem {self.key!r}; choose from {', '.join(PROBLEMS)}")

    def normalised(self) -> ProblemSettings:
        """The same problem with the parameters it does not use reset, so that they do not split caches."""
        base = ProblemSettings(self.key)
        if self.key == "quadratic":
            return dataclasses.replace(base, kappa=float(self.kappa), angle=float(self.angle))
        if self.key == "reddi":
            return dataclasses.replace(base, C=float(self.C))
        return base


@dataclass(frozen=True)
class SlotSettings:
    """One method and its hyperparameters; fields the method does not have are ignored."""

    method: str = "SGD"
    lr: float = 0.05
    schedule: str = "constant"
    batch_size: int = 1
    beta: float = 0.9
    gamma: float = 0.9
    rho: float = 0.95
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    @classmethod
    def for_method(cls, method: str, **settings: Any) -> SlotSettings:
        """`method` with its own defaults (its dataclass's) for every hyperparameter not in `settings`."""
        return cls(method, **{**method_defaults(method), **settings})

    def __post_init__(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHOD_NAMES)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}")

    def normalised(self) -> SlotSettings:
        """Only the fields the method uses (the others at their defaults), so that caches do not split."""
        base = SlotSettings(self.method)
        used = {name: getattr(self, name) for name in method_hyperparameters(self.method)}
        if not METHODS[self.method].full_batch:
            used["batch_size"] = int(self.batch_size)
        return dataclasses.replace(base, **used)


def method_hyperparameters(name: str) -> tuple[str, ...]:
    """The playground's controls that `name` has (its dataclass fields among `HYPERPARAMETERS`)."""
    fields = {f.name for f in dataclasses.fields(METHODS[name])}
    return tuple(h for h in HYPERPARAMETERS if h in fields)


def method_defaults(name: str) -> dict[str, Any]:
    """The method's own defaults for the playground's controls (`lr` only where the method has one)."""
    out = {}
    for f in dataclasses.fields(METHODS[name]):
        if f.name in HYPERPARAMETERS and f.default is not dataclasses.MISSING and f.default is not None:
            out[f.name] = str(f.default) if f.name == "schedule" else f.default
    return out


def uses_batch(name: str) -> bool:
    """Whether the method samples a minibatch (`False` for GD, which uses the full gradient)."""
    return not METHODS[name].full_batch


def make_method(slot: SlotSettings) -> sl.methods.Method:
    """The sgdlab method of `slot` with exactly the hyperparameters it has."""
    cls = METHODS[slot.method]
    return cls(**{name: getattr(slot, name) for name in method_hyperparameters(slot.method)})


@functools.lru_cache(maxsize=32)
def _problem(settings: ProblemSettings) -> Problem:
    if settings.key == "quadratic":
        return Quadratic2D(kappa=settings.kappa, angle=settings.angle)
    if settings.key == "rosenbrock":
        return Rosenbrock()
    if settings.key == "least-squares":
        return TwoParameterLeastSquares()
    return AdamCounterexample(C=settings.C)


def make_problem(settings: ProblemSettings) -> Problem:
    """The sgdlab problem of `settings` (one instance per setting: `x*` is certified once)."""
    return _problem(settings.normalised())


@dataclass(frozen=True)
class Result:
    """One slot's run: its iterates (cut at divergence), `f − f*` and `‖∇f‖²` at each of them."""

    label: str
    path: np.ndarray  # (m, dim): x0 and the iterates up to the cut (m = steps + 1 unless it diverged)
    k: np.ndarray  # 0 .. m − 1
    gap: np.ndarray  # f(x_k) − f*
    grad_norm2: np.ndarray  # ‖∇f(x_k)‖²
    steps: int  # what was asked for
    diverged_at: int | None  # the first iteration flagged as diverged, or None
    lr: float  # the step size the run used (after resolve)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def _label(slot: SlotSettings, batch: int | None) -> str:
    parts = [slot.method, f"α={slot.lr:.3g}"]
    if slot.schedule != "constant" and "schedule" in method_hyperparameters(slot.method):
        parts[-1] += "/k" if slot.schedule == "1/k" else "/√k"
    names = {"beta": "β", "gamma": "γ", "rho": "ρ", "beta1": "β1", "beta2": "β2", "weight_decay": "λ"}
    shown = [h for h in method_hyperparameters(slot.method) if h in names]
    shown = [h for h in shown if h != "weight_decay" or slot.weight_decay]  # Adam's coupled L2 is 0 by default
    parts += [f"{names[h]}={getattr(slot, h):.4g}" for h in shown]
    if batch is not None:
        parts.append(f"b={batch}")
    return " ".join(parts)


def compute(problem: ProblemSettings, slot: SlotSettings, steps: int, seed: int) -> Result:
    """Run `slot`'s method for `steps` iterations from the problem's `x0` with `seed` (cached)."""
    steps = int(steps)
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be in 1..{MAX_STEPS}, got {steps}")
    return _compute(problem.normalised(), slot.normalised(), steps, int(seed))


@functools.lru_cache(maxsize=256)
def _compute(settings: ProblemSettings, slot: SlotSettings, steps: int, seed: int) -> Result:
    problem = make_problem(settings)
    batch = min(int(slot.batch_size), problem.n) if uses_batch(slot.method) else None
    method = make_method(slot)
    path = iterate_path(problem, method, steps, batch_size=batch or 1, seed=seed)
    f_star = problem.f_star
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        finite = np.isfinite(path).all(axis=1)
        losses = np.full(len(path), math.inf)
        losses[finite] = problem.loss_many(path[finite])
        blow_up = f_star + DIVERGENCE_FACTOR * max(losses[0] - f_star, 1.0)
        bad = ~np.isfinite(losses) | (losses > blow_up)
        if bad.any():
            diverged_at = int(np.argmax(bad))
        elif len(path) < steps + 1:  # iterate_path stopped: ‖x‖² overflowed there
            diverged_at = len(path) - 1
        else:
            diverged_at = None
        # every point before the first flagged one, and that one too while its loss is finite (it has left the view)
        keep = len(path) if diverged_at is None else diverged_at + int(np.isfinite(losses[diverged_at]))
        path, losses = path[:keep], losses[:keep]
        grads = np.array([float(g @ g) for g in (problem.grad(x) for x in path)])
    lr = method.resolve(problem, batch or problem.n, steps).lr
    return Result(
        label=_label(slot, batch),
        path=path,
        k=np.arange(len(path)),
        gap=losses - f_star,
        grad_norm2=grads,
        steps=steps,
        diverged_at=diverged_at,
        lr=float(lr),
    )


def x0(settings: ProblemSettings) -> np.ndarray:
    """Where every path starts (the problem's `initial_point`, as `sl.run` uses it)."""
    return np.asarray(make_problem(settings).initial_point(), dtype=float)


def x_star(settings: ProblemSettings) -> np.ndarray:
    return np.asarray(make_problem(settings).x_star, dtype=float)


#: Hand-picked views where the box around `x0` and `x*` misses the interesting part.
_VIEWS = {"rosenbrock": (-2.0, 2.0, -1.0, 3.0)}


def view_box(settings: ProblemSettings) -> tuple[float, float, float, float]:
    """The square box a 2-D problem is shown in: centred on `x*`, with `x0` well inside it."""
    settings = settings.normalised()
    if settings.key in _VIEWS:
        return _VIEWS[settings.key]
    problem = make_problem(settings)
    if problem.dim != 2:
        raise ValueError(f"{problem.name} is one-dimensional: it has no contour view")
    centre, start = x_star(settings), x0(settings)
    half = 1.3 * max(float(np.max(np.abs(start - centre))), 1e-3)
    return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


@dataclass(frozen=True)
class Contours:
    """`log10(f − f*)` on a grid over the view box, and the levels to draw (equally spaced logs)."""

    xs: np.ndarray
    ys: np.ndarray
    log_gap: np.ndarray  # (len(ys), len(xs))
    levels: np.ndarray


def contours(settings: ProblemSettings, resolution: int = 80, levels: int = 16) -> Contours:
    """Contours of a 2-D problem over a box twice the view's size (panning stays covered); cached."""
    return _contours(settings.normalised(), int(resolution), int(levels))


@functools.lru_cache(maxsize=16)
def _contours(settings: ProblemSettings, resolution: int, levels: int) -> Contours:
    problem = make_problem(settings)
    xmin, xmax, ymin, ymax = view_box(settings)
    wx, wy = (xmax - xmin) / 2, (ymax - ymin) / 2
    X, Y, Z = loss_grid(problem, (xmin - wx, xmax + wx, ymin - wy, ymax + wy), resolution)
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = Z[np.isfinite(Z) & (Z > 0)]
        hi = float(positive.max()) if positive.size else 1.0
        lo = max(float(positive.min()), hi * 1e-10) if positive.size else hi * 1e-10
        Z = np.clip(np.where(np.isfinite(Z), Z, hi), lo, hi)
        log_gap = np.log10(Z)
    return Contours(X[0].copy(), Y[:, 0].copy(), log_gap, np.linspace(math.log10(lo), math.log10(hi), levels))


def describe(settings: ProblemSettings) -> dict[str, Any]:
    """The problem's name and exact constants, for the page's caption."""
    problem = make_problem(settings)
    return {"name": problem.name, "kind": type(problem).__name__, "n": problem.n, "dim": problem.dim, "L": problem.L,
            "mu": problem.mu, "L_max": problem.L_max, "f_star": problem.f_star, "x_star": x_star(settings)}  # fmt: skip


#: What each problem starts with: the three slots' settings, the steps and whether slots 2 and 3 show.
PRESETS: dict[str, dict[str, Any]] = {
    "quadratic": {
        "steps": 300,
        "slots": (
            SlotSettings.for_method("SGD", lr=0.05, batch_size=1),
            SlotSettings.for_method("Momentum", lr=0.01, beta=0.9, batch_size=4),
            SlotSettings.for_method("Adam", lr=0.05, batch_size=4),
        ),
    },
    "rosenbrock": {
        "steps": 2000,
        "slots": (
            SlotSettings.for_method("GD", lr=1e-3),
            SlotSettings.for_method("Momentum", lr=3e-4, beta=0.9, batch_size=2),
            SlotSettings.for_method("Adam", lr=0.05, batch_size=2),
        ),
    },
    "least-squares": {
        "steps": 200,
        "slots": (
            SlotSettings.for_method("SGD", lr=0.1, batch_size=2),
            SlotSettings.for_method("SGD", lr=0.1, schedule="1/sqrt(k)", batch_size=2),
            SlotSettings.for_method("SAGA", lr=0.1, batch_size=2),
        ),
    },
    "reddi": {
        "steps": 2000,
        "slots": (  # Reddi et al.'s Theorem 1 setting, as the lecture's claim runs it
            SlotSettings.for_method("Adam", lr=0.5, schedule="1/sqrt(k)", beta1=0.0, beta2=0.1, batch_size=1),
            SlotSettings.for_method("AMSGrad", lr=0.5, schedule="1/sqrt(k)", beta1=0.0, beta2=0.1, batch_size=1),
            SlotSettings.for_method("SGD", lr=0.01, batch_size=1),
        ),
    },
}
