"""`Trace`: what a run recorded at its checkpoints, and how it ended."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from sgdlab.viz._legend import LegendOption

#: Columns recorded at every checkpoint, in order.
COUNTERS = ("iters", "grad_evals", "epochs", "time_s")
METRICS = ("loss", "subopt", "grad_norm2", "dist2")
#: How a run can end (a sweep adds "error" for runs that raised); runs with these statuses are finished.
STATUSES = ("ok", "budget", "diverged")


@dataclasses.dataclass
class Trace:
    """The record of one run: what [`sgdlab.run`][sgdlab.engine.run] returns.

    Per checkpoint, one array per column, all of the same length (`len(trace)`), read as attributes
    (`trace.subopt`) or through [`to_frame`][sgdlab.engine.Trace.to_frame]: `iters`, `grad_evals`
    (component-gradient evaluations), `epochs` (`grad_evals / n`), `time_s` (optimisation time only —
    checkpoints are not counted), `loss` `f(x)`, `subopt` `f(x) − f*`, `grad_norm2` `‖∇f(x)‖²`, `dist2`
    `‖x − x*‖²` and any `test_*` metrics. `measure_s` is the wall time the measurements took (all
    checkpoints together), beside the optimisation's `time_s[-1]`. `status` is `"budget"` when the budget
    ran out, `"ok"` when a target was met, and `"diverged"` when the loss became non-finite or exploded
    (`diverged_at` gives the iteration).

    Attributes:
        problem: The problem's name.
        method: The method's name (`"SGD"`, `"Adam"`, …).
        hyperparameters: The method's hyperparameters as the run used them (a derived `lr` included).
        seed: The sampler's seed.
        batch_size: Components per stochastic gradient.
        sampler: `"uniform"` (with replacement) or `"reshuffle"` (without, reshuffled every epoch).
        columns: Column name → one value per checkpoint.
        x: The final iterate.
        status: `"budget"`, `"ok"` or `"diverged"`.
        diverged_at: The iteration at which a diverged run was stopped, else `None`.
        message: Why the run ended, in words.
        measure_s: Wall time of every checkpoint's measurement together, in seconds.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=100, dim=5, seed=0))
        >>> trace = sl.run(prob, "GD", iters=50)
        >>> trace.status, len(trace) == len(trace.subopt), bool(trace.subopt[-1] < trace.subopt[0])
        ('budget', True, True)
        >>> trace.to_frame().columns[:4].tolist()
        ['iters', 'grad_evals', 'epochs', 'time_s']
    """

    problem: str
    method: str
    hyperparameters: dict[str, Any]
    seed: int
    batch_size: int
    sampler: str
    columns: dict[str, np.ndarray]
    x: np.ndarray
    status: str
    diverged_at: int | None = None
    message: str = ""
    #: Wall time of every checkpoint's measurement together, in seconds (not part of `time_s`).
    measure_s: float = 0.0

    def __getattr__(self, name: str) -> np.ndarray:
        columns = self.__dict__.get("columns", {})
        if name in columns:
            return columns[name]
        raise AttributeError(f"Trace has no column or attribute {name!r}; columns: {', '.join(columns)}")

    def __len__(self) -> int:
        return len(self.columns["iters"])

    def to_frame(self) -> pd.DataFrame:
        """The checkpoints as a pandas DataFrame.

        Returns:
            One row per checkpoint, one column per entry of `columns`, then `problem`, `method` and
            `seed` (the run's identity, repeated on every row, so that frames of several runs can be
            concatenated and grouped).

        Examples:
            >>> import sgdlab as sl
            >>> prob = sl.problems.Quadratic2D(kappa=10.0)
            >>> frame = sl.run(prob, "GD", iters=20).to_frame()
            >>> frame[["iters", "method"]].tail(1).to_dict("records")
            [{'iters': 20.0, 'method': 'GD'}]
        """
        import pandas as pd

        frame = pd.DataFrame(self.columns)
        for key, value in (("problem", self.problem), ("method", self.method), ("seed", self.seed)):
            frame[key] = value
        return frame

    def plot(
        self,
        y: str = "subopt",
        x: str = "epochs",
        ax: Axes | None = None,
        label: str | None = None,
        legend: LegendOption = True,
    ) -> Axes:
        """Draw `y` against `x` on log–log axes: the most common picture of a run, in one line.

        The curve is drawn by [`sgdlab.viz.plot_convergence`][sgdlab.viz.convergence.plot_convergence]
        (matplotlib is imported here, on first use). Call it again with the same `ax` to put several runs
        side by side; each call adds one line and redraws the legend.

        Args:
            y: The column on the vertical axis: `"subopt"` (f − f*), `"grad_norm2"`, `"loss"`, `"dist2"`
                or a `test_*` metric.
            x: The counter on the horizontal axis: `"epochs"`, `"iters"`, `"grad_evals"` or `"time_s"`.
                The starting point (`x = 0`) cannot sit on a log axis and is left out.
            ax: The matplotlib axes to draw on; by default a new figure (`matplotlib.pyplot.subplots()`),
                which a notebook shows below the cell.
            label: The legend entry; by default the method's name.
            legend: As in `plot_convergence`: `True` (matplotlib's default legend text size, which follows
                `rcParams["legend.fontsize"]`), `False` (none), or a dict of `ax.legend` keyword arguments.

        Returns:
            The matplotlib `Axes` drawn on.

        Raises:
            ValueError: `x` or `y` is not a column of this trace, or `y` has no finite value (e.g. `dist2`
                of a problem whose minimiser is unknown).

        Examples:
            >>> import sgdlab as sl
            >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, seed=0))
            >>> ax = sl.run(prob, sl.methods.SGD(), epochs=5, seed=0).plot()
            >>> ax = sl.run(prob, "SAGA", epochs=5, seed=0).plot(ax=ax)
            >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xlabel()
            (['SGD', 'SAGA'], 'epochs')
        """
        for role, name in (("x", x), ("y", y)):
            if name not in self.columns:
                raise ValueError(f"{role}={name!r} is not a column of this trace; columns: {', '.join(self.columns)}")
        values = np.asarray(self.columns[y], dtype=float)
        if not np.isfinite(values).any():
            raise ValueError(f"the trace's {y!r} column has no finite value to draw")
        from sgdlab.viz.convergence import plot_convergence

        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        name = self.method if label is None else label
        plot_convergence(ax, {name: [(self.columns[x], values)]}, xlabel=x, ylabel=y, legend=legend)
        return ax

    def __repr__(self) -> str:
        last = {k: float(v[-1]) for k, v in self.columns.items() if len(v)}
        shown = ", ".join(f"{k}={last[k]:.4g}" for k in ("epochs", "subopt", "loss") if k in last)
        return f"Trace({self.method} on {self.problem}: {self.status}, {len(self)} checkpoints, {shown})"
