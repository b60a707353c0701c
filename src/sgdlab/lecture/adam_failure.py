"""Adam does not converge on the counterexample of Reddi, Kale & Kumar (2018); AMSGrad does."""

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

C = 3.0
PROBLEM = {"name": "reddi", "type": "AdamCounterexample", "params": {"C": C}}
# Reddi et al.'s Theorem 1 setting: β1 = 0, β2 = 1/(1 + C²), α_k = α/√k
SETTINGS = {"lr": 0.5, "beta1": 0.0, "beta2": 1.0 / (1.0 + C**2), "schedule": "1/sqrt(k)"}


class AdamNonConvergence(Claim):
    key = "adam-counterexample"
    title = "Adam fails to converge on Reddi et al.'s counterexample; AMSGrad converges"
    statement = (
        "Adam's exponential average of squared gradients forgets rare large gradients, so on "
        "f_t(x) = C·x once in three steps and −x otherwise (x ∈ [−1, 1], C > 2) it drifts to x = +1, the worst "
        "point; AMSGrad's running maximum of v repairs this (Reddi, Kale & Kumar, ICLR 2018)."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        return [
            {"name": "adam-counterexample", "seeds": 3 if quick else 5, "sampler": "uniform",
             "budget": {"iters": 20_000 if quick else 50_000}, "problems": [PROBLEM],
             "methods": [{"type": "Adam", "params": SETTINGS}, {"type": "AMSGrad", "params": SETTINGS}],
             "record": {"metrics": ["loss", "subopt", "dist2"], "points_per_decade": 15}}
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        runs = results["adam-counterexample"]
        x_star = float(_common.problem(PROBLEM).x_star[0])
        rows = []
        for label in ("Adam", "AMSGrad"):
            chosen = runs.one(label=label)
            finals = np.array([r.x[0] for r in chosen])
            rows.append({"method": label, "final x (median)": float(np.median(finals)), "x*": x_star,
                         "final f − f* (median)": float(np.median(chosen.finals("subopt")))})  # fmt: skip
        table = pd.DataFrame(rows).set_index("method")
        adam, ams = table.loc["Adam"], table.loc["AMSGrad"]
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
        verdict.table = table
        return verdict

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "adam-counterexample.png"
        runs = results["adam-counterexample"]
        with _common.figure(path, width=6.0, height=4.2) as axes:
            curves = {m: runs.one(label=m).curves("subopt") for m in ("Adam", "AMSGrad")}
            plot_convergence(axes[0, 0], curves, "iters", "subopt")
            axes[0, 0].set_title(f"f_i(x) = {C:g}·x or −x, β1 = 0, β2 = 1/(1+C²), α_k = 0.5/√k")
        return [path]
