"""The lecture's pictures that need whole iterate paths: 2-D trajectories and the "SGD, batch = 2" animation.

They illustrate; they carry no verdict (the claims' verdicts come from stored runs). Each is shown in the
report right after the claim it illustrates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sgdlab.lecture import _common
from sgdlab.lecture.reproduce import Picture
from sgdlab.methods import GD, SGD, Adadelta, Adagrad, Adam, Momentum, RMSProp
from sgdlab.problems import Quadratic2D, TwoParameterLeastSquares
from sgdlab.viz import animate_minibatch_sgd, iterate_path, plot_trajectories

BATCH_ITERS = 1000
BATCHES = (1, 4, 16)


def _batch_problem() -> TwoParameterLeastSquares:
    return TwoParameterLeastSquares(n=20, cond=10.0, noise=0.5, seed=0)


def sgd_batches(folder: Path, iters: int = BATCH_ITERS) -> Path:
    """GD and SGD with batch 1, 2 and 5, all with the same constant step 1/L_max, on a 2-parameter finite sum:
    the whole paths, and the last half of each around x* (where the noise region shows)."""
    problem = _batch_problem()
    lr = 1.0 / problem.L_max  # the same step for every method: only the noise differs
    paths = {f"SGD, b = {b}": iterate_path(problem, SGD(lr=lr), iters, b, seed=1) for b in BATCHES}
    paths["GD (full batch)"] = iterate_path(problem, GD(lr=lr), iters)  # drawn last: on top
    tails = {name: walk[iters // 2 :] for name, walk in paths.items()}
    spread = max(float(np.abs(walk - problem.x_star).max()) for walk in tails.values()) * 1.15
    cx, cy = problem.x_star
    zoom = (cx - spread, cx + spread, cy - spread, cy + spread)
    path = folder / "trajectories-batch.png"
    with _common.figure(path, ncols=2, width=5.4, height=5.0) as axes:
        plot_trajectories(axes[0, 0], problem, paths, title=f"all {iters} iterations from x₀ = 0")
        plot_trajectories(axes[0, 1], problem, tails, bounds=zoom,
                          title=f"iterations {iters // 2}–{iters}, around x*")  # fmt: skip
        axes[0, 1].get_legend().remove()
    return path


ADAPTIVE_ITERS = 400
ADAPTIVE = {
    "SGD (α = 0.04)": SGD(lr=0.04),
    "Momentum (α = 0.01, β = 0.9)": Momentum(lr=0.01, beta=0.9),
    "Adagrad (α = 0.5)": Adagrad(lr=0.5),
    "RMSProp (α = 0.05, γ = 0.9)": RMSProp(lr=0.05, gamma=0.9),
    "Adadelta (no α; ρ = γ = 0.95, ε = 1e-6)": Adadelta(),
    "Adam (α = 0.1)": Adam(lr=0.1),
}


def adaptive_side_by_side(folder: Path, iters: int = ADAPTIVE_ITERS) -> Path:
    """The adaptive methods and momentum on one ill-conditioned 2-D quadratic with gradient noise."""
    problem = Quadratic2D(kappa=20.0, n=16, spread=0.3, seed=0)
    x0 = problem.initial_point()
    paths = {name: iterate_path(problem, m, iters, batch_size=1, seed=0, x0=x0) for name, m in ADAPTIVE.items()}
    # a box around the start and x* (the region every path stays in), not a fixed ±3
    every = np.vstack([x0[None, :], problem.x_star[None, :], *paths.values()])
    lo, hi = every.min(axis=0), every.max(axis=0)
    pad = 0.08 * float(np.max(hi - lo))
    bounds = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    path = folder / "trajectories-adaptive.png"
    with _common.figure(path, ncols=3, nrows=2, width=3.7, height=3.4) as axes:
        for ax, (name, walk) in zip(axes.flat, paths.items(), strict=True):
            plot_trajectories(ax, problem, {name: walk}, bounds=bounds, title=name)
            ax.get_legend().remove()  # the title names the method; one legend for the markers below
            ax.title.set_fontsize(10)
        handles = [h for h in axes[0, 0].get_lines() if h.get_label() == "x*"]
        fig = axes[0, 0].figure
        fig.legend(handles, ["x* (the minimiser)"], loc="outside lower center", ncol=1, frameon=False)
    return path


def make_pictures(folder: Path) -> list[Picture]:
    folder.mkdir(parents=True, exist_ok=True)
    problem = _batch_problem()
    gif = animate_minibatch_sgd(problem, folder / "sgd-batch-2.gif", batch_size=2, iters=60, seed=0)
    lr = 1.0 / problem.L_max
    return [
        Picture(
            "noise-floor",
            "Trajectories: GD and SGD with batch 1, 4 and 16",
            f"A least-squares problem in two parameters with n = {problem.n} components, each minimised on a line. "
            f"Every method takes the same constant step α = 1/L_max = {lr:.3g} (L_max = {problem.L_max:.3g}, "
            "the largest smoothness constant of a component), so the paths differ only in their gradient noise.",
            [
                (sgd_batches(folder),
                 "Left: GD walks straight to x* (the star); SGD follows the same valley but jitters. Right: the "
                 "second half of each path, zoomed on x*: constant-step SGD keeps wandering in a region around "
                 "x* — the noise floor — and the region shrinks as the batch grows (b = 1 > 4 > 16); GD sits at "
                 "x*. Hollow circles mark the start of each (part of a) path."),
                (gif,
                 "SGD with b = 2 step by step: the two sampled components' minimiser lines (dashed) and the step "
                 "towards them; the path jumps between the lines and never settles."),
            ],
        ),
        Picture(
            "adaptive",
            "Trajectories: momentum and the adaptive methods",
            f"One ill-conditioned quadratic (κ = 20) with gradient noise (16 components), {ADAPTIVE_ITERS} "
            "iterations of batch 1 from the same start, each method with a hand-picked step (in its title; "
            "Adadelta has none).",
            [
                (adaptive_side_by_side(folder),
                 "Look at the shape of each path: SGD zig-zags across the narrow valley; momentum overshoots and "
                 "spirals in; Adagrad, RMSProp and Adam rescale each coordinate, so they head for x* more "
                 "directly and then jitter at a noise-sized distance. Adadelta does not stop halfway by "
                 "mistake: without a learning rate its first steps are about √ε = 0.001 long and grow only as its "
                 f"running average of past updates builds up, so after {ADAPTIVE_ITERS} iterations it is still "
                 "on its way (the same slow start the adaptive-methods claim notes on the raw breast-cancer "
                 "data)."),
            ],
        ),
    ]  # fmt: skip
