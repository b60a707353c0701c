"""Adagrad on sparse data with rare informative features; Adadelta without a learning rate.

Adagrad's per-coordinate step α/√(Σ g_j²) stays large for coordinates whose gradients are rarely nonzero, so
a feature seen in few samples still learns fast — the case Duchi, Hazan & Singer (JMLR 2011) designed it for;
one global SGD step must be small enough for the frequent features. Adadelta (Zeiler, 2012) replaces α by a
running RMS of past updates, so the same defaults serve problems of very different scales.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence

LR_GRID = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
ADVANTAGE = 1.5
PROGRESS = 2.0  # the reduction of f − f* over 10 epochs that counts as progress (a diverging run scores 0)


def _features(name: str, exponent: float) -> dict[str, Any]:
    return {"name": name, "type": "LogisticRegression", "params": {"l2": 1e-4},
            "data": {"source": "rare_features", "n": 2000, "dim": 200, "exponent": exponent, "seed": 0}}  # fmt: skip


RARE = _features("rare-features", 1.0)  # feature j appears in a sample with probability 0.5/j
FREQUENT = _features("frequent-features", 0.0)  # every feature with probability 0.5
SCALES = [
    _common.data_problem("least-squares", "LeastSquares", "regression", n=1000, dim=20, cond=10.0, noise=0.1),
    _common.data_problem("logistic", "LogisticRegression", "classification", {"l2": 1e-3}, n=1000, dim=20,
                         cond=10.0, noise=1.0),
    _common.data_problem("nonconvex", "NonconvexLogistic", "classification", n=1000, dim=20, cond=10.0, noise=1.0),
    # raw (unstandardised) features: L ≈ 4·10⁵, so any step that suits the problems above explodes here
    {"name": "breast-cancer-raw", "type": "LogisticRegression", "params": {"l2": 1e-3},
     "data": {"source": "bundled", "name": "breast_cancer"}},
]  # fmt: skip
FIXED_STEPS = (0.1, 0.01)


class AdaptiveMethods(Claim):
    key = "adaptive"
    title = "Adagrad wins on rare informative features; Adadelta needs no learning rate"
    statement = (
        "Adagrad adapts the step of each coordinate to its gradient history, which pays off on sparse data "
        "with rare but informative features; Adadelta removes the learning rate altogether."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        tuned = {"params": {"lr": LR_GRID}, "tune": {"param": "lr", "metric": "final_subopt", "seeds": [0]}}
        record = {"metrics": ["loss", "subopt"], "points_per_decade": 10}
        return [
            {"name": "adagrad-sparse", "seeds": 2 if quick else 4, "budget": {"epochs": 3 if quick else 5},
             "problems": [RARE, FREQUENT], "methods": [{"type": "SGD", **tuned}, {"type": "Adagrad", **tuned}],
             "record": record},
            {"name": "adadelta-scales", "seeds": 1 if quick else 2, "budget": {"epochs": 10}, "problems": SCALES,
             "methods": [{"type": "Adadelta"},
                         *({"type": "SGD", "name": f"SGD lr={lr:g}", "params": {"lr": lr}} for lr in FIXED_STEPS)],
             "record": record},
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        sparse = results["adagrad-sparse"]
        ratio = {}
        rows = []
        for problem in (RARE["name"], FREQUENT["name"]):
            finals = {m: float(np.median(sparse.one(problem=problem, label=m).finals("subopt")))
                      for m in ("SGD", "Adagrad")}  # fmt: skip
            ratio[problem] = finals["SGD"] / finals["Adagrad"]
            lrs = {m: sparse.one(problem=problem, label=m).runs[0].hyperparameters["lr"] for m in ("SGD", "Adagrad")}
            rows.append({"problem": problem, "method": "SGD vs Adagrad (tuned lr)",
                         "result": f"{finals['SGD']:.3g} vs {finals['Adagrad']:.3g} (lr {lrs['SGD']:g} / "
                                   f"{lrs['Adagrad']:g}); ratio {ratio[problem]:.2f}"})  # fmt: skip
        verdict.check("Adagrad beats tuned SGD on rare features", ratio[RARE["name"]] >= ADVANTAGE,
                      f"final f − f*: SGD/Adagrad = {ratio[RARE['name']]:.2f}", f"≥ {ADVANTAGE:g}")  # fmt: skip
        verdict.check("the advantage comes from the rare features", ratio[RARE["name"]] > ratio[FREQUENT["name"]],
                      f"{ratio[RARE['name']]:.2f} with rare vs {ratio[FREQUENT['name']]:.2f} with frequent features",
                      "larger with rare features")  # fmt: skip
        scales = results["adadelta-scales"]
        reductions = {}
        for table in SCALES:
            for label in ("Adadelta", *(f"SGD lr={lr:g}" for lr in FIXED_STEPS)):
                runs = scales.one(problem=table["name"], label=label)
                ok = all(r.status != "diverged" for r in runs)
                reductions[table["name"], label] = (
                    float(np.median([r.column("subopt")[0] / max(r.final("subopt"), 1e-300) for r in runs]))
                    if ok else 0.0
                )  # fmt: skip
                result = f"f − f* reduced {reductions[table['name'], label]:.3g}×" if ok else "diverged"
                rows.append({"problem": table["name"], "method": label, "result": result})
        worst = min(reductions[t["name"], "Adadelta"] for t in SCALES)
        verdict.check(
            "Adadelta's defaults work on every scale",
            worst >= PROGRESS,
            f"f − f* reduced at least {worst:.3g}× on each of {len(SCALES)} problems",
            f"≥ {PROGRESS:g}× on each, never diverging",
        )
        for lr in FIXED_STEPS:
            label = f"SGD lr={lr:g}"
            failing = [t["name"] for t in SCALES if reductions[t["name"], label] < PROGRESS]
            verdict.check(
                f"one SGD step does not fit all: lr = {lr:g}",
                bool(failing),
                f"fails (< {PROGRESS:g}× or diverged) on {', '.join(failing) or 'none'}",
                "fails on some problem",
            )
        verdict.table = pd.DataFrame(rows)
        verdict.notes = (
            "Adadelta's first steps are √ε-sized whatever the problem, so where the solution is far in those units "
            "(the raw breast-cancer features) its progress is steady but slow."
        )
        return verdict

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "adaptive.png"
        sparse, scales = results["adagrad-sparse"], results["adadelta-scales"]
        with _common.figure(path, ncols=3, width=4.6, height=3.8) as axes:
            for ax, problem in zip(axes[0, :2], (RARE["name"], FREQUENT["name"]), strict=True):
                curves = {m: sparse.one(problem=problem, label=m).curves("subopt", "epochs")
                          for m in ("SGD", "Adagrad")}  # fmt: skip
                plot_convergence(ax, curves, "epochs", "subopt")
                ax.set_title(f"{problem} (tuned lr)")
            ax = axes[0, 2]
            curves = {t["name"]: scales.one(problem=t["name"], label="Adadelta").curves("subopt", "epochs")
                      for t in SCALES}  # fmt: skip
            plot_convergence(ax, curves, "epochs", "subopt")
            ax.set_title("Adadelta, default settings")
        return [path]
