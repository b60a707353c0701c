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
    """A finite sum of `n` smooth components in `dim` variables, `f(x) = (1/n) Σ_i ℓ_i(x) + R(x)`.

    Every problem exposes `n`, `dim`, the oracle ([`loss`][sgdlab.problems.Problem.loss],
    [`grad`][sgdlab.problems.Problem.grad], [`grad_batch`][sgdlab.problems.Problem.grad_batch],
    [`component_grads`][sgdlab.problems.Problem.component_grads], [`hvp`][sgdlab.problems.Problem.hvp]),
    its constants `L` (smoothness of `f`), `mu` (strong-convexity or PL constant, `0` when it has none) and
    `L_max = max_i L_i` (the largest smoothness constant of a component `f_i`), and a certified optimum
    (`x_star`, `f_star`, `sigma2_star`). Each subclass documents which constants are exact and which are
    bounds.

    Subclasses implement the data term (`component_grads`, `_data_loss`, `_data_grad`), optionally a
    regulariser (`reg_loss`, `reg_grad`, `reg_hvp`), the constants (`_constants`, returning
    `(L, mu, L_max)`) and a closed-form optimum (`_closed_form_optimum`).

    Args:
        n: The number of components.
        dim: The number of variables.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.problems import Problem
        >>> class Centroid(Problem):
        ...     # f(x) = (1/n) Σ ½‖x − p_i‖², minimised by the mean of the points
        ...     def __init__(self, points):
        ...         self.points = np.asarray(points, dtype=float)
        ...         super().__init__(*self.points.shape)
        ...     def _data_loss(self, x):
        ...         return 0.5 * float(np.mean(np.sum((x - self.points) ** 2, axis=1)))
        ...     def _data_grad(self, x):
        ...         return x - self.points.mean(axis=0)
        ...     def component_grads(self, x, idx):
        ...         return x - self.points[idx]
        ...     def _constants(self):
        ...         return 1.0, 1.0, 1.0
        ...     def _closed_form_optimum(self):
        ...         return self.points.mean(axis=0)
        >>> prob = Centroid([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0]])
        >>> prob.x_star.tolist(), round(prob.sigma2_star, 6)
        ([1.0, 1.0], 2.666667)
        >>> prob.grad_batch(np.zeros(2), np.array([1, 2])).tolist()
        [-1.5, -1.5]
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
        """Per-sample data gradients `∇ℓ_i(x)` for `i` in `idx`, one row each (shape `(len(idx), dim)`).

        The regulariser is not included: `∇f_i = ∇ℓ_i + ∇R`."""

    def _data_grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return self.component_grads(x, idx).mean(axis=0)

    def _data_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian-vector product of the data term; central differences unless a subclass knows better."""
        h = 1e-6 * max(1.0, float(np.linalg.norm(x))) / max(float(np.linalg.norm(v)), 1e-300)
        return (self._data_grad(x + h * v) - self._data_grad(x - h * v)) / (2 * h)

    # --- the regulariser (none by default) ---------------------------------------------------------
    def reg_loss(self, x: np.ndarray) -> float:
        """The regulariser `R(x)` shared by every component (`0` unless a subclass has one)."""
        return 0.0

    def reg_grad(self, x: np.ndarray) -> np.ndarray | float:
        """`∇R(x)` (a scalar `0` when there is no regulariser)."""
        return 0.0

    def reg_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray | float:
        """`∇²R(x) v` (a scalar `0` when there is no regulariser)."""
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
        """The full objective `f(x) = (1/n) Σ f_i(x)`.

        Args:
            x: A point of shape `(dim,)`.

        Returns:
            `f(x)`, a float.

        Raises:
            ValueError: `x` does not have shape `(dim,)`.
        """
        x = self._point(x)
        return float(self._data_loss(x) + self.reg_loss(x))

    def loss_many(self, points: np.ndarray) -> np.ndarray:
        """`f` at each row of `points`.

        The default calls [`loss`][sgdlab.problems.Problem.loss] once per point; problems that draw contour
        pictures (the 2-D ones) override it with one vectorised evaluation, equal to the loop up to rounding.

        Args:
            points: An array of shape `(m, dim)`.

        Returns:
            An array of `m` losses.

        Raises:
            ValueError: `points` does not have shape `(m, dim)`.
        """
        points = self._points(points)
        return np.array([self.loss(p) for p in points], dtype=np.float64).reshape(len(points))

    def _points(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"points must have shape (m, {self.dim}) for {self.name}, got {points.shape}")
        return points

    def grad(self, x: np.ndarray) -> np.ndarray:
        """The full gradient `∇f(x)`, an array of shape `(dim,)`; `ValueError` if `x` has another shape."""
        x = self._point(x)
        return self._data_grad(x) + self.reg_grad(x)

    def grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The minibatch gradient `(1/|idx|) Σ_{i ∈ idx} ∇f_i(x)`: an unbiased estimate of `∇f(x)` for
        uniformly drawn `idx`.

        Args:
            x: A point of shape `(dim,)`.
            idx: A non-empty 1-D integer array of component indices in `0..n−1` (repeats count twice).

        Returns:
            An array of shape `(dim,)`.

        Raises:
            ValueError: `x` has the wrong shape, or `idx` is empty, not integer or out of range.
        """
        x, idx = self._point(x), self._indices(idx)
        return self._data_grad_batch(x, idx) + self.reg_grad(x)

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The Hessian-vector product `∇²f(x) v` (used to certify the optimum by Newton's method)."""
        x, v = self._point(x), self._point(v, "v")
        return self._data_hvp(x, v) + self.reg_hvp(x, v)

    def evaluate(self, x: np.ndarray, data: Any) -> dict[str, float]:
        """Metrics of `x` on held-out data (the data-term loss, plus accuracy for classifiers).

        Args:
            x: A point of shape `(dim,)`.
            data: Held-out data of the kind the problem was built from.

        Returns:
            Metric name → value; `sl.run(..., test=data)` records each as `test_<name>`.

        Raises:
            TypeError: The problem has no held-out evaluation, or `data` is of the wrong kind.
        """
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
        """The smoothness constant of `f`: `‖∇f(x) − ∇f(y)‖ ≤ L ‖x − y‖`."""
        return self._constant_values[0]

    @property
    def mu(self) -> float:
        """The strong-convexity (or PL) constant of `f`; `0` when it has none."""
        return self._constant_values[1]

    @property
    def L_max(self) -> float:
        """`max_i L_i`, the largest smoothness constant of a component `f_i`."""
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
        """The default starting point `x0` of a run (zeros unless a problem has a customary one)."""
        return np.zeros(self.dim)

    @cached_property
    def _optimum(self) -> tuple[np.ndarray, float]:
        return optimum.certified_optimum(self)

    @property
    def x_star(self) -> np.ndarray:
        """A certified minimiser, cached on disk.

        Certified means `‖∇f(x*)‖ ≤ 1e-10·max(1, ‖∇f(x0)‖)` after L-BFGS and Newton steps (or a closed
        form), plus each problem's own checks.

        Raises:
            CertificationError: No such point exists or none was found (e.g. separable data without L2).
        """
        return self._optimum[0]

    @property
    def f_star(self) -> float:
        """`f(x*)`, the minimum value (see `x_star`)."""
        return self._optimum[1]

    @cached_property
    def sigma2_star(self) -> float:
        """The gradient noise at the optimum, `σ²* = (1/n) Σ ‖∇f_i(x*)‖²`: what sets constant-step SGD's
        noise floor (`∝ α σ²*/b`)."""
        x, total = self.x_star, 0.0
        for start in range(0, self.n, 4096):
            idx = np.arange(start, min(start + 4096, self.n))
            total += float(np.sum((self.component_grads(x, idx) + self.reg_grad(x)) ** 2))
        return total / self.n

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args}, n={self.n}, dim={self.dim})"
