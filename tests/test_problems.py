"""Generic properties of every problem: gradients, unbiasedness, optimum, constants."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab as sl
from conftest import hessian, make_problem, problem_params, random_point
from sgdlab.problems import CertificationError, optimum
from sgdlab.problems.nonconvex import PL_CONSTANT_OF_H

ALL = problem_params()
GLOBAL_CONSTANTS = problem_params(kinds=("convex", "nonconvex"))


@pytest.mark.parametrize("name", ALL)
def test_grad_matches_central_differences(name):
    problem = make_problem(name)
    for seed in range(3):
        x = random_point(problem, seed)
        h = 1e-6
        fd = np.array([(problem.loss(x + h * e) - problem.loss(x - h * e)) / (2 * h) for e in np.eye(problem.dim)])
        g = problem.grad(x)
        # central differences: truncation O(h²·f''') plus rounding O(eps·|f|/h) ≈ 1e-10 here
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(g).max()))


@pytest.mark.parametrize("name", ALL)
def test_grad_batch_over_all_indices_is_the_gradient(name):
    problem = make_problem(name)
    x = random_point(problem, 1)
    np.testing.assert_allclose(problem.grad_batch(x, np.arange(problem.n)), problem.grad(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_single_sample_gradients_average_to_the_gradient(name):
    """Exact unbiasedness: E over i ~ Uniform{1..n} of ∇f_i equals ∇f."""
    problem = make_problem(name)
    x = random_point(problem, 2)
    mean = np.mean([problem.grad_batch(x, np.array([i])) for i in range(problem.n)], axis=0)
    np.testing.assert_allclose(mean, problem.grad(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_uniform_minibatch_gradient_is_unbiased(name):
    """Statistical check of what the engine's sampler feeds the methods.

    With M independent minibatches the sample mean of each coordinate deviates from its expectation by
    more than 5 standard errors with probability < 6e-7 (CLT); with ≤ 30 coordinates the family-wise
    false-alarm rate is < 2e-5, and the fixed seed makes the test deterministic.
    """
    problem = make_problem(name)
    x = random_point(problem, 3)
    sampler = sl.engine.Sampler("uniform", problem.n, 2, np.random.default_rng(0))
    draws = np.array([problem.grad_batch(x, next(sampler)) for _ in range(4000)])
    stderr = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - problem.grad(x)) <= 5 * stderr + 1e-12)


@pytest.mark.parametrize("name", ALL)
def test_component_gradients_plus_regulariser_give_the_batch_gradient(name):
    problem = make_problem(name)
    x = random_point(problem, 4)
    idx = np.array([0, problem.n - 1, 0])
    rows = problem.component_grads(x, idx)
    assert rows.shape == (3, problem.dim)
    np.testing.assert_allclose(rows.mean(axis=0) + problem.reg_grad(x), problem.grad_batch(x, idx), rtol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_hessian_vector_product_matches_differences_of_gradients(name):
    problem = make_problem(name)
    x, v = random_point(problem, 5), random_point(problem, 6)
    h = 1e-6
    fd = (problem.grad(x + h * v) - problem.grad(x - h * v)) / (2 * h)
    np.testing.assert_allclose(problem.hvp(x, v), fd, rtol=1e-5, atol=1e-7 * max(1.0, np.abs(fd).max()))


@pytest.mark.parametrize("name", ALL)
def test_certified_optimum_has_a_tiny_gradient(name):
    problem = make_problem(name)
    x0 = problem.initial_point()
    tol = 1e-10 * max(1.0, float(np.linalg.norm(problem.grad(x0))))
    assert np.linalg.norm(problem.grad(problem.x_star)) <= tol
    assert problem.f_star == pytest.approx(problem.loss(problem.x_star), rel=1e-14, abs=1e-300)
    # a minimiser, not just a stationary point: nearby points are no better
    rng = np.random.default_rng(0)
    for _ in range(10):
        assert problem.loss(problem.x_star + 1e-3 * rng.standard_normal(problem.dim)) >= problem.f_star


@pytest.mark.parametrize("name", ALL)
def test_sigma2_star_is_the_mean_squared_component_gradient_at_the_optimum(name):
    problem = make_problem(name)
    xs = problem.x_star
    expected = np.mean([np.sum(problem.grad_batch(xs, np.array([i])) ** 2) for i in range(problem.n)])
    assert problem.sigma2_star == pytest.approx(expected, rel=1e-10, abs=1e-20)


@pytest.mark.parametrize("name", GLOBAL_CONSTANTS)
def test_smoothness_constants_bound_the_curvature(name):
    """``L`` bounds the Hessian's spectral radius, ``L_max`` each component's, ``mu`` (if convex) below."""
    problem = make_problem(name)
    for seed in range(4):
        x = random_point(problem, seed, scale=2.0)
        eig = np.linalg.eigvalsh(hessian(problem, x))
        assert np.max(np.abs(eig)) <= problem.L * (1 + 1e-9)
        if getattr(problem, "l2", 0) > 0:  # strongly convex: mu bounds the Hessian from below
            assert eig[0] >= problem.mu * (1 - 1e-9)
    assert problem.L <= problem.L_max * (1 + 1e-12)


@pytest.mark.parametrize("name", GLOBAL_CONSTANTS)
def test_mu_satisfies_the_pl_inequality(name):
    """``½‖∇f(x)‖² ≥ mu·(f(x) − f*)`` everywhere (strong convexity implies it; mu = 0 is vacuous)."""
    problem = make_problem(name)
    for seed in range(10):
        x = problem.x_star + random_point(problem, seed, scale=3.0)
        g = problem.grad(x)
        assert 0.5 * g @ g >= problem.mu * (problem.loss(x) - problem.f_star) * (1 - 1e-9)


@pytest.mark.parametrize("name", ["ls_dense", "ls_sparse_l2", "quadratic2d", "ls2d"])
def test_least_squares_constants_are_exact(name):
    problem = make_problem(name)
    eig = np.linalg.eigvalsh(hessian(problem, np.zeros(problem.dim)))
    assert problem.L == pytest.approx(eig[-1], rel=1e-10)
    assert problem.mu == pytest.approx(eig[0], rel=1e-8)


def test_least_squares_l_max_is_the_largest_row_norm():
    problem = make_problem("ls_sparse_l2")
    A = problem.A.toarray()
    assert problem.L_max == pytest.approx(np.max(np.sum(A**2, axis=1)) + problem.l2, rel=1e-12)


def test_underdetermined_least_squares_reports_the_pl_constant_and_min_norm_solution():
    problem = make_problem("ls_wide")
    eig = np.linalg.eigvalsh(problem.A @ problem.A.T / problem.n)
    assert problem.mu == pytest.approx(eig[0], rel=1e-8)
    np.testing.assert_allclose(problem.x_star, np.linalg.pinv(problem.A) @ problem.y, atol=1e-10)


def test_logistic_l_is_attained_at_the_origin():
    problem = make_problem("logistic_l2")
    eig = np.linalg.eigvalsh(hessian(problem, np.zeros(problem.dim)))
    assert problem.L == pytest.approx(eig[-1], rel=1e-10)


def test_nonconvex_pl_problem_satisfies_the_pl_inequality():
    problem = make_problem("nonconvex_pl")
    assert problem.f_star == pytest.approx(0.0, abs=1e-20)
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 10.0):
        for _ in range(20):
            x = scale * rng.standard_normal(problem.dim)
            g = problem.grad(x)
            assert 0.5 * g @ g >= problem.mu * (problem.loss(x) - problem.f_star)
    # and it is genuinely nonconvex
    assert any(np.linalg.eigvalsh(hessian(problem, rng.standard_normal(problem.dim)))[0] < -1e-8 for _ in range(20))


def test_pl_constant_of_the_one_dimensional_function():
    r = np.linspace(-50, 50, 2_000_001)
    r = r[r != 0]
    ratio = (2 * r + 3 * np.sin(2 * r)) ** 2 / (2 * (r**2 + 3 * np.sin(r) ** 2))
    assert PL_CONSTANT_OF_H <= ratio.min() < PL_CONSTANT_OF_H + 1e-3


def test_nonconvex_pl_rejects_an_underparametrised_design():
    with pytest.raises(ValueError, match="over-parametrised"):
        sl.problems.NonconvexPL(sl.data.make_regression(n=30, dim=5))


def test_optimum_is_cached_on_disk_and_revalidated(monkeypatch, tmp_path):
    monkeypatch.setenv("SGDLAB_CACHE_DIR", str(tmp_path))
    data = sl.data.make_classification(n=150, dim=7, seed=21)
    first = sl.problems.LogisticRegression(data, l2=1e-3)
    x_star = first.x_star
    files = list((tmp_path / "optima").glob("*.npz"))
    assert len(files) == 1

    def fail(problem):
        raise AssertionError("should have been loaded from the cache")

    monkeypatch.setattr(optimum, "_solve", fail)
    np.testing.assert_array_equal(sl.problems.LogisticRegression(data, l2=1e-3).x_star, x_star)
    # other parameters or data are a different key
    with pytest.raises(AssertionError, match="cache"):
        _ = sl.problems.LogisticRegression(data, l2=2e-3).x_star
    # a corrupt or wrong entry is detected by the certificate and recomputed
    monkeypatch.undo()
    monkeypatch.setenv("SGDLAB_CACHE_DIR", str(tmp_path))
    np.savez(files[0], x_star=np.ones(7), f_star=0.0)
    np.testing.assert_allclose(sl.problems.LogisticRegression(data, l2=1e-3).x_star, x_star, atol=1e-9)
    files[0].write_bytes(b"not a numpy file")
    np.testing.assert_allclose(sl.problems.LogisticRegression(data, l2=1e-3).x_star, x_star, atol=1e-9)


def test_separable_data_without_l2_has_no_certified_optimum():
    data = sl.data.Dataset(np.array([[1.0, 0.0], [-1.0, 0.5], [2.0, 1.0]]), np.array([1, -1, 1]))
    with pytest.raises(CertificationError, match="separable"):
        _ = sl.problems.LogisticRegression(data).x_star
    assert np.isfinite(sl.problems.LogisticRegression(data, l2=1e-2).f_star)


@pytest.mark.parametrize("name", ["logistic_l2", "softmax_l2", "ls_dense"])
def test_evaluate_reports_held_out_metrics(name):
    problem = make_problem(name)
    metrics = problem.evaluate(problem.x_star, problem.data)
    assert metrics["loss"] == pytest.approx(problem.loss(problem.x_star) - problem.reg_loss(problem.x_star))
    if problem.task == "classification":
        assert 0.5 < metrics["accuracy"] <= 1.0


def test_float32_data_gives_float32_gradients_and_a_float64_certificate():
    data = sl.data.make_classification(n=100, dim=5, seed=3).astype(np.float32)
    problem = sl.problems.LogisticRegression(data, l2=1e-2)
    x = np.zeros(5, dtype=np.float32)
    assert problem.grad(x).dtype == np.float32
    assert problem.grad_batch(x, np.array([1, 2])).dtype == np.float32
    assert problem.x_star.dtype == np.float64


def test_adam_counterexample_minimiser_and_arguments():
    from sgdlab.problems import AdamCounterexample

    problem = AdamCounterexample(C=3.0, penalty=100.0)
    assert problem.x_star[0] == pytest.approx(-1.0 - (3.0 - 2.0) / 3.0 / 100.0)
    assert problem.grad(problem.x_star)[0] == pytest.approx(0.0, abs=1e-12)
    assert problem.component_grads(np.zeros(1), np.array([0, 1, 2]))[:, 0].tolist() == [3.0, -1.0, -1.0]
    for bad, message in (({"C": 2.0}, "C must be > 2"), ({"penalty": 0.0}, "penalty must be > 0")):
        with pytest.raises(ValueError, match=message):
            AdamCounterexample(**bad)


@pytest.mark.parametrize("name", ["quadratic2d", "rosenbrock", "ls2d", "adam_counterexample", "ls_dense", "softmax_l2"])
def test_loss_many_equals_the_loop_over_loss(name):
    """The batched oracle (vectorised on the 2-D problems, a loop elsewhere) gives ``loss`` at every point."""
    problem = make_problem(name)
    points = np.random.default_rng(3).uniform(-3, 3, size=(257, problem.dim))
    points[0] = problem.x_star
    want = np.array([problem.loss(p) for p in points])
    got = problem.loss_many(points)
    assert got.shape == (257,) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    with pytest.raises(ValueError, match="points must have shape"):
        problem.loss_many(points[:, :1] if problem.dim > 1 else points.ravel())


def test_loss_many_without_gradient_noise():
    problem = sl.problems.Quadratic2D(kappa=50.0, spread=0.0)
    points = np.array([[0.0, 0.0], [1e-9, -2e-9], [3.0, -1.0]])
    np.testing.assert_allclose(problem.loss_many(points), [problem.loss(p) for p in points], rtol=1e-12, atol=0)
