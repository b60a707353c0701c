"""The sgdlab.torch fast path (`sgdlab.torch.fast_path`) against the reference path, over the method table.

The reference is the per-parameter loop of `SgdlabOptimizer.step` running ``method.step`` on the tensors (torch
operations), which is what ``fused.disabled()`` and ``SGDLAB_FUSED=0`` select. Each test spies on the fast path's
launch seam to know which path ran; none measures time. B5's quick mode runs end to end at the bottom.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

import sgdlab.torch as st
from method_db import STEP, cases
from sgdlab.methods import fused
from sgdlab.torch import fast_path
from test_torch_optim import sgdlab_optimizer

ROOT = Path(__file__).resolve().parent.parent
# Every sgdlab.torch optimizer in every STEP configuration of the method table.
# (optimizer name, table configuration): built through the interface that configuration speaks (sgdlab_optimizer)
CONFIGS = [pytest.param(p.values[0].name, p.values[1], id=p.id) for p in cases(STEP, needs="torch")]
DTYPES = [pytest.param(torch.float64, id="float64"), pytest.param(torch.float32, id="float32")]
# float32: the fused loops round `x − lr·d` once (a multiply-add, as torch's kernels), the reference formula twice;
# where a step is large against x (a one-element tensor, gradients ×10) that is ~10 ulps of x after six steps.
TOLERANCE = {torch.float64: 1e-12, torch.float32: 2e-6}
BIG = fused.MIN_SIZE + 77  # the mixed lists' big tensors; the tests split groups from this size on (PARALLEL_MIN)


def _mixed_parameters(dtype, seed=0):
    """Big and small tensors, a non-contiguous parameter, one whose gradient is non-contiguous, one without a
    gradient; returns the parameters and a function giving the gradients of step ``i`` (None: no gradient)."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype)

    params = [
        randn(BIG),  # big
        randn(300, 250),  # big, 2-D
        randn(7),  # small
        randn(3, 5, 2),  # small
        randn(1),
        randn(40, 30).t(),  # non-contiguous parameter
        randn(50),  # its gradient will be non-contiguous
        randn(9),  # never has a gradient
    ]
    params = [torch.nn.Parameter(p) for p in params]
    assert not params[5].is_contiguous()

    def grads(i):
        out = []
        for j, p in enumerate(params):
            if j == 7:
                out.append(None)
            elif j == 6:
                out.append((randn(p.numel(), 2) * 10.0 ** (i % 3 - 1))[:, 0])
            else:
                out.append(randn(*p.shape) * 10.0 ** (i % 3 - 1))
        assert not out[6].is_contiguous()
        return out

    return params, grads


def _optimizer(name, how, params):
    """The optimizer from plain keywords (a dict, torch's interface) or from a table configuration."""
    return st.OPTIMIZERS[name](params, **how) if isinstance(how, dict) else sgdlab_optimizer(name, how, params)


def _run(name, kwargs, dtype, steps=6, *, reference=False, spy=None):
    """Train a copy of the mixed parameters for ``steps`` steps; returns (params, optimizer, launches per step)."""
    params, grads = _mixed_parameters(dtype)
    opt = _optimizer(name, kwargs, params)
    launches = []
    for i in range(steps):
        gs = grads(i)
        saved = [None if g is None else g.clone() for g in gs]
        for p, g in zip(params, gs, strict=True):
            p.grad = g
        before = len(spy) if spy is not None else 0
        if reference:
            with fused.disabled():
                opt.step()
        else:
            opt.step()
        launches.append((len(spy) if spy is not None else 0) - before)
        for p, g in zip(params, saved, strict=True):  # gradients are never modified
            assert (p.grad is None) == (g is None)
            assert g is None or torch.equal(p.grad, g)
    return params, opt, launches


@pytest.fixture
def spy(monkeypatch):
    """The fast path's launches: (kernel loop, number of tensors, number of threads) per group update. Groups of
    the mixed lists' size are split over the threads (as groups of 2^20 elements and more are)."""
    monkeypatch.setattr(fast_path, "PARALLEL_MIN", fused.MIN_SIZE)
    calls = []
    original = fast_path._launch

    def launch(driver, table, segments, chunks, like, scalars, threads):
        calls.append((driver, table.shape[0], threads))
        return original(driver, table, segments, chunks, like, scalars, threads)

    monkeypatch.setattr(fast_path, "_launch", launch)
    return calls


