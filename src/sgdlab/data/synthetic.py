"""Synthetic data with a chosen condition number, noise level and sparsity.

Dense designs are built as ``A = √n · U diag(s) Vᵀ`` with orthonormal ``U``, ``V`` and singular values
``s`` spaced geometrically, so the empirical Hessian of least squares, ``AᵀA/n = V diag(s²) Vᵀ``, has
exactly the requested condition number ``cond = s_max² / s_min²`` (over its nonzero spectrum when n < dim).
Sparse designs keep a random sparsity pattern and scale their columns geometrically; their condition
number is then close to, not exactly, ``cond``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sgdlab import _checks
from sgdlab.data.dataset import Dataset


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))  # Haar-distributed, independent of the QR sign convention


def _design(n: int, dim: int, cond: float, density: float, rng: np.random.Generator):
    rank = min(n, dim)
    scales = np.geomspace(1.0, 1.0 / np.sqrt(cond), rank)  # singular values of A/√n
    if density >= 1.0:
        U = _orthonormal(rng, n, rank)
        V = _orthonormal(rng, dim, rank)
        return np.sqrt(n) * (U * scales) @ V.T
    A = sp.random_array((n, dim), density=density, format="csr", rng=rng, data_sampler=rng.standard_normal)
    A = sp.csr_matrix(A)
    column_scale = np.geomspace(1.0, 1.0 / np.sqrt(cond), dim)[rng.permutation(dim)]
    A = (A @ sp.diags(column_scale / np.sqrt(density))).tocsr()
    A.sort_indices()
    return A


def _check_common(n, dim, cond, noise, density):
    n = _checks.positive_int("n", n)
    dim = _checks.positive_int("dim", dim)
    cond = _checks.positive("cond", cond)
    if cond < 1.0:
        raise ValueError(f"cond must be >= 1, got {cond}")
    noise = _checks.nonnegative("noise", noise)
    density = _checks.positive("density", density)
    if density > 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return n, dim, cond, noise, density


def make_regression(
    n: int = 1000,
    dim: int = 20,
    cond: float = 10.0,
    noise: float = 0.1,
    density: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Linear-regression data ``y = A x_true + noise·ε`` with ``ε ~ N(0, I)``.

    ``cond`` is the condition number of ``AᵀA/n`` (exact for dense data), ``density`` the fraction of
    nonzero entries (``< 1`` gives a CSR matrix), ``noise`` the standard deviation of the target noise.
    """
    n, dim, cond, noise, density = _check_common(n, dim, cond, noise, density)
    rng = np.random.default_rng(seed)
    A = _design(n, dim, cond, density, rng)
    x_true = rng.standard_normal(dim)
    y = A @ x_true + noise * rng.standard_normal(n)
    return Dataset(A, y, name=f"regression(n={n}, dim={dim}, cond={cond:g})")


def make_classification(
    n: int = 1000,
    dim: int = 20,
    cond: float = 10.0,
    noise: float = 1.0,
    density: float = 1.0,
    n_classes: int = 2,
    seed: int = 0,
) -> Dataset:
    """Classification data from a noisy linear model.

    Scores ``z = A W`` for a random ``W``; labels are ``sign(z + noise·ε)`` (±1) for two classes and
    ``argmax(z + noise·G)`` with Gumbel noise ``G`` for more, so that ``noise > 0`` makes the classes overlap
    (and unregularised logistic regression has a finite minimiser). ``cond`` and ``density`` as in
    :func:`make_regression`.
    """
    n, dim, cond, noise, density = _check_common(n, dim, cond, noise, density)
    n_classes = _checks.positive_int("n_classes", n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    rng = np.random.default_rng(seed)
    A = _design(n, dim, cond, density, rng)
    if n_classes == 2:
        scores = A @ rng.standard_normal(dim)
        y = np.where(scores + noise * rng.standard_normal(n) >= 0, 1, -1)
    else:
        scores = A @ rng.standard_normal((dim, n_classes))
        y = np.argmax(scores + noise * rng.gumbel(size=(n, n_classes)), axis=1)
    return Dataset(A, y, name=f"classification(n={n}, dim={dim}, cond={cond:g}, classes={n_classes})")
