"""SLBFGS against a dense transcription of its formula, and its behaviour with and without gradient noise.

The reference keeps the inverse-Hessian approximation as a matrix and applies the BFGS update
``H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`` (``ρ = 1/sᵀy``) to ``γ I`` for each stored pair, oldest first —
the definition that the two-loop recursion computes without forming ``H`` (Nocedal & Wright, §7.2).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sgdlab as sl
from conftest import make_problem
from sgdlab.analysis import fit_rate, noise_floor
from sgdlab.methods import GD, SLBFGS, expected_smoothness
from sgdlab.methods.lbfgs import python_two_loop, two_loop


def dense_inverse_hessian(pairs: list[tuple[np.ndarray, np.ndarray]], gamma: float, dim: int) -> np.ndarray:
    H = gamma * np.eye(dim)
    eye = np.eye(dim)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        H = (eye - rho * np.outer(s, y)) @ H @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)
    return H


def reference_slbfgs(problem, x0, batches, alphas, *, memory, eps, damping):
    """Online L-BFGS written from the docstring's formula, with a dense ``H``."""
    x = np.array(x0, dtype=np.float64)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    gamma = 1.0 / expected_smoothness(problem, len(batches[0]))
    for idx, alpha in zip(batches, alphas, strict=True):
        g = problem.grad_batch(x, idx)
        x_new = x - alpha * dense_inverse_hessian(pairs, gamma, x.size) @ g
        s = x_new - x
        y = problem.grad_batch(x_new, idx) - g + damping * s
        if s @ y > eps * (s @ s):
            pairs = [*pairs, (s, y)][-memory:]
            gamma = (s @ y) / (y @ y)
        x = x_new
        yield x, len(pairs)


@pytest.mark.parametrize(
    ("problem_name", "kwargs", "batch_size"),
    [
        pytest.param("ls_dense", {"lr": 0.5, "memory": 3, "damping": 0.0}, 4, id="ls-memory-3"),
        pytest.param("logistic_l2", {"lr": 0.3, "memory": 5, "damping": 0.2}, 1, id="logistic-damped-b1"),
        pytest.param("softmax_l2", {"lr": 0.7, "memory": 2, "damping": 0.05, "schedule": "1/sqrt(k)"}, 6,
                     id="softmax-schedule"),
        pytest.param("ls_wide", {"lr": 0.5, "memory": 4, "damping": 0.0, "eps": 1e-3}, 2, id="rank-deficient"),
    ],
)  # fmt: skip
def test_matches_the_dense_reference(problem_name, kwargs, batch_size):
    problem = make_problem(problem_name)
    method = SLBFGS(**kwargs)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, problem.n, batch_size) for _ in range(40)]
    alphas = [method.lr * method.schedule(k) for k in range(1, 41)]
    x0 = 0.3 * rng.standard_normal(problem.dim)
    x, state = x0.copy(), method.init(x0)
    reference = reference_slbfgs(
        problem, x0, batches, alphas, memory=method.memory, eps=method.eps, damping=method.damping
    )
    for k, (idx, (x_ref, n_pairs)) in enumerate(zip(batches, reference, strict=True), start=1):
        assert method.iterate(problem, x, idx, state) == 2 * batch_size
        np.testing.assert_allclose(x, x_ref, rtol=1e-9, atol=1e-12, err_msg=f"step {k}")
        assert len(state["s"]) == len(state["y"]) == len(state["rho"]) == n_pairs <= method.memory
    assert n_pairs == method.memory or problem_name == "ls_wide"


