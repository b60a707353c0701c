"""Adagrad on sparse data with rare informative features; Adadelta without a learning rate.

Adagrad's per-coordinate step α/√(Σ g_j²) stays large for coordinates whose gradients are rarely nonzero, so
a feature seen in few samples still learns fast — the case Duchi, Hazan & Singer (JMLR 2011) designed it for;
one global SGD step must be small enough for the frequent features. Adadelta (Zeiler, 2012) replaces α by a
running RMS of past updates, so the same defaults serve problems of very different scales.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence

#: The experiments' names (each claim's results are looked up by them).
SPARSE_EXPERIMENT = "adagrad-sparse"
SCALES_EXPERIMENT = "adadelta-scales"

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


SCALE_LABELS = ("Adadelta", *(f"SGD lr={lr:g}" for lr in FIXED_STEPS))
SCALE_NAMES = {"least-squares": "least squares", "logistic": "logistic", "nonconvex": "nonconvex logistic",
               "breast-cancer-raw": "breast cancer, raw features"}  # fmt: skip


def reductions(scales: Results) -> dict[tuple[str, str], float]:
    """(problem, method) → median over seeds of f(x₀) − f* divided by the final f − f* (0 for a diverged run)."""
    out = {}
    for table in SCALES:
        for label in SCALE_LABELS:
            runs = scales.one(problem=table["name"], label=label)
            ok = all(r.status != "diverged" for r in runs)
            out[table["name"], label] = (
                float(np.median([r.column("subopt")[0] / max(r.final("subopt"), 1e-300) for r in runs])) if ok else 0.0
            )
    return out


def _reduction_text(value: float) -> str:
    if value == 0.0:
        return "diverged"
    if value < 1.0:
        return f"grew {_common.number(1 / value)}×"
    return f"{_common.number(value)}× smaller"


def _ratios(sparse: Results) -> dict[str, dict[str, float]]:
    out = {}
    for problem in (RARE["name"], FREQUENT["name"]):
        finals = {m: sparse.one(problem=problem, label=m).median_final("subopt")
                  for m in ("SGD", "Adagrad")}  # fmt: skip
        lrs = {m: sparse.one(problem=problem, label=m).runs[0].hyperparameters["lr"] for m in ("SGD", "Adagrad")}
        out[problem] = {"SGD": finals["SGD"], "Adagrad": finals["Adagrad"], "ratio": finals["SGD"] / finals["Adagrad"],
                        "lr SGD": lrs["SGD"], "lr Adagrad": lrs["Adagrad"]}  # fmt: skip
    return out


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
            {"name": SPARSE_EXPERIMENT, "seeds": 2 if quick else 4, "budget": {"epochs": 3 if quick else 5},
             "problems": [RARE, FREQUENT], "methods": [{"type": "SGD", **tuned}, {"type": "Adagrad", **tuned}],
             "record": record},
            {"name": SCALES_EXPERIMENT, "seeds": 1 if quick else 2, "budget": {"epochs": 10}, "problems": SCALES,
             "methods": [{"type": "Adadelta"},
                         *({"type": "SGD", "name": f"SGD lr={lr:g}", "params": {"lr": lr}} for lr in FIXED_STEPS)],
             "record": record},
        ]  # fmt: skip

    table_caption = (
        "Adadelta against two fixed SGD steps on four problems of very different scales (L: the smoothness "
        "constant, ≈ 4·10⁵ for the raw breast-cancer features): the factor by which f − f* shrank over 10 epochs, "
        "median over seeds "
        f"(progress means at least {PROGRESS:g}×)."
    )
    captions: ClassVar[dict[str, str]] = {
        "adaptive.png": "Left and middle: f − f* of SGD and Adagrad, each with its learning rate tuned on a grid "
        "(seed 0, then every seed), on sparse data whose features appear with power-law frequencies (rare "
        "informative features) and on data where every feature is frequent; the titles give the ratio of final "
        "f − f* SGD/Adagrad — Adagrad's advantage on rare features, none on frequent ones. Right: what the "
        "Adadelta checks use — the reduction of f − f* over 10 epochs for Adadelta with its defaults and SGD "
        f"with lr 0.1 and 0.01 on four problems; below the dashed line ({PROGRESS:g}×) a run counts as failing, "
        "× marks a diverged run. Bands: IQR over seeds."
    }

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        sparse = results[SPARSE_EXPERIMENT]
        found = _ratios(sparse)
        ratio = {problem: found[problem]["ratio"] for problem in found}
        verdict.check("Adagrad beats tuned SGD on rare features", ratio[RARE["name"]] >= ADVANTAGE,
                      f"final f − f*: SGD/Adagrad = {ratio[RARE['name']]:.2f}", f"≥ {ADVANTAGE:g}")  # fmt: skip
        verdict.check("the advantage comes from the rare features", ratio[RARE["name"]] > ratio[FREQUENT["name"]],
                      f"{ratio[RARE['name']]:.2f} with rare vs {ratio[FREQUENT['name']]:.2f} with frequent features",
                      "larger with rare features")  # fmt: skip
        scales = results[SCALES_EXPERIMENT]
        reduced = reductions(scales)
        worst = min(reduced[t["name"], "Adadelta"] for t in SCALES)
        verdict.check(
            "Adadelta's defaults work on every scale",
            worst >= PROGRESS,
            f"f − f* reduced at least {worst:.3g}× on each of {len(SCALES)} problems",
            f"≥ {PROGRESS:g}× on each, never diverging",
        )
        for lr in FIXED_STEPS:
            label = f"SGD lr={lr:g}"
            failing = [t["name"] for t in SCALES if reduced[t["name"], label] < PROGRESS]
            verdict.check(
                f"one SGD step does not fit all: lr = {lr:g}",
                bool(failing),
                f"fails (< {PROGRESS:g}× or diverged) on {', '.join(SCALE_NAMES[f] for f in failing) or 'none'}",
                "fails on some problem",
            )
        smoothness = {t["name"]: float(f"{_common.problem(t).L:.2g}") for t in SCALES}
        verdict.table = pd.DataFrame(
            [{"problem": SCALE_NAMES[t["name"]], "L": smoothness[t["name"]],
              **{("Adadelta (defaults)" if label == "Adadelta" else label.replace("lr=", "lr = ")):
                 _reduction_text(reduced[t["name"], label]) for label in SCALE_LABELS}}
             for t in SCALES]
        )  # fmt: skip
        sparse_table = pd.DataFrame(
            [{"features": "rare (power-law frequencies)" if problem == RARE["name"] else "frequent (all equally)",
              "tuned lr: SGD": v["lr SGD"], "tuned lr: Adagrad": v["lr Adagrad"], "final f − f*: SGD": v["SGD"],
              "final f − f*: Adagrad": v["Adagrad"], "ratio SGD/Adagrad": round(v["ratio"], 2)}
             for problem, v in found.items()]
        )  # fmt: skip
        verdict.extra_tables.append(
            (
                "SGD and Adagrad on sparse data, each with its learning rate tuned on "
                f"{LR_GRID} (seed 0); final f − f*, median over seeds.",
                sparse_table,
            )
        )
        verdict.notes = (
            "Adadelta's first steps are √ε-sized whatever the problem, so where the solution is far in those units "
            "(the raw breast-cancer features) its progress is steady but slow."
        )
        return verdict

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "adaptive.png"
        sparse, scales = results[SPARSE_EXPERIMENT], results[SCALES_EXPERIMENT]
        found = _ratios(sparse)
        with _common.figure(path, ncols=3, width=3.9, height=3.6) as axes:
            for ax, problem in zip(axes[0, :2], (RARE["name"], FREQUENT["name"]), strict=True):
                v = found[problem]
                curves = {f"{m} (lr {v['lr ' + m]:g})": sparse.one(problem=problem, label=m).curves("subopt", "epochs")
                          for m in ("SGD", "Adagrad")}  # fmt: skip
                plot_convergence(ax, curves, "epochs", "subopt")
                kind = "rare features" if problem == RARE["name"] else "frequent features"
                ax.set_title(f"{kind}: final SGD/Adagrad = {v['ratio']:.2f}", fontsize=10.5)
                ax.legend(loc="lower left")
            ax = axes[0, 2]
            reduced = reductions(scales)
            names = [t["name"] for t in SCALES]
            width = 0.8 / len(SCALE_LABELS)
            for i, label in enumerate(SCALE_LABELS):
                x = np.arange(len(names)) + (i - (len(SCALE_LABELS) - 1) / 2) * width
                values = np.array([reduced[n, label] for n in names])
                bars = ax.bar(x, np.where(values > 0, values, np.nan), width, label=label.replace("lr=", "lr "))
                gone = values == 0
                if gone.any():
                    ax.plot(x[gone], np.ones(gone.sum()), "x", color=bars.patches[0].get_facecolor(), ms=9, mew=2)
            ax.set_yscale("log")
            ax.axhline(PROGRESS, color="black", ls="--", lw=1)
            ax.set_xticks(np.arange(len(names)), ["least\nsquares", "logistic", "non-\nconvex", "breast\ncancer raw"])
            ax.set_ylabel("reduction of f − f* (< 1: it grew)")
            ax.set_title("Adadelta vs fixed SGD steps")
            ax.grid(True, axis="y", alpha=0.35)
            ax.legend(loc="upper right", fontsize=8.5)
        return [path]
