"""The lecture's claims, each an experiment with a verdict computed from its measurements; `sgdlab reproduce`."""

from sgdlab.lecture.adagrad_decay import AdagradStepDecay
from sgdlab.lecture.adam_failure import AdamNonConvergence
from sgdlab.lecture.adaptive import AdaptiveMethods
from sgdlab.lecture.bottleneck import VarianceIsTheBottleneck
from sgdlab.lecture.claim import Check, Claim, Verdict
from sgdlab.lecture.complexity import ComplexityTable
from sgdlab.lecture.heavy_tail import HeavyTailImbalance
from sgdlab.lecture.networks import NetworkAdamGap
from sgdlab.lecture.noise_floor import NoiseFloor
from sgdlab.lecture.reproduce import Reproduction, run_claims
from sgdlab.lecture.results import Results, Run, collect
from sgdlab.lecture.sgd_vs_gd import SgdVersusGd
from sgdlab.lecture.variance_reduction import VarianceReduction
from sgdlab.lecture.weight_decay import CoupledVersusDecoupledDecay

#: Every claim, in the lecture's order.
CLAIMS: tuple[Claim, ...] = (
    ComplexityTable(),
    SgdVersusGd(),
    NoiseFloor(),
    VarianceReduction(),
    VarianceIsTheBottleneck(),
    AdaptiveMethods(),
    AdagradStepDecay(),
    AdamNonConvergence(),
    CoupledVersusDecoupledDecay(),
    NetworkAdamGap(),
    HeavyTailImbalance(),
)

__all__ = ["CLAIMS", "Check", "Claim", "Reproduction", "Results", "Run", "Verdict", "collect", "run_claims"]
