"""Rate fits, bootstrap intervals, thresholds and tuning summaries, on curves whose rates are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgdlab as sl
from conftest import make_problem
from sgdlab.analysis import (
    RateEstimate,
    RateFit,
    bootstrap_rate,
    fit_rate,
    iterations_to,
    noise_floor,
    tuning_summary,
)

ITERS = np.arange(0, 200, dtype=float)
LOG_ITERS = np.unique(np.round(np.logspace(0, 5, 60)))  # checkpoints as the engine records them

# (id, x, y, kind, slope) — noiseless curves: the fit must return the slope to rounding error.
EXACT = [
    ("geometric-0.5", ITERS[:40], 3.0 * 0.5 ** ITERS[:40], "linear", math.log(0.5)),
    ("geometric-0.9", ITERS, 0.1 * 0.9**ITERS, "linear", math.log(0.9)),
    ("geometric-0.999", ITERS, 7.0 * 0.999**ITERS, "linear", math.log(0.999)),
    ("geometric-log-spaced", LOG_ITERS[:35], 0.99 ** LOG_ITERS[:35], "linear", math.log(0.99)),
    ("power-minus-2", LOG_ITERS, 5.0 * LOG_ITERS**-2.0, "sublinear", -2.0),
    ("power-minus-1", LOG_ITERS, LOG_ITERS**-1.0, "sublinear", -1.0),
    ("power-minus-half", LOG_ITERS, 0.3 * LOG_ITERS**-0.5, "sublinear", -0.5),
    ("power-minus-quarter", ITERS[1:], ITERS[1:] ** -0.25, "sublinear", -0.25),
    ("power-zero", LOG_ITERS, np.full(LOG_ITERS.size, 2.0), "sublinear", 0.0),
]


@pytest.mark.parametrize(("x", "y", "kind", "slope"), [pytest.param(*case[1:], id=case[0]) for case in EXACT])
def test_exact_curves_give_their_slope(x, y, kind, slope):
    fit = fit_rate(x, y, kind)
    assert isinstance(fit, RateFit) and fit.kind == kind
    assert fit.slope == pytest.approx(slope, abs=1e-9)
    assert fit.rate == pytest.approx(math.exp(slope) if kind == "linear" else slope, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.n_points >= 3 and fit.x_range[1] == x.max()


def test_the_tail_is_measured_in_x_for_linear_and_in_log_x_for_sublinear_fits():
    fit = fit_rate(ITERS, 0.9**ITERS, "linear", tail=0.5)
    assert fit.x_range == (100.0, 199.0) and fit.n_points == 100
    x = np.logspace(0, 4, 41)
    fit = fit_rate(x, 1 / x, "sublinear", tail=0.25)
    assert fit.x_range[0] == pytest.approx(1e3) and fit.n_points == 11


def test_the_tail_skips_the_transient():
    """``y = x^-1/2 + 100 x^-2``: the early ``x^-2`` part would bias a fit over the whole curve."""
    y = LOG_ITERS**-0.5 + 100 * LOG_ITERS**-2.0
    assert fit_rate(LOG_ITERS, y, "sublinear", tail=1.0).slope < -0.7
    assert fit_rate(LOG_ITERS, y, "sublinear", tail=0.4).slope == pytest.approx(-0.5, abs=0.01)


def test_points_at_machine_precision_are_left_out_of_linear_fits():
    """GD's suboptimality falls geometrically, then rattles around the rounding error of f − f*."""
    rng = np.random.default_rng(0)
    y = 0.8**ITERS
    floor = ITERS >= 160  # 0.8**160 ≈ 3e-16
    y[floor] = np.abs(rng.normal(0, 1e-16, floor.sum()))
    y[170] = 0.0
    y[180] = -1e-17
    fit = fit_rate(ITERS, y, "linear", tail=0.5)
    assert fit.slope == pytest.approx(math.log(0.8), rel=1e-6)
    assert fit.x_range[1] < 160


