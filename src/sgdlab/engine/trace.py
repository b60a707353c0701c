"""`Trace`: what a run recorded at its checkpoints, and how it ended."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: Columns recorded at every checkpoint, in order.
COUNTERS = ("iters", "grad_evals", "epochs", "time_s")
METRICS = ("loss", "subopt", "grad_norm2", "dist2")
#: How a run can end (a sweep adds "error" for runs that raised); runs with these statuses are finished.
STATUSES = ("ok", "budget", "diverged")


@dataclasses.dataclass
class Trace:
    """The record of one run.

    Per checkpoint: ``iters``, ``grad_evals`` (component-gradient evaluations), ``epochs``
    (``grad_evals / n``), ``time_s`` (optimisation time only — checkpoints are not counted), ``loss``
    ``f(x)``, ``subopt`` ``f(x) − f*``, ``grad_norm2`` ``‖∇f(x)‖²``, ``dist2`` ``‖x − x*‖²`` and any ``test_*``
    metrics. ``measure_s`` is the wall time the measurements took (all checkpoints together), beside the
    optimisation's ``time_s[-1]``. ``status`` is ``"budget"`` when the budget ran out, ``"ok"`` when a target
    was met, and ``"diverged"`` when the loss became non-finite or exploded (``diverged_at`` gives the iteration).
    """

    problem: str
    method: str
    hyperparameters: dict[str, Any]
    seed: int
    batch_size: int
    sampler: str
    columns: dict[str, np.ndarray]
    x: np.ndarray
    status: str
    diverged_at: int | None = None
    message: str = ""
    #: Wall time of every checkpoint's measurement together, in seconds (not part of ``time_s``).
    measure_s: float = 0.0

    def __getattr__(self, name: str) -> np.ndarray:
        columns = self.__dict__.get("columns", {})
        if name in columns:
            return columns[name]
        raise AttributeError(f"Trace has no column or attribute {name!r}; columns: {', '.join(columns)}")

    def __len__(self) -> int:
        return len(self.columns["iters"])

    def to_frame(self):
        """The checkpoints as a pandas DataFrame, one row each, with the run's identity as columns."""
        import pandas as pd

        frame = pd.DataFrame(self.columns)
        for key, value in (("problem", self.problem), ("method", self.method), ("seed", self.seed)):
            frame[key] = value
        return frame

    def __repr__(self) -> str:
        last = {k: float(v[-1]) for k, v in self.columns.items() if len(v)}
        shown = ", ".join(f"{k}={last[k]:.4g}" for k in ("epochs", "subopt", "loss") if k in last)
        return f"Trace({self.method} on {self.problem}: {self.status}, {len(self)} checkpoints, {shown})"
