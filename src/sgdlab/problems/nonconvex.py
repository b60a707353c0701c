"""Nonconvex finite sums: one that satisfies the PL inequality and one that need not.

PL (Polyak–Łojasiewicz) with constant μ: `½‖∇f(x)‖² ≥ μ (f(x) − f*)` for all x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sgdlab import _checks
from sgdlab.data.dataset import Dataset
from sgdlab.problems.glm import LinearModelProblem, LogisticRegression

#: `min_r h'(r)² / (2 h(r))` for `h(r) = r² + 3 sin² r`: ≈ 0.17553 at r ≈ 2.20 (computed on a fine
#: grid, rounded down). Karimi, Nutini & Schmidt (2016) quote the looser 1/32.
PL_CONSTANT_OF_H = 0.175


class NonconvexPL(LinearModelProblem):
    """A nonconvex problem satisfying PL: `ℓ_i(x) = h(a_iᵀx − y_i)` with `h(r) = r² + 3 sin² r`.

    `h` is the one-dimensional nonconvex PL function of Karimi, Nutini & Schmidt (ECML 2016). With an
    over-parametrised design (`n ≤ dim` and `A` of full row rank; Liu, Zhu & Belkin, 2022),
    `f = (1/n) Σ h(r_i)` is PL with `μ = μ_h · λ_min(AAᵀ/n)`, because
    `‖∇f‖² = ‖Aᵀh'(r)‖²/n² ≥ λ_min(AAᵀ)/n² · ‖h'(r)‖²` and `½h'(r)² ≥ μ_h h(r)`. It interpolates
    (`f* = 0`, `σ²* = 0`); `x_star` is the minimum-norm interpolant `A⁺y`. `L = 8 λ_max(AᵀA/n)` and
    `L_max = 8 max_i ‖a_i‖²` are bounds (`|h''| ≤ 8`); `mu` is a bound.

    Args:
        data: A regression dataset with `n ≤ dim` and a design of full row rank.

    Raises:
        ValueError: `n > dim`, or the design is not of full row rank.
        TypeError: `data` is not a [`Dataset`][sgdlab.data.Dataset].

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.NonconvexPL(sl.data.make_regression(n=20, dim=40, seed=0))
        >>> prob.f_star < 1e-20, prob.sigma2_star < 1e-20, prob.mu > 0  # it interpolates
        (True, True, True)
    """

    curvature = 8.0

    def __init__(self, data: Dataset) -> None:
        super().__init__(data, l2=0.0)
        if self.n > self.dim:
            raise ValueError(
                f"NonconvexPL needs an over-parametrised design (n <= dim) to be PL; got n={self.n}, dim={self.dim}"
            )
        if self._spectrum()[2] <= 0 or np.linalg.matrix_rank(self._dense_design()) < self.n:
            raise ValueError("NonconvexPL needs a design matrix of full row rank")

    def _dense_design(self) -> np.ndarray:
        return self.A.toarray() if self.data.is_sparse else self.A

    def _phi(self, z, y):
        r = z - y
        return r**2 + 3.0 * np.sin(r) ** 2

    def _dphi(self, z, y):
        r = z - y
        return 2.0 * r + 3.0 * np.sin(2.0 * r)

    def _d2phi_apply(self, z, y, u):
        return (2.0 + 6.0 * np.cos(2.0 * (z - y))) * u

    def _constants(self):
        L, _, L_max = super()._constants()
        return L, PL_CONSTANT_OF_H * self._spectrum()[2], L_max

    def params(self) -> dict[str, Any]:
        return {}

    def _closed_form_optimum(self) -> np.ndarray:
        return np.linalg.lstsq(self._dense_design().astype(np.float64), self.y, rcond=None)[0]


class NonconvexLogistic(LogisticRegression):
    """Logistic loss with the nonconvex regulariser `R(x) = penalty · Σ_j x_j² / (1 + x_j²)`.

    A standard nonconvex benchmark (e.g. Reddi et al., *Stochastic variance reduction for nonconvex
    optimization*, 2016). It carries no PL guarantee, so `mu = 0`; `x_star` is a certified *stationary
    point* (`‖∇f‖` tiny) reached from 0 by L-BFGS and Newton, not necessarily a global minimiser. Bounds:
    `L = λ_max(AᵀA/n)/4 + l2 + 2·penalty` and `L_max = max_i ‖a_i‖²/4 + l2 + 2·penalty` (the regulariser's
    second derivative `(2 − 6x²)/(1 + x²)³` lies in [−1/2, 2]).

    Args:
        data: A binary classification dataset (labels ±1 or 0/1).
        penalty: The nonconvex regulariser's weight (> 0).
        l2: An L2 term `(l2/2)‖x‖²` besides it.

    Raises:
        ValueError: Labels that are not binary, or a setting out of its range.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.NonconvexLogistic(sl.data.make_classification(n=200, dim=5, seed=0), penalty=0.1)
        >>> prob.mu, bool(sl.run(prob, "GD", iters=200).grad_norm2[-1] < 1e-8)
        (0.0, True)
    """

    def __init__(self, data: Dataset, penalty: float = 0.1, l2: float = 0.0) -> None:
        self.penalty = _checks.positive("penalty", penalty)
        super().__init__(data, l2)

    def reg_loss(self, x):
        return super().reg_loss(x) + self.penalty * float(np.sum(x**2 / (1.0 + x**2)))

    def reg_grad(self, x):
        return super().reg_grad(x) + self.penalty * 2.0 * x / (1.0 + x**2) ** 2

    def reg_hvp(self, x, v):
        x2 = x**2
        return super().reg_hvp(x, v) + self.penalty * (2.0 - 6.0 * x2) / (1.0 + x2) ** 3 * v

    def _reg_curvature(self) -> float:
        return self.l2 + 2.0 * self.penalty

    def _constants(self):
        L, _, L_max = super()._constants()
        return L, 0.0, L_max

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "penalty": self.penalty}
