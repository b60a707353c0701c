"""A sweep: run every configuration of a spec (or of several specs) that the store does not already hold.

Phases: the tuning runs first; then, from their stored scores, the choice of each tuned parameter, and
the main runs. Every finished run is committed before the next one is awaited, so an interrupted sweep
(Ctrl-C, a killed process) loses only the runs in flight, and running the same spec again completes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm import tqdm

from sgdlab.experiments.executors import Executor
from sgdlab.experiments.grid import Plan, RunConfig
from sgdlab.experiments.spec import Spec
from sgdlab.experiments.store import Store


@dataclass
class SweepReport:
    """What a sweep did: runs executed now, found already finished, failed, diverged."""

    planned: int = 0
    executed: int = 0
    skipped: int = 0
    failed: int = 0
    diverged: int = 0
    interrupted: bool = False
    wall_s: float = 0.0

    def __str__(self) -> str:
        state = "interrupted" if self.interrupted else "complete"
        return (
            f"sweep {state}: {self.executed} runs executed, {self.skipped} already in the store, "
            f"{self.failed} failed, {self.diverged} diverged ({self.wall_s:.1f} s)"
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
        todo = [c for c in configs if c.key not in finished]
        self.store.mark_main(c.key for c in configs if c.key in finished and c.phase == "main")
        self.report.skipped += len(configs) - len(todo)
        self.bar.update(len(configs) - len(todo))
        for result in self.executor.map_unordered(todo):
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
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.executor.close()
        finally:
            self.bar.close()
            self.report.wall_s = time.perf_counter() - started
        return self.report


def run_sweep(spec: Spec | Sequence[Spec], store: Store, executor: Executor, progress: bool = True) -> SweepReport:
    """Execute the runs of ``spec`` (or of several specs together) missing from ``store`` on ``executor``; see
    the module docstring."""
    specs = [spec] if isinstance(spec, Spec) else list(spec)
    if not specs:
        raise ValueError("run_sweep needs at least one spec")
    return _Sweep(specs, store, executor, progress).run()
