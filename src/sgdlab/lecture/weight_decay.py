"""Adam with an L2 term and AdamW reach different solutions: coupled vs decoupled weight decay.

Adam on f + (λ/2)‖x‖² converges to the ridge minimiser x*_λ. AdamW with decay λ on f converges instead to a
minimiser of f over the box ‖x‖∞ ≤ 1/λ: at its fixed point m̂/(√v̂ + ε) + λx = 0 with m̂/√v̂ → sign(∇f), so
every coordinate either has ∇f_j = 0 or sits at |x_j| = 1/λ (Xie & Li, *Implicit bias of AdamW: ℓ∞-norm
constrained optimization*, ICML 2024). Full-batch runs make the fixed points sharp.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.optimize

from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence

LAMBDA = 1.0
DATA = {"source": "classification", "n": 500, "dim": 10, "cond": 10.0, "noise": 0.5, "seed": 0}
COUPLED = {"name": "logistic+L2", "type": "LogisticRegression", "params": {"l2": LAMBDA}, "data": DATA}
PLAIN = {"name": "logistic", "type": "LogisticRegression", "params": {}, "data": DATA}
STEP = {"lr": 0.05, "schedule": "1/sqrt(k)"}


def box_minimiser(problem, radius: float) -> np.ndarray:
    """argmin f over ‖x‖∞ ≤ radius (L-BFGS-B, tight tolerances)."""
    bounds = [(-radius, radius)] * problem.dim
    found = scipy.optimize.minimize(
        problem.loss,
        np.zeros(problem.dim),
        jac=problem.grad,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    return found.x  # fmt: skip


def _relative(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-300))


class CoupledVersusDecoupledDecay(Claim):
    key = "weight-decay"
    title = "Adam + L2 and AdamW reach different solutions"
    statement = (
        "Weight decay added to the gradient (Adam + L2) is rescaled by the adaptive denominator; decoupled "
        "weight decay (AdamW) is not, so the two converge to different points."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        iters = 3_000 if quick else 10_000
        record = {"metrics": ["loss"], "points_per_decade": 15}
        return [
            {"name": "adam-l2", "sampler": "full", "budget": {"iters": iters}, "problems": [COUPLED],
             "methods": [{"type": "Adam", "params": STEP}], "record": record},
            {"name": "adamw", "sampler": "full", "budget": {"iters": iters}, "problems": [PLAIN],
             "methods": [{"type": "AdamW", "params": {**STEP, "weight_decay": LAMBDA}}], "record": record},
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        coupled, plain = _common.problem(COUPLED), _common.problem(PLAIN)
        ridge, box = coupled.x_star, box_minimiser(plain, 1.0 / LAMBDA)
        adam_x, adamw_x = results["adam-l2"].runs[0].x, results["adamw"].runs[0].x
        d_adam, d_adamw, d_box = _relative(adam_x, ridge), _relative(adamw_x, ridge), _relative(adamw_x, box)
        verdict.check("Adam + L2 reaches the ridge minimiser", d_adam < 1e-2, f"‖x − x*_λ‖/‖x*_λ‖ = {d_adam:.2g}",
                      "< 0.01")  # fmt: skip
        verdict.check("AdamW reaches another point", d_adamw > 0.5, f"‖x − x*_λ‖/‖x*_λ‖ = {d_adamw:.2g}", "> 0.5")
        verdict.check(f"AdamW minimises f over ‖x‖∞ ≤ 1/λ = {1 / LAMBDA:g}", d_box < 0.15,
                      f"‖x − x_box‖/‖x_box‖ = {d_box:.2g}", "< 0.15")  # fmt: skip
        points = {"Adam + L2 (final iterate)": adam_x, "ridge minimiser x*_λ": ridge, "AdamW (final iterate)": adamw_x,
                  "min f over ‖x‖∞ ≤ 1/λ": box}  # fmt: skip
        verdict.table = pd.DataFrame([{"point": name, **{f"x{j + 1}": round(float(v), 3) for j, v in enumerate(x)}}
                                      for name, x in points.items()])  # fmt: skip
        verdict.notes = f"λ = {LAMBDA:g}; both full-batch, α_k = {STEP['lr']:g}/√k."
        return verdict

    table_caption = "The coordinates of the four points (three decimals)."
    captions: ClassVar[dict[str, str]] = {
        "weight-decay.png": "Left: each coordinate of the final iterates — Adam + L2 (blue dots) sits inside the "
        "ridge minimiser's circles, AdamW (orange dots) inside the squares of the box-constrained minimiser, "
        "several of its coordinates at the box edge ±1/λ (dotted lines). Right: the objective each method "
        "minimises, f + λ/2‖x‖² for Adam + L2 and f for AdamW, both levelling off at their fixed points."
    }

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "weight-decay.png"
        coupled, plain = _common.problem(COUPLED), _common.problem(PLAIN)
        ridge, box = coupled.x_star, box_minimiser(plain, 1.0 / LAMBDA)
        adam_x, adamw_x = results["adam-l2"].runs[0].x, results["adamw"].runs[0].x
        with _common.figure(path, ncols=2, width=5.2, height=3.9) as axes:
            ax = axes[0, 0]
            j = np.arange(1, coupled.dim + 1)
            ax.plot(j, ridge, "o", ms=9, mfc="none", color="tab:blue", label="ridge minimiser x*_λ")
            ax.plot(j, adam_x, ".", color="tab:blue", label="Adam + L2")
            ax.plot(j, box, "s", ms=9, mfc="none", color="tab:orange", label="min f over ‖x‖∞ ≤ 1/λ")
            ax.plot(j, adamw_x, ".", color="tab:orange", label="AdamW")
            ax.axhline(1 / LAMBDA, color="grey", lw=0.8, ls=":")
            ax.axhline(-1 / LAMBDA, color="grey", lw=0.8, ls=":")
            ax.set_xlabel("coordinate j")
            ax.set_ylabel("x_j")
            ax.legend(fontsize=8.5, loc="lower left", ncol=2)
            ax.set_title(f"final iterates, λ = {LAMBDA:g}")
            f_coupled = results["adam-l2"].curves("loss")
            plot_convergence(axes[0, 1], {"Adam + L2 (f + λ/2‖x‖²)": f_coupled, "AdamW (f)": results["adamw"].curves(
                "loss")}, "iters", "loss")  # fmt: skip
            axes[0, 1].set_title("the objective each method sees")
        return [path]
