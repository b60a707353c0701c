"""Animated GIFs of paths advancing over the contours of `f − f*` (drawn once, the moving artists blitted).

For least squares in two parameters each component `ℓ_i(x) = ½(a_iᵀx − y_i)²` is minimised on the line
`a_iᵀx = y_i`; given the indices each iteration sampled, the animation shows the lines of the components
that pulled the iterate to where it is — the lecture's "SGD, batch = 2" picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from sgdlab.methods.base import Method, expected_smoothness
from sgdlab.methods.sgd import SGD
from sgdlab.problems.base import Problem
from sgdlab.problems.glm import LeastSquares
from sgdlab.viz.trajectories import PALETTE, _check_2d, _pad, _walk, default_bounds, draw_contours, frame_axes


def _component_lines(problem: Problem) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows `a_i` and targets `y_i` when every component's minimisers form the line `a_iᵀx = y_i`."""
    if not isinstance(problem, LeastSquares) or problem.dim != 2 or problem.l2 != 0:
        return None
    A = problem.A.toarray() if hasattr(problem.A, "toarray") else np.asarray(problem.A)
    return np.asarray(A, dtype=float), np.asarray(problem.y, dtype=float)


def _line_points(a: np.ndarray, y: float, reach: float) -> np.ndarray:
    """Two far-apart points of the line `aᵀx = y`, for a segment that the axes clip to the box."""
    norm2 = float(a @ a)
    if norm2 == 0:
        return np.full((2, 2), np.nan)  # a zero row: no line (every x minimises ℓ_i)
    foot = a * y / norm2
    direction = np.array([-a[1], a[0]]) / np.sqrt(norm2)
    return np.stack([foot - reach * direction, foot + reach * direction])


#: How long the last frame stays up before the GIF loops, in milliseconds.
HOLD_MS = 1200
#: Pixels per inch of the GIF: a 6.4 × 6 inch figure becomes 640 × 600 pixels, legible on a projector.
GIF_DPI = 100


def _write_gif(frames: list[Image.Image], out: Path, fps: int) -> None:
    """One palette for every frame, taken from the last (fullest) frame.

    With a palette per frame, antialiasing makes most pixels change colour index from frame to frame, so
    each frame is stored whole; with a shared palette only the pixels that moved are stored.
    """
    frames = [frame.convert("RGB") for frame in frames]
    palette = frames[-1].quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    durations = [int(1000 / fps)] * (len(frames) - 1) + [HOLD_MS]
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=durations, loop=0)


def _frame_iterates(length: int, max_frames: int) -> np.ndarray:
    """Which iterate each frame ends at: every one if they fit, else evenly spread, always the last."""
    frames = max(2, min(length, int(max_frames)))
    return np.unique(np.round(np.linspace(0, length - 1, frames)).astype(int))


