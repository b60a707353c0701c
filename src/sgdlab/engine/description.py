"""A run described and validated before anything starts: `describe` checks every argument of `sgdlab.run`."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np

from sgdlab import _checks
from sgdlab.engine.checkpoint import Checkpoint
from sgdlab.engine.prepare import resolve_method, starting_point
from sgdlab.engine.samplers import SAMPLERS
from sgdlab.engine.schedule import AUTO, MAX_CHECKPOINTS
from sgdlab.engine.trace import METRICS
from sgdlab.methods.base import Method
from sgdlab.problems.base import Problem


@dataclass(frozen=True)
class RunDescription:
    """Every setting of one run, checked: budgets as `max_evals`/`max_iters`/`max_seconds` (`inf` when
    not given), `record` as a tuple of metric names, `x0` the checked starting point (never iterated on)."""

    problem: Problem
    method: Method
    max_evals: float
    max_iters: float
    max_seconds: float
    batch_size: int
    sampler: str
    seed: int
    x0: np.ndarray
    points_per_decade: int | str | None
    record_every: float | None
    record: tuple[str, ...]
    test: object | None
    target_subopt: float | None
    divergence_factor: float
    checkpoint_path: str | os.PathLike | None
    checkpoint_every: float
    resume: Checkpoint | None

    @property
    def needs_optimum(self) -> bool:
        return any(name in self.record for name in ("subopt", "dist2")) or self.target_subopt is not None

    def signature(self) -> dict | None:
        """What a checkpoint must match to be resumed by this run (`None` when the run neither saves nor resumes)."""
        if self.checkpoint_path is None and self.resume is None:
            return None
        problem, method = self.problem, self.method
        return {
            "problem": problem.name, "data": problem.fingerprint(), "params": repr(problem.params()),
            "method": method.name, "hyperparameters": repr(method.hyperparameters()), "batch_size": self.batch_size,
            "sampler": self.sampler, "seed": self.seed, "budget": (self.max_evals, self.max_iters, self.max_seconds),
            "record": tuple(self.record), "points_per_decade": self.points_per_decade,
            "record_every": self.record_every, "x0": hashlib.sha256(self.x0.tobytes()).hexdigest(),
            "dtype": str(self.x0.dtype), "target_subopt": self.target_subopt,
            "divergence_factor": self.divergence_factor,
        }  # fmt: skip


def budgets(problem, epochs, grad_evals, iters, seconds) -> tuple[float, float, float]:
    """`(max_evals, max_iters, max_seconds)` from the budget arguments of `sgdlab.run`."""
    if epochs is None and grad_evals is None and iters is None and seconds is None:
        raise ValueError("give a budget: epochs=, grad_evals=, iters= or seconds=")
    max_evals = math.inf
    if epochs is not None:
        max_evals = _checks.positive("epochs", epochs) * problem.n
        if max_evals == math.inf:  # no budget at all, silently
            raise ValueError(f"epochs={epochs:g} is too large: epochs·n overflows float64")
    if grad_evals is not None:
        max_evals = min(max_evals, _checks.positive("grad_evals", grad_evals))
    max_iters = _checks.positive_int("iters", iters) if iters is not None else math.inf
    max_seconds = _checks.positive("seconds", seconds) if seconds is not None else math.inf
    return max_evals, max_iters, max_seconds


def checked_record_every(problem: Problem, record_every: object, max_evals: float) -> float:
    """`record_every` (epochs), checked: at least one component gradient apart, and not more than
    `MAX_CHECKPOINTS` over a budget of evaluations — otherwise the schedule could not advance."""
    record_every = _checks.positive("record_every", record_every)
    if record_every * problem.n < 1:
        raise ValueError(
            f"record_every must be at least 1/n = {1 / problem.n:.3g} epochs (one component gradient) for "
            f"{problem.name}, got {record_every:g}"
        )
    count = max_evals / (record_every * problem.n)  # inf without a budget of evaluations: bounded by the iterations
    if math.isfinite(count) and count > MAX_CHECKPOINTS:
        raise ValueError(
            f"record_every={record_every:g} epochs asks for {count:.3g} checkpoints over the budget of "
            f"{max_evals / problem.n:g} epochs, more than {MAX_CHECKPOINTS:,}: pass a larger record_every"
        )
    return record_every


def describe(
    problem: Problem,
    method: Method | str,
    *,
    epochs=None,
    grad_evals=None,
    iters=None,
    seconds=None,
    batch_size=1,
    sampler="uniform",
    seed=0,
    x0=None,
    dtype=None,
    points_per_decade=AUTO,
    record_every=None,
    record=None,
    test=None,
    target_subopt=None,
    divergence_factor=1e8,
    checkpoint_path=None,
    checkpoint_every=30.0,
    resume=None,
) -> RunDescription:
    """Check the arguments of `sgdlab.run` (same names, same meanings) and return the run they describe."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an sgdlab problem, got {type(problem).__name__}")
    method = resolve_method(method)
    if record is None:
        record = METRICS if problem.has_optimum else ("loss", "grad_norm2")
    record = _checks.choices("record", record, METRICS)
    max_evals, max_iters, max_seconds = budgets(problem, epochs, grad_evals, iters, seconds)
    if points_per_decade is not None and not (isinstance(points_per_decade, str) and points_per_decade == AUTO):
        points_per_decade = _checks.positive_int("points_per_decade", points_per_decade, at_most=MAX_CHECKPOINTS)
    if record_every is not None:
        record_every = checked_record_every(problem, record_every, max_evals)
    divergence_factor = _checks.positive("divergence_factor", divergence_factor)
    seed = _checks.seed("seed", seed)
    _checks.choice("sampler", sampler, SAMPLERS)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if method.full_batch:
        sampler, batch_size = "full", problem.n
    if target_subopt is not None:
        target_subopt = _checks.nonnegative("target_subopt", target_subopt)
        if not problem.has_optimum:
            raise ValueError(f"target_subopt needs a certified optimum, which {problem.name} does not have")
    if not problem.has_optimum and any(name in record for name in ("subopt", "dist2")):
        raise ValueError(f"record: subopt and dist2 need a certified optimum, which {problem.name} does not have")
    if test is not None:
        problem.check_test_data(test)
    if checkpoint_path is not None and not isinstance(checkpoint_path, str | os.PathLike):
        kind = type(checkpoint_path).__name__
        raise TypeError(f"checkpoint_path must be a file path, got {kind} {checkpoint_path!r}")
    checkpoint_every = _checks.nonnegative("checkpoint_every", checkpoint_every)
    x = starting_point(problem, x0, dtype)
    if resume is not None and not isinstance(resume, Checkpoint):
        resume = Checkpoint.load(resume)
    return RunDescription(
        problem, method, max_evals, max_iters, max_seconds, batch_size, sampler, seed, x, points_per_decade,
        record_every, tuple(record), test, target_subopt, divergence_factor, checkpoint_path, checkpoint_every,
        resume,
    )  # fmt: skip
