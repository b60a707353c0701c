"""A spec checked against the library before any run starts, so that no mistake surfaces as a failed run.

The schema (`sgdlab.experiments.spec`) has checked each field's type and range; what needs the problem,
method and data code is checked here, by that code's own checks wherever it has them:

- problem parameters: names against the problem's signature, types against its defaults, ranges by building
  the problem (on a two-sample stand-in dataset for problems that take data; networks are not built);
- data: the size of a held-out split, and a LIBSVM path (it must name a readable, non-empty text file;
  relative paths are relative to the working directory, as when the runs read it);
- batch sizes against the number of (training) samples, where the spec determines it;
- tuning and recording metrics against what each problem measures (a test split, accuracy, an optimum);
- the number of runs (at most `MAX_RUNS`, counted before anything is expanded);
- every method's hyperparameters, by building the method at every grid point;
- two methods asking for the same run: a run's key holds its settings, not the method's name, so the store
  and the report would keep one of the two names. Such a spec is refused, naming both methods.

Each check returns one line per mistake, starting with the field's path.
[`parse_spec`][sgdlab.experiments.parse_spec] and [`load_spec`][sgdlab.experiments.load_spec] (the schema,
then these checks) live here, so that the schema imports none of its checks.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
import inspect
import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from sgdlab import problems as numpy_problems
from sgdlab.data.dataset import Dataset
from sgdlab.data.sources import SOURCES
from sgdlab.experiments.grid import MAX_RUNS, grid_points, run_count
from sgdlab.experiments.spec import (
    DATA_PROBLEMS,
    NETWORK_PROBLEMS,
    MethodSpec,
    ProblemSpec,
    Spec,
    SpecError,
    parse_schema,
)
from sgdlab.methods import METHODS
from sgdlab.problems.base import Problem

#: Errors a problem's or method's own argument checks raise.
_CHECK_ERRORS = (TypeError, ValueError, OverflowError)


def _stand_in_data() -> Dataset:
    """Two samples that every data problem accepts (labels 0/1 are binary and class labels; full rank, n <= dim),
    so that building the problem runs its parameter checks and nothing else."""
    return Dataset(np.eye(2), np.array([0.0, 1.0]), name="stand-in")


class _Network:
    """What a network problem measures (`NetworkProblem`'s traits), known without importing torch."""

    has_optimum = False
    task = "classification"

    def evaluate(self, x: np.ndarray, data: Any) -> dict[str, float]:  # it has a held-out evaluation
        raise TypeError("a stand-in for checking specs; network problems are in sgdlab.torch.problems")


def _network_factory(kind: str) -> Any:
    """A stand-in with the signature of `sgdlab.torch.problems.<kind>`, read from that module's source: checking a
    spec imports no torch (seconds at start-up, in a process that never trains). `ImportError` without torch."""
    if importlib.util.find_spec("torch") is None:
        raise ImportError("No module named 'torch'")
    source = Path(numpy_problems.__file__).parent.parent / "torch" / "problems.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == kind)
    args = node.args
    positional = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    empty = inspect.Parameter.empty
    parameters = [
        inspect.Parameter(a.arg, how, default=empty if d is None else ast.literal_eval(d))
        for group, defaults, how in ((args.args, positional, inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                     (args.kwonlyargs, args.kw_defaults, inspect.Parameter.KEYWORD_ONLY))
        for a, d in zip(group, defaults, strict=True)
    ]  # fmt: skip

    def factory(*args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{kind}: a stand-in for checking parameters; build networks with sgdlab.torch.problems")

    factory.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return factory


@functools.cache
def _factory(kind: str) -> tuple[Any, type]:
    """What builds a problem of `kind` (for a network: a stand-in with its signature), and the class of what it
    builds (for what the problem measures)."""
    if kind in NETWORK_PROBLEMS:
        return _network_factory(kind), _Network
    cls = getattr(numpy_problems, kind)
    return cls, cls


def _parameters(factory: Any) -> dict[str, inspect.Parameter]:
    return {
        name: p
        for name, p in inspect.signature(factory).parameters.items()
        if name != "data" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _non_finite(where: str, value: Any) -> list[str]:
    """TOML allows nan and inf; no parameter means either."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}: must be a finite number, got {value}"]
    if isinstance(value, list):
        return [line for i, v in enumerate(value) for line in _non_finite(f"{where}[{i}]", v)]
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in _non_finite(f"{where}.{k}", v)]
    return []


def _type_mismatch(value: Any, default: Any) -> str | None:
    """The kind of value a parameter's default says it takes, where `value` is not of that kind."""
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, int | float) and not isinstance(value, bool), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    elif isinstance(default, tuple):
        ok, kind = isinstance(value, list), "a list"
    else:
        return None
    return None if ok else kind


def _field_in(message: str, given: dict[str, Any]) -> str | None:
    """The parameter an error message is about: the first one it names, else the only one given."""
    named = [(m.start(), name) for name in given if (m := re.search(rf"\b{re.escape(name)}\b", message))]
    if named:
        return min(named)[1]
    return next(iter(given)) if len(given) == 1 else None


def _built_error(where: str, exc: Exception, given: dict[str, Any]) -> str:
    field = _field_in(str(exc), given)
    return f"{where}.{field}: {exc}" if field else f"{where}: {exc}"


def problem_errors(i: int, problem: ProblemSpec) -> tuple[list[str], int | None]:
    """Mistakes in `problems[i].params`, and the problem's number of samples where it is known without data."""
    where = f"problems[{i}].params"
    try:
        factory, _ = _factory(problem.type)
    except ImportError as exc:
        return [f"problems[{i}].type: {problem.type!r} needs PyTorch, which cannot be imported ({exc})"], None
    allowed = _parameters(factory)
    errors = [
        f"{where}.{name}: unknown parameter of {problem.type}; "
        + (f"allowed: {', '.join(allowed)}" if allowed else "it takes none")
        for name in problem.params
        if name not in allowed
    ]
    errors += [line for name, value in problem.params.items() for line in _non_finite(f"{where}.{name}", value)]
    for name, value in problem.params.items():
        kind = _type_mismatch(value, allowed[name].default) if name in allowed else None
        if kind:
            errors.append(f"{where}.{name}: must be {kind}, got {type(value).__name__} {value!r}")
    if errors or problem.type in NETWORK_PROBLEMS:  # networks are not built here: that loads data and weights
        return errors, None
    if problem.type in DATA_PROBLEMS:
        if problem.params:
            try:
                factory(_stand_in_data(), **problem.params)
            except _CHECK_ERRORS as exc:
                errors.append(_built_error(where, exc, problem.params))
        return errors, None
    try:
        return errors, factory(**problem.params).n
    except _CHECK_ERRORS as exc:
        return [_built_error(where, exc, problem.params)], None


def _samples(data) -> int | None:
    """The number of samples a synthetic source makes (`None` for files and bundled sets: known once read)."""
    source = SOURCES[data.source]
    if not source.synthetic:
        return None
    return data.n if data.n is not None else source.default("n")


def _file_errors(where: str, path: str) -> list[str]:
    """A LIBSVM path must name a non-empty text file; a sniff of its first bytes, the file is not read."""
    file = Path(path)
    if not file.exists():
        return [f"{where}: LIBSVM file not found: {path}"]
    if not file.is_file():
        return [f"{where}: {path} is not a regular file (a directory?)"]
    try:
        with file.open("rb") as stream:
            head = stream.read(4096)
    except OSError as exc:
        return [f"{where}: cannot read {path}: {exc.strerror or exc}"]
    if not head:
        return [f"{where}: LIBSVM file {path} is empty"]
    if b"\0" in head:
        return [f"{where}: {path} is a binary file, not a LIBSVM text file"]
    return []


def data_errors(i: int, problem: ProblemSpec) -> tuple[list[str], int | None]:
    """Mistakes in `problems[i].data` the schema cannot see, and the number of training samples if known."""
    data = problem.data
    if data is None:
        return [], None
    where = f"problems[{i}].data"
    errors = _file_errors(f"{where}.path", data.path) if data.source == "libsvm" else []
    _, cls = _factory(problem.type)
    if data.test_size is not None and cls.evaluate is Problem.evaluate:
        errors.append(f"{where}.test_size: {problem.type} has no held-out evaluation; remove test_size")
    n = _samples(data)
    if n is not None and data.test_size is not None:
        n_test = round(data.test_size * n)  # as Dataset.split rounds it
        if not 1 <= n_test < n:
            errors.append(f"{where}.test_size: {data.test_size} of n={n} samples leaves an empty train or test part")
            return errors, None
        n -= n_test
    return errors, n


def batch_size_errors(spec: Spec, samples: dict[int, int]) -> list[str]:
    """Batch sizes beyond a problem's (training) samples, where some method samples minibatches."""
    if spec.sampler == "full" or all(METHODS[m.type].info.full_batch for m in spec.methods):
        return []  # full-batch methods and the "full" sampler use every sample whatever the batch size
    largest = max(spec.batch_sizes)
    return [
        f"batch_size: {largest} is more than the {n} training samples of problems[{i}] ({spec.problems[i].name}); "
        f"batch sizes must be between 1 and {n}"
        for i, n in samples.items()
        if largest > n
    ]


def _has_test(problem: ProblemSpec) -> bool:
    return problem.type in NETWORK_PROBLEMS or (problem.data is not None and problem.data.test_size is not None)


def metric_errors(spec: Spec) -> list[str]:
    """Tuning rules and recorded metrics that some problem of the spec cannot measure."""
    errors = []
    for i, problem in enumerate(spec.problems):
        try:
            _, cls = _factory(problem.type)
        except ImportError:
            continue  # reported by problem_errors
        about = f"problems[{i}] ({problem.name}, {problem.type})"
        for j, method in enumerate(spec.methods):
            if method.tune is None:
                continue
            metric, rule = method.tune.metric, f"methods[{j}].tune.metric"
            if metric.startswith("final_test_") and not _has_test(problem):
                hint = "give it data.test_size" if problem.data is not None else "it has no held-out data"
                errors.append(f"{rule}: {metric!r} needs a test split, but {about} has none ({hint})")
            elif metric == "final_test_accuracy" and cls.task != "classification":
                errors.append(f"{rule}: 'final_test_accuracy' needs a classifier, but {about} is a regression problem")
            elif metric == "final_subopt" and not cls.has_optimum:
                errors.append(f"{rule}: 'final_subopt' needs a certified optimum, which {about} has not; "
                              "tune on 'final_loss' or a test metric")  # fmt: skip
        if not cls.has_optimum:
            needing = [m for m in spec.record.metrics or () if m in ("subopt", "dist2")]
            if needing:
                errors.append(f"record.metrics: {', '.join(needing)} need a certified optimum, which {about} has not")
            if spec.record.target_subopt is not None:
                errors.append(f"record.target_subopt: needs a certified optimum, which {about} has not")
    return errors


def _method_errors(j: int, method: MethodSpec) -> list[str]:
    """Build the method at every grid point, so that its own checks see every hyperparameter value."""
    where = f"methods[{j}].params"
    errors = [line for name, value in method.params.items() for line in _non_finite(f"{where}.{name}", value)]
    if errors:
        return errors
    cls = METHODS[method.type]
    for point in grid_points(method.params):
        try:
            cls(**point)
        except _CHECK_ERRORS as exc:
            text = str(exc)
            if "unexpected keyword argument" in text:
                allowed = ", ".join(f.name for f in dataclasses.fields(cls))
                bad = text.split("'")[1] if "'" in text else text
                return [f"{where}.{bad}: unknown hyperparameter {bad!r} for {method.type}; allowed: {allowed}"]
            return [_built_error(where, exc, point)]
    return []


def _requested(spec: Spec, method: MethodSpec) -> dict[str, tuple[dict[str, Any], int]]:
    """The runs a method may ask for, by identity (problems and batch sizes are the same for every method, so
    they are left out): its grid on every seed; a tuned method also its tuning runs, and its grid on the main
    seeds — any value it may pick (which one is only known after tuning)."""
    seeds = spec.seed_list if method.tune is None else [*method.tune.seeds, *spec.seed_list]
    return {
        json.dumps([point, seed], sort_keys=True): (point, seed)
        for point in grid_points(method.params)
        for seed in seeds
    }


def shared_run_errors(spec: Spec) -> list[str]:
    """Two methods that would share a run under two names (one name would vanish from the store and report).

    Two tuned methods may share runs (the same grid judged by different rules) unless they are identical. A
    tuned method and a fixed one may not: the fixed run could be the very run tuning picks."""
    errors = []
    by_type: dict[str, list[int]] = {}
    for j, method in enumerate(spec.methods):
        by_type.setdefault(method.type, []).append(j)
    for indices in by_type.values():
        requested = {j: _requested(spec, spec.methods[j]) for j in indices} if len(indices) > 1 else {}
        for a, b in ((a, b) for a in indices for b in indices if a < b):
            first, second = spec.methods[a], spec.methods[b]
            if first.tune is not None and second.tune is not None and first.tune != second.tune:
                continue
            shared = next((requested[a][k] for k in requested[a] if k in requested[b]), None)
            if shared is not None:
                point, seed = shared
                settings = ", ".join(f"{k}={v!r}" for k, v in point.items()) or "its defaults"
                errors.append(
                    f"methods[{a}] ({first.label}) and methods[{b}] ({second.label}) are the same run "
                    f"({first.type} with {settings}, seed {seed}): a run is identified by its settings, not its "
                    "name, so one name would vanish from the results; remove one or change its settings"
                )
    return errors


def check_spec(spec: Spec) -> list[str]:
    """Every mistake of a schema-valid spec that only the library can see (empty: the spec can run)."""
    errors: list[str] = []
    samples: dict[int, int] = {}
    for i, problem in enumerate(spec.problems):
        params, n_params = problem_errors(i, problem)
        data, n_data = data_errors(i, problem)
        errors += params + data
        if (n := n_data if n_data is not None else n_params) is not None:
            samples[i] = n
    errors += batch_size_errors(spec, samples)
    errors += metric_errors(spec)
    count = run_count(spec)
    if count > MAX_RUNS:  # nothing below may expand the grid
        return [*errors, f"spec: this spec expands to {count:,} runs; the limit is {MAX_RUNS:,} "
                         "(shorten its lists or split it into several specs)"]  # fmt: skip
    for j, method in enumerate(spec.methods):
        errors += _method_errors(j, method)
    return errors + shared_run_errors(spec)


def parse_spec(document: dict[str, Any], source: str = "spec") -> Spec:
    """Validate a spec given as a dict (e.g. parsed TOML): its schema, then its fit with the library.

    Args:
        document: The experiment, as the TOML file's tables and values.
        source: What the error message calls the spec (a file name).

    Returns:
        The validated [`Spec`][sgdlab.experiments.Spec].

    Raises:
        SpecError: Every mistake found, one line each (no run is started on an invalid spec).

    Examples:
        >>> from sgdlab.experiments import parse_spec
        >>> spec = parse_spec({"name": "demo", "budget": {"epochs": 2},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D", "params": {"kappa": 10.0}}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": [0.01, 0.1]}}]})
        >>> spec.name, [p.type for p in spec.problems]
        ('demo', ['Quadratic2D'])
        >>> parse_spec({"name": "bad", "budget": {"epochs": 2},
        ...             "problems": [{"name": "q", "type": "Quadratic2D", "params": {"kapa": 10.0}}],
        ...             "methods": [{"type": "SGD"}]})
        Traceback (most recent call last):
        ...
        sgdlab.experiments.spec.SpecError: invalid experiment spec:
          - problems[0].params.kapa: unknown parameter of Quadratic2D; allowed: kappa, n, spread, angle, seed
    """
    spec = parse_schema(document, source)
    problems = check_spec(spec)
    if problems:
        raise SpecError(problems, source)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate an experiment file (TOML); see [`parse_spec`][sgdlab.experiments.parse_spec].

    Args:
        path: The `.toml` file.

    Returns:
        The validated [`Spec`][sgdlab.experiments.Spec].

    Raises:
        SpecError: The file is missing, a directory, unreadable, not UTF-8 text, not valid TOML, or the spec has
            mistakes (every one listed).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sgdlab.experiments import load_spec
        >>> path = Path(tempfile.mkdtemp()) / "demo.toml"
        >>> _ = path.write_text('''
        ... name = "demo"
        ... seeds = 2
        ... [budget]
        ... epochs = 3
        ... [[problems]]
        ... name = "rosenbrock"
        ... type = "Rosenbrock"
        ... [[methods]]
        ... type = "Adam"
        ... params = { lr = [1e-3, 1e-2] }
        ... ''')
        >>> spec = load_spec(path)
        >>> spec.seed_list, spec.methods[0].grid_axes()
        ([0, 1], {'lr': [0.001, 0.01]})
    """
    path = Path(path)

    def unreadable(why: str) -> SpecError:
        return SpecError([f"{why}; expected an experiment spec file (TOML)"], str(path), unreadable=why)

    if path.is_dir():
        raise unreadable("is a directory")
    if not path.is_file():
        raise SpecError([f"file not found: {path}"], str(path))
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([f"not valid TOML: {exc}"], str(path)) from None
    except UnicodeDecodeError:
        raise unreadable("is not a text file (not UTF-8)") from None
    except OSError as exc:
        raise unreadable(f"cannot be read: {exc}") from None
    return parse_spec(document, str(path))