def animate_paths(
    problem: Problem,
    paths: dict[str, np.ndarray],
    out: str | Path,
    fps: int = 12,
    max_frames: int = 120,
    title: str | None = None,
    samples: dict[str, np.ndarray] | None = None,
    bounds: tuple[float, float, float, float] | None = None,
) -> Path:
    """Write an animated GIF of `paths` drawn step by step over the contours of `problem`.

    Long paths skip evenly between frames; the last frame is held a moment. Rendered off-screen (Agg):
    pyplot's state is not touched.

    Args:
        problem: A problem with two parameters.
        paths: Name → iterates, an array of shape `(k, 2)` (as from
            [`iterate_path`][sgdlab.viz.trajectories.iterate_path]).
        out: The GIF to write (its folder is created).
        fps: Frames per second.
        max_frames: At most this many frames.
        title: Shown above the axes with the iteration number.
        samples: Name → the indices each iteration sampled (as from
            [`sampled_indices`][sgdlab.viz.trajectories.sampled_indices]); for least squares in two
            parameters the lines `a_iᵀx = y_i` of the components that the step into the current iterate used
            are highlighted, the other components' lines drawn faintly.
        bounds: `(xmin, xmax, ymin, ymax)`; by default a box around the paths and `x*` (and, with
            `samples`, the nearer half of the components' lines).

    Returns:
        `out`, as a `Path`.

    Raises:
        ValueError: `out` is not a `.gif`, no path is given or one is empty, `samples` names an unknown
            path, or the problem does not have two parameters.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import sgdlab as sl
        >>> from sgdlab.viz import animate_paths, iterate_path
        >>> prob = sl.problems.Quadratic2D(kappa=10.0)
        >>> gif = animate_paths(prob, {"GD": iterate_path(prob, "GD", 20)}, Path(tempfile.mkdtemp()) / "gd.gif")
        >>> gif.suffix, gif.stat().st_size > 0
        ('.gif', True)
    """
    _check_2d(problem)
    out = Path(out)
    if out.suffix.lower() != ".gif":
        raise ValueError(f"animate_paths writes a GIF; got {out.name}")
    paths = {str(k): np.asarray(v, dtype=float).reshape(-1, 2) for k, v in paths.items()}
    if not paths or min(len(p) for p in paths.values()) == 0:
        raise ValueError("give at least one non-empty path")
    samples = {str(k): np.asarray(v) for k, v in (samples or {}).items()}
    unknown = set(samples) - set(paths)
    if unknown:
        raise ValueError(f"samples for unknown paths: {', '.join(sorted(unknown))}")
    lines = _component_lines(problem) if samples else None
    if bounds is None:
        reach_for = dict(paths)
        if lines is not None and problem.has_optimum:
            # Widen the box to where x* projects onto the nearer half of the components' lines: the region
            # the sampled lines pull the iterate across (the farthest lines would shrink the path to a dot).
            A, y = lines
            x_star = np.asarray(problem.x_star, dtype=float)
            norm2 = np.einsum("ij,ij->i", A, A)
            keep = norm2 > 0
            gaps = (A[keep] @ x_star - y[keep]) / norm2[keep]
            feet = x_star - A[keep] * gaps[:, None]
            distance = np.abs(gaps) * np.sqrt(norm2[keep])
            reach_for["component lines"] = feet[distance <= np.median(distance)]
        bounds = default_bounds(problem, reach_for)
    bounds = tuple(float(b) for b in bounds)

    fig = Figure(figsize=(6.4, 6.0), dpi=GIF_DPI)
    canvas = FigureCanvasAgg(fig)  # render off-screen, without touching pyplot's global backend
    ax = fig.add_subplot()
    draw_contours(ax, problem, bounds, levels=20, filled=False)  # unfilled: few colours, a small GIF
    reach = 4.0 * float(np.hypot(bounds[1] - bounds[0], bounds[3] - bounds[2])) + float(np.abs(bounds).max())
    if lines is not None:
        for a, y in zip(*lines, strict=True):
            ax.plot(*_line_points(a, y, reach).T, color="#9aa5b1", lw=0.6, alpha=0.45, zorder=1)

    longest = max(len(p) for p in paths.values())
    shown = _frame_iterates(longest, max_frames)
    artists = {}
    for i, (name, path) in enumerate(paths.items()):
        colour = PALETTE[i % len(PALETTE)]
        ax.scatter(*path[0], s=45, facecolors="white", edgecolors=colour, linewidths=1.5, zorder=4)
        (trail,) = ax.plot([], [], "-", color=colour, lw=1.2, alpha=0.85, label=name, zorder=3)
        (head,) = ax.plot([], [], "o", color=colour, ms=6, mec="white", mew=0.8, zorder=5)
        picked = []
        if lines is not None and name in samples:
            width = samples[name].shape[1] if samples[name].ndim == 2 else 1
            picked = [ax.plot([], [], "--", color=colour, lw=1.3, alpha=0.9, zorder=2)[0] for _ in range(width)]
            picked[0].set_label("sampled lines aᵢᵀx = yᵢ" if len(paths) == 1 else f"{name}: sampled lines")
        artists[name] = (path, trail, head, picked)
    frame_axes(ax, problem, bounds, zorder=6)
    # Below the axes: a legend inside would have to stay put while the paths move under it.
    ax.legend(fontsize=11, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncols=2, frameon=False)
    heading = ax.set_title("", fontsize=12)
    fig.tight_layout()
    # Drawn once: everything that does not move. Each frame restores those pixels and draws only the moving
    # artists over them — then the x* marker again, so that the paths pass under it as in the still pictures.
    moving = [artist for path, trail, head, picked in artists.values() for artist in (trail, head, *picked)]
    on_top = [line for line in ax.lines if line.get_zorder() >= 6]
    for artist in (*moving, *on_top, heading):
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)

    def draw(frame: int):
        k = int(shown[frame])
        for name, (path, trail, head, picked) in artists.items():
            upto = min(k, len(path) - 1)
            trail.set_data(path[: upto + 1, 0], path[: upto + 1, 1])
            head.set_data([path[upto, 0]], [path[upto, 1]])
            if picked:
                rows = np.atleast_2d(samples[name])
                idx = rows[upto - 1] if upto >= 1 else []
                for j, line in enumerate(picked):
                    if j < len(idx) and idx[j] >= 0:
                        line.set_data(*_line_points(lines[0][idx[j]], lines[1][idx[j]], reach).T)
                    else:
                        line.set_data([], [])
        heading.set_text(f"{title} — iteration {k}" if title else f"iteration {k}")
        canvas.restore_region(background)
        for artist in (*sorted(moving, key=lambda a: a.get_zorder()), *on_top, heading):
            ax.draw_artist(artist)
        return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).copy()

    out.parent.mkdir(parents=True, exist_ok=True)
    _write_gif([draw(frame) for frame in range(len(shown))], out, int(fps))
    return out


