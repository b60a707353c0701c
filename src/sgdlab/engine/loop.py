"""The run engine: sample, iterate, record at checkpoints, stop on budget, target or divergence.

The loop alternates *segments* (uninterrupted iterations, timed; `sgdlab.engine.segment`) with *checkpoints*
(measurements, not timed; `sgdlab.engine.recorder`). A run is first described and checked
(`sgdlab.engine.description`), then set up (`sgdlab.engine.prepare`, shared with
`sgdlab.viz.trajectories.iterate_path`); its checkpoints follow a `Schedule`.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass

import numpy as np

from sgdlab.engine.checkpoint import Checkpoint
from sgdlab.engine.description import RunDescription, describe
from sgdlab.engine.prepare import Start, prepare
from sgdlab.engine.recorder import Recorder
from sgdlab.engine.schedule import AUTO, MAX_CHECKPOINTS, Schedule, auto_points_per_decade
from sgdlab.engine.segment import SegmentResult, python_segment
from sgdlab.engine.trace import Trace
from sgdlab.methods.base import Method
from sgdlab.problems.base import Problem

__all__ = ["MAX_CHECKPOINTS", "SegmentResult", "python_segment", "run"]


@dataclass
class Progress:
    """Where a run stands: iterations, evaluations, optimisation seconds, and the loss that counts as divergence."""

    it: int = 0
    ev: float = 0
    elapsed: float = 0.0
    blow_up: float = math.inf


def _schedule(run: RunDescription, start: Start) -> Schedule:
    points = run.points_per_decade
    if isinstance(points, str) and points == AUTO:
        points = auto_points_per_decade(start.total_iters, start.stream.batch_size, run.problem.n)
    every_evals = run.record_every * run.problem.n if run.record_every else math.inf
    return Schedule(points, every_evals)


def _iterate(run: RunDescription, start: Start, schedule: Schedule, recorder: Recorder, progress: Progress):
    """Segments and checkpoints until a budget, the target or divergence ends the run; `(status, at, message)`."""
    method, x, state, stream, problem = start.method, start.x, start.state, start.stream, run.problem
    last_saved = time.monotonic()
    p = progress
    while p.it < run.max_iters and p.ev < run.max_evals and p.elapsed < run.max_seconds:
        started = time.perf_counter()
        segment = start.segment(
            method,
            problem,
            x,
            state,
            stream,
            max_iters=min(schedule.next_iter, run.max_iters) - p.it,
            max_evals=min(schedule.next_evals, run.max_evals) - p.ev,
            deadline=started + (run.max_seconds - p.elapsed),
        )
        p.elapsed += time.perf_counter() - started
        p.it += segment.iters
        p.ev += segment.grad_evals
        if segment.diverged:
            return "diverged", p.it, f"the iterate exploded (‖x‖² not finite) at iteration {p.it}"
        schedule.advance(p.it, p.ev)
        loss = recorder.measure(x, p.it, p.ev, p.elapsed)
        if not math.isfinite(loss) or loss > p.blow_up:
            what = "became non-finite" if not math.isfinite(loss) else f"{loss:.3g} exceeded {p.blow_up:.3g}"
            return "diverged", p.it, f"the loss {what} at checkpoint iteration {p.it}"
        if run.target_subopt is not None and loss - recorder.f_star <= run.target_subopt:
            return "ok", None, f"reached subopt <= {run.target_subopt:g} at iteration {p.it}"
        if run.checkpoint_path is not None and time.monotonic() - last_saved >= run.checkpoint_every:
            _save(run, start, schedule, recorder, p)
            last_saved = time.monotonic()
    return "budget", None, ""


def _save(run: RunDescription, start: Start, schedule: Schedule, recorder: Recorder, p: Progress) -> None:
    counters = {"it": p.it, "ev": p.ev, "elapsed": p.elapsed, "checkpoint_iter": schedule.next_iter,
                "checkpoint_evals": schedule.next_evals, "blow_up": p.blow_up,
                "measure_s": recorder.measure_s}  # fmt: skip
    Checkpoint(
        run.signature(),
        start.method,
        start.x.copy(),
        start.state,
        start.stream.get_state(),
        counters,
        recorder.columns,
    ).save(run.checkpoint_path)


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
    points_per_decade: int | str | None = AUTO,
    record_every: float | None = None,
    record: tuple[str, ...] | None = None,
    test: object | None = None,
    target_subopt: float | None = None,
    divergence_factor: float = 1e8,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: float = 30.0,
    resume: Checkpoint | str | os.PathLike | None = None,
) -> Trace:
    """Run `method` on `problem` and return its [`Trace`][sgdlab.engine.Trace].

    The run stops at the first budget reached (`epochs`, `grad_evals`, `iters`, `seconds`), with
    `status="ok"` when `subopt ≤ target_subopt`, or with `status="diverged"` (no exception, no warnings)
    when `‖x‖²` overflows — `diverged_at` is then that very iteration — or when, at a checkpoint, `f(x)` is
    not finite or `f(x) − f*` exceeds `divergence_factor · max(f(x0) − f*, 1)` — `diverged_at` is then the
    checkpoint's iteration. The same `seed` gives a bit-identical trace. A method's step size left unset is
    derived from the problem (e.g. SGD's `1/(2 L_b)`; see the Step sizes page).

    Checkpoints are log-spaced in iterations, plus every `record_every` epochs if given, plus the last
    iterate; their cost is excluded from `time_s` and reported in `Trace.measure_s`. The default
    `points_per_decade="auto"` records `max(20, 2·epochs)` checkpoints (`epochs`: the run's length in
    gradient evaluations over `n`), log-spaced with the fewest points per decade (in steps of 0.5, at most
    20) that give that many: at least 20 per run, two per epoch for long runs. A checkpoint (loss and
    gradient from one pass over the data) costs about a quarter of an epoch of per-sample steps on a dense
    GLM, so measuring costs about half as much as optimising from ten epochs on, and under five times as
    much for a one-epoch run (benchmark B6). A run bounded only by `seconds` gets 10 per decade.

    Interruption: with `checkpoint_path` the run saves a [`Checkpoint`][sgdlab.engine.Checkpoint] there at
    recorded checkpoints, at most every `checkpoint_every` seconds of wall time (atomically; not counted in
    `time_s`). Calling `run` again with the same arguments and `resume=` that file (or a `Checkpoint`)
    continues the run and returns the trace the uninterrupted run would have returned, bit for bit except
    `time_s`.

    Args:
        problem: An sgdlab problem (`sgdlab.problems`, or a network of `sgdlab.torch.problems`).
        method: A method instance (`sl.methods.SGD(lr=0.01)`) or a method's name (`"GD"`: its defaults).
        epochs: Budget in passes over the data, counted in component gradients (`grad_evals / n`).
        grad_evals: Budget in component-gradient evaluations.
        iters: Budget in iterations.
        seconds: Budget in optimisation seconds (checkpoints not counted).
        batch_size: Component gradients per stochastic gradient; full-gradient methods (GD) always use every
            index.
        sampler: `"uniform"` (with replacement), `"reshuffle"` (without, reshuffled every epoch),
            `"blocks"` (reshuffling block by block, for data on disk) or `"full"`.
        seed: A non-negative integer seeding the sampler.
        x0: The starting point (default: the problem's `initial_point()`).
        dtype: `numpy.float32` or `numpy.float64` for the iterate (default: the data's).
        points_per_decade: `"auto"` (above), a number of checkpoints per decade of iterations (1, 2, …, then
            that many per decade; `20` for dense curves), or `None` for the first and last only.
        record_every: Also record every this many epochs (at least one component gradient, `1/n` epochs; a
            run asks for at most `MAX_CHECKPOINTS`).
        record: The metrics to record, among `loss, subopt, grad_norm2, dist2` (one name or a tuple; default:
            all that the problem supports — `subopt` and `dist2` need a certified optimum).
        test: Held-out data of the kind the problem evaluates (e.g. a `Dataset` for linear models): adds
            `test_*` metrics.
        target_subopt: Stop with `status="ok"` once `f(x) − f* ≤ target_subopt` at a checkpoint.
        divergence_factor: The factor `D` of the divergence rule above.
        checkpoint_path: Save a resumable checkpoint to this file.
        checkpoint_every: Seconds of wall time between saved checkpoints.
        resume: A checkpoint file (or `Checkpoint`) saved by the same run, to continue from.

    Returns:
        The run's [`Trace`][sgdlab.engine.Trace]: its checkpoints, final iterate and how it ended.

    Raises:
        ValueError: No budget, a setting out of its range, metrics or a target that need a certified optimum
            the problem does not have, or a checkpoint saved by a different run.
        TypeError: `problem` is not an sgdlab problem, or an argument of the wrong type.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, noise=0.0, seed=0))
        >>> trace = sl.run(prob, sl.methods.SAGA(), epochs=20, seed=0)
        >>> trace.status, bool(trace.subopt[-1] < 1e-10 * trace.subopt[0])
        ('budget', True)
        >>> sl.run(prob, "GD", iters=10_000, target_subopt=1e-8).status
        'ok'
        >>> sl.run(prob, sl.methods.GD(lr=10.0), iters=1000).status
        'diverged'
        >>> sl.run(prob, "SGD")
        Traceback (most recent call last):
        ...
        ValueError: give a budget: epochs=, grad_evals=, iters= or seconds=
    """
    description = describe(
        problem, method, epochs=epochs, grad_evals=grad_evals, iters=iters, seconds=seconds,
        batch_size=batch_size, sampler=sampler, seed=seed, x0=x0, dtype=dtype, points_per_decade=points_per_decade,
        record_every=record_every, record=record, test=test, target_subopt=target_subopt,
        divergence_factor=divergence_factor, checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
        resume=resume,
    )  # fmt: skip
    return execute(description)


def execute(run: RunDescription) -> Trace:
    """Carry out a described run (see [`run`][sgdlab.engine.run])."""
    problem, resume = run.problem, run.resume
    x = run.x0.copy()
    resumed = None
    if resume is not None:
        resume.check_signature(run.signature())
        resumed = (resume.method, copy.deepcopy(resume.state))
        x[:] = resume.x
    start = prepare(problem, run.method, sampler=run.sampler, batch_size=run.batch_size, seed=run.seed, x=x,
                    max_iters=run.max_iters, max_evals=run.max_evals, resumed=resumed)  # fmt: skip
    if resume is not None:
        start.stream.set_state(resume.sampler)
    schedule = _schedule(run, start)
    f_star = problem.f_star if run.needs_optimum else None
    x_star = problem.x_star if "dist2" in run.record else None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if resume is None:
            recorder = Recorder(problem, run.record, f_star=f_star, x_star=x_star, test=run.test)
            f0 = recorder.measure(x, 0, 0, 0.0)
            reference = f_star if f_star is not None else 0.0
            progress = Progress(blow_up=reference + run.divergence_factor * max(f0 - reference, 1.0))
            schedule.start()
        else:
            c = resume.counters
            recorder = Recorder(problem, run.record, f_star=f_star, x_star=x_star, test=run.test,
                                columns=copy.deepcopy(resume.columns), measure_s=c.get("measure_s", 0.0))  # fmt: skip
            progress = Progress(int(c["it"]), c["ev"], c["elapsed"], c["blow_up"])
            schedule.next_iter, schedule.next_evals = c["checkpoint_iter"], c["checkpoint_evals"]
        status, diverged_at, message = _iterate(run, start, schedule, recorder, progress)
    return Trace(
        problem=problem.name,
        method=start.method.name,
        hyperparameters=start.method.hyperparameters(),
        seed=run.seed,
        batch_size=start.stream.batch_size,
        sampler=start.stream.kind,
        columns={k: np.asarray(v) for k, v in recorder.columns.items()},
        x=x,
        status=status,
        diverged_at=diverged_at,
        message=message,
        measure_s=recorder.measure_s,
    )
