"""Effect plots: a run's final metric against a swept parameter (step size, batch size), over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import NullFormatter

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
) -> None:
    """The median over seeds of a final metric at each swept value, with inter-quartile error bars.

    ``finals[j]`` holds one number per seed for ``values[j]``. Non-finite numbers (diverged runs) are left
    out of the quartiles; a value with no finite run gets no point and an ``×`` at the bottom of the axes,
    so a diverging step size is visible instead of silently missing. Each call adds one error-bar
    container (``ax.containers``) and one data line.
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
        ax.xaxis.set_minor_formatter(NullFormatter())  # a swept range within a decade labels every minor tick
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if label is not None:
        ax.legend(fontsize=8)
