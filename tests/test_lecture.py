"""`sgdlab reproduce`: every claim holds on its measurements, each verdict is computed from the data (a planted
failing trace flips it), a second call recomputes nothing, and the report renders in a browser."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from browser import open_report
from sgdlab.lecture import CLAIMS, Results, run_claims
from sgdlab.lecture.pictures import make_pictures
from sgdlab.lecture.reproduce import Reproduction


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory) -> tuple[Reproduction, dict]:
    """One quick reproduction, and every claim's results read back from its store."""
    from sgdlab.experiments import Store, parse_spec
    from sgdlab.lecture import collect

    out = tmp_path_factory.mktemp("lecture")
    result = run_claims(CLAIMS, out, quick=True, jobs=2, progress=False, echo=lambda _: None, pictures=make_pictures)
    with Store(out / "results.db") as store:
        results = {
            claim.key: {doc["name"]: collect(parse_spec(doc), store) for doc in claim.experiments(True)}
            for claim in CLAIMS
        }
    return result, results


def _with_column(runs: Results, column: str, make, **selection) -> Results:
    """``runs`` with ``column`` replaced by ``make(run)`` in every run matching ``selection``."""
    chosen = set(id(r) for r in runs.select(**selection))
    replaced = []
    for run in runs:
        if id(run) in chosen:
            trace = run.trace.copy()
            trace[column] = make(run)
            run = dataclasses.replace(run, trace=trace)
        replaced.append(run)
    return Results(tuple(replaced))


def _slow_power_law(run) -> np.ndarray:
    k = np.maximum(run.column("iters"), 1.0)
    return run.column("subopt")[0] * k**-0.3


def _flat(level: float):
    return lambda run: np.full(len(run.trace), level)


def _linear_travel(run) -> np.ndarray:
    """Adagrad moving like RMSProp: the same distance every iteration."""
    return run.column("loss")[0] - 1e-3 * run.column("iters")


def _times(factor: float):
    return lambda run: run.column("subopt") * factor


def _swap_floors(results: dict) -> dict:
    runs = results["floor-steps"]
    steps = sorted(runs.values("lr"))
    small, large = runs.select(lr=steps[0]), runs.select(lr=steps[-1])
    swapped = [dataclasses.replace(a, trace=b.trace) for a, b in zip(small, large, strict=True)]
    swapped += [dataclasses.replace(b, trace=a.trace) for a, b in zip(small, large, strict=True)]
    return {**results, "floor-steps": Results(tuple(swapped) + tuple(runs.select(lr=steps[1])))}


def _with_final_x(runs: Results, x, **selection) -> Results:
    chosen = set(id(r) for r in runs.select(**selection))
    return Results(tuple(dataclasses.replace(r, x=np.asarray(x, float)) if id(r) in chosen else r for r in runs))


def _adamw_at_the_ridge_minimiser(results: dict) -> dict:
    from sgdlab.lecture import _common
    from sgdlab.lecture.weight_decay import COUPLED

    ridge = _common.problem(COUPLED).x_star
    return {**results, "adamw": _with_final_x(results["adamw"], ridge)}


def _sgd_matches_adam_on_language(results: dict) -> dict:
    """Plain SGD trains the language model as well as Adam: no Adam gap there."""
    runs = results["networks-language"]
    adam = float(np.median(runs.one(label="Adam").finals("loss")))
    return {**results, "networks-language": _with_column(runs, "loss", lambda r: r.column("loss") * 0 + adam,
                                                          label="SGD")}  # fmt: skip


def _adam_fixes_the_rare_classes(results: dict) -> dict:
    """What the explanation predicts: with Zipf classes, Adam's rare classes do as well as its frequent ones."""
    runs = results["heavy-tail"]
    return {**results, "heavy-tail": _with_column(runs, "test_loss_rare", lambda r: r.column("test_loss_frequent"),
                                                  problem="softmax-zipf", label="Adam")}  # fmt: skip


