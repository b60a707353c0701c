"""`sgdlab reproduce`: every claim's experiments in one sweep (cached in a store), then verdicts, figures, report.

The runs go through the experiments machinery, so they are stored one by one as they finish: a second call
recomputes nothing, and an interrupted one resumes where it stopped. Pictures that need whole iterate paths
(2-D trajectories, the animation) are drawn directly; they carry no verdict.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sgdlab.experiments import ProcessExecutor, SerialExecutor, Spec, Store, parse_spec, run_sweep
from sgdlab.experiments.store import StoreFullError
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import collect


@dataclass
class Reproduction:
    """What a reproduction produced: the verdict of every claim, the files, and how long it took."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    report: Path | None = None
    files: list[Path] = field(default_factory=list)
    wall_s: float = 0.0
    runs_executed: int = 0

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts.values())


def run_claims(
    claims: Sequence[Claim],
    out: str | Path,
    quick: bool = False,
    jobs: int | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    pictures: Callable[[Path], list[tuple[str, str, list[Path]]]] | None = None,
) -> Reproduction:
    """Run ``claims`` into ``out`` (store ``out/results.db``, figures, ``out/report.html``)."""
    from sgdlab.viz import HtmlReport

    started = time.perf_counter()
    out = Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    specs = {claim.key: [parse_spec(doc, f"{claim.key}: {doc['name']}") for doc in claim.experiments(quick)]
             for claim in claims}  # fmt: skip
    unique: dict[str, Spec] = {}  # claims may share an experiment (the same runs, stored once), never a name
    for group in specs.values():
        for spec in group:
            if unique.setdefault(spec.name, spec).digest() != spec.digest():
                raise ValueError(f"two different experiments are named {spec.name!r}")
    jobs = jobs or os.cpu_count() or 1
    result = Reproduction()
    with Store(out / "results.db") as store, ProcessExecutor(jobs) if jobs > 1 else SerialExecutor() as executor:
        sweep = run_sweep(list(unique.values()), store, executor, progress=progress)
        result.runs_executed = sweep.executed
        echo(str(sweep))
        if sweep.disk_full:
            raise StoreFullError(sweep.disk_full_message(store.path))
        if sweep.interrupted:
            raise KeyboardInterrupt
        mode = "quick" if quick else "full"
        report = HtmlReport(
            f"sgdlab reproduce ({mode})",
            intro="Each claim of the lecture on SGD, adaptive methods and neural-network optimisation, tested by "
            "an experiment; every verdict is computed from the stored measurements.",
        )
        for claim in claims:
            results = {spec.name: collect(spec, store) for spec in specs[claim.key]}
            verdict = claim.judge(results)
            files = claim.figures(results, figures)
            result.verdicts[claim.key] = verdict
            result.files += files
            text = f"Lecture: {claim.statement}"
            if verdict.notes:
                text += "\n\n" + verdict.notes
            tables = verdict.checks_frame().to_html(index=False, border=0)
            if verdict.table is not None:
                tables += verdict.table.to_html(border=0, float_format=lambda v: f"{v:.3g}")
            report.add_section(claim.title, text=text, verdict=verdict.passed, table=tables, figures=files)
            echo(f"{'PASS' if verdict.passed else 'FAIL'}  {claim.title}")
        if pictures is not None:
            for title, text, files in pictures(figures):
                report.add_section(title, text=text, figures=files)
                result.files += files
    result.report = report.write(out / "report.html")
    result.wall_s = time.perf_counter() - started
    return result
