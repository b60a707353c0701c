"""Convergence rates measured from traces: least-squares fits, bootstrap intervals over seeds, thresholds.

Two shapes of asymptotic convergence are fitted, each as a straight line in the right coordinates:

* `kind="linear"`:    `y ≈ C·qˣ`      ⇔  `log y = log C + x·log q`   (slope `log q`, rate `q`);
* `kind="sublinear"`: `y ≈ C·xᵖ`      ⇔  `log y = log C + p·log x`   (slope = rate = `p`).

So GD on a PL problem should give `kind="linear"` with `q ≤ 1 − μ/L` per iteration, and SGD with
decreasing steps `p ≈ −1` (PL) or `p ≈ −1/2` (convex; `min ‖∇f‖²` on nonconvex problems) — the
iteration-complexity table of the lecture, read off measured curves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from numbers import Real

import numpy as np

from sgdlab import _checks

KINDS = ("linear", "sublinear")

#: Points with `y ≤ FLOOR · max(y)` are taken to be at machine precision and left out of fits.
FLOOR = 1e-14
#: The most bootstrap resamples `bootstrap_rate` draws (each a median over the seeds).
MAX_BOOTSTRAP = 10**6


@dataclasses.dataclass(frozen=True)
class RateFit:
    """A least-squares line `log y = intercept + slope·t`, with `t = x` (linear) or `t = log x` (sublinear).

    Attributes:
        kind: `"linear"` or `"sublinear"`.
        slope: `log q` (linear) or the exponent `p` (sublinear).
        intercept: The line's value at `t = 0`.
        r2: The coefficient of determination of the line in log coordinates.
        n_points: The number of points fitted.
        x_range: The smallest and largest `x` among them.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.analysis import fit_rate
        >>> k = np.arange(1.0, 60.0)
        >>> fit = fit_rate(k, 3 * 0.8**k, "linear")
        >>> round(fit.rate, 6), fit.r2 > 0.999999, fit.x_range
        (0.8, True, (30.0, 59.0))
    """

    kind: str
    slope: float
    intercept: float
    r2: float
    n_points: int
    x_range: tuple[float, float]

    @property
    def rate(self) -> float:
        """The contraction factor `q = exp(slope)` per unit of `x` (linear), or the exponent `p` (sublinear)."""
        return math.exp(self.slope) if self.kind == "linear" else self.slope


@dataclasses.dataclass(frozen=True)
class RateEstimate:
    """The rate over several seeds: the median of the per-seed slopes and a percentile-bootstrap interval.

    `slope`, `low`, `high` and `per_seed` are all slopes as in [`RateFit`][sgdlab.analysis.RateFit] (`log q`
    for a linear rate, the exponent `p` for a sublinear one); `str()` prints `slope [low, high]`.

    Attributes:
        kind: `"linear"` or `"sublinear"`.
        slope: The median of the per-seed slopes.
        low: The interval's lower end.
        high: The interval's upper end.
        n_seeds: The number of curves.
        per_seed: Each curve's slope, in order.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.analysis import bootstrap_rate
        >>> k = np.geomspace(1, 1e4, 40)
        >>> curves = [(k, (1 + 0.1 * s) / k) for s in range(5)]
        >>> estimate = bootstrap_rate(curves, "sublinear")
        >>> str(estimate), estimate.contains(-1.0)
        ('-1.00 [-1.00, -1.00]', True)
    """

    kind: str
    slope: float
    low: float
    high: float
    n_seeds: int
    per_seed: tuple[float, ...]

    @property
    def rate(self) -> float:
        """The estimate as a rate: `exp(slope)` for a linear fit, `slope` for a sublinear one."""
        return math.exp(self.slope) if self.kind == "linear" else self.slope

    def contains(self, value: float) -> bool:
        """Whether the slope `value` (`log q` for linear fits) lies in `[low, high]`."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        # two decimals, or more for small slopes so that the estimate keeps at least two significant digits
        size = abs(self.slope)
        digits = 2 if size == 0 or not math.isfinite(size) else max(2, 1 - math.floor(math.log10(size)))
        return f"{self.slope:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


