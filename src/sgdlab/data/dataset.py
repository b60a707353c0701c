"""The `Dataset`: a design matrix `A` (dense or CSR) and targets `y`, validated once at construction."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sgdlab import _checks
from sgdlab.data.out_of_core import OutOfCoreStorage, default_block_rows, target_values

FLOAT_DTYPES = (np.float32, np.float64)


def _kind_error(name: str, dtype: np.dtype, what: str) -> TypeError:
    why = " (complex values are not supported)" if dtype.kind == "c" else ""
    return TypeError(f"{name} must hold {what}, got dtype {dtype}{why}")


def _check_csr_structure(A: sp.csr_array | sp.csr_matrix) -> None:
    """The CSR invariants that the compiled kernels rely on, checked in O(nnz) before anything reads `A`
    (scipy accepts column indices beyond the shape or a decreasing `indptr`; the kernels would then read
    out of bounds)."""
    n, dim = A.shape
    indptr, indices, data = A.indptr, A.indices, A.data
    for part, array in (("indptr", indptr), ("indices", indices)):
        if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(f"A is not a valid CSR matrix: A.{part} must be a 1-D integer array")
    if not isinstance(data, np.ndarray) or data.ndim != 1:
        raise ValueError("A is not a valid CSR matrix: A.data must be a 1-D array")
    if indices.size != data.size:
        raise ValueError(f"A is not a valid CSR matrix: {indices.size} column indices for {data.size} values")
    if indptr.size != n + 1:
        raise ValueError(f"A is not a valid CSR matrix: A.indptr has {indptr.size} entries, needs n + 1 = {n + 1}")
    if indptr[0] != 0 or indptr[-1] != data.size:
        raise ValueError(
            f"A is not a valid CSR matrix: A.indptr must run from 0 to nnz = {data.size}, got {indptr[0]}..{indptr[-1]}"
        )
    drops = np.flatnonzero(np.diff(indptr) < 0)
    if drops.size:
        raise ValueError(f"A is not a valid CSR matrix: A.indptr decreases at row {drops[0]}")
    if indices.size and (indices.min() < 0 or indices.max() >= dim):
        bad = int(np.flatnonzero((indices < 0) | (indices >= dim))[0])
        row = int(np.searchsorted(indptr, bad, side="right") - 1)
        raise ValueError(
            f"A is not a valid CSR matrix: column index {indices[bad]} (row {row}) is outside 0..{dim - 1}"
        )


def _check_matrix(A: object) -> np.ndarray | sp.csr_array | sp.csr_matrix:
    if sp.issparse(A):
        if A.format != "csr":
            raise TypeError(
                f"A must be a dense array or a scipy.sparse CSR matrix, got sparse format {A.format!r}; "
                "convert it with A.tocsr()"
            )
        if A.ndim != 2:
            raise ValueError(f"A must be 2-D, got shape {A.shape}")
        _check_csr_structure(A)
        if A.dtype.kind not in "biuf":
            raise _kind_error("A", A.dtype, "real numbers")
        A = A.copy() if A.dtype.type in FLOAT_DTYPES else A.astype(np.float64)
        A.sum_duplicates()  # on the copy: sorted column indices, duplicates summed
        values = A.data
    else:
        A = _checks.unmasked("A", A)
        try:
            A = np.asarray(A)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"A must be a 2-D numeric array: {exc}") from None
        if A.dtype.kind not in "biuf":
            raise _kind_error("A", A.dtype, "real numbers")
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
    y = _checks.unmasked("y", y)
    try:
        y = np.asarray(y)
    except Exception as exc:
        raise TypeError(f"y must be a 1-D numeric array: {exc}") from None
    if y.dtype.kind not in "biuf":
        raise _kind_error("y", y.dtype, "numbers")
    if y.ndim == 2 and 1 in y.shape:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"shape mismatch: A has {n} rows but y has {y.shape[0]} entries")
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        raise ValueError(f"y holds unsigned integers up to {y.max()}, beyond int64: labels must be below 2**63")
    y = y.astype(np.float64) if y.dtype.kind == "f" else y.astype(np.int64)
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"y contains NaN or Inf (at index {int(np.argmax(~np.isfinite(y)))})")
    return y


@dataclass(frozen=True, eq=False)
class Dataset:
    """Samples `a_i` (rows of `A`) with targets `y_i`, i = 1..n.

    Construction validates the data. A CSR matrix is copied; in the copy, column indices are sorted and
    duplicate entries summed (`sum_duplicates`), so duplicates mean their sum. A masked array is accepted
    only when nothing is masked.

    [`from_npy`][sgdlab.data.Dataset.from_npy] opens a dataset that stays on disk (*out of core*): `A` and
    `y` are then read-only `np.memmap` arrays (`y` in its on-disk dtype), and the problems read the files in
    row blocks ([`blocks`][sgdlab.data.Dataset.blocks], [`rows`][sgdlab.data.Dataset.rows]) so that
    resident memory does not grow with n.

    Args:
        A: The design, n × dim: a dense NumPy array or a `scipy.sparse` CSR matrix of float32/float64
            (integers and booleans are converted to float64).
        y: The targets, 1-D of length n: real numbers for regression, class labels for classification
            (integer labels are stored as int64, booleans as 0/1).
        name: A name for tables and plots.

    Raises:
        ValueError: NaN/Inf, empty data, mismatched sizes, masked entries, unsigned labels beyond int64, or a
            CSR matrix with an inconsistent structure (column indices outside `0..dim−1`, an `indptr` that is
            not `n + 1` non-decreasing offsets from 0 to nnz).
        TypeError: A wrong kind of object, or values that are not real numbers (complex, objects, strings,
            dates).

    Examples:
        >>> import numpy as np
        >>> from sgdlab.data import Dataset
        >>> data = Dataset(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([1, -1, 1]), name="toy")
        >>> data
        Dataset('toy', n=3, dim=2, dense, float64)
        >>> train, test = data.split(test_size=1 / 3, seed=0)
        >>> train.n, test.n
        (2, 1)
        >>> Dataset(np.array([[np.nan]]), np.array([1.0]))
        Traceback (most recent call last):
        ...
        ValueError: A contains NaN or Inf (at row 0, column 0)
    """

    A: np.ndarray | sp.csr_matrix
    y: np.ndarray
    name: str = "data"
    _fingerprint: list = field(default_factory=list, repr=False, compare=False)
    _storage: OutOfCoreStorage | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._storage is not None:  # checked block by block by from_npy, never loaded whole
            return
        A = _check_matrix(self.A)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", _check_targets(self.y, A.shape[0]))

    @property
    def n(self) -> int:
        """The number of samples (rows of `A`)."""
        return self.A.shape[0]

    @property
    def dim(self) -> int:
        """The number of features (columns of `A`)."""
        return self.A.shape[1]

    @property
    def is_sparse(self) -> bool:
        """`True` when `A` is a CSR matrix."""
        return sp.issparse(self.A)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of `A` (float32 or float64)."""
        return self.A.dtype

    # --- out-of-core data -------------------------------------------------------------------------
    @classmethod
    def from_npy(
        cls,
        A_path: str | os.PathLike,
        y_path: str | os.PathLike,
        name: str | None = None,
        block_rows: int | None = None,
    ) -> Dataset:
        """A dataset that stays on disk: `A` and `y` from two `.npy` files, opened as read-only `np.memmap`.

        The files are validated in one pass of `block_rows` rows at a time. Problems read such data in
        blocks: full passes (loss, gradient, constants) stream the file, and minibatches read only their
        rows, so resident memory stays near one block whatever n is. Operations that build new data
        (`subset`, `split`, `astype`, `with_intercept`, `standardize`) return in-memory datasets.

        Args:
            A_path: The design, n × dim, float32 or float64, C order.
            y_path: The targets, n.
            name: The dataset's name (default: the design file's stem).
            block_rows: Rows per block (default: about 8 MiB of `A`).

        Returns:
            The out-of-core [`Dataset`][sgdlab.data.Dataset].

        Raises:
            ValueError: A malformed or truncated file, a wrong shape or dtype, mismatched n, NaN/Inf.
            FileNotFoundError: A file does not exist.

        Examples:
            >>> import tempfile
            >>> from pathlib import Path
            >>> import numpy as np
            >>> from sgdlab.data import Dataset
            >>> folder = Path(tempfile.mkdtemp())
            >>> np.save(folder / "A.npy", np.ones((1000, 4))); np.save(folder / "y.npy", np.zeros(1000))
            >>> data = Dataset.from_npy(folder / "A.npy", folder / "y.npy", block_rows=256)
            >>> data.is_out_of_core, data.block_rows, [first for first, A, y in data.blocks()]
            (True, 256, [0, 256, 512, 768])
        """
        storage = OutOfCoreStorage(A_path, y_path, block_rows)
        storage.validate()
        return cls._open(storage, name or storage.A.path.stem)

    @classmethod
    def _open(cls, storage: OutOfCoreStorage, name: str) -> Dataset:
        storage.A.check_unchanged()  # reopened after pickling: the files must be the ones that were checked
        storage.y.check_unchanged()
        return cls(storage.A.memmap(), storage.y.memmap(), name=name, _storage=storage)

    def __reduce_ex__(self, protocol):
        if self._storage is None:
            return super().__reduce_ex__(protocol)
        return type(self)._open, (self._storage, self.name)  # the files, not their contents

    @property
    def is_out_of_core(self) -> bool:
        """`True` for a dataset opened by [`from_npy`][sgdlab.data.Dataset.from_npy] (its rows are read from
        disk as needed)."""
        return self._storage is not None

    @property
    def block_rows(self) -> int:
        """Rows per block in [`blocks`][sgdlab.data.Dataset.blocks] (for in-memory data: all of them)."""
        return self._storage.block_rows if self._storage is not None else self.n

    @property
    def sampler_block_rows(self) -> int:
        """Rows per block of the `"blocks"` sampler: `block_rows` out of core; in memory, the block size
        [`from_npy`][sgdlab.data.Dataset.from_npy] would choose for rows of this dim and dtype, so that the
        same data give the same index stream in memory and on disk."""
        if self._storage is not None:
            return self._storage.block_rows
        return default_block_rows(self.dim * self.A.dtype.itemsize)

    def blocks(self, block_rows: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Consecutive row blocks, in order.

        Out of core, each block is read into one reusable buffer that the next block overwrites (copy it to
        keep it); in memory, blocks are views of `A` and `y`.

        Args:
            block_rows: Rows per block (default: [`block_rows`][sgdlab.data.Dataset.block_rows]).

        Yields:
            `(first_row, A_rows, y_rows)`, with `y` as float64 or int64.
        """
        if self._storage is not None:
            yield from self._storage.blocks(block_rows)
            return
        size = block_rows or self.n
        for first in range(0, self.n, size):
            yield first, self.A[first : first + size], self.y[first : first + size]

    def rows(self, idx: np.ndarray) -> np.ndarray | sp.csr_matrix:
        """The rows of `A` at the integer indices `idx`, in that order (read from disk when out of core).

        Args:
            idx: A 1-D array of row indices in `0..n−1`.

        Returns:
            A dense array or a CSR matrix, as `A`.

        Raises:
            ValueError: `idx` is not a 1-D integer array, or an index is out of range.
        """
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"idx must be a 1-D array of integer row indices, got {idx!r}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise ValueError(f"row indices must lie in 0..{self.n - 1}; got {idx.min()}..{idx.max()}")
        return self._rows(idx)

    def targets(self, idx: np.ndarray | slice) -> np.ndarray:
        """`y` at `idx` (indices or a slice), as float64 or int64 (read from disk when out of core)."""
        if self._storage is None:
            return self.y[idx]
        if isinstance(idx, slice):
            start, stop, step = idx.indices(self.n)
            if step != 1:
                return self.targets(np.arange(start, stop, step))
            return target_values(self._storage.y.read(start, max(start, stop)))
        idx = np.asarray(idx)
        return target_values(self._storage.y.gather(idx) if idx.size else self._storage.y.read(0, 0))

    def _rows(self, idx: np.ndarray) -> np.ndarray | sp.csr_matrix:
        """[`rows`][sgdlab.data.Dataset.rows] without checking `idx` (the problems check indices once, in
        `grad_batch`)."""
        if self._storage is None:
            return self.A[idx]
        return self._storage.A.gather(idx) if idx.size else self._storage.A.read(0, 0)

    def label_values(self) -> np.ndarray:
        """The distinct values of `y`, sorted.

        Raises:
            ValueError: Out of core, when the validating pass saw more than 65,536 distinct values (real
                targets rather than labels).
        """
        if self._storage is None:
            return np.unique(self.y)
        if self._storage.labels is None:
            raise ValueError(
                f"y has more than {OutOfCoreStorage.MAX_LABELS} distinct values: real targets, not class labels"
            )
        return self._storage.labels

    def fingerprint(self) -> str:
        """SHA-256 of the data's bytes: the key under which derived results (optima) are cached.

        Out-of-core data are hashed block by block and get the fingerprint of the same data held in memory.
        """
        if not self._fingerprint:
            h = hashlib.sha256()
            kind = "ndarray" if self._storage is not None else type(self.A).__name__
            h.update(f"{kind}{self.A.shape}{self.A.dtype}".encode())
            if self._storage is not None:
                for _, A, _ in self.blocks():
                    h.update(A.data)
                for _, _, y in self.blocks():
                    h.update(np.ascontiguousarray(y).data)
            else:
                parts = (self.A.data, self.A.indices, self.A.indptr) if self.is_sparse else (self.A,)
                for part in (*parts, self.y):
                    h.update(np.ascontiguousarray(part).tobytes())
            self._fingerprint.append(h.hexdigest())
        return self._fingerprint[0]

    def subset(self, idx: np.ndarray, name: str | None = None) -> Dataset:
        """The samples at `idx` (indices, a mask or a slice), as a new in-memory dataset named `name` (default:
        this one's name)."""
        if self._storage is not None:
            idx = np.arange(self.n)[idx]  # masks and slices as for arrays
            return Dataset(self.rows(idx), self.targets(idx), name=name or self.name)
        return Dataset(self.A[idx], self.y[idx], name=name or self.name)

    def split(self, test_size: float = 0.25, seed: int = 0) -> tuple[Dataset, Dataset]:
        """A random train/test split.

        Args:
            test_size: The test part's fraction of the samples, in (0, 1).
            seed: The permutation's seed.

        Returns:
            `(train, test)`, in-memory datasets named `name[train]` and `name[test]`, rows in their original
            order.

        Raises:
            ValueError: `test_size` is outside (0, 1) or leaves an empty part, or `seed` is negative.
            TypeError: `test_size` is not a real number, or `seed` not an integer.
        """
        test_size = _checks.open_unit_interval("test_size", test_size)
        seed = _checks.seed("seed", seed)
        n_test = round(test_size * self.n)
        if not 1 <= n_test < self.n:
            raise ValueError(f"test_size={test_size} leaves an empty train or test part for n={self.n}")
        perm = np.random.default_rng(seed).permutation(self.n)
        return (
            self.subset(np.sort(perm[n_test:]), f"{self.name}[train]"),
            self.subset(np.sort(perm[:n_test]), f"{self.name}[test]"),
        )

    def astype(self, dtype: type | np.dtype) -> Dataset:
        """The same data with `A` in another floating dtype (float32 or float64); `ValueError` for others."""
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
        if self._storage is not None:
            kind = f"memory-mapped from {self._storage.A.path}"
        return f"Dataset({self.name!r}, n={self.n}, dim={self.dim}, {kind}, {self.A.dtype})"
