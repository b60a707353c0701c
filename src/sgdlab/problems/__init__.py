"""Finite-sum problems with certified optima and exact (or documented) smoothness constants."""

from sgdlab.problems.base import Problem
from sgdlab.problems.counterexample import AdamCounterexample
from sgdlab.problems.glm import LeastSquares, LinearModelProblem, LogisticRegression, SoftmaxRegression
from sgdlab.problems.nonconvex import NonconvexLogistic, NonconvexPL
from sgdlab.problems.optimum import CertificationError
from sgdlab.problems.toy2d import Quadratic2D, Rosenbrock, TwoParameterLeastSquares

__all__ = [
    "AdamCounterexample",
    "CertificationError",
    "LeastSquares",
    "LinearModelProblem",
    "LogisticRegression",
    "NonconvexLogistic",
    "NonconvexPL",
    "Problem",
    "Quadratic2D",
    "Rosenbrock",
    "SoftmaxRegression",
    "TwoParameterLeastSquares",
]
