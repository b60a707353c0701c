"""The bad-input catalogue, spec files: each case a spec that would have run (and failed, or run wrongly) before
it was refused up front. ``CASES`` holds ``(id, make, error, message)``; see tests/test_bad_input.py."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from sgdlab.experiments import SpecError, load_spec, parse_spec
from test_spec import BASE, changed

QUADRATIC = {"name": "q", "type": "Quadratic2D"}
CLASSIFIER = {"name": "c", "type": "LogisticRegression",
              "data": {"source": "classification", "n": 50, "dim": 5, "test_size": 0.2}}  # fmt: skip
TOML_HEAD = 'name = "t"\n[budget]\nepochs = 1\n[[problems]]\nname = "q"\ntype = "Quadratic2D"\n'


@functools.cache
def files() -> Path:
    """Data files for the LIBSVM cases, written once per session."""
    root = Path(tempfile.mkdtemp(prefix="sgdlab-spec-catalogue-"))
    (root / "binary.svm").write_bytes(b"\x7fELF\x00\x00binary")
    (root / "empty.svm").write_bytes(b"")
    (root / "folder").mkdir()
    (root / "latin1.toml").write_bytes('name = "café"\n'.encode("latin-1"))  # not UTF-8
    return root


def spec(path: str, value, base=BASE):
    """``make`` for a case: parse ``BASE`` with the entry at ``path`` changed."""
    return lambda: parse_spec(changed(path, value, base))


def problem(**table):
    return spec("problems", [table])


def libsvm(name: str):
    return lambda: parse_spec(changed("problems.0.data", {"source": "libsvm", "path": str(files() / name)}))


def method(**table):
    return spec("methods", [{"type": "SGD", **table}])


def toml(text: str):
    """``make`` for a case written as TOML, read through the public loader."""

    def make():
        path = Path(tempfile.mkdtemp(prefix="sgdlab-spec-toml-")) / "spec.toml"
        path.write_text(text)
        return load_spec(path)

    return make


def spec_file(name: str):
    """``make`` for a case: the public loader given one of `files()` as the spec file."""
    return lambda: load_spec(files() / name)


TUNED = {"params": {"lr": [0.01, 0.1]}, "tune": {"param": "lr"}}

CASES = [
    # problem parameters: names from the problem's signature, types from its defaults, ranges by its own checks
    ("problem-param-typo", problem(**QUADRATIC, params={"kapa": 3}), SpecError,
     "problems[0].params.kapa: unknown parameter of Quadratic2D; allowed: kappa, n, spread, angle, seed"),
    ("problem-l2-negative", spec("problems.0.params", {"l2": -1}), SpecError,
     "problems[0].params.l2: l2 must be >= 0, got -1.0"),
    ("problem-l2-string", spec("problems.0.params", {"l2": "1e-3"}), SpecError,
     "problems[0].params.l2: must be a number, got str '1e-3'"),
    ("problem-kappa-below-one", problem(**QUADRATIC, params={"kappa": 0.5}), SpecError,
     "problems[0].params.kappa: kappa must be in [1, 1e+15], got 0.5"),
    ("problem-seed-fraction", problem(**QUADRATIC, params={"seed": 1.5}), SpecError,
     "problems[0].params.seed: must be an integer, got float 1.5"),
    ("problem-size-boolean", problem(**QUADRATIC, params={"n": True}), SpecError,
     "problems[0].params.n: must be an integer, got bool True"),
    ("problem-param-nan", problem(**QUADRATIC, params={"spread": float("nan")}), SpecError,
     "problems[0].params.spread: must be a finite number, got nan"),
    ("problem-takes-no-params", problem(name="pl", type="NonconvexPL", params={"l2": 0.1},
                                        data={"source": "regression", "n": 10, "dim": 20}), SpecError,
     "problems[0].params.l2: unknown parameter of NonconvexPL; it takes none"),
    ("problem-softmax-one-class", problem(name="s", type="SoftmaxRegression", params={"n_classes": 1},
                                          data={"source": "classification", "n_classes": 3}), SpecError,
     "problems[0].params.n_classes: softmax regression needs at least 2 classes"),
    ("problem-counterexample-slope", problem(name="a", type="AdamCounterexample", params={"C": 1.5}), SpecError,
     "problems[0].params.C: C must be > 2"),
    ("problem-rosenbrock-b", problem(name="r", type="Rosenbrock", params={"b": 0}), SpecError,
     "problems[0].params.b: b must be > 0"),
    ("problem-penalty-zero", problem(**{**CLASSIFIER, "type": "NonconvexLogistic"}, params={"penalty": 0}),
     SpecError, "problems[0].params.penalty: penalty must be > 0"),
    ("network-param-typo", problem(name="n", type="digits_cnn", params={"hidden": [32]}), SpecError,
     "problems[0].params.hidden: unknown parameter of digits_cnn; allowed: seed"),
    ("network-hidden-not-a-list", problem(name="n", type="digits_mlp", params={"hidden": 64}), SpecError,
     "problems[0].params.hidden: must be a list, got int 64"),
    # data tables
    ("data-n-string", spec("problems.0.data.n", "50"), SpecError,
     "problems[0].data.n: Input should be a valid integer (got '50')"),
    ("data-n-boolean", spec("problems.0.data.n", True), SpecError,
     "problems[0].data.n: Input should be a valid integer, not a boolean"),
    ("data-dim-float", spec("problems.0.data.dim", 5.0), SpecError,
     "problems[0].data.dim: Input should be a valid integer (got 5.0)"),
    ("data-dim-zero", spec("problems.0.data.dim", 0), SpecError,
     "problems[0].data.dim: Input should be greater than or equal to 1"),
    ("data-noise-negative", spec("problems.0.data.noise", -0.1), SpecError,
     "problems[0].data.noise: Input should be greater than or equal to 0"),
    ("data-density-nan", spec("problems.0.data.density", float("nan")), SpecError,
     "problems[0].data.density: Input should be a finite number"),
    ("data-test-size-whole", spec("problems.0.data.test_size", 1.0), SpecError,
     "problems[0].data.test_size: Input should be less than 1"),
    ("data-test-size-empty-part", spec("problems.0.data.test_size", 0.001), SpecError,
     "problems[0].data.test_size: 0.001 of n=50 samples leaves an empty train or test part"),
    ("data-seed-negative", spec("problems.0.data.seed", -1), SpecError,
     "problems[0].data.seed: a seed must be an integer in 0 .. 2**63 - 1"),
    ("data-standardize-string", spec("problems.0.data.standardize", "yes"), SpecError,
     "problems[0].data.standardize: Input should be a valid boolean (got 'yes')"),
    ("data-test-split-unused", problem(name="pl", type="NonconvexPL",
                                       data={"source": "regression", "n": 10, "dim": 20, "test_size": 0.2}),
     SpecError, "problems[0].data.test_size: NonconvexPL has no held-out evaluation"),
    ("libsvm-missing", libsvm("missing.svm"), SpecError, "problems[0].data.path: LIBSVM file not found"),
    ("libsvm-directory", libsvm("folder"), SpecError, "is not a regular file (a directory?)"),
    ("libsvm-binary", libsvm("binary.svm"), SpecError, "is a binary file, not a LIBSVM text file"),
    ("libsvm-empty", libsvm("empty.svm"), SpecError, r"data\.path: LIBSVM file .*empty\.svm is empty"),
    ("libsvm-empty-path", spec("problems.0.data", {"source": "libsvm", "path": ""}), SpecError,
     "problems[0].data.path: String should have at least 1 character"),
    # seeds and batch sizes
    ("seeds-negative", spec("seeds", [3, -1]), SpecError,
     "seeds[1]: a seed must be an integer in 0 .. 2**63 - 1, got -1"),
    ("seeds-beyond-sqlite", spec("seeds", [2**63]), SpecError,
     "seeds[0]: a seed must be an integer in 0 .. 2**63 - 1, got 9223372036854775808"),
    ("seeds-string", spec("seeds", "3"), SpecError, "seeds: Input should be a valid integer (got '3')"),
    ("seeds-boolean", spec("seeds", True), SpecError, "seeds: Input should be a valid integer, not a boolean"),
    ("seeds-list-of-booleans", spec("seeds", [True, False]), SpecError,
     "seeds[0]: Input should be a valid integer, not a boolean"),
    ("seeds-repeated", spec("seeds", [1, 2, 1]), SpecError, "seeds: seeds lists 1 more than once"),
    ("tune-seeds-negative", method(**TUNED | {"tune": {"param": "lr", "seeds": [-2]}}), SpecError,
     "methods[0].tune.seeds[0]: a seed must be an integer in 0 .. 2**63 - 1"),
    ("tune-seeds-count", method(**TUNED | {"tune": {"param": "lr", "seeds": 3}}), SpecError,
     "methods[0].tune.seeds: Input should be a valid list (got 3)"),
    ("batch-size-beyond-n", spec("batch_size", 51), SpecError,
     "batch_size: 51 is more than the 50 training samples of problems[0] (ls)"),
    ("batch-size-beyond-train-part", spec("batch_size", [1, 48], changed("problems.0.data.test_size", 0.1)),
     SpecError, "batch_size: 48 is more than the 45 training samples of problems[0] (ls)"),
    ("batch-size-beyond-toy", spec("batch_size", 4, changed("problems", [{"name": "r", "type": "Rosenbrock"}])),
     SpecError, "batch_size: 4 is more than the 2 training samples of problems[0] (r)"),
    ("batch-size-negative-entry", spec("batch_size", [8, -1]), SpecError,
     "batch_size[1]: Input should be greater than or equal to 1"),
    ("batch-size-empty-list", spec("batch_size", []), SpecError,
     "batch_size: batch_size must be a size >= 1 or a non-empty list of sizes"),
    # no silent coercion
    ("epochs-string", spec("budget.epochs", "1"), SpecError, "budget.epochs: Input should be a valid number (got '1')"),
    ("epochs-boolean", spec("budget.epochs", True), SpecError, "budget.epochs: Input should be a valid number, not a"),
    ("lr-string", spec("methods.0.params", {"lr": "0.1"}), SpecError,
     "methods[0].params.lr: lr must be a real number, got str '0.1'"),
    ("lr-grid-with-string", spec("methods.0.params", {"lr": [0.1, "0.01"]}), SpecError,
     "methods[0].params.lr: lr must be a real number, got str '0.01'"),
    ("lr-infinite", spec("methods.0.params", {"lr": float("inf")}), SpecError,
     "methods[0].params.lr: must be a finite number, got inf"),
    ("lr-huge-integer", spec("methods.0.params", {"lr": 10**400}), SpecError,
     "methods[0].params.lr: lr must be finite, got an integer of 1329 bits"),
    # metrics and tuning rules
    ("metrics-empty", spec("record.metrics", []), SpecError,
     "record.metrics: metrics must list at least one of: loss, subopt, grad_norm2, dist2"),
    ("metrics-repeated", spec("record.metrics", ["loss", "subopt", "loss"]), SpecError,
     "record.metrics: metrics lists 'loss' more than once"),
    ("metrics-not-a-list", spec("record.metrics", "loss"), SpecError,
     "record.metrics: Input should be a valid list (got 'loss')"),
    ("tune-test-metric-without-split", method(**TUNED | {"tune": {"param": "lr", "metric": "final_test_loss"}}),
     SpecError, "methods[0].tune.metric: 'final_test_loss' needs a test split, but problems[0] (ls, LeastSquares)"),
    ("tune-accuracy-of-regression",
     spec("methods", [{"type": "SGD", **TUNED, "tune": {"param": "lr", "metric": "final_test_accuracy"}}],
          changed("problems.0.data.test_size", 0.2)),
     SpecError, "'final_test_accuracy' needs a classifier, but problems[0] (ls, LeastSquares) is a regression"),
    ("tune-subopt-of-network", spec("problems", [{"name": "n", "type": "digits_cnn"}],
                                    changed("methods", [{"type": "SGD", **TUNED}])),
     SpecError, "methods[0].tune.metric: 'final_subopt' needs a certified optimum, which problems[0] (n, digits_cnn)"),
    ("record-subopt-of-network", spec("problems", [{"name": "n", "type": "digits_mlp"}],
                                      changed("record.metrics", ["loss", "subopt"])),
     SpecError, "record.metrics: subopt need a certified optimum, which problems[0] (n, digits_mlp) has not"),
    # one run under two names, repeated grid values
    ("same-run-two-names", spec("methods", [{"type": "Adam", "name": "a"}, {"type": "Adam", "name": "b"}]),
     SpecError, r"methods\[0\] \(a\) and methods\[1\] \(b\) are the same run"),
    ("grids-overlap", spec("methods", [{"type": "SGD", "params": {"lr": [0.1, 0.3]}},
                                       {"type": "SGD", "name": "slow", "params": {"lr": 0.3}}]),
     SpecError, r"methods\[0\] \(SGD\) and methods\[1\] \(slow\) are the same run \(SGD with lr=0.3, seed 0\)"),
    ("identical-tuned-methods", spec("methods", [{"type": "SGD", **TUNED}, {"type": "SGD", "name": "again", **TUNED}]),
     SpecError, r"methods\[0\] \(SGD\) and methods\[1\] \(again\) are the same run"),
    ("tuning-run-is-a-fixed-run", spec("methods", [{"type": "SGD", "params": {"lr": 0.1}},
                                                   {"type": "SGD", "name": "tuned", **TUNED}]),
     SpecError, r"methods\[0\] \(SGD\) and methods\[1\] \(tuned\) are the same run"),
    # tuned on other seeds than the main ones: tuning may pick lr = 0.1, whose main runs are the fixed method's
    ("tuned-pick-is-a-fixed-run", spec("methods", [{"type": "SGD", "name": "fixed", "params": {"lr": 0.1}},
                                                   {"type": "SGD", "name": "tuned", "params": {"lr": [0.01, 0.1]},
                                                    "tune": {"param": "lr", "seeds": [100]}}]),
     SpecError, r"methods\[0\] \(fixed\) and methods\[1\] \(tuned\) are the same run \(SGD with lr=0.1, seed 0\)"),
    ("grid-value-repeated", spec("methods.0.params", {"lr": [0.1, 0.2, 0.1]}), SpecError,
     "methods[0]: params.lr lists 0.1 more than once"),
    # sizes and bounds
    ("grid-of-a-billion", spec("methods", [{"type": "Adam", "params": {"lr": [(k + 1) / 1e3 for k in range(1000)],
                                                                       "beta2": [k / 1e3 for k in range(1000)]}}],
                               changed("seeds", 1000)),
     SpecError, "spec: this spec expands to 1,000,000,000 runs; the limit is 100,000"),
    ("seeds-a-million", spec("seeds", 10**6), SpecError, "this spec expands to 1,000,000 runs; the limit is 100,000"),
    ("record-every-tiny", spec("record.every", 1e-300), SpecError,
     "record.every: Input should be greater than or equal to 0.001"),
    ("record-every-negative", spec("record.every", -1.0), SpecError,
     "record.every: Input should be greater than or equal to 0.001 (got -1.0)"),
    ("points-per-decade-huge", spec("record.points_per_decade", 10**9), SpecError,
     "record.points_per_decade: Input should be less than or equal to 1000"),
    ("epochs-enormous", spec("budget.epochs", 1e300), SpecError,
     "budget.epochs: Input should be less than or equal to 1000000"),
    ("iters-beyond-exact-counts", spec("budget.iters", 10**30), SpecError,
     "budget.iters: Input should be less than or equal to 9007199254740992"),
    ("seconds-enormous", spec("budget.seconds", 1e12), SpecError,
     "budget.seconds: Input should be less than or equal to 2592000"),
    ("grad-evals-enormous", spec("budget.grad_evals", 1e300), SpecError,
     "budget.grad_evals: Input should be less than or equal to 9007199254740992"),
    # shapes of the document
    ("method-name-empty", spec("methods.0.name", ""), SpecError,
     "methods[0].name: String should have at least 1 character"),
    ("methods-with-a-string", spec("methods", [{"type": "SGD"}, "Adam"]), SpecError,
     "methods[1]: Input should be a valid dictionary or instance of MethodSpec (got 'Adam')"),
    ("budget-as-list", spec("budget", [1]), SpecError, "budget: Input should be a valid dictionary"),
    ("toml-problems-as-table", toml('name = "t"\n[budget]\nepochs = 1\n[problems]\nname = "q"\ntype = "Quadratic2D"\n'
                                    '[[methods]]\ntype = "SGD"\n'),
     SpecError, "problems: Input should be a valid list"),
    ("toml-nan-step", toml(TOML_HEAD + '[[methods]]\ntype = "SGD"\nparams = { lr = nan }\n'), SpecError,
     "methods[0].params.lr: must be a finite number, got nan"),
    ("toml-inf-epochs", toml(TOML_HEAD.replace("epochs = 1", "epochs = inf") + '[[methods]]\ntype = "SGD"\n'),
     SpecError, "budget.epochs: Input should be a finite number"),
    ("toml-unknown-top-level-key", toml("seed = 3\n" + TOML_HEAD + '[[methods]]\ntype = "SGD"\n'), SpecError,
     "seed: unknown field (check its spelling)"),
    ("toml-seeds-string", toml('seeds = "5"\n' + TOML_HEAD + '[[methods]]\ntype = "SGD"\n'), SpecError,
     "seeds: Input should be a valid integer (got '5')"),
    # the spec file itself, read from Python (the CLI checks the path first)
    ("spec-file-directory", spec_file("folder"), SpecError, "is a directory; expected an experiment spec file"),
    ("spec-file-binary", spec_file("latin1.toml"), SpecError, r"not a text file \(not UTF-8\)"),
]  # fmt: skip
