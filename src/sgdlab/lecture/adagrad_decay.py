"""Adagrad's monotonically accumulated denominator makes its step decay like 1/√k; RMSProp and Adam keep theirs.

On linear losses with noisy slopes (the gradient field is the same everywhere) the distance travelled measures
the step directly: Adagrad's steps α g_k/√(Σ_t g_t²) shrink like 1/√k, so it travels ~√k; RMSProp's and
Adam's exponential averages forget, so their steps stay the same size and they travel ~k. Measured on the
Reddi et al. sums (slopes C, −1, −1) with the interval widened far beyond the budget's reach: the loss is
linear in x there, so |f(x_k) − f(x_0)| is the distance travelled times the mean slope.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sgdlab.analysis import bootstrap_rate
from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results

#: The experiment's name (its results are looked up by it).
EXPERIMENT = "adagrad-decay"

PROBLEM = {"name": "noisy-slopes", "type": "AdamCounterexample", "params": {"C": 3.0, "radius": 1e5}}
METHODS = [
    {"type": "Adagrad", "params": {"lr": 0.1}},
    {"type": "RMSProp", "params": {"lr": 0.1, "gamma": 0.99}},
    {"type": "Adam", "params": {"lr": 0.1, "beta2": 0.999}},
]
LABELS = ("Adagrad", "RMSProp", "Adam")


def travelled(results: Results, label: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """`(iterations, |f(x_k) − f(x_0)|)` per seed: the distance travelled, times the mean slope."""
    return [(x[1:], np.abs(y - y[0])[1:]) for x, y in results.one(label=label).curves("loss")]


class AdagradStepDecay(Claim):
    key = "adagrad-decay"
    title = "Adagrad's step decays like 1/√k; RMSProp and Adam keep going"
    statement = (
        "Adagrad's main drawback is the monotone accumulation of squared gradients in its denominator: its "
        "learning rate only decreases. RMSProp, Adadelta and Adam replace the sum by an exponential average."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        return [
            {"name": EXPERIMENT, "seeds": 2 if quick else 4, "budget": {"iters": 10_000 if quick else 50_000},
             "problems": [PROBLEM], "methods": METHODS, "record": {"metrics": ["loss"], "points_per_decade": 12}}
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        runs = results[EXPERIMENT]
        rates = {label: bootstrap_rate(travelled(runs, label), "sublinear", n_boot=500) for label in LABELS}
        distance = {label: float(np.median([y[-1] for _, y in travelled(runs, label)])) for label in LABELS}
        verdict.check("Adagrad travels like √k: its step decays", rates["Adagrad"].high <= 0.8,
                      f"distance ~ k^{rates['Adagrad']}", "log–log slope ≤ 0.8 (theory 0.5)")  # fmt: skip
        for label in LABELS[1:]:
            verdict.check(f"{label} travels like k: its step keeps its size", rates[label].low >= 0.85,
                          f"distance ~ k^{rates[label]}", "log–log slope ≥ 0.85 (theory 1)")  # fmt: skip
        ratio = min(distance[label] for label in LABELS[1:]) / distance["Adagrad"]
        verdict.check("after the budget, Adagrad is far behind", ratio >= 10.0,
                      f"RMSProp/Adam travelled ≥ {ratio:.0f}× as far", "≥ 10×")  # fmt: skip
        verdict.table = pd.DataFrame(
            [{"method": label, "distance travelled ~ k^p: p [95 % interval]": str(rates[label]),
              "|f(x_k) − f(x₀)| after the budget": distance[label]} for label in LABELS]
        ).set_index("method")  # fmt: skip
        verdict.notes = "Same α = 0.1 for all; RMSProp γ = 0.99, Adam β2 = 0.999 (long memories: little noise in v)."
        return verdict

    table_caption = (
        "The loss is linear in x, so |f(x_k) − f(x₀)| is the distance travelled times the mean slope: its growth "
        "exponent p (log–log slope on the last half of the run, 95 % bootstrap interval over seeds) measures how "
        "the step size evolves — p = ½ for steps decaying like 1/√k, p = 1 for steps of constant size."
    )
    captions: ClassVar[dict[str, str]] = {
        "adagrad-decay.png": "How far each method gets on linear losses with noisy slopes (log–log): Adagrad's "
        "curve runs parallel to the √k guide — its accumulated denominator makes every step smaller than the "
        "last — while RMSProp's and Adam's run parallel to the k guide: their exponential averages forget, so "
        "their steps keep their size. Same α = 0.1 for all; bands: IQR over seeds."
    }

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        from sgdlab.viz import plot_convergence

        path = folder / "adagrad-decay.png"
        runs = results[EXPERIMENT]
        with _common.figure(path, width=6.0, height=4.2) as axes:
            ax = axes[0, 0]
            plot_convergence(ax, {label: travelled(runs, label) for label in LABELS}, "iters",
                             "|f(x_k) − f(x₀)| (distance × slope)")  # fmt: skip
            k = np.geomspace(10, runs.runs[0].column("iters")[-1], 20)
            ax.plot(k, 0.05 * np.sqrt(k), ":", color="grey", lw=1.2, label="∝ √k")
            ax.plot(k, 0.005 * k, "--", color="grey", lw=1.0, label="∝ k")
            ax.legend()
            ax.set_title("linear losses with noisy slopes:\nhow far the steps carry")
        return [path]