def test_non_finite_and_non_positive_points_are_ignored():
    y = 2.0 * LOG_ITERS**-1.0
    y[[3, 40, 50]] = [np.nan, np.inf, -1.0]
    assert fit_rate(LOG_ITERS, y, "sublinear").slope == pytest.approx(-1.0)
    x = np.concatenate([[0.0], LOG_ITERS])  # iteration 0 has no log: skipped in sublinear fits
    assert fit_rate(x, np.concatenate([[5.0], y]), "sublinear").slope == pytest.approx(-1.0)


@settings(max_examples=40, deadline=None)
@given(
    p=st.floats(-3.0, 1.0),
    log_c=st.floats(-20.0, 20.0),
    log_scale=st.floats(-30.0, 30.0),
    tail=st.floats(0.2, 1.0),
)
def test_the_slope_of_a_power_law_is_its_exponent_whatever_the_scale(p, log_c, log_scale, tail):
    y = math.exp(log_c) * LOG_ITERS**p
    fit = fit_rate(LOG_ITERS, y, "sublinear", tail)
    assert fit.slope == pytest.approx(p, abs=1e-9)
    scaled = fit_rate(LOG_ITERS, math.exp(log_scale) * y, "sublinear", tail)
    assert scaled.slope == pytest.approx(fit.slope, abs=1e-9)
    assert scaled.intercept == pytest.approx(fit.intercept + log_scale, abs=1e-7)


@settings(max_examples=40, deadline=None)
@given(
    y=st.lists(st.floats(1e-6, 1e6), min_size=5, max_size=40),
    kind=st.sampled_from(["linear", "sublinear"]),
    scale=st.floats(1e-8, 1e8),
)
def test_fit_rate_is_invariant_to_scaling_y(y, kind, scale):
    x = np.arange(1, len(y) + 1, dtype=float)
    fit = fit_rate(x, y, kind, tail=1.0)
    scaled = fit_rate(x, scale * np.asarray(y), kind, tail=1.0)
    assert scaled.slope == pytest.approx(fit.slope, rel=1e-6, abs=1e-9)
    assert scaled.n_points == fit.n_points and scaled.x_range == fit.x_range
    assert scaled.r2 == pytest.approx(fit.r2, abs=1e-6)


def noisy_power_laws(rng, p, seeds, sigma=0.3):
    """Per seed ``y = C_s·x^p·exp(σ ε)``: a random constant per seed and multiplicative noise per checkpoint."""
    return [(LOG_ITERS, rng.lognormal(0, 0.5) * LOG_ITERS**p * np.exp(sigma * rng.standard_normal(LOG_ITERS.size)))
            for _ in range(seeds)]  # fmt: skip


@pytest.mark.parametrize("p", [-1.0, -0.5])
def test_noisy_power_laws_recover_their_exponent(p):
    estimate = bootstrap_rate(noisy_power_laws(np.random.default_rng(3), p, seeds=10), "sublinear")
    assert isinstance(estimate, RateEstimate)
    assert estimate.slope == pytest.approx(p, abs=0.05)
    assert estimate.low <= estimate.slope <= estimate.high
    assert estimate.high - estimate.low < 0.15
    assert estimate.n_seeds == len(estimate.per_seed) == 10
    assert estimate.slope == pytest.approx(np.median(estimate.per_seed))


def test_the_interval_covers_the_truth_at_about_the_nominal_rate():
    """200 replicated sweeps of 10 seeds. The percentile bootstrap of a median covers slightly below nominal
    with so few seeds (≈ 93 % for 95 % in long simulations), so the band is [0.88, 0.99]: too narrow an
    interval or one that is trivially wide both fail."""
    rng = np.random.default_rng(12345)
    hits = sum(
        bootstrap_rate(noisy_power_laws(rng, -0.5, seeds=10), "sublinear", n_boot=400, seed=r).contains(-0.5)
        for r in range(200)
    )
    assert 0.88 <= hits / 200 <= 0.99


