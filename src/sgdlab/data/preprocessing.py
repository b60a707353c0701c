"""Feature scaling."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sgdlab.data.dataset import Dataset


def standardize(data: Dataset, with_mean: bool | None = None) -> Dataset:
    """Scale each feature to unit variance and, for dense data, centre it to zero mean.

    Centring a sparse matrix would make it dense, so ``with_mean`` defaults to ``True`` for dense data and
    ``False`` for sparse data; asking for it on sparse data is an error. Constant features are left unscaled.
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
