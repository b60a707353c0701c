"""Constant-step SGD stalls at a noise floor ∝ α·σ²*/b, absent when σ²* = 0; decreasing steps go below it.

For μ-strongly convex f with L-smooth components and α ≤ 1/(2L_b), SGD with minibatches of b satisfies
E f(x_k) − f* ≤ (1 − αμ)^k (f(x_0) − f*) + O(α σ²*/(μ b)) (Gower et al., 2019): the floor is linear in α and
in 1/b, and zero when every component is minimised at x* (σ²* = 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sgdlab.analysis import noise_floor
from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.complexity import cells, experiment
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence, plot_effect

#: The experiments' names (each claim's results are looked up by them).
STEPS_EXPERIMENT = "floor-steps"
BATCH_EXPERIMENT = "floor-batch"
NOISELESS_EXPERIMENT = "floor-noiseless"

DECREASING = next(c for c in cells() if c.assumption == "PL" and c.method == "SGD")  # the complexity table's cell
NOISY = DECREASING.problem
NOISELESS = _common.data_problem("ls-noiseless", "LeastSquares", "regression", n=1000, dim=20, cond=10.0, noise=0.0)
STEP_DIVISORS = (1, 4, 16)
BATCHES = (1, 4, 16)


def _base_lr() -> float:
    return 1.0 / (2.0 * _common.problem(NOISY).L_max)


def _floors(runs: Results, by: str) -> tuple[list, list[np.ndarray]]:
    values = runs.values(by)
    finals = [np.array([noise_floor(*c) for c in runs.select(**{by: v}).curves("subopt")]) for v in values]
    return values, finals


def _slope(values, finals) -> float:
    return float(np.polyfit(np.log(values), np.log([np.median(f) for f in finals]), 1)[0])


class NoiseFloor(Claim):
    key = "noise-floor"
    title = "Constant-step SGD stalls at a noise floor that grows with α and σ²* and shrinks with the batch size"
    statement = (
        "With a constant step SGD converges only to a neighbourhood of x*, of size proportional to α σ²*/b; "
        "with σ²* = 0 it converges linearly; decreasing steps reach the optimum at the sublinear rate."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        lr = _base_lr()
        iters = 20_000 if quick else 60_000
        seeds = 2 if quick else 4
        record = {"metrics": ["loss", "subopt"], "points_per_decade": 20}
        return [
            {"name": STEPS_EXPERIMENT, "seeds": seeds, "budget": {"iters": iters}, "problems": [NOISY],
             "methods": [{"type": "SGD", "params": {"lr": [lr / d for d in STEP_DIVISORS]}}], "record": record},
            {"name": BATCH_EXPERIMENT, "seeds": seeds, "budget": {"iters": iters}, "batch_size": list(BATCHES),
             "problems": [NOISY], "methods": [{"type": "SGD", "params": {"lr": lr}}], "record": record},
            {"name": NOISELESS_EXPERIMENT, "seeds": seeds, "budget": {"iters": iters}, "problems": [NOISELESS],
             "methods": [{"type": "SGD", "params": {"lr": lr}}], "record": record},
            # the same runs as the complexity table's SGD/PL cell: stored once, used twice
            experiment(DECREASING, quick),
        ]  # fmt: skip

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict()
        steps, step_floors = _floors(results[STEPS_EXPERIMENT], "lr")
        batches, batch_floors = _floors(results[BATCH_EXPERIMENT], "batch_size")
        med = [float(np.median(f)) for f in step_floors]
        order = np.argsort(steps)
        slope = _slope(steps, step_floors)
        verdict.check("floor grows with α", bool(np.all(np.diff(np.array(med)[order]) > 0)) and 0.5 <= slope <= 1.5,
                      f"floors {', '.join(_common.fmt(m) for m in np.array(med)[order])} for increasing α; "
                      f"log–log slope {_common.number(slope, 2)}", "increasing, slope ≈ 1 (0.5–1.5)")  # fmt: skip
        bmed = [float(np.median(f)) for f in batch_floors]
        border = np.argsort(batches)
        bslope = _slope(batches, batch_floors)
        verdict.check("floor shrinks with the batch size",
                      bool(np.all(np.diff(np.array(bmed)[border]) < 0)) and -1.5 <= bslope <= -0.5,
                      f"floors {', '.join(_common.fmt(m) for m in np.array(bmed)[border])} for b = "
                      f"{', '.join(str(b) for b in np.array(batches)[border])}; "
                      f"log–log slope {_common.number(bslope, 2)}",
                      "decreasing, slope ≈ −1 (−1.5 to −0.5)")  # fmt: skip
        noiseless = results[NOISELESS_EXPERIMENT]
        relative = float(np.max([abs(r.final("subopt")) / r.column("subopt")[0] for r in noiseless]))
        verdict.check("no floor when σ²* = 0", relative < 1e-12, f"final/initial f − f* ≤ {relative:.2g}",
                      "< 1e-12 (linear convergence to x*)")  # fmt: skip
        decreasing = DECREASING.name
        final = results[decreasing].median_final("subopt")
        base_floor = med[int(np.argmax(steps))]
        verdict.check(
            "decreasing steps go below the floor",
            final < base_floor,
            f"α_k ~ 1/k from the same α0: {final:.3g} vs floor {base_floor:.3g}",
            "below the α0 floor",
        )
        lr = _base_lr()
        rows = [{"swept": "step size α", "setting": f"α = {v:.3g} (α₀/{round(lr / v)}), b = 1",
                 "noise floor of f − f*": m}
                for v, m in sorted(zip(steps, med, strict=True), reverse=True)]  # fmt: skip
        rows += [{"swept": "batch size b", "setting": f"b = {v}, α = α₀", "noise floor of f − f*": m} for v, m in
                 zip(batches, bmed, strict=True)]  # fmt: skip
        verdict.table = pd.DataFrame(rows)
        noisy = _common.problem(NOISY)
        verdict.notes = (
            f"σ²* = (1/n) Σ ‖∇f_i(x*)‖² — the variance of the stochastic gradient at the optimum, the noise that "
            f"remains when x is already optimal — is {noisy.sigma2_star:.3g} on the noisy least-squares problem "
            f"and 0 on the noiseless one (every component is minimised at x*). α₀ = 1/(2 L_max) = {lr:.3g}, "
            f"where L_max = {noisy.L_max:.3g} is the largest smoothness constant of a single component f_i. "
            "The noise floor of a run is the median of f − f* over its last part (where the curve is flat), "
            "median over seeds."
        )
        return verdict

    table_caption = "The median noise floor of each sweep's settings (α₀ = 1/(2 L_max), see below)."
    captions: ClassVar[dict[str, str]] = {
        "noise-floor.png": "Top: f − f* of constant-step SGD levels off at a floor; a smaller α (left) or a larger "
        "batch b (right) lowers it, while with σ²* = 0 the floor vanishes (linear convergence to machine "
        "precision) and α_k ~ 1/k keeps going down. Bottom: the floors against α and b on log–log axes — slopes "
        "≈ +1 and −1, i.e. floor ∝ α σ²*/b. Bands and error bars: IQR over seeds."
    }

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "noise-floor.png"
        steps, step_floors = _floors(results[STEPS_EXPERIMENT], "lr")
        batches, batch_floors = _floors(results[BATCH_EXPERIMENT], "batch_size")
        with _common.figure(path, ncols=2, nrows=2, width=5.3, height=3.8) as axes:
            runs = results[STEPS_EXPERIMENT]
            curves = {f"α = {v:.2g}": runs.select(lr=v).curves("subopt") for v in steps}
            decreasing = DECREASING.name
            curves["α_k ~ 1/k"] = results[decreasing].curves("subopt")
            curves["σ²* = 0"] = results[NOISELESS_EXPERIMENT].curves("subopt")
            plot_convergence(axes[0, 0], curves, "iters", "subopt")
            axes[0, 0].set_title("step sizes (b = 1)")
            runs = results[BATCH_EXPERIMENT]
            plot_convergence(axes[0, 1], {f"b = {b}": runs.select(batch_size=b).curves("subopt") for b in batches},
                             "iters", "subopt")  # fmt: skip
            axes[0, 1].set_title(f"batch sizes (α = {_base_lr():.2g})")
            plot_effect(axes[1, 0], steps, step_floors, "step size α", "noise floor of f − f*")
            plot_effect(axes[1, 1], batches, batch_floors, "batch size b", "noise floor of f − f*")
        return [path]