# --- argument checks -----------------------------------------------------------------------------------
def _curve(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"x and y must be 1-D arrays of numbers: {error}") from None
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"x and y must be 1-D arrays, got shapes {x.shape} and {y.shape}")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    return x, y


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _kind(kind: object) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
    return kind  # type: ignore[return-value]


def _tail_mask(t: np.ndarray, tail: float) -> np.ndarray:
    """The points whose coordinate `t` lies in the last `tail` fraction of `t`'s range."""
    lo, hi = float(t.min()), float(t.max())
    slack = 1e-12 * (hi - lo)  # a point on the boundary stays in despite rounding in log x
    return t >= hi - tail * (hi - lo) - slack


# --- fits ----------------------------------------------------------------------------------------------
def fit_rate(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, kind: str, tail: float = 0.5) -> RateFit:
    """Fit the asymptotic rate of the curve `y(x)` by least squares in log coordinates.

    `kind="linear"` fits the slope of `log y` against `x` (`y ≈ C·qˣ`, `q = exp(slope)`); `kind="sublinear"`
    the slope of `log y` against `log x` (`y ≈ C·x^slope`).

    Usable points have finite `x` and `y`, `y > 0` and, for sublinear fits, `x > 0`. Points at the float
    floor — `y ≤ 1e-14·max(y)` — are left out too; for linear fits so is everything after the first point at
    the floor (or at `y ≤ 0`), since once a geometric curve reaches machine precision what follows is
    rounding noise. Of the usable points, only those in the last `tail` fraction of the `x`-range
    (measured in `x` for linear fits, in `log x` for sublinear ones) are fitted: the asymptotic part.

    Args:
        x: The counter (iterations, epochs, …), non-decreasing.
        y: The metric (`f − f*`, `‖∇f‖²`, …), one value per `x`.
        kind: `"linear"` or `"sublinear"`.
        tail: The fraction of the `x`-range fitted, in (0, 1].

    Returns:
        The fitted line, as a [`RateFit`][sgdlab.analysis.RateFit].

    Raises:
        ValueError: Mismatched lengths, an unknown `kind`, `tail` outside (0, 1], or fewer than 3 usable
            points (or no spread in `x`) in the tail.

    Examples:
        >>> import numpy as np
        >>> import sgdlab as sl
        >>> prob = sl.problems.LeastSquares(sl.data.make_regression(n=200, dim=5, cond=10.0, seed=0))
        >>> trace = sl.run(prob, "GD", iters=100, points_per_decade=20)
        >>> q = sl.analysis.fit_rate(trace.iters, trace.subopt, "linear").rate
        >>> bool(q <= 1 - prob.mu / prob.L)  # GD's rate on a strongly convex problem
        True
        >>> k = np.geomspace(1, 1e5, 50)
        >>> round(sl.analysis.fit_rate(k, 2 / np.sqrt(k), "sublinear").slope, 6)
        -0.5
    """
    kind = _kind(kind)
    tail = _fraction("tail", tail)
    x, y = _curve(x, y)
    usable = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if kind == "sublinear":
        usable &= x > 0
    if usable.any():
        floor = FLOOR * float(y[usable].max())
        at_floor = np.isfinite(x) & ~np.isnan(y) & (y <= floor)
        usable &= ~at_floor
        if kind == "linear" and at_floor.any():
            usable &= np.arange(x.size) < np.argmax(at_floor)
    if usable.sum() < 3:
        raise ValueError(
            f"fit_rate needs at least 3 usable points (finite, y > 0, above the float floor); got {usable.sum()}"
        )
    x, y = x[usable], y[usable]
    t = np.log(x) if kind == "sublinear" else x
    keep = _tail_mask(t, tail)
    t, logy = t[keep], np.log(y[keep])
    if t.size < 3:
        raise ValueError(
            f"fit_rate needs at least 3 points in the last {tail:g} of the x-range; got {t.size} — "
            "record more checkpoints or increase tail"
        )
    t_mean = t.mean()
    dt = t - t_mean
    sxx = float(dt @ dt)
    if sxx == 0.0:
        raise ValueError("fit_rate needs at least 2 distinct x values in the fitted range")
    slope = float(dt @ (logy - logy.mean())) / sxx
    intercept = float(logy.mean() - slope * t_mean)
    residual = logy - (intercept + slope * t)
    ss_res = float(residual @ residual)
    ss_tot = float(((logy - logy.mean()) ** 2).sum())
    # a flat curve (ss_tot at rounding level) is fitted perfectly by a flat line
    rounding = t.size * (1e-12 * max(1.0, float(np.abs(logy).max()))) ** 2
    r2 = 1.0 - ss_res / ss_tot if ss_tot > rounding else 1.0
    return RateFit(kind, slope, intercept, r2, int(t.size), (float(x[keep].min()), float(x[keep].max())))


