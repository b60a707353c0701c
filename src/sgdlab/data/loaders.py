"""Loaders for scikit-learn's bundled datasets and LIBSVM files; nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sgdlab.data.dataset import Dataset
from sgdlab.data.preprocessing import standardize as _standardize

_BUNDLED = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "diabetes": "load_diabetes",
    "iris": "load_iris",
    "wine": "load_wine",
}
BUNDLED_NAMES: tuple[str, ...] = tuple(_BUNDLED)


def load_bundled(name: str, standardize: bool = False) -> Dataset:
    """One of scikit-learn's bundled datasets: ``digits``, ``breast_cancer``, ``diabetes``, ``iris``, ``wine``.

    Two-class labels come as ±1, more classes as 0..K-1, regression targets (diabetes) as floats.
    ``standardize=True`` centres and scales every feature (see :func:`sgdlab.data.standardize`).
    """
    import sklearn.datasets

    if name not in _BUNDLED:
        raise ValueError(f"unknown bundled dataset {name!r}; choose one of {', '.join(BUNDLED_NAMES)}")
    bunch = getattr(sklearn.datasets, _BUNDLED[name])()
    y = bunch.target
    if y.dtype.kind in "iu" and np.unique(y).size == 2:
        y = np.where(y == y.max(), 1, -1)
    data = Dataset(bunch.data.astype(np.float64), y, name=name)
    return _standardize(data) if standardize else data


def load_libsvm(
    path: str | os.PathLike,
    n_features: int | None = None,
    dtype: type = np.float64,
    name: str | None = None,
) -> Dataset:
    """A LIBSVM/svmlight file as a CSR dataset (parsed by scikit-learn's ``load_svmlight_file``)."""
    from sklearn.datasets import load_svmlight_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LIBSVM file not found: {path}")
    try:
        A, y = load_svmlight_file(str(path), n_features=n_features, dtype=dtype)
    except ValueError as exc:
        raise ValueError(f"malformed LIBSVM file {path}: {exc}") from None
    return Dataset(A.tocsr(), y, name=name or path.stem)


def _load_array(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # bad header, object arrays, truncated data
        raise ValueError(f"malformed .npy file {path}: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as a .npy file: {exc}") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path} holds several arrays (an .npz archive?); give one .npy file per array")
    return array


def load_npy(
    A_path: str | os.PathLike,
    y_path: str | os.PathLike,
    name: str | None = None,
    mmap: bool = False,
    block_rows: int | None = None,
) -> Dataset:
    """A dataset from two ``.npy`` files: the design matrix (n × dim) and the targets (n). Pickled
    (object) arrays are refused.

    ``mmap=True`` leaves the data on disk (see :meth:`Dataset.from_npy`): ``A`` must then be float32 or
    float64 in C order, it is validated ``block_rows`` rows at a time, and problems read it in blocks, so
    resident memory does not grow with n. :func:`sgdlab.data.write_npy` writes such files from chunks.
    """
    A_path, y_path = Path(A_path), Path(y_path)
    if mmap:
        return Dataset.from_npy(A_path, y_path, name=name, block_rows=block_rows)
    if block_rows is not None:
        raise ValueError("block_rows applies to memory-mapped data only (mmap=True)")
    return Dataset(_load_array(A_path, "design matrix"), _load_array(y_path, "targets"), name=name or A_path.stem)
