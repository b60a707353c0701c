"""Pictures (matplotlib): convergence bands over seeds."""

from sgdlab.viz.convergence import convergence_axes, seed_bands

__all__ = ["convergence_axes", "seed_bands"]
