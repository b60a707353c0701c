"""Adam does not converge on the counterexample of Reddi, Kale & Kumar (2018); AMSGrad does."""

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

#: The experiment's name (its results are looked up by it).
EXPERIMENT = "adam-counterexample"

C = 3.0
PROBLEM = {"name": "reddi", "type": "AdamCounterexample", "params": {"C": C}}
# Reddi et al.'s Theorem 1 setting: β1 = 0, β2 = 1/(1 + C²), α_k = α/√k
SETTINGS = {"lr": 0.5, "beta1": 0.0, "beta2": 1.0 / (1.0 + C**2), "schedule": "1/sqrt(k)"}


class AdamNonConvergence(Claim):
    key = "adam-counterexample"
    title = "Adam fails to converge on Reddi et al.'s counterexample; AMSGrad converges"
    statement = (
        "Adam's exponential average of squared gradients forgets rare large gradients, so on "
        "f_t(x) = C·x once in three steps and −x otherwise (x ∈ [−1, 1], C > 2; here C = 3) it drifts to x = +1, "
        "the worst point; AMSGrad's running maximum of v repairs this (Reddi, Kale & Kumar, ICLR 2018)."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        return [
            {"name": EXPERIMENT, "seeds": 3 if quick else 5, "sampler": "uniform",
             "budget": {"iters": 20_000 if quick else 50_000}, "problems": [PROBLEM],
             "methods": [{"type": "Adam", "params": SETTINGS}, {"type": "AMSGrad", "params": SETTINGS}],
             "record": {"metrics": ["loss", "subopt", "dist2"], "points_per_decade": 15}}
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        runs = results[EXPERIMENT]
        x_star = float(_common.problem(PROBLEM).x_star[0])
        rows = []
        for label in ("Adam", "AMSGrad"):
            chosen = runs.one(label=label)
            finals = np.array([r.x[0] for r in chosen])
            rows.append(
                {
                    "method": label,
                    "final x, median over seeds": float(np.median(finals)),
                    "final x, range over seeds": f"{finals.min():.3f} to {finals.max():.3f}".replace("-", "−"),
                    "x*": x_star,
                    "final f − f*": _common.gap(chosen.median_final("subopt")),
                }
            )
        frame = pd.DataFrame(rows).set_index("method")
        finals_subopt = {label: runs.one(label=label).median_final("subopt")
                         for label in ("Adam", "AMSGrad")}  # fmt: skip
        adam = {"final f − f* (median)": finals_subopt["Adam"]}
        ams = {"final f − f* (median)": finals_subopt["AMSGrad"]}
        adam_x = np.array([r.x[0] for r in runs.one(label="Adam")])
        ams_x = np.array([r.x[0] for r in runs.one(label="AMSGrad")])
        verdict.check(
            "Adam ends at the wrong end",
            bool(np.all(adam_x > 0.9)),
            f"final x in [{adam_x.min():.3f}, {adam_x.max():.3f}]",
            "every seed near x = +1 (> 0.9)",
        )
        verdict.check(
            "Adam's suboptimality does not vanish",
            adam["final f − f* (median)"] > 0.5 * (C - 2) / 3,
            f"{adam['final f − f* (median)']:.3f}",
            f"> {(C - 2) / 6:.3f} (half the worst gap)",
        )
        verdict.check("AMSGrad converges", bool(np.all(np.abs(ams_x - x_star) < 0.05)) and
                      ams["final f − f* (median)"] < 1e-2,
                      f"final x in [{ams_x.min():.3f}, {ams_x.max():.3f}], f − f* {ams['final f − f* (median)']:.2g}",
                      f"every seed within 0.05 of x* = {x_star:.3f}, f − f* < 0.01")  # fmt: skip
        verdict.table = frame
        verdict.notes = (
            f"x* = {x_star:.4f} minimises the average (C − 2)/3·x plus the boundary; x = +1 is the worst point of "
            f"[−1, 1], where f − f* = {(C - 2) / 3 * (1 - x_star):.2f}."
        )
        return verdict

    captions: ClassVar[dict[str, str]] = {
        "adam-counterexample.png": f"Left: the iterate x_k (median over seeds, IQR band) — Adam climbs from the "
        f"start to the wrong end x = +1 and stays there, AMSGrad goes to x* ≈ −1. Right: f − f* on log–log axes: "
        f"Adam's stays at the worst gap, AMSGrad's keeps falling. f_t(x) = C·x with C = {C:g} once in three "
        "steps and −x otherwise; β1 = 0, β2 = 1/(1 + C²), α_k = 0.5/√k (Reddi et al.'s setting)."
    }

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "adam-counterexample.png"
        runs = results[EXPERIMENT]
        x_star = float(_common.problem(PROBLEM).x_star[0])
        with _common.figure(path, ncols=2, width=5.2, height=3.9) as axes:
            ax = axes[0, 0]
            for label in ("Adam", "AMSGrad"):
                # dist2 = (x_k − x*)²; the iterates stay at or above x* here (x* sits at the box's lower end)
                curves = [(k, x_star + np.sqrt(np.maximum(d, 0.0))) for k, d in runs.one(label=label).curves("dist2")]
                length = min(len(k) for k, _ in curves)  # same budget, same checkpoints: quantiles point-wise
                grid = curves[0][0][:length]
                q25, median, q75 = np.quantile(np.array([x[:length] for _, x in curves]), [0.25, 0.5, 0.75], axis=0)
                (line,) = ax.plot(grid, median, label=f"{label} ({len(curves)} seeds)")
                ax.fill_between(grid, q25, q75, color=line.get_color(), alpha=0.2, linewidth=0)
            ax.axhline(x_star, color="grey", ls=":", lw=1.2, label=f"x* = {x_star:.3f}")
            ax.axhline(1.0, color="grey", ls="--", lw=1.0, label="x = +1 (worst point)")
            ax.set_xscale("log")
            ax.set_ylim(-1.15, 1.8)  # room above x = +1 for the legend, clear of every curve and band
            ax.set_xlabel("iterations")
            ax.set_ylabel("x_k")
            ax.grid(True, alpha=0.35)
            ax.legend(loc="upper center", ncols=2)
            ax.set_title("the iterate")
            curves = {m: runs.one(label=m).curves("subopt") for m in ("Adam", "AMSGrad")}
            plot_convergence(axes[0, 1], curves, "iters", "subopt")
            axes[0, 1].set_title(f"f − f*, f_t(x) = C·x or −x, C = {C:g}", fontsize=10.5)
        return [path]
