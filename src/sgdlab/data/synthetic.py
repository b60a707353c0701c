"""Synthetic data with a chosen condition number, noise level and sparsity.

Dense designs are built as `A = √n · U diag(s) Vᵀ` with orthonormal `U`, `V` and singular values `s`
spaced geometrically, so the empirical Hessian of least squares, `AᵀA/n = V diag(s²) Vᵀ`, has exactly the
requested condition number `cond = s_max² / s_min²` (over its nonzero spectrum when n < dim). Sparse designs
keep a random sparsity pattern and scale their columns geometrically; their condition number is then close
to, not exactly, `cond`.

Classification data can have heavy-tailed class frequencies (`imbalance`, a Zipf exponent), the setting of
Kunstner, Milligan, Yadav, Schmidt & Bietti (2024), "Heavy-tailed class imbalance and why Adam outperforms
gradient descent on language models".
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sgdlab import _checks
from sgdlab.data.dataset import Dataset

#: Condition numbers beyond 1/ε of float64 (≈ 4.5e15) make `AᵀA` numerically singular: refused above this.
MAX_COND = 1e15
#: Larger target noise makes the least-squares loss (squares of the targets) overflow float64.
MAX_NOISE = 1e100


def _orthonormal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))  # Haar-distributed, independent of the QR sign convention


def _with_constant(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Orthonormal columns, the first of which is constant (`1/√rows`), the others random."""
    q, r = np.linalg.qr(np.column_stack([np.ones(rows), rng.standard_normal((rows, cols - 1))]))
    return q * np.sign(np.diag(r))


def _design(n: int, dim: int, cond: float, density: float, rng: np.random.Generator, intercept: bool = False):
    """`intercept`: the leading right singular vector `v₁` satisfies `A v₁ = 1` (every row has the
    component 1 along it), so a linear model can represent per-class offsets without an explicit constant
    column — and the spectrum, hence `cond`, is unchanged."""
    rank = min(n, dim)
    scales = np.geomspace(1.0, 1.0 / np.sqrt(cond), rank)  # singular values of A/√n
    if density >= 1.0:
        U = _with_constant(rng, n, rank) if intercept else _orthonormal(rng, n, rank)
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
    if not 1.0 <= cond <= MAX_COND:
        raise ValueError(f"cond must be in [1, {MAX_COND:g}], got {cond:g}")
    noise = _checks.nonnegative("noise", noise)
    if noise > MAX_NOISE:
        raise ValueError(f"noise must be <= {MAX_NOISE:g} (the targets' squares stay finite), got {noise:g}")
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
    """Linear-regression data `y = A x_true + noise·ε` with `ε ~ N(0, I)` and `x_true ~ N(0, I)`.

    Args:
        n: Samples (rows of `A`).
        dim: Features (columns of `A`).
        cond: The condition number of `AᵀA/n` (≥ 1; exact for dense data, close for sparse data).
        noise: The standard deviation of the target noise (≥ 0; `0`: the model interpolates, `σ²* = 0`).
        density: The fraction of nonzero entries, in (0, 1]; below 1 `A` is a CSR matrix.
        seed: The random generator's seed.

    Returns:
        The [`Dataset`][sgdlab.data.Dataset], named after its settings.

    Raises:
        ValueError: A setting is out of its range (`n`, `dim` not positive integers, `cond < 1`,
            `noise < 0`, `density` outside (0, 1]).

    Examples:
        >>> import numpy as np
        >>> from sgdlab.data import make_regression
        >>> data = make_regression(n=500, dim=10, cond=100.0, seed=0)
        >>> data.n, data.dim, data.name
        (500, 10, 'regression(n=500, dim=10, cond=100)')
        >>> s = np.linalg.eigvalsh(data.A.T @ data.A / data.n)
        >>> round(float(s[-1] / s[0]), 6)
        100.0
    """
    n, dim, cond, noise, density = _check_common(n, dim, cond, noise, density)
    rng = np.random.default_rng(_checks.seed("seed", seed))
    A = _design(n, dim, cond, density, rng)
    x_true = rng.standard_normal(dim)
    y = A @ x_true + noise * rng.standard_normal(n)
    return Dataset(A, y, name=f"regression(n={n}, dim={dim}, cond={cond:g})")


