"""The lecture's pictures that need whole iterate paths: 2-D trajectories and the "SGD, batch = 2" animation.

They illustrate; they carry no verdict (the claims' verdicts come from stored runs).
"""

from __future__ import annotations

from pathlib import Path

from sgdlab.lecture import _common
from sgdlab.methods import GD, SGD, Adadelta, Adagrad, Adam, Momentum, RMSProp
from sgdlab.methods.base import expected_smoothness
from sgdlab.problems import Quadratic2D, TwoParameterLeastSquares
from sgdlab.viz import animate_minibatch_sgd, iterate_path, plot_trajectories


def sgd_batches(folder: Path, iters: int = 60) -> Path:
    """GD and SGD with batch 1, 2 and the full batch, the same constant step, on a 2-parameter finite sum."""
    problem = TwoParameterLeastSquares(n=20, cond=10.0, noise=0.5, seed=0)
    lr = 1.0 / expected_smoothness(problem, 1)
    paths = {"GD (1/L)": iterate_path(problem, GD(), iters)}
    for b in (1, 2, problem.n):
        paths[f"SGD, b = {b}" if b < problem.n else "SGD, b = n"] = iterate_path(problem, SGD(lr=lr), iters, b, seed=1)
    path = folder / "trajectories-batch.png"
    with _common.figure(path, width=6.4, height=5.2) as axes:
        plot_trajectories(axes[0, 0], problem, paths, title=f"{iters} iterations, step 1/L_max for SGD")
    return path


def adaptive_side_by_side(folder: Path, iters: int = 400) -> Path:
    """The adaptive methods and momentum on one ill-conditioned 2-D quadratic with gradient noise."""
    problem = Quadratic2D(kappa=20.0, n=16, spread=0.3, seed=0)
    methods = {
        "SGD": SGD(lr=0.04), "Momentum": Momentum(lr=0.01, beta=0.9), "Adagrad": Adagrad(lr=0.5),
        "RMSProp": RMSProp(lr=0.05, gamma=0.9), "Adadelta": Adadelta(), "Adam": Adam(lr=0.1),
    }  # fmt: skip
    x0 = problem.initial_point()
    paths = {name: iterate_path(problem, m, iters, batch_size=1, seed=0, x0=x0) for name, m in methods.items()}
    bounds = (-3.2, 3.2, -3.2, 3.2)
    path = folder / "trajectories-adaptive.png"
    with _common.figure(path, ncols=3, nrows=2, width=3.8, height=3.5) as axes:
        for ax, (name, walk) in zip(axes.flat, paths.items(), strict=True):
            plot_trajectories(ax, problem, {name: walk}, bounds=bounds, title=name)
    return path


def make_pictures(folder: Path) -> list[tuple[str, str, list[Path]]]:
    folder.mkdir(parents=True, exist_ok=True)
    problem = TwoParameterLeastSquares(n=20, cond=10.0, noise=0.5, seed=0)
    gif = animate_minibatch_sgd(problem, folder / "sgd-batch-2.gif", batch_size=2, iters=60, seed=0)
    return [
        ("Trajectories: GD and SGD with batch 1, 2 and n",
         "With a constant step, SGD jumps between the components' minimiser lines and keeps wandering in a "
         "region around x*; the region shrinks as the batch grows, and the full batch is GD.",
         [sgd_batches(folder), gif]),
        ("Trajectories: momentum and the adaptive methods",
         "One ill-conditioned quadratic with gradient noise (16 components), 400 iterations, batch 1, each "
         "method with a hand-picked step (Adadelta has none).",
         [adaptive_side_by_side(folder)]),
    ]  # fmt: skip
