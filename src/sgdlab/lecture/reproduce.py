"""`sgdlab reproduce`: every claim's experiments in one sweep (cached in a store), then verdicts, figures, report.

The runs go through the experiments machinery, so they are stored one by one as they finish: a second call
recomputes nothing, and an interrupted one resumes where it stopped. Pictures that need whole iterate paths
(2-D trajectories, the animation) are drawn directly; they carry no verdict.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sgdlab.experiments import ProcessExecutor, SerialExecutor, Spec, Store, parse_spec, run_sweep
from sgdlab.experiments.grid import Plan
from sgdlab.experiments.progress import SweepProgress
from sgdlab.experiments.store import StoreFullError
from sgdlab.lecture.claim import Claim, Verdict
from sgdlab.lecture.results import collect

#: Seconds between the figure thread's looks at the store for claims whose runs are all stored.
DRAW_POLL_S = 0.5


@dataclass
class Reproduction:
    """What a reproduction produced: the verdict of every claim, the files, and how long it took.

    Attributes:
        verdicts: Every claim's `Verdict`, by its key.
        report: The HTML report (`out/report.html`).
        files: The figures written (PNG and SVG).
        wall_s: The reproduction's wall time in seconds.
        runs_executed: Runs computed now (the others were already in the store).

    Examples:
        >>> from sgdlab.lecture import Reproduction, Verdict
        >>> verdict = Verdict()
        >>> verdict.check("floor shrinks", True, "0.1", "< 0.5")
        True
        >>> Reproduction(verdicts={"noise-floor": verdict}).passed
        True
    """

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    report: Path | None = None
    files: list[Path] = field(default_factory=list)
    wall_s: float = 0.0
    runs_executed: int = 0

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts.values())


@dataclass(frozen=True)
class Picture:
    """A section of pictures without a verdict, shown right after the claim (`after`, its key) it illustrates;
    `figures` are `(file, caption)` pairs."""

    after: str
    title: str
    text: str
    figures: list[tuple[Path, str]]


def _add_picture(report, picture: Picture, result: Reproduction) -> None:
    report.add_section(picture.title, text=picture.text, figures=picture.figures)
    for path, _ in picture.figures:
        result.files.append(path)
        if path.with_suffix(".svg").is_file() and path.suffix == ".png":
            result.files.append(path.with_suffix(".svg"))


class _Drawer(threading.Thread):
    """Verdicts and figures drawn while the sweep still runs: first the pictures (they need no stored run), then
    each claim as soon as every run of its experiments is stored. The parent process mostly waits on its workers
    during a sweep, so this takes the drawing off the end of the reproduction. Each outcome is kept (an exception
    too) for `run_claims` to use in the claims' order; what is not ready when the sweep ends is drawn then.
    Only this thread draws while it runs (matplotlib's settings are global)."""

    def __init__(self, claims, specs, path: Path, figures: Path, pictures) -> None:
        super().__init__(name="sgdlab-reproduce-figures", daemon=True)
        self.claims, self.specs, self.path, self.folder, self.draw_pictures = claims, specs, path, figures, pictures
        self.outcomes: dict[str, tuple | BaseException] = {}
        self.pictures: list[Picture] | BaseException = []
        self._sweep_over, self._halt = threading.Event(), threading.Event()
        self._plans = {spec.name: Plan(spec) for group in specs.values() for spec in group}

    def _stored(self, spec: Spec, store: Store, finished: set[str]) -> bool:
        plan = self._plans[spec.name]
        if not {c.key for c in plan.tuning_runs} <= finished:
            return False
        scores = {}
        for group in plan.tuning:
            scores.update(store.scores(group.method.tune.metric, (r.key for r in group.runs)))
        return {c.key for c in plan.main_runs(scores)} <= finished

    def run(self) -> None:
        if self.draw_pictures is not None:
            try:
                self.pictures = self.draw_pictures(self.folder)
            except BaseException as exc:  # shown by run_claims, at the pictures' turn
                self.pictures = exc
        pending = list(self.claims)
        with Store(self.path) as store:
            while pending and not self._halt.is_set():
                over = self._sweep_over.is_set()  # read before looking: runs stored later are seen next round
                finished = store.finished_keys()
                ready = [c for c in pending if all(self._stored(s, store, finished) for s in self.specs[c.key])]
                for claim in ready:
                    if self._halt.is_set():
                        return
                    try:
                        self.outcomes[claim.key] = _judge(claim, self.specs[claim.key], store, self.folder)
                    except Exception as exc:
                        self.outcomes[claim.key] = exc
                    pending.remove(claim)
                if over and not ready:
                    return  # the rest cannot be drawn from this store: run_claims tries them and says why
                if not ready:
                    self._halt.wait(DRAW_POLL_S)

    def finish(self, stop: bool) -> None:
        """The sweep is over: draw what is left (or, with `stop`, nothing more), and wait for it."""
        self._sweep_over.set()
        if stop:
            self._halt.set()
        self.join()


def _judge(claim: Claim, specs: Sequence[Spec], store: Store, figures: Path) -> tuple[Verdict, list[Path]]:
    results = {spec.name: collect(spec, store) for spec in specs}
    return claim.judge(results), claim.figures(results, figures)


def run_claims(
    claims: Sequence[Claim],
    out: str | Path,
    quick: bool = False,
    jobs: int | None = None,
    progress: bool | SweepProgress = True,
    echo: Callable[[str], None] = print,
    pictures: Callable[[Path], list[Picture]] | None = None,
) -> Reproduction:
    """Run `claims` into `out` (store `out/results.db`, figures, `out/report.html`). `progress`: one bar
    for all the runs on standard error, or a `SweepProgress` to show them in (each run labelled with its claim).

    Args:
        claims: The claims to reproduce (e.g. `sgdlab.lecture.CLAIMS`).
        out: The folder to write into (created if missing); its store makes a second call recompute nothing.
        quick: Use the claims' smaller experiments (fewer seeds, shorter runs).
        jobs: Worker processes (default: one per core; 1 runs everything in this process).
        progress: A progress bar on standard error (`True`), none (`False`), or a `SweepProgress`.
        echo: Where the summary lines (the sweep, each claim's PASS/FAIL) go.
        pictures: Draws the sections without a verdict into the figures folder (`sgdlab reproduce`'s 2-D
            trajectories and animation); `None`: none.

    Returns:
        The `Reproduction`: verdicts, report, files and timings.

    Raises:
        ValueError: Two different experiments share a name.
        StoreFullError: The store's disk filled up (the runs stored so far stay; run again after freeing space).
        KeyboardInterrupt: The sweep was interrupted (the stored runs stay).

    Examples:
        A claim of one's own, on a tiny experiment:

        >>> import tempfile
        >>> from sgdlab.lecture import Claim, Verdict, run_claims
        >>> class GDConverges(Claim):
        ...     key, title, statement = "gd", "GD converges", "GD with α = 1/L decreases the loss."
        ...     def experiments(self, quick):
        ...         return [{"name": "gd", "budget": {"epochs": 5},
        ...                  "problems": [{"name": "q", "type": "Quadratic2D"}], "methods": [{"type": "GD"}]}]
        ...     def judge(self, results):
        ...         verdict, (run,) = Verdict(), results["gd"]
        ...         first, last = run.column("loss")[[0, -1]]
        ...         verdict.check("the loss decreases", last < first, f"{first:.2g} → {last:.2g}", "decrease")
        ...         return verdict
        >>> result = run_claims([GDConverges()], tempfile.mkdtemp(), jobs=1, progress=False, echo=print)
        ... # doctest: +ELLIPSIS
        sweep complete: 1 runs executed, 0 failed, 0 diverged (... s)
        PASS  GD converges
        >>> result.passed, result.runs_executed, result.report.name
        (True, 1, 'report.html')
    """
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
    claims_of: dict[str, list[str]] = {}  # experiment -> the claims it tests (shown beside its runs)
    for key, group in specs.items():
        for spec in group:
            claims_of.setdefault(spec.name, []).append(key)
    if not isinstance(progress, SweepProgress):
        progress = SweepProgress(bool(progress), desc="sgdlab reproduce")
    progress.names.update({name: ", ".join(keys) for name, keys in claims_of.items()})
    jobs = jobs or os.cpu_count() or 1
    result = Reproduction()
    with Store(out / "results.db") as store, ProcessExecutor(jobs) if jobs > 1 else SerialExecutor() as executor:
        # with worker processes this process is free to draw while they compute; alone, it computes
        drawer = _Drawer(claims, specs, store.path, figures, pictures) if jobs > 1 else None
        if drawer is not None:
            drawer.start()
        sweep = None
        try:
            sweep = run_sweep(list(unique.values()), store, executor, progress=progress)
        finally:
            if drawer is not None:
                drawer.finish(stop=sweep is None or sweep.interrupted or bool(sweep.disk_full))
        result.runs_executed = sweep.executed
        echo(str(sweep))
        if sweep.disk_full:
            raise StoreFullError(sweep.disk_full_message(store.path))
        if sweep.interrupted:
            raise KeyboardInterrupt
        mode = "quick" if quick else "full"
        stored = store.runs()
        timing = ""
        if len(stored):
            timing = (
                f" This reproduction: {len(stored)} runs in `results.db`, {stored['wall_s'].sum():.0f} s of "
                "run time in all (summed over workers, as the store records each run)."
            )
        report = HtmlReport(
            f"sgdlab reproduce ({mode})",
            intro="Each claim of the lecture on SGD, adaptive methods and neural-network optimisation, tested by "
            "an experiment; every verdict is computed from the stored measurements. Each section shows the claim "
            "in the lecture's words, its checks (what was expected, what was measured), the measurements and the "
            "figures, with what to look at in each. A section's key reruns it alone: "
            "`sgdlab reproduce --claim KEY` (`sgdlab reproduce --list` prints the keys). Every figure is also in "
            "`figures/` as a 200-dpi PNG and an SVG. Bands and error bars are the inter-quartile range (IQR: "
            "the middle half of the seeds) around the median." + timing,
        )
        if drawer is None:
            drawn = pictures(figures) if pictures is not None else []
        elif isinstance(drawer.pictures, BaseException):
            raise drawer.pictures
        else:
            drawn = drawer.pictures
        for claim in claims:
            outcome = drawer.outcomes.get(claim.key) if drawer is not None else None
            if isinstance(outcome, BaseException):
                raise outcome
            verdict, files = outcome or _judge(claim, specs[claim.key], store, figures)
            result.verdicts[claim.key] = verdict
            result.files += files + [f.with_suffix(".svg") for f in files if f.with_suffix(".svg").is_file()]
            text = f"Lecture: {claim.statement}"
            if verdict.notes:
                text += "\n\n" + verdict.notes
            tables = []
            if verdict.show_checks:
                tables.append(("The checks: each passes when the measurement meets the expectation.",
                               verdict.checks_frame()))  # fmt: skip
            if verdict.table is not None:
                tables.append((claim.table_caption, verdict.table))
            tables += list(verdict.extra_tables)
            shown = [(f, claim.captions.get(f.name, "")) for f in files]
            report.add_section(claim.title, text=text, verdict=verdict.passed, tables=tables, figures=shown,
                               key=claim.key)  # fmt: skip
            echo(f"{'PASS' if verdict.passed else 'FAIL'}  {claim.title}")
            for picture in [p for p in drawn if p.after == claim.key]:
                _add_picture(report, picture, result)
        keys = {claim.key for claim in claims}
        for picture in [p for p in drawn if p.after not in keys]:
            _add_picture(report, picture, result)
    result.report = report.write(out / "report.html")
    result.wall_s = time.perf_counter() - started
    return result
