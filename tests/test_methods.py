"""Behaviour of every method through the engine, default step-size rules, and hyperparameter checks."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab as sl
from conftest import make_problem, well_conditioned_logistic
from method_db import ROWS, bad_hyperparameters
from sgdlab.engine import Checkpoint, recorder
from sgdlab.methods import GD, METHODS, SAG, SAGA, SGD, SVRG, StepDecay

ALL_METHODS = [pytest.param(name, id=name) for name in METHODS]
ROW_PARAMS = [pytest.param(row, id=row.name) for row in ROWS]


@pytest.fixture(scope="module")
def logistic():
    return well_conditioned_logistic()


def test_the_table_has_one_row_per_registered_method():
    assert [row.cls for row in ROWS] == list(METHODS.values())
    for row in ROWS:
        info = row.cls.info
        assert "info" in vars(row.cls), f"{row.name} registers no MethodInfo"
        assert row.cls.full_batch == info.full_batch
        assert (row.reference is not None) == info.elementwise, f"{row.name}: an element-wise row needs a reference"
        assert info.fused is None or info.elementwise, f"{row.name}: a fused kernel needs a bare step"
        assert row.default_lr is not None and row.configs


@pytest.mark.parametrize("name", ALL_METHODS)
def test_every_method_is_constructible_without_arguments(name):
    method = METHODS[name]()
    assert method.name == name
    assert name in repr(method)
    assert set(method.hyperparameters()) >= {"lr", "schedule"}


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_default_settings_decrease_the_loss_of_a_well_conditioned_logistic_problem(logistic, row):
    """A clear, sustained decrease: the slowest defaults (Adagrad's lr = 0.01, AMSGrad) still remove ~40 %
    of the suboptimality in 5 epochs (a row may ask for more: ``default_epochs``); single noisy steps cannot fake
    the last five checkpoints."""
    trace = sl.run(logistic, row.name, epochs=row.default_epochs, seed=0)
    assert trace.status == "budget"
    assert trace.subopt[-1] < 0.7 * trace.subopt[0]
    assert np.all(trace.subopt[-5:] < trace.subopt[0])


@pytest.mark.parametrize("name", ALL_METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_method_runs_in_float32_and_float64(logistic, name, dtype):
    trace = sl.run(logistic, name, epochs=1, batch_size=8, dtype=dtype)
    assert trace.x.dtype == dtype and np.isfinite(trace.x).all()


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_default_step_sizes_follow_the_documented_rules(logistic, row):
    resolved = row.cls().resolve(logistic, batch_size=1)
    assert resolved.lr == pytest.approx(row.default_lr(logistic), rel=1e-12)


@pytest.mark.parametrize("row", ROW_PARAMS)
def test_every_method_resumes_from_a_checkpoint_bit_for_bit(tmp_path, monkeypatch, row):
    """Interrupted at a checkpoint's measurement and resumed: the same trace as the uninterrupted run (the compiled
    segments included, where the method has one)."""
    prob = well_conditioned_logistic()
    kwargs = {"epochs": 3, "seed": 4, "batch_size": 4, "points_per_decade": 8, "record_every": 1.0}
    full = sl.run(prob, row.cls(), **kwargs)
    measure, calls = recorder.loss_and_grad, {"n": 0}  # what every checkpoint calls: patched to interrupt the run

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > len(full.iters) // 2:
            raise KeyboardInterrupt
        return measure(*args, **kwargs)

    path = tmp_path / "run.ckpt"
    monkeypatch.setattr(recorder, "loss_and_grad", interrupting)
    with pytest.raises(KeyboardInterrupt):
        sl.run(prob, row.cls(), checkpoint_path=path, checkpoint_every=0.0, **kwargs)
    monkeypatch.setattr(recorder, "loss_and_grad", measure)
    assert 0 < Checkpoint.load(path).counters["it"] < full.iters[-1]
    resumed = sl.run(prob, row.cls(), resume=path, **kwargs)
    np.testing.assert_array_equal(resumed.x, full.x)
    for name, column in full.columns.items():
        if name != "time_s":
            np.testing.assert_array_equal(resumed.columns[name], column, err_msg=name)


def test_minibatch_default_uses_the_expected_smoothness(logistic):
    b = 16
    L_b = logistic.L_max / b + (1 - 1 / b) * logistic.L
    assert SGD().resolve(logistic, batch_size=b).lr == pytest.approx(0.5 / L_b)
    assert SVRG().resolve(logistic, batch_size=b).inner == round(2 * logistic.n / b)


def test_resolve_leaves_the_users_object_unchanged(logistic):
    method = SGD()
    method.resolve(logistic)
    assert method.lr is None
    assert SGD(lr=0.3).resolve(logistic).lr == 0.3


@pytest.mark.parametrize("cls", [SAGA, SVRG])
def test_variance_reduction_converges_linearly_to_1e_8(cls):
    """Reach 1e-8 with the default step, and at a linear rate: the epochs spent going from 1e-2 to 1e-5
    and from 1e-5 to 1e-8 are alike (a sublinear 1/k rate would need ~1000× more for the second leg)."""
    problem = sl.problems.LogisticRegression(sl.data.make_classification(n=200, dim=8, cond=5.0, seed=2), l2=0.05)
    trace = sl.run(problem, cls(), epochs=200, target_subopt=1e-9, points_per_decade=50)
    assert trace.status == "ok"

    def first_epoch_below(level):
        return trace.epochs[np.argmax(trace.subopt <= level)]

    leg1 = first_epoch_below(1e-5) - first_epoch_below(1e-2)
    leg2 = first_epoch_below(1e-8) - first_epoch_below(1e-5)
    assert 0.3 < leg2 / leg1 < 3.0


def test_sag_converges_linearly_with_its_practical_step():
    problem = sl.problems.LogisticRegression(sl.data.make_classification(n=200, dim=8, cond=5.0, seed=2), l2=0.05)
    trace = sl.run(problem, SAG(lr=1 / problem.L_max), epochs=200, target_subopt=1e-8)
    assert trace.status == "ok"


def test_constant_step_sgd_stalls_where_saga_does_not():
    problem = sl.problems.LogisticRegression(sl.data.make_classification(n=200, dim=8, cond=5.0, seed=2), l2=0.05)
    sgd = sl.run(problem, SGD(), epochs=60, seed=0)
    saga = sl.run(problem, SAGA(), epochs=60, seed=0)
    assert saga.subopt[-1] < 1e-3 * sgd.subopt[-1]


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_armijo_gd_needs_no_tuning(scale):
    data = sl.data.make_regression(n=100, dim=10, cond=20.0, seed=1)
    problem = sl.problems.LeastSquares(sl.data.Dataset(scale * data.A, data.y))  # L spans 1e-6 .. 1e6
    trace = sl.run(problem, GD(line_search="armijo"), iters=400, target_subopt=1e-10 * problem.loss(np.zeros(10)))
    assert trace.status == "ok"


def test_gd_with_its_default_step_converges_linearly():
    problem = make_problem("ls_dense")
    trace = sl.run(problem, GD(), iters=2000, target_subopt=1e-12)
    assert trace.status == "ok"


def test_mini_batch_saga_handles_repeated_indices():
    problem = make_problem("logistic_l2")
    trace = sl.run(problem, SAGA(), epochs=300, batch_size=8, target_subopt=1e-10)
    assert trace.status == "ok"


def test_unresolved_step_size_is_a_clear_error():
    x = np.zeros(3)
    method = SGD()
    with pytest.raises(ValueError, match=r"SGD\.lr is unset"):
        method.step(x, np.ones(3), method.init(x))


@pytest.mark.parametrize("cls", [row.cls for row in ROWS if not row.cls.info.elementwise])
def test_oracle_methods_refuse_a_bare_step(cls):
    x = np.zeros(3)
    method = cls(lr=0.1)
    with pytest.raises(TypeError, match=r"sgdlab\.run"):
        method.step(x, np.ones(3), method.init(x))


def test_armijo_gd_refuses_a_bare_step():
    x = np.zeros(3)
    with pytest.raises(TypeError, match="line search"):
        GD(line_search="armijo").step(x, np.ones(3), {"k": 0})


# every row's bad inputs (the method table), and the schedules'
BAD_HYPERPARAMETERS = [
    *bad_hyperparameters(),
    (lambda: StepDecay(every=0), ValueError, "every must be >= 1"),
    (lambda: StepDecay(factor=1.5), ValueError, "factor must be in"),
]


@pytest.mark.parametrize(("make", "error", "message"), BAD_HYPERPARAMETERS)
def test_bad_hyperparameters_are_refused_naming_the_parameter(make, error, message):
    with pytest.raises(error, match=message):
        make()


BAD_ITERATES = [
    ([0.0, 1.0], TypeError, "NumPy array"),
    (np.zeros(2, dtype=np.int64), TypeError, "float32 or float64"),
    (np.array([0.0, np.nan]), ValueError, "NaN or Inf"),
]
