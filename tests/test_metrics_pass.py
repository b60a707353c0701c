"""Checkpoint metrics in one pass (`sgdlab.engine.metrics`) and the default checkpoint schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

import sgdlab as sl
from conftest import make_problem, random_point
from sgdlab.data import Dataset, make_classification, make_regression
from sgdlab.engine import metrics, schedule
from sgdlab.engine.recorder import Recorder
from sgdlab.problems import LeastSquares, LogisticRegression, SoftmaxRegression

FUSED = ["ls_dense", "ls_sparse_l2", "ls_wide", "logistic_l2", "logistic_sparse_01", "logistic_noreg", "softmax_l2",
         "softmax_sparse"]  # fmt: skip


def separate(problem, x):
    return problem.loss(x), problem.grad(x)


@pytest.mark.parametrize("name", FUSED)
@pytest.mark.parametrize("scale", [0.0, 0.5, 30.0])
def test_the_fused_pass_equals_the_separate_passes(name, scale):
    problem = make_problem(name)
    x = random_point(problem, seed=2, scale=scale)
    loss, grad = metrics.fused_pass(problem, x)
    want_loss, want_grad = separate(problem, x)
    assert loss == pytest.approx(want_loss, rel=1e-12, abs=1e-300)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-13 * np.abs(want_grad).max())
    assert metrics._arrays(problem, x) is not None  # the kernel, not a fallback


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2 * metrics.SOFTMAX_CHUNK + 9), dim=st.integers(1, 11), classes=st.integers(2, 27),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_the_dense_softmax_pass_on_any_shape(n, dim, classes, seed):
    """Rows and features on either side of the register tiles' groups of four and the chunk's edge, classes
    filling one to seven vectors (tiles of three, then two or one, and the padding): the pass equals the
    separate passes."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.arange(classes), rng.integers(0, classes, n)])  # every class present
    problem = SoftmaxRegression(Dataset(rng.standard_normal((n + classes, dim)), y), l2=1e-3)
    x = rng.standard_normal(problem.dim)
    loss, grad = metrics.fused_pass(problem, x)
    want_loss, want_grad = separate(problem, x)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-13 * np.abs(want_grad).max())


@pytest.mark.parametrize("name", ["logistic_l2", "nonconvex_logistic", "nonconvex_pl", "softmax_sparse"])
def test_shared_scores_are_the_separate_passes_bit_for_bit(name):
    problem = make_problem(name)
    x = random_point(problem, seed=4)
    loss, grad = metrics.shared_scores(problem, x)
    want_loss, want_grad = separate(problem, x)
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)


def test_large_data_both_layouts():
    """n large enough for the sums' order to matter: still within 1e-12 of the separate passes."""
    data = make_classification(n=20_000, dim=30, n_classes=3, density=0.3, seed=1)
    for sparse in (False, True):
        A = data.A if sparse else np.asarray(data.A.toarray())
        for problem in (LogisticRegression(Dataset(A, np.where(data.y == 0, -1, 1)), l2=1e-3),
                        SoftmaxRegression(Dataset(A, data.y), l2=1e-3),
                        LeastSquares(Dataset(A, data.y.astype(float)))):  # fmt: skip
            x = random_point(problem, seed=5, scale=0.3)
            loss, grad = metrics.fused_pass(problem, x)
            want_loss, want_grad = separate(problem, x)
            assert loss == pytest.approx(want_loss, rel=1e-12)
            np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-12 * np.abs(want_grad).max())


@pytest.mark.parametrize("name", ["logistic_sparse_01", "ls_sparse_l2", "softmax_sparse"])
def test_csr_designs_measure_through_the_fused_pass(name, monkeypatch):
    problem = make_problem(name)
    x = random_point(problem, seed=3)
    taken = []
    monkeypatch.setattr(metrics, "shared_scores", lambda *a: taken.append("shared") or None)
    loss, grad = metrics.loss_and_grad(problem, x)
    assert taken == []  # the fused kernel, not scipy's two products
    assert loss == pytest.approx(problem.loss(x), rel=1e-12)
    np.testing.assert_allclose(grad, problem.grad(x), rtol=1e-12, atol=1e-13 * np.abs(grad).max())


@pytest.mark.parametrize(("n", "dim", "blocks"), [(10, 5, 1), (4096 * 3, 5, 3), (10**6, 100, 16), (10**6, 10**7, 1)])
def test_csr_blocks_depend_on_the_shape_alone_and_bound_the_memory(n, dim, blocks):
    assert metrics.csr_blocks(n, dim) == blocks
    assert metrics.csr_blocks(n, dim) * 8 * dim <= max(metrics.CSR_BLOCK_BYTES, 8 * dim)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("kind", [LogisticRegression, SoftmaxRegression])
