"""Every fused kernel against its method's reference formula, in one table (float64 and float32)."""

from __future__ import annotations

import numpy as np
import pytest

import sgdlab.methods as M
from sgdlab.methods import fused

CASES = [
    pytest.param(M.SGD, {"lr": 0.05}, id="SGD"),
    pytest.param(M.GD, {"lr": 0.05}, id="GD"),
    pytest.param(M.Momentum, {"lr": 0.05, "beta": 0.8}, id="Momentum"),
    pytest.param(M.Nesterov, {"lr": 0.05, "beta": 0.8}, id="Nesterov"),
    pytest.param(M.Adagrad, {"lr": 0.05}, id="Adagrad"),
    pytest.param(M.Adagrad, {"lr": 0.05, "convention": "torch"}, id="Adagrad-torch"),
    pytest.param(M.RMSProp, {"lr": 0.01, "gamma": 0.85}, id="RMSProp"),
    pytest.param(M.RMSProp, {"lr": 0.01, "convention": "torch"}, id="RMSProp-torch"),
    pytest.param(M.Adadelta, {"gamma": 0.9, "rho": 0.85, "lr": 0.5}, id="Adadelta"),
    pytest.param(M.Adam, {"lr": 0.01, "beta1": 0.85}, id="Adam"),
    pytest.param(M.Adam, {"lr": 0.01, "weight_decay": 0.03}, id="Adam-L2"),
    pytest.param(M.AMSGrad, {"lr": 0.01, "beta2": 0.99}, id="AMSGrad"),
    pytest.param(M.AMSGrad, {"lr": 0.01, "convention": "torch"}, id="AMSGrad-torch"),
    pytest.param(M.AdamW, {"lr": 0.01, "weight_decay": 0.05}, id="AdamW"),
]
SIZE = fused.MIN_SIZE + 123  # above the threshold, not a multiple of anything convenient
# float32: the kernel evaluates each update in float64 and rounds once; NumPy rounds after every operation.
# Both stay within a few float32 ulps (6e-8 relative) per step and the recursions do not amplify it.
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}


def run(cls, kwargs, dtype, use_fused, steps=40):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SIZE).astype(dtype)
    method = cls(**kwargs)
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


@pytest.mark.parametrize(("cls", "kwargs"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_fused_kernel_equals_the_reference_formula(cls, kwargs, dtype, monkeypatch):
    calls = []
    for name in ("sgd", "momentum", "diagonal", "adadelta", "adam"):
        kernel = getattr(fused, name)
        monkeypatch.setattr(fused, name, lambda *a, _k=kernel: (calls.append(1), _k(*a)))
    x_fused, s_fused = run(cls, kwargs, dtype, use_fused=True)
    assert len(calls) == 40  # the fused path was really taken
    x_ref, s_ref = run(cls, kwargs, dtype, use_fused=False)
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
