"""The run engine: sample, iterate, record at checkpoints, stop on budget, target or divergence.

The loop alternates *segments* (uninterrupted iterations, timed) with *checkpoints* (measurements, not
timed). A segment is one call of :func:`python_segment`; a compiled kernel can replace it for a given
(method, problem) pair without changing anything else.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sgdlab import _checks
from sgdlab.engine import compiled
from sgdlab.engine.checkpoint import Checkpoint
from sgdlab.engine.samplers import SAMPLERS, Sampler
from sgdlab.engine.trace import COUNTERS, METRICS, Trace
from sgdlab.methods import METHODS
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
    """Run iterations until ``max_iters`` or ``max_evals`` is reached, the clock passes ``deadline``, or
    ``x`` explodes: ``‖x‖²`` overflows (one dot product per iteration; any loss built from squares of ``x``
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


#: Most checkpoints a run may ask for (``points_per_decade`` at most, and ``record_every`` over a budget of
#: evaluations): every checkpoint costs a full loss evaluation and a row of the trace.
MAX_CHECKPOINTS = 10**6


def _log_checkpoints(points_per_decade: int | None) -> Callable[[int], float]:
    """The first log-spaced checkpoint after iteration ``k`` (1, 2, …, then ~``points_per_decade`` per decade);
    ``None`` turns log-spaced checkpoints off."""
    if points_per_decade is None:
        return lambda k: math.inf
    ratio = 10.0 ** (1.0 / points_per_decade)

    def after(k: int) -> int:
        return max(k + 1, math.ceil(k * ratio))

    return after


def _resolve_method(method: Method | str) -> Method:
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        return METHODS[method]()
    if isinstance(method, type) and issubclass(method, Method):
        return method()
    if not isinstance(method, Method):
        raise TypeError(f"method must be an sgdlab method, got {type(method).__name__}")
    return method


def _budgets(problem, epochs, grad_evals, iters, seconds) -> tuple[float, float, float]:
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


def _record_every(problem: Problem, record_every: object, max_evals: float) -> float:
    """``record_every`` (epochs), checked: at least one component gradient apart, and not more than
    :data:`MAX_CHECKPOINTS` over a budget of evaluations — otherwise the schedule could not advance."""
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


def _starting_point(problem: Problem, x0, dtype) -> np.ndarray:
    if dtype is not None:
        dtype = _checks.float_dtype("dtype", dtype)
    if x0 is None:
        start = problem.initial_point()
        x = start.astype(dtype or start.dtype, copy=True)
    else:
        try:
            given = np.asarray(x0)
        except ValueError as exc:  # ragged nested lists
            raise TypeError(f"x0 must be a 1-D array of real numbers: {exc}") from None
        if given.dtype.kind not in "fiu":  # complex, bool, strings, objects: no silent conversion
            raise TypeError(f"x0 must hold real numbers, got dtype {given.dtype}")
        x = np.array(given, dtype=dtype or getattr(x0, "dtype", np.float64), copy=True)
        if x.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"x0 must be float32 or float64, got {x.dtype}")
    if x.shape != (problem.dim,):
        raise ValueError(f"x0 must have shape ({problem.dim},), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x0 contains NaN or Inf")
    return x


