"""Spectral facts of a design matrix, exact where the matrix is small enough to decompose."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

#: Below this size the Gram matrix is formed and decomposed exactly; above it λ_max comes from Lanczos.
EXACT_GRAM_LIMIT = 3000


def gram_spectrum(A) -> tuple[float, float, float]:
    """``(λ_max, λ_min, λ_min⁺)`` of ``AᵀA/n``: largest, smallest, and smallest nonzero eigenvalue.

    For matrices with ``min(n, dim) > EXACT_GRAM_LIMIT`` only ``λ_max`` is computed (Lanczos, to 1e-8
    relative) and the two smallest are reported as ``0.0`` — a valid lower bound, and documented as such
    by the problems that use it.
    """
    n, dim = A.shape
    small = min(n, dim)
    if small <= EXACT_GRAM_LIMIT:
        gram = (A.T @ A) if dim <= n else (A @ A.T)  # same nonzero spectrum
        gram = gram.toarray() if sp.issparse(gram) else gram
        eig = np.linalg.eigvalsh(np.asarray(gram, dtype=np.float64)) / n
        lam_max = float(eig[-1])
        positive = eig[eig > 1e-12 * max(lam_max, 1e-300)]
        lam_min = float(max(eig[0], 0.0)) if dim <= n else 0.0
        lam_min_pos = float(positive[0]) if positive.size else 0.0
        return lam_max, (lam_min if lam_min > 1e-12 * lam_max else 0.0), lam_min_pos
    op = spla.LinearOperator((dim, dim), matvec=lambda v: A.T @ (A @ v) / n, dtype=np.float64)
    lam_max = float(spla.eigsh(op, k=1, which="LA", tol=1e-8, return_eigenvectors=False)[0])
    return lam_max, 0.0, 0.0


def row_norms2(A) -> np.ndarray:
    """Squared Euclidean norm of each row."""
    if sp.issparse(A):
        return np.asarray(A.multiply(A).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", A, A, dtype=np.float64)