def zipf_frequencies(n_classes: int, exponent: float) -> np.ndarray:
    """Class probabilities `π_k ∝ (k + 1)^(−exponent)`, k = 0..K−1 (`exponent = 0`: uniform)."""
    weights = np.arange(1, n_classes + 1, dtype=float) ** -exponent
    return weights / weights.sum()


def _class_offsets(scores: np.ndarray, noise: float, target: np.ndarray) -> np.ndarray:
    """Offsets `c` with `mean_i softmax((z_i + c)/noise) = target`: the expected class frequencies of
    `argmax(z + c + noise·G)` (Gumbel `G`). They minimise the convex `noise·mean_i logsumexp((z_i + c)/noise)
    − targetᵀc` (whose gradient is the frequency mismatch), solved by L-BFGS to a mismatch below 1e-7 — far
    below the sampling noise of the labels. Each evaluation works in one preallocated `n × K` array (fresh
    temporaries of that size cost page faults on every call): the same operations, hence the same bits."""
    from scipy.optimize import minimize

    work = np.empty_like(scores)

    def objective(offsets: np.ndarray) -> tuple[float, np.ndarray]:
        shifted = np.divide(np.add(scores, offsets, out=work), noise, out=work)
        top = shifted.max(axis=1, keepdims=True)
        weights = np.exp(np.subtract(shifted, top, out=work), out=work)
        total = weights.sum(axis=1, keepdims=True)
        value = noise * float(np.mean(top + np.log(total))) - float(target @ offsets)
        return value, np.divide(weights, total, out=work).mean(axis=0) - target

    start = noise * np.log(target)
    options = {"gtol": 1e-7, "ftol": 0.0, "maxiter": 1000}
    return minimize(objective, start, jac=True, method="L-BFGS-B", options=options).x


def _binary_offset(scores: np.ndarray, noise: float, target: float) -> float:
    """The offset `c` with `mean_i Φ((z_i + c)/noise) = target`: `P(sign(z + c + noise·ε) = +1)`."""
    from scipy.optimize import brentq
    from scipy.special import ndtr

    span = float(np.max(np.abs(scores))) + 10.0 * noise
    return brentq(lambda c: float(np.mean(ndtr((scores + c) / noise))) - target, -span, span, xtol=1e-12)