def animate_minibatch_sgd(
    problem: Problem,
    out: str | Path,
    method: Method | str | None = None,
    batch_size: int = 2,
    iters: int = 60,
    seed: int = 0,
    fps: int = 8,
    title: str | None = None,
) -> Path:
    """The lecture's picture in one call: `method` with minibatches of `batch_size` on a two-parameter
    least-squares problem, each step with the lines of the components it sampled.

    Args:
        problem: Least squares in two parameters without L2 (e.g.
            [`TwoParameterLeastSquares`][sgdlab.problems.TwoParameterLeastSquares]); on other 2-D problems the
            path is drawn without component lines.
        out: The GIF to write.
        method: By default SGD with the constant step `1/L_b` (`L_b` the expected smoothness of a batch of
            `batch_size`): large enough that the iterate visibly reaches the region where the components'
            lines cross, and keeps wandering there.
        batch_size: Components per step.
        iters: Iterations, one frame each.
        seed: The sampler's seed.
        fps: Frames per second.
        title: Shown above the axes with the iteration number.

    Returns:
        `out`, as a `Path`.

    Raises:
        ValueError: As [`animate_paths`][sgdlab.viz.animation.animate_paths].

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> import sgdlab as sl
        >>> from sgdlab.viz import animate_minibatch_sgd
        >>> prob = sl.problems.TwoParameterLeastSquares(n=8, seed=0)
        >>> animate_minibatch_sgd(prob, Path(tempfile.mkdtemp()) / "sgd.gif", iters=10).name
        'sgd.gif'
    """
    if method is None:
        method = SGD(lr=1.0 / expected_smoothness(problem, batch_size))
    path, picked = _walk(problem, method, iters, batch_size, seed, None, "uniform")
    picked = _pad(picked)
    name = f"{method if isinstance(method, str) else method.name}, batch = {batch_size}"
    return animate_paths(problem, {name: path}, out, fps=fps, max_frames=iters + 1, title=title, samples={name: picked})
