"""Every element-wise method against an independent NumPy transcription of the lecture's formula.

The references and the configurations come from the method table (`method_db`: each row's ``reference`` and its
``STEP`` configurations, the table's notation in its docstring); the schedules are below. Every test in this file
runs over that table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal

from method_db import references
from sgdlab.methods import AdamW, Cosine, StepDecay, Warmup

Reference = Callable[[dict, np.ndarray, list[np.ndarray], list[float]], Iterator[tuple[np.ndarray, dict]]]

N_DIM = 37
N_STEPS = 200
N_SCHEDULE_STEPS = 40

CASES = references()

# Schedules: the method's argument (built fresh per test) and the factor α_k / lr written out by hand.
SCHEDULES = [
    pytest.param(lambda: "constant", lambda k: 1.0, id="constant"),
    pytest.param(lambda: "1/k", lambda k: 1.0 / k, id="inv-k"),
    pytest.param(lambda: "1/sqrt(k)", lambda k: 1.0 / math.sqrt(k), id="inv-sqrt-k"),
    pytest.param(lambda: StepDecay(every=7, factor=0.5), lambda k: 0.5 ** ((k - 1) // 7), id="StepDecay"),
    pytest.param(lambda: Warmup(steps=10), lambda k: k / 10 if k <= 10 else 1.0, id="Warmup"),
    pytest.param(
        lambda: Warmup(steps=10, then="1/sqrt(k)"),
        lambda k: k / 10 if k <= 10 else 1.0 / math.sqrt(k - 10),
        id="Warmup-then-inv-sqrt-k",
    ),
    pytest.param(
        lambda: Cosine(total=N_SCHEDULE_STEPS, final=0.1),
        lambda k: 0.1 + 0.9 * (1.0 + math.cos(math.pi * (k - 1) / N_SCHEDULE_STEPS)) / 2.0,
        id="Cosine",
    ),
]


# --- helpers ----------------------------------------------------------------------------------------


def gradient_sequence(n_steps: int, n_dim: int = N_DIM, seed: int = 20240611) -> tuple[np.ndarray, list]:
    """A starting point and gradients of widely varying scale, with exact zeros: scattered entries,
    one coordinate that is always zero, and one whole step of zeros."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n_dim)
    grads = []
    for i in range(n_steps):
        g = rng.normal(size=n_dim) * 10.0 ** rng.uniform(-3.0, 1.0, size=n_dim)
        g[rng.random(n_dim) < 0.1] = 0.0
        g[3] = 0.0
        if i == 5:
            g[:] = 0.0
        grads.append(g)
    return x0, grads


def hyperparameters(method) -> dict:
    # The reference uses the values the method actually holds, so default-constructed cases check the
    # formula under the defaults too.
    return method.hyperparameters()


def array_states(state: dict) -> dict:
    return {key: value for key, value in state.items() if isinstance(value, np.ndarray)}


def run_against_reference(cls, kwargs, reference: Reference, *, dtype, schedule=None, factor=None, n_steps):
    """Run the method and its reference side by side; yield (step, x, state, x_ref, state_ref)."""
    kw = dict(kwargs) if schedule is None else {**kwargs, "schedule": schedule}
    method = cls(**kw)
    x0, grads = gradient_sequence(n_steps)
    x = x0.astype(dtype)
    grads = [g.astype(dtype) for g in grads]
    factor = factor or (lambda k: 1.0)
    alphas = [method.lr * factor(k) for k in range(1, n_steps + 1)]
    # The reference starts from exactly the numbers the method sees (x and g rounded to ``dtype``).
    ref = reference(hyperparameters(method), x.astype(np.float64), [g.astype(np.float64) for g in grads], alphas)
    state = method.init(x)
    for k, (g, (x_ref, state_ref)) in enumerate(zip(grads, ref, strict=True), start=1):
        method.step(x, g, state)
        yield k, x, state, x_ref, state_ref


def assert_matches(k, x, state, x_ref, state_ref, *, rtol, atol_scale):
    assert set(array_states(state)) == set(state_ref), f"state arrays differ at step {k}"
    pairs = [("x", x, x_ref)] + [(key, state[key], state_ref[key]) for key in state_ref]
    for name, got, want in pairs:
        atol = atol_scale * max(float(np.max(np.abs(want))), 1.0)
        assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{name} at step {k}")


# --- 1. float64 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_float64_matches_reference(cls, kwargs, reference):
    for k, x, state, x_ref, state_ref in run_against_reference(
        cls, kwargs, reference, dtype=np.float64, n_steps=N_STEPS
    ):
        assert x.dtype == np.float64
        assert_matches(k, x, state, x_ref, state_ref, rtol=1e-12, atol_scale=1e-14)