def _assert_close(a, b, tol):
    a, b = a.detach().double(), b.detach().double()
    scale = float(b.abs().max()) if b.numel() else 0.0
    assert float((a - b).abs().max()) <= tol * max(scale, 1e-300), float((a - b).abs().max()) / max(scale, 1e-300)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_fast_path_equals_the_reference_path(name, kwargs, dtype, spy):
    fast, opt_fast, launches = _run(name, kwargs, dtype, spy=spy)
    assert all(n >= 1 for n in launches), "the fast path was not taken"
    taken = {n for _, n, _ in spy}
    assert taken == {5}, taken  # the five contiguous tensors with contiguous gradients, every step
    spy.clear()
    ref, opt_ref, ref_launches = _run(name, kwargs, dtype, reference=True, spy=spy)
    assert not any(ref_launches)
    tol = TOLERANCE[dtype]
    for p, q in zip(fast, ref, strict=True):
        assert p.dtype == dtype and p.shape == q.shape and p.stride() == q.stride()
        _assert_close(p, q, tol)
        s_fast, s_ref = opt_fast.state[p], opt_ref.state[q]
        assert s_fast.keys() == s_ref.keys()
        for key, value in s_ref.items():
            if torch.is_tensor(value):
                assert s_fast[key].dtype == value.dtype
                _assert_close(s_fast[key], value, tol)
            else:
                assert s_fast[key] == value, key
    assert not opt_fast.state[fast[7]] and torch.equal(fast[7], ref[7])  # no gradient: untouched, no state


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_a_specialised_loop_gives_the_generic_loops_bits(name, kwargs, dtype, spy, monkeypatch):
    # Big groups run a copy of the update loop with its flags, zero and unit hyperparameters as constants
    # (`fused.specialised`); same machine, same threads: the very same bits as the generic loop, state included.
    monkeypatch.setattr(fast_path, "SPECIALISE_MIN", 1 << 62)
    generic, opt_generic, _ = _run(name, kwargs, dtype, spy=spy)
    generic_drivers = {driver for driver, _, _ in spy}
    spy.clear()
    monkeypatch.setattr(fast_path, "SPECIALISE_MIN", 0)
    fixed = []
    original = fused.fixed
    monkeypatch.setattr(fused, "fixed", lambda *args: fixed.append(original(*args)) or fixed[-1])
    special, opt_special, _ = _run(name, kwargs, dtype, spy=spy)
    special_drivers = {driver for driver, _, _ in spy}
    assert fixed and len(set(fixed)) == 1, fixed  # the same constants every step
    # (a Lion with a decay of 0.1 has none: then it is the generic loop)
    assert special_drivers.isdisjoint(generic_drivers) if fixed[0] else special_drivers == generic_drivers
    if name != "Lion":  # every other loop has such an argument (the gradient's sign, its vector lanes)
        assert fixed[0], fixed
    for p, q in zip(special, generic, strict=True):
        assert torch.equal(p, q)
        s_special, s_generic = opt_special.state[p], opt_generic.state[q]
        assert s_special.keys() == s_generic.keys()
        for key, value in s_generic.items():
            assert torch.equal(s_special[key], value) if torch.is_tensor(value) else s_special[key] == value, key


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_version_counters_are_bumped_as_by_an_in_place_operation(name, kwargs, spy):
    p = torch.nn.Parameter(torch.randn(10, dtype=torch.float64))
    opt = _optimizer(name, kwargs, [p])
    p.grad = torch.randn(10, dtype=torch.float64)
    before = p._version
    opt.step()
    assert spy and p._version > before


@pytest.mark.parametrize("threads", [1, 3])
def test_big_groups_are_split_over_torchs_threads(threads, spy):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fast, _, _ = _run("Adam", {"lr": 0.01}, torch.float64, steps=3, spy=spy)
    finally:
        torch.set_num_threads(previous)
    assert {used for _, _, used in spy} == {min(threads, numba.config.NUMBA_NUM_THREADS)}  # (numba's pool size)
    ref, _, _ = _run("Adam", {"lr": 0.01}, torch.float64, steps=3, reference=True)
    for p, q in zip(fast, ref, strict=True):
        _assert_close(p, q, 1e-12)


def test_a_small_group_runs_on_the_calling_thread(spy):
    params = [torch.nn.Parameter(torch.randn(100)) for _ in range(3)]
    opt = st.Adam(params)
    for p in params:
        p.grad = torch.randn(100)
    opt.step()
    assert [(n, threads) for _, n, threads in spy] == [(3, 1)]


