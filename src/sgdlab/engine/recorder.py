"""The recorder: what a run measures at each checkpoint, into the trace's columns, and how long measuring took."""

from __future__ import annotations

import time

import numpy as np

from sgdlab.engine.metrics import evaluate, loss_and_grad
from sgdlab.engine.trace import COUNTERS
from sgdlab.problems.base import Problem


class Recorder:
    """Appends one row per checkpoint: the counters, then `record`'s metrics (`loss` always, from the same
    pass as `grad_norm2` — `sgdlab.engine.metrics`), then `test_*` metrics when `test` is given (the
    problem's `evaluate`, through `sgdlab.engine.metrics.evaluate`).

    `measure_s` sums the wall time of every measurement (never part of `time_s`)."""

    def __init__(
        self,
        problem: Problem,
        record: tuple[str, ...],
        *,
        f_star: float | None,
        x_star: np.ndarray | None,
        test: object | None = None,
        columns: dict[str, list[float]] | None = None,
        measure_s: float = 0.0,
    ) -> None:
        self.problem, self.record, self.test = problem, record, test
        self.f_star, self.x_star = f_star, x_star
        self.columns = columns if columns is not None else {name: [] for name in (*COUNTERS, *record)}
        self.measure_s = float(measure_s)

    def measure(self, x: np.ndarray, it: int, ev: float, elapsed: float) -> float:
        """Record the checkpoint at `x` after `it` iterations, `ev` evaluations and `elapsed` seconds of
        optimisation; returns the loss."""
        started = time.perf_counter()
        problem, record = self.problem, self.record
        loss, g = loss_and_grad(problem, x, want_grad="grad_norm2" in record)
        values = {"iters": it, "grad_evals": ev, "epochs": ev / problem.n, "time_s": elapsed, "loss": loss}
        if "subopt" in record:
            values["subopt"] = loss - self.f_star
        if g is not None:
            values["grad_norm2"] = float(g @ g)
        if "dist2" in record:
            d = x - self.x_star
            values["dist2"] = float(d @ d)
        if self.test is not None:
            values.update({f"test_{k}": v for k, v in evaluate(problem, x, self.test).items()})
        for key, value in values.items():
            self.columns.setdefault(key, []).append(float(value))
        self.measure_s += time.perf_counter() - started
        return loss
