"""Every fused kernel against its method's reference formula, over the method table (float64 and float32), and the
fused path's refusal of a subclass whose hooks its kernel does not implement."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from method_db import STEP, cases
from sgdlab.methods import Adagrad, RMSProp, fused

CASES = cases(STEP, needs="fused")  # every STEP configuration of the table's rows that have a fused kernel
SIZE = fused.MIN_SIZE + 123  # above the threshold, not a multiple of anything convenient
# float32: the kernel evaluates each update in float64 and rounds once; NumPy rounds after every operation.
# Both stay within a few float32 ulps (6e-8 relative) per step and the recursions do not amplify it.
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}


def run(row, config, dtype, use_fused, steps=40):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SIZE).astype(dtype)
    method = config.make(row.cls)
    state = method.init(x)
    for _ in range(steps):
        g = (rng.standard_normal(SIZE) * 10.0 ** rng.uniform(-3, 1)).astype(dtype)
        g[::97] = 0.0
        if use_fused:
            method.step(x, g, state)
        else:
            with fused.disabled():
                method.step(x, g, state)
    return x, state


@pytest.mark.parametrize(("row", "config"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_fused_kernel_equals_the_reference_formula(row, config, dtype, monkeypatch):
    calls = []
    for name, kernel in fused.KERNELS.items():
        monkeypatch.setitem(fused.KERNELS, name, lambda *a, _k=kernel: (calls.append(1), _k(*a)))
    x_fused, s_fused = run(row, config, dtype, use_fused=True)
    assert len(calls) == 40  # the fused path was really taken
    x_ref, s_ref = run(row, config, dtype, use_fused=False)
    tol = TOLERANCE[dtype]
    assert x_fused.dtype == dtype
    np.testing.assert_allclose(x_fused, x_ref, rtol=tol, atol=tol * np.abs(x_ref).max())
    for key, value in s_ref.items():
        if isinstance(value, np.ndarray):
            assert s_fused[key].dtype == dtype
            np.testing.assert_allclose(s_fused[key], value, rtol=tol, atol=tol * np.abs(value).max(), err_msg=key)
        else:
            assert s_fused[key] == value


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: (np.zeros(fused.MIN_SIZE), np.zeros(fused.MIN_SIZE)), True),
        (lambda: (np.zeros(100), np.zeros(100)), False),  # small: NumPy is faster
        (lambda: (np.zeros(fused.MIN_SIZE), np.zeros(fused.MIN_SIZE, dtype=np.float32)), False),  # mixed dtypes
        (lambda: (np.zeros(2 * fused.MIN_SIZE)[::2], np.zeros(fused.MIN_SIZE)), False),  # not contiguous
        (lambda: (np.zeros(fused.MIN_SIZE, dtype=np.float16), np.zeros(fused.MIN_SIZE, dtype=np.float16)), False),
    ],
)
def test_when_the_fused_path_applies(make, expected):
    assert fused.usable(*make()) is expected
    with fused.disabled():
        assert fused.usable(*make()) is False


class _CappedAdagrad(Adagrad):
    """Overrides the hook ``accumulate`` (the squared gradient capped at 1) and registers no kernel."""

    def accumulate(self, v, g):
        v += np.minimum(g * g, 1.0)


class _Relabelled(RMSProp):
    """Overrides nothing: it keeps RMSProp's kernel."""


@pytest.mark.parametrize("size", [1000, fused.MIN_SIZE + 1])
def test_a_subclass_that_overrides_a_hook_runs_its_own_formula_at_every_size(size):
    """The trap: the fused kernel implements Adagrad's ``accumulate``; a subclass overriding it has no kernel (it
    registers none), so ``step`` runs its reference at every size instead of silently running Adagrad's kernel
    (which was off by 3.7e-2 at 65,537 entries while matching at 1,000)."""
    assert _CappedAdagrad.fused_kernel() is None and Adagrad.fused_kernel() is not None
    assert _Relabelled.fused_kernel() is RMSProp.info.fused
    rng = np.random.default_rng(0)
    x0, grads = rng.standard_normal(size), [10.0 * rng.standard_normal(size) for _ in range(5)]
    method, x = _CappedAdagrad(lr=0.1), x0.copy()
    state = method.init(x)
    for g in grads:
        method.step(x, g, state)
    v = np.zeros(size)
    x_ref = x0.copy()
    for g in grads:
        v += np.minimum(g * g, 1.0)
        x_ref -= 0.1 * g / np.sqrt(v + method.eps)
    np.testing.assert_allclose(x, x_ref, rtol=1e-13)


def test_an_unknown_fused_kernel_is_an_error():
    with pytest.raises(ValueError, match="Misnamed: no fused kernel 'adagrad2'"):

        class Misnamed(Adagrad):
            info = dataclasses.replace(Adagrad.info, fused=dataclasses.replace(Adagrad.info.fused, kernel="adagrad2"))


