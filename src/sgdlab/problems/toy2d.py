"""Two-dimensional finite sums for pictures: trajectories over contour plots and the "batch = 2" figure."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sgdlab import _checks
from sgdlab.data.dataset import Dataset
from sgdlab.data.synthetic import MAX_COND, make_regression
from sgdlab.problems.base import Problem
from sgdlab.problems.glm import LeastSquares


class Quadratic2D(Problem):
    """An ill-conditioned quadratic as a finite sum: `f_i(x) = ½ (x − c_i)ᵀ D (x − c_i)`.

    `D = R(angle) diag(1, kappa) R(angle)ᵀ` and the centres `c_i` (`i = 1..n`) are Gaussian with standard
    deviation `spread`, shifted to mean zero so that `x* = 0`. Exact constants: `L = L_max = kappa`,
    `mu = 1`. Starts at `x0 = (−2, 1.5)`.

    Args:
        kappa: The condition number (≥ 1).
        n: The number of components.
        spread: The centres' standard deviation (`0`: every component equal, no gradient noise).
        angle: The rotation of the long axis, in radians.
        seed: The centres' seed.

    Raises:
        ValueError: `kappa` outside [1, 1e15], or a setting out of its range.

    Examples:
        >>> from sgdlab.problems import Quadratic2D
        >>> prob = Quadratic2D(kappa=30.0, angle=1.1)
        >>> prob.L, prob.mu, prob.x_star.tolist(), prob.initial_point().tolist()
        (30.0, 1.0, [0.0, 0.0], [-2.0, 1.5])
    """

    def __init__(self, kappa: float = 10.0, n: int = 16, spread: float = 1.0, angle: float = 0.5, seed: int = 0):
        self.kappa = _checks.positive("kappa", kappa)
        if not 1 <= self.kappa <= MAX_COND:  # beyond, μ/L is below float64's precision (and losses overflow)
            raise ValueError(f"kappa must be in [1, {MAX_COND:g}], got {kappa:g}")
        self.spread = _checks.nonnegative("spread", spread)
        self.angle = _checks.real("angle", angle)
        self.seed = _checks.seed("seed", seed)
        super().__init__(_checks.positive_int("n", n), 2)
        c, s = np.cos(self.angle), np.sin(self.angle)
        R = np.array([[c, -s], [s, c]])
        self.D = R @ np.diag([1.0, self.kappa]) @ R.T
        centres = self.spread * np.random.default_rng(self.seed).standard_normal((self.n, 2))
        self.centres = centres - centres.mean(axis=0)
        self.name = f"Quadratic2D(kappa={self.kappa:g})"

    def _data_loss(self, x):
        d = x - self.centres
        return 0.5 * float(np.mean(np.einsum("ij,jk,ik->i", d, self.D, d)))

    def _data_grad(self, x):
        return self.D @ x  # the centres average to zero

    def loss_many(self, points):
        """`f` at each row of `points`, expanded: `½ (xᵀDx − 2 xᵀD c̄ + mean_i c_iᵀD c_i)` (`c̄` ≈ 0)."""
        points = self._points(points)
        mean = self.centres.mean(axis=0)
        spread = float(np.mean(np.sum((self.centres @ self.D) * self.centres, axis=1)))
        quad = np.sum((points @ self.D) * points, axis=1)
        return 0.5 * (quad - 2.0 * points @ (self.D @ mean) + spread)

    def component_grads(self, x, idx):
        return (x - self.centres[idx]) @ self.D

    def _data_hvp(self, x, v):
        return self.D @ v

    def _constants(self):
        return self.kappa, 1.0, self.kappa

    def _closed_form_optimum(self):
        return np.zeros(2)

    def initial_point(self):
        return np.array([-2.0, 1.5])

    def params(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "n": self.n,
            "spread": self.spread,
            "angle": self.angle,
            "seed": self.seed,
        }


class Rosenbrock(Problem):
    """Rosenbrock's function `f(x) = (a − x₁)² + b (x₂ − x₁²)²` as the mean of its two squared residuals.

    Components: `f_1 = 2 (a − x₁)²` and `f_2 = 2 b (x₂ − x₁²)²`. Its gradient is not globally Lipschitz,
    so `L`, `mu` and `L_max` are *local* constants at `x* = (a, a²)` (eigenvalues of the Hessians there) —
    good guides for step sizes near the valley floor, not global bounds. Starts at `x0 = (−1.5, 2)`.

    Args:
        a: The minimiser's first coordinate.
        b: The valley's steepness (> 0).

    Raises:
        ValueError: `b ≤ 0`, or a curvature at `x*` beyond float64's range.

    Examples:
        >>> from sgdlab.problems import Rosenbrock
        >>> prob = Rosenbrock()
        >>> prob.x_star.tolist(), prob.f_star, round(prob.L)
        ([1.0, 1.0], 0.0, 1002)
    """

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a = _checks.real("a", a)
        self.b = _checks.positive("b", b)
        super().__init__(2, 2)
        if not math.isfinite(8.0 * self.b * (self.a * self.a)):  # Python floats: products overflow to inf
            raise ValueError(f"Rosenbrock(a={self.a:g}, b={self.b:g}): the curvature 8·b·a² at x* overflows float64")
        self.name = f"Rosenbrock(a={self.a:g}, b={self.b:g})"

    def _components(self, x):
        return np.array([2.0 * (self.a - x[0]) ** 2, 2.0 * self.b * (x[1] - x[0] ** 2) ** 2])

    def _data_loss(self, x):
        return float(self._components(x).mean())

    def loss_many(self, points):
        x1, x2 = self._points(points).T
        return (2.0 * (self.a - x1) ** 2 + 2.0 * self.b * (x2 - x1**2) ** 2) / 2.0

    def component_grads(self, x, idx):
        g1 = np.array([-4.0 * (self.a - x[0]), 0.0])
        r = x[1] - x[0] ** 2
        g2 = np.array([-8.0 * self.b * r * x[0], 4.0 * self.b * r])
        return np.stack([g1, g2])[np.asarray(idx)]

    def _data_grad(self, x):
        return self.component_grads(x, np.array([0, 1])).mean(axis=0)

    def _hessian(self, x):
        r = x[1] - x[0] ** 2
        return np.array(
            [
                [2.0 - 4.0 * self.b * r + 8.0 * self.b * x[0] ** 2, -4.0 * self.b * x[0]],
                [-4.0 * self.b * x[0], 2.0 * self.b],
            ]
        )

    def _data_hvp(self, x, v):
        return self._hessian(x) @ v

    def _constants(self):
        eig = np.linalg.eigvalsh(self._hessian(np.array([self.a, self.a**2])))
        a = self.a
        h2 = 4.0 * self.b * np.array([[4 * a**2, -2 * a], [-2 * a, 1.0]])  # Hessian of f_2 at x*
        return float(eig[-1]), float(eig[0]), float(max(4.0, np.linalg.eigvalsh(h2)[-1]))

    def _closed_form_optimum(self):
        return np.array([self.a, self.a**2])

    def initial_point(self):
        return np.array([-1.5, 2.0])

    def params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b}


class TwoParameterLeastSquares(LeastSquares):
    """Least squares in two parameters with `n` samples — the lecture's "SGD, batch = 2" picture.

    Each component `ℓ_i(x) = ½(a_iᵀx − y_i)²` is a degenerate quadratic whose minimisers form a line; SGD
    jumps between these lines and, with a constant step, wanders in a region around `x*` whose size the
    batch size controls. The data come from [`make_regression`][sgdlab.data.make_regression]; starts at
    `x0 = 0`.

    Args:
        n: The number of samples (lines).
        cond: The condition number of `AᵀA/n`.
        noise: The target noise (`0`: every line passes through `x*`, `σ²* = 0`).
        seed: The data's seed.

    Examples:
        >>> from sgdlab.problems import TwoParameterLeastSquares
        >>> prob = TwoParameterLeastSquares(n=20, cond=10.0, seed=0)
        >>> prob.n, prob.dim, round(prob.L / prob.mu, 6)
        (20, 2, 10.0)
    """

    def __init__(self, n: int = 20, cond: float = 10.0, noise: float = 0.5, seed: int = 0):
        n, seed = _checks.positive_int("n", n), _checks.seed("seed", seed)
        cond, noise = _checks.positive("cond", cond), _checks.nonnegative("noise", noise)
        data = make_regression(n=n, dim=2, cond=cond, noise=noise, seed=seed)
        super().__init__(Dataset(data.A, data.y, name=f"ls2d(n={n}, cond={cond:g})"))

    def initial_point(self):
        return np.zeros(2)

    def loss_many(self, points):
        """`f` at each row of `points`: one product `A Pᵀ` for all of them."""
        points = self._points(points)
        A = self.A.toarray() if hasattr(self.A, "toarray") else np.asarray(self.A)
        out = np.empty(len(points))
        step = max(1, (1 << 20) // self.n)
        for start in range(0, len(points), step):
            chunk = points[start : start + step]
            r = A @ chunk.T - self.y[:, None]
            reg = 0.5 * self.l2 * np.einsum("pi,pi->p", chunk, chunk)
            out[start : start + step] = np.mean(0.5 * r**2, axis=0) + reg
        return out