# --- 2. float32 -------------------------------------------------------------------------------------

# float32 carries ~6e-8 relative rounding per operation. Each step is a handful of operations whose
# errors are not amplified (every recursion above contracts: β, γ, ρ < 1, or only adds non-negative
# terms), so after 200 steps the accumulated error is at most a few hundred ulps: ~1e-5 relative,
# measured against the array's largest entry where a coordinate has cancelled towards zero. (On this
# sequence the worst entry uses under a tenth of that; a wrong formula misses it by orders of magnitude.)
F32_RTOL = 1e-5


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_float32_stays_float32_and_matches_reference(cls, kwargs, reference):
    x_id = None
    shapes = None
    for k, x, state, x_ref, state_ref in run_against_reference(
        cls, kwargs, reference, dtype=np.float32, n_steps=N_STEPS
    ):
        if x_id is None:
            x_id = id(x)
            shapes = {key: value.shape for key, value in array_states(state).items()}
        assert id(x) == x_id
        assert x.dtype == np.float32
        assert x.shape == (N_DIM,)
        for key, value in array_states(state).items():
            assert value.dtype == np.float32, f"state[{key!r}] is {value.dtype} at step {k}"
            assert value.shape == shapes[key] == (N_DIM,)
        assert_matches(k, x, state, x_ref, state_ref, rtol=F32_RTOL, atol_scale=F32_RTOL)


# --- 3. the step counter ----------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_step_counter_counts_steps(cls, kwargs, reference):
    method = cls(**kwargs)
    x0, grads = gradient_sequence(12)
    state = method.init(x0)
    assert state["k"] == 0
    for n, g in enumerate(grads, start=1):
        method.step(x0, g, state)
        assert state["k"] == n


# --- 4. schedules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("make_schedule", "factor"), SCHEDULES)
@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_schedule_matches_reference(cls, kwargs, reference, make_schedule, factor):
    for k, x, state, x_ref, state_ref in run_against_reference(
        cls,
        kwargs,
        reference,
        dtype=np.float64,
        schedule=make_schedule(),
        factor=factor,
        n_steps=N_SCHEDULE_STEPS,
    ):
        assert_matches(k, x, state, x_ref, state_ref, rtol=1e-12, atol_scale=1e-14)


# --- 5. properties ----------------------------------------------------------------------------------


@st.composite
def iterates(draw, max_abs=1e3):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    width = 32 if dtype == np.float32 else 64
    n = draw(st.integers(1, 16))
    elements = st.floats(-max_abs, max_abs, width=width, allow_subnormal=False)
    return draw(arrays(dtype, n, elements=elements))


@settings(max_examples=15, deadline=None)
@given(x0=iterates())
@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_zero_gradient_from_rest(cls, kwargs, reference, x0):
    method = cls(**kwargs)
    hp = hyperparameters(method)
    x = x0.copy()
    method.step(x, np.zeros_like(x), method.init(x))
    assert x.dtype == x0.dtype
    lam = hp.get("weight_decay", 0.0)
    if cls is AdamW and lam > 0:
        # Decoupled decay alone: x ← x − α λ x, and nothing from the (zero) moments.
        alpha = method.lr
        rtol = 1e-6 if x.dtype == np.float32 else 1e-15
        assert_allclose(x, x0 - alpha * lam * x0, rtol=rtol, atol=0)
    elif lam > 0:
        # Coupled L2 turns the zero gradient into λ x; only the formula says where x goes.
        (x_ref, _), *_ = list(reference(hp, x0.astype(np.float64), [np.zeros(x0.shape)], [method.lr]))
        rtol = F32_RTOL if x.dtype == np.float32 else 1e-12
        assert_allclose(x, x_ref, rtol=rtol, atol=rtol * max(float(np.max(np.abs(x0))), 1.0))
    else:
        assert_array_equal(x, x0)


@st.composite
def iterate_and_gradients(draw, n_steps=3, max_abs=1e3):
    x0 = draw(iterates(max_abs=max_abs))
    width = 32 if x0.dtype == np.float32 else 64
    elements = st.floats(-max_abs, max_abs, width=width, allow_subnormal=False)
    grads = [draw(arrays(x0.dtype, x0.shape, elements=elements)) for _ in range(n_steps)]
    return x0, grads


@settings(max_examples=10, deadline=None)
@given(data=iterate_and_gradients())
@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES)
def test_moderate_gradients_keep_iterate_finite(cls, kwargs, reference, data):
    x0, grads = data
    method = cls(**kwargs)
    x = x0.copy()
    state = method.init(x)
    for g in grads:
        method.step(x, g, state)
        assert x.dtype == x0.dtype
        assert np.isfinite(x).all()
        for key, value in array_states(state).items():
            assert np.isfinite(value).all(), key
