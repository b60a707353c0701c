"""The runs behind a claim, read back from the store: each run's identity, recorded trace and final iterate.

A claim's verdict is a function of a `Results` only, so a test can hand it planted traces and watch
the verdict flip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sgdlab.experiments.grid import Plan
from sgdlab.experiments.spec import Spec
from sgdlab.experiments.store import Store


@dataclass(frozen=True)
class Run:
    """One finished run: what was run (`problem` and `label` are the spec's names) and what it recorded.

    Attributes:
        problem: The problem's name in the spec.
        label: The method's label in the spec.
        hyperparameters: The method's hyperparameters of this run (the tuned ones at their chosen values).
        batch_size: The minibatch size.
        seed: The run's seed.
        status: How the run ended (`"budget"`, `"ok"`, `"diverged"`, …).
        trace: The recorded checkpoints, one row each (`iters`, `grad_evals`, `epochs`, the metrics).
        x: The final iterate, when stored.
        key: The run's key in the store.

    Examples:
        >>> import pandas as pd
        >>> from sgdlab.lecture import Run
        >>> run = Run(problem="q", label="SGD", hyperparameters={"lr": 0.1}, batch_size=1, seed=0,
        ...           status="budget", trace=pd.DataFrame({"iters": [0, 10], "loss": [1.0, 0.25]}))
        >>> run.final("loss"), run.column("iters").tolist()
        (0.25, [0.0, 10.0])
    """

    problem: str
    label: str
    hyperparameters: dict[str, Any]
    batch_size: int
    seed: int
    status: str
    trace: pd.DataFrame
    x: np.ndarray | None = None
    key: str = ""

    def column(self, name: str) -> np.ndarray:
        if name not in self.trace:
            raise KeyError(f"run {self.label} on {self.problem} recorded no {name!r}; it has {list(self.trace)}")
        return self.trace[name].to_numpy(dtype=float)

    def final(self, name: str) -> float:
        values = self.column(name)
        return float(values[-1]) if len(values) else float("nan")


@dataclass(frozen=True)
class Results:
    """A set of runs with selection helpers.

    Attributes:
        runs: The runs, in the order of the spec's plan.

    Examples:
        >>> import pandas as pd
        >>> from sgdlab.lecture import Results, Run
        >>> def run(label, lr, seed, final):
        ...     trace = pd.DataFrame({"iters": [0, 10], "loss": [1.0, final]})
        ...     return Run(problem="q", label=label, hyperparameters={"lr": lr}, batch_size=1, seed=seed,
        ...                status="budget", trace=trace)
        >>> results = Results((run("SGD", 0.1, 0, 0.3), run("SGD", 0.1, 1, 0.1), run("SGD", 0.01, 0, 0.5)))
        >>> len(results), results.values("lr")
        (3, [0.1, 0.01])
        >>> results.select(lr=0.1).median_final("loss")
        0.2
    """

    runs: tuple[Run, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def select(self, problem: str | None = None, label: str | None = None, batch_size: int | None = None,
               **hyperparameters: Any) -> Results:  # fmt: skip
        """The runs matching every given field (hyperparameters compared by value)."""
        chosen = tuple(
            r
            for r in self.runs
            if (problem is None or r.problem == problem)
            and (label is None or r.label == label)
            and (batch_size is None or r.batch_size == batch_size)
            and all(r.hyperparameters.get(k) == v for k, v in hyperparameters.items())
        )
        return Results(chosen)

    def one(self, **selection: Any) -> Results:
        """Like `select`, but an empty selection is an error naming what was asked for."""
        chosen = self.select(**selection)
        if not chosen:
            raise LookupError(f"no run matches {selection}")
        return chosen

    def curves(self, metric: str, x: str = "iters", best_so_far: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
        """One `(x, metric)` curve per run; `best_so_far` takes the running minimum (e.g. min ‖∇f‖²)."""
        out = []
        for run in self.runs:
            y = run.column(metric)
            out.append((run.column(x), np.minimum.accumulate(y) if best_so_far else y))
        return out

    def finals(self, metric: str) -> np.ndarray:
        """The last recorded `metric` of each run."""
        return np.array([run.final(metric) for run in self.runs])

    def median_final(self, metric: str) -> float:
        """The median over runs (seeds) of the last recorded `metric`: what a claim's tables report."""
        return float(np.median(self.finals(metric)))

    def values(self, name: str) -> list[Any]:
        """The distinct values of a hyperparameter (or `batch_size`), in order of appearance."""
        seen: list[Any] = []
        for run in self.runs:
            value = run.batch_size if name == "batch_size" else run.hyperparameters.get(name)
            if value not in seen:
                seen.append(value)
        return seen


def collect(spec: Spec, store: Store) -> Results:
    """The main-phase runs of `spec` as stored (the tuned choices re-derived from the stored scores).

    Args:
        spec: The parsed experiment.
        store: The store its sweep wrote to.

    Returns:
        The `Results` of the spec's main runs, in its plan's order.

    Raises:
        LookupError: A main run of the spec is not in the store (sweep it first).
        RuntimeError: A main run failed (its error is in the message).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sgdlab.experiments import SerialExecutor, Store, run_sweep
        >>> from sgdlab.lecture import collect
        >>> from sgdlab.experiments import parse_spec
        >>> spec = parse_spec({"name": "demo", "seeds": 2, "budget": {"epochs": 3},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": 0.05}}, {"type": "GD"}]})
        >>> with Store(Path(tempfile.mkdtemp()) / "results.db") as store:
        ...     _ = run_sweep(spec, store, SerialExecutor(), progress=False)
        ...     results = collect(spec, store)
        >>> [(run.label, run.seed, run.status) for run in results]
        [('SGD', 0, 'budget'), ('SGD', 1, 'budget'), ('GD', 0, 'budget'), ('GD', 1, 'budget')]
        >>> gd = results.select(label="GD")
        >>> len(gd), list(gd.runs[0].trace.columns[:3])
        (2, ['iters', 'grad_evals', 'epochs'])
    """
    plan = Plan(spec)
    scores: dict[str, float] = {}
    for group in plan.tuning:
        scores.update(store.scores(group.method.tune.metric, (r.key for r in group.runs)))
    stored = store.runs().set_index("run_key")
    runs = []
    for config in plan.main_runs(scores):
        if config.key not in stored.index:
            raise LookupError(f"run {config.label} (seed {config.seed}) of {spec.name!r} is not in {store.path}")
        row = stored.loc[config.key]
        if row["status"] == "error":
            raise RuntimeError(f"run {config.label} of {spec.name!r} failed: {row['error']}")
        runs.append(
            Run(
                problem=config.problem["name"],
                label=config.label,
                hyperparameters=json.loads(json.dumps(config.hyperparameters)),
                batch_size=config.batch_size,
                seed=config.seed,
                status=str(row["status"]),
                trace=store.trace(config.key),
                x=store.final_x(config.key),
                key=config.key,
            )
        )
    return Results(tuple(runs))
