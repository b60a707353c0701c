"""The finite-sum problem `f(x) = (1/n) Σ_i ℓ_i(x) + R(x)` and what every problem exposes.

The data term `ℓ_i` differs between samples; the regulariser `R` is shared, so each component is
`f_i = ℓ_i + R` and `f = (1/n) Σ f_i`. Keeping `R` apart lets variance-reduced methods store only
the data part of per-sample gradients and treat `R` exactly, as scikit-learn's SAG/SAGA do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

import numpy as np

from sgdlab.problems import optimum


class Problem(ABC):
    """A finite sum of `n` smooth components in `dim` variables.

    Subclasses implement the data term ([`component_grads`][sgdlab.problems.Problem.component_grads], `_data_loss`, `_data_grad`)
    and optionally a regulariser ([`reg_loss`][sgdlab.problems.Problem.reg_loss], [`reg_grad`][sgdlab.problems.Problem.reg_grad], [`reg_hvp`][sgdlab.problems.Problem.reg_hvp]), the constants
    (`_constants`) and a closed-form optimum (`_closed_form_optimum`).

    Attributes exposed by every problem: ``n, dim, loss, grad, grad_batch, x_star, f_star, L, mu, L_max,
    sigma2_star`. `L` is the smoothness constant of `f`, `mu`` its strong-convexity or PL constant
    (`0` when it has none), `L_max = max_i L_i` the largest smoothness constant of a component `f_i`.
    Each subclass documents which of them are exact and which are bounds.
    """

    name: str = "problem"
    #: `False` for problems without a certified optimum (neural networks): no `x_star`, `subopt`, `dist2`.
    has_optimum: bool = True
    #: `"regression"` or `"classification"`: which test metrics `evaluate` reports.
    task: str = "regression"

    def __init__(self, n: int, dim: int) -> None:
        self.n = int(n)
        self.dim = int(dim)

    # --- the data term, to be provided -------------------------------------------------------------
    @abstractmethod
    def _data_loss(self, x: np.ndarray) -> float:
        """`(1/n) Σ ℓ_i(x)`."""

    @abstractmethod
    def _data_grad(self, x: np.ndarray) -> np.ndarray:
        """`(1/n) Σ ∇ℓ_i(x)`."""

    @abstractmethod
    def component_grads(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Per-sample data gradients `∇ℓ_i(x)` for `i` in `idx`, one row each (shape `(len(idx), dim)`)."""

    def _data_grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self.component_grads(x, idx).mean(axis=0)

    def _data_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian-vector product of the data term; central differences unless a subclass knows better."""
        h = 1e-6 * max(1.0, float(np.linalg.norm(x))) / max(float(np.linalg.norm(v)), 1e-300)
        return (self._data_grad(x + h * v) - self._data_grad(x - h * v)) / (2 * h)

    # --- the regulariser (none by default) ---------------------------------------------------------
    def reg_loss(self, x: np.ndarray) -> float:
        return 0.0

    def reg_grad(self, x: np.ndarray) -> np.ndarray | float:
        return 0.0

    def reg_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray | float:
        return 0.0

    # --- the public oracle -------------------------------------------------------------------------
    def _point(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        if getattr(x, "shape", None) != (self.dim,):
            raise ValueError(
                f"{name} must have shape ({self.dim},) for {self.name}, got {getattr(x, 'shape', type(x))}"
            )
        return x

    def _indices(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"idx must be a non-empty 1-D array of integer sample indices, got {idx!r}")
        if idx.min() < 0 or idx.max() >= self.n:
            raise ValueError(f"sample indices must lie in 0..{self.n - 1}; got {idx.min()}..{idx.max()}")
        return idx

    def loss(self, x: np.ndarray) -> float:
        """The full objective `f(x) = (1/n) Σ f_i(x)`."""
        x = self._point(x)
        return float(self._data_loss(x) + self.reg_loss(x))

    def loss_many(self, points: np.ndarray) -> np.ndarray:
        """`f` at each row of `points` (shape `(m, dim)`): an array of `m` losses.

        The default calls [`loss`][sgdlab.problems.Problem.loss] once per point; problems that draw contour pictures (the 2-D ones)
        override it with one vectorised evaluation, equal to the loop up to rounding."""
        points = self._points(points)
        return np.array([self.loss(p) for p in points], dtype=np.float64).reshape(len(points))

    def _points(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"points must have shape (m, {self.dim}) for {self.name}, got {points.shape}")
        return points

    def grad(self, x: np.ndarray) -> np.ndarray:
        """The full gradient `∇f(x)`."""
        x = self._point(x)
        return self._data_grad(x) + self.reg_grad(x)

    def grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """`(1/|idx|) Σ_{i ∈ idx} ∇f_i(x)` — an unbiased estimate of `∇f(x)` for uniformly drawn `idx`."""
        x, idx = self._point(x), self._indices(idx)
        return self._data_grad_batch(x, idx) + self.reg_grad(x)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian-vector product `∇²f(x) v` (used to certify the optimum by Newton's method)."""
        x, v = self._point(x), self._point(v, "v")
        return self._data_hvp(x, v) + self.reg_hvp(x, v)

    def evaluate(self, x: np.ndarray, data: Any) -> dict[str, float]:
        """Metrics of `x` on held-out data (the data-term loss, plus accuracy for classifiers)."""
        raise TypeError(f"{type(self).__name__} has no held-out evaluation")

    def check_test_data(self, data: Any) -> None:
        """Raise `TypeError`/`ValueError` unless [`evaluate`][sgdlab.problems.Problem.evaluate] can use `data`."""
        raise TypeError(f"{type(self).__name__} has no held-out evaluation")

    # --- constants ---------------------------------------------------------------------------------
    @abstractmethod
    def _constants(self) -> tuple[float, float, float]:
        """`(L, mu, L_max)`."""

    @cached_property
    def _constant_values(self) -> tuple[float, float, float]:
        return tuple(float(c) for c in self._constants())

    @property
    def L(self) -> float:
        return self._constant_values[0]

    @property
    def mu(self) -> float:
        return self._constant_values[1]

    @property
    def L_max(self) -> float:
        return self._constant_values[2]

    # --- the certified optimum ---------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The parameters that define the problem besides its data (part of the cache key)."""
        return {}

    def fingerprint(self) -> str:
        """What identifies the problem's data; problems without data return an empty string."""
        return ""

    def _closed_form_optimum(self) -> np.ndarray | None:
        """An exact minimiser where a formula exists, else `None` (then L-BFGS and Newton are used)."""
        return None

    def check_optimum(self, x: np.ndarray) -> None:
        """Raise `CertificationError` if `x` has a tiny gradient yet cannot be a minimiser."""
        return None  # most problems have no such trap

    def initial_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    @cached_property
    def _optimum(self) -> tuple[np.ndarray, float]:
        return optimum.certified_optimum(self)

    @property
    def x_star(self) -> np.ndarray:
        """A certified minimiser: `‖∇f(x*)‖ ≤ 1e-10·max(1, ‖∇f(x0)‖)`, cached on disk."""
        return self._optimum[0]

    @property
    def f_star(self) -> float:
        return self._optimum[1]

    @cached_property
    def sigma2_star(self) -> float:
        """Gradient noise at the optimum, `(1/n) Σ ‖∇f_i(x*)‖²`."""
        x, total = self.x_star, 0.0
        for start in range(0, self.n, 4096):
            idx = np.arange(start, min(start + 4096, self.n))
            total += float(np.sum((self.component_grads(x, idx) + self.reg_grad(x)) ** 2))
        return total / self.n

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args}, n={self.n}, dim={self.dim})"
