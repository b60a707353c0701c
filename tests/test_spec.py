"""Experiment files: validation (every mistake named), grid expansion, tuning plan, run identity."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from sgdlab.experiments import Plan, SpecError, load_spec, parse_spec
from sgdlab.experiments.spec import parse_schema

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


# --- the spec checked against the library (sgdlab.experiments.validate) ---------------------------------------

QUADRATIC = {"name": "q", "type": "Quadratic2D"}


def _refused(doc) -> list[str]:
    with pytest.raises(SpecError) as error:
        parse_spec(doc)
    return error.value.problems


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ({**QUADRATIC, "params": {"kapa": 3}},
         "problems[0].params.kapa: unknown parameter of Quadratic2D; allowed: kappa, n, spread, angle, seed"),
        ({**QUADRATIC, "params": {"kappa": 0.5}}, "problems[0].params.kappa: kappa must be in [1, 1e+15], got 0.5"),
        ({**QUADRATIC, "params": {"seed": 1.5}}, "problems[0].params.seed: must be an integer, got float 1.5"),
        ({**BASE["problems"][0], "params": {"l2": -1}}, "problems[0].params.l2: l2 must be >= 0, got -1.0"),
        ({**BASE["problems"][0], "params": {"l2": "0.1"}}, "problems[0].params.l2: must be a number, got str '0.1'"),
        ({"name": "pl", "type": "NonconvexPL", "params": {"l2": 1.0}, "data": {"source": "regression"}},
         "problems[0].params.l2: unknown parameter of NonconvexPL; it takes none"),
    ],
)  # fmt: skip
def test_problem_parameters_are_checked_by_the_problem(problem, message):
    assert _refused(changed("problems", [problem])) == [message]


def test_problem_parameters_that_fit_are_accepted_and_kept():
    spec = parse_spec(changed("problems", [{**QUADRATIC, "params": {"kappa": 20, "n": 8, "seed": 3}}]))
    assert spec.problems[0].params == {"kappa": 20, "n": 8, "seed": 3}  # ranges checked, nothing rewritten


def test_libsvm_paths_are_checked_before_any_run(tmp_path):
    def libsvm(path):
        return changed("problems.0.data", {"source": "libsvm", "path": str(path)})

    (tmp_path / "binary.svm").write_bytes(b"\x00\x01\x02garbage")
    (tmp_path / "empty.svm").write_bytes(b"")
    (tmp_path / "ok.svm").write_text("+1 1:0.5\n-1 2:1.0\n")
    assert _refused(libsvm(tmp_path / "missing.svm")) == [f"problems[0].data.path: LIBSVM file not found: "
                                                          f"{tmp_path / 'missing.svm'}"]  # fmt: skip
    assert "is not a regular file" in _refused(libsvm(tmp_path))[0]
    assert "is a binary file" in _refused(libsvm(tmp_path / "binary.svm"))[0]
    assert "is empty" in _refused(libsvm(tmp_path / "empty.svm"))[0]
    assert parse_spec(libsvm(tmp_path / "ok.svm")).problems[0].data.path == str(tmp_path / "ok.svm")


def test_held_out_split_and_batch_size_must_fit_the_data():
    assert _refused(changed("problems.0.data.test_size", 0.001)) == [
        "problems[0].data.test_size: 0.001 of n=50 samples leaves an empty train or test part"
    ]
    split = changed("problems.0.data.test_size", 0.5)
    assert "more than the 25 training samples of problems[0] (ls)" in _refused(changed("batch_size", 26, split))[0]
    assert parse_spec(changed("batch_size", 25, split)).batch_sizes == [25]
    assert (
        "more than the 1000 training samples"
        in _refused(
            changed(
                "batch_size", 1001, changed("problems.0.data", {"source": "regression"})
            )  # the generator's default n
        )[0]
    )
    full_batch = changed("methods", [{"type": "GD"}], changed("batch_size", 51))
    assert parse_spec(full_batch).batch_sizes == [51]  # GD uses every sample whatever the batch size


@pytest.mark.parametrize(("seeds", "message"), [
    ([-1], "seeds[0]: a seed must be an integer in 0 .. 2**63 - 1, got -1"),
    ([2**63], "seeds[0]: a seed must be an integer in 0 .. 2**63 - 1, got 9223372036854775808"),
    ([0.5], "seeds[0]: Input should be a valid integer (got 0.5)"),
    ([0, 0], "seeds: seeds lists 0 more than once"),
])  # fmt: skip
def test_seeds_are_integers_numpy_and_sqlite_both_hold(seeds, message):
    assert _refused(changed("seeds", seeds))[0].startswith(message)


def test_the_largest_seed_runs_and_is_stored(tmp_path):
    from sgdlab.experiments import SerialExecutor, Store, run_sweep

    doc = changed("problems", [QUADRATIC], changed("seeds", [2**63 - 1], changed("budget", {"iters": 3})))
    with Store(tmp_path / "r.db") as store:
        report = run_sweep(parse_spec(doc), store, SerialExecutor(), progress=False)
        assert (report.executed, report.failed) == (1, 0)
        assert store.runs()["seed"].tolist() == [2**63 - 1]


@pytest.mark.parametrize(("path", "value", "message"), [
    ("seeds", "3", "seeds: Input should be a valid integer (got '3')"),
    ("seeds", True, "seeds: Input should be a valid integer, not a boolean (got True)"),
    ("budget.epochs", "1", "budget.epochs: Input should be a valid number (got '1')"),
    ("budget.epochs", True, "budget.epochs: Input should be a valid number, not a boolean (got True)"),
    ("problems.0.data.n", 50.0, "problems[0].data.n: Input should be a valid integer (got 50.0)"),
    ("methods.0.params", {"lr": "0.1"}, "methods[0].params.lr: lr must be a real number, got str '0.1'"),
])  # fmt: skip
def test_values_are_never_coerced(path, value, message):
    assert _refused(changed(path, value)) == [message]


def test_an_integer_is_a_float_where_a_float_is_expected():
    spec = parse_spec(changed("budget.epochs", 1, changed("methods.0.params", {"lr": 1})))
    assert spec.budget.epochs == 1.0 and spec.methods[0].params == {"lr": 1}


def test_metrics_and_tuning_rules_must_be_measurable():
    assert _refused(changed("record.metrics", [])) == [
        "record.metrics: metrics must list at least one of: loss, subopt, grad_norm2, dist2 "
        "(leave it out for all the problem supports)"
    ]
    tuned = changed("methods", [{"type": "SGD", "params": {"lr": [0.01, 0.1]},
                                 "tune": {"param": "lr", "metric": "final_test_loss"}}])  # fmt: skip
    assert _refused(tuned) == [
        "methods[0].tune.metric: 'final_test_loss' needs a test split, but problems[0] (ls, LeastSquares) has none "
        "(give it data.test_size)"
    ]
    assert parse_spec(changed("problems.0.data.test_size", 0.2, tuned)).methods[0].tune.metric == "final_test_loss"
    accuracy = changed("methods.0.tune.metric", "final_test_accuracy", changed("problems.0.data.test_size", 0.2, tuned))
    assert "needs a classifier, but problems[0] (ls, LeastSquares) is a regression problem" in _refused(accuracy)[0]


def test_one_run_under_two_names_is_refused():
    """A run's key is its settings, not its label, so the store would keep one of the two names."""
    twins = changed("methods", [{"type": "SGD", "name": "a", "params": {"lr": 0.1}},
                                {"type": "SGD", "name": "b", "params": {"lr": [0.1, 0.2]}}])  # fmt: skip
    assert _refused(twins) == [
        "methods[0] (a) and methods[1] (b) are the same run (SGD with lr=0.1, seed 0): a run is identified by its "
        "settings, not its name, so one name would vanish from the results; remove one or change its settings"
    ]
    apart = parse_spec(changed("methods.1.params.lr", [0.2, 0.3], twins))
    runs = Plan(apart).main_runs({})
    assert len({r.key for r in runs}) == len(runs) == 6 and {r.label for r in runs} == {"a", "b"}
    judged_twice = changed("methods", [{"type": "SGD", "params": {"lr": [0.1, 0.2]}, "tune": {"param": "lr"}},
                                       {"type": "SGD", "name": "by-loss", "params": {"lr": [0.1, 0.2]},
                                        "tune": {"param": "lr", "metric": "final_loss"}}])  # fmt: skip
    assert len(parse_spec(judged_twice).methods) == 2  # one grid judged by two rules shares tuning runs only


