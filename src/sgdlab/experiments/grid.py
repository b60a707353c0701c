"""From a spec to runs: grid expansion, the tuning plan, and the identity of a run.

A run's key hashes everything that determines its result (problem, method type and hyperparameters,
batch size, sampler, seed, budget, recording) and nothing else, so the same run requested twice — by
a tuning phase and a main phase, or by two specs — is computed once. A method's name (its label) is not
part of a run's identity, which is why a spec may not ask for one run under two names (see
`sgdlab.experiments.validate`).

A spec's size is computed from the lengths of its lists before anything is expanded (`run_count`), and
a spec of more than `MAX_RUNS` runs is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sgdlab.experiments.spec import MethodSpec, Spec

#: The most runs one spec may ask for (tuning and main phases together): a sweep stores a row per run, and
#: expanding, planning and reporting hold every run's configuration in memory.
MAX_RUNS = 100_000


def run_count(spec: Spec) -> int:
    """The number of runs `spec` asks for — tuning runs plus main runs, a run requested twice counted twice —
    from the lengths of its lists alone (nothing is expanded, so this is instant for any size)."""
    seeds = spec.seeds if isinstance(spec.seeds, int) else len(spec.seeds)
    per_setting = 0
    for method in spec.methods:
        lengths = {key: len(values) for key, values in method.grid_axes().items()}
        points = math.prod(lengths.values())
        if method.tune is None:
            per_setting += points * seeds
        else:  # every value on the tuning seeds, then the chosen one on every seed
            per_setting += points * len(method.tune.seeds) + points // lengths[method.tune.param] * seeds
    return per_setting * len(spec.batch_sizes) * len(spec.problems)


def grid_points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The cartesian product of list-valued parameters (scalars are held fixed)."""
    keys = list(params)
    axes = [params[k] if isinstance(params[k], list) else [params[k]] for k in keys]
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes)]


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs; plain data, so it travels to worker processes and into the store.

    Attributes:
        problem: The `[[problems]]` table, as validated.
        method: The method's type (`"SGD"`, `"Adam"`, …).
        hyperparameters: One grid point of the method's parameters.
        batch_size: Components per step.
        sampler: The sampler's name.
        seed: The run's seed.
        budget: The `[budget]` table.
        record: The `[record]` table.
        label: The method's name in tables and plots (not part of the run's identity).
        phase: `"tune"` or `"main"` (not part of the run's identity).

    Examples:
        >>> from sgdlab.experiments import Plan, parse_spec
        >>> spec = parse_spec({"name": "demo", "seeds": 2, "budget": {"epochs": 2},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "name": "SGD (tuned α)", "params": {"lr": 0.05}}]})
        >>> first, second = Plan(spec).main_runs({})
        >>> first.label, first.hyperparameters, (first.seed, second.seed), len(first.key)
        ('SGD (tuned α)', {'lr': 0.05}, (0, 1), 20)
    """

    problem: dict[str, Any]
    method: str
    hyperparameters: dict[str, Any]
    batch_size: int
    sampler: str
    seed: int
    budget: dict[str, Any]
    record: dict[str, Any]
    label: str = field(default="", compare=False)
    phase: str = field(default="main", compare=False)

    @property
    def key(self) -> str:
        """The run's identity: 20 hex digits of a hash of every field but `label` and `phase`."""
        identity = {k: v for k, v in asdict(self).items() if k not in ("label", "phase")}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class TuningGroup:
    """Runs that differ only in the tuned parameter (and the tuning seeds), and how to judge them."""

    method: MethodSpec
    problem: dict[str, Any]
    batch_size: int
    fixed: dict[str, Any]
    runs: tuple[RunConfig, ...]

    def choose(self, scores: Mapping[str, float]) -> Any:
        """The tuned value with the best mean score over the tuning seeds (`scores` by run key; a
        missing, failed or diverged run scores as the worst)."""
        param, metric = self.method.tune.param, self.method.tune.metric
        sign = -1.0 if metric == "final_test_accuracy" else 1.0
        totals: dict[Any, float] = {}
        for run in self.runs:
            value = scores.get(run.key)
            penalty = math.inf if value is None or not math.isfinite(value) else sign * value
            totals[json.dumps(run.hyperparameters[param])] = (
                totals.get(json.dumps(run.hyperparameters[param]), 0.0) + penalty
            )
        best = min(totals, key=lambda k: totals[k])
        return json.loads(best)


