"""The HTML report in a real browser: headless Chromium loads every image, logs no error, fetches nothing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import browser
import sgdlab as sl
from browser import open_report
from sgdlab.problems import TwoParameterLeastSquares
from sgdlab.viz import HtmlReport, animate_paths, iterate_path, plot_trajectories


def test_report_renders_in_chromium_with_every_image_loaded(tmp_path):
    problem = TwoParameterLeastSquares(n=10, seed=2)
    paths = {f"SGD b={b}": iterate_path(problem, sl.methods.SGD(), 25, batch_size=b, seed=1) for b in (1, 2)}
    fig, ax = plt.subplots(figsize=(4, 3.5))
    plot_trajectories(ax, problem, paths)
    fig.tight_layout()
    png = tmp_path / "paths.png"
    fig.savefig(png, dpi=60)
    plt.close(fig)

    gif = animate_paths(problem, {"SGD b=2": paths["SGD b=2"][:5]}, tmp_path / "paths.gif")

    report = HtmlReport("Report <check>", intro="Built by the test.")
    report.add_section("Trajectories", "SGD paths.", verdict=True, figures=[png, gif])
    report.add_section("Table", verdict=False, table=pd.DataFrame({"final": [1e-3, 2.5]}), details="log")
    page = open_report(report.write(tmp_path / "report.html"))

    assert page.title == "Report <check>"
    assert page.console_errors == []
    assert page.failed_requests == []
    assert [url.split(":")[0] for url in page.requests] == ["file"]  # the page itself, nothing else
    assert len(page.images) == 2 and page.incomplete_images == []
    assert all(w > 0 and h > 0 for _, w, h in page.images), page.images
    assert page.images[0][0].startswith("data:image/png;base64,")
    assert page.images[1][0].startswith("data:image/gif;base64,")
    assert all(page.alts)
    assert page.badges == ["PASS", "FAIL", "PASS", "FAIL"]  # the summary's, then the sections'
    assert "1 of 2 checks pass" in page.text


def test_the_checker_catches_broken_images_and_external_resources(tmp_path):
    """The checker itself: a corrupt image has zero size, and an external reference is blocked and reported."""
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    report = HtmlReport("broken")
    report.add_section("s", figures=[bad], table='<img src="https://example.invalid/x.png" alt="external">')
    page = open_report(report.write(tmp_path / "broken.html"))
    assert [(w, h) for _, w, h in page.images] == [(0, 0), (0, 0)]
    assert any("Content Security Policy" in e for e in page.console_errors), page.console_errors
    assert any(r.startswith("https://example.invalid") for r in page.failed_requests)


def test_a_missing_browser_fails_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        open_report(tmp_path / "absent.html")


@pytest.mark.parametrize("width", [800, 1400, 1920])
def test_wide_tables_wrap_instead_of_scrolling_sideways(tmp_path, width):
    """Tables with many columns and long cells fit the page: no table, its container or the body scrolls."""
    long = "a measured value with a long explanation, " * 3
    wide = pd.DataFrame({f"a long column header number {j}": [long, 1.23456e-17, 123456.0] for j in range(9)})
    checks = pd.DataFrame({"check": ["c"], "expected": [long], "measured": [long * 2], "verdict": ["PASS"]})
    report = HtmlReport("wide")
    report.add_section("Wide", verdict=True, tables=[("checks", checks), ("measurements", wide)], key="wide")
    report.add_section("Coordinates", table=pd.DataFrame([{f"x{j}": 0.123456 * j for j in range(1, 16)}]))
    page = open_report(report.write(tmp_path / "wide.html"), width=width)
    assert page.overflowing == []
    assert page.badges.count("PASS") == 3  # the summary's, the section's and the verdict column's
