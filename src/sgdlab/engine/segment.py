"""A *segment*: uninterrupted, timed iterations between two checkpoints.

`python_segment` is the reference; a compiled kernel (`sgdlab.engine.compiled`) may replace it for a given
(method, problem) pair and must keep its contract — the same `SegmentResult` under the same budgets. This
module imports nothing from the rest of the engine, so both the loop and the compiled segments import it at
top level.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from sgdlab.engine.samplers import Sampler
from sgdlab.methods.base import Method, State
from sgdlab.problems.base import Problem


@dataclass
class SegmentResult:
    iters: int
    grad_evals: int
    diverged: bool


def python_segment(
    method: Method,
    problem: Problem,
    x: np.ndarray,
    state: State,
    sampler: Sampler,
    max_iters: int,
    max_evals: float,
    deadline: float,
) -> SegmentResult:
    """Run iterations until `max_iters` or `max_evals` is reached, the clock passes `deadline`, or
    `x` explodes: `‖x‖²` overflows (one dot product per iteration; any loss built from squares of `x`
    would overflow at the same point)."""
    iters = evals = 0
    while iters < max_iters and evals < max_evals:
        evals += method.iterate(problem, x, next(sampler), state)
        iters += 1
        if not math.isfinite(float(x @ x)):
            return SegmentResult(iters, evals, True)
        if iters % 64 == 0 and time.perf_counter() >= deadline:
            break
    return SegmentResult(iters, evals, False)