@settings(max_examples=30, deadline=None)
@given(dim=st.integers(1, 8), n_pairs=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_two_loop_is_the_bfgs_matrix_and_is_positive_definite(dim, n_pairs, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((dim, dim))
    B = M @ M.T + 0.1 * np.eye(dim)  # pairs from a positive definite curvature: sᵀy > 0
    pairs = [(s, B @ s) for s in rng.standard_normal((n_pairs, dim))]
    gamma = float(rng.uniform(0.1, 10.0))
    g = rng.standard_normal(dim)
    s_list, y_list = [p[0] for p in pairs], [p[1] for p in pairs]
    hg = two_loop(g, s_list, y_list, [1.0 / (s @ y) for s, y in pairs], gamma)
    H = dense_inverse_hessian(pairs, gamma, dim)
    np.testing.assert_allclose(hg, H @ g, rtol=1e-7, atol=1e-9 * max(1.0, float(np.abs(H @ g).max())))
    assert g @ hg > 0  # a descent direction
    if pairs:  # the secant equation for the newest pair: H y = s
        s, y = pairs[-1]
        hy = two_loop(y, s_list, y_list, [1.0 / (a @ b) for a, b in pairs], gamma)
        np.testing.assert_allclose(hy, s, rtol=1e-6, atol=1e-9 * max(1.0, float(np.abs(s).max())))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("dim", "n_pairs"), [(1, 1), (5, 0), (20, 3), (20, 10), (257, 10), (3000, 4)])
def test_two_loop_equals_the_python_loop_bit_for_bit(dim, n_pairs, dtype):
    rng = np.random.default_rng(dim * 100 + n_pairs)
    s = [rng.standard_normal(dim).astype(dtype) for _ in range(n_pairs)]
    y = [(v + 0.1 * rng.standard_normal(dim)).astype(dtype) for v in s]
    rho = [1.0 / float(a @ b) for a, b in zip(s, y, strict=True)]
    g = rng.standard_normal(dim).astype(dtype)
    before = g.copy()
    hg = two_loop(g, s, y, rho, 0.7)
    assert hg.dtype == dtype
    np.testing.assert_array_equal(hg, python_two_loop(g, s, y, rho, 0.7))
    np.testing.assert_array_equal(g, before)  # the gradient is not overwritten


def test_default_damping_follows_the_minibatch_expected_smoothness():
    problem = make_problem("logistic_l2")
    n, gap = problem.n, problem.L_max - problem.L
    assert SLBFGS().resolve(problem, batch_size=1).damping == pytest.approx(gap)
    assert SLBFGS().resolve(problem, batch_size=10).damping == pytest.approx((n - 10) / (10 * (n - 1)) * gap)
    assert SLBFGS().resolve(problem, batch_size=n).damping == 0.0
    assert SLBFGS(damping=0.3).resolve(problem, batch_size=1).damping == 0.3
    trace = sl.run(problem, SLBFGS(), iters=3, sampler="full")
    assert trace.hyperparameters["damping"] == 0.0 and trace.grad_evals[-1] == 6 * n


def test_unresolved_damping_is_a_clear_error():
    problem = make_problem("logistic_l2")
    x = np.zeros(problem.dim)
    method = SLBFGS()
    with pytest.raises(ValueError, match=r"SLBFGS\.damping is unset"):
        method.iterate(problem, x, np.array([0]), method.init(x))


def test_full_batch_converges_in_far_fewer_iterations_than_gd_on_an_ill_conditioned_problem():
    """κ = 1000: GD needs ~κ·log(1/ε) ≈ 20 000 iterations for 1e-10; L-BFGS's curvature pairs remove κ."""
    problem = sl.problems.LeastSquares(sl.data.make_regression(n=100, dim=20, cond=1e3, seed=0))
    assert problem.L / problem.mu == pytest.approx(1e3)
    slbfgs = sl.run(problem, SLBFGS(), iters=300, sampler="full", target_subopt=1e-10)
    assert slbfgs.status == "ok"
    gd = sl.run(problem, GD(), iters=10 * int(slbfgs.iters[-1]), target_subopt=1e-10)
    assert gd.status == "budget" and gd.subopt[-1] > 1e-6


def test_constant_step_stalls_at_a_noise_floor_proportional_to_the_step():
    """Least squares with label noise (σ*² > 0), one sample per step: the suboptimality stops decreasing and
    fluctuates at a level that scales with α, as for SGD."""
    problem = sl.problems.LeastSquares(sl.data.make_regression(n=50, dim=5, cond=10.0, noise=1.0, seed=1))
    assert problem.sigma2_star > 0.1
    floors = {}
    for lr in (0.5, 0.25):
        trace = sl.run(problem, SLBFGS(lr=lr), epochs=60, seed=0, record_every=1.0, points_per_decade=None)
        assert trace.status == "budget"
        floors[lr] = noise_floor(trace.epochs, trace.subopt, tail=0.5)
        tail = fit_rate(trace.epochs, trace.subopt, "sublinear", tail=0.5)
        assert abs(tail.slope) < 0.5, tail  # flat, not converging
    assert floors[0.5] > 1e-3
    assert 1.3 < floors[0.5] / floors[0.25] < 4.0


def test_state_is_checkpointable_and_runs_are_reproducible():
    problem = make_problem("logistic_l2")
    a = sl.run(problem, SLBFGS(memory=4), epochs=3, batch_size=5, seed=3)
    b = sl.run(problem, SLBFGS(memory=4), epochs=3, batch_size=5, seed=3)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.subopt, b.subopt)
    x = np.zeros(problem.dim)
    method = SLBFGS(memory=4, damping=0.1)
    state = method.init(x)
    for idx in np.random.default_rng(0).integers(0, problem.n, (12, 5)):
        method.iterate(problem, x, idx, state)
    copy = pickle.loads(pickle.dumps(state))
    assert set(copy) == {"k", "s", "y", "rho", "gamma"} and len(copy["s"]) == 4
    assert all(isinstance(v, np.ndarray) for v in copy["s"] + copy["y"]) and math.isfinite(copy["gamma"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairs_keep_the_iterates_dtype(dtype):
    problem = make_problem("logistic_l2")
    x = np.zeros(problem.dim, dtype=dtype)
    method = SLBFGS(damping=0.0)
    state = method.init(x)
    for idx in np.random.default_rng(1).integers(0, problem.n, (5, 8)):
        method.iterate(problem, x, idx, state)
    assert x.dtype == dtype and all(v.dtype == dtype for v in state["s"] + state["y"])
