"""Compiled segments (`sgdlab.engine.compiled`) against the Python engine: same trajectories, same stops, same state.

Tolerance: counters (iters, grad_evals, epochs) and statuses are compared exactly; iterates and metrics to
``rtol = 1e-10`` (float64). The kernels repeat the reference's element-wise operations in the same order, so
the only differences are sums of several terms that BLAS orders its own way (dense ``a_iᵀx`` and ``A_Bᵀs``) and
the fused Adam/RMSProp loops' ``(1−β)(g·g)`` for ``((1−β)g)·g`` — last-bit differences that a few hundred
contracting iterations keep at ~1e-13; softmax adds its own sums over the K classes. CSR runs with one sample
per iteration of SGD, SAG and SAGA use lazy (just-in-time) updates, whose closed forms for the L2 shrinkage and
the table mean round differently: they too agree to ``rtol = 1e-10`` (observed ≤ 1e-12), and SGD without L2 is
bit-identical. Other CSR runs of SGD, SAG, SAGA and SVRG on least squares and logistic regression happen to be
bit-identical.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

import sgdlab as sl
from method_db import COMPILED, factories
from sgdlab.data import Dataset, make_classification, make_regression
from sgdlab.engine import Checkpoint, compiled, recorder
from sgdlab.engine.samplers import Sampler

M = sl.methods
RTOL = 1e-10
COUNTERS = ("iters", "grad_evals", "epochs")

PROBLEMS = {
    "ls-dense": lambda: sl.problems.LeastSquares(make_regression(n=120, dim=7, cond=20.0, seed=1)),
    "ls-csr": lambda: sl.problems.LeastSquares(make_regression(n=150, dim=12, density=0.3, seed=2), l2=0.1),
    "logistic-dense": lambda: sl.problems.LogisticRegression(make_classification(n=140, dim=6, seed=3), l2=1e-2),
    "logistic-csr": lambda: sl.problems.LogisticRegression(
        make_classification(n=160, dim=12, density=0.3, seed=4), l2=1e-2
    ),
    "softmax-dense": lambda: sl.problems.SoftmaxRegression(
        make_classification(n=130, dim=5, n_classes=3, seed=5), l2=1e-2
    ),
    "softmax-csr": lambda: sl.problems.SoftmaxRegression(
        make_classification(n=140, dim=10, density=0.3, n_classes=4, seed=6)
    ),
}
_cache: dict = {}


def problem(name):
    if name not in _cache:
        _cache[name] = PROBLEMS[name]()
    return _cache[name]


# every COMPILED configuration of the method table, by id (the tests below name some of them)
METHODS = factories(COMPILED, needs="compiled")
BATCHES = {"b1-uniform": (1, "uniform"), "b5-uniform": (5, "uniform"), "b4-reshuffle": (4, "reshuffle")}


@pytest.fixture
def python_forbidden(monkeypatch):
    """Fail if a run with compiled segments enabled would run in Python: proves the compiled path is under test."""
    segment_for = compiled.segment_for

    def checked(*args):
        segment = segment_for(*args)
        assert segment is not None or not compiled._switch.on, "this run would use python_segment"
        return segment

    monkeypatch.setattr(compiled, "segment_for", checked)


def python_run(*args, **kwargs):
    with compiled.disabled():
        return sl.run(*args, **kwargs)


def assert_same_trace(got, want, exact=False, atol=1e-300):
    """Same trace: counters exactly, values to `RTOL` (or `atol`, for a difference of nearly equal numbers
    such as f − f*), or everything bit for bit when `exact`."""
    assert got.status == want.status and got.diverged_at == want.diverged_at
    assert got.columns.keys() == want.columns.keys()
    for name, column in want.columns.items():
        if name == "time_s":
            continue
        if exact or name in COUNTERS:
            np.testing.assert_array_equal(got.columns[name], column, err_msg=name)
        else:
            np.testing.assert_allclose(got.columns[name], column, rtol=RTOL, atol=atol, err_msg=name)
    if exact:
        np.testing.assert_array_equal(got.x, want.x)
    else:
        np.testing.assert_allclose(got.x, want.x, rtol=RTOL, atol=1e-14)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", PROBLEMS)
def test_compiled_trajectory_equals_the_python_engine(name, method, batch, python_forbidden):
    prob = problem(name)
    b, sampler = BATCHES[batch]
    kwargs = {"epochs": 2.5, "batch_size": b, "sampler": sampler, "seed": 7, "points_per_decade": 8}
    assert compiled.segment_for(METHODS[method]().resolve(prob, b), prob, Sampler(sampler, prob.n, b, None))
    got = sl.run(prob, METHODS[method](), **kwargs)
    want = python_run(prob, METHODS[method](), **kwargs)
    assert_same_trace(got, want)


# problems whose regulariser is not an L2 term: the element-wise methods run `kernels.regularised`
REGULARISED = {
    "nonconvex-dense": lambda: sl.problems.NonconvexLogistic(make_classification(n=140, dim=6, seed=3), penalty=0.5),
    "nonconvex-csr-l2": lambda: sl.problems.NonconvexLogistic(
        make_classification(n=160, dim=12, density=0.3, seed=4), penalty=0.1, l2=1e-2
    ),
    "counterexample": lambda: sl.problems.AdamCounterexample(C=3.0, radius=0.5),
}
ELEMENTWISE = [m for m in METHODS if compiled._segment_kind(METHODS[m]()) == "elementwise"]


@pytest.mark.parametrize("batch", [(1, "uniform"), (2, "reshuffle")])
@pytest.mark.parametrize("method", ELEMENTWISE)
@pytest.mark.parametrize("name", REGULARISED)
def test_compiled_regularised_problems_equal_the_python_engine(name, method, batch, python_forbidden):
    if name not in _cache:
        _cache[name] = REGULARISED[name]()
    prob = _cache[name]
    b, sampler = batch
    budget = {"iters": 300} if name == "counterexample" else {"epochs": 2.5}
    kwargs = {**budget, "batch_size": b, "sampler": sampler, "seed": 7, "points_per_decade": 8}
    got = sl.run(prob, METHODS[method](), **kwargs)
    want = python_run(prob, METHODS[method](), **kwargs)
    # The counterexample's penalty has a kink at |x| = radius. SGD's fused loop rounds x − α g once (a
    # multiply-add, as torch does) where the Python rule rounds twice; a one-ulp difference can put an iterate on
    # the other side of the kink, and with some schedules checkpoints then differ by up to ~1e-6 (measured:
    # 9e-7 with the cosine schedule; every other method agrees to 1e-14 on it).
    kink = name == "counterexample" and method.startswith("SGD")
    assert_same_trace(got, want, atol=1e-5 if kink else 1e-300)


def test_regularised_problems_run_sag_saga_svrg_in_python():
    for make in REGULARISED.values():
        prob = make()
        for method in (M.SAG(lr=0.01), M.SAGA(lr=0.01), M.SVRG(lr=0.01, inner=10)):
            assert compiled.segment_for(method, prob, Sampler("uniform", prob.n, 1, None)) is None
        assert compiled.segment_for(M.Adam(lr=0.01), prob, Sampler("uniform", prob.n, 1, None)) is not None


@pytest.mark.parametrize("method", ["SGD", "SAGA", "Adam"])
@pytest.mark.parametrize("name", ["logistic-dense", "logistic-csr"])
def test_blocks_sampler_runs_compiled_with_the_python_trajectory(name, method, python_forbidden):
    prob = problem(name)
    kwargs = {"epochs": 2.5, "batch_size": 3, "sampler": "blocks", "seed": 5, "points_per_decade": 8}
    assert_same_trace(sl.run(prob, METHODS[method](), **kwargs), python_run(prob, METHODS[method](), **kwargs))


@pytest.mark.parametrize(
    ("method", "name", "batch_size"),
    [("SGD", "ls-dense", 2), ("SAGA", "ls-dense", 2), ("Adam", "ls-dense", 2), ("SGD", "ls-csr", 1),
     ("SAGA", "ls-csr", 1), ("SAG", "ls-csr", 1)],  # one CSR row: lazy chunks, rerun step by step near overflow
)  # fmt: skip
def test_divergence_is_detected_at_the_same_iteration(method, name, batch_size, python_forbidden):
    prob = problem(name)
    make = {"SGD": lambda: M.SGD(lr=50.0), "SAGA": lambda: M.SAGA(lr=50.0), "SAG": lambda: M.SAG(lr=50.0),
            "Adam": lambda: M.Adam(lr=1e156)}[method]  # fmt: skip
    kwargs = {"epochs": 50, "seed": 1, "batch_size": batch_size, "points_per_decade": None}
    got = sl.run(prob, make(), **kwargs)
    want = python_run(prob, make(), **kwargs)
    assert want.status == "diverged" and "‖x‖²" in want.message
    assert_same_trace(got, want)
    assert got.message == want.message


@pytest.mark.parametrize("problem_class", ["LogisticRegression", "SoftmaxRegression"])
@pytest.mark.parametrize("method", ["SGD", "SAGA", "SAG"])
@pytest.mark.parametrize(("l2", "lr"), [(0.0, 0.05), (1.0, 0.5)])
def test_lazy_csr_updates(problem_class, method, l2, lr, monkeypatch, python_forbidden):
    """One CSR row per iteration runs the lazy kernels; with l2·α = 0.5 the shrinkage product underflows every few
    hundred iterations and is folded into x. Same trajectory as the Python engine to rounding (the Python engine's
    products go through BLAS, whose last bits depend on the CPU's kernels, so no bit equality is asked for).
    That fast a contraction reaches the optimum to machine precision, where ‖∇f‖² is pure rounding: only the loss
    is recorded then."""
    from sgdlab.engine import glm_kernels

    calls = []
    for name in ("sgd_lazy_segment", "table_lazy_segment"):
        kernel = getattr(glm_kernels, name)
        monkeypatch.setattr(glm_kernels, name, lambda *a, _k=kernel: calls.append(1) or _k(*a))
    n_classes = 3 if problem_class == "SoftmaxRegression" else 2
    data = make_classification(n=160, dim=40, density=0.1, n_classes=n_classes, seed=4)
    prob = getattr(sl.problems, problem_class)(data, l2=l2)
    make = {"SGD": M.SGD, "SAGA": M.SAGA, "SAG": M.SAG}[method]
    kwargs = {"epochs": 15, "seed": 2, "sampler": "reshuffle", "points_per_decade": 6}
    if l2:
        kwargs.update(points_per_decade=None, record_every=5.0, record=("loss",))  # 800-iteration segments
    got = sl.run(prob, make(lr=lr), **kwargs)
    assert calls
    assert_same_trace(got, python_run(prob, make(lr=lr), **kwargs))
    assert_same_trace(sl.run(prob, make(lr=lr), **kwargs), got, exact=True)  # the same path again: bit for bit


def test_the_deadline_stops_a_compiled_segment(python_forbidden):
    prob = problem("logistic-dense")
    trace = sl.run(prob, M.SGD(), iters=10**12, seconds=0.2, points_per_decade=None)
    assert trace.status == "budget"
    assert 0 < trace.iters[-1] < 10**12


@pytest.mark.parametrize(
    ("method", "batch_size", "name"),
    [("SAGA", 2, "logistic-dense"), ("SVRG", 1, "logistic-dense"), ("Adam", 3, "logistic-dense"),
     ("SGD-cosine", 1, "logistic-dense"), ("SAGA", 1, "logistic-csr"), ("SAG", 1, "softmax-dense")],
)  # fmt: skip
def test_resume_across_a_checkpoint(tmp_path, monkeypatch, method, batch_size, name):
    """Interrupted (at a checkpoint's measurement) and resumed: the compiled run is bit-identical to its
    uninterrupted self, and a run interrupted in Python and resumed compiled matches the Python run (lazy CSR
    updates included: the state holds the same table whichever path wrote it)."""
    prob = PROBLEMS[name]()
    kwargs = {"epochs": 4, "seed": 3, "batch_size": batch_size, "points_per_decade": 10, "record_every": 1.0}
    full = sl.run(prob, METHODS[method](), **kwargs)
    full_python = python_run(prob, METHODS[method](), **kwargs)
    measure = recorder.loss_and_grad  # what every checkpoint calls: patched below to interrupt the run
    for interrupted_in_python, reference, exact in ((False, full, True), (True, full_python, False)):
        calls = {"n": 0}

        def interrupting(*args, calls=calls, **kwargs):
            calls["n"] += 1
            if calls["n"] > len(full.iters) // 2:
                raise KeyboardInterrupt
            return measure(*args, **kwargs)

        path = tmp_path / f"{interrupted_in_python}.ckpt"
        monkeypatch.setattr(recorder, "loss_and_grad", interrupting)
        where = compiled.disabled() if interrupted_in_python else contextlib.nullcontext()
        with pytest.raises(KeyboardInterrupt), where:
            sl.run(prob, METHODS[method](), checkpoint_path=path, checkpoint_every=0.0, **kwargs)
        monkeypatch.setattr(recorder, "loss_and_grad", measure)
        saved = Checkpoint.load(path)
        assert 0 < saved.counters["it"] < full.iters[-1]
        resumed = sl.run(prob, METHODS[method](), resume=path, **kwargs)
        assert_same_trace(resumed, reference, exact=exact)


def test_sgdlab_compiled_0_falls_back_to_python():
    code = (
        "import numpy as np, sgdlab as sl; from sgdlab.engine import compiled, samplers\n"
        "p = sl.problems.LeastSquares(sl.data.make_regression(n=50, dim=3, seed=0))\n"
        "s = samplers.Sampler('uniform', 50, 1, np.random.default_rng(0))\n"
        "print(compiled.segment_for(sl.methods.SGD(lr=0.1), p, s) is None)\n"
    )
    env = {**os.environ, "SGDLAB_COMPILED": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    prob, sampler = problem("ls-dense"), Sampler("uniform", 120, 1, np.random.default_rng(0))
    assert compiled.segment_for(M.SGD(lr=0.1), prob, sampler) is not None
    with compiled.disabled():
        assert compiled.segment_for(M.SGD(lr=0.1), prob, sampler) is None


def test_unsupported_runs_use_python():
    ls = problem("ls-dense")
    uniform = Sampler("uniform", ls.n, 1, np.random.default_rng(0))

    class Custom(sl.problems.LeastSquares):  # a subclass may change the oracle
        pass

    custom = Custom(make_regression(n=60, dim=4, seed=0))
    data32 = make_regression(n=40, dim=3, seed=0)
    ls32 = sl.problems.LeastSquares(Dataset(data32.A.astype(np.float32), data32.y))
    assert compiled.segment_for(M.SGD(lr=0.1), custom, Sampler("uniform", 60, 1, None)) is None
    assert compiled.segment_for(M.SGD(lr=0.1), ls32, Sampler("uniform", 40, 1, None)) is None
    assert compiled.segment_for(M.SGD(lr=0.1), ls, Sampler("full", ls.n, 1, None)) is None
    assert compiled.segment_for(M.GD(), ls, uniform) is None
    assert compiled.segment_for(M.SGD(), ls, uniform) is None  # lr unresolved
    # a float32 start point: the run falls back segment by segment and still works
    trace = sl.run(ls, M.SGD(lr=0.05), epochs=1, dtype=np.float32)
    assert trace.x.dtype == np.float32 and trace.status == "budget"


def test_out_of_core_data_run_in_python(tmp_path):
    data = make_regression(n=60, dim=4, seed=0)
    sl.data.write_npy(tmp_path / "A.npy", tmp_path / "y.npy", [(data.A, data.y)])
    on_disk = sl.problems.LeastSquares(Dataset.from_npy(tmp_path / "A.npy", tmp_path / "y.npy"))
    in_memory = sl.problems.LeastSquares(data)
    for method in (M.SGD(lr=0.05), M.SAGA(lr=0.05)):
        assert compiled.segment_for(method, on_disk, Sampler("uniform", 60, 1, None)) is None
        assert compiled.segment_for(method, in_memory, Sampler("uniform", 60, 1, None)) is not None
        disk, memory = (sl.run(p, method, epochs=2, seed=1) for p in (on_disk, in_memory))
        np.testing.assert_allclose(disk.x, memory.x, rtol=1e-10)


@pytest.mark.parametrize(("kind", "n", "b"), [("uniform", 10, 3), ("uniform", 500, 1), ("reshuffle", 10, 3),
                                              ("reshuffle", 7, 7), ("reshuffle", 500, 4)])  # fmt: skip
def test_sampler_take_equals_repeated_next(kind, n, b):
    ours, reference = (Sampler(kind, n, b, np.random.default_rng(4)) for _ in range(2))
    next(ours), next(reference)
    for k in (1, 5, 1500):
        idx, offsets = ours.take(k)
        for t in range(k):
            np.testing.assert_array_equal(idx[offsets[t] : offsets[t + 1]], next(reference))
        a, r = ours.get_state(), reference.get_state()
        assert a["rng"] == r["rng"] and a["pos"] == r["pos"]
        np.testing.assert_array_equal(a["block"], r["block"])
    for keep in (0, 3):  # untake: as if only `keep` of the last take's batches had been drawn
        ours.take(2000 if kind == "uniform" else n)
        ours.untake(keep)
        for _ in range(keep):
            next(reference)
        assert ours.get_state()["rng"] == reference.get_state()["rng"]
        np.testing.assert_array_equal(ours.take(9)[0], np.concatenate([next(reference) for _ in range(9)]))


def test_unknown_segments_and_kernels_are_errors(monkeypatch):
    """A registered method naming a compiled segment or kernel this engine lacks fails loudly (it used to take Adam's
    path); the compiled element-wise loop refuses an unknown kernel code."""
    import dataclasses

    from sgdlab.engine import glm_kernels

    prob, sampler = problem("ls-dense"), Sampler("uniform", 120, 1, None)

    class Segmentless(M.Adam):
        info = dataclasses.replace(M.Adam.info, compiled="adam-segment")

    with pytest.raises(ValueError, match="no compiled segment 'adam-segment'"):
        compiled.segment_for(Segmentless(lr=0.1), prob, sampler)
    method = M.Adam(lr=0.1)
    monkeypatch.delitem(glm_kernels.CODES, method.fused_spec().kernel)  # a fused kernel without its compiled loop
    with pytest.raises(ValueError, match="fused kernel"):
        compiled.segment_for(method, prob, sampler)

    class Subclass(M.Adam):  # inherits Adam's info without registering it: not compiled (exact classes only)
        pass

    assert compiled.segment_for(Subclass(lr=0.1), prob, sampler) is None
    x, g = np.zeros(prob.dim), np.empty(prob.dim)
    dense_A, indptr, indices, data, dense, y, loss, K, l2 = compiled._problem_data(prob)["arrays"]
    idx, offsets = np.zeros(1, dtype=np.int64), np.array([0, 1], dtype=np.int64)
    with pytest.raises(ValueError, match="unknown kernel code"):
        glm_kernels.elementwise_segment(99, dense_A, indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets,
                                        10.0, np.ones(1), np.zeros(9), np.zeros((1, 2)), x, x, x, g)  # fmt: skip
    from sgdlab.engine.kernels import regularised

    with pytest.raises(ValueError, match="unknown kernel code"):
        regularised.regularised_segment(99, regularised.DATA_GLM, regularised.REG_NONCONVEX, np.ones(1), dense_A,
                                        indptr, indices, data, dense, y, loss, K, l2, x, idx, offsets, 10.0,
                                        np.ones(1), np.zeros(9), np.zeros((1, 2)), x, x, x, g)  # fmt: skip
