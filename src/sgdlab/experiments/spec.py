"""The experiment file: a TOML document, validated in full before any run starts.

    name = "sgd-vs-adam"
    seeds = 5                              # or a list: [0, 1, 2]
    batch_size = [1, 16]                   # a list makes a grid axis
    sampler = "uniform"                    # "uniform" | "reshuffle" | "blocks" | "full"

    [budget]
    epochs = 10                            # and/or grad_evals, iters, seconds

    [record]
    metrics = ["loss", "subopt"]           # default: all the problem supports
    points_per_decade = 20
    every = 1.0                            # also record every 1.0 epochs

    [[problems]]
    name = "logistic"
    type = "LogisticRegression"
    params = { l2 = 1e-3 }
    data = { source = "classification", n = 2000, dim = 20, cond = 100.0, seed = 0 }

    [[methods]]
    type = "Adam"
    params = { lr = [1e-3, 1e-2, 1e-1] }   # lists are grids
    tune = { param = "lr", metric = "final_subopt", seeds = [0] }   # pick the best lr, then run every seed

Mistakes are reported together, one line each, naming the field and the allowed values
([`SpecError`][sgdlab.experiments.SpecError]). Values are never coerced: `"3"` is not a number, `true` is not an
integer, and an integer is a float only where a float is expected. Besides each field's type and range, a spec is
checked against the library before any run starts (`sgdlab.experiments.validate`): problem parameters against the
problem's own checks, data files, batch sizes, tuning metrics, repeated runs, and the grid's size.

Limits: seeds are integers in `0 .. 2**63 - 1` (NumPy's `default_rng` takes any non-negative integer;
SQLite's INTEGER column is signed 64-bit); a budget is at most `MAX_EPOCHS` epochs, `MAX_COUNT`
gradient evaluations or iterations (counters stay exact in float64) and `MAX_SECONDS` seconds;
`record.every` is at least `MIN_RECORD_EVERY` epochs (each record costs a full pass over the data);
`record.points_per_decade` is at most `MAX_POINTS_PER_DECADE` (which already records each of the first
~400 iterations).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Annotated, Any, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from sgdlab.data import sources
from sgdlab.data.loaders import BUNDLED_NAMES
from sgdlab.engine.samplers import SAMPLERS
from sgdlab.engine.trace import METRICS
from sgdlab.methods import METHODS

#: Problem types built from a ``data`` table (`sgdlab.data.sources`).
DATA_PROBLEMS: tuple[str, ...] = (
    "LeastSquares", "LogisticRegression", "SoftmaxRegression", "NonconvexPL", "NonconvexLogistic",
)  # fmt: skip
#: Problem types that build their own data from parameters (the lecture's two-dimensional pictures and examples).
OWN_DATA_PROBLEMS: tuple[str, ...] = ("Quadratic2D", "Rosenbrock", "TwoParameterLeastSquares", "AdamCounterexample")
#: Problem types built by `sgdlab.torch.problems` (they need PyTorch).
NETWORK_PROBLEMS: tuple[str, ...] = ("digits_mlp", "digits_cnn", "char_lm")
PROBLEM_TYPES: tuple[str, ...] = DATA_PROBLEMS + OWN_DATA_PROBLEMS + NETWORK_PROBLEMS
TUNE_METRICS: tuple[str, ...] = (
    "final_subopt",
    "final_loss",
    "final_grad_norm2",
    "final_test_loss",
    "final_test_accuracy",
)

#: The largest seed: SQLite stores seeds as signed 64-bit integers (NumPy's generators take any size >= 0).
MAX_SEED = 2**63 - 1
MAX_EPOCHS = 1e6
#: Gradient evaluations and iterations are counted in float64 columns, exact up to 2**53.
MAX_COUNT = 2**53
MAX_SECONDS = 30 * 24 * 3600.0
#: Records are spaced at least this many epochs apart; the engine would otherwise spend its time recording
#: (or, for spacings below float resolution, never advance past a record).
MIN_RECORD_EVERY = 1e-3
MAX_POINTS_PER_DECADE = 1000

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(ge=1)]


def _seed_in_range(value: int) -> int:
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"a seed must be an integer in 0 .. 2**63 - 1, got {value}")
    return value


Seed = Annotated[int, AfterValidator(_seed_in_range)]


def _distinct(values: list, what: str, shown: Any = repr, why: str = " (the same runs twice)") -> list:
    repeated = sorted(shown(v) for v, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValueError(f"{what} lists {', '.join(repeated)} more than once{why}")
    return values


def _one_or_list(one: Any, each: Any) -> Any:
    """A scalar or a list of them, validated as exactly one of the two (one error message, not one per branch)."""
    return Annotated[
        Annotated[one, Tag("tag-one")] | Annotated[list[each], Tag("tag-list")],
        Discriminator(lambda v: "tag-list" if isinstance(v, list) else "tag-one"),
    ]


class SpecError(ValueError):
    """An invalid experiment file: every mistake found, one line each, naming the field and the allowed values.

    A `ValueError`; its message starts `invalid experiment <source>:` and lists the mistakes.

    Attributes:
        problems: One line per mistake.
        unreadable: Why the file itself could not be read as text (a directory, not UTF-8, an OS error), or
            `None` when its content was read; `problems` then holds that one line.

    Examples:
        >>> from sgdlab.experiments import SpecError, parse_spec
        >>> try:
        ...     parse_spec({"name": "x", "budget": {"epochs": "3"}, "problems": [], "methods": [{"type": "Adamax"}]})
        ... except SpecError as error:
        ...     for line in error.problems:
        ...         print(line)
        budget.epochs: Input should be a valid number (got '3')
        problems: List should have at least 1 item after validation, not 0
        methods[0].type: Input should be 'GD', 'SGD', ... (got 'Adamax')
    """

    def __init__(self, problems: list[str], source: str = "spec", *, unreadable: str | None = None) -> None:
        self.problems = problems
        self.unreadable = unreadable
        super().__init__(f"invalid experiment {source}:\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    # strict: no silent coercion ("1" is not a number, true is not 1); an int is still accepted as a float
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataSpec(_Strict):
    source: Literal[tuple(sources.SOURCES)]  # type: ignore[valid-type]
    n: PositiveInt | None = None
    dim: PositiveInt | None = None
    cond: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    noise: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    density: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    n_classes: Annotated[int, Field(ge=2)] | None = None
    #: Zipf exponent of the class frequencies (classification only; 0 = exactly uniform; see make_classification).
    #: Left out of dumps when unset, so adding the field changed no existing run's key.
    imbalance: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(None, exclude_if=lambda v: v is None)
    #: Power-law exponent of the feature frequencies (source "rare_features" only; see make_rare_features).
    exponent: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(None, exclude_if=lambda v: v is None)
    seed: Seed = 0
    name: Literal[BUNDLED_NAMES] | None = None  # type: ignore[valid-type]
    path: str | None = Field(None, min_length=1)
    standardize: bool = False
    test_size: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _fields_fit_the_source(self) -> DataSpec:
        given = {name: getattr(self, name) for name in type(self).model_fields}
        misplaced = sources.misplaced_fields(self.source, given)
        if misplaced:
            raise ValueError(misplaced)
        if self.imbalance is not None and ((self.density or 1.0) < 1.0 or self.noise == 0):
            raise ValueError("imbalance needs a dense design (density = 1) and noise > 0")
        if self.source == "bundled" and self.name is None:
            raise ValueError(f"source 'bundled' needs name = one of {', '.join(map(repr, BUNDLED_NAMES))}")
        if self.source == "libsvm" and self.path is None:
            raise ValueError("source 'libsvm' needs path = the file to read")
        return self


class ProblemSpec(_Strict):
    name: str = Field(min_length=1)
    type: Literal[PROBLEM_TYPES]  # type: ignore[valid-type]
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec | None = None

    @model_validator(mode="after")
    def _data_when_needed(self) -> ProblemSpec:
        if self.type in DATA_PROBLEMS and self.data is None:
            raise ValueError(f"problem type {self.type!r} needs a data table (data = {{ source = ... }})")
        if self.type not in DATA_PROBLEMS and self.data is not None:
            raise ValueError(f"problem type {self.type!r} builds its own data; remove the data table")
        return self


class TuneSpec(_Strict):
    param: str
    metric: Literal[TUNE_METRICS] = "final_subopt"  # type: ignore[valid-type]
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds_distinct(cls, value: list[int]) -> list[int]:
        return _distinct(value, "seeds")


class MethodSpec(_Strict):
    type: Literal[tuple(METHODS)]  # type: ignore[valid-type]
    name: str | None = Field(None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    tune: TuneSpec | None = None

    @property
    def label(self) -> str:
        """The method's name in tables and plots: `name`, else `type`."""
        return self.name or self.type

    def grid_axes(self) -> dict[str, list[Any]]:
        """The hyperparameters given as lists (grid axes), with their values."""
        return {k: list(v) for k, v in self.params.items() if isinstance(v, list)}

    @model_validator(mode="after")
    def _tuned_parameter_is_a_grid(self) -> MethodSpec:
        for key, value in self.params.items():
            if isinstance(value, list) and not value:
                raise ValueError(f"params.{key}: a grid needs at least one value")
            if isinstance(value, list):
                _distinct([json.dumps(v, sort_keys=True) for v in value], f"params.{key}", shown=str)
        if self.tune is not None and self.tune.param not in self.grid_axes():
            raise ValueError(f"tune.param {self.tune.param!r} must be a list in params (a grid to pick from)")
        return self


