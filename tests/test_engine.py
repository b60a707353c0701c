"""The run engine: budgets, sampling, checkpoints, divergence, reproducibility, Trace."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest

import sgdlab as sl
from conftest import make_problem, well_conditioned_logistic
from sgdlab.engine import Sampler
from sgdlab.methods import SGD, Adam


@pytest.fixture(scope="module")
def logistic():
    return well_conditioned_logistic()


@pytest.mark.parametrize("sampler", ["uniform", "reshuffle", "blocks", "full"])
@pytest.mark.parametrize("method", [SGD(), Adam(), sl.methods.SAGA(), sl.methods.SVRG()], ids=lambda m: m.name)
def test_same_seed_gives_a_bit_identical_trace(logistic, sampler, method):
    runs = [sl.run(logistic, method, epochs=2, batch_size=4, sampler=sampler, seed=7) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    for column in runs[0].columns:
        if column != "time_s":
            np.testing.assert_array_equal(runs[0].columns[column], runs[1].columns[column])


def test_different_seeds_give_different_runs(logistic):
    a, b = (sl.run(logistic, SGD(), epochs=1, seed=s) for s in (0, 1))
    assert not np.array_equal(a.x, b.x)


def test_uniform_sampler_draws_with_replacement_uniformly():
    sampler = Sampler("uniform", 10, 3, np.random.default_rng(0))
    counts = np.bincount(np.concatenate([next(sampler) for _ in range(20_000)]), minlength=10)
    # each count ~ Binomial(60000, 0.1): std ≈ 73, so ±5 std is ±370
    assert np.all(np.abs(counts - 6000) < 370)


def test_reshuffle_visits_every_index_once_per_epoch():
    sampler = Sampler("reshuffle", 10, 4, np.random.default_rng(0))
    for _ in range(3):
        epoch = [next(sampler) for _ in range(3)]  # batches of 4, 4, 2
        assert [len(b) for b in epoch] == [4, 4, 2]
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))


def test_full_sampler_returns_every_index():
    np.testing.assert_array_equal(next(Sampler("full", 5, 1, np.random.default_rng(0))), np.arange(5))


BLOCK_CASES = [(10, 3, 4), (10, 1, 10), (23, 4, 5), (7, 7, 7), (100, 8, 16), (50, 2, 1000)]  # n, b, block_rows


@pytest.mark.parametrize(("n", "b", "block_rows"), BLOCK_CASES)
def test_blocks_sampler_visits_every_index_once_per_epoch_block_by_block(n, b, block_rows):
    sampler = Sampler("blocks", n, b, np.random.default_rng(0), block_rows=block_rows)
    sizes = [min(block_rows, n - first) for first in range(0, n, block_rows)]
    per_epoch = sum(-(-size // b) for size in sizes)  # each block cut into batches of b, the last one shorter
    epochs = [[next(sampler) for _ in range(per_epoch)] for _ in range(3)]
    for epoch in epochs:
        assert sorted(np.concatenate(epoch).tolist()) == list(range(n))
        assert all(len(set((batch // block_rows).tolist())) == 1 for batch in epoch)  # never across a block
        assert [len(batch) for batch in epoch].count(b) >= len(epoch) - len(sizes)
    if n > block_rows:  # fresh orders each epoch
        assert any(not np.array_equal(np.concatenate(epochs[0]), np.concatenate(e)) for e in epochs[1:])


@pytest.mark.parametrize("kind", ["uniform", "reshuffle", "blocks", "full"])
def test_sampler_state_reproduces_the_stream(kind):
    """The same seed gives the same stream; a state saved mid-way continues it on a fresh sampler."""
    make = lambda seed: Sampler(kind, 23, 4, np.random.default_rng(seed), block_rows=5)  # noqa: E731
    a, b = make(3), make(3)
    head = [next(a) for _ in range(11)]
    np.testing.assert_array_equal(np.concatenate(head), np.concatenate([next(b) for _ in range(11)]))
    state = a.get_state()
    rest = np.concatenate([next(a) for _ in range(40)])
    resumed = make(99)
    resumed.set_state(pickle.loads(pickle.dumps(state)))
    np.testing.assert_array_equal(np.concatenate([next(resumed) for _ in range(40)]), rest)


@pytest.mark.parametrize(("n", "b", "block_rows"), BLOCK_CASES)
def test_blocks_sampler_take_and_untake_equal_repeated_next(n, b, block_rows):
    ours, reference = (Sampler("blocks", n, b, np.random.default_rng(4), block_rows=block_rows) for _ in range(2))
    next(ours), next(reference)
    for k in (1, 5, 300):
        idx, offsets = ours.take(k)
        np.testing.assert_array_equal(idx, np.concatenate([next(reference) for _ in range(k)]))
        assert all(len(set((idx[s:e] // block_rows).tolist())) == 1 for s, e in itertools.pairwise(offsets))
        assert ours.get_state()["rng"] == reference.get_state()["rng"]
    for keep in (0, 3):  # as if only `keep` of the last take's batches had been drawn
        ours.take(2 * n)
        ours.untake(keep)
        for _ in range(keep):
            next(reference)
        np.testing.assert_array_equal(ours.take(9)[0], np.concatenate([next(reference) for _ in range(9)]))


@pytest.mark.parametrize("kind", ["uniform", "blocks"])
def test_samplers_hold_nothing_n_sized(kind):
    """Sampling 10^10 rows allocates no arange(n); "blocks" holds one block and one order of blocks."""
    n, block_rows = 10**10, 10**5
    sampler = Sampler(kind, n, 2, np.random.default_rng(0), block_rows=block_rows)
    assert sampler._all is None
    assert next(sampler).max() < n
    held = sum(v.nbytes for v in sampler.get_state().values() if isinstance(v, np.ndarray))
    assert held <= {"uniform": 1024 * 2 * 8, "blocks": (block_rows + n // block_rows) * 8}[kind]


def test_blocks_sampler_arguments():
    with pytest.raises(ValueError, match="exceeds the 4 rows of a block"):
        Sampler("blocks", 10, 5, np.random.default_rng(0), block_rows=4)
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        Sampler("blocks", 10, 1, np.random.default_rng(0), block_rows=0)
    state = Sampler("blocks", 10, 1, np.random.default_rng(0), block_rows=4).get_state()
    with pytest.raises(ValueError, match="blocks of 4 rows, not 5"):
        Sampler("blocks", 10, 1, np.random.default_rng(0), block_rows=5).set_state(state)


@pytest.mark.parametrize(
    ("kwargs", "column", "expected"),
    [
        ({"epochs": 3}, "grad_evals", 900),
        ({"epochs": 3, "batch_size": 7}, "epochs", 903 / 300),  # the last iteration may overshoot
        ({"grad_evals": 250}, "grad_evals", 250),
        ({"iters": 123}, "iters", 123),
        ({"iters": 50, "epochs": 100}, "iters", 50),  # the first budget reached stops the run
    ],
)
def test_budgets(logistic, kwargs, column, expected):
    trace = sl.run(logistic, SGD(), **kwargs)
    assert trace.status == "budget"
    assert trace.columns[column][-1] == pytest.approx(expected)


def test_seconds_budget_stops_the_run(logistic):
    trace = sl.run(logistic, SGD(), seconds=0.2)
    assert trace.status == "budget" and trace.iters[-1] > 0


def test_gd_counts_n_evaluations_per_iteration(logistic):
    trace = sl.run(logistic, sl.methods.GD(), iters=5)
    assert list(trace.grad_evals) == [0, 300, 600, 900, 1200, 1500]
    assert trace.sampler == "full"


BAD_RUN_ARGUMENTS = [
    ({}, ValueError, "give a budget"),
    ({"epochs": 0}, ValueError, "epochs must be > 0"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"iters": 0}, ValueError, "iters must be >= 1"),
    ({"iters": 2.5}, TypeError, "iters must be an integer"),
    ({"seconds": float("inf")}, ValueError, "seconds must be finite"),
    ({"epochs": 1, "batch_size": 0}, ValueError, "batch_size"),
    ({"epochs": 1, "batch_size": 10_000}, ValueError, "batch_size must be between 1 and n"),
    ({"epochs": 1, "sampler": "importance"}, ValueError, "sampler must be one of"),
    ({"epochs": 1, "x0": np.zeros(3)}, ValueError, "x0 must have shape"),
    ({"epochs": 1, "x0": np.full(10, np.nan)}, ValueError, "x0 contains NaN"),
    ({"epochs": 1, "x0": np.zeros(10, dtype=int), "dtype": np.int64}, TypeError, "float32 or float64"),
    ({"epochs": 1, "record": ("loss", "accuracy")}, ValueError, "record entry"),
    ({"epochs": 1, "points_per_decade": 0}, ValueError, "points_per_decade"),
    ({"epochs": 1, "test": np.zeros((3, 3))}, TypeError, "test must be"),
]


def test_unknown_method_and_problem_are_rejected(logistic):
    with pytest.raises(ValueError, match="unknown method 'Adamax'"):
        sl.run(logistic, "Adamax", epochs=1)
    with pytest.raises(TypeError, match="method must be"):
        sl.run(logistic, object(), epochs=1)
    with pytest.raises(TypeError, match="problem must be"):
        sl.run("logistic", SGD(), epochs=1)


def test_methods_can_be_named_or_given_as_classes(logistic):
    a = sl.run(logistic, "Adam", epochs=1)
    b = sl.run(logistic, Adam, epochs=1)
    np.testing.assert_array_equal(a.x, b.x)


def test_checkpoints_are_log_spaced_and_include_the_end(logistic):
    trace = sl.run(logistic, SGD(), epochs=10, points_per_decade=10)  # 3000 iterations
    iters = trace.iters
    assert iters[0] == 0 and iters[-1] == 3000
    assert np.all(np.diff(iters) > 0)
    assert list(iters[1:4]) == [1, 2, 3]
    per_decade = np.sum((iters >= 100) & (iters < 1000))
    assert 9 <= per_decade <= 11
    assert trace.time_s[0] == 0.0 and np.all(np.diff(trace.time_s) >= 0)


def test_regular_checkpoints_every_epoch(logistic):
    trace = sl.run(logistic, SGD(), epochs=5, points_per_decade=1, record_every=1.0)
    assert {1.0, 2.0, 3.0, 4.0, 5.0} <= set(trace.epochs.tolist())


def test_regular_checkpoints_only(logistic):
    trace = sl.run(logistic, SGD(), epochs=3, points_per_decade=None, record_every=0.5)
    np.testing.assert_allclose(trace.epochs, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])


def test_trace_survives_pickling(logistic):
    trace = sl.run(logistic, Adam(), epochs=1)
    copy = pickle.loads(pickle.dumps(trace))
    np.testing.assert_array_equal(copy.loss, trace.loss)
    assert copy.status == trace.status and copy.hyperparameters == trace.hyperparameters


def test_all_metrics_are_recorded_and_consistent(logistic):
    trace = sl.run(logistic, SGD(), epochs=2)
    np.testing.assert_allclose(trace.subopt, trace.loss - logistic.f_star)
    assert np.all(trace.subopt >= -1e-12)
    final = trace.x
    assert trace.loss[-1] == pytest.approx(logistic.loss(final))
    assert trace.grad_norm2[-1] == pytest.approx(np.sum(logistic.grad(final) ** 2))
    assert trace.dist2[-1] == pytest.approx(np.sum((final - logistic.x_star) ** 2))


def test_recording_only_some_metrics_skips_the_optimum():
    problem = sl.problems.LogisticRegression(
        sl.data.Dataset(np.array([[1.0, 0.0], [-1.0, 0.5], [2.0, 1.0]]), np.array([1, -1, 1]))
    )  # separable: no optimum exists, but loss and gradient can still be recorded
    trace = sl.run(problem, SGD(lr=0.1), epochs=2, record=("loss", "grad_norm2"))
    assert set(trace.columns) == {"iters", "grad_evals", "epochs", "time_s", "loss", "grad_norm2"}


def test_test_metrics_are_recorded(logistic):
    data = sl.data.make_classification(n=400, dim=10, cond=5.0, seed=11)
    train, test = data.split(0.25, seed=0)
    trace = sl.run(sl.problems.LogisticRegression(train, l2=1e-2), SGD(), epochs=2, test=test)
    assert np.all((trace.test_accuracy >= 0) & (trace.test_accuracy <= 1))
    assert trace.test_accuracy[-1] > 0.6
    assert trace.test_loss[-1] < trace.test_loss[0]


def test_divergence_is_detected_without_warnings_or_nans(logistic):
    problem = make_problem("ls_dense")
    trace = sl.run(problem, SGD(lr=50.0), epochs=50)  # pytest turns any RuntimeWarning into an error
    assert trace.status == "diverged"
    assert isinstance(trace.diverged_at, int) and 0 < trace.diverged_at < 50 * problem.n
    assert np.all(np.isfinite(trace.loss))
    assert trace.message


def test_exploding_but_finite_loss_counts_as_divergence():
    problem = make_problem("ls_dense")
    trace = sl.run(problem, SGD(lr=10.0 / problem.L_max), epochs=30, divergence_factor=1e3)
    assert trace.status == "diverged"
    assert "exceeded" in trace.message


def test_target_suboptimality_stops_early():
    problem = make_problem("ls_sparse_l2")
    trace = sl.run(problem, sl.methods.GD(), iters=10_000, target_subopt=1e-6)
    assert trace.status == "ok"
    assert trace.subopt[-1] <= 1e-6 and trace.iters[-1] < 10_000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_runs_keep_the_requested_dtype(logistic, dtype):
    trace = sl.run(logistic, Adam(), epochs=1, dtype=dtype)
    assert trace.x.dtype == dtype
    assert np.isfinite(trace.loss).all()


def test_trace_converts_to_a_dataframe(logistic):
    trace = sl.run(logistic, SGD(), epochs=1, seed=3)
    frame = trace.to_frame()
    assert len(frame) == len(trace)
    assert {"iters", "epochs", "time_s", "loss", "subopt", "grad_norm2", "dist2", "method", "seed"} <= set(frame)
    assert (frame["method"] == "SGD").all() and (frame["seed"] == 3).all()
    assert "SGD" in repr(trace)
    with pytest.raises(AttributeError, match="no column"):
        _ = trace.accuracy


def test_cosine_schedule_takes_the_run_length(logistic):
    trace = sl.run(logistic, SGD(lr=0.5, schedule="cosine"), epochs=1)
    assert trace.hyperparameters["schedule"].startswith("Cosine(total=300")
    assert math.isfinite(trace.loss[-1])


def test_diverged_at_is_the_iteration_where_the_iterate_explodes(capfd):
    problem = make_problem("ls_dense")
    method = SGD(lr=200.0)
    trace = sl.run(problem, method, epochs=20, seed=4, divergence_factor=1.7e308)  # only the exploding iterate counts
    assert trace.status == "diverged" and "exploded" in trace.message
    # replay the same index sequence by hand and find the first iterate whose squared norm overflows
    sampler = Sampler("uniform", problem.n, 1, np.random.default_rng(4))
    x, state = problem.initial_point(), method.resolve(problem).init(problem.initial_point())
    with np.errstate(all="ignore"):
        steps = 0
        while np.isfinite(x @ x) and steps < 20 * problem.n:
            method.step(x, problem.grad_batch(x, next(sampler)), state)
            steps += 1
    assert trace.diverged_at == steps
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no warnings, no NaN spam


def test_logistic_overflow_is_caught_as_an_exploding_loss(capfd):
    problem = sl.problems.LogisticRegression(sl.data.make_classification(n=200, dim=5, seed=1))
    trace = sl.run(problem, sl.methods.Momentum(lr=1e3, beta=0.99), epochs=50, divergence_factor=1e3)
    assert trace.status == "diverged" and trace.diverged_at > 0
    assert np.isfinite(trace.loss).all() and capfd.readouterr() == ("", "")


# --- the run's named parts ------------------------------------------------------------------------------------


def test_compiled_imports_the_segment_module_at_top_level_and_never_the_loop():
    """The former circle compiled ↔ loop: compiled now imports `engine.segment`, which imports no engine module
    that imports compiled."""
    import ast
    from pathlib import Path

    from sgdlab.engine import compiled, segment

    def imports(module):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
        anywhere = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        return top, anywhere

    top, anywhere = imports(compiled)
    assert "sgdlab.engine.segment" in top and "sgdlab.engine.loop" not in anywhere
    _, anywhere = imports(segment)
    assert not {m for m in anywhere if m and m.startswith("sgdlab.engine")} - {"sgdlab.engine.samplers"}


def test_describe_checks_everything_before_a_run(logistic):
    from sgdlab.engine.description import describe

    run = describe(logistic, "SGD", epochs=2, batch_size=3, record="loss")
    assert (run.max_evals, run.max_iters, run.max_seconds) == (2 * logistic.n, math.inf, math.inf)
    assert run.record == ("loss",) and run.points_per_decade == "auto" and not run.needs_optimum
    assert run.signature() is None  # neither saved nor resumed
    assert describe(logistic, "GD", iters=3).sampler == "full"
    with pytest.raises(ValueError, match="points_per_decade"):
        describe(logistic, "SGD", epochs=1, points_per_decade=0)
    with pytest.raises(ValueError, match="give a budget"):
        describe(logistic, "SGD")


def test_prepare_is_the_set_up_run_and_iterate_path_share(logistic):
    from sgdlab.engine.prepare import prepare, starting_point
    from sgdlab.viz import iterate_path

    x = starting_point(logistic, None, None)
    start = prepare(logistic, SGD(lr=0.1), sampler="uniform", batch_size=2, seed=3, x=x, max_iters=7)
    assert start.total_iters == 7 and start.x is x and start.stream.batch_size == 2
    for _ in range(7):
        start.segment(start.method, logistic, x, start.state, start.stream, 1, math.inf, math.inf)
    np.testing.assert_array_equal(x, iterate_path(logistic, SGD(lr=0.1), 7, batch_size=2, seed=3)[-1])
    np.testing.assert_array_equal(x, sl.run(logistic, SGD(lr=0.1), iters=7, batch_size=2, seed=3).x)


def test_trace_reports_the_time_spent_measuring(logistic):
    trace = sl.run(logistic, SGD(), epochs=2, points_per_decade=20)
    assert trace.measure_s > 0
    assert "measure_s" not in trace.columns  # an attribute beside the time_s column, not a column
