"""Neural networks as engine problems: gradients, unbiasedness, runs, held-out metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sgdlab as sl
from sgdlab.torch.corpus import ALPHABET, encode, stdlib_text
from sgdlab.torch.problems import NetworkProblem, TensorData, char_lm, digits_cnn, digits_mlp


def tiny_lm():
    return char_lm(seq_len=16, max_chars=20_000, hidden=16)


NETWORKS = [
    pytest.param(lambda: digits_mlp(hidden=(16,)), id="mlp"),
    pytest.param(digits_cnn, id="cnn"),
    pytest.param(tiny_lm, id="charlm"),
]


@pytest.fixture(scope="module", params=NETWORKS)
def network(request):
    problem = request.param()
    return problem, problem.test


def test_gradient_matches_directional_differences(network):
    """Along the gradient the directional derivative is ‖∇f‖, large against float32 rounding of f
    (~1e-7·f/h) and against the curvature error O(h·f'') at h = 1e-3."""
    problem, _ = network
    idx = np.arange(min(problem.n, 64))
    sub = NetworkProblem(
        lambda: problem.network, TensorData(problem.train.inputs[idx], problem.train.targets[idx]), name="sub"
    )
    x = problem.initial_point().astype(np.float64)
    g = sub.grad(x).astype(np.float64)
    v = g / np.linalg.norm(g)
    h = 1e-3
    fd = (sub.loss(x + h * v) - sub.loss(x - h * v)) / (2 * h)
    assert fd == pytest.approx(np.linalg.norm(g), rel=2e-2)


def test_full_gradient_is_the_mean_of_minibatch_gradients(network):
    problem, _ = network
    x = problem.initial_point()
    chunks = np.array_split(np.arange(problem.n), 4)
    mean = sum(len(c) * problem.grad_batch(x, c) for c in chunks) / problem.n
    np.testing.assert_allclose(mean, problem.grad(x), rtol=1e-4, atol=1e-6)


def test_component_gradients_average_to_the_batch_gradient(network):
    problem, _ = network
    x = problem.initial_point()
    idx = np.array([0, 3, 5])
    np.testing.assert_allclose(
        problem.component_grads(x, idx).mean(axis=0), problem.grad_batch(x, idx), rtol=1e-4, atol=1e-6
    )


def test_no_optimum_and_no_constants(network):
    problem, _ = network
    assert not problem.has_optimum
    with pytest.raises(ValueError, match="no certified optimum"):
        _ = problem.x_star
    with pytest.raises(ValueError, match="pass lr="):
        sl.run(problem, sl.methods.SGD(), epochs=1)


def test_training_through_the_engine_decreases_the_loss_and_records_test_metrics(network):
    problem, test = network
    trace = sl.run(
        problem, sl.methods.Adam(lr=1e-2), epochs=2, batch_size=32, test=test, points_per_decade=None, record_every=1.0
    )
    assert set(trace.columns) >= {"loss", "grad_norm2", "test_loss", "test_accuracy"}
    assert trace.loss[-1] < trace.loss[0]
    assert trace.test_accuracy[-1] > trace.test_accuracy[0]
    assert trace.x.dtype == np.float32


def test_runs_are_reproducible(network):
    problem, _ = network
    a, b = (sl.run(problem, sl.methods.Momentum(lr=0.05), iters=20, batch_size=16, seed=3) for _ in range(2))
    np.testing.assert_array_equal(a.x, b.x)


def test_seed_fixes_the_initial_weights():
    a = digits_mlp(seed=1)
    b = digits_mlp(seed=1)
    c = digits_mlp(seed=2)
    np.testing.assert_array_equal(a.initial_point(), b.initial_point())
    assert not np.array_equal(a.initial_point(), c.initial_point())


def test_bad_test_data_and_bad_tensors_are_rejected():
    problem = digits_mlp(hidden=(8,))
    with pytest.raises(TypeError, match="TensorData"):
        sl.run(problem, sl.methods.Adam(), epochs=1, test=sl.data.load_bundled("digits"))
    with pytest.raises(ValueError, match="as many inputs as targets"):
        TensorData(torch.zeros(3, 2), torch.zeros(2))


def test_stdlib_corpus_is_available_offline_and_encodes_into_the_alphabet():
    text = stdlib_text(50_000)
    assert len(text) == 50_000 and "def " in text
    codes = encode(text)
    assert codes.min() >= 0 and codes.max() < len(ALPHABET)
    assert "".join(ALPHABET[c] for c in codes[:200]) == text[:200].encode("ascii", "replace").decode().replace(
        "\t", "?"
    )


def _product_of_a_denormal() -> float:
    return float(np.float32(1e-40) * np.float32(1.0))


def test_network_oracles_flush_denormals_inside_and_restore_the_flags_after(network):
    """Saturated networks fill their tensors with denormals (10–100× slower arithmetic): the oracle flushes them,
    and the caller's IEEE arithmetic — the methods' NumPy updates — is left as it was, on or off."""
    from sgdlab.torch import problems as module

    problem, test = network
    seen = []
    original = problem.network.forward

    def forward(*args):
        seen.append(_product_of_a_denormal())
        return original(*args)

    x = problem.initial_point()
    problem.network.forward = forward
    try:
        for already_on in (False, True):
            torch.set_flush_denormal(already_on)
            problem.loss(x), problem.grad_batch(x, np.arange(4)), problem.evaluate(x, test)
            assert module._flushing_denormals() is already_on
            assert (_product_of_a_denormal() == 0.0) is already_on
    finally:
        torch.set_flush_denormal(False)
        del problem.network.forward
    assert seen and all(value == 0.0 for value in seen)
