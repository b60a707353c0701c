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
    """One measured condition of a claim: what was expected, what was measured, and whether it held.

    Attributes:
        name: What is checked, in words (shown in the report's table of checks).
        passed: Whether the measurement meets the expectation.
        measured: The measurement, as text.
        expected: The expectation, as text.

    Examples:
        >>> from sgdlab.lecture import Check
        >>> Check("SGD floor ∝ α", True, "slope 1.02", "slope 1 ± 0.2")
        Check(name='SGD floor ∝ α', passed=True, measured='slope 1.02', expected='slope 1 ± 0.2')
    """

    name: str
    passed: bool
    measured: str
    expected: str


@dataclass
class Verdict:
    """All checks of a claim, and what the report shows with them; the claim holds when every check passes.

    Attributes:
        checks: The checks, in order (add them with [`check`][sgdlab.lecture.Verdict.check]).
        table: The claim's own table of measurements, if any.
        notes: Text shown under the statement (e.g. what a measurement means).
        show_checks: `False` when `table` already shows every check with its verdict (the report then shows
            it once).
        extra_tables: More `(caption, table)` pairs shown after `table`.

    Examples:
        >>> from sgdlab.lecture import Verdict
        >>> verdict = Verdict()
        >>> verdict.check("GD: q ≤ 1 − μ/L", 0.81 <= 0.9, "q = 0.810", "q ≤ 0.900")
        True
        >>> verdict.check("SGD: slope ≤ −0.85", -0.96 <= -0.85, "k^−0.96", "slope ≤ −0.85")
        True
        >>> verdict.passed, verdict.checks_frame()["verdict"].tolist()
        (True, ['PASS', 'PASS'])
        >>> Verdict().passed  # no check, no claim
        False
    """

    checks: list[Check] = field(default_factory=list)
    table: pd.DataFrame | None = None
    notes: str = ""
    #: `False` when `table` already shows every check with its verdict (the report then shows it once).
    show_checks: bool = True
    #: More `(caption, table)` pairs shown after `table`.
    extra_tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)

    def check(self, name: str, passed: bool, measured: str, expected: str) -> bool:
        """Add a [`Check`][sgdlab.lecture.Check] (`passed` may be a NumPy boolean) and return whether it
        passed, so that a verdict can also branch on it."""
        self.checks.append(Check(name, bool(passed), measured, expected))
        return bool(passed)

    @property
    def passed(self) -> bool:
        """`True` when there is at least one check and every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    def checks_frame(self) -> pd.DataFrame:
        """The checks as a table: `check`, `expected`, `measured`, `verdict` (PASS/FAIL)."""
        return pd.DataFrame(
            [{"check": c.name, "expected": c.expected, "measured": c.measured, "verdict": "PASS" if c.passed else
              "FAIL"} for c in self.checks]
        )  # fmt: skip


class Claim:
    """A claim of the lecture: the experiments that test it, the verdict computed from their results, its figures.

    Subclasses set `key` (used by `sgdlab reproduce --claim KEY`), `title` and `statement` (the lecture's
    words) and implement the three steps: [`experiments`][sgdlab.lecture.Claim.experiments] returns
    experiment documents (the TOML spec as a dict, see [`Spec`][sgdlab.experiments.Spec]), each with a
    unique `name`; [`judge`][sgdlab.lecture.Claim.judge] and [`figures`][sgdlab.lecture.Claim.figures]
    receive their results by that name. `sgdlab reproduce` runs every claim of `sgdlab.lecture.CLAIMS`.

    Examples:
        >>> from sgdlab.experiments import parse_spec
        >>> from sgdlab.lecture import CLAIMS
        >>> claim = next(c for c in CLAIMS if c.key == "noise-floor")
        >>> claim.title
        'Constant-step SGD stalls at a noise floor that grows with α and σ²* and shrinks with the batch size'
        >>> specs = [parse_spec(doc) for doc in claim.experiments(quick=True)]  # valid experiment files
        >>> len({spec.name for spec in specs}) == len(specs)
        True
    """

    key: ClassVar[str]
    title: ClassVar[str]
    statement: ClassVar[str]
    #: What to look at in each figure, by file name (the report's captions).
    captions: ClassVar[dict[str, str]] = {}
    #: A caption for the claim's own table (what its columns are).
    table_caption: ClassVar[str] = ""

    def experiments(self, quick: bool) -> list[dict[str, Any]]:
        """The experiment documents that test the claim (`quick`: smaller budgets and fewer seeds)."""
        raise TypeError(f"{type(self).__name__} must define its experiments")

    def judge(self, results: Mapping[str, Results]) -> Verdict:
        """The verdict, computed from the stored results only (experiment name → its runs)."""
        raise TypeError(f"{type(self).__name__} must define its verdict")

    def figures(self, results: Mapping[str, Results], folder: Path) -> list[Path]:
        """Draw the claim's figures into `folder` (each a 200-dpi PNG with an SVG beside it); their paths."""
        return []
