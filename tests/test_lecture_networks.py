"""The neural-network and heavy-tailed-imbalance claims: each holds on a quick reproduction, a planted failing
trace flips each verdict; Zipf class frequencies in the generator, the frequent/rare losses of softmax
regression, and the spec's ``imbalance`` field."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sgdlab.data import Dataset, make_classification
from sgdlab.data.synthetic import zipf_frequencies
from sgdlab.experiments import SpecError, parse_spec
from sgdlab.experiments.execute import build_problem
from sgdlab.lecture import Results, run_claims
from sgdlab.lecture.heavy_tail import HeavyTailImbalance
from sgdlab.lecture.networks import NetworkAdamGap
from sgdlab.problems import SoftmaxRegression

CLAIMS = (NetworkAdamGap(), HeavyTailImbalance())


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    """One quick reproduction of both claims, and their results read back from the store."""
    from sgdlab.experiments import Store
    from sgdlab.lecture import collect

    out = tmp_path_factory.mktemp("lecture-networks")
    result = run_claims(CLAIMS, out, quick=True, jobs=2, progress=False, echo=lambda _: None)
    with Store(out / "results.db") as store:
        results = {
            claim.key: {doc["name"]: collect(parse_spec(doc), store) for doc in claim.experiments(True)}
            for claim in CLAIMS
        }
    return result, results


def _with_column(runs: Results, column: str, make, **selection) -> Results:
    """``runs`` with ``column`` replaced by ``make(run)`` in every run matching ``selection``."""
    chosen = set(id(r) for r in runs.select(**selection))
    replaced = []
    for run in runs:
        if id(run) in chosen:
            trace = run.trace.copy()
            trace[column] = make(run)
            run = dataclasses.replace(run, trace=trace)
        replaced.append(run)
    return Results(tuple(replaced))


def _sgd_matches_adam_on_language(results: dict) -> dict:
    """Plain SGD trains the language model as well as Adam: no Adam gap there."""
    runs = results["networks-language"]
    adam = float(np.median(runs.one(label="Adam").finals("loss")))
    return {**results, "networks-language": _with_column(runs, "loss", lambda r: r.column("loss") * 0 + adam,
                                                          label="SGD")}  # fmt: skip


def _adam_fixes_the_rare_classes(results: dict) -> dict:
    """What the explanation predicts: with Zipf classes, Adam's rare classes do as well as its frequent ones."""
    runs = results["heavy-tail"]
    return {**results, "heavy-tail": _with_column(runs, "test_loss_rare", lambda r: r.column("test_loss_frequent"),
                                                  problem="softmax-zipf", label="Adam")}  # fmt: skip


# claim -> how to plant a failure in its results (to be merged into tests/test_lecture.py's PLANTED)
PLANTED = {"networks": _sgd_matches_adam_on_language, "heavy-tail": _adam_fixes_the_rare_classes}


def test_every_claim_has_a_planted_failure():
    assert set(PLANTED) == {c.key for c in CLAIMS}


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.key)
def test_claim_holds_on_its_measurements(reproduction, claim):
    result, _ = reproduction
    verdict = result.verdicts[claim.key]
    failed = [f"{c.name}: measured {c.measured}, expected {c.expected}" for c in verdict.checks if not c.passed]
    assert verdict.passed, failed
    assert all(c.measured and c.expected for c in verdict.checks)
    assert verdict.table is not None and not verdict.table.empty


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.key)
def test_a_planted_failing_trace_flips_the_verdict(reproduction, claim):
    _, results = reproduction
    assert claim.judge(results[claim.key]).passed
    planted = claim.judge(PLANTED[claim.key](results[claim.key]))
    assert not planted.passed
    assert any(not c.passed for c in planted.checks)


def test_figures_are_written(reproduction):
    result, _ = reproduction
    names = {p.name for p in result.files}
    assert {"networks-curves.png", "networks-gap.png", "heavy-tail.png"} <= names
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in result.files)


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
    # without imbalance the generator draws exactly what it drew before the option existed (fingerprints taken
    # from that version), so every existing experiment keeps its data
    before = {(2, 1.0): "7111de562ddf6434", (4, 1.0): "a37fc20c1311d13b", (7, 0.3): "ff7bd21eb9d7063e"}
    for (n_classes, density), fingerprint in before.items():
        data = make_classification(n=300, dim=5, n_classes=n_classes, density=density, seed=4)
        assert data.fingerprint().startswith(fingerprint) and "zipf" not in data.name


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
