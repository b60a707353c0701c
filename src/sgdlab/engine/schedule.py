"""When a run measures: log-spaced checkpoints in iterations, optional regular ones in epochs, and the default.

The default (`points_per_decade="auto"`) keeps every curve informative — log-spaced, at least
`MIN_POINTS` checkpoints per run — while bounding what measuring costs. A checkpoint reads the whole data
set once (loss and gradient in one pass, `sgdlab.engine.metrics`), about a quarter of what an epoch of per-sample
steps costs (those read the rows in random order), so the default asks for
`max(MIN_POINTS, POINTS_PER_EPOCH · epochs)` checkpoints (`epochs` = the run's length in gradient evaluations
over `n`): the fewest points per decade, in steps of `AUTO_STEP` and at most `MAX_AUTO_PER_DECADE`
(the former default), whose schedule reaches that many over the run's iterations. Measured (B6, logistic
regression, n = 10⁵, dim = 100, per-sample SGD): measuring costs about half as much as optimising for runs of ten
epochs and more, and under five times as much for a one-epoch run (20 passes over the data against one epoch;
before: 88 and 108 checkpoints, 66–83× and 11–12×; the latest ratios are in benchmarks/results/b6_reproduce.json).
A run bounded only by seconds, whose length is unknown, gets `UNKNOWN_LENGTH_PER_DECADE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: Most checkpoints a run may ask for (`points_per_decade` at most, and `record_every` over a budget of
#: evaluations): every checkpoint costs a full loss evaluation and a row of the trace.
MAX_CHECKPOINTS = 10**6
#: The default `points_per_decade`: chosen from the budget (module docstring).
AUTO = "auto"
MIN_POINTS = 20
POINTS_PER_EPOCH = 2
AUTO_STEP = 0.5
MAX_AUTO_PER_DECADE = 20
UNKNOWN_LENGTH_PER_DECADE = 10


def log_checkpoints(points_per_decade: float | None) -> Callable[[int], float]:
    """The first log-spaced checkpoint after iteration `k` (1, 2, …, then ~`points_per_decade` per decade);
    `None` turns log-spaced checkpoints off."""
    if points_per_decade is None:
        return lambda k: math.inf
    ratio = 10.0 ** (1.0 / points_per_decade)

    def after(k: int) -> int:
        return max(k + 1, math.ceil(k * ratio))

    return after


def count_checkpoints(points_per_decade: float, total_iters: int) -> int:
    """How many checkpoints a run of `total_iters` iterations records with `points_per_decade` (`x0`, the
    log-spaced iterations below `total_iters`, the last iterate)."""
    after, k, count = log_checkpoints(points_per_decade), 0, 1
    while (k := after(k)) < total_iters:
        count += 1
    return count + 1


def auto_points_per_decade(total_iters: float, evals_per_iter: float, n: int) -> float:
    """The default `points_per_decade` for a run of `total_iters` iterations (module docstring)."""
    if not math.isfinite(total_iters):
        return UNKNOWN_LENGTH_PER_DECADE
    wanted = max(MIN_POINTS, POINTS_PER_EPOCH * total_iters * evals_per_iter / n)
    steps = round(MAX_AUTO_PER_DECADE / AUTO_STEP)
    for points in (AUTO_STEP * k for k in range(round(1 / AUTO_STEP), steps)):
        if count_checkpoints(points, int(total_iters)) >= wanted:
            return points
    return MAX_AUTO_PER_DECADE


@dataclass
class Schedule:
    """The next checkpoint, in iterations (log-spaced) and in evaluations (every `every_evals`)."""

    points_per_decade: float | None
    every_evals: float
    next_iter: float = 0
    next_evals: float = 0

    def __post_init__(self) -> None:
        self._after = log_checkpoints(self.points_per_decade)

    def start(self) -> None:
        self.next_iter, self.next_evals = self._after(0), self.every_evals

    def advance(self, it: int, ev: float) -> None:
        """Past the checkpoint just reached at iteration `it` after `ev` evaluations."""
        while self.next_iter <= it:
            self.next_iter = self._after(self.next_iter)
        while self.next_evals <= ev:
            self.next_evals += self.every_evals
