"""Spectral facts of a design matrix, exact where the matrix is small enough to decompose.

Squares of entries beyond about 1e±154 leave float64's range, so designs whose entries are that large or small are
scaled by a power of two first (exact) and the results scaled back; a constant that does not fit float64 even then
is refused by `check_design_scale` with one message about the data's scale.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

#: Below this size the Gram matrix is formed and decomposed exactly; above it λ_max comes from Lanczos.
EXACT_GRAM_LIMIT = 3000


def _values(A) -> np.ndarray:
    return A.data if sp.issparse(A) else np.asarray(A)


def max_abs(A) -> float:
    """The largest `|a_ij|` (0 for an all-zero or empty matrix)."""
    values = _values(A)
    return float(np.max(np.abs(values))) if values.size else 0.0


def _exponent(A) -> int:
    """`e` such that `A·2^-e` has entries of magnitude about 1, or 0 when `A`'s squares (summed over a
    dimension) stay well inside its float type's range and no scaling is needed."""
    top = max_abs(A)
    if top == 0.0:
        return 0
    e = math.frexp(top)[1]
    info = np.finfo(_values(A).dtype if _values(A).dtype.kind == "f" else np.float64)
    safe = info.maxexp // 2 - 40  # 2^(2·safe) times any realistic n or dim still fits
    return e if abs(e) > safe else 0


def _scaled(A, e: int):
    """`A·2^-e`, exactly (a power of two)."""
    if e == 0:
        return A
    if sp.issparse(A):
        out = A.copy()
        out.data = np.ldexp(out.data, -e)
        return out
    return np.ldexp(A, -e)


def gram_spectrum(A) -> tuple[float, float, float]:
    """`(λ_max, λ_min, λ_min⁺)` of `AᵀA/n`: largest, smallest, and smallest nonzero eigenvalue.

    For matrices with `min(n, dim) > EXACT_GRAM_LIMIT` only `λ_max` is computed (Lanczos, to 1e-8
    relative) and the two smallest are reported as `0.0` — a valid lower bound, and documented as such
    by the problems that use it. Eigenvalues below float64's range come back as 0 (or subnormal).
    """
    n, dim = A.shape
    small = min(n, dim)
    e = _exponent(A) if isinstance(A, np.ndarray) or sp.issparse(A) else 0  # operators are not scaled
    B = _scaled(A, e)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if small <= EXACT_GRAM_LIMIT:
            gram = (B.T @ B) if dim <= n else (B @ B.T)  # same nonzero spectrum
            gram = np.asarray(gram.toarray() if sp.issparse(gram) else gram, dtype=np.float64)
            if not np.isfinite(gram).all():
                raise_scale_error(max_abs(A) if e == 0 else math.inf, "AᵀA")
            eig = np.linalg.eigvalsh(gram) / n
            lam_max = float(eig[-1])
            positive = eig[eig > 1e-12 * max(lam_max, 1e-300)]
            lam_min = float(max(eig[0], 0.0)) if dim <= n else 0.0
            lam_min_pos = float(positive[0]) if positive.size else 0.0
            result = lam_max, (lam_min if lam_min > 1e-12 * lam_max else 0.0), lam_min_pos
        else:
            op = spla.LinearOperator((dim, dim), matvec=lambda v: B.T @ (B @ v) / n, dtype=np.float64)
            result = float(spla.eigsh(op, k=1, which="LA", tol=1e-8, return_eigenvectors=False)[0]), 0.0, 0.0
        return tuple(float(np.ldexp(value, 2 * e)) for value in result)


def row_norms2(A) -> np.ndarray:
    """Squared Euclidean norm of each row, in float64 (`inf` where it overflows, 0 where it underflows)."""
    e = _exponent(A)
    B = _scaled(A, e)
    with np.errstate(over="ignore", under="ignore"):
        if sp.issparse(B):
            B = B.astype(np.float64)
            norms = np.asarray(B.multiply(B).sum(axis=1), dtype=np.float64).ravel()
        else:
            norms = np.einsum("ij,ij->i", B, B, dtype=np.float64)
        return np.ldexp(norms, 2 * e)


def check_design_scale(norms2_max: float, top: float) -> None:
    """Refuse a design whose largest squared row norm `‖a_i‖²` is not a normal float64: the smoothness constants
    (and default step sizes) would overflow or underflow. `top` is `max |a_ij|`, for the message."""
    if not math.isfinite(norms2_max) or (top > 0.0 and norms2_max < np.finfo(np.float64).tiny):
        raise_scale_error(top, "‖a_i‖²")


def raise_scale_error(top: float, what: str) -> None:
    size, verb = ("large", "overflows") if not 0.0 < top < 1.0 else ("small", "underflows")
    shown = f" (max |a_ij| = {top:.3g})" if math.isfinite(top) else ""
    raise ValueError(
        f"the design's entries are too {size}{shown}: {what} {verb} float64, so the problem's smoothness constants "
        "cannot be computed; rescale the data (sl.data.standardize)"
    )
