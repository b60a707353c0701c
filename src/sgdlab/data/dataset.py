"""The `Dataset`: a design matrix ``A`` (dense or CSR) and targets ``y``, validated once at construction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

FLOAT_DTYPES = (np.float32, np.float64)


def _check_matrix(A: object) -> np.ndarray | sp.csr_array | sp.csr_matrix:
    if sp.issparse(A):
        if A.format != "csr":
            raise TypeError(
                f"A must be a dense array or a scipy.sparse CSR matrix, got sparse format {A.format!r}; "
                "convert it with A.tocsr()"
            )
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        A = A.copy() if A.dtype.type in FLOAT_DTYPES else A.astype(np.float64)
        A.sum_duplicates()
        values = A.data
    else:
        try:
            A = np.asarray(A)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"A must be a 2-D numeric array: {exc}") from None
        if A.dtype.kind not in "biuf":
            raise TypeError(f"A must hold real numbers, got dtype {A.dtype}")
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D (n samples × dim features), got shape {A.shape}")
        A = np.ascontiguousarray(A, dtype=A.dtype if A.dtype.type in FLOAT_DTYPES else np.float64)
        values = A
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"A is empty (shape {A.shape}): need at least one sample and one feature")
    if not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))[0]
        where = f"at stored entry {bad[0]}" if sp.issparse(A) else f"at row {bad[0]}, column {bad[1]}"
        raise ValueError(f"A contains NaN or Inf ({where})")
    return A


def _check_targets(y: object, n: int) -> np.ndarray:
    try:
        y = np.asarray(y)
    except Exception as exc:
        raise TypeError(f"y must be a 1-D numeric array: {exc}") from None
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numbers, got dtype {y.dtype}")
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"shape mismatch: A has {n} rows but y has {y.shape[0]} entries")
    y = y.astype(np.float64) if y.dtype.kind == "f" else y.astype(np.int64)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"y contains NaN or Inf (at index {int(np.argmax(~np.isfinite(y)))})")
    return y


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples ``a_i`` (rows of ``A``) with targets ``y_i``, i = 1..n.

    ``A`` is a dense NumPy array or a ``scipy.sparse`` CSR matrix of float32/float64 (integers are
    converted to float64); ``y`` is 1-D: real targets for regression, class labels for classification.
    Construction validates the data and raises ``ValueError`` for NaN/Inf, empty data or mismatched sizes,
    and ``TypeError`` for a wrong kind of object.
    """

    A: np.ndarray | sp.csr_matrix
    y: np.ndarray
    name: str = "data"
    _fingerprint: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        A = _check_matrix(self.A)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", _check_targets(self.y, A.shape[0]))

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def dim(self) -> int:
        return self.A.shape[1]

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.A)

    @property
    def dtype(self) -> np.dtype:
        return self.A.dtype

    def fingerprint(self) -> str:
        """SHA-256 of the data's bytes: the key under which derived results (optima) are cached."""
        if not self._fingerprint:
            h = hashlib.sha256()
            h.update(f"{type(self.A).__name__}{self.A.shape}{self.A.dtype}".encode())
            parts = (self.A.data, self.A.indices, self.A.indptr) if self.is_sparse else (self.A,)
            for part in (*parts, self.y):
                h.update(np.ascontiguousarray(part).tobytes())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]

    def subset(self, idx: np.ndarray, name: str | None = None) -> Dataset:
        """The samples at ``idx``, as a new dataset."""
        return Dataset(self.A[idx], self.y[idx], name=name or self.name)

    def split(self, test_size: float = 0.25, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Random train/test split (``test_size`` is a fraction in (0, 1))."""
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {test_size}")
        n_test = round(test_size * self.n)
        if not 1 <= n_test < self.n:
            raise ValueError(f"test_size={test_size} leaves an empty train or test part for n={self.n}")
        perm = np.random.default_rng(seed).permutation(self.n)
        return (
            self.subset(np.sort(perm[n_test:]), f"{self.name}[train]"),
            self.subset(np.sort(perm[:n_test]), f"{self.name}[test]"),
        )

    def astype(self, dtype: type | np.dtype) -> Dataset:
        """The same data with ``A`` in another floating dtype (float32 or float64)."""
        if np.dtype(dtype).type not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        return Dataset(self.A.astype(dtype), self.y, name=self.name)

    def with_intercept(self) -> Dataset:
        """Append a constant-one column, so linear models fit an intercept."""
        ones = np.ones((self.n, 1), dtype=self.A.dtype)
        A = sp.hstack([self.A, ones], format="csr") if self.is_sparse else np.hstack([self.A, ones])
        return Dataset(A, self.y, name=self.name)

    def __repr__(self) -> str:
        kind = f"CSR, density {self.A.nnz / (self.n * self.dim):.3g}" if self.is_sparse else "dense"
        return f"Dataset({self.name!r}, n={self.n}, dim={self.dim}, {kind}, {self.A.dtype})"
