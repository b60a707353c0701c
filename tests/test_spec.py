"""Experiment files: validation (every mistake named), grid expansion, tuning plan, run identity."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sgdlab.experiments import Plan, SpecError, load_spec, parse_spec

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))

BASE = {
    "name": "t",
    "seeds": 2,
    "budget": {"epochs": 1},
    "problems": [
        {"name": "ls", "type": "LeastSquares", "data": {"source": "regression", "n": 50, "dim": 5}},
    ],
    "methods": [{"type": "SGD"}],
    "record": {"points_per_decade": 10},
}


def changed(path: str, value, base=BASE):
    """A copy of ``base`` with the entry at dotted ``path`` set to ``value`` (``DELETE`` removes it)."""
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


DELETE = object()

INVALID = [
    ("name", DELETE, "name: required field is missing"),
    ("budget", DELETE, "budget: required field is missing"),
    ("budget", {}, "give at least one of epochs, grad_evals, iters, seconds"),
    ("budget.epochs", -1, "budget.epochs: Input should be greater than 0"),
    ("budget.iters", 0, "budget.iters: Input should be greater than or equal to 1"),
    ("budget.minutes", 3, "budget.minutes: unknown field"),
    ("seeds", 0, "seeds"),
    ("seeds", [], "seeds must be a positive count or a non-empty list"),
    ("batch_size", 0, "batch_size"),
    ("sampler", "importance", "sampler: Input should be 'uniform', 'reshuffle', 'blocks' or 'full'"),
    ("problems", [], "problems: List should have at least 1 item"),
    ("problems.0.type", "Lasso", "problems[0].type: Input should be 'LeastSquares'"),
    ("problems.0.data", DELETE, "needs a data table"),
    ("problems.0.data.source", "csv", "problems[0].data.source: Input should be 'regression', 'classification'"),
    ("problems.0.data.cond", 0.5, "problems[0].data.cond: Input should be greater than or equal to 1"),
    ("problems.0.data.density", 2.0, "problems[0].data.density: Input should be less than or equal to 1"),
    ("problems.0.data", {"source": "bundled"}, "needs name = one of 'digits'"),
    ("problems.0.data", {"source": "bundled", "name": "mnist"}, "problems[0].data.name: Input should be 'digits'"),
    ("problems.0.data", {"source": "libsvm"}, "source 'libsvm' needs path"),
    ("problems.0.data", {"source": "bundled", "name": "iris", "n": 5}, "does not take n"),
    ("problems.0.nmae", "x", "problems[0].nmae: unknown field"),
    ("methods", [], "methods: List should have at least 1 item"),
    ("methods.0.type", "Adamax", "methods[0].type: Input should be 'GD', 'SGD'"),
    ("methods.0.params", {"lr": -0.1}, "methods[0].params.lr: lr must be > 0"),
    ("methods.0.params", {"lr": [0.1, 0.0]}, "methods[0].params.lr: lr must be > 0"),
    ("methods.0.params", {"momentum": 0.9}, "unknown hyperparameter 'momentum' for SGD; allowed: lr, schedule"),
    ("methods.0.params", {"lr": []}, "params.lr: a grid needs at least one value"),
    ("methods.0.tune", {"param": "lr"}, "tune.param 'lr' must be a list in params"),
    (
        "methods.0",
        {"type": "SGD", "params": {"lr": [0.1, 1.0]}, "tune": {"param": "lr", "metric": "best"}},
        "methods[0].tune.metric: Input should be 'final_subopt'",
    ),
    ("methods.0", {"type": "SGD", "params": {"schedule": "exp"}}, "schedule must be a Schedule"),
    ("record.metrics", ["loss", "accuracy"], "record.metrics[1]: Input should be 'loss', 'subopt'"),
    ("record.points_per_decade", 0, "record.points_per_decade: Input should be greater than or equal to 1"),
]


def test_several_mistakes_are_reported_together():
    doc = changed("sampler", "bad", changed("budget", {}))
    with pytest.raises(SpecError) as error:
        parse_spec(doc)
    assert len(error.value.problems) == 2


def test_duplicate_method_labels_are_rejected():
    doc = changed("methods", [{"type": "SGD"}, {"type": "SGD"}])
    with pytest.raises(SpecError, match="method names must be unique; repeated: SGD"):
        parse_spec(doc)


def test_file_errors(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_are_valid(path):
    spec = load_spec(path)
    assert Plan(spec).main_count > 0


def test_grid_expansion_counts_and_keys():
    doc = changed(
        "methods",
        [{"type": "Adam", "params": {"lr": [1e-3, 1e-2], "beta1": [0.8, 0.9]}}],
        changed("batch_size", [1, 4]),
    )
    plan = Plan(parse_spec(doc))
    runs = plan.main_runs({})
    assert len(runs) == 2 * 2 * 2 * 2  # lr × beta1 × batch sizes × seeds
    assert len({r.key for r in runs}) == len(runs)
    again = Plan(parse_spec(copy.deepcopy(doc))).main_runs({})
    assert [r.key for r in again] == [r.key for r in runs]  # keys are stable


def test_tuning_plan_picks_the_best_value_and_reuses_seed_runs():
    doc = changed(
        "methods", [{"type": "SGD", "params": {"lr": [0.01, 0.1, 1.0]}, "tune": {"param": "lr", "seeds": [0, 1]}}]
    )
    plan = Plan(parse_spec(doc))
    assert len(plan.tuning_runs) == 6
    scores = {r.key: abs(r.hyperparameters["lr"] - 0.1) + r.seed for r in plan.tuning_runs}
    main = plan.main_runs(scores)
    assert {r.hyperparameters["lr"] for r in main} == {0.1}
    assert {r.key for r in main} <= {r.key for r in plan.tuning_runs}  # seeds 0, 1 were tuning runs already
    missing = {
        k: v
        for k, v in scores.items()
        if k != next(r.key for r in plan.tuning_runs if r.hyperparameters["lr"] == 0.1 and r.seed == 0)
    }
    assert {r.hyperparameters["lr"] for r in plan.main_runs(missing)} != {0.1}  # a failed run never wins


CLASSIFIER = {"name": "lr", "type": "LogisticRegression", "params": {"l2": 1e-3},
              "data": {"source": "classification", "n": 50, "dim": 5, "test_size": 0.2}}  # fmt: skip


def test_accuracy_is_maximised_when_tuning():
    doc = changed(
        "methods",
        [{"type": "SGD", "params": {"lr": [0.01, 0.1]}, "tune": {"param": "lr", "metric": "final_test_accuracy"}}],
        changed("problems", [CLASSIFIER]),
    )
    plan = Plan(parse_spec(doc))
    scores = {r.key: r.hyperparameters["lr"] for r in plan.tuning_runs}  # higher lr, higher accuracy
    assert {r.hyperparameters["lr"] for r in plan.main_runs(scores)} == {0.1}


def test_digest_ignores_formatting():
    a = parse_spec(copy.deepcopy(BASE))
    b = parse_spec({**copy.deepcopy(BASE), "seeds": 2})
    assert a.digest() == b.digest()
    assert a.digest() != parse_spec(changed("seeds", 3)).digest()