# claim -> how to plant a failure in its results (each breaks one premise of the claim)
PLANTED = {
    "complexity": lambda r: {**r, "complexity-sgd-pl": _with_column(r["complexity-sgd-pl"], "subopt", _slow_power_law)},
    "sgd-vs-gd": lambda r: {**r, "sgd-vs-gd-gd": _with_column(r["sgd-vs-gd-gd"], "subopt", _flat(1.0))},
    "noise-floor": _swap_floors,
    "variance-reduction": lambda r: {
        **r,
        "variance-reduction": _with_column(r["variance-reduction"], "subopt", _flat(1e-2), label="SAGA"),
    },
    "bottleneck": lambda r: {
        **r,
        "bottleneck-noisy": _with_column(r["bottleneck-noisy"], "subopt", _slow_power_law, label="SLBFGS"),
    },
    "adam-counterexample": lambda r: {
        **r,
        "adam-counterexample": _with_final_x(r["adam-counterexample"], [-1.0], label="Adam"),
    },
    "weight-decay": _adamw_at_the_ridge_minimiser,
    "adagrad-decay": lambda r: {
        **r,
        "adagrad-decay": _with_column(r["adagrad-decay"], "loss", _linear_travel, label="Adagrad"),
    },
    "networks": _sgd_matches_adam_on_language,
    "heavy-tail": _adam_fixes_the_rare_classes,
    "adaptive": lambda r: {
        **r,
        "adagrad-sparse": _with_column(
            r["adagrad-sparse"], "subopt", _times(10.0), problem="rare-features", label="Adagrad"
        ),
    },
}


def test_every_claim_has_a_planted_failure():
    assert set(PLANTED) == {c.key for c in CLAIMS}


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.key)
def test_claim_holds_on_its_measurements(reproduction, claim):
    result, _ = reproduction
    verdict = result.verdicts[claim.key]
    failed = [f"{c.name}: measured {c.measured}, expected {c.expected}" for c in verdict.checks if not c.passed]
    assert verdict.passed, failed
    assert all(c.measured and c.expected for c in verdict.checks)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.key)
def test_a_planted_failing_trace_flips_the_verdict(reproduction, claim):
    _, results = reproduction
    assert claim.judge(results[claim.key]).passed
    planted = claim.judge(PLANTED[claim.key](results[claim.key]))
    assert not planted.passed
    assert any(not c.passed for c in planted.checks)


def test_the_report_renders_with_every_image_and_no_errors(reproduction):
    result, _ = reproduction
    assert result.report.is_file() and result.passed
    page = open_report(result.report)
    assert page.console_errors == [] and page.failed_requests == []
    assert len(page.images) >= len(CLAIMS) + 3  # a figure per claim, two trajectory pictures, the animation
    names = {p.name for p in result.files}
    assert {"networks-curves.png", "networks-gap.png", "heavy-tail.png", "sgd-batch-2.gif"} <= names
    assert page.incomplete_images == []
    assert all(width > 0 and height > 0 for _, width, height in page.images)
    assert any(src.startswith("data:image/gif") for src, _, _ in page.images)
    assert page.badges.count("PASS") >= len(CLAIMS) and "FAIL" not in page.badges
    assert all(p.is_file() and p.stat().st_size > 0 for p in result.files)


@pytest.mark.parametrize("width", [1400, 1920])
def test_the_report_fits_the_page_and_says_what_to_look_at(reproduction, width):
    """(Runs before the next test, which rewrites the report for one claim.) No table (or anything else) scrolls
    sideways; each claim shows its key; figures have captions, an SVG
    beside every PNG and 200 dpi; the complexity results appear once."""
    from PIL import Image

    result, _ = reproduction
    page = open_report(result.report, width=width)
    assert page.overflowing == []
    assert all(f"key {claim.key}" in page.text for claim in CLAIMS)
    pngs = [p for p in result.files if p.suffix == ".png"]
    assert pngs and all(p.with_suffix(".svg").is_file() for p in pngs)
    assert all(min(Image.open(p).info["dpi"]) >= 199 for p in pngs)
    html = result.report.read_text(encoding="utf-8")
    assert html.count("<figcaption>") == len(page.images)
    assert html.count('<span class="file">') == len(page.images)  # every figure has a caption besides its name
    assert html.count("<th>assumption</th>") == 1  # the complexity table, once
    for unwanted in ("<th></th>", " never evaluations", ">inf<", "reached 0", "−5.5", "-5.5"):
        assert unwanted not in html, unwanted


def test_a_second_call_recomputes_nothing_and_failures_set_the_exit_status(reproduction, tmp_path):
    result, _ = reproduction
    out = result.report.parent
    command = [sys.executable, "-m", "sgdlab", "reproduce", "--quick", "--out", str(out), "--no-progress",
               "--claim", "variance-reduction"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "0 runs executed" in done.stdout and "1 of 1 claims hold" in done.stdout
    bad = subprocess.run([*command[:-1], "no-such-claim"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown claim no-such-claim" in bad.stderr
