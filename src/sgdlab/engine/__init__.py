"""The run engine: samplers, the run loop with checkpoints and divergence detection, and `Trace`."""

from sgdlab.engine.checkpoint import Checkpoint
from sgdlab.engine.loop import run
from sgdlab.engine.samplers import SAMPLERS, Sampler
from sgdlab.engine.trace import Trace

__all__ = ["SAMPLERS", "Checkpoint", "Sampler", "Trace", "run"]
