"""A sweep: run every configuration of a spec (or of several specs) that the store does not already hold.

Phases: the tuning runs first; then, from their stored scores, the choice of each tuned parameter, and
the main runs. Every finished run is committed before the next one is awaited, so an interrupted sweep
(Ctrl-C, a killed process, a full disk) loses only the runs in flight, and running the same spec again
completes it. Before computing runs a sweep claims them in the store (`sgdlab.experiments.claims`): a second
sweep on the same file skips the runs the first is computing and collects them as they are stored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from sgdlab.experiments.claims import Heartbeat, Owner
from sgdlab.experiments.executors import Executor
from sgdlab.experiments.grid import Plan, RunConfig
from sgdlab.experiments.spec import Spec
from sgdlab.experiments.store import Store, StoreFullError

#: Seconds between looks at the store while waiting for runs another sweep is computing.
POLL_S = 0.5


@dataclass
class SweepReport:
    """What a sweep did: runs executed now, found already finished, computed by a concurrent sweep, failed,
    diverged; ``disk_full`` is the error that stopped it when the store could not take another run."""

    planned: int = 0
    executed: int = 0
    skipped: int = 0
    by_others: int = 0
    failed: int = 0
    diverged: int = 0
    interrupted: bool = False
    disk_full: str | None = None
    stored: int = 0
    wall_s: float = 0.0

    def __str__(self) -> str:
        state = "stopped" if self.disk_full else "interrupted" if self.interrupted else "complete"
        others = f", {self.by_others} computed by another sweep" if self.by_others else ""
        return (
            f"sweep {state}: {self.executed} runs executed, {self.skipped} already in the store{others}, "
            f"{self.failed} failed, {self.diverged} diverged ({self.wall_s:.1f} s)"
        )

    @property
    def remaining(self) -> int:
        return max(0, self.planned - self.executed - self.skipped - self.by_others)

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
    """Several specs swept together: all tuning runs first, then all main runs, on one executor."""

    def __init__(self, specs: Sequence[Spec], store: Store, executor: Executor, progress: bool) -> None:
        self.store, self.executor = store, executor
        self.owner = Owner()
        self.progress = progress
        self.plans = [(spec, Plan(spec)) for spec in specs]
        self.report = SweepReport()
        self.origin: dict[str, Spec] = {}  # run key -> the first spec asking for it (its name goes on record)
        for spec, plan in self.plans:
            for config in plan.tuning_runs:
                self.origin.setdefault(config.key, spec)
        self.report.planned = sum(len(_unique(plan.tuning_runs)) + plan.main_count for _, plan in self.plans)
        name = specs[0].name if len(specs) == 1 else f"{len(specs)} experiments"
        self.bar = tqdm(total=self.report.planned, desc=name, unit="run", disable=not progress, leave=True)

    def execute(self, configs: Sequence[RunConfig], origin: dict[str, Spec]) -> None:
        configs = _unique(configs)
        finished = self.store.finished_keys(c.key for c in configs)
        todo = {c.key: c for c in configs if c.key not in finished}
        self.store.mark_main(c.key for c in configs if c.key in finished and c.phase == "main")
        self.report.skipped += len(configs) - len(todo)
        self.bar.update(len(configs) - len(todo))
        told = False
        while todo:
            mine = self.store.claim(todo, self.owner)
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
            self.report.by_others += len(done)
            self.bar.update(len(done))
            if todo:
                if not told and self.progress:
                    tqdm.write(f"waiting for {len(todo)} runs another sweep on {self.store.path} is computing",
                               file=sys.stderr)  # fmt: skip
                    told = True
                time.sleep(POLL_S)

    def _record(self, result, origin: dict[str, Spec]) -> None:
        spec = origin[result["key"]]
        self.store.record(result, spec_hash=spec.digest(), sweep=spec.name)
        self.report.executed += 1
        self.report.failed += result["status"] == "error"
        self.report.diverged += result["status"] == "diverged"
        self.bar.update(1)
        self.bar.set_postfix(failed=self.report.failed, diverged=self.report.diverged, refresh=False)

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
            self.bar.close()
            self._tidy()
            self.report.wall_s = time.perf_counter() - started
        return self.report

    def _phases(self) -> None:
        self.execute([c for _, plan in self.plans for c in plan.tuning_runs], self.origin)
        main, origin = [], dict(self.origin)
        for spec, plan in self.plans:
            scores = {}
            for group in plan.tuning:
                scores.update(self.store.scores(group.method.tune.metric, (r.key for r in group.runs)))
            for config in plan.main_runs(scores):
                main.append(config)
                origin.setdefault(config.key, spec)
        self.execute(main, origin)

    def _tidy(self) -> None:
        """Free the claims of runs left unfinished, and fold the WAL into the database file, so that the file
        alone holds every stored run."""
        self.report.stored = self.store.count()
        try:
            self.store.release(self.owner)
            self.store.checkpoint()
        except StoreFullError:  # a dead owner's claims lapse by themselves; the WAL is folded in on the next open
            pass


def run_sweep(spec: Spec | Sequence[Spec], store: Store, executor: Executor, progress: bool = True) -> SweepReport:
    """Execute the runs of ``spec`` (or of several specs together) missing from ``store`` on ``executor``; see
    the module docstring."""
    specs = [spec] if isinstance(spec, Spec) else list(spec)
    if not specs:
        raise ValueError("run_sweep needs at least one spec")
    return _Sweep(specs, store, executor, progress).run()
