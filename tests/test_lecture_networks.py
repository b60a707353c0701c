"""What the neural-network and heavy-tailed-imbalance claims build on: their experiment documents, Zipf class
frequencies in the generator, the frequent/rare losses of softmax regression, and the spec's ``imbalance``
field. (Their verdicts, planted failures and figures are tested with every claim in tests/test_lecture.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from sgdlab.data import Dataset, make_classification
from sgdlab.data.synthetic import zipf_frequencies
from sgdlab.experiments import SpecError, parse_spec
from sgdlab.experiments.execute import build_problem
from sgdlab.lecture.heavy_tail import HeavyTailImbalance
from sgdlab.lecture.networks import NetworkAdamGap
from sgdlab.problems import SoftmaxRegression

CLAIMS = (NetworkAdamGap(), HeavyTailImbalance())


def test_experiment_names_are_unique_and_quick_is_smaller():
    for claim in CLAIMS:
        quick, full = claim.experiments(True), claim.experiments(False)
        assert len({d["name"] for d in quick}) == len(quick)
        for q, f in zip(quick, full, strict=True):
            parse_spec(q), parse_spec(f)
            assert next(iter(q["budget"].values())) < next(iter(f["budget"].values()))


# --- Zipf class frequencies in the generator ------------------------------------------------------------------


def test_zipf_frequencies_follow_the_power_law():
    data = make_classification(n=20_000, dim=10, n_classes=20, noise=0.5, imbalance=1.0, seed=0)
    counts = np.bincount(data.y, minlength=20)
    expected = 20_000 * zipf_frequencies(20, 1.0)
    assert np.all(np.abs(counts - expected) <= 4 * np.sqrt(expected) + 1)  # multinomial noise
    slope = np.polyfit(np.log(np.arange(1, 21)), np.log(counts), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert "zipf=1" in data.name


def test_uniform_imbalance_is_uniform_and_the_design_keeps_its_spectrum():
    data = make_classification(n=20_000, dim=10, cond=100.0, n_classes=20, imbalance=0.0, seed=1)
    counts = np.bincount(data.y, minlength=20)
    assert np.all(np.abs(counts - 1000) <= 4 * np.sqrt(1000))
    eig = np.linalg.eigvalsh(data.A.T @ data.A / data.n)
    assert eig[-1] / eig[0] == pytest.approx(100.0, rel=1e-8)
    # the hidden intercept: the top right singular vector v₁ has A v₁ = 1 in every row
    v1 = np.linalg.svd(data.A, full_matrices=False)[2][0]
    assert np.allclose(np.abs(data.A @ v1), 1.0)


def test_binary_imbalance_and_the_default_are_unchanged():
    binary = make_classification(n=20_000, dim=5, imbalance=2.0, seed=2)
    assert np.mean(binary.y == 1) == pytest.approx(0.8, abs=0.02)
    # without imbalance the generator draws what it drew before the option existed, so every existing experiment
    # keeps its data. Compared to rounding, not bit for bit: the design goes through BLAS products, whose last
    # bits differ between CPUs (AVX2 vs AVX-512 kernels); the labels are integers and must match exactly.
    first_rows = [
        [-0.87845981736, 0.770868233687, -0.433845425242, -0.424862984381, -0.045758650795],
        [0.064395677951, 0.022960862596, 0.549652149127, -0.31545778334, -0.549240113758],
    ]
    before = {
        (2, 1.0): (first_rows, [138, 162], 763.9225896766959),
        (4, 1.0): (first_rows, [77, 84, 58, 81], 763.9225896766959),
        (7, 0.3): ([[0.0, 0.009052678961, 0.0, 0.0, 0.0], [0.0, 1.080438045225, 0.0, 0.0, -0.338399379724]],
                   [34, 37, 52, 30, 60, 52, 35], 399.51793303093535),
    }  # fmt: skip
    for (n_classes, density), (rows, counts, abs_sum) in before.items():
        data = make_classification(n=300, dim=5, n_classes=n_classes, density=density, seed=4)
        A = data.A.toarray() if hasattr(data.A, "toarray") else data.A
        assert "zipf" not in data.name
        np.testing.assert_allclose(A[:2], rows, rtol=1e-9, atol=1e-11)
        assert np.unique(data.y, return_counts=True)[1].tolist() == counts
        assert np.abs(A).sum() == pytest.approx(abs_sum, rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"imbalance": -1.0}, "imbalance must be >= 0"),
        ({"imbalance": float("nan")}, "imbalance must be finite"),
        ({"imbalance": 1.0, "density": 0.5}, "dense design"),
        ({"imbalance": 1.0, "noise": 0.0}, "noise > 0"),
    ],
)
def test_bad_imbalance_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_classification(n=100, dim=5, n_classes=3, **kwargs)


# --- losses of the frequent and rare classes ------------------------------------------------------------------


def test_evaluate_splits_the_loss_by_training_frequency():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    A = rng.standard_normal((100, 3))
    problem = SoftmaxRegression(Dataset(A, y))
    x = rng.standard_normal(problem.dim)
    scores = A @ x.reshape(3, 4)  # x is the features × classes matrix, row-major
    values = problem.evaluate(x, Dataset(A, y))
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    per_sample = -logp[np.arange(100), y]
    assert values["loss"] == pytest.approx(per_sample.mean())
    assert values["loss_frequent"] == pytest.approx(per_sample[y <= 1].mean())  # classes 0 and 1: 80 samples
    assert values["loss_rare"] == pytest.approx(per_sample[y >= 2].mean())
    # the split follows the training frequencies, not those of the data evaluated
    held_out = Dataset(A[:10], np.full(10, 3))
    only_rare = problem.evaluate(x, held_out)
    assert np.isnan(only_rare["loss_frequent"]) and only_rare["loss_rare"] == pytest.approx(only_rare["loss"])


def test_the_engine_records_the_split_losses():
    import sgdlab as sl

    train, test = make_classification(n=600, dim=5, n_classes=6, imbalance=1.0, seed=0).split(0.5)
    trace = sl.run(SoftmaxRegression(train), sl.methods.Adam(lr=0.1), epochs=1, batch_size=10, test=test,
                   record=("loss",))  # fmt: skip
    frame = trace.to_frame()
    assert {"test_loss_frequent", "test_loss_rare"} <= set(frame)
    assert np.all(np.isfinite(frame["test_loss_rare"]))


# --- the spec's imbalance field -------------------------------------------------------------------------------


def _doc(data: dict) -> dict:
    return {"name": "x", "budget": {"epochs": 1}, "methods": [{"type": "SGD"}],
            "problems": [{"name": "p", "type": "SoftmaxRegression", "data": data}]}  # fmt: skip


def test_spec_imbalance_reaches_the_generator():
    spec = parse_spec(_doc({"source": "classification", "n": 2000, "dim": 5, "n_classes": 5, "imbalance": 1.5}))
    problem, _ = build_problem(spec.problems[0].model_dump(mode="json"))
    counts = np.bincount(problem.data.y, minlength=5)
    assert np.all(np.diff(counts) < 0) and "zipf=1.5" in problem.data.name
    # unset, the field is left out of the problem's identity (so no existing run key changed)
    plain = parse_spec(_doc({"source": "classification", "n_classes": 3}))
    assert "imbalance" not in plain.problems[0].model_dump(mode="json")["data"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "regression", "imbalance": 1.0}, "classification' only"),
        ({"source": "classification", "imbalance": -0.5}, "greater than or equal to 0"),
        ({"source": "classification", "imbalance": 1.0, "density": 0.1}, "dense design"),
        ({"source": "bundled", "name": "iris", "imbalance": 1.0}, "does not take"),
    ],
)
def test_spec_rejects_bad_imbalance(data, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(_doc(data))