def test_the_fused_pass_is_bit_identical_whatever_the_number_of_threads(sparse, kind):
    import numba

    # rows: three blocks and a last chunk of 17 (not a multiple of the four rows the softmax kernel takes at once)
    data = make_classification(n=3 * metrics.ROW_BLOCK + 17, dim=41, n_classes=2 if kind is LogisticRegression else 7,
                               density=0.2, seed=7)  # fmt: skip
    A = data.A if sparse else np.asarray(data.A.toarray())
    problem = kind(Dataset(A, data.y), l2=1e-3)
    x = random_point(problem, seed=1, scale=0.3)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(metrics.fused_pass(problem, x))
    finally:
        numba.set_num_threads(before)
    for loss, grad in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])


def test_the_vectorised_exp_and_log1p_of_the_passes():
    """exp of shifted scores (≤ 0): within 1 ulp where the result is normal, e^{−708} below; log1p on [0, 1] (the
    logistic link's) within 4 ulp. The reference is the C library's (`math`), not NumPy's: NumPy 1.26's vectorised
    exp is itself up to 1.4 ulp off (measured against long double), and these kernels 2 ulp from it."""
    v = np.concatenate([[0.0, -0.0, -1e-300, -708.0, -709.0, -1e4], -np.random.default_rng(0).exponential(30, 10_000)])
    got = v.copy()
    metrics._exp_nonpositive(got, got.size)
    normal = v >= -708
    exp = np.array([math.exp(t) for t in v])
    assert np.all(np.abs(got - exp)[normal] <= np.spacing(exp[normal]))
    assert np.all(got[~normal] == got[v == -708.0])
    u = np.concatenate([[0.0, 1e-300, 1e-17, 1.0], np.random.default_rng(1).random(10_000)])
    log1p = np.array([math.log1p(t) for t in u])
    assert np.all(np.abs(np.array([metrics._log1p_unit(v) for v in u]) - log1p) <= 4 * np.spacing(log1p))


def test_fallbacks_respect_the_problem_oracle(monkeypatch):
    problem = make_problem("logistic_l2")
    x = random_point(problem)
    calls = []
    monkeypatch.setattr(problem, "grad", lambda x: calls.append(1) or type(problem).grad(problem, x), raising=False)
    metrics.loss_and_grad(problem, x)
    assert calls == [1]  # a patched oracle is called, not bypassed
    float32 = LeastSquares(make_regression(n=40, dim=3, seed=0).astype(np.float32))
    assert metrics._arrays(float32, np.zeros(3, dtype=np.float32)) is None
    loss, _ = metrics.loss_and_grad(float32, np.zeros(3, dtype=np.float32))
    assert loss == float32.loss(np.zeros(3, dtype=np.float32))
    assert metrics.loss_and_grad(problem, x, want_grad=False)[1] is None
    rosenbrock = make_problem("rosenbrock")
    np.testing.assert_array_equal(metrics.loss_and_grad(rosenbrock, np.ones(2))[1], rosenbrock.grad(np.ones(2)))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("scale", [0.0, 1.0, 40.0])