def test_the_interval_narrows_with_more_seeds_and_widens_with_ci():
    rng = np.random.default_rng(7)
    curves = noisy_power_laws(rng, -1.0, seeds=40)
    few, many = bootstrap_rate(curves[:5], "sublinear"), bootstrap_rate(curves, "sublinear")
    assert many.high - many.low < few.high - few.low
    narrow = bootstrap_rate(curves, "sublinear", ci=0.5)
    assert many.low <= narrow.low <= narrow.high <= many.high


def test_bootstrap_is_reproducible_and_seeded():
    curves = noisy_power_laws(np.random.default_rng(0), -1.0, seeds=8)
    assert bootstrap_rate(curves, "sublinear", seed=4) == bootstrap_rate(curves, "sublinear", seed=4)
    assert bootstrap_rate(curves, "sublinear", seed=4) != bootstrap_rate(curves, "sublinear", seed=5)


def test_one_curve_gives_a_degenerate_interval():
    estimate = bootstrap_rate([(ITERS, 0.9**ITERS)], "linear")
    assert estimate.n_seeds == 1
    assert estimate.low == estimate.slope == estimate.high == pytest.approx(math.log(0.9))
    assert estimate.rate == pytest.approx(0.9)
    assert estimate.contains(math.log(0.9)) and not estimate.contains(math.log(0.8))


def test_curves_on_different_checkpoints_can_be_combined():
    curves = [(LOG_ITERS, 1 / LOG_ITERS), (ITERS[1:], 2 / ITERS[1:]), (LOG_ITERS[:30], 3 / LOG_ITERS[:30])]
    estimate = bootstrap_rate(curves, "sublinear")
    assert estimate.low == pytest.approx(-1.0) and estimate.high == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("slope", "low", "high", "text"),
    [
        (-0.98, -1.02, -0.95, "-0.98 [-1.02, -0.95]"),
        (-0.5, -0.5, -0.5, "-0.50 [-0.50, -0.50]"),
        (-0.0123, -0.0131, -0.0118, "-0.012 [-0.013, -0.012]"),
        (0.0, -0.01, 0.01, "0.00 [-0.01, 0.01]"),
    ],
)
def test_an_estimate_prints_as_slope_and_interval(slope, low, high, text):
    assert str(RateEstimate("sublinear", slope, low, high, 3, (slope,) * 3)) == text


def test_results_are_frozen():
    fit = fit_rate(ITERS, 0.9**ITERS, "linear")
    with pytest.raises(AttributeError):
        fit.slope = 0.0  # type: ignore[misc]