class Plan:
    """The runs of a spec: a tuning phase (possibly empty) and a main phase that depends on its choices.

    A method with `tune = { param = "lr", ... }` runs every value of its `lr` grid on the tuning seeds
    first; [`main_runs`][sgdlab.experiments.Plan.main_runs] then runs the value with the best mean score
    on every seed. Other grid axes are expanded in full.

    Args:
        spec: A validated [`Spec`][sgdlab.experiments.Spec].

    Examples:
        >>> from sgdlab.experiments import Plan, parse_spec
        >>> spec = parse_spec({"name": "tuned", "seeds": 3, "budget": {"epochs": 2},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": [0.01, 0.1]},
        ...                                 "tune": {"param": "lr", "seeds": [0]}}]})
        >>> plan = Plan(spec)
        >>> len(plan.tuning_runs), plan.main_count
        (2, 3)
        >>> scores = {run.key: {0.01: 0.5, 0.1: 0.2}[run.hyperparameters["lr"]] for run in plan.tuning_runs}
        >>> sorted({run.hyperparameters["lr"] for run in plan.main_runs(scores)})  # the better value
        [0.1]
    """

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.common = {
            "sampler": spec.sampler,
            "budget": spec.budget.model_dump(exclude_none=True),
            "record": spec.record.model_dump(),
        }
        self.tuning: list[TuningGroup] = []
        self._fixed_runs: list[RunConfig] = []
        for problem in spec.problems:
            problem_dict = problem.model_dump(mode="json")
            for method in spec.methods:
                for batch_size in spec.batch_sizes:
                    self._expand(problem_dict, method, batch_size)

    def _config(self, problem, method: MethodSpec, hyperparameters, batch_size, seed, phase) -> RunConfig:
        return RunConfig(
            problem=problem,
            method=method.type,
            hyperparameters=hyperparameters,
            batch_size=batch_size,
            seed=seed,
            label=method.label,
            phase=phase,
            **self.common,
        )

    def _expand(self, problem, method: MethodSpec, batch_size: int) -> None:
        if method.tune is None:
            for point in grid_points(method.params):
                for seed in self.spec.seed_list:
                    self._fixed_runs.append(self._config(problem, method, point, batch_size, seed, "main"))
            return
        tuned = method.tune.param
        others = {k: v for k, v in method.params.items() if k != tuned}
        for fixed in grid_points(others):
            runs = tuple(
                self._config(problem, method, {**fixed, tuned: value}, batch_size, seed, "tune")
                for value in method.params[tuned]
                for seed in method.tune.seeds
            )
            self.tuning.append(TuningGroup(method, problem, batch_size, fixed, runs))

    @property
    def main_count(self) -> int:
        """The number of main-phase runs (known before tuning)."""
        return len(self._fixed_runs) + len(self.tuning) * len(self.spec.seed_list)

    @property
    def tuning_runs(self) -> list[RunConfig]:
        """Every tuning-phase run."""
        return [run for group in self.tuning for run in group.runs]

    @property
    def fixed_runs(self) -> list[RunConfig]:
        """Main-phase runs of the methods without tuning: known before any run."""
        return list(self._fixed_runs)

    def tuned_runs(self, scores: Mapping[str, float]) -> list[RunConfig]:
        """Main-phase runs of the tuned methods, at the values the tuning runs' scores (by key) choose."""
        runs = []
        for group in self.tuning:
            best = group.choose(scores)
            point = {**group.fixed, group.method.tune.param: best}
            runs += [
                self._config(group.problem, group.method, point, group.batch_size, seed, "main")
                for seed in self.spec.seed_list
            ]
        return runs

    def main_runs(self, scores: Mapping[str, float]) -> list[RunConfig]:
        """The main-phase runs, given the tuning runs' scores.

        Args:
            scores: Run key → the tuning metric's value (lower is better, except `final_test_accuracy`); a
                missing, failed or diverged run scores as the worst.

        Returns:
            The runs, fixed grid points first, then each tuning group's chosen value on every seed.
        """
        return self.fixed_runs + self.tuned_runs(scores)
