"""Small things every claim uses: building a problem from its table, figure files, and formatting."""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sgdlab.experiments.execute import build_problem


def problem(table: dict[str, Any]):
    """The problem an experiment's `[[problems]]` table describes (built as the runs build it)."""
    return build_problem(table)[0]


def data_problem(name: str, kind: str, source: str, params: dict | None = None, **data: Any) -> dict[str, Any]:
    """A `[[problems]]` table for a problem built from (synthetic) data."""
    return {"name": name, "type": kind, "params": params or {}, "data": {"source": source, **data}}


#: Resolution of the PNGs (slides want ≥ 200 dpi); an SVG is written beside each.
DPI = 200
#: Text sizes in points: a figure is shown at its drawn size (at most the page's ~11 inches), so these are
#: the sizes a reader sees.
STYLE = {
    "font.size": 11, "axes.titlesize": 11.5, "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 9.5, "legend.framealpha": 0.85, "figure.titlesize": 12.5, "lines.linewidth": 1.7,
    "svg.fonttype": "none", "svg.hashsalt": "sgdlab",
    # Titles at the top of their axes, as matplotlib's automatic placement puts them when nothing (ticks on top,
    # an offset text) sits above an axes — none of these figures has any — without measuring every tick label
    # of the axes at each draw to find that out.
    "axes.titley": 1.0,
}  # fmt: skip
#: zlib level of the PNGs: 3 writes a 200-dpi figure in about half the time of PIL's default 6, for files
#: about a tenth larger.
PNG_COMPRESSION = 3
#: The widest figure the report shows at its drawn size (inches).
MAX_WIDTH = 11.0


@contextmanager
def figure(path: Path, ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 3.9,
           margins: dict[str, float] | None = None):  # fmt: skip
    """A figure of `nrows × ncols` axes (each `width × height` inches, the whole at most 11 inches wide)
    saved on exit to `path` (PNG, 200 dpi) and beside it as SVG, with legible text sizes (`STYLE`).

    `margins` (`Figure.subplots_adjust`'s `left`, `right`, `top`, `bottom`, `wspace`, `hspace`) fixes the layout
    instead of matplotlib's constrained layout, which measures every tick label twice: for a grid of log
    panels that was the largest part of the figure's time."""
    import matplotlib
    from matplotlib.figure import Figure

    from sgdlab.viz._ticks import plain_log_labels

    scale = min(1.0, MAX_WIDTH / (width * ncols))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width * ncols * scale, height * nrows * scale),
                     layout=None if margins else "constrained")  # fmt: skip
        if margins:
            fig.subplots_adjust(**margins)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        yield axes
        for ax in fig.axes:
            plain_log_labels(ax)  # mathtext tick labels were parsed anew at each draw and resolution
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
        fig.set_layout_engine("none")  # the SVG keeps the PNG's layout: laid out once, not once per file
        fig.savefig(path.with_suffix(".svg"), metadata={"Date": None})


def svg_of(path: Path) -> Path:
    """The SVG written beside a figure's PNG."""
    return path.with_suffix(".svg")


def fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def number(value: float, digits: int = 3) -> str:
    """A number for a table or a sentence (see `sgdlab.viz.html.format_number`)."""
    from sgdlab.viz.html import format_number

    return format_number(value, digits)


#: Below this, f − f* is rounding: what float64 can resolve relative to f* of order one.
MACHINE_PRECISION = 1e-16


def gap(value: float, digits: int = 3) -> str:
    """f − f* for people: values under 1e-16 — negative ones included, which are rounding in f(x) − f* — are
    "< 1e-16" (machine precision)."""
    if value is not None and math.isfinite(value) and value < MACHINE_PRECISION:
        return "< 1e−16"
    return number(value, digits)


def evaluations(value: float, unit: str = "evaluations") -> str:
    """A count to reach a target, or "not reached" (infinite: the run never got there)."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "not reached"
    return f"{number(round(value))} {unit}".strip()