BAD_FITS = [
    ("kind", lambda: fit_rate(ITERS, ITERS + 1, "exponential"), "kind must be one of"),
    ("tail-zero", lambda: fit_rate(ITERS, ITERS + 1, "linear", tail=0.0), r"tail must be a number in \(0, 1\]"),
    ("tail-big", lambda: fit_rate(ITERS, ITERS + 1, "linear", tail=1.5), "tail must be"),
    ("tail-text", lambda: fit_rate(ITERS, ITERS + 1, "linear", tail="half"), "tail must be"),
    ("lengths", lambda: fit_rate(ITERS, ITERS[:-1] + 1, "linear"), "same length, got 200 and 199"),
    ("2-d", lambda: fit_rate(np.ones((3, 3)), np.ones((3, 3)), "linear"), "1-D"),
    ("not-numbers", lambda: fit_rate(["a", "b", "c"], [1, 2, 3], "linear"), "arrays of numbers"),
    ("two-points", lambda: fit_rate([1.0, 2.0], [1.0, 0.5], "linear"), "at least 3 usable points"),
    ("all-nan", lambda: fit_rate(ITERS, np.full(200, np.nan), "sublinear"), "got 0"),
    ("all-zero", lambda: fit_rate(ITERS, np.zeros(200), "linear"), "at least 3 usable points"),
    ("short-tail", lambda: fit_rate([1.0, 2.0, 3.0, 1000.0], [4.0, 3.0, 2.0, 1.0], "linear", tail=0.1),
     "at least 3 points in the last 0.1"),
    ("same-x", lambda: fit_rate([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], "linear"), "2 distinct x values"),
    ("boot-empty", lambda: bootstrap_rate([], "linear"), "at least one curve"),
    ("boot-kind", lambda: bootstrap_rate([(ITERS, ITERS + 1)], "log"), "kind must be one of"),
    ("boot-n", lambda: bootstrap_rate([(ITERS, ITERS + 1)], "linear", n_boot=0), "n_boot must be"),
    ("boot-ci", lambda: bootstrap_rate([(ITERS, ITERS + 1)], "linear", ci=1.0), r"ci must be in \(0, 1\)"),
    ("boot-bad-curve", lambda: bootstrap_rate([(ITERS, ITERS + 1), (ITERS, [1.0])], "linear"),
     "curve 1: x and y must have the same length"),
    ("boot-not-a-pair", lambda: bootstrap_rate([ITERS], "linear"), "curve 0 must be a pair"),
    ("iters-eps", lambda: iterations_to(ITERS, ITERS, 0.0), "eps must be a finite number > 0"),
    ("iters-empty", lambda: iterations_to([], [], 1.0), "non-empty"),
    ("iters-unsorted", lambda: iterations_to([0.0, 2.0, 1.0], [3.0, 2.0, 1.0], 1.5), "non-decreasing"),
    ("floor-tail", lambda: noise_floor(ITERS, ITERS, tail=2.0), "tail must be"),
    ("floor-nan", lambda: noise_floor(ITERS, np.full(200, np.nan)), "at least one point"),
    ("tuning-columns", lambda: tuning_summary(pd.DataFrame({"method": ["SGD"], "score": [1.0]})),
     "lacks column.*param, value, seed"),
    ("tuning-empty", lambda: tuning_summary(pd.DataFrame(columns=["method", "param", "value", "seed", "score"])),
     "no runs"),
    ("tuning-score", lambda: tuning_summary(pd.DataFrame({"method": ["SGD"], "param": ["lr"], "value": [0.1],
                                                          "seed": [0], "score": ["low"]})), "score column"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "message"), [pytest.param(make, msg, id=name) for name, make, msg in BAD_FITS])
def test_bad_input_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- thresholds ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "y", "eps", "expected"),
    [
        pytest.param([0, 10, 20], [1.0, 1e-1, 1e-2], 10**-1.5, 15.0, id="geometric-midway"),
        pytest.param([0, 10, 20], [1.0, 1e-1, 1e-2], 1e-1, 10.0, id="at-a-checkpoint"),
        pytest.param([0, 10, 20], [1.0, 1e-1, 1e-2], 5.0, 0.0, id="already-there"),
        pytest.param([0, 10, 20], [1.0, 1e-1, 1e-2], 1e-3, math.inf, id="never"),
        pytest.param([0, 4, 8], [1.0, 0.5, 0.0], 0.25, 6.0, id="zero-interpolated-linearly"),
        pytest.param([0, 1, 2, 3], [1.0, np.nan, 1e-2, 1e-4], 1e-3, 2.5, id="nan-never-counts"),
        pytest.param([0, 1, 2], [np.inf, 1e-3, 1e-4], 1e-2, 1.0, id="infinite-before"),
        pytest.param([1, 2, 4], [1.0, 1e-8, 1e-12], 1e-4, 1.5, id="log-interpolation"),
    ],
)
def test_iterations_to(x, y, eps, expected):
    assert iterations_to(x, y, eps) == pytest.approx(expected)