def test_a_billion_run_spec_is_refused_within_a_second():
    import time

    from sgdlab.experiments.grid import run_count

    lists = {"lr": [(k + 1) / 1000 for k in range(1000)], "beta1": [k / 1001 for k in range(1000)]}
    doc = changed("methods", [{"type": "Adam", "params": lists}], changed("seeds", 1000))
    started = time.perf_counter()
    problems = _refused(doc)
    assert time.perf_counter() - started < 1.0
    assert problems == ["spec: this spec expands to 1,000,000,000 runs; the limit is 100,000 "
                        "(shorten its lists or split it into several specs)"]  # fmt: skip
    small = changed("methods", [{"type": "Adam", "params": {"lr": [0.1, 0.01], "beta1": [0.8, 0.9]}},
                                {"type": "SGD", "params": {"lr": [0.1, 0.2, 0.3]}, "tune": {"param": "lr"}}],
                    changed("batch_size", [1, 2]))  # fmt: skip
    spec = parse_spec(small)
    plan = Plan(spec)
    assert run_count(spec) == len(plan.tuning_runs) + plan.main_count == (4 * 2 + 3 * 1 + 2) * 2


@pytest.mark.parametrize(("path", "value", "message"), [
    ("record.every", 1e-300, "record.every: Input should be greater than or equal to 0.001"),
    ("budget.epochs", 1e300, "budget.epochs: Input should be less than or equal to 1000000"),
    ("budget.iters", 10**30, "budget.iters: Input should be less than or equal to 9007199254740992"),
    ("methods.0.params", {"lr": float("nan")}, "methods[0].params.lr: must be a finite number, got nan"),
    ("methods.0.name", "", "methods[0].name: String should have at least 1 character"),
])  # fmt: skip
def test_bounds_that_keep_a_run_finite(path, value, message):
    assert _refused(changed(path, value))[0].startswith(message)