class BudgetSpec(_Strict):
    epochs: Annotated[PositiveFloat, Field(le=MAX_EPOCHS)] | None = None
    grad_evals: Annotated[PositiveFloat, Field(le=MAX_COUNT)] | None = None
    iters: Annotated[PositiveInt, Field(le=MAX_COUNT)] | None = None
    seconds: Annotated[PositiveFloat, Field(le=MAX_SECONDS)] | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> BudgetSpec:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("give at least one of epochs, grad_evals, iters, seconds")
        return self


class RecordSpec(_Strict):
    metrics: list[Literal[METRICS]] | None = None  # type: ignore[valid-type]
    points_per_decade: Annotated[PositiveInt, Field(le=MAX_POINTS_PER_DECADE)] | None = 20
    every: Annotated[float, Field(ge=MIN_RECORD_EVERY, allow_inf_nan=False)] | None = None
    target_subopt: PositiveFloat | None = None

    @field_validator("metrics")
    @classmethod
    def _metrics_listed(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError(
                f"metrics must list at least one of: {', '.join(METRICS)} (leave it out for all the problem supports)"
            )
        return value if value is None else _distinct(value, "metrics", why="")


class Spec(_Strict):
    """A validated experiment file: problems × methods × hyperparameter grids × batch sizes × seeds.

    The top level of the TOML document above; the Experiment files page lists every field of every table
    (generated from these models). A spec is frozen, and two specs with the same content have the same
    [`digest`][sgdlab.experiments.Spec.digest] however they were written. Build one with
    [`parse_spec`][sgdlab.experiments.parse_spec] or [`load_spec`][sgdlab.experiments.load_spec], which also
    check it against the library; [`Plan`][sgdlab.experiments.Plan] expands it into runs.

    Examples:
        >>> from sgdlab.experiments import parse_spec
        >>> spec = parse_spec({
        ...     "name": "sgd-steps", "seeds": 3, "batch_size": [1, 8], "budget": {"epochs": 5},
        ...     "problems": [{"name": "ls", "type": "LeastSquares",
        ...                   "data": {"source": "regression", "n": 200, "dim": 10}}],
        ...     "methods": [{"type": "SGD", "params": {"lr": [0.01, 0.1]}}],
        ... })
        >>> spec.seed_list, spec.batch_sizes, spec.methods[0].grid_axes()
        ([0, 1, 2], [1, 8], {'lr': [0.01, 0.1]})
        >>> spec.digest() == parse_spec(spec.model_dump(mode="json")).digest()
        True
    """

    #: The experiment's name: how the store and `sgdlab ls` / `show` / `report` refer to it.
    name: str = Field(min_length=1)
    #: A number of seeds (`3` means 0, 1, 2) or the list of seeds; every run is repeated for each.
    seeds: _one_or_list(PositiveInt, Seed) = 1
    #: A batch size, or a list of them (a grid axis).
    batch_size: _one_or_list(PositiveInt, PositiveInt) = 1
    #: How each iteration's components are drawn (see `sgdlab.run`).
    sampler: Literal[SAMPLERS] = "uniform"  # type: ignore[valid-type]
    #: When each run stops: the first budget reached.
    budget: BudgetSpec
    #: What each run records, and how often.
    record: RecordSpec = RecordSpec()
    #: The problems, each run with every method.
    problems: list[ProblemSpec] = Field(min_length=1)
    #: The methods, with their hyperparameters (a list is a grid axis) and optional tuning.
    methods: list[MethodSpec] = Field(min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds_not_empty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("seeds must be a positive count or a non-empty list")
        return _distinct(value, "seeds") if isinstance(value, list) else value

    @field_validator("batch_size")
    @classmethod
    def _batch_sizes_distinct(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("batch_size must be a size >= 1 or a non-empty list of sizes")
        return _distinct(value, "batch_size") if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_names(self) -> Spec:
        for kind, names in (("problem", [p.name for p in self.problems]), ("method", [m.label for m in self.methods])):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def seed_list(self) -> list[int]:
        """The seeds, as a list (`seeds = 3` gives `[0, 1, 2]`)."""
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    @property
    def batch_sizes(self) -> list[int]:
        """The batch sizes, as a list."""
        return self.batch_size if isinstance(self.batch_size, list) else [self.batch_size]

    def digest(self) -> str:
        """A hash of the spec's content (not of its formatting): 16 hex digits."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "constrained-", "literal[", "list[", "int", "float", "tag-")):
            out += f".{part}" if out else str(part)
    return out or "spec"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _messages(error: pydantic.ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        elif item["type"] == "missing":
            message = "required field is missing"
        elif item["type"] in ("int_type", "float_type") and isinstance(item.get("input"), bool):
            message += f", not a boolean (got {_shown(item['input'])})"
        elif item["type"] != "value_error" and "input" in item and not isinstance(item["input"], dict | list):
            message += f" (got {_shown(item['input'])})"  # the value, so a coercion that did not happen is visible
        line = f"{_location(item['loc'])}: {message}"
        if line not in lines:
            lines.append(line)
    return lines


def parse_schema(document: dict[str, Any], source: str = "spec") -> Spec:
    """Validate a spec given as a dict against the schema alone (each field's type and range): the first half of
    `sgdlab.experiments.parse_spec`, which then checks its fit with the library (`sgdlab.experiments.validate`)."""
    try:
        return Spec.model_validate(document)
    except pydantic.ValidationError as exc:
        raise SpecError(_messages(exc), source) from None
