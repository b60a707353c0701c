"""Shared tables: every problem and every method the generic tests run over."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sgdlab as sl
from sgdlab.data import Dataset, make_classification, make_regression
from sgdlab.problems import (
    AdamCounterexample,
    LeastSquares,
    LogisticRegression,
    NonconvexLogistic,
    NonconvexPL,
    Quadratic2D,
    Rosenbrock,
    SoftmaxRegression,
    TwoParameterLeastSquares,
)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Certified optima go to a fresh cache, so tests never depend on (or pollute) the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SGDLAB_CACHE_DIR", str(tmp_path_factory.mktemp("sgdlab-cache")))
    yield
    mp.undo()


def _logistic_01_sparse() -> LogisticRegression:
    data = make_classification(n=120, dim=8, density=0.4, seed=4)
    return LogisticRegression(Dataset(data.A, (data.y > 0).astype(int)), l2=1e-2)


# name -> (factory, kind). kind: "convex" (global constants are bounds), "nonconvex", "local" (constants
# only hold near x*).
PROBLEMS: dict[str, tuple] = {
    "ls_dense": (lambda: LeastSquares(make_regression(n=60, dim=8, cond=30.0, seed=1)), "convex"),
    "ls_sparse_l2": (
        lambda: LeastSquares(make_regression(n=80, dim=10, density=0.3, seed=2), l2=0.1),
        "convex",
    ),
    "ls_wide": (lambda: LeastSquares(make_regression(n=12, dim=20, seed=3)), "convex"),
    "logistic_l2": (lambda: LogisticRegression(make_classification(n=100, dim=6, seed=3), l2=1e-2), "convex"),
    "logistic_sparse_01": (_logistic_01_sparse, "convex"),
    "logistic_noreg": (
        lambda: LogisticRegression(make_classification(n=200, dim=5, noise=2.0, seed=5)),
        "convex",
    ),
    "softmax_l2": (
        lambda: SoftmaxRegression(make_classification(n=90, dim=5, n_classes=3, seed=6), l2=1e-2),
        "convex",
    ),
    "softmax_sparse": (
        lambda: SoftmaxRegression(make_classification(n=90, dim=6, n_classes=4, density=0.5, seed=7), l2=1e-2),
        "convex",
    ),
    "nonconvex_pl": (lambda: NonconvexPL(make_regression(n=12, dim=20, seed=8)), "nonconvex"),
    "nonconvex_logistic": (
        lambda: NonconvexLogistic(make_classification(n=80, dim=5, seed=9), penalty=0.1),
        "nonconvex",
    ),
    "quadratic2d": (lambda: Quadratic2D(kappa=20.0, n=8, seed=1), "convex"),
    "rosenbrock": (lambda: Rosenbrock(), "local"),
    "ls2d": (lambda: TwoParameterLeastSquares(n=10, seed=2), "convex"),
    "adam_counterexample": (lambda: AdamCounterexample(C=3.0, penalty=50.0), "convex"),
}


@functools.cache
def make_problem(name: str):
    return PROBLEMS[name][0]()


def problem_params(kinds=("convex", "nonconvex", "local")):
    return [pytest.param(name, id=name) for name, (_, kind) in PROBLEMS.items() if kind in kinds]


def random_point(problem, seed: int = 0, scale: float = 0.5) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(problem.dim)


def hessian(problem, x: np.ndarray) -> np.ndarray:
    """The dense Hessian from Hessian-vector products (small problems only)."""
    eye = np.eye(problem.dim)
    H = np.stack([problem.hvp(x, e) for e in eye])
    return 0.5 * (H + H.T)


def well_conditioned_logistic() -> sl.problems.LogisticRegression:
    return LogisticRegression(make_classification(n=300, dim=10, cond=5.0, seed=11), l2=1e-2)