def test_fixed_takes_flags_integers_and_unit_floats_and_leaves_other_hyperparameters_as_arguments():
    # diagonal_update(x, g, v, mean, buf, lr, gamma, one_minus_gamma, eps, sign, decay, momentum, accumulate,
    # centered, lecture, lanes): gamma 1.0 and eps do not choose a path, so they stay arguments whatever they are
    loop = fused.diagonal_update
    scalars = (0.1, 1.0, 0.0, 1e-8, -1.0, np.float32(0.0), 0.5, True, np.bool_(False), 1, 16)
    assert fused.fixed(loop, 5, scalars) == (
        ("sign", "float", -1.0), ("decay", "float32", 0.0), ("accumulate", "bool", True),
        ("centered", type(np.bool_(0)).__name__, False), ("lecture", "int", 1), ("lanes", "int", 16),
    )  # fmt: skip
    decayed = fused.fixed(loop, 5, (0.1, 0.9, 0.1, 1e-8, 1.0, 0.01, 0.0, True, False, 0, 16))
    assert [name for name, _, _ in decayed] == ["sign", "momentum", "accumulate", "centered", "lecture", "lanes"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("decay", [0.0, 0.01])
def test_a_specialised_loop_gives_the_serial_loops_bits(dtype, decay):
    # Adam in torch's convention with L2 decay, sizes that leave a vector tail
    rng = np.random.default_rng(0)
    x, g, m, v = (rng.standard_normal(1000 + 13).astype(dtype) for _ in range(4))
    v = np.abs(v)
    # lr, inv_bc1, c2, beta1, 1 − beta1, beta2, 1 − beta2, eps, coupled, decoupled, sign; amsgrad, mode
    floats = (1e-3, 10.0, 0.03, 0.9, 0.1, 0.999, 0.001, 1e-8, decay, 0.0, 1.0)
    scalars = (*(dtype(a) for a in floats), False, 1)
    names = fused.adam_update.__code__.co_varnames[5 : fused.adam_update.__code__.co_argcount]
    assert len(names) == len(scalars), names
    constants = fused.fixed(fused.adam_update, 5, scalars)
    assert constants and (decay == 0) == any(name == "coupled" for name, _, _ in constants)
    results = []
    for loop in (fused.serial(fused.adam_update), fused.specialised(fused.adam_update, constants)):
        arrays = [a.copy() for a in (x, g, m, v, v)]
        for _ in range(3):
            loop(*arrays, *scalars)
        results.append(arrays)
    for a, b in zip(*results, strict=True):
        assert a.tobytes() == b.tobytes()


# Each case runs in a fresh process, where numba's thread pool has not started yet: its first parallel kernel,
# imported before or after torch. Every parallel kernel of sgdlab: a fused step, and the checkpoint pass.
FIRST_IMPORTS = [
    pytest.param("import sgdlab.methods", id="torch-imported-after-sgdlab"),
    pytest.param("", id="torch-imported-first"),
]
FIRST_PARALLEL_KERNELS = {
    "fused-step": """
from sgdlab.methods import SGD, fused
x, g = np.ones(fused.MIN_SIZE), np.ones(fused.MIN_SIZE)
method = SGD(lr=0.5)
method.step(x, g, method.init(x))
assert fused.KERNELS["sgd"].compiled is not None, "the fused kernel did not run"
value = float(x[0])  # 1 − 0.5·1
""",
    "checkpoint-pass": """
import sgdlab as sl
from sgdlab.engine import metrics
prob = sl.problems.LeastSquares(sl.data.Dataset(np.ones((10, 2)), np.ones(10)))
loss, grad = metrics.fused_pass(prob, np.zeros(2))
value = float(grad[0])  # the mean of (0 − 1)·1
""",
}
EXPECTED_VALUE = {"fused-step": 0.5, "checkpoint-pass": -1.0}


@pytest.mark.parametrize("kernel", FIRST_PARALLEL_KERNELS)
@pytest.mark.parametrize("first_import", FIRST_IMPORTS)
def test_the_first_parallel_kernel_keeps_torchs_thread_count(first_import, kernel):
    # numba's OpenMP layer set the process's OpenMP thread count to its own when its pool started, and torch
    # shares that runtime: torch.set_num_threads(1) read 2 after the first fused step (found by B5), and after
    # the first checkpoint pass.
    script = f"""
{first_import}
import numpy as np, torch
import numba
torch.set_num_threads(1)
assert torch.get_num_threads() == 1  # (torch's first read on a thread re-applies its count: read it before)
{FIRST_PARALLEL_KERNELS[kernel]}
print(torch.get_num_threads(), numba.get_num_threads(), numba.threading_layer(), value)
"""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}  # numba's count differs from 1 even on a one-core machine
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    torch_threads, numba_threads, layer, value = out.stdout.split()
    assert (int(torch_threads), int(numba_threads), float(value)) == (1, 2, EXPECTED_VALUE[kernel]), layer