def test_mixed_dtypes_and_step_counts_in_one_group(spy):
    """Parameters are batched by float type and step count; a bfloat16 one takes the reference path."""
    gen = torch.Generator().manual_seed(3)
    make = [(BIG, torch.float32), (5, torch.float32), (6, torch.float64), (BIG, torch.float64), (4, torch.bfloat16)]

    def build():
        return [torch.nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64).to(d)) for n, d in make]

    fast, ref = build(), None
    gen.manual_seed(3)
    ref = build()
    opts = st.Adam(fast, lr=0.01), st.Adam(ref, lr=0.01)
    for i in range(5):
        grads = [torch.randn(n, generator=gen, dtype=torch.float64).to(d) for n, d in make]
        for j, (params, opt) in enumerate(zip((fast, ref), opts, strict=True)):
            for k, (p, g) in enumerate(zip(params, grads, strict=True)):
                p.grad = None if (k == 1 and i < 2) else g.clone()  # parameter 1 starts late: another k
            if j == 0:
                opt.step()
            else:
                with fused.disabled():
                    opt.step()
    assert {n for _, n, _ in spy} >= {1, 2}  # (float32, k) batches of one and two tensors, float64's of two
    for p, q in zip(fast, ref, strict=True):
        tol = {torch.float64: 1e-12, torch.float32: 1e-6, torch.bfloat16: 0.0}[p.dtype]
        _assert_close(p, q, tol)
    assert opts[0].state[fast[1]]["k"] == 3 and opts[0].state[fast[0]]["k"] == 5


def _replace_data(params, opt):
    params[2].data = params[2].data.clone()  # same values, new memory: the old pointer must not be written


def _replace_state(params, opt):
    state = opt.state[params[0]]
    for key, value in list(state.items()):
        if torch.is_tensor(value):
            state[key] = value.clone()


def _load_state(params, opt):
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))


def _halve_lr(params, opt):
    opt.param_groups[0]["lr"] *= 0.5


def _add_group(params, opt):
    extra = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 11, dtype=torch.float64))
    opt.add_param_group({"params": [extra]})
    params.append(extra)


# What may change between two steps of a plan (`fast_path.GroupPath`), applied alike to the fast and the reference
# run before step 3; the gradients of step 3 may differ too (`_GRADIENTS`).
DISTURBANCES = {
    "nothing": None, "data replaced": _replace_data, "state replaced": _replace_state, "state loaded": _load_state,
    "lr changed": _halve_lr, "group added": _add_group, "gradient missing": None, "gradient not contiguous": None,
}  # fmt: skip


def _plan_run(name, kwargs, disturbance, *, reference=False):
    gen = torch.Generator().manual_seed(5)
    shapes = [(BIG,), (300, 250), (7,), (3, 5), (1,)]
    params = [torch.nn.Parameter(torch.randn(*s, generator=gen, dtype=torch.float64)) for s in shapes]
    opt = _optimizer(name, kwargs, list(params))
    for i in range(6):
        if i == 3 and DISTURBANCES[disturbance] is not None:
            DISTURBANCES[disturbance](params, opt)
        for j, p in enumerate(params):
            g = torch.randn(*p.shape, generator=gen, dtype=torch.float64)
            if i == 3 and j == 1 and disturbance == "gradient not contiguous":
                g = g.t().contiguous().t()
            p.grad = None if (i == 3 and j == 3 and disturbance == "gradient missing") else g
        if reference:
            with fused.disabled():
                opt.step()
        else:
            opt.step()
    return params, opt


@pytest.mark.parametrize("disturbance", DISTURBANCES)
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS)
def test_a_replayed_plan_equals_the_reference_path(name, kwargs, disturbance, spy, monkeypatch):
    """A group's plan is replayed while what it read holds and rebuilt when anything changed (a stale pointer
    would update memory the parameter no longer uses): equal to the reference loop either way."""
    passes = []
    original = fast_path._pass1
    monkeypatch.setattr(fast_path, "_pass1", lambda *args: passes.append(1) or original(*args))
    fast, opt_fast = _plan_run(name, kwargs, disturbance)
    assert spy, "the fast path was not taken"
    if disturbance in ("nothing", "lr changed"):
        assert len(passes) == 1  # every later step replayed the first step's plan
    ref, opt_ref = _plan_run(name, kwargs, disturbance, reference=True)
    for p, q in zip(fast, ref, strict=True):
        _assert_close(p, q, 1e-12)
        for key, value in opt_ref.state[q].items():
            if torch.is_tensor(value):
                _assert_close(opt_fast.state[p][key], value, 1e-12)
            else:
                assert opt_fast.state[p][key] == value, key


