"""A claim of the lecture: the experiments that test it, the verdict computed from their results, its figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from sgdlab.lecture.results import Results


@dataclass(frozen=True)
class Check:
    """One measured condition: what was expected, what was measured, and whether it held."""

    name: str
    passed: bool
    measured: str
    expected: str


@dataclass
class Verdict:
    """All checks of a claim; the claim holds when every check passes."""

    checks: list[Check] = field(default_factory=list)
    table: pd.DataFrame | None = None
    notes: str = ""
    #: False when `table` already shows every check with its verdict (the report then shows it once)
    show_checks: bool = True
    #: More `(caption, table)` pairs shown after `table`
    extra_tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def check(self, name: str, passed: bool, measured: str, expected: str) -> bool:
        self.checks.append(Check(name, bool(passed), measured, expected))
        return bool(passed)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def checks_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"check": c.name, "expected": c.expected, "measured": c.measured, "verdict": "PASS" if c.passed else
              "FAIL"} for c in self.checks]
        )  # fmt: skip


class Claim:
    """Subclasses set `key`, `title` and `statement` (the lecture's words) and implement the three steps.

    `experiments(quick)` returns experiment documents (the TOML spec as a dict, see
    `sgdlab.experiments.spec`), each with a unique `name`; `judge` and `figures` receive their
    results by that name.
    """

    key: ClassVar[str]
    title: ClassVar[str]
    statement: ClassVar[str]
    #: What to look at in each figure, by file name (the report's captions).
    captions: ClassVar[dict[str, str]] = {}
    #: A caption for the claim's own table (what its columns are).
    table_caption: ClassVar[str] = ""

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        raise TypeError(f"{type(self).__name__} must define its experiments")

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        raise TypeError(f"{type(self).__name__} must define its verdict")

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        return []
