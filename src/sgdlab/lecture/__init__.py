"""The lecture's claims, each an experiment with a verdict computed from its measurements; `sgdlab reproduce`."""

from sgdlab.lecture.claim import Check, Claim, Verdict
from sgdlab.lecture.complexity import ComplexityTable
from sgdlab.lecture.noise_floor import NoiseFloor
from sgdlab.lecture.reproduce import Reproduction, run_claims
from sgdlab.lecture.results import Results, Run, collect
from sgdlab.lecture.sgd_vs_gd import SgdVersusGd
from sgdlab.lecture.variance_reduction import VarianceReduction

#: Every claim, in the lecture's order.
CLAIMS: tuple[Claim, ...] = (ComplexityTable(), SgdVersusGd(), NoiseFloor(), VarianceReduction())

__all__ = ["CLAIMS", "Check", "Claim", "Reproduction", "Results", "Run", "Verdict", "collect", "run_claims"]