def test_a_sparse_gradient_sends_the_group_to_the_reference_loop(spy):
    dense, sparse = torch.nn.Parameter(torch.ones(4)), torch.nn.Parameter(torch.ones(4))
    opt = st.Adam([dense, sparse], lr=0.1)  # Adam refuses sparse gradients, as torch.optim.Adam does
    dense.grad = torch.ones(4)
    sparse.grad = torch.ones(4).to_sparse()
    with pytest.raises(RuntimeError, match="does not support sparse gradients"):
        opt.step()
    assert not spy  # the reference loop updated the dense one before it raised, as before
    assert torch.allclose(dense, torch.full((4,), 0.9))


def test_state_tensors_that_do_not_qualify_take_the_reference_path(spy):
    p = torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float64))
    opt = st.Momentum([p], lr=0.1, beta=0.5)
    p.grad = torch.ones(6, 4, dtype=torch.float64)
    opt.step()
    assert len(spy) == 1
    opt.state[p]["v"] = opt.state[p]["v"].t().contiguous().t()  # same values, column-major
    opt.step()
    assert len(spy) == 1  # not taken
    assert torch.allclose(opt.state[p]["v"], torch.full((6, 4), 1.5, dtype=torch.float64))


def test_a_method_without_a_kernel_takes_the_reference_path(spy, monkeypatch):
    monkeypatch.setattr(st.Adam.method_class, "fused_kernel", classmethod(lambda cls: None))
    p = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = st.Adam([p], lr=0.1)
    p.grad = torch.ones(5, dtype=torch.float64)
    opt.step()
    assert not spy and opt.state[p]["k"] == 1


_ENV_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
import test_torch_fast_path as t
from sgdlab.torch import fast_path
from sgdlab.methods import fused
assert not fused._switch.on
out = {{}}
for param in t.CONFIGS:
    name, kwargs = param.values
    for dtype in (torch.float32, torch.float64):
        params, _, _ = t._run(name, kwargs, dtype, steps=2)
        out[f"{{param.id}}-{{dtype}}"] = [p.detach() for p in params]
assert fast_path.calls == 0
torch.save(out, {path!r})
"""


def test_SGDLAB_FUSED_0_is_the_reference_path(tmp_path):
    """In a fresh process with ``SGDLAB_FUSED=0`` every optimizer gives bit for bit the reference path's result."""
    path = tmp_path / "env.pt"
    script = _ENV_SCRIPT.format(tests=str(ROOT / "tests"), path=str(path))
    env = {**os.environ, "SGDLAB_FUSED": "0", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path, timeout=600)
    theirs = torch.load(path)
    for param in CONFIGS:
        name, kwargs = param.values
        for dtype in (torch.float32, torch.float64):
            params, _, _ = _run(name, kwargs, dtype, steps=2, reference=True)
            for p, q in zip(params, theirs[f"{param.id}-{dtype}"], strict=True):
                assert torch.equal(p.detach(), q), (param.id, dtype)


# --- B5 ---------------------------------------------------------------------------------------------------------


