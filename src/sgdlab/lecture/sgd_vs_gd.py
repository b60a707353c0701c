"""SGD against GD per gradient evaluation: an SGD iteration costs one component gradient, a GD iteration n;
so SGD wins at low accuracy, while GD (linear rate) wins at high accuracy, where constant-step SGD stalls."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sgdlab.analysis import iterations_to
from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence

PROBLEM = _common.data_problem(
    "logistic-l2", "LogisticRegression", "classification", {"l2": 1e-2}, n=1000, dim=20, cond=10.0, noise=1.0
)
LOW, HIGH = 1e-1, 1e-6  # accuracies, relative to f(x0) − f*


class SgdVersusGd(Claim):
    key = "sgd-vs-gd"
    title = "SGD is n times cheaper per iteration: it wins at low accuracy, GD at high accuracy"
    statement = (
        "A stochastic gradient costs 1/n of a full gradient; per gradient evaluation SGD makes fast early "
        "progress, but GD's linear rate overtakes it when high accuracy is needed."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        record = {"metrics": ["loss", "subopt"], "points_per_decade": 20, "every": 1.0}
        budget = {"epochs": 150 if quick else 300}
        return [  # GD is deterministic: one run; SGD over seeds
            {"name": "sgd-vs-gd-gd", "budget": budget, "problems": [PROBLEM], "methods": [{"type": "GD"}],
             "record": record},
            {"name": "sgd-vs-gd-sgd", "seeds": 2 if quick else 5, "budget": budget, "problems": [PROBLEM],
             "methods": [{"type": "SGD"}], "record": record},
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        runs = _merged(results)
        n = _common.problem(PROBLEM).n
        rows = []
        reach: dict[str, dict[float, float]] = {}
        for label in ("GD", "SGD"):
            chosen = runs.one(label=label)
            evals_per_iter = [r.final("grad_evals") / r.final("iters") for r in chosen]
            seconds_per_iter = float(np.median([r.final("time_s") / r.final("iters") for r in chosen]))
            gap0 = float(np.median([r.column("subopt")[0] for r in chosen]))
            reach[label] = {
                eps: float(np.median([iterations_to(r.column("grad_evals"), r.column("subopt"), eps * gap0)
                                      for r in chosen]))
                for eps in (LOW, HIGH)
            }  # fmt: skip
            rows.append({"method": label, "gradient evaluations per iteration": float(np.median(evals_per_iter)),
                         "seconds per iteration": seconds_per_iter,
                         f"evaluations to {LOW:g}·gap": reach[label][LOW],
                         f"evaluations to {HIGH:g}·gap": reach[label][HIGH],
                         "final f − f*": chosen.median_final("subopt")})  # fmt: skip
        table = pd.DataFrame(rows).set_index("method")
        ratio = table.loc["GD", "seconds per iteration"] / table.loc["SGD", "seconds per iteration"]
        verdict.check(
            "cost of an iteration",
            table.loc["GD", "gradient evaluations per iteration"] == n
            and table.loc["SGD", "gradient evaluations per iteration"] == 1,
            f"GD {table.loc['GD', 'gradient evaluations per iteration']:g}, SGD "
            f"{table.loc['SGD', 'gradient evaluations per iteration']:g} component gradients; "
            f"an iteration of GD takes {ratio:.0f}× the wall time of one of SGD",
            f"GD n = {n}, SGD 1",
        )
        verdict.check(
            f"low accuracy: ε = {LOW:g} of the initial gap",
            reach["SGD"][LOW] < reach["GD"][LOW],
            f"SGD {_common.evaluations(reach['SGD'][LOW])}, GD {_common.evaluations(reach['GD'][LOW])}",
            "SGD needs fewer gradient evaluations",
        )
        verdict.check(
            "high accuracy: ε = 1e-6 of the initial gap",
            reach["GD"][HIGH] < reach["SGD"][HIGH],
            f"GD {_common.evaluations(reach['GD'][HIGH])}, SGD {_common.evaluations(reach['SGD'][HIGH])}"
            + (" (it stalls at its noise floor)" if not np.isfinite(reach["SGD"][HIGH]) else ""),
            "GD needs fewer gradient evaluations",
        )
        verdict.table = pd.DataFrame({
            "component gradients per iteration": table["gradient evaluations per iteration"].round().astype(int),
            "wall time per iteration (µs)": [_common.number(v * 1e6) for v in table["seconds per iteration"]],
            "gradient evaluations to 0.1 of the initial gap": [_common.evaluations(v, "") for v in
                                                               table[f"evaluations to {LOW:g}·gap"]],
            "gradient evaluations to 1e-6 of the initial gap": [_common.evaluations(v, "") for v in
                                                                table[f"evaluations to {HIGH:g}·gap"]],
            "final f − f*": [_common.gap(v) for v in table["final f − f*"]],
        }, index=table.index)  # fmt: skip
        verdict.notes = (
            f"Accuracies are relative to the initial gap f(x₀) − f*. Wall time: GD's full gradient is one matrix "
            f"product over all n = {n} rows, SGD's step one row, so on this machine an iteration of GD costs "
            f"{ratio:.0f}× one of SGD, not n = {n}×: per second GD is ahead at every time (the figure's middle "
            "panel). The claim is about the oracle count — gradient evaluations — which is what decides when a "
            "component gradient is the expensive part (large n, data streamed from disk, models larger than a "
            "matrix row)."
        )
        return verdict

    captions: ClassVar[dict[str, str]] = {
        "sgd-vs-gd.png": "Left: f − f* per gradient evaluation (1 epoch = n component gradients): SGD is far "
        "ahead at first, then stalls at its noise floor (constant step), while GD's linear rate takes it to "
        "machine precision. Middle: the same runs against wall-clock seconds on this machine — GD is below SGD "
        "at every time, because a full gradient as one matrix product costs less than n single-row steps (see "
        "the notes): the claim counts gradient evaluations, not seconds; a flat stretch in a wall-clock curve "
        "is the process waiting for the CPU (these runs last milliseconds), not a stall. Right: the gradient "
        "evaluations needed to reach each accuracy ε (further right = smaller ε = harder): SGD is cheaper "
        "down to about ε = 0.1, GD below; SGD's curve ends at its floor."
    }

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "sgd-vs-gd.png"
        runs = _merged(results)
        with _common.figure(path, ncols=3, width=3.7, height=3.5) as axes:
            for ax, x in zip(axes[0, :2], ("epochs", "time_s"), strict=True):
                plot_convergence(ax, {label: runs.one(label=label).curves("subopt", x) for label in ("GD", "SGD")},
                                 x, "subopt")  # fmt: skip
            axes[0, 0].set_title("per gradient evaluation")
            axes[0, 0].set_xlabel("epochs (n component gradients)")
            axes[0, 1].set_title("per second (this machine)")
            ax = axes[0, 2]
            accuracies = np.geomspace(1e-8, 0.5, 60)
            for label in ("GD", "SGD"):
                evals = [[iterations_to(r.column("grad_evals"), r.column("subopt"), eps * r.column("subopt")[0])
                          for eps in accuracies] for r in runs.one(label=label)]  # fmt: skip
                median = np.median(np.array(evals), axis=0)
                ax.plot(1.0 / accuracies, np.where(np.isfinite(median), median, np.nan), label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("1/ε (ε: fraction of the initial gap)")
            ax.set_ylabel("gradient evaluations to reach ε")
            ax.set_title("cost of an accuracy")
            ax.grid(True, which="major", alpha=0.35)
            ax.legend()
        return [path]


def _merged(results: Mapping[str, Results]) -> Results:
    return Results(results["sgd-vs-gd-gd"].runs + results["sgd-vs-gd-sgd"].runs)
