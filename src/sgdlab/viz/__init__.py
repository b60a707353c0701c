"""Pictures (matplotlib) and the self-contained HTML report.

Convergence bands over seeds, 2-D trajectories over contours, animations of those paths, effect plots of a
final metric against a swept parameter, and :class:`HtmlReport`. Importing this package does not touch
matplotlib's global state; functions that write files render with the Agg canvas.
"""

from sgdlab.viz.animation import animate_minibatch_sgd, animate_paths
from sgdlab.viz.convergence import convergence_axes, plot_convergence, seed_bands
from sgdlab.viz.effects import plot_effect
from sgdlab.viz.html import HtmlReport
from sgdlab.viz.trajectories import iterate_path, plot_trajectories, sampled_indices

__all__ = [
    "HtmlReport",
    "animate_minibatch_sgd",
    "animate_paths",
    "convergence_axes",
    "iterate_path",
    "plot_convergence",
    "plot_effect",
    "plot_trajectories",
    "sampled_indices",
    "seed_bands",
]