def test_every_mistake_is_listed_together():
    doc = changed("problems.0.params", {"kapa": 3}, changed("seeds", [-1], changed("batch_size", 51)))
    assert [line.split(":")[0] for line in _refused(doc)] == ["seeds[0]"]  # the schema first, on its own
    doc = changed("problems.0.params", {"kapa": 3}, changed("batch_size", 51, changed("record.metrics", ["loss"])))
    assert [line.split(":")[0] for line in _refused(doc)] == ["problems[0].params.kapa", "batch_size"]


def test_every_data_field_belongs_to_a_source_and_every_source_field_is_a_data_field():
    """The data sources' table (`sgdlab.data.sources`) and the schema name the same fields: a field no source
    takes would be refused for every source, a source field missing from the schema could never be set."""
    from sgdlab.data.sources import COMMON_FIELDS, SOURCES
    from sgdlab.experiments.spec import DataSpec

    taken = {field for source in SOURCES.values() for field in source.fields} | set(COMMON_FIELDS)
    assert taken == set(DataSpec.model_fields)
    assert set(SOURCES) == set(DataSpec.model_fields["source"].annotation.__args__)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"source": "regression", "n_classes": 3}, "n_classes applies to source 'classification' only"),
        ({"source": "classification", "exponent": 1.0}, "exponent applies to source 'rare_features' only"),
        ({"source": "rare_features", "cond": 10.0}, "source 'rare_features' takes n, dim, noise, exponent"),
        ({"source": "libsvm", "path": "x", "name": "iris"}, "name applies to source 'bundled' only"),
    ],
)
def test_a_field_of_another_source_is_refused_naming_where_it_applies(data, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_schema(
            {"name": "e", "problems": [{"name": "p", "type": "LeastSquares", "data": data}],
             "methods": [{"type": "SGD"}], "budget": {"epochs": 1}}
        )  # fmt: skip


def test_the_problem_kinds_are_what_their_constructors_take():
    import inspect

    from sgdlab import problems
    from sgdlab.experiments.spec import DATA_PROBLEMS, NETWORK_PROBLEMS, OWN_DATA_PROBLEMS, PROBLEM_TYPES
    from sgdlab.torch import problems as networks

    assert len(set(PROBLEM_TYPES)) == len(PROBLEM_TYPES)
    for kind in DATA_PROBLEMS:
        assert next(iter(inspect.signature(getattr(problems, kind)).parameters)) == "data", kind
    for kind in OWN_DATA_PROBLEMS:
        assert "data" not in inspect.signature(getattr(problems, kind)).parameters, kind
    for kind in NETWORK_PROBLEMS:
        assert callable(getattr(networks, kind)), kind


def test_network_parameters_are_checked_from_the_factories_signatures_without_importing_torch():
    """The stand-ins `validate` reads from `sgdlab/torch/problems.py` take what the factories take (names, kinds,
    defaults), and checking a spec with networks leaves torch unimported."""
    import inspect
    import subprocess
    import sys

    from sgdlab.experiments import validate
    from sgdlab.experiments.spec import NETWORK_PROBLEMS
    from sgdlab.problems.base import Problem
    from sgdlab.torch import problems as networks

    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    for kind in NETWORK_PROBLEMS:
        assert shape(validate._network_factory(kind)) == shape(getattr(networks, kind)), kind
    # the traits the checks read: no certified optimum, a classification task, a held-out evaluation
    for trait in ("has_optimum", "task"):
        assert getattr(validate._Network, trait) == getattr(networks.NetworkProblem, trait), trait
    assert (validate._Network.evaluate is Problem.evaluate) == (networks.NetworkProblem.evaluate is Problem.evaluate)
    code = (
        "import sys\nfrom sgdlab.experiments.validate import parse_spec\n"
        "parse_spec({'name': 'e', 'problems': [{'name': 'n', 'type': 'digits_mlp', 'params': {'hidden': [8]}}],"
        " 'methods': [{'type': 'SGD', 'params': {'lr': 0.1}}], 'budget': {'epochs': 1}})\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