def make_classification(
    n: int = 1000,
    dim: int = 20,
    cond: float = 10.0,
    noise: float = 1.0,
    density: float = 1.0,
    n_classes: int = 2,
    seed: int = 0,
    imbalance: float | None = None,
) -> Dataset:
    """Classification data from a noisy linear model.

    Scores `z = A W` for a random `W`; labels are `sign(z + noise·ε)` (±1) for two classes and
    `argmax(z + noise·G)` with Gumbel noise `G` for more (0..K−1), so that `noise > 0` makes the classes
    overlap (and unregularised logistic regression has a finite minimiser).

    `imbalance` sets the class frequencies: `None` (the default) leaves them to the random model (far from
    equal with many classes); a Zipf exponent `s ≥ 0` makes the expected frequency of class `k`
    proportional to `(k + 1)^(−s)` — exactly uniform for `s = 0`; class 0 (`+1` for two classes) the most
    frequent — the heavy-tailed setting of Kunstner et al. (2024). The labels then come from the same model
    with per-class offsets `c`, calibrated so that the expected frequencies are exactly the Zipf ones, and
    the design carries a hidden intercept (a direction `v₁` with `A v₁ = 1`, at the largest singular value),
    so `z + c = A (W + v₁cᵀ)`: the softmax (logistic) model stays well specified and `cond` exact.

    Args:
        n: Samples.
        dim: Features.
        cond: The condition number of `AᵀA/n`, as in [`make_regression`][sgdlab.data.make_regression].
        noise: The label noise's scale (≥ 0).
        density: The fraction of nonzero entries, in (0, 1]; below 1 `A` is a CSR matrix.
        n_classes: Classes (≥ 2).
        seed: The random generator's seed.
        imbalance: `None`, or the Zipf exponent `s ≥ 0` of the class frequencies (needs a dense design and
            `noise > 0`).

    Returns:
        The [`Dataset`][sgdlab.data.Dataset]: labels ±1 for two classes, 0..K−1 for more.

    Raises:
        ValueError: A setting is out of its range, or `imbalance` is given with sparse data or `noise = 0`.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.data import make_classification
        >>> data = make_classification(n=4000, dim=10, n_classes=4, imbalance=1.0, seed=0)
        >>> (np.bincount(data.y) / data.n).round(2).tolist()  # expected: (1, 1/2, 1/3, 1/4) / 2.083
        [0.48, 0.24, 0.16, 0.12]
        >>> sorted(set(make_classification(n=100, seed=1).y.tolist()))
        [-1, 1]
    """
    n, dim, cond, noise, density = _check_common(n, dim, cond, noise, density)
    n_classes = _checks.positive_int("n_classes", n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    calibrated = imbalance is not None
    if calibrated:
        imbalance = _checks.nonnegative("imbalance", imbalance)
        if density < 1.0:
            raise ValueError(f"imbalance needs a dense design (density = 1), got density={density}")
        if noise == 0:
            raise ValueError("imbalance needs noise > 0 (the class offsets are calibrated on the noisy model)")
    rng = np.random.default_rng(_checks.seed("seed", seed))
    A = _design(n, dim, cond, density, rng, intercept=calibrated)
    if n_classes == 2:
        scores = A @ rng.standard_normal(dim)
        if calibrated:
            scores = scores + _binary_offset(scores, noise, float(zipf_frequencies(2, imbalance)[0]))
        y = np.where(scores + noise * rng.standard_normal(n) >= 0, 1, -1)
    else:
        scores = A @ rng.standard_normal((dim, n_classes))
        if calibrated:
            scores = scores + _class_offsets(scores, noise, zipf_frequencies(n_classes, imbalance))
        y = np.argmax(scores + noise * rng.gumbel(size=(n, n_classes)), axis=1)
    shape = f", zipf={imbalance:g}" if calibrated else ""
    return Dataset(A, y, name=f"classification(n={n}, dim={dim}, cond={cond:g}, classes={n_classes}{shape})")


def make_rare_features(
    n: int = 2000,
    dim: int = 200,
    exponent: float = 1.0,
    max_freq: float = 0.5,
    noise: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Sparse binary features of power-law frequencies, all equally informative: Adagrad's use case.

    Feature `j = 1..dim` is present in a sample with probability `max_freq / j^exponent` (`exponent = 0`:
    every feature equally frequent), with value 1; labels are `sign(a_iᵀw + noise·ε)` for weights
    `w_j = ±2`, so a rare feature predicts as much as a frequent one when it appears (Duchi, Hazan &
    Singer, JMLR 2011).

    Args:
        n: Samples.
        dim: Features.
        exponent: The power law's exponent (≥ 0).
        max_freq: The frequency of the most frequent feature, in (0, 1].
        noise: The label noise's standard deviation (≥ 0).
        seed: The random generator's seed.

    Returns:
        The [`Dataset`][sgdlab.data.Dataset], with a CSR design and labels ±1.

    Raises:
        ValueError: A setting is out of its range.

    Examples:
        >>> from sgdlab.data import make_rare_features
        >>> data = make_rare_features(n=1000, dim=100, exponent=1.0, seed=0)
        >>> data.is_sparse, float(data.A[:, 0].mean()) > 10 * float(data.A[:, 99].mean())
        (True, True)
    """
    n, dim = _checks.positive_int("n", n), _checks.positive_int("dim", dim)
    exponent = _checks.nonnegative("exponent", exponent)
    max_freq = _checks.positive("max_freq", max_freq)
    if max_freq > 1.0:
        raise ValueError(f"max_freq must be in (0, 1], got {max_freq}")
    noise = _checks.nonnegative("noise", noise)
    rng = np.random.default_rng(_checks.seed("seed", seed))
    freq = max_freq / np.arange(1, dim + 1) ** exponent
    A = sp.csr_matrix((rng.random((n, dim)) < freq).astype(np.float64))
    A.sort_indices()
    w = 2.0 * rng.choice([-1.0, 1.0], size=dim)
    y = np.where(A @ w + noise * rng.standard_normal(n) >= 0, 1, -1)
    return Dataset(A, y, name=f"rare_features(n={n}, dim={dim}, exponent={exponent:g})")
