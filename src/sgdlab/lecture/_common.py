"""Small things every claim uses: building a problem from its table, figure files, and formatting."""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sgdlab.experiments.execute import build_problem


def problem(table: dict[str, Any]):
    """The problem an experiment's ``[[problems]]`` table describes (built as the runs build it)."""
    return build_problem(table)[0]


def data_problem(name: str, kind: str, source: str, params: dict | None = None, **data: Any) -> dict[str, Any]:
    """A ``[[problems]]`` table for a problem built from (synthetic) data."""
    return {"name": name, "type": kind, "params": params or {}, "data": {"source": source, **data}}


@contextmanager
def figure(path: Path, ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 3.9):
    """A figure of ``nrows × ncols`` axes saved to ``path`` (PNG) on exit."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    yield axes
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "never" if value > 0 else "-inf"
    return f"{value:.{digits}g}"
