"""Effect plots: a run's final metric against a swept parameter (step size, batch size), over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import NullFormatter

from sgdlab.viz._legend import LegendOption, draw_legend
from sgdlab.viz._ticks import light_log_ticks

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_effect(
    ax: Axes,
    values: Sequence[float],
    finals: Sequence[Sequence[float]],
    xlabel: str,
    ylabel: str = "final f − f*",
    label: str | None = None,
    logx: bool = True,
    logy: bool = True,
    legend: LegendOption = True,
) -> None:
    """The median over seeds of a final metric at each swept value, with inter-quartile error bars.

    Non-finite numbers (diverged runs) are left out of the quartiles; a value with no finite run gets no
    point and an `×` at the bottom of the axes, so a diverging step size is visible instead of silently
    missing. Each call adds one error-bar container (`ax.containers`) and one data line.

    Args:
        ax: The matplotlib axes to draw on.
        values: The swept parameter's values (the horizontal axis).
        finals: `finals[j]` holds one number per seed for `values[j]`.
        xlabel: The horizontal axis's label.
        ylabel: The vertical axis's label.
        label: The legend entry of this series; without one no legend is drawn.
        logx: A log-scaled horizontal axis.
        logy: A log-scaled vertical axis (numbers ≤ 0 are then left out, as a log axis cannot show them).
        legend: Used when `label` is given: `True` (matplotlib's default legend text size,
            `rcParams["legend.fontsize"]`), `False` (none), or a dict of `ax.legend` keyword arguments.

    Raises:
        ValueError: `values` and `finals` differ in length.

    Examples:
        >>> from matplotlib.figure import Figure
        >>> ax = Figure().subplots()
        >>> plot_effect(ax, [0.01, 0.1, 1.0], [[1e-3, 2e-3], [1e-4, 3e-4], [float("inf")]], "step size α",
        ...             label="SGD")
        >>> len(ax.containers), ax.get_legend().get_texts()[0].get_text()
        (1, 'SGD')
    """
    values = np.asarray(values, dtype=float)
    if len(values) != len(finals):
        raise ValueError(f"values has {len(values)} entries but finals has {len(finals)}")
    q25, median, q75 = (np.full(len(values), np.nan) for _ in range(3))
    failed = np.zeros(len(values), dtype=bool)
    for j, runs in enumerate(finals):
        runs = np.asarray(runs, dtype=float).ravel()
        runs = runs[np.isfinite(runs)]
        if logy:
            runs = runs[runs > 0]  # cannot sit on a log axis
        if runs.size == 0:
            failed[j] = True
            continue
        q25[j], median[j], q75[j] = np.quantile(runs, [0.25, 0.5, 0.75])
    shown = ~failed
    bars = ax.errorbar(
        values[shown],
        median[shown],
        yerr=np.vstack([median[shown] - q25[shown], q75[shown] - median[shown]]),
        fmt="-o",
        ms=4.5,
        lw=1.4,
        capsize=3,
        elinewidth=1.0,
        label=label,
    )
    if failed.any():
        colour = bars.lines[0].get_color()
        ax.plot(
            values[failed],
            np.zeros(failed.sum()),
            "x",
            color=colour,
            ms=7,
            mew=1.6,
            transform=ax.get_xaxis_transform(),  # x in data, y in axes units: pinned to the bottom edge
            clip_on=False,
            label="_nolegend_",
        )
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    light_log_ticks(ax)
    if logx:
        ax.xaxis.set_minor_formatter(NullFormatter())  # a swept range within a decade labels every minor tick
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if label is not None:
        draw_legend(ax, legend)
