"""Convergence curves: the median over seeds with an inter-quartile band, on log axes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sgdlab.viz._legend import LegendOption, draw_legend

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes


def seed_bands(
    runs: list[tuple[np.ndarray, np.ndarray]], points: int = 200, floor: float = 1e-16
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Median and quartiles of several `(x, y)` curves on a common log-spaced grid of `x`.

    Each curve is interpolated in log–log space; beyond its last point it counts as missing (a run that
    stopped early does not drag the median).

    Args:
        runs: One `(x, y)` pair of arrays per seed.
        points: The grid's size.
        floor: Values of `y` below it are taken as `floor` (a log scale cannot show 0).

    Returns:
        `(grid, q25, median, q75)`, four arrays of the grid's length.

    Raises:
        ValueError: No curve has a positive `x`.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.viz import seed_bands
        >>> k = np.arange(1.0, 101.0)
        >>> grid, q25, median, q75 = seed_bands([(k, 1 / k), (k, 2 / k), (k, 4 / k)], points=5)
        >>> grid.round(2).tolist(), (median * grid).round(6).tolist()
        ([1.0, 3.16, 10.0, 31.62, 100.0], [2.0, 2.0, 2.0, 2.0, 2.0])
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
    q25, median, q75 = _nan_quantiles(table, (0.25, 0.5, 0.75))
    return grid, q25, median, q75


def _nan_quantiles(table: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """`np.nanquantile(table, q, axis=0)` for each `q` (its default, linear interpolation), NaN where a column
    has no value — in one sort: NumPy's nanquantile loops over the columns in Python, which was most of the time
    of a figure with bands."""
    ordered = np.sort(table, axis=0)  # NaNs last
    count = np.sum(~np.isnan(table), axis=0)
    columns = np.arange(table.shape[1])
    out = []
    for q in qs:
        position = q * np.maximum(count - 1, 0)
        lo = np.floor(position).astype(int)
        hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
        a, b = ordered[lo, columns], ordered[hi, columns]
        with np.errstate(invalid="ignore"):
            value = a + (b - a) * (position - lo)
        value[count == 0] = np.nan
        out.append(value)
    return out


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
    ax: Axes,
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]],
    xlabel: str = "epochs",
    ylabel: str = "subopt",
    legend: LegendOption = True,
) -> None:
    """One band per entry of `curves`: the median over seeds as a line, the inter-quartile range as a
    shaded band, on log–log axes.

    Points at `x ≤ 0` (the start, at iteration 0 or time 0) cannot sit on a log axis and are left out;
    values of `y` under 1e-16 are drawn at 1e-16. A curve of one seed gets a line and no band.
    [`Trace.plot`][sgdlab.engine.Trace.plot] draws one run this way.

    Args:
        ax: The matplotlib axes to draw on.
        curves: Name → one `(x, y)` pair of arrays per seed (a name's label in the legend gets "(k seeds)").
        xlabel: A trace counter (`"iters"`, `"grad_evals"`, `"epochs"`, `"time_s"`), which gets a readable
            label, or any text.
        ylabel: A trace metric (`"subopt"`, `"grad_norm2"`, `"loss"`, `"dist2"`), which gets a readable
            label, or any text.
        legend: `True` (matplotlib's default legend text size, `rcParams["legend.fontsize"]`), `False`
            (no legend), or a dict of `ax.legend` keyword arguments (`{"fontsize": 14, "loc": "lower left"}`).

    Raises:
        ValueError: No curve has a point at `x > 0`.

    Examples:
        >>> import numpy as np
        >>> from matplotlib.figure import Figure
        >>> ax = Figure().subplots()
        >>> k = np.arange(1.0, 101.0)
        >>> plot_convergence(ax, {"1/k": [(k, 1 / k), (k, 2 / k)], "1/k²": [(k, k**-2.0)]}, "iters", "subopt")
        >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xscale()
        (['1/k (2 seeds)', '1/k²'], 'log')
    """
    from sgdlab.viz._ticks import light_log_ticks

    for name, runs in curves.items():
        runs = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in runs]
        grid, q25, median, q75 = seed_bands(runs)
        (line,) = ax.plot(grid, median, label=f"{name} ({len(runs)} seeds)" if len(runs) > 1 else str(name))
        if len(runs) > 1:
            ax.fill_between(grid, q25, q75, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    light_log_ticks(ax)
    ax.set_xlabel(LABELS.get(xlabel, xlabel))
    ax.set_ylabel(LABELS.get(ylabel, ylabel))
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    draw_legend(ax, legend)


def convergence_axes(ax: Axes, frame: pd.DataFrame, y: str, x: str = "epochs", group: str = "curve") -> None:
    """One band per value of `group` from a long-format frame of traces, as `sgdlab report` draws them.

    Args:
        ax: The matplotlib axes.
        frame: One row per checkpoint, with columns `run_key` (one curve each), `x`, `y` and `group` — what
            [`Store.traces`][sgdlab.experiments.Store.traces] returns.
        y: The metric column (`"subopt"`, …).
        x: The counter column.
        group: The column whose values become the bands (e.g. `"label"`, the method).

    Raises:
        ValueError: No curve has a positive `x`.

    Examples:
        >>> import pandas as pd
        >>> import sgdlab as sl
        >>> from matplotlib.figure import Figure
        >>> from sgdlab.viz import convergence_axes
        >>> prob = sl.problems.Quadratic2D(kappa=5.0)
        >>> frame = pd.concat([sl.run(prob, "SGD", epochs=5, seed=s).to_frame().assign(run_key=s, curve="SGD")
        ...                    for s in range(3)])
        >>> ax = Figure().subplots()
        >>> convergence_axes(ax, frame, "subopt")
        >>> ax.get_legend().get_texts()[0].get_text()
        'SGD (3 seeds)'
    """
    curves = {
        str(name): [(g[x].to_numpy(float), g[y].to_numpy(float)) for _, g in part.groupby("run_key", sort=False)]
        for name, part in frame.groupby(group, sort=False)
    }
    plot_convergence(ax, curves, x, y)
