"""The iteration-complexity table (PL, convex, nonconvex × GD, SGD), reproduced from measured rates.

Theory (iterations to reach ε; ∇f Lipschitz with constant L):

=========== ===================== =====================
assumption  GD (α = 1/L)          SGD (decreasing α_k)
=========== ===================== =====================
PL          O(log 1/ε)            O(1/ε)    (α_k ~ 1/k)
convex      O(1/ε)                O(1/ε²)   (α_k ~ 1/√k)
nonconvex   O(1/ε), ε = ‖∇f‖²     O(1/ε²)   (α_k ~ 1/√k)
=========== ===================== =====================

Equivalently the error after k iterations decays like qᵏ (linear), k⁻¹ or k^(−1/2). Each cell runs its
method with the theory's step sizes on a problem of its class, fits the observed rate on the last half of the
run (in log k) — a log-linear slope for GD on PL, a log–log slope otherwise, with a bootstrap confidence
interval over seeds — and passes when the measured rate is at least the theory's: the table's entries are
upper bounds, so a method may do better, never worse. A tolerance of 0.15 on log–log slopes allows for the
finite horizon (`k^(−1)·log k`-type corrections bend a slope by about that much over two decades).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sgdlab.analysis import bootstrap_rate, fit_rate
from sgdlab.lecture import _common
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import Results
from sgdlab.viz import plot_convergence
from sgdlab.viz._ticks import light_log_ticks

SLOPE_TOLERANCE = 0.15


@dataclass(frozen=True)
class Cell:
    assumption: str  # PL | convex | nonconvex
    method: str  # GD | SGD
    problem: dict[str, Any]
    metric: str  # what decays: subopt, or min‖∇f‖² for nonconvex problems
    theory: str  # the table's entry
    exponent: float | None  # the theory's log–log slope; None for a linear rate

    @property
    def name(self) -> str:
        return f"complexity-{self.method.lower()}-{self.assumption.lower()}"


def _problems() -> dict[str, dict[str, Any]]:
    return {
        # strongly convex, hence PL with μ = λ_min: the linear model with noisy targets (σ²* > 0)
        "PL": _common.data_problem("ls-pl", "LeastSquares", "regression", n=1000, dim=20, cond=10.0, noise=1.0),
        # over-parametrised least squares: convex with μ = 0; its nonzero spectrum spans 10⁶, so the PL
        # constant of the range is far out of reach over the horizon and the convex bound is what applies
        "convex-GD": _common.data_problem("ls-wide", "LeastSquares", "regression", n=200, dim=400, cond=1e6, noise=0.0),
        # unregularised logistic regression: convex, μ = 0, noisy labels (σ²* > 0)
        "convex-SGD": _common.data_problem(
            "logistic", "LogisticRegression", "classification", n=1000, dim=20, cond=10.0, noise=1.0
        ),
        "nonconvex": _common.data_problem(
            "nonconvex-logistic",
            "NonconvexLogistic",
            "classification",
            {"penalty": 0.1},
            n=1000,
            dim=50,
            cond=100.0,
            noise=1.0,
        ),
    }


def cells() -> list[Cell]:
    p = _problems()
    return [
        Cell("PL", "GD", p["PL"], "subopt", "O(log 1/ε)", None),
        Cell("PL", "SGD", p["PL"], "subopt", "O(1/ε)", -1.0),
        Cell("convex", "GD", p["convex-GD"], "subopt", "O(1/ε)", -1.0),
        Cell("convex", "SGD", p["convex-SGD"], "subopt", "O(1/ε²)", -0.5),
        Cell("nonconvex", "GD", p["nonconvex"], "grad_norm2", "O(1/ε)", -1.0),
        Cell("nonconvex", "SGD", p["nonconvex"], "grad_norm2", "O(1/ε²)", -0.5),
    ]


def _sgd_params(cell: Cell) -> dict[str, Any]:
    """The theory's steps: on PL, α_k = 2/(μ(k + k0)) capped by 1/(2 L_max) (Gower et al., 2019); else
    α_k = α0/√k with α0 = 1/L_max (Ghadimi & Lan, 2013)."""
    prob = _common.problem(cell.problem)
    if cell.assumption == "PL":
        k0 = 4.0 * prob.L_max / prob.mu
        return {"lr": 1.0 / (2.0 * prob.L_max), "schedule": f"InverseTime(k0={k0:.6g})"}
    return {"lr": 1.0 / prob.L_max, "schedule": "1/sqrt(k)"}


def experiment(cell: Cell, quick: bool) -> dict[str, Any]:
    """The experiment of one cell (GD is deterministic: one run; SGD over seeds, with the theory's steps)."""
    if cell.method == "GD":
        budget, seeds, method = {"iters": 400 if cell.assumption == "PL" else 4000}, 1, {"type": "GD"}
    else:
        budget = {"iters": 30_000 if quick else 200_000}
        seeds, method = (2 if quick else 5), {"type": "SGD", "params": _sgd_params(cell)}
    return {"name": cell.name, "seeds": seeds, "budget": budget, "problems": [cell.problem], "methods": [method],
            "record": {"metrics": ["loss", "subopt", "grad_norm2"], "points_per_decade": 12}}  # fmt: skip


class ComplexityTable(Claim):
    key = "complexity"
    title = "The iteration-complexity table, measured"
    statement = (
        "With ∇f Lipschitz, GD needs O(log 1/ε) iterations under PL and O(1/ε) for convex and nonconvex "
        "(‖∇f‖² ≤ ε) problems; SGD needs O(1/ε) under PL and O(1/ε²) for convex and nonconvex problems."
    )

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        return [experiment(cell, quick) for cell in cells()]

    def rates(self, results: Mapping[str, Results]) -> list[tuple[Cell, Any]]:
        out = []
        for cell in cells():
            curves = results[cell.name].curves(cell.metric, "iters", best_so_far=cell.metric == "grad_norm2")
            kind = "linear" if cell.exponent is None else "sublinear"
            out.append((cell, bootstrap_rate(curves, kind, tail=0.5, n_boot=1000)))
        return out

    captions: ClassVar[dict[str, str]] = {
        "complexity-table.png": "One panel per cell of the table (rows: PL, convex, nonconvex; columns: GD, SGD). "
        "Dashed black: the rate fitted on the last half of the run (to the median curve, so it may differ in "
        "the second digit from the table's rate, which is the median of a bootstrap over seeds); dotted grey: "
        "the theory's rate drawn through the same starting point. A cell passes when the measured curve falls "
        "at least as fast as the theory's (the table's rates are upper bounds). GD's decays are geometric, so "
        "those panels have a linear iteration axis and a linear fit (qᵏ); they are cut where f − f* or ‖∇f‖² "
        "reaches machine precision (1e-16), after which the curve is rounding noise. SGD panels are log–log, "
        "with the median over seeds and its IQR band (middle half of the seeds)."
    }
    table_caption = (
        "Theory: the table's bound on the decay after k iterations (qᵏ, k⁻¹ or k^−½, i.e. the slope of "
        "log error against log k). Measured: the fitted rate on the last half of the run — q per iteration "
        "for a geometric decay, else the log–log slope with a 95 % bootstrap interval over seeds in brackets. "
        f"A slope passes when its interval's upper end is at most the theory's slope + {SLOPE_TOLERANCE:g}: the "
        "finite horizon bends k⁻¹·log k-type curves by about that much over two decades."
    )

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        verdict = Verdict(show_checks=False)  # the table shows every check with its verdict
        rows = []
        for cell, rate in self.rates(results):
            what = "f − f*" if cell.metric == "subopt" else "min ‖∇f‖²"
            linear = _geometric(cell, results)
            if cell.exponent is None:  # GD under PL with α = 1/L: f − f* contracts at least by 1 − μ/L per step
                prob = _common.problem(cell.problem)
                bound = 1.0 - prob.mu / prob.L
                q = math.exp(rate.slope)
                passed = q <= bound + 1e-3
                theory, measured = f"geometric, q ≤ 1 − μ/L = {bound:.3f}", f"geometric, q = {q:.3f} per iteration"
            elif linear is not None:  # a geometric decay is faster than any power of k: it meets the bound
                passed = linear.rate < 1.0 or rate.high <= cell.exponent + SLOPE_TOLERANCE
                theory = _bound(cell.exponent)
                measured = f"geometric, q = {linear.rate:.3f} per iteration (faster than any power of k)"
            else:
                passed = rate.high <= cell.exponent + SLOPE_TOLERANCE
                theory = _bound(cell.exponent)
                measured = f"k^{_exp(rate.slope)}" + (f" [{_exp(rate.low)}, {_exp(rate.high)}]"
                                                      if rate.n_seeds > 1 else "")  # fmt: skip
            verdict.check(f"{cell.method}, {cell.assumption}", passed, f"{what}: {measured}", theory)
            rows.append(
                {"assumption": cell.assumption, "method": cell.method, "problem": PROBLEM_NAMES[cell.problem["name"]],
                 "decays": what, "theory": f"{cell.theory}: {theory}", "measured": measured, "seeds": rate.n_seeds,
                 "verdict": "PASS" if passed else "FAIL"}
            )  # fmt: skip
        verdict.table = pd.DataFrame(rows)
        return verdict

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        path = folder / "complexity-table.png"
        rates = dict((cell.name, rate) for cell, rate in self.rates(results))
        with _common.figure(path, ncols=2, nrows=3, width=5.5, height=3.5, margins=LAYOUT) as axes:
            for cell in cells():
                ax = axes[["PL", "convex", "nonconvex"].index(cell.assumption), ["GD", "SGD"].index(cell.method)]
                curves = results[cell.name].curves(cell.metric, "iters", best_so_far=cell.metric == "grad_norm2")
                linear = _geometric(cell, results)
                if cell.exponent is None or linear is not None:
                    k, y = _median_curve(curves)
                    end = _floor_iteration(k, y)
                    keep = k <= end
                    ax.semilogy(k[keep], y[keep], label=cell.method)
                    light_log_ticks(ax)  # plain-text labels: mathtext parsing was most of this figure's time
                    q = math.exp(rates[cell.name].slope) if cell.exponent is None else linear.rate
                    fit = linear if linear is not None else fit_rate(k, y, "linear")
                    xs = np.linspace(*fit.x_range, 20)
                    ax.plot(xs, np.exp(fit.intercept + fit.slope * xs), "k--", lw=1.1, label=f"fit: qᵏ, q = {q:.3f}")
                    ax.axhline(_common.MACHINE_PRECISION, color="grey", lw=0.8, ls=":")
                    ax.text(0.02, 1.5 * _common.MACHINE_PRECISION, "machine precision (1e-16)", ha="left",
                            va="bottom", transform=ax.get_yaxis_transform(), fontsize=9, color="grey")  # fmt: skip
                    ax.set_xlim(0, end * 1.05)
                    ax.set_xlabel("iterations")
                    ax.set_ylabel(LABELS[cell.metric])
                    ax.grid(True, alpha=0.35)
                    ax.legend(loc="upper right")
                else:
                    plot_convergence(ax, {cell.method: curves}, "iters", cell.metric)
                    fit = fit_rate(*_median_curve(curves), "sublinear")
                    x = np.geomspace(*fit.x_range, 20)
                    ax.plot(
                        x,
                        np.exp(fit.intercept) * x**fit.slope,
                        "k--",
                        lw=1.1,
                        label=f"fit to the median: k^{_exp(fit.slope)}"
                        if len(curves) > 1
                        else f"fit: k^{_exp(fit.slope)}",
                    )  # the table's rate is over seeds (its bootstrap)
                    ax.plot(x, np.exp(fit.intercept) * x[0] ** fit.slope * (x / x[0]) ** cell.exponent, ":",
                            color="grey", lw=1.5, label=f"theory: k^{_exp(cell.exponent)}")  # fmt: skip
                    ax.set_ylabel(LABELS[cell.metric])
                    ax.legend(loc="lower left")
                ax.set_title(f"{cell.method} on {PROBLEM_NAMES[cell.problem['name']]}\n{cell.assumption}: "
                             f"theory {cell.theory}", fontsize=10.5)  # fmt: skip
        return [path]


#: The figure's fixed layout (fractions of its 11 × 10.5 inches): room for the two-line titles, the axis labels and
#: labels such as 10⁻¹⁶, checked by eye at 200 dpi; constrained layout found about the same at twice the cost.
LAYOUT = {"left": 0.075, "right": 0.985, "top": 0.955, "bottom": 0.05, "wspace": 0.2, "hspace": 0.45}

#: The problems by their ids, for people.
PROBLEM_NAMES = {
    "ls-pl": "least squares (κ = 10, noisy)",
    "ls-wide": "wide least squares (d > n, μ = 0)",
    "logistic": "logistic regression (no L2, μ = 0)",
    "nonconvex-logistic": "logistic + Σ x²/(1+x²) (nonconvex)",
}
LABELS = {"subopt": "f(x) − f*", "grad_norm2": "min ‖∇f‖² so far"}


def _exp(value: float) -> str:
    """An exponent as people write it: −0.5, −1, −0.98."""
    return f"{value:.2f}".rstrip("0").rstrip(".").replace("-", "−") if value != int(value) else \
        f"{int(value)}".replace("-", "−")  # fmt: skip


def _bound(exponent: float) -> str:
    return f"k^{_exp(exponent)} or faster: slope ≤ {_exp(exponent + SLOPE_TOLERANCE)} (with the +{SLOPE_TOLERANCE:g})"


def _floor_iteration(k: np.ndarray, y: np.ndarray) -> float:
    """The first iteration at machine precision (where a geometric curve turns into rounding noise), or the end."""
    at_floor = np.flatnonzero(y <= 10 * _common.MACHINE_PRECISION)
    return float(k[at_floor[0]]) if at_floor.size else float(k[-1])


def _geometric(cell: Cell, results: Mapping[str, Results]):
    """For a GD cell whose theory is a power of k: the linear (geometric) fit of its decay when that describes
    it better than a power law (a locally linear decay, e.g. GD near a nondegenerate minimum of a nonconvex
    f); else None."""
    if cell.method != "GD" or cell.exponent is None:
        return None
    curves = results[cell.name].curves(cell.metric, "iters", best_so_far=cell.metric == "grad_norm2")
    k, y = _median_curve(curves)
    linear, power = fit_rate(k, y, "linear"), fit_rate(k, y, "sublinear")
    return linear if linear.r2 > power.r2 and linear.rate < 1.0 else None


def _median_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Curves recorded at the same checkpoints (same budget), combined point-wise by their median."""
    length = min(len(x) for x, _ in curves)
    return curves[0][0][:length], np.median(np.array([y[:length] for _, y in curves]), axis=0)
