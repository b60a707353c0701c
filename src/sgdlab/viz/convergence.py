"""Convergence curves: the median over seeds with an inter-quartile band, on log axes."""

from __future__ import annotations

import numpy as np
import pandas as pd


def seed_bands(runs: list[tuple[np.ndarray, np.ndarray]], points: int = 200, floor: float = 1e-16):
    """Median and quartiles of several ``(x, y)`` curves on a common log-spaced grid of ``x``.

    Each curve is interpolated in log–log space; beyond its last point it counts as missing (a run that
    stopped early does not drag the median). Returns ``(grid, q25, median, q75)``.
    """
    positive = [x[x > 0] for x, _ in runs if np.any(x > 0)]
    if not positive:
        raise ValueError("no curve has a positive x")
    lo = min(float(x.min()) for x in positive)
    hi = max(float(x.max()) for x in positive)
    grid = np.geomspace(lo, hi, points) if hi > lo else np.array([lo])
    table = np.full((len(runs), len(grid)), np.nan)
    for row, (x, y) in enumerate(runs):
        keep = (x > 0) & np.isfinite(y)
        if keep.sum() == 0:
            continue
        xs, ys = np.log(x[keep]), np.log(np.maximum(y[keep], floor))
        inside = (grid >= x[keep].min()) & (grid <= x[keep].max())
        table[row, inside] = np.exp(np.interp(np.log(grid[inside]), xs, ys))
    with np.errstate(all="ignore"):
        q25, median, q75 = (
            np.nanquantile(table, q, axis=0) if np.isfinite(table).any() else table[0] for q in (0.25, 0.5, 0.75)
        )
    return grid, q25, median, q75


#: Axis labels for the trace's counters and metrics.
LABELS = {
    "iters": "iterations",
    "grad_evals": "gradient evaluations",
    "epochs": "epochs",
    "time_s": "time (s)",
    "subopt": "f(x) − f*",
    "grad_norm2": "‖∇f(x)‖²",
    "loss": "f(x)",
    "dist2": "‖x − x*‖²",
}


def plot_convergence(
    ax, curves: dict[str, list[tuple[np.ndarray, np.ndarray]]], xlabel: str = "epochs", ylabel: str = "subopt"
) -> None:
    """One band per entry of ``curves`` (name → one ``(x, y)`` pair per seed): the median over seeds as a
    line, the inter-quartile range as a shaded band, on log–log axes.

    ``xlabel``/``ylabel`` may be trace column names (``iters``, ``grad_evals``, ``epochs``, ``time_s``;
    ``subopt``, ``grad_norm2``, ``loss``, ``dist2``), which get readable labels, or any text. Points at
    ``x ≤ 0`` (the start, at iteration 0 or time 0) cannot sit on a log axis and are left out.
    """
    for name, runs in curves.items():
        runs = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in runs]
        grid, q25, median, q75 = seed_bands(runs)
        (line,) = ax.plot(grid, median, label=f"{name} ({len(runs)} seeds)" if len(runs) > 1 else str(name))
        if len(runs) > 1:
            ax.fill_between(grid, q25, q75, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(LABELS.get(xlabel, xlabel))
    ax.set_ylabel(LABELS.get(ylabel, ylabel))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(fontsize=8)


def convergence_axes(ax, frame: pd.DataFrame, y: str, x: str = "epochs", group: str = "curve") -> None:
    """Draw one band per value of ``group`` from a long-format trace frame (columns ``run_key``, ``x``, ``y``)."""
    curves = {
        str(name): [(g[x].to_numpy(float), g[y].to_numpy(float)) for _, g in part.groupby("run_key", sort=False)]
        for name, part in frame.groupby(group, sort=False)
    }
    plot_convergence(ax, curves, x, y)
