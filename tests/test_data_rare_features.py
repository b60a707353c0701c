"""make_rare_features: power-law feature frequencies, equally informative features, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from sgdlab.data import make_rare_features
from sgdlab.experiments import SpecError, parse_spec
from sgdlab.experiments.execute import build_problem


def test_feature_frequencies_follow_the_power_law():
    data = make_rare_features(n=20_000, dim=50, exponent=1.0, max_freq=0.5, seed=3)
    assert data.is_sparse and set(np.unique(data.A.data)) == {1.0} and set(np.unique(data.y)) == {-1, 1}
    observed = np.asarray(data.A.mean(axis=0)).ravel()
    expected = 0.5 / np.arange(1, 51)
    assert np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / 20_000) + 1e-12)
    flat = make_rare_features(n=5_000, dim=10, exponent=0.0, seed=3)
    assert np.allclose(np.asarray(flat.A.mean(axis=0)).ravel(), 0.5, atol=0.05)


def test_same_seed_same_data():
    a, b = make_rare_features(n=300, dim=20, seed=1), make_rare_features(n=300, dim=20, seed=1)
    assert (a.A != b.A).nnz == 0 and np.array_equal(a.y, b.y)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n must be"), ({"exponent": -1.0}, "exponent must be"), ({"max_freq": 1.5}, "max_freq must be"),
     ({"noise": -1.0}, "noise must be")],
)  # fmt: skip
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_rare_features(**kwargs)


def _doc(data: dict) -> dict:
    return {"name": "x", "budget": {"epochs": 1}, "methods": [{"type": "SGD"}],
            "problems": [{"name": "p", "type": "LogisticRegression", "data": data}]}  # fmt: skip


def test_the_spec_source_builds_it_and_rejects_foreign_fields():
    spec = parse_spec(_doc({"source": "rare_features", "n": 200, "dim": 30, "exponent": 1.5, "seed": 2}))
    problem, _ = build_problem(spec.problems[0].model_dump(mode="json"))
    direct = make_rare_features(n=200, dim=30, exponent=1.5, seed=2)
    assert (problem.A != direct.A).nnz == 0
    with pytest.raises(SpecError, match="does not take cond"):
        parse_spec(_doc({"source": "rare_features", "cond": 10.0}))
    with pytest.raises(SpecError, match="exponent applies to source 'rare_features' only"):
        parse_spec(_doc({"source": "classification", "exponent": 1.0}))
