"""Pictures (matplotlib) and the self-contained HTML report.

Convergence bands over seeds (`sgdlab.viz.convergence`), 2-D trajectories over contours
(`sgdlab.viz.trajectories`), animations of those paths (`sgdlab.viz.animation`), effect plots of a final
metric against a swept parameter (`sgdlab.viz.effects`), and [`HtmlReport`][sgdlab.viz.html.HtmlReport]
(`sgdlab.viz.html`).

Every name below is importable from `sgdlab.viz` (`from sgdlab.viz import plot_convergence`), and
`sgdlab.viz` is reachable as `sl.viz` after `import sgdlab as sl`. Each is loaded from its module on first
use, so importing this package imports neither matplotlib nor pandas (the playground starts without them).
Nothing here touches matplotlib's global state; functions that write files render with the Agg canvas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static tools see; at run time each name is loaded on first use (__getattr__)
    from sgdlab.viz.animation import animate_minibatch_sgd, animate_paths
    from sgdlab.viz.convergence import convergence_axes, plot_convergence, seed_bands
    from sgdlab.viz.effects import plot_effect
    from sgdlab.viz.html import HtmlReport
    from sgdlab.viz.trajectories import iterate_path, plot_trajectories, sampled_indices

#: Each public name and the module that defines it.
_HOMES = {
    "HtmlReport": "html",
    "animate_minibatch_sgd": "animation",
    "animate_paths": "animation",
    "convergence_axes": "convergence",
    "iterate_path": "trajectories",
    "plot_convergence": "convergence",
    "plot_effect": "effects",
    "plot_trajectories": "trajectories",
    "sampled_indices": "trajectories",
    "seed_bands": "convergence",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sgdlab.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sgdlab.viz.{home}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
