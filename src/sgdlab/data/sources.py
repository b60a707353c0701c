"""The data sources an experiment file can name (``data = { source = "classification", n = 2000, … }``).

One table, read by the experiment file's schema (which fields a source takes), by its checks (how many samples a
synthetic source makes) and by the runs (building the data): a source's fields are its builder's parameters, so a
new parameter of a generator becomes a field of its source by adding it to the schema's `DataSpec`, nowhere else.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from sgdlab.data.dataset import Dataset
from sgdlab.data.loaders import load_bundled, load_libsvm
from sgdlab.data.preprocessing import standardize
from sgdlab.data.synthetic import make_classification, make_rare_features, make_regression

#: Fields of every data table, whatever its source: ``seed`` also seeds the train/test split.
COMMON_FIELDS: tuple[str, ...] = ("source", "seed", "standardize", "test_size")


@dataclasses.dataclass(frozen=True)
class Source:
    """A data source: the function that builds it and the data-table fields that are its parameters."""

    build: Callable[..., Dataset]
    #: Table fields passed to ``build`` (the others of its parameters keep their defaults).
    fields: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        """Whether the data are generated (their size is known before anything is read)."""
        return "n" in self.fields

    def default(self, field: str) -> Any:
        """``build``'s default for one of its parameters (e.g. the ``n`` a table that leaves it out gets)."""
        return inspect.signature(self.build).parameters[field].default


def _source(build: Callable[..., Dataset], *fields: str) -> Source:
    params = inspect.signature(build).parameters
    missing = [f for f in fields if f not in params]
    if missing:  # a renamed generator parameter fails at import, not in a user's run
        raise TypeError(f"{build.__name__} has no parameter {', '.join(missing)}")
    return Source(build, fields)


#: Every source by the name a data table gives it.
SOURCES: Mapping[str, Source] = {
    "regression": _source(make_regression, "n", "dim", "cond", "noise", "density", "seed"),
    "classification": _source(
        make_classification, "n", "dim", "cond", "noise", "density", "n_classes", "imbalance", "seed"
    ),
    "rare_features": _source(make_rare_features, "n", "dim", "noise", "exponent", "seed"),
    "bundled": _source(load_bundled, "name"),
    "libsvm": _source(load_libsvm, "path"),
}


def misplaced_fields(source: str, given: Mapping[str, Any]) -> str | None:
    """Why the set (not ``None``) fields of a data table do not fit its ``source``, or ``None`` when they do."""
    takes = (*SOURCES[source].fields, *COMMON_FIELDS)
    wrong = [name for name, value in given.items() if value is not None and name not in takes]
    if not wrong:
        return None
    where = {name: [s for s, src in SOURCES.items() if name in src.fields] for name in wrong}
    elsewhere = "; ".join(
        f"{name} applies to source {', '.join(map(repr, sources))} only" for name, sources in where.items() if sources
    )
    own = ", ".join(f for f in SOURCES[source].fields if f != "seed")
    message = f"source {source!r} takes {own} (and seed, standardize, test_size) — it does not take {', '.join(wrong)}"
    return f"{message}; {elsewhere}" if elsewhere else message


def build(table: Mapping[str, Any]) -> Dataset:
    """The dataset a (validated) data table describes, standardized if it asks so."""
    source = SOURCES[table["source"]]
    data = source.build(**{name: table[name] for name in source.fields if table.get(name) is not None})
    return standardize(data) if table.get("standardize") else data
