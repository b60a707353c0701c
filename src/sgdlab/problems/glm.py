"""Generalised linear problems: `ℓ_i(x) = φ(a_iᵀX, y_i)` on dense or CSR data, with optional L2.

`f(x) = (1/n) Σ φ(a_iᵀX, y_i) + (l2/2)‖x‖²`, where `X` is `x` itself (one output) or `x` reshaped
to `dim_features × K` (softmax). Every per-sample gradient is `a_i ⊗ φ'(a_iᵀX, y_i)`, so one link
function `φ` with its first two derivatives defines loss, gradients and Hessian-vector products.

Constants (`λ_max`, `λ_min` are the extreme eigenvalues of `AᵀA/n`, `c = sup φ''`):
`L = c·λ_max + l2` and `L_max = c·max_i ‖a_i‖² + l2`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax, logsumexp, softmax

from sgdlab import _checks
from sgdlab.data.dataset import Dataset
from sgdlab.data.out_of_core import BlockOperator, EncodedTargets
from sgdlab.problems.base import Problem
from sgdlab.problems.optimum import CertificationError
from sgdlab.problems.spectral import check_design_scale, gram_spectrum, max_abs, row_norms2


class LinearModelProblem(Problem):
    """The generalised linear problems' shared machinery: `f(x) = (1/n) Σ φ(a_iᵀX, y_i) + (l2/2)‖x‖²`.

    Subclasses give the link `φ` (with its first two derivatives) and its curvature bound
    `curvature = sup φ''`, from which `L = curvature·λ_max(AᵀA/n) + l2` and
    `L_max = curvature·max_i ‖a_i‖² + l2`. Data may be dense, CSR or on disk
    ([`Dataset.from_npy`][sgdlab.data.Dataset.from_npy]: full passes stream it block by block).

    Args:
        data: The [`Dataset`][sgdlab.data.Dataset] (`A` n × dim, targets `y`).
        l2: The L2 weight `λ ≥ 0` of `(λ/2)‖x‖²`.

    Raises:
        TypeError: `data` is not a `Dataset`.
        ValueError: `l2 < 0`, targets the link cannot take (see each subclass), or a design whose squared
            entries leave float64's range.

    Examples:
        >>> import sgdlab as sl
        >>> prob = sl.problems.LogisticRegression(sl.data.make_classification(n=100, dim=3, seed=0), l2=0.1)
        >>> A, derivatives = prob.sample_derivatives(prob.initial_point(), np.array([0, 1]))
        >>> bool(np.allclose(A * derivatives[:, None], prob.component_grads(prob.initial_point(), np.array([0, 1]))))
        True
    """

    #: `sup φ''` — the curvature that turns the Gram spectrum into smoothness constants.
    curvature: float = 1.0
    n_outputs: int = 1

    def __init__(self, data: Dataset, l2: float = 0.0) -> None:
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be an sgdlab.data.Dataset, got {type(data).__name__}")
        self.l2 = _checks.nonnegative("l2", l2)
        self.data = data
        self.A = data.A
        if data.is_out_of_core:  # y stays on disk: labels are checked once, over their distinct values
            if self.task == "classification":
                self._encode_targets(data.label_values())
            self.y = EncodedTargets(data, self._encode_block)
        else:
            y = self._encode_targets(data.y)  # real targets take the data's dtype, so float32 runs stay float32
            self.y = y.astype(data.dtype) if y.dtype.kind == "f" else y
        super().__init__(data.n, data.dim * self.n_outputs)
        self.name = f"{type(self).__name__}({data.name})"
        if not data.is_out_of_core:  # data on disk are checked by the pass that computes the constants
            self._max_row_norm2()

    def _max_row_norm2(self) -> float:
        """`max_i ‖a_i‖²`, computed once; a design whose squares leave float64's range is refused here."""
        if not hasattr(self, "_norms2_cache"):
            if self.data.is_out_of_core:
                blocks = [(float(row_norms2(A).max()), max_abs(A)) for _, A, _ in self.data.blocks()]
                norms2, top = max(n for n, _ in blocks), max(t for _, t in blocks)
            else:
                norms2, top = float(row_norms2(self.A).max()), max_abs(self.A)
            check_design_scale(norms2, top)
            self._norms2_cache = norms2
        return self._norms2_cache

    # --- the link function, per subclass -------------------------------------------------------------
    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float64)

    @abstractmethod
    def _phi(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-sample losses `φ(z_i, y_i)`."""

    @abstractmethod
    def _dphi(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-sample derivatives `∂φ/∂z`."""

    @abstractmethod
    def _d2phi_apply(self, z: np.ndarray, y: np.ndarray, u: np.ndarray) -> np.ndarray:
        """`φ''(z)·u` per sample (a Hessian of size K×K applied to `u` for multi-output links)."""

    def _encode_rows(self, y: np.ndarray) -> np.ndarray:
        """The encoding of `_encode_targets` for some rows, without its checks on the whole label set."""
        return self._encode_targets(y)

    def _encode_block(self, y: np.ndarray) -> np.ndarray:
        y = self._encode_rows(y)
        return y.astype(self.data.dtype) if y.dtype.kind == "f" else y

    # --- out-of-core data: full passes block by block, minibatches read from disk ---------------------
    def _blocks(self):
        """`(A_rows, encoded targets)` block by block, for data that stay on disk."""
        for _, A, y in self.data.blocks():
            yield A, self._encode_block(y)

    def _rows(self, idx: np.ndarray):
        return self.data._rows(idx) if self.data.is_out_of_core else self.A[idx]

    def _streamed_loss(self, x: np.ndarray) -> float:
        return float(sum(np.sum(self._phi(self._scores(A, x), y)) for A, y in self._blocks()) / self.n)

    def _streamed_grad(self, x: np.ndarray) -> np.ndarray:
        total = sum(A.T @ self._dphi(self._scores(A, x), y) for A, y in self._blocks())
        return np.asarray(total).ravel() / self.n

    def _streamed_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        total = sum(A.T @ self._d2phi_apply(self._scores(A, x), y, self._scores(A, v)) for A, y in self._blocks())
        return np.asarray(total).ravel() / self.n

    # --- the data term, in matrix form ----------------------------------------------------------------
    def _weights(self, x: np.ndarray) -> np.ndarray:
        return x if self.n_outputs == 1 else x.reshape(self.data.dim, self.n_outputs)

    def _scores(self, A, x: np.ndarray) -> np.ndarray:
        return A @ self._weights(x)

    def _data_loss(self, x: np.ndarray) -> float:
        if self.data.is_out_of_core:
            return self._streamed_loss(x)
        return float(np.mean(self._phi(self._scores(self.A, x), self.y)))

    def _data_grad(self, x: np.ndarray) -> np.ndarray:
        if self.data.is_out_of_core:
            return self._streamed_grad(x)
        s = self._dphi(self._scores(self.A, x), self.y)
        return np.asarray(self.A.T @ s).ravel() / self.n

    def sample_derivatives(self, x: np.ndarray, idx: np.ndarray):
        """The sampled rows and their loss derivatives, `(A_idx, φ'(A_idx X, y_idx))`.

        The derivatives are `len(idx)` numbers (or `len(idx) × K`), whose products `a_t ⊗ φ'_t` are the
        component gradients `∇ℓ_t(x)` — the form in which SAG and SAGA store them.
        """
        A = self._rows(idx)
        return A, self._dphi(self._scores(A, x), self.y[idx])

    def _data_grad_batch(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        A, s = self.sample_derivatives(x, idx)
        return np.asarray(A.T @ s).ravel() / len(idx)

    def component_grads(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        A, s = self.sample_derivatives(x, idx)
        A = A.toarray() if sp.issparse(A) else A
        if self.n_outputs == 1:
            return A * s[:, None]
        return np.einsum("bd,bk->bdk", A, s).reshape(len(idx), -1)

    def _data_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        if self.data.is_out_of_core:
            return self._streamed_hvp(x, v)
        z = self._scores(self.A, x)
        u = self._scores(self.A, v)
        return np.asarray(self.A.T @ self._d2phi_apply(z, self.y, u)).ravel() / self.n

    # --- the L2 regulariser -----------------------------------------------------------------------
    def reg_loss(self, x: np.ndarray) -> float:
        """`(l2/2)‖x‖²`."""
        return 0.5 * self.l2 * float(x @ x) if self.l2 else 0.0

    def reg_grad(self, x: np.ndarray) -> np.ndarray | float:
        """`l2·x`."""
        return self.l2 * x if self.l2 else 0.0

    def reg_hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray | float:
        """`l2·v`."""
        return self.l2 * v if self.l2 else 0.0

    # --- constants, identity, evaluation --------------------------------------------------------------
    def _spectrum(self) -> tuple[float, float, float]:
        if not hasattr(self, "_spectrum_cache"):
            A = self.A
            if self.data.is_out_of_core:  # the Gram matrix accumulated block by block
                A = BlockOperator(self.data) if self.data.dim <= self.n else np.asarray(self.A)
            self._spectrum_cache = gram_spectrum(A)
        return self._spectrum_cache

    def _reg_curvature(self) -> float:
        return self.l2

    def reg_curvature_is_zero(self) -> bool:
        """`True` when the regulariser has no curvature (no L2 and no other convexifying term)."""
        return self._reg_curvature() == 0

    def _constants(self) -> tuple[float, float, float]:
        norms2 = self._max_row_norm2()  # first: it checks the data's scale before the spectrum is attempted
        reg = self._reg_curvature()
        L = self.curvature * self._spectrum()[0] + reg
        L_max = self.curvature * norms2 + reg
        return L, self.l2, L_max

    def params(self) -> dict[str, Any]:
        """The parameters that define the problem besides its data: `{"l2": l2}`."""
        return {"l2": self.l2}

    def fingerprint(self) -> str:
        """The data's fingerprint ([`Dataset.fingerprint`][sgdlab.data.Dataset.fingerprint])."""
        return self.data.fingerprint()

    def check_test_data(self, data: Any) -> None:
        """Raise `TypeError` unless `data` is a `Dataset`, `ValueError` unless it has the problem's features."""
        if not isinstance(data, Dataset):
            raise TypeError(f"test must be an sgdlab.data.Dataset, got {type(data).__name__}")
        if data.dim != self.data.dim:
            raise ValueError(f"test data have {data.dim} features, the problem's data {self.data.dim}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r}, {', '.join(f'{k}={v!r}' for k, v in self.params().items())})"


class LeastSquares(LinearModelProblem):
    """Least squares: `f(x) = (1/2n) ‖Ax − y‖² + (l2/2)‖x‖²`, i.e. `ℓ_i(x) = ½(a_iᵀx − y_i)²`.

    Exact constants: `L = λ_max(AᵀA/n) + l2`, `L_max = max_i ‖a_i‖² + l2` and `mu = λ_min(AᵀA/n) + l2`;
    with `l2 = 0` and a rank-deficient `A` (e.g. n < dim), `mu` is the PL constant, the smallest *nonzero*
    eigenvalue of `AᵀA/n`, and `x_star` the minimum-norm solution. For `min(n, dim) > 3000` the smallest
    eigenvalues are not computed and `mu = l2` is a lower bound. The optimum has a closed form
    (least-squares solve), polished to the certificate by Newton steps. Held-out metrics: `loss`, `rmse`.

    Args:
        data: A regression [`Dataset`][sgdlab.data.Dataset] (real targets).
        l2: The L2 weight `λ ≥ 0`.

    Raises:
        TypeError: `data` is not a `Dataset`.
        ValueError: `l2 < 0`.

    Examples:
        >>> import numpy as np
        >>> import sgdlab as sl
        >>> data = sl.data.make_regression(n=500, dim=10, cond=50.0, seed=0)
        >>> prob = sl.problems.LeastSquares(data, l2=0.0)
        >>> round(prob.L / prob.mu, 6)  # the data's exact condition number
        50.0
        >>> bool(np.allclose(prob.x_star, np.linalg.lstsq(data.A, data.y, rcond=None)[0]))
        True
    """

    curvature = 1.0

    def _phi(self, z, y):
        return 0.5 * (z - y) ** 2

    def _dphi(self, z, y):
        return z - y

    def _d2phi_apply(self, z, y, u):
        return u

    def _constants(self):
        L, _, L_max = super()._constants()
        _, lam_min, lam_min_pos = self._spectrum()
        mu = lam_min + self.l2 if self.l2 > 0 else lam_min_pos
        return L, mu, L_max

    def _closed_form_optimum(self) -> np.ndarray:
        n, dim = self.A.shape
        if self.data.is_out_of_core:  # normal equations, accumulated block by block; Newton then polishes
            gram, rhs = np.zeros((dim, dim)), np.zeros(dim)
            for A, y in self._blocks():
                A = A.astype(np.float64)
                gram += A.T @ A
                rhs += A.T @ y
            return np.linalg.lstsq(gram / n + self.l2 * np.eye(dim), rhs / n, rcond=None)[0]
        if sp.issparse(self.A):
            damp = np.sqrt(n * self.l2)
            return sp.linalg.lsqr(self.A, self.y, damp=damp, atol=1e-15, btol=1e-15, iter_lim=20 * dim)[0]
        A, y = self.A.astype(np.float64), self.y
        if self.l2 > 0:  # ridge as an augmented least-squares problem, to avoid squaring cond(A)
            A = np.vstack([A, np.sqrt(n * self.l2) * np.eye(dim)])
            y = np.concatenate([y, np.zeros(dim)])
        return np.linalg.lstsq(A, y, rcond=None)[0]

    def evaluate(self, x, data: Dataset) -> dict[str, float]:
        r = data.A @ x - data.y
        return {"loss": 0.5 * float(np.mean(r**2)), "rmse": float(np.sqrt(np.mean(r**2)))}


def binary_labels(y: np.ndarray) -> np.ndarray:
    """Map labels in {−1, +1} or {0, 1} to ±1 floats; anything else (or a single class) is a `ValueError`."""
    values = np.unique(y)
    if not (set(values.tolist()) <= {-1.0, 1.0} or set(values.tolist()) <= {0.0, 1.0}):
        shown = ", ".join(map(str, values[:6])) + (" …" if values.size > 6 else "")
        raise ValueError(f"binary labels must be -1/+1 or 0/1, got values {shown}")
    if values.size != 2:
        raise ValueError(f"binary classification needs both classes in y, got only {values.tolist()}")
    return np.where(y > 0, 1.0, -1.0)


class LogisticRegression(LinearModelProblem):
    """Binary logistic regression: `ℓ_i(x) = log(1 + exp(−y_i a_iᵀx))`, labels ±1 (or 0/1), plus L2.

    Constants: `L = λ_max(AᵀA/n)/4 + l2` and `L_max = max_i ‖a_i‖²/4 + l2` are exact as global constants
    (the Hessian equals `AᵀA/(4n) + l2·I` at `x = 0`); `mu = l2` is the exact global strong-convexity
    constant (the logistic curvature vanishes far from the origin). Held-out metrics: `loss`, `accuracy`.

    Args:
        data: A binary classification [`Dataset`][sgdlab.data.Dataset].
        l2: The L2 weight `λ ≥ 0`. Without it, linearly separable data have no finite minimiser, and
            `x_star` raises [`CertificationError`][sgdlab.problems.CertificationError].

    Raises:
        TypeError: `data` is not a `Dataset`.
        ValueError: Labels other than ±1 or 0/1, a single class, or `l2 < 0`.

    Examples:
        >>> import sgdlab as sl
        >>> data = sl.data.make_classification(n=1000, dim=20, cond=100.0, seed=0)
        >>> prob = sl.problems.LogisticRegression(data, l2=1e-3)
        >>> prob.mu, round(prob.L / prob.L_max, 3) < 1
        (0.001, True)
        >>> train, test = data.split(seed=0)
        >>> sorted(sl.problems.LogisticRegression(train, l2=1e-3).evaluate(prob.x_star, test))
        ['accuracy', 'loss']
    """

    curvature = 0.25
    task = "classification"

    def _encode_targets(self, y):
        return binary_labels(y)

    def _encode_rows(self, y):
        return np.where(y > 0, 1.0, -1.0)

    def _phi(self, z, y):
        return np.logaddexp(0.0, -y * z)

    def _dphi(self, z, y):
        return -y * expit(-y * z)

    def _d2phi_apply(self, z, y, u):
        return expit(z) * expit(-z) * u

    def check_optimum(self, x: np.ndarray) -> None:
        _reject_separating_point(self, self.evaluate(x, self.data)["accuracy"])

    def evaluate(self, x, data: Dataset) -> dict[str, float]:
        y = binary_labels(data.y)
        z = data.A @ x
        return {
            "loss": float(np.mean(self._phi(z, y))),
            "accuracy": float(np.mean(np.where(z >= 0, 1, -1) == y)),
        }


def _reject_separating_point(problem: LinearModelProblem, train_accuracy: float) -> None:
    """Without L2, a point that classifies every sample correctly is never a minimiser: scaling it up lowers
    the loss. Its gradient can still be tiny (it decays exponentially), so reject it explicitly."""
    if problem.reg_curvature_is_zero() and train_accuracy == 1.0:
        raise CertificationError(
            f"{problem.name}: the data are linearly separable, so the loss has no finite minimiser; add l2 > 0"
        )


def class_labels(y: np.ndarray, n_classes: int | None = None) -> tuple[np.ndarray, int]:
    """Check integer class labels 0..K−1 and return them with K."""
    if not np.all(np.asarray(y) == np.round(y)) or np.min(y) < 0:
        raise ValueError("class labels must be integers 0..K-1")
    y = np.asarray(y, dtype=np.int64)
    k = int(y.max()) + 1 if n_classes is None else _checks.positive_int("n_classes", n_classes)
    if k < 2:
        raise ValueError(f"softmax regression needs at least 2 classes, got {k}")
    if y.max() >= k:
        raise ValueError(f"label {int(y.max())} is out of range for n_classes={k}")
    return y, k


class SoftmaxRegression(LinearModelProblem):
    """Multinomial logistic regression: `ℓ_i(X) = log Σ_k exp(a_iᵀX_k) − a_iᵀX_{y_i}`, plus L2.

    `x` is the `dim_features × K` weight matrix flattened row-major (`dim = dim_features·K`); labels are
    integers 0..K−1. Constants: `L = λ_max(AᵀA/n)/2 + l2` and `L_max = max_i ‖a_i‖²/2 + l2` are upper
    bounds (Böhning, 1992: the softmax Hessian is below `½(I − 11ᵀ/K)`); `mu = l2` is exact.

    Args:
        data: A classification [`Dataset`][sgdlab.data.Dataset] with labels 0..K−1.
        l2: The L2 weight `λ ≥ 0`.
        n_classes: `K` (default: the largest label + 1).

    Raises:
        TypeError: `data` is not a `Dataset`.
        ValueError: Labels that are not integers 0..K−1, fewer than 2 classes, or `l2 < 0`.

    Examples:
        >>> import sgdlab as sl
        >>> data = sl.data.make_classification(n=300, dim=4, n_classes=3, seed=0)
        >>> prob = sl.problems.SoftmaxRegression(data, l2=1e-2)
        >>> prob.dim, sorted(prob.evaluate(prob.x_star, data))
        (12, ['accuracy', 'loss', 'loss_frequent', 'loss_rare'])
    """

    curvature = 0.5
    task = "classification"

    def __init__(self, data: Dataset, l2: float = 0.0, n_classes: int | None = None) -> None:
        if not isinstance(data, Dataset):
            raise TypeError(f"data must be an sgdlab.data.Dataset, got {type(data).__name__}")
        _, self.n_outputs = class_labels(data.label_values() if data.is_out_of_core else data.y, n_classes)
        super().__init__(data, l2)

    def _encode_targets(self, y):
        return class_labels(y, self.n_outputs)[0]

    def _encode_rows(self, y):
        return np.asarray(y, dtype=np.int64)

    def _phi(self, z, y):
        return logsumexp(z, axis=1) - z[np.arange(len(y)), y]

    def _dphi(self, z, y):
        p = softmax(z, axis=1)
        p[np.arange(len(y)), y] -= 1.0
        return p

    def _d2phi_apply(self, z, y, u):
        p = softmax(z, axis=1)
        pu = p * u
        return pu - p * pu.sum(axis=1, keepdims=True)

    def params(self) -> dict[str, Any]:
        """`{"l2": l2, "n_classes": K}`."""
        return {"l2": self.l2, "n_classes": self.n_outputs}

    def check_optimum(self, x: np.ndarray) -> None:
        _reject_separating_point(self, self.evaluate(x, self.data)["accuracy"])

    def evaluate(self, x, data: Dataset) -> dict[str, float]:
        """Mean cross-entropy and accuracy on `data`, and the mean cross-entropy over the samples of the
        frequent and of the rare classes (`loss_frequent`, `loss_rare`; NaN where `data` has none).

        The split is by frequency in the training data (what the optimiser sees): the ⌈K/2⌉ most frequent
        classes are frequent, the others rare, ties going to the lower class index. Under heavy-tailed class
        imbalance, gradient descent is slow on the rare classes and Adam is not (Kunstner, Milligan, Yadav,
        Schmidt & Bietti, 2024, "Heavy-tailed class imbalance and why Adam outperforms gradient descent on
        language models").
        """
        y, _ = class_labels(data.y, self.n_outputs)
        z = self._scores(data.A, x)
        losses = -log_softmax(z, axis=1)[np.arange(len(y)), y]
        frequent = self._frequent_classes()[y]
        return {
            "loss": float(np.mean(losses)),
            "accuracy": float(np.mean(np.argmax(z, axis=1) == y)),
            "loss_frequent": float(np.mean(losses[frequent])) if frequent.any() else float("nan"),
            "loss_rare": float(np.mean(losses[~frequent])) if not frequent.all() else float("nan"),
        }

    def _frequent_classes(self) -> np.ndarray:
        """A mask over the classes: True for the ⌈K/2⌉ most frequent in the training data (computed once)."""
        if getattr(self, "_frequent", None) is None:
            counts = np.bincount(np.asarray(self.data.y, dtype=np.int64), minlength=self.n_outputs)
            order = np.argsort(-counts, kind="stable")
            self._frequent = np.zeros(self.n_outputs, dtype=bool)
            self._frequent[order[: (self.n_outputs + 1) // 2]] = True
        return self._frequent
