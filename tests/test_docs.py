"""The documentation site: it builds with ``mkdocs build --strict`` (executing every tutorial), documents every
public name, and every page loads in headless Chromium with nothing broken and nothing fetched from outside.

The site is built once per test session (``site`` fixture), into a temporary folder; building it executes
the tutorials in ``docs/tutorials/``, and ``docs/hooks.py`` records each one's time.
"""

from __future__ import annotations

import functools
import html
import http.server
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from browser import INSTALL_HINT, chromium_path

ROOT = Path(__file__).resolve().parent.parent
DOCS_HINT = 'install the documentation tools with `pip install -e ".[docs]"` (they are also in the `test` extra)'
#: Each tutorial must execute (kernel start included) within this many seconds on the CI machine.
TUTORIAL_LIMIT_S = 60.0
BUILD_TIMEOUT_S = 420

PUBLIC_MODULES = (
    "sgdlab",
    "sgdlab.data",
    "sgdlab.problems",
    "sgdlab.methods",
    "sgdlab.engine",
    "sgdlab.analysis",
    "sgdlab.viz",
    "sgdlab.experiments",
    "sgdlab.lecture",
    "sgdlab.torch",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once: ``(site folder, mkdocs output, tutorial timings, build seconds)``."""
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter", "jupytext"):
        try:
            importlib.import_module(module)
        except ImportError:
            pytest.fail(f"the docs test needs {module}, which is not installed: {DOCS_HINT}")
    work = tmp_path_factory.mktemp("docs")
    out, timings = work / "site", work / "timings.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "SGDLAB_DOCS_TIMINGS": str(timings),
        "SGDLAB_CACHE_DIR": str(work / "cache"),
        "MPLBACKEND": "Agg",
        "NO_MKDOCS_2_WARNING": "1",
    }
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mkdocs build did not finish within {BUILD_TIMEOUT_S} s:\n{exc.stdout}\n{exc.stderr}")
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed (exit {done.returncode}):\n{output[-6000:]}")
    return out, output, json.loads(timings.read_text()), seconds


def _text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _pages(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("index.html"))


def _text(path: Path) -> str:
    """The page's visible text, roughly: tags removed, entities decoded."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


# ----------------------------------------------------------------------------------------------------------
# (a) the build


def test_site_builds_strict_and_executes_every_tutorial(site):
    out, output, timings, seconds = site
    assert not re.search(r"^(WARNING|ERROR)\s+-", output, flags=re.MULTILINE), output[-4000:]
    tutorials = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs" / "tutorials").glob("*.py"))
    assert len(tutorials) >= 6
    assert sorted(timings) == tutorials, f"tutorials executed: {sorted(timings)}; in docs/tutorials: {tutorials}"
    slow = {name: t for name, t in timings.items() if t > TUTORIAL_LIMIT_S}
    assert not slow, f"tutorials over {TUTORIAL_LIMIT_S} s: {slow} (all: {timings}; build {seconds:.0f} s)"
    shown = ", ".join(f"{k.split('/')[-1]} {v:.1f} s" for k, v in timings.items())
    print(f"\nbuild {seconds:.1f} s; tutorials: {shown}")
    for name in tutorials:
        page = out / name.removesuffix(".py") / "index.html"
        assert page.is_file(), f"{name} has no page"
        text = page.read_text(encoding="utf-8")
        assert "Traceback" not in text and "jp-RenderedText" in text, f"{name}: no output, or an error in it"
        assert "<details>" in text and "Exercises" in text, f"{name} has no exercises with hidden answers"
        assert "https://cdnjs" not in text and '<script src="">' not in text


def test_generated_pages_follow_the_code(site):
    out = site[0]
    from sgdlab.experiments import spec
    from sgdlab.lecture import CLAIMS
    from sgdlab.methods import METHODS

    lecture = _text(out / "lecture" / "index.html")
    for claim in CLAIMS:
        for part in (claim.key, claim.title, claim.statement, f"sgdlab reproduce --claim {claim.key}"):
            assert " ".join(part.split()) in " ".join(lecture.split()), f"lecture page lacks {part!r}"
    assert "GD: measured" in lecture and "SGD: theory" in lecture  # the complexity table from README

    reference = _text(out / "experiment-file" / "index.html")
    for model in (spec.Spec, spec.BudgetSpec, spec.RecordSpec, spec.ProblemSpec, spec.DataSpec, spec.MethodSpec,
                  spec.TuneSpec):  # fmt: skip
        for field in model.model_fields:
            assert field in reference, f"{model.__name__}.{field} is missing from the experiment-file reference"
    for name in (*spec.PROBLEM_TYPES, *spec.TUNE_METRICS, *spec.SAMPLERS):
        assert name in reference
    raw = (out / "experiment-file" / "index.html").read_text(encoding="utf-8")
    for row in re.findall(r"<tr>(.*?)</tr>", raw, flags=re.DOTALL):  # a `|` in a cell would shift the cells
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL)
        if cells:
            default = cells[2].strip()
            assert default.startswith("<code>") or _text_of(default) in ("required", "unset", "—"), (
                f"an experiment-file row whose default column holds {_text_of(default)!r}: {_text_of(row)}"
            )
    assert "A number of seeds" in reference  # the fields' notes, from the #: comments in the spec models

    methods = _text(out / "methods" / "index.html")
    for name in METHODS:
        assert name in methods
    assert "initial_accumulator_value=0.1" in methods and "1e-4" in methods  # optax's differing defaults

    spec_module = importlib.util.spec_from_file_location("_run_all", ROOT / "benchmarks" / "run_all.py")
    run_all = importlib.util.module_from_spec(spec_module)
    spec_module.loader.exec_module(run_all)
    benchmarks = _text(out / "benchmarks" / "index.html")
    for _, what, value, _ in run_all.rows():
        assert what in benchmarks and f"{value:.3g}" in benchmarks, what

    engine = (out / "api" / "engine" / "index.html").read_text(encoding="utf-8")
    assert 'id="sgdlab.engine.Trace.plot"' in engine and "&gt;&gt;&gt;" in engine  # examples are rendered
    assert 'href="../viz/#sgdlab.viz.convergence.plot_convergence"' in engine  # a cross-reference, as a link
    first = _text(out / "tutorials" / "01_first_run" / "index.html")
    assert "trace.plot()" in first  # the one-line picture, used where the tutorials draw one run

    reliability = _text(out / "reliability" / "index.html")
    first = (ROOT / "RELIABILITY.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
    assert first in reliability and "test_store_survives_twenty_sigkills_at_random_points" in reliability


# ----------------------------------------------------------------------------------------------------------
# (b) every public name is documented


def _public_names() -> list[tuple[str, str, object]]:
    names = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            names.append((module_name, name, getattr(module, name)))
    return names


def test_every_public_name_is_in_the_api_reference(site):
    out = site[0]
    ids: set[str] = set()
    for page in _pages(out / "api"):
        ids |= set(re.findall(r'id="(sgdlab[^"]*)"', page.read_text(encoding="utf-8")))
    modules = {name: importlib.import_module(name) for name in PUBLIC_MODULES}
    missing = []
    for module_name, name, value in _public_names():
        if isinstance(value, type(sys)):  # a subpackage: it has its own page
            found = any(i.startswith(f"{value.__name__}.") for i in ids)
        else:  # documented where it is defined or re-exported under the same object
            places = [m for m, mod in modules.items() if getattr(mod, name, None) is value]
            places.append(getattr(value, "__module__", None) or module_name)  # where it is defined
            found = any(f"{place}.{name}" in ids for place in places)
        if not found:
            missing.append(f"{module_name}.{name}")
    assert not missing, f"public names missing from the API reference: {missing}"


# ----------------------------------------------------------------------------------------------------------
# (c) every page in a browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(_QuietHandler, directory=str(site[0]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site[0]
    server.shutdown()
    server.server_close()


_PAGE_JS = """() => ({
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
    images: Array.from(document.images).map(img => ({src: (img.getAttribute('src') || '').slice(0, 60),
        width: img.naturalWidth, complete: img.complete})),
})"""


def test_every_page_loads_with_nothing_broken_and_nothing_external(served):
    base, folder = served
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the docs test drives Chromium with playwright, which is not installed: {INSTALL_HINT}")
    pages = [p.parent.relative_to(folder).as_posix() for p in _pages(folder)]
    problems: list[str] = []
    ids_of: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True)
        try:
            context = browser.new_context()
            for rel in pages:
                url = f"{base}/{rel}/" if rel != "." else f"{base}/"
                page = context.new_page()
                events: list[str] = []
                page.on("console", lambda m, ev=events: ev.append(f"console: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e, ev=events: ev.append(f"uncaught: {e}"))
                page.on("requestfailed", lambda r, ev=events: ev.append(f"failed request: {r.url} {r.failure}"))
                page.on("request", lambda r, ev=events: ev.append(f"external request: {r.url}")
                        if urlsplit(r.url).hostname not in ("127.0.0.1", "localhost") and
                        not r.url.startswith(("data:", "blob:")) else None)  # fmt: skip
                page.on("response", lambda r, ev=events: ev.append(f"HTTP {r.status}: {r.url}") if r.status >= 400
                        else None)  # fmt: skip
                page.goto(url, wait_until="load", timeout=30_000)
                page.wait_for_timeout(150)  # let the search worker start
                found = page.evaluate(_PAGE_JS)
                page.close()
                problems += [f"{rel}: {e}" for e in events]
                for img in found["images"]:
                    if not img["complete"] or img["width"] == 0:
                        problems.append(f"{rel}: broken image {img['src']}")
                ids_of[urlsplit(url).path] = set(found["ids"])
                links += [(rel, href) for href in found["links"]]
        finally:
            browser.close()
    assert len(pages) >= 25, pages
    for rel, href in links:
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https") or parts.netloc != urlsplit(base).netloc:
            continue  # external links are not fetched; mailto and the like are not files
        path = unquote(parts.path)
        target = folder / path.lstrip("/")
        if path.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"{rel}: broken link {href}")
        elif parts.fragment and path in ids_of and unquote(parts.fragment) not in ids_of[path]:
            problems.append(f"{rel}: link to a missing anchor {href}")
    assert not problems, "\n".join(problems[:60])
