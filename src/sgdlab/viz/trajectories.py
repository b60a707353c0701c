"""Two-dimensional pictures: every iterate of a run, drawn over the contours of `f − f*`.

[`iterate_path`][sgdlab.viz.trajectories.iterate_path] replays a run with the engine's own set-up,
`sgdlab.engine.prepare.prepare` (the sampler seeded as `sl.run` seeds it, the method resolved for the run's length, its
state, and the segment function `sl.run` picks — compiled or `python_segment`), so a path ends exactly where `sl.run`
with the same arguments ends.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sgdlab import _checks
from sgdlab.engine.prepare import prepare, starting_point
from sgdlab.engine.samplers import Sampler
from sgdlab.methods.base import Method
from sgdlab.problems.base import Problem
from sgdlab.viz._legend import LegendOption, draw_legend

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The most memory the iterates of one `iterate_path` may take (a longer walk is refused, naming `iters`).
MAX_PATH_BYTES = 1 << 30
#: Colour-blind-friendly cycle for paths (matplotlib's tab10).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _walk(problem: Problem, method, iters: int, batch_size=1, seed=0, x0=None, sampler="uniform") -> tuple:
    """The iterates and the sampled indices (a list of arrays) of `iters` iterations, set up exactly as
    `sl.run` sets them up."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be an sgdlab problem, got {type(problem).__name__}")
    # every iterate is kept: at most MAX_PATH_BYTES of them
    iters = _checks.positive_int("iters", iters, at_most=max(1, MAX_PATH_BYTES // (8 * max(problem.dim, 1))))
    batch_size, seed = _checks.positive_int("batch_size", batch_size), _checks.seed("seed", seed)
    start = prepare(problem, method, sampler=sampler, batch_size=batch_size, seed=seed,
                    x=starting_point(problem, x0, None), max_iters=iters)  # fmt: skip
    # The same indices again, to report them: a second stream seeded like the run's.
    replay = Sampler.for_problem(start.stream.kind, problem, start.stream.batch_size, np.random.default_rng(seed))
    method, x, state, stream = start.method, start.x, start.state, start.stream
    # The segment sl.run would use (a compiled one where the engine has it), one iteration per call: the
    # kernels give the same result however a run is cut into segments, so the path matches sl.run bit for bit.
    segment = start.segment
    path = np.empty((iters + 1, problem.dim), dtype=x.dtype)
    path[0] = x
    picked = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):  # as in sl.run
        for k in range(1, iters + 1):
            result = segment(method, problem, x, state, stream, 1, math.inf, math.inf)
            path[k] = x
            picked.append(next(replay))
            if result.diverged:  # ‖x‖² overflowed: sl.run stops here too
                return path[: k + 1], picked
    return path, picked


def iterate_path(
    problem: Problem,
    method: Method | str,
    iters: int,
    batch_size: int = 1,
    seed: int = 0,
    x0: np.ndarray | None = None,
    sampler: str = "uniform",
) -> np.ndarray:
    """`x0` and every iterate of `iters` iterations, set up exactly as `sl.run` sets up a run.

    The same arguments given to `sl.run(problem, method, iters=iters, ...)` end at the same final `x`, bit
    for bit. A run whose iterate explodes (`‖x‖²` overflows) stops there, as `sl.run` does, so its path
    has `diverged_at + 1` rows.

    Args:
        problem: Any sgdlab problem (pictures need two parameters; the path itself does not).
        method: A method instance or name.
        iters: Iterations (≥ 1).
        batch_size: Components per step.
        seed: The sampler's seed.
        x0: The starting point (default: the problem's `initial_point()`).
        sampler: As in `sl.run`.

    Returns:
        An array of shape `(iters + 1, dim)` (fewer rows if the run diverged).

    Raises:
        ValueError: `iters < 1`, an unknown sampler, or a setting `sl.run` would refuse.
        TypeError: `problem` is not an sgdlab problem.

    Examples:
        >>> import numpy as np
        >>> import sgdlab as sl
        >>> from sgdlab.viz import iterate_path
        >>> prob = sl.problems.Rosenbrock()
        >>> path = iterate_path(prob, sl.methods.Adam(lr=0.05), 200, seed=0)
        >>> path.shape, path[0].tolist()
        ((201, 2), [-1.5, 2.0])
        >>> bool(np.array_equal(path[-1], sl.run(prob, sl.methods.Adam(lr=0.05), iters=200, seed=0).x))
        True
    """
    return _walk(problem, method, iters, batch_size, seed, x0, sampler)[0]


def sampled_indices(problem: Problem, method: Method | str, iters: int, **settings: Any) -> np.ndarray:
    """The component indices each iteration of [`iterate_path`][sgdlab.viz.trajectories.iterate_path] used.

    Args:
        problem: The problem.
        method: A method instance or name.
        iters: Iterations.
        **settings: `iterate_path`'s `batch_size`, `seed`, `x0` and `sampler`.

    Returns:
        An integer array of shape `(iterations, batch)`; `-1` pads a short last batch of a reshuffled epoch.

    Examples:
        >>> import sgdlab as sl
        >>> from sgdlab.viz import sampled_indices
        >>> prob = sl.problems.TwoParameterLeastSquares(n=5)
        >>> sampled_indices(prob, "SGD", 3, batch_size=2, sampler="reshuffle").tolist()  # 5 = 2 + 2 + 1
        [[2, 4], [3, 0], [1, -1]]
    """
    return _pad(_walk(problem, method, iters, **settings)[1])


def _pad(picked: list[np.ndarray]) -> np.ndarray:
    width = max((len(idx) for idx in picked), default=0)
    out = np.full((len(picked), width), -1, dtype=np.int64)
    for row, idx in zip(out, picked, strict=True):
        row[: len(idx)] = idx
    return out


def _check_2d(problem: Problem) -> None:
    if problem.dim != 2:
        raise ValueError(f"contour pictures need a 2-parameter problem; {problem.name} has dim={problem.dim}")


def default_bounds(
    problem: Problem, paths: dict[str, np.ndarray], margin: float = 0.12, blow_up: float = 100.0
) -> tuple[float, ...]:
    """A box around the points of `paths` and `x*`, with a margin, and neither side much thinner than
    the other (so that an equal-aspect picture stays readable).

    Points where `f − f*` exceeds `blow_up` times its largest value at the paths' starting points are
    left out: a diverging path then leaves the picture instead of shrinking everything else to a dot.
    """
    points = [np.asarray(p, dtype=float).reshape(-1, 2) for p in paths.values()]
    points = [p[np.isfinite(p).all(axis=1)] for p in points]
    points = [p for p in points if len(p)]
    f_star = problem.f_star if problem.has_optimum else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        gaps = [problem.loss_many(p) - f_star for p in points]
        start = max((float(g[0]) for g in gaps if np.isfinite(g[0])), default=np.inf)
        if start > 0:
            points = [p[np.isfinite(g) & (g <= blow_up * start)] for p, g in zip(points, gaps, strict=True)]
    if problem.has_optimum:
        points.append(np.asarray(problem.x_star, dtype=float).reshape(1, 2))
    cloud = np.concatenate(points) if points else np.zeros((0, 2))
    if len(cloud) == 0:
        cloud = np.zeros((1, 2))
    lo, hi = cloud.min(axis=0), cloud.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    half = np.maximum(half, 0.75 * half.max())  # near-square: no sliver-shaped boxes, little white space
    half = np.where(half > 0, half, 1.0) * (1 + 2 * margin)
    return (centre[0] - half[0], centre[0] + half[0], centre[1] - half[1], centre[1] + half[1])


def loss_grid(problem: Problem, bounds: tuple[float, ...], resolution: int = 121):
    """`X, Y, f − f*` on a `resolution × resolution` grid (`f* = min` of the grid when no optimum), from one
    call of the problem's batched oracle `loss_many`."""
    xmin, xmax, ymin, ymax = bounds
    X, Y = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    with np.errstate(over="ignore", invalid="ignore"):
        Z = problem.loss_many(np.column_stack([X.ravel(), Y.ravel()])).reshape(X.shape)
    f_star = problem.f_star if problem.has_optimum else float(np.nanmin(Z))
    return X, Y, Z - f_star


def draw_contours(ax: Axes, problem: Problem, bounds: tuple[float, ...], levels: int = 30, filled: bool = True) -> None:
    """Thin level lines of `f − f*`, log-spaced, over light filled contours (`filled`): a quiet background."""
    from matplotlib.colors import LogNorm

    X, Y, Z = loss_grid(problem, bounds)
    positive = Z[np.isfinite(Z) & (Z > 0)]
    if positive.size == 0:
        return
    hi = float(positive.max())
    lo = max(float(positive.min()), hi * 1e-10)  # x* itself would put the lowest level at rounding noise
    if not hi > lo:
        return
    steps = np.geomspace(lo, hi, int(levels))
    Z = np.clip(np.where(np.isfinite(Z), Z, hi), lo, hi)
    norm = LogNorm(lo, hi)
    if filled:
        ax.contourf(X, Y, Z, levels=steps, norm=norm, cmap="Blues_r", alpha=0.35, antialiased=True)
    ax.contour(X, Y, Z, levels=steps, norm=norm, colors="#5a6b7b", linewidths=0.5, alpha=0.55)


def frame_axes(ax: Axes, problem: Problem, bounds: tuple[float, ...], zorder: int = 5) -> None:
    """The frame every 2-D picture shares: `x*` marked, the box `bounds`, equal scales, axis labels."""
    if problem.has_optimum:
        ax.plot(*problem.x_star, "*", color="black", ms=13, mec="white", mew=0.8, label="x*", zorder=zorder)
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")


def plot_trajectories(
    ax: Axes,
    problem: Problem,
    paths: dict[str, np.ndarray],
    bounds: tuple[float, float, float, float] | None = None,
    levels: int = 30,
    title: str | None = None,
    legend: LegendOption = True,
) -> None:
    """Paths over the contours of `problem.loss` on a 2-D box.

    Levels are log-spaced in `f − f*`. Each path is one coloured polyline with markers (`ax.lines` gets
    one line per path, then one for `x*`); its start is a hollow circle. Paths come from
    [`iterate_path`][sgdlab.viz.trajectories.iterate_path].

    Args:
        ax: The matplotlib axes to draw on.
        problem: A problem with two parameters.
        paths: Name → array of shape `(k, 2)`, the iterates in order.
        bounds: `(xmin, xmax, ymin, ymax)`; by default a near-square box around every path and `x*`
            (leaving out the points of a diverging path, so the rest stays readable).
        levels: How many contour levels.
        title: The axes' title, if any.
        legend: `True` (matplotlib's default legend text size, `rcParams["legend.fontsize"]`, placed where
            it hides least), `False` (none), or a dict of `ax.legend` keyword arguments, e.g.
            `{"fontsize": 14, "loc": "upper left"}` for a slide.

    Raises:
        ValueError: The problem does not have two parameters.

    Examples:
        >>> import sgdlab as sl
        >>> from matplotlib.figure import Figure
        >>> prob = sl.problems.Quadratic2D(kappa=10.0)
        >>> paths = {"GD": iterate_path(prob, "GD", 30), "SGD": iterate_path(prob, sl.methods.SGD(lr=0.05), 30)}
        >>> ax = Figure().subplots()
        >>> plot_trajectories(ax, prob, paths, legend={"fontsize": 14})
        >>> len(ax.lines), ax.get_legend().get_texts()[0].get_fontsize()
        (3, 14.0)
    """
    _check_2d(problem)
    bounds = tuple(float(b) for b in (bounds if bounds is not None else default_bounds(problem, paths)))
    draw_contours(ax, problem, bounds, levels)
    for i, (name, path) in enumerate(paths.items()):
        path = np.asarray(path, dtype=float).reshape(-1, 2)
        colour = PALETTE[i % len(PALETTE)]
        # Long paths get fewer markers, so the line stays readable.
        every = max(1, len(path) // 60)
        ax.plot(*path.T, "-o", color=colour, lw=1.2, ms=3, markevery=every, label=str(name), alpha=0.9, zorder=3)
        ax.scatter(*path[0], s=50, facecolors="white", edgecolors=colour, linewidths=1.5, zorder=4)
    frame_axes(ax, problem, bounds)
    if title is not None:
        ax.set_title(title)
    draw_legend(ax, legend, loc="best", framealpha=0.85)