def run(
    problem: Problem,
    method: Method | str,
    *,
    epochs: float | None = None,
    grad_evals: float | None = None,
    iters: int | None = None,
    seconds: float | None = None,
    batch_size: int = 1,
    sampler: str = "uniform",
    seed: int = 0,
    x0: np.ndarray | None = None,
    dtype: type | None = None,
    points_per_decade: int | None = 20,
    record_every: float | None = None,
    record: tuple[str, ...] | None = None,
    test: object | None = None,
    target_subopt: float | None = None,
    divergence_factor: float = 1e8,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: float = 30.0,
    resume: Checkpoint | str | os.PathLike | None = None,
) -> Trace:
    """Run ``method`` on ``problem`` and return its :class:`Trace`.

    Budget: any of ``epochs`` (passes over the data, counted in component gradients), ``grad_evals``,
    ``iters`` and ``seconds`` — the run stops at the first one reached. Sampling: ``sampler`` in
    ``"uniform"`` (with replacement), ``"reshuffle"``, ``"blocks"`` (reshuffling block by block, for data on
    disk: see `sgdlab.engine.samplers`), ``"full"``, with ``batch_size`` indices per
    iteration; full-gradient methods (GD) always use every index. Checkpoints: log-spaced in iterations
    (``points_per_decade``), plus every ``record_every`` epochs if given, plus the last iterate; their
    cost is excluded from ``time_s``; ``record_every`` is at least one component gradient (``1/n`` epochs) and a
    run asks for at most :data:`MAX_CHECKPOINTS`. ``record`` picks among ``loss, subopt, grad_norm2, dist2`` (one
    name, or a tuple; default: all that the problem supports — ``subopt`` and ``dist2`` need a certified optimum);
    ``seed`` is a non-negative integer; ``test`` (held-out data
    of the kind the problem evaluates, e.g. a `Dataset` for linear models) adds ``test_*`` metrics.

    Stops early with ``status="ok"`` when ``subopt ≤ target_subopt``, and with ``status="diverged"``
    (no exception, no warnings) when ``‖x‖²`` overflows — ``diverged_at`` is then that very iteration — or
    when, at a checkpoint, ``f(x)`` is not finite or ``f(x) − f*`` exceeds
    ``divergence_factor · max(f(x0) − f*, 1)`` — ``diverged_at`` is then the checkpoint's iteration.
    The same ``seed`` gives a bit-identical trace.

    Interruption: with ``checkpoint_path`` the run saves a :class:`Checkpoint` there at recorded checkpoints,
    at most every ``checkpoint_every`` seconds of wall time (atomically; not counted in ``time_s``). Calling
    ``run`` again with the same arguments and ``resume=`` that file (or a ``Checkpoint``) continues the run
    and returns the trace the uninterrupted run would have returned, bit for bit except ``time_s``.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an sgdlab problem, got {type(problem).__name__}")
    method = _resolve_method(method)
    if record is None:
        record = METRICS if problem.has_optimum else ("loss", "grad_norm2")
    record = _checks.choices("record", record, METRICS)
    max_evals, max_iters, max_seconds = _budgets(problem, epochs, grad_evals, iters, seconds)
    if points_per_decade is not None:
        points_per_decade = _checks.positive_int("points_per_decade", points_per_decade, at_most=MAX_CHECKPOINTS)
    if record_every is not None:
        record_every = _record_every(problem, record_every, max_evals)
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
    index_stream = Sampler.for_problem(sampler, problem, batch_size, np.random.default_rng(seed))

    x = _starting_point(problem, x0, dtype)
    signature = None
    if checkpoint_path is not None or resume is not None:  # what a checkpoint must match to be resumed here
        signature = {
            "problem": problem.name, "data": problem.fingerprint(), "params": repr(problem.params()),
            "method": method.name, "hyperparameters": repr(method.hyperparameters()), "batch_size": batch_size,
            "sampler": sampler, "seed": seed, "budget": (max_evals, max_iters, max_seconds),
            "record": tuple(record), "points_per_decade": points_per_decade, "record_every": record_every,
            "x0": hashlib.sha256(x.tobytes()).hexdigest(), "dtype": str(x.dtype), "target_subopt": target_subopt,
            "divergence_factor": divergence_factor,
        }  # fmt: skip
    if resume is not None:
        resume = resume if isinstance(resume, Checkpoint) else Checkpoint.load(resume)
        resume.check_signature(signature)
        method, state = resume.method, copy.deepcopy(resume.state)
        x[:] = resume.x
        index_stream.set_state(resume.sampler)
    else:
        per_iter = index_stream.batch_size
        total_iters = min(max_iters, math.ceil(max_evals / per_iter)) if max_evals < math.inf else max_iters
        method = method.resolve(problem, per_iter, None if total_iters == math.inf else int(total_iters))
        state = method.init(x)
    run_segment = compiled.segment_for(method, problem, index_stream) or python_segment

    needs_optimum = any(name in record for name in ("subopt", "dist2")) or target_subopt is not None
    f_star = problem.f_star if needs_optimum else None
    x_star = problem.x_star if "dist2" in record else None
    columns: dict[str, list[float]] = {name: [] for name in (*COUNTERS, *record)}
    if resume is not None:
        columns = copy.deepcopy(resume.columns)

    def measure(it: int, ev: int, elapsed: float) -> float:
        loss = problem.loss(x)
        values = {"iters": it, "grad_evals": ev, "epochs": ev / problem.n, "time_s": elapsed, "loss": loss}
        if "subopt" in record:
            values["subopt"] = loss - f_star
        if "grad_norm2" in record:
            g = problem.grad(x)
            values["grad_norm2"] = float(g @ g)
        if "dist2" in record:
            d = x - x_star
            values["dist2"] = float(d @ d)
        if test is not None:
            values.update({f"test_{k}": v for k, v in problem.evaluate(x, test).items()})
        for key, value in values.items():
            columns.setdefault(key, []).append(float(value))
        return loss

    next_log = _log_checkpoints(points_per_decade)
    every_evals = record_every * problem.n if record_every else math.inf
    it = ev = 0
    elapsed = 0.0
    status, diverged_at, message = "budget", None, ""
    last_saved = time.monotonic()

    def save_checkpoint() -> None:
        counters = {"it": it, "ev": ev, "elapsed": elapsed, "checkpoint_iter": checkpoint_iter,
                    "checkpoint_evals": checkpoint_evals, "blow_up": blow_up}  # fmt: skip
        Checkpoint(signature, method, x.copy(), state, index_stream.get_state(), counters, columns).save(
            checkpoint_path
        )

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if resume is None:
            f0 = measure(0, 0, 0.0)
            reference = f_star if f_star is not None else 0.0
            blow_up = reference + divergence_factor * max(f0 - reference, 1.0)
            checkpoint_iter, checkpoint_evals = next_log(0), every_evals
        else:
            c = resume.counters
            it, ev, elapsed, blow_up = int(c["it"]), c["ev"], c["elapsed"], c["blow_up"]
            checkpoint_iter, checkpoint_evals = c["checkpoint_iter"], c["checkpoint_evals"]
        while it < max_iters and ev < max_evals and elapsed < max_seconds:
            started = time.perf_counter()
            segment = run_segment(
                method,
                problem,
                x,
                state,
                index_stream,
                max_iters=min(checkpoint_iter, max_iters) - it,
                max_evals=min(checkpoint_evals, max_evals) - ev,
                deadline=started + (max_seconds - elapsed),
            )
            elapsed += time.perf_counter() - started
            it += segment.iters
            ev += segment.grad_evals
            if segment.diverged:
                status, diverged_at = "diverged", it
                message = f"the iterate exploded (‖x‖² not finite) at iteration {it}"
                break
            while checkpoint_iter <= it:
                checkpoint_iter = next_log(checkpoint_iter)
            while checkpoint_evals <= ev:
                checkpoint_evals += every_evals
            loss = measure(it, ev, elapsed)
            if not math.isfinite(loss) or loss > blow_up:
                status, diverged_at = "diverged", it
                what = "became non-finite" if not math.isfinite(loss) else f"{loss:.3g} exceeded {blow_up:.3g}"
                message = f"the loss {what} at checkpoint iteration {it}"
                break
            if target_subopt is not None and loss - f_star <= target_subopt:
                status, message = "ok", f"reached subopt <= {target_subopt:g} at iteration {it}"
                break
            if checkpoint_path is not None and time.monotonic() - last_saved >= checkpoint_every:
                save_checkpoint()
                last_saved = time.monotonic()
    return Trace(
        problem=problem.name,
        method=method.name,
        hyperparameters=method.hyperparameters(),
        seed=seed,
        batch_size=index_stream.batch_size,
        sampler=index_stream.kind,
        columns={k: np.asarray(v) for k, v in columns.items()},
        x=x,
        status=status,
        diverged_at=diverged_at,
        message=message,
    )