def test_softmax_loss_and_held_out_metrics_equal_the_problems(sparse, scale):
    """The loss without the gradient and `evaluate` of a softmax problem (100 classes, Zipf-imbalanced) from the
    scores and NumPy's exp: the problem's values to rounding, every key, the rare-class split included."""
    data = make_classification(n=3000, dim=8, n_classes=100, imbalance=1.0, seed=3)
    if sparse:
        A = np.where(np.random.default_rng(0).random(data.A.shape) < 0.5, data.A, 0.0)
        data = Dataset(scipy.sparse.csr_matrix(A), data.y)
    train, test = data.split(0.5, seed=0)
    problem = SoftmaxRegression(train, l2=1e-3)
    x = random_point(problem, seed=6, scale=scale)
    loss, grad = metrics.loss_and_grad(problem, x, want_grad=False)
    assert grad is None and loss == pytest.approx(problem.loss(x), rel=1e-12)
    want, got = problem.evaluate(x, test), metrics.evaluate(problem, x, test)
    assert got.keys() == want.keys() and got["accuracy"] == want["accuracy"]
    for key in ("loss", "loss_frequent", "loss_rare"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key


@pytest.mark.parametrize("scale", [0.0, 1.0, 300.0])
def test_softmax_losses_equal_scipys_in_both_paths(scale):
    """The compiled path (float64, C order) and NumPy's (any other layout or type): scipy's cross-entropy."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(1)
    z = scale * rng.standard_normal((2 * metrics.ROW_BLOCK + 3, 13))
    y = rng.integers(0, 13, len(z))
    want = logsumexp(z, axis=1) - z[np.arange(len(z)), y]
    for scores in (z, np.asfortranarray(z)):
        np.testing.assert_allclose(metrics.softmax_losses(scores, y), want, rtol=1e-12, atol=1e-12 * (1 + scale))


def test_softmax_measurement_respects_an_overridden_oracle(monkeypatch):
    problem = make_problem("softmax_l2")
    x = random_point(problem)
    monkeypatch.setattr(problem, "loss", lambda x: 123.0, raising=False)
    assert metrics.loss_and_grad(problem, x, want_grad=False)[0] == 123.0

    class Custom(SoftmaxRegression):
        def evaluate(self, x, data):
            return {"loss": -1.0}

    custom = Custom(problem.data)
    assert metrics.evaluate(custom, x, problem.data) == {"loss": -1.0}


def test_recorded_metrics_are_the_problem_values():
    problem = make_problem("softmax_sparse")
    trace = sl.run(problem, sl.methods.SGD(lr=0.05), epochs=3, seed=1)
    x = trace.x
    assert trace.loss[-1] == pytest.approx(problem.loss(x), rel=1e-12)
    g = problem.grad(x)
    assert trace.grad_norm2[-1] == pytest.approx(float(g @ g), rel=1e-10)
    assert trace.subopt[-1] == pytest.approx(problem.loss(x) - problem.f_star, rel=1e-9, abs=1e-15)
    assert trace.measure_s > 0 and math.isfinite(trace.measure_s)


def test_recorder_times_its_measurements():
    problem = make_problem("ls_dense")
    rec = Recorder(problem, ("loss", "grad_norm2"), f_star=None, x_star=None)
    rec.measure(np.zeros(problem.dim), 0, 0, 0.0)
    assert rec.measure_s > 0 and list(rec.columns) == ["iters", "grad_evals", "epochs", "time_s", "loss", "grad_norm2"]


def test_design_bytes():
    dense, sparse = make_problem("ls_dense"), make_problem("ls_sparse_l2")
    assert metrics.design_bytes(dense) == dense.A.nbytes
    assert metrics.design_bytes(sparse) == sparse.A.data.nbytes + sparse.A.indices.nbytes + sparse.A.indptr.nbytes


# --- the default schedule ------------------------------------------------------------------------------------


def log_schedule(points_per_decade, total):
    """The log-spaced iterations, written out independently of the engine."""
    ratio, k, out = 10 ** (1 / points_per_decade), 0, [0]
    while True:
        k = max(k + 1, math.ceil(k * ratio))
        if k >= total:
            return [*out, total]
        out.append(k)


def test_an_explicit_points_per_decade_keeps_the_former_schedule():
    problem = LeastSquares(make_regression(n=2000, dim=4, seed=0))
    trace = sl.run(problem, sl.methods.SGD(lr=0.01), epochs=1, points_per_decade=20)
    assert trace.iters.tolist() == log_schedule(20, 2000)


@pytest.mark.parametrize(("n", "epochs", "batch_size"), [(2000, 1, 1), (2000, 10, 1), (500, 40, 1), (3000, 2, 16)])
def test_the_default_schedule(n, epochs, batch_size):
    """At least 20 log-spaced points per run, about 2 per epoch beyond 10 epochs, never denser than 20 per decade."""
    problem = LeastSquares(make_regression(n=n, dim=4, seed=0))
    trace = sl.run(problem, sl.methods.SGD(lr=0.01), epochs=epochs, batch_size=batch_size)
    total = math.ceil(epochs * n / batch_size)
    points = schedule.auto_points_per_decade(total, batch_size, n)
    assert trace.iters.tolist() == log_schedule(points, total)
    wanted = max(20, 2 * epochs)
    densest = len(log_schedule(20, total))
    assert len(trace) >= min(wanted, densest) and len(trace) <= densest
    if points > 1:  # the fewest points per decade that give as many
        assert len(log_schedule(points - 0.5, total)) < wanted


def test_the_default_schedule_for_short_and_timed_runs():
    assert schedule.count_checkpoints(20, 5) == 6  # every iteration
    assert schedule.auto_points_per_decade(5, 1, 100) == 20
    assert schedule.auto_points_per_decade(math.inf, 1, 100) == schedule.UNKNOWN_LENGTH_PER_DECADE
    assert schedule.count_checkpoints(schedule.auto_points_per_decade(10**5, 1, 10**5), 10**5) >= 20


def test_a_default_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    problem = make_problem("logistic_l2")
    kwargs = {"epochs": 6, "seed": 2}
    full = sl.run(problem, sl.methods.SAGA(), **kwargs)
    from sgdlab.engine import recorder

    measure, calls = recorder.loss_and_grad, {"n": 0}

    def interrupting(*args, **kw):
        calls["n"] += 1
        if calls["n"] > len(full) // 2:
            raise KeyboardInterrupt
        return measure(*args, **kw)

    monkeypatch.setattr(recorder, "loss_and_grad", interrupting)
    with pytest.raises(KeyboardInterrupt):
        sl.run(problem, sl.methods.SAGA(), checkpoint_path=tmp_path / "c", checkpoint_every=0.0, **kwargs)
    monkeypatch.setattr(recorder, "loss_and_grad", measure)
    resumed = sl.run(problem, sl.methods.SAGA(), resume=tmp_path / "c", **kwargs)
    for name, column in full.columns.items():
        if name != "time_s":
            np.testing.assert_array_equal(resumed.columns[name], column, err_msg=name)
    assert resumed.measure_s > 0
