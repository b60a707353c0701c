"""Feature scaling."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sgdlab.data.dataset import Dataset


def standardize(data: Dataset, with_mean: bool | None = None) -> Dataset:
    """Scale each feature to unit variance and, for dense data, centre it to zero mean.

    Constant features are left unscaled.

    Args:
        data: The dataset.
        with_mean: Centre the features. By default `True` for dense data and `False` for sparse data
            (centring a sparse matrix would make it dense).

    Returns:
        A new [`Dataset`][sgdlab.data.Dataset] of the same dtype, sparsity and name.

    Raises:
        ValueError: `with_mean=True` on sparse data.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.data import Dataset, standardize
        >>> data = standardize(Dataset(np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]]), np.ones(3)))
        >>> data.A.mean(axis=0).round(12).tolist(), data.A.std(axis=0).round(12).tolist()
        ([0.0, 0.0], [1.0, 0.0])
    """
    if with_mean is None:
        with_mean = not data.is_sparse
    if with_mean and data.is_sparse:
        raise ValueError("cannot centre sparse data without densifying it; use with_mean=False")
    A = data.A
    if data.is_sparse:
        mean = np.asarray(A.mean(axis=0)).ravel()
        var = np.asarray(A.multiply(A).mean(axis=0)).ravel() - mean**2
    else:
        mean = A.mean(axis=0)
        var = A.var(axis=0)
    std = np.sqrt(np.maximum(var, 0.0))
    std[std <= 1e-12 * max(1.0, float(std.max(initial=0.0)))] = 1.0
    if data.is_sparse:
        A = (A @ sp.diags((1.0 / std).astype(A.dtype))).tocsr()
    else:
        A = ((A - mean) if with_mean else A) / std
    return Dataset(A.astype(data.dtype), data.y, name=data.name)
