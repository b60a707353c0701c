"""A run interrupted mid-way and resumed from its checkpoint equals the uninterrupted run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab as sl
from conftest import make_problem
from sgdlab.engine import Checkpoint

CASES = [
    pytest.param(lambda: sl.methods.SGD(), "uniform", 1, id="SGD-uniform"),
    pytest.param(lambda: sl.methods.Adam(lr=0.01), "reshuffle", 4, id="Adam-reshuffle"),
    pytest.param(lambda: sl.methods.SAGA(), "uniform", 2, id="SAGA-table"),
    pytest.param(lambda: sl.methods.SVRG(), "uniform", 1, id="SVRG-snapshot"),
    pytest.param(lambda: sl.methods.SLBFGS(memory=3), "reshuffle", 2, id="SLBFGS-pairs"),
    pytest.param(lambda: sl.methods.SGD(lr=0.05, schedule="cosine"), "uniform", 1, id="SGD-cosine"),
    pytest.param(lambda: sl.methods.GD(line_search="armijo"), "full", 1, id="GD-Armijo"),
]
KWARGS = {"epochs": 8, "seed": 5, "points_per_decade": 15, "record_every": 1.0}


ORACLE = ("grad_batch", "grad", "component_grads")


def run_counting_oracle_calls(problem, run, interrupt_after=None):
    """Call ``run()`` with the problem's oracle counted; raise KeyboardInterrupt after ``interrupt_after`` calls."""
    calls = {"n": 0}
    originals = {name: getattr(problem, name) for name in ORACLE}

    def counting(fn):
        def wrapped(*args):
            calls["n"] += 1
            if interrupt_after is not None and calls["n"] > interrupt_after:
                raise KeyboardInterrupt
            return fn(*args)

        return wrapped

    for name, fn in originals.items():
        setattr(problem, name, counting(fn))
    try:
        return run(), calls["n"]
    finally:
        for name in ORACLE:
            delattr(problem, name)


@pytest.mark.parametrize(("make", "sampler", "batch_size"), CASES)
def test_resumed_run_equals_the_uninterrupted_run(tmp_path, make, sampler, batch_size):
    problem = make_problem("logistic_l2")
    full, calls = run_counting_oracle_calls(
        problem, lambda: sl.run(problem, make(), sampler=sampler, batch_size=batch_size, **KWARGS)
    )
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        run_counting_oracle_calls(
            problem,
            lambda: sl.run(problem, make(), sampler=sampler, batch_size=batch_size, checkpoint_path=path,
                           checkpoint_every=0.0, **KWARGS),
            interrupt_after=calls // 2 + 3,
        )  # fmt: skip
    saved = Checkpoint.load(path)
    assert 0 < saved.counters["it"] < full.iters[-1]
    # counted too, so that its checkpoints measure through the same (patched) oracle as the runs above
    resumed, _ = run_counting_oracle_calls(
        problem, lambda: sl.run(problem, make(), sampler=sampler, batch_size=batch_size, resume=path, **KWARGS)
    )
    np.testing.assert_array_equal(resumed.x, full.x)
    assert resumed.status == full.status
    for name, column in full.columns.items():
        if name != "time_s":
            np.testing.assert_array_equal(resumed.columns[name], column, err_msg=name)


def test_a_checkpoint_resumes_only_its_own_run(tmp_path):
    problem = make_problem("logistic_l2")
    path = tmp_path / "run.ckpt"
    sl.run(problem, sl.methods.SGD(), epochs=1, seed=1, checkpoint_path=path, checkpoint_every=0.0)
    with pytest.raises(ValueError, match="differs in seed"):
        sl.run(problem, sl.methods.SGD(), epochs=1, seed=2, resume=path)
    with pytest.raises(ValueError, match="differs in hyperparameters"):
        sl.run(problem, sl.methods.SGD(lr=0.1), epochs=1, seed=1, resume=path)
    with pytest.raises(ValueError, match=r"differs in .*x0"):
        sl.run(problem, sl.methods.SGD(), epochs=1, seed=1, resume=path, x0=np.full(problem.dim, 0.1))
    with pytest.raises(ValueError, match=r"differs in .*data"):
        sl.run(make_problem("logistic_sparse_01"), sl.methods.SGD(), epochs=1, seed=1, resume=path)


def test_unreadable_checkpoints_are_clear_errors(tmp_path):
    problem = make_problem("logistic_l2")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        sl.run(problem, sl.methods.SGD(), epochs=1, resume=tmp_path / "missing")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable sgdlab checkpoint"):
        sl.run(problem, sl.methods.SGD(), epochs=1, resume=bad)
