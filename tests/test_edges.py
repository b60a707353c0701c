"""Numerics at the edges that give correct results rather than errors: zero gradients and all-zero features in
the adaptive methods (reference, fused and compiled paths alike), designs scaled far from 1, the recording schedule
at its densest, and accepted forms of arguments (one metric name, numpy scalars, huge seeds)."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab as sl
from conftest import well_conditioned_logistic
from sgdlab.data import Dataset
from sgdlab.engine import compiled
from sgdlab.methods import GD, SAG, SAGA, SGD, SVRG, Adadelta, Adagrad, Adam, AdamW, AMSGrad, Momentum, RMSProp, fused
from sgdlab.problems import LeastSquares, LogisticRegression

#: Every method that divides by a root of its squared-gradient statistic, with a tiny but positive eps.
ADAPTIVE = [
    pytest.param(Adam, {}, id="Adam"),
    pytest.param(AMSGrad, {}, id="AMSGrad-lecture"),
    pytest.param(AMSGrad, {"convention": "torch"}, id="AMSGrad-torch"),
    pytest.param(AdamW, {"weight_decay": 0.0}, id="AdamW"),
    pytest.param(Adagrad, {}, id="Adagrad-lecture"),
    pytest.param(Adagrad, {"convention": "torch"}, id="Adagrad-torch"),
    pytest.param(RMSProp, {}, id="RMSProp-lecture"),
    pytest.param(RMSProp, {"convention": "torch"}, id="RMSProp-torch"),
    pytest.param(Adadelta, {"eps": 1e-6}, id="Adadelta"),  # its step is √ε-sized at first: keep it visible
]
TINY_EPS = 1e-300


def steps_with_zero_coordinates(cls, kwargs, size: int, use_fused: bool) -> np.ndarray:
    """Three steps whose gradients vanish on the first half of the coordinates."""
    method = cls(**{"eps": TINY_EPS, **kwargs})
    x = np.linspace(-1.0, 1.0, size)
    state = method.init(x)
    g = np.where(np.arange(size) < size // 2, 0.0, np.cos(np.arange(size, dtype=np.float64)))
    for _ in range(3):
        if use_fused:
            method.step(x, g, state)
        else:
            with fused.disabled():
                method.step(x, g, state)
    return x


@pytest.mark.parametrize(("cls", "kwargs"), ADAPTIVE)
def test_a_zero_gradient_leaves_its_coordinates_unchanged(cls, kwargs):
    size = fused.MIN_SIZE  # large enough for the fused kernel
    x0 = np.linspace(-1.0, 1.0, size)
    reference = steps_with_zero_coordinates(cls, kwargs, size, use_fused=False)
    kernel = steps_with_zero_coordinates(cls, kwargs, size, use_fused=True)
    for x in (reference, kernel):
        assert np.isfinite(x).all()
        np.testing.assert_array_equal(x[: size // 2], x0[: size // 2])  # 0/(0 + ε) = 0 exactly
    np.testing.assert_allclose(kernel, reference, rtol=1e-12, atol=1e-15)


@pytest.fixture(scope="module")
def zero_column_logistic() -> LogisticRegression:
    rng = np.random.default_rng(3)
    A = rng.standard_normal((200, 6))
    A[:, 2] = 0.0  # a feature that never occurs
    y = np.where(A @ rng.standard_normal(6) + rng.standard_normal(200) > 0, 1.0, -1.0)
    return LogisticRegression(Dataset(A, y), l2=0.0)


@pytest.mark.parametrize(("cls", "kwargs"), ADAPTIVE)
def test_an_all_zero_feature_on_the_compiled_and_python_paths(cls, kwargs, zero_column_logistic):
    """The coordinate of an all-zero feature gets zero gradients forever: it stays at 0 and the run is a result."""
    method = cls(**{"eps": TINY_EPS, **kwargs})
    record = ("loss", "grad_norm2")
    fast = sl.run(zero_column_logistic, method, epochs=2, record=record)
    with compiled.disabled():
        slow = sl.run(zero_column_logistic, method, epochs=2, record=record)
    for trace in (fast, slow):
        assert trace.status == "budget", trace.message
        assert np.isfinite(trace.x).all() and trace.x[2] == 0.0
        assert trace.loss[-1] < trace.loss[0]
    np.testing.assert_allclose(fast.x, slow.x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "method",
    [GD(lr=0.1), SGD(lr=0.1), Momentum(lr=0.1), SAG(lr=0.1), SAGA(lr=0.1), SVRG(lr=0.1), Adam(), Adagrad()],
    ids=lambda m: m.name,
)
def test_all_zero_data_with_a_given_step_is_a_result(method):
    """With every a_i = 0 the gradient vanishes: any step leaves x* = 0, the loss stays ½·mean(y²)."""
    problem = LeastSquares(Dataset(np.zeros((10, 3)), np.arange(10.0)))
    assert (problem.L, problem.mu, problem.L_max) == (0.0, 0.0, 0.0)
    trace = sl.run(problem, method, epochs=3)
    assert trace.status == "budget", trace.message
    np.testing.assert_array_equal(trace.x, np.zeros(3))
    np.testing.assert_allclose(trace.subopt, 0.0, atol=1e-12)


def _design(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((40, 5)), rng.standard_normal(40)


@pytest.mark.parametrize("scale", [2.0**500, 1e150, 1e-150, 2.0**-500])
def test_constants_of_scaled_designs_scale_with_the_square(scale):
    """The spectrum of (cA)ᵀ(cA)/n is c² times A's, also where (cA)'s squares leave float64's range."""
    A, y = _design()
    base = LeastSquares(Dataset(A, y))
    scaled = LeastSquares(Dataset(scale * A, y))
    for name in ("L", "mu", "L_max"):
        np.testing.assert_allclose(getattr(scaled, name), scale**2 * getattr(base, name), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-100, 1e100])