def bootstrap_rate(
    curves: Sequence[tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    kind: str,
    tail: float = 0.5,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
) -> RateEstimate:
    """The rate over seeds, with a percentile-bootstrap confidence interval.

    Each curve `(x, y)` (one per seed) is fitted by [`fit_rate`][sgdlab.analysis.fit_rate]. The estimate is
    the *median of the per-seed slopes*: robust to an odd seed, and it needs no common `x` grid (curves
    recorded at different checkpoints, or stopped early, are fine). The interval resamples the seeds with
    replacement `n_boot` times and takes the `(1 − ci)/2` and `(1 + ci)/2` quantiles of the resampled
    medians (the percentile bootstrap; Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, §13.3).
    With one curve, `low = high = slope`. With few seeds the percentile interval of a median covers somewhat
    below its nominal level (about 93 % for `ci=0.95` with 5–20 seeds, in simulations of noisy power laws):
    prefer 10 seeds or more.

    Args:
        curves: One `(x, y)` pair per seed.
        kind: `"linear"` or `"sublinear"`.
        tail: The fraction of each curve's `x`-range fitted (see `fit_rate`).
        n_boot: The number of bootstrap resamples.
        seed: The resampling's seed: the same seed gives the same interval.
        ci: The interval's nominal coverage, in (0, 1).

    Returns:
        The [`RateEstimate`][sgdlab.analysis.RateEstimate].

    Raises:
        ValueError: No curve, a curve that is not an `(x, y)` pair or cannot be fitted (the message names
            it), or `n_boot` (at most `MAX_BOOTSTRAP`), `ci` or `seed` out of range.
        TypeError: `n_boot` or `seed` is not an integer.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.analysis import bootstrap_rate
        >>> rng = np.random.default_rng(0)
        >>> k = np.geomspace(1, 1e4, 40)
        >>> curves = [(k, np.exp(0.2 * rng.standard_normal(k.size)) / k) for seed in range(10)]  # noisy 1/k
        >>> estimate = bootstrap_rate(curves, "sublinear")
        >>> str(estimate), estimate.n_seeds, estimate.contains(-1.0)
        ('-0.99 [-1.03, -0.97]', 10, True)
    """
    kind = _kind(kind)
    n_boot = _checks.positive_int("n_boot", n_boot, at_most=MAX_BOOTSTRAP)
    seed = _checks.seed("seed", seed)
    if isinstance(ci, bool) or not isinstance(ci, Real) or not 0.0 < float(ci) < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    curves = list(curves)
    if not curves:
        raise ValueError("bootstrap_rate needs at least one curve")
    slopes = []
    for i, curve in enumerate(curves):
        try:
            x, y = curve
        except (TypeError, ValueError):
            raise ValueError(f"curve {i} must be a pair (x, y) of arrays") from None
        try:
            slopes.append(fit_rate(x, y, kind, tail).slope)
        except ValueError as error:
            raise ValueError(f"curve {i}: {error}") from None
    per_seed = np.asarray(slopes)
    estimate = float(np.median(per_seed))
    if per_seed.size == 1:
        low = high = estimate
    else:
        rng = np.random.default_rng(seed)
        resampled = np.median(per_seed[rng.integers(0, per_seed.size, size=(int(n_boot), per_seed.size))], axis=1)
        low, high = (float(q) for q in np.quantile(resampled, [(1 - ci) / 2, (1 + ci) / 2]))
    return RateEstimate(kind, estimate, low, high, int(per_seed.size), tuple(float(s) for s in per_seed))


# --- thresholds ----------------------------------------------------------------------------------------
def iterations_to(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, eps: float) -> float:
    """The first `x` at which `y ≤ eps`, interpolated between checkpoints; `math.inf` if never.

    Between the last checkpoint above `eps` and the first one at or below it, `log y` is taken to be linear
    in `x` (exact for a geometric curve); if the point below has `y ≤ 0`, `y` itself is interpolated.
    Non-finite `y` never counts as reaching `eps`.

    Args:
        x: The counter, non-decreasing (checkpoints in the order they were recorded).
        y: The metric, one value per `x`.
        eps: The level, a finite number > 0.

    Returns:
        The interpolated `x`, or `math.inf` when `y` never reaches `eps`.

    Raises:
        ValueError: Mismatched lengths, an empty curve, `eps` not finite and positive, or a decreasing `x`.

    Examples:
        >>> from sgdlab.analysis import iterations_to
        >>> iterations_to([0, 10, 20], [1.0, 1e-2, 1e-4], eps=1e-3)  # halfway in log y
        15.0
        >>> iterations_to([0, 10, 20], [1.0, 0.5, 0.4], eps=1e-3)
        inf
    """
    x, y = _curve(x, y)
    if x.size == 0:
        raise ValueError("iterations_to needs a non-empty curve")
    if isinstance(eps, bool) or not isinstance(eps, Real) or not float(eps) > 0 or not math.isfinite(eps):
        raise ValueError(f"eps must be a finite number > 0, got {eps!r}")
    if np.any(np.diff(x) < 0):
        raise ValueError("x must be non-decreasing (checkpoints in the order they were recorded)")
    below = np.isfinite(y) & (y <= eps)
    if not below.any():
        return math.inf
    i = int(np.argmax(below))
    if i == 0 or not np.isfinite(y[i - 1]):
        return float(x[i])
    x0, x1, y0, y1 = float(x[i - 1]), float(x[i]), float(y[i - 1]), float(y[i])
    if y1 > 0:
        fraction = (math.log(y0) - math.log(eps)) / (math.log(y0) - math.log(y1))
    else:
        fraction = (y0 - eps) / (y0 - y1)
    return x0 + fraction * (x1 - x0)


def noise_floor(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, tail: float = 0.25) -> float:
    """Where constant-step SGD stalls: the median of `y` over the last `tail` fraction of the `x`-range.

    Its suboptimality stops decreasing and fluctuates around a level proportional to `α σ²*/b` (Needell,
    Srebro & Ward 2014; Gower et al. 2019). Only finite values count.

    Args:
        x: The counter.
        y: The metric, one value per `x`.
        tail: The fraction of the `x`-range, in (0, 1].

    Returns:
        The median, a float.

    Raises:
        ValueError: Mismatched lengths, `tail` outside (0, 1], or no finite point.

    Examples:
        >>> import numpy as np
        >>> from sgdlab.analysis import noise_floor
        >>> k = np.arange(1.0, 101.0)
        >>> round(noise_floor(k, 1e-3 + 0.9**k), 4)  # a linear decay onto a floor at 1e-3
        0.0011
    """
    tail = _fraction("tail", tail)
    x, y = _curve(x, y)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        raise ValueError("noise_floor needs at least one point with finite x and y")
    x, y = x[finite], y[finite]
    return float(np.median(y[_tail_mask(x, tail)]))