def test_iterations_to_is_exact_on_a_geometric_curve():
    x = np.arange(0, 100, 7, dtype=float)
    assert iterations_to(x, 0.9**x, 0.9**50.5) == pytest.approx(50.5)


def test_noise_floor_is_the_median_of_the_last_part():
    x = np.arange(100, dtype=float)
    y = np.where(x < 50, 1 / (1 + x), 0.01)
    y[90:] = [0.02, 0.005, 0.01, 0.03, 0.01, 0.01, 1.0, 0.01, 0.01, 0.01]  # an outlier does not move the median
    assert noise_floor(x, y) == 0.01
    assert noise_floor(x, y, tail=1.0) == pytest.approx(np.median(y))
    y[-1] = np.nan
    assert noise_floor(x, y, tail=0.02) == pytest.approx(np.median([0.01, 0.01]))


# --- tuning ----------------------------------------------------------------------------------------------
def test_tuning_summary_marks_the_best_value_and_counts_divergences():
    runs = [
        # method, value, seed scores
        ("SGD", 0.01, [3.0, 4.0, 5.0]),
        ("SGD", 0.1, [1.0, 2.0, np.inf]),  # one diverged run: median of (1, 2, inf) is 2
        ("SGD", 1.0, [np.nan, np.inf, 0.5]),  # mostly diverged: median inf, not best despite the 0.5
        ("Adam", 0.001, [0.2, 0.2, 0.2]),
        ("Adam", 0.01, [0.2, 0.2, 0.2]),  # a tie: the first value wins
    ]
    frame = pd.DataFrame(
        [
            {"method": m, "param": "lr", "value": v, "seed": s, "score": score}
            for m, v, scores in runs
            for s, score in enumerate(scores)
        ]
    )
    summary = tuning_summary(frame)
    assert list(summary.columns) == ["method", "param", "value", "n_seeds", "n_diverged", "median_score", "best"]
    assert len(summary) == 5
    row = summary.set_index(["method", "value"])
    assert row.loc[("SGD", 0.1), "median_score"] == 2.0 and row.loc[("SGD", 0.1), "n_diverged"] == 1
    assert row.loc[("SGD", 1.0), "median_score"] == math.inf and row.loc[("SGD", 1.0), "n_diverged"] == 2
    assert (row["n_seeds"] == 3).all()
    best = summary[summary["best"]].set_index("method")["value"].to_dict()
    assert best == {"SGD": 0.1, "Adam": 0.001}


def test_tuning_summary_uses_a_status_column_and_marks_nothing_when_all_diverged():
    frame = pd.DataFrame(
        {
            "method": ["SGD"] * 4,
            "param": ["lr"] * 4,
            "value": [1.0, 1.0, 2.0, 2.0],
            "seed": [0, 1, 0, 1],
            "score": [0.1, 0.2, 0.3, 0.4],
            "status": ["diverged"] * 4,
        }
    )
    summary = tuning_summary(frame)
    assert summary["n_diverged"].tolist() == [2, 2]
    assert not summary["best"].any()


# --- a real run ------------------------------------------------------------------------------------------
def test_gd_on_a_strongly_convex_least_squares_problem_contracts_at_the_theoretical_rate():
    """GD with α = 1/L: ``f − f*`` contracts by at least ``1 − μ/L`` per iteration; on a quadratic the slowest
    eigendirection gives exactly ``(1 − μ/L)²`` asymptotically."""
    problem = make_problem("ls_dense")
    trace = sl.run(problem, sl.methods.GD(), iters=600, record_every=1.0, points_per_decade=None)
    fit = fit_rate(trace.iters, trace.subopt, "linear")
    contraction = 1 - problem.mu / problem.L
    assert fit.rate <= contraction
    assert fit.rate == pytest.approx(contraction**2, rel=1e-3)
    assert fit.r2 > 0.999
    assert iterations_to(trace.iters, trace.subopt, 1e-8) <= math.log(1e-8 / trace.subopt[0]) / math.log(contraction)