def test_sgd_on_a_scaled_design_follows_the_unscaled_run(scale):
    """Default steps follow the scale: SGD on cA with 1/(2 L_b) has iterates x/c and the same losses."""
    A, y = _design(1)
    base = sl.run(LeastSquares(Dataset(A, y)), "SGD", epochs=3, record=("loss",))
    scaled = sl.run(LeastSquares(Dataset(scale * A, y)), "SGD", epochs=3, record=("loss",))
    assert scaled.status == base.status == "budget"
    np.testing.assert_allclose(scaled.loss, base.loss, rtol=1e-9)
    np.testing.assert_allclose(scaled.x * scale, base.x, rtol=1e-9, atol=1e-12)


def test_the_densest_regular_schedule_is_every_iteration():
    problem = well_conditioned_logistic()
    trace = sl.run(problem, SGD(), iters=50, points_per_decade=None, record_every=1 / problem.n, record=("loss",))
    np.testing.assert_array_equal(trace.iters, np.arange(51))


def test_a_huge_points_per_decade_is_a_checkpoint_per_iteration():
    trace = sl.run(well_conditioned_logistic(), SGD(), iters=30, points_per_decade=10**6, record="loss")
    np.testing.assert_array_equal(trace.iters, np.arange(31))


def test_one_metric_name_is_a_record_of_one():
    trace = sl.run(well_conditioned_logistic(), SGD(), epochs=1, record="loss")
    assert set(trace.columns) == {"iters", "grad_evals", "epochs", "time_s", "loss"}


def test_huge_and_numpy_seeds_are_reproducible():
    problem = well_conditioned_logistic()
    a = sl.run(problem, SGD(), epochs=1, seed=2**64, record="loss")
    b = sl.run(problem, SGD(), epochs=1, seed=2**64, record="loss")
    c = sl.run(problem, SGD(), epochs=1, seed=np.int64(7), record="loss")
    d = sl.run(problem, SGD(), epochs=1, seed=7, record="loss")
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(c.x, d.x)
    assert not np.array_equal(a.x, c.x)


def test_numpy_scalars_and_integer_lists_are_accepted():
    method = Adam(lr=np.float32(0.01), beta1=np.float64(0.8), eps=np.int64(1))
    assert (type(method.lr), type(method.beta1), type(method.eps)) == (float, float, float)
    trace = sl.run(well_conditioned_logistic(), method, epochs=1, x0=[0] * 10, record="loss")
    assert trace.x.dtype == np.float64 and trace.status == "budget"