def _b5():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("b5_torch_step", ROOT / "benchmarks" / "b5_torch_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_b5_parameter_lists_have_the_stated_sizes():
    b5 = _b5()
    resnet, transformer = b5.resnet18_shapes(), b5.transformer_shapes()
    assert (len(resnet), sum(int(np.prod(s)) for s in resnet)) == (62, 11_689_512)
    assert (len(transformer), sum(int(np.prod(s)) for s in transformer)) == (132, 20_684_544)
    assert sum(int(np.prod(s)) <= 1536 for s in transformer) == 82


def test_b5_quick_mode_runs_end_to_end(tmp_path):
    b5 = _b5()
    threads = torch.get_num_threads()
    out = b5.main(["--quick", "--out", str(tmp_path / "b5.json")])
    assert torch.get_num_threads() == threads
    result = json.loads(out.read_text())
    assert (
        result["quick"] is True and result["threads"]["torch_threads"] == result["threads"]["sgdlab_fast_path_threads"]
    )
    assert {(r["list"], r["optimizer"]) for r in result["rows"]} == {
        (lst, label) for lst in ("resnet18", "transformer") for label in b5.CONFIGS
    }
    for r in result["rows"]:
        assert {"default", "foreach"} <= set(r["torch_paths"]) <= set(b5.TORCH_PATHS)
        assert r["fastest_torch_path"] in r["torch_paths"]
        assert r["speedup_vs_fastest"] == r["torch_paths"][r["fastest_torch_path"]]["speedup"] > 0
        assert all(len(c["pairs"]) == 2 for c in r["torch_paths"].values())
        assert r["bytes_moved"] == b5.arrays_moved(r["optimizer"]) * r["parameters"] * 4
    assert "fused" in next(r for r in result["rows"] if r["optimizer"] == "Adam")["torch_paths"]
    assert {(r["problem"], r["optimizer"]) for r in result["training"]} == {
        (p, o) for p in ("digits_cnn", "char_lm") for o in b5.TRAINING
    }
    for r in result["training"]:
        assert r["steps"] == len(r["pairs"]) * r["block"] + r["block"]  # the first block is the warm-up
        assert all(np.isfinite(v) for v in r["final_loss"].values())
        assert r["max_loss_rel_diff"] >= 0 and r["throughput_ratio"] > 0


def test_the_readme_shows_the_b5_results_files():
    """The README's B5 tables are written from benchmarks/results/b5_torch_step*.json (``b5_torch_step.py
    --readme``, rendered into README.md by benchmarks/readme.py), and run_all's targets are B5's."""
    b5 = _b5()
    single, default = (json.loads(path.read_text()) for path in b5.RESULTS_FILES)
    assert single["threads"]["torch_threads"] == 1 and not single["quick"] and not default["quick"]
    readme = (ROOT / "README.md").read_text()
    for line in [*b5.readme_tables(single).splitlines(), *b5.readme_summary(single), *b5.readme_summary(default)]:
        assert line in readme, line
    spec = importlib.util.spec_from_file_location("_run_all", ROOT / "benchmarks" / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    assert run_all.B5_FOREACH_TARGETS == b5.FOREACH_TARGET
    b5_rows = [what for bench, what, _, _ in run_all.rows() if bench == "B5"]
    assert len(b5_rows) == 2 * (len(single["rows"]) + 2 * len(single["training"]))  # both files, every row


# One float32 step from the same state against torch.optim's default CPU path: the fused loops round as torch's
# kernels do in torch's convention (x − lr·d and the look-ahead as multiply-adds, Adam's averages as lerp and
# addcmul). (sgdlab optimizer, its keywords, torch.optim class, torch's keywords, the states compared bit for bit:
# sgdlab's name, torch's name). Adam's x is compared to 1e-6 only: its step size lr/(1 − β₁ᵏ) is rounded to
# float32 from float64 by torch and as lr·(1/(1 − β₁ᵏ)) in float32 here, which differ in the last bit at some k.
ROUNDING = [
    pytest.param("SGD", {"lr": 0.05}, "SGD", {"lr": 0.05}, True, (), id="SGD"),
    pytest.param("Momentum", {"lr": 0.05, "beta": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9}, True,
                 (("v", "momentum_buffer"),), id="SGD-momentum"),
    pytest.param("Nesterov", {"lr": 0.05, "beta": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, True,
                 (("v", "momentum_buffer"),), id="SGD-nesterov"),
    pytest.param("Adam", {"lr": 1e-3}, "Adam", {"lr": 1e-3}, False, (("m", "exp_avg"), ("v", "exp_avg_sq")),
                 id="Adam"),
]  # fmt: skip


@pytest.mark.parametrize(("ours", "ours_kw", "theirs", "theirs_kw", "x_exact", "states"), ROUNDING)
def test_a_float32_step_rounds_as_torchs(ours, ours_kw, theirs, theirs_kw, x_exact, states, spy):
    # torch's vectorised kernels fuse multiply-adds where the CPU has FMA (AVX2, AVX-512); without it (DEFAULT)
    # they round twice, and only closeness is asserted.
    fma = torch.backends.cpu.get_cpu_capability() not in ("DEFAULT", "NO AVX")
    gen = torch.Generator().manual_seed(3)
    shapes = [(fused.MIN_SIZE + 13,), (37, 5), (3,)]  # big, small, and sizes that leave vector tails
    a = [torch.nn.Parameter(torch.randn(s, generator=gen) * 0.05) for s in shapes]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    opt_a, opt_b = st.OPTIMIZERS[ours](a, **ours_kw), getattr(torch.optim, theirs)(b, **theirs_kw)
    for step in range(4):  # the first step (torch's buffer copy, Adam's first bias correction) and later ones
        grads = [torch.randn(s, generator=gen) * 10.0 ** (step % 3 - 2) for s in shapes]
        for p, q, g in zip(a, b, grads, strict=True):
            p.grad, q.grad = g, g.clone()
        before = len(spy)
        opt_a.step()
        opt_b.step()
        assert len(spy) > before  # the fast path ran
        for p, q in zip(a, b, strict=True):
            pairs = [(p, q)] if x_exact else []
            pairs += [(opt_a.state[p][mine], opt_b.state[q][theirs_name]) for mine, theirs_name in states]
            for got, want in pairs:
                if fma:
                    assert torch.equal(got, want), (step, float((got - want).abs().max()))
                else:
                    _assert_close(got, want, 1e-6)
            _assert_close(p, q, 1e-6)
