"""Setting a run up: the method resolved, the starting point, the index stream, the state and the segment.

`sgdlab.run` and `sgdlab.viz.trajectories.iterate_path` both start here, so a path replayed for a picture ends
exactly where the run with the same arguments ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sgdlab import _checks
from sgdlab.engine import compiled
from sgdlab.engine.samplers import Sampler
from sgdlab.engine.segment import python_segment
from sgdlab.methods import METHODS
from sgdlab.methods.base import Method, State
from sgdlab.problems.base import Problem


def resolve_method(method: Method | str | type) -> Method:
    """An sgdlab method from an instance, a class or a registered name."""
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        return METHODS[method]()
    if isinstance(method, type) and issubclass(method, Method):
        return method()
    if not isinstance(method, Method):
        raise TypeError(f"method must be an sgdlab method, got {type(method).__name__}")
    return method


def starting_point(problem: Problem, x0, dtype) -> np.ndarray:
    """A fresh copy of `x0` (default: the problem's initial point), checked, in `dtype` if given."""
    if dtype is not None:
        dtype = _checks.float_dtype("dtype", dtype)
    if x0 is None:
        start = problem.initial_point()
        x = start.astype(dtype or start.dtype, copy=True)
    else:
        x0 = _checks.unmasked("x0", x0)
        try:
            given = np.asarray(x0)  # (a CPU tensor's values too)
        except (ValueError, TypeError, RuntimeError) as exc:  # ragged nested lists; a tensor on a GPU
            raise TypeError(f"x0 must be a 1-D array of real numbers: {exc}") from None
        if given.dtype.kind not in "fiu":  # complex, bool, strings, objects: no silent conversion
            raise TypeError(f"x0 must hold real numbers, got dtype {given.dtype}")
        x = np.array(given, dtype=dtype or (given.dtype if given.dtype.kind == "f" else np.float64), copy=True)
        if x.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"x0 must be float32 or float64, got {x.dtype}")
    if x.shape != (problem.dim,):
        raise ValueError(f"x0 must have shape ({problem.dim},), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x0 contains NaN or Inf")
    return x


def total_iterations(max_iters: float, max_evals: float, per_iter: int) -> float:
    """Iterations a run may take under its budgets (`inf` when only the clock bounds it)."""
    return min(max_iters, math.ceil(max_evals / per_iter)) if max_evals < math.inf else max_iters


@dataclass
class Start:
    """A run ready to iterate: `segment(method, problem, x, state, stream, …)` advances it."""

    method: Method
    x: np.ndarray
    state: State
    stream: Sampler
    segment: object
    total_iters: float


def prepare(
    problem: Problem,
    method: Method | str,
    *,
    sampler: str,
    batch_size: int,
    seed: int,
    x: np.ndarray,
    max_iters: float = math.inf,
    max_evals: float = math.inf,
    resumed: tuple[Method, State] | None = None,
) -> Start:
    """Seed the index stream, resolve the method for the run's length (schedules may depend on it) and
    initialise its state — or take `resumed = (method, state)` from a checkpoint — and pick the segment
    function (a compiled one where the engine has it, else `python_segment`). `x` is used in place."""
    method = resolve_method(method)
    if method.full_batch:
        sampler, batch_size = "full", problem.n
    stream = Sampler.for_problem(sampler, problem, int(batch_size), np.random.default_rng(seed))
    total = total_iterations(max_iters, max_evals, stream.batch_size)
    if resumed is not None:
        method, state = resumed
    else:
        method = method.resolve(problem, stream.batch_size, None if total == math.inf else int(total))
        state = method.init(x)
    segment = compiled.segment_for(method, problem, stream) or python_segment
    return Start(method, x, state, stream, segment, total)
