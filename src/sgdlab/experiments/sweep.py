"""A sweep: run every configuration of a spec (or of several specs) that the store does not already hold.

Phases: first the tuning runs and the main runs of the methods without tuning (none depends on another);
then, from the tuning runs' stored scores, the choice of each tuned parameter and the main runs at it. Within a
phase the runs go experiment by experiment (by label), the experiments with the longest runs first and within
each the longest first (`sgdlab.experiments.progress.run_cost`): no long run is left for last while the other
workers idle, and each experiment's runs are all stored early, for whoever reads them. Every finished run is
committed before the next one is awaited, so an interrupted sweep (Ctrl-C, a killed process, a full disk) loses
only the runs in flight, and running the same spec again completes it. Before computing runs a sweep claims
them in the store (`sgdlab.experiments.claims`): a second sweep on the same file skips the runs the first is
computing and collects them as they are stored.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sgdlab.experiments.claims import Heartbeat, Owner
from sgdlab.experiments.executors import Executor
from sgdlab.experiments.grid import Plan, RunConfig
from sgdlab.experiments.progress import SweepProgress
from sgdlab.experiments.spec import Spec
from sgdlab.experiments.store import Store, StoreFullError

#: Seconds between looks at the store while waiting for runs another sweep is computing.
POLL_S = 0.5


@dataclass
class SweepReport:
    """What a sweep did. `planned` counts requests — a run asked for twice (by a tuning and a main phase, or by
    two experiments) counts twice — and each request was answered by a run executed now (`executed`), one
    already in the store when the sweep began (`skipped`; `found` counts those runs once each), one computed
    by a concurrent sweep (`by_others`), or one another request of this sweep already got (`shared`);
    `failed` and `diverged` are among the executed; `disk_full` is the error that stopped the sweep when the
    store could not take another run.

    Attributes:
        planned: Run requests of the sweep (a run asked for twice counts twice).
        executed: Runs this sweep executed.
        skipped: Requests answered by a run already stored when the sweep began.
        found: The distinct runs among `skipped`.
        by_others: Requests answered by a concurrent sweep's run.
        shared: Requests answered by a run another request of this sweep already got.
        failed: Executed runs that raised (`status="error"`).
        diverged: Executed runs that diverged.
        interrupted: Whether the sweep was stopped by Ctrl-C.
        disk_full: The error that stopped the sweep when the store was full, else `None`.
        stored: Finished runs in the store when the sweep ended.
        wall_s: The sweep's wall time in seconds.

    Examples:
        >>> from sgdlab.experiments import SweepReport
        >>> report = SweepReport(planned=6, executed=3, skipped=2, found=2, diverged=1)
        >>> report.remaining
        1
        >>> print(report)
        sweep complete: 3 runs executed, 2 already in the store from an earlier sweep, 0 failed, 1 diverged (0.0 s)
    """

    planned: int = 0
    executed: int = 0
    skipped: int = 0
    found: int = 0
    by_others: int = 0
    shared: int = 0
    failed: int = 0
    diverged: int = 0
    interrupted: bool = False
    disk_full: str | None = None
    stored: int = 0
    wall_s: float = 0.0

    def __str__(self) -> str:
        state = "stopped" if self.disk_full else "interrupted" if self.interrupted else "complete"
        found = f", {self.found} already in the store from an earlier sweep" if self.found else ""
        others = f", {self.by_others} computed by another sweep" if self.by_others else ""
        shared = f"; {self.shared} more requests shared a run with another phase or experiment" if self.shared else ""
        return (
            f"sweep {state}: {self.executed} runs executed{found}{others}, {self.failed} failed, "
            f"{self.diverged} diverged ({self.wall_s:.1f} s){shared}"
        )

    @property
    def remaining(self) -> int:
        return max(0, self.planned - self.executed - self.skipped - self.by_others - self.shared)

    def disk_full_message(self, db: object) -> str:
        return (
            f"stopped: {self.disk_full}. {self.stored} finished runs are stored in {db} ({self.executed} by this "
            f"sweep); free some space and run the same command again to complete the remaining {self.remaining} runs"
        )


def _unique(configs: Sequence[RunConfig]) -> list[RunConfig]:
    seen: dict[str, RunConfig] = {}
    for config in configs:
        seen.setdefault(config.key, config)
    return list(seen.values())


class _Sweep:
    """Several specs swept together, in two phases (the module docstring), on one executor."""

    def __init__(self, specs: Sequence[Spec], store: Store, executor: Executor,
                 progress: bool | SweepProgress) -> None:  # fmt: skip
        self.store, self.executor = store, executor
        self.owner = Owner()
        self.plans = [(spec, Plan(spec)) for spec in specs]
        self.report = SweepReport()
        self.origin: dict[str, Spec] = {}  # run key -> the first spec asking for it (its name goes on record)
        for spec, plan in self.plans:
            for config in plan.tuning_runs:
                self.origin.setdefault(config.key, spec)
        self.report.planned = sum(len(_unique(plan.tuning_runs)) + plan.main_count for _, plan in self.plans)
        name = specs[0].name if len(specs) == 1 else f"{len(specs)} experiments"
        self.progress = progress if isinstance(progress, SweepProgress) else SweepProgress(bool(progress), desc=name)
        self.seen: set[str] = set()  # runs this sweep stored or collected from another sweep

    def _tuned_runs(self, scores_of: Callable[[Plan], dict[str, float]],
                    origin: dict[str, Spec]) -> tuple[list[RunConfig], dict[str, Spec]]:  # fmt: skip
        tuned, origin = [], dict(origin)
        for spec, plan in self.plans:
            for config in plan.tuned_runs(scores_of(plan)):
                tuned.append(config)
                origin.setdefault(config.key, spec)
        return tuned, origin

    def _scores(self, plan: Plan) -> dict[str, float]:
        scores = {}
        for group in plan.tuning:
            scores.update(self.store.scores(group.method.tune.metric, (r.key for r in group.runs)))
        return scores

    def _plan(self, configs: Sequence[RunConfig], origin: dict[str, Spec]) -> None:
        """Tell the progress which distinct runs the sweep has, and which of them were stored before it began."""
        runs = {c.key: c for c in configs}
        stored = self.store.finished_keys(runs) - self.seen
        self.progress.plan(runs, {key: origin[key].name for key in runs}, stored, where=self.store.path)

    def execute(self, configs: Sequence[RunConfig], origin: dict[str, Spec]) -> None:
        requests = Counter(c.key for c in configs)
        configs = _unique(configs)
        finished = self.store.finished_keys(c.key for c in configs)
        todo = {c.key: c for c in configs if c.key not in finished}
        self.store.mark_main(c.key for c in configs if c.key in finished and c.phase == "main")
        for key, count in requests.items():
            if key in finished and key not in self.seen:
                self.report.skipped += count
            else:  # asked for before in this sweep, or twice in this phase: one request computes it
                self.report.shared += count - (key in todo)
        order = self.progress.order(todo)
        told = False
        while todo:
            mine = self.store.claim([key for key in order if key in todo], self.owner)
            self.progress.submitted(mine, self.executor.workers)
            for result in self.executor.map_unordered([todo[key] for key in mine]):
                self._record(result, origin)
                todo.pop(result["key"], None)
            if mine:
                continue  # claim again at once: runs held by another sweep may have been freed meanwhile
            # every remaining run is claimed by another live sweep: collect each as it is stored
            done = self.store.finished_keys(todo)
            self.store.mark_main(key for key in done if todo[key].phase == "main")
            for key in done:
                todo.pop(key)
                self.seen.add(key)
                self.progress.finished(key)
            self.report.by_others += len(done)
            if todo:
                self.progress.waiting(len(todo))
                if not told:
                    self.progress.write(f"waiting for {len(todo)} runs another sweep on {self.store.path} is computing")
                    told = True
                time.sleep(POLL_S)
        self.progress.waiting(0)

    def _record(self, result, origin: dict[str, Spec]) -> None:
        spec = origin[result["key"]]
        self.store.record(result, spec_hash=spec.digest(), sweep=spec.name)
        self.seen.add(result["key"])
        self.report.executed += 1
        self.report.failed += result["status"] == "error"
        self.report.diverged += result["status"] == "diverged"
        self.progress.finished(result["key"], result["status"])

    def run(self) -> SweepReport:
        started = time.perf_counter()
        try:
            with Heartbeat(self.store.path, self.owner):
                self._phases()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.executor.close()
        except StoreFullError as exc:  # the runs stored so far stay; a rerun (after freeing space) does the rest
            self.report.disk_full = str(exc)
            self.executor.close()
        finally:
            self.progress.close()
            self._tidy()
            self.report.found = len(self.progress.stored)
            self.report.wall_s = time.perf_counter() - started
        return self.report

    def _phases(self) -> None:
        first = [c for _, plan in self.plans for c in plan.tuning_runs + plan.fixed_runs]
        origin = dict(self.origin)
        for spec, plan in self.plans:
            for config in plan.fixed_runs:
                origin.setdefault(config.key, spec)
        # the tuned runs as far as the stored scores tell (exact once the tuning runs are stored)
        estimate, planned = self._tuned_runs(self._scores, origin)
        self._plan(first + estimate, planned)
        self.execute(first, origin)
        tuned, origin = self._tuned_runs(self._scores, origin)
        self._plan(first + tuned, origin)
        self.execute(tuned, origin)

    def _tidy(self) -> None:
        """Free the claims of runs left unfinished, and fold the WAL into the database file, so that the file
        alone holds every stored run."""
        self.report.stored = self.store.count()
        try:
            self.store.release(self.owner)
            self.store.checkpoint()
        except StoreFullError:  # a dead owner's claims lapse by themselves; the WAL is folded in on the next open
            pass


def run_sweep(spec: Spec | Sequence[Spec], store: Store, executor: Executor,
              progress: bool | SweepProgress = True) -> SweepReport:  # fmt: skip
    """Execute the runs of `spec` (or of several specs together) missing from `store` on `executor`; see
    the module docstring. `progress`: a bar on standard error, or a `SweepProgress` (its labels, its file).

    Args:
        spec: One parsed experiment (`parse_spec`, `load_spec`) or several, swept together.
        store: The `Store` that holds the results; the runs it already holds are not computed again.
        executor: Where the runs execute (`SerialExecutor`, `ProcessExecutor`, `DaskExecutor`).
        progress: Show a progress bar on standard error (`True`), none (`False`), or a `SweepProgress`.

    Returns:
        A `SweepReport` of what the sweep did (`str()` of it is a one-line summary).

    Raises:
        ValueError: No spec was given.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sgdlab.experiments import SerialExecutor, Store, run_sweep
        >>> from sgdlab.experiments import parse_spec
        >>> spec = parse_spec({"name": "demo", "seeds": 2, "budget": {"epochs": 3},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": 0.05}}, {"type": "GD"}]})
        >>> with Store(Path(tempfile.mkdtemp()) / "results.db") as store:
        ...     report = run_sweep(spec, store, SerialExecutor(), progress=False)
        ...     again = run_sweep(spec, store, SerialExecutor(), progress=False)
        >>> report.planned, report.executed, again.executed, again.skipped
        (4, 4, 0, 4)
        >>> print(again)  # doctest: +ELLIPSIS
        sweep complete: 0 runs executed, 4 already in the store from an earlier sweep, 0 failed, 0 diverged (... s)
    """
    specs = [spec] if isinstance(spec, Spec) else list(spec)
    if not specs:
        raise ValueError("run_sweep needs at least one spec")
    return _Sweep(specs, store, executor, progress).run()
