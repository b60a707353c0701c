"""The live playground: its numbers are sgdlab's (model), its controls stay valid (app), its page works (browser).

The browser test starts ``sgdlab playground --no-browser --port 0`` as a process, drives the page in the
system's headless Chromium (as tests/browser.py does: playwright with ``executable_path``, never a
downloaded browser), and stops the server with SIGINT, as Ctrl-C would.
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

import browser
import sgdlab as sl
from sgdlab.methods import METHODS
from sgdlab.playground import model
from sgdlab.problems import AdamCounterexample, Quadratic2D, Rosenbrock, TwoParameterLeastSquares
from sgdlab.viz.trajectories import iterate_path

ROOT = Path(__file__).resolve().parents[1]


def _require_bokeh():
    from sgdlab.playground.server import INSTALL_HINT

    try:
        import bokeh  # noqa: F401
    except ImportError:
        pytest.fail(f"the playground tests need Bokeh, which is not installed: {INSTALL_HINT}")


# --- the model: every number is sgdlab's -------------------------------------------------------------

#: each problem as the playground names it, and the same problem built directly
DIRECT = {
    "quadratic": (model.ProblemSettings("quadratic", kappa=30.0, angle=1.1), lambda: Quadratic2D(30.0, angle=1.1)),
    "rosenbrock": (model.ProblemSettings("rosenbrock"), Rosenbrock),
    "least-squares": (model.ProblemSettings("least-squares"), TwoParameterLeastSquares),
    "reddi": (model.ProblemSettings("reddi", C=4.0), lambda: AdamCounterexample(C=4.0)),
}
#: a step size that keeps every method finite for 40 steps on each problem (Adadelta keeps its own lr = 1)
SAFE_LR = {"quadratic": 1e-2, "rosenbrock": 1e-4, "least-squares": 1e-2, "reddi": 5e-3}
SETTINGS = {  # a non-default value for each hyperparameter the method has, so that every control is exercised
    "schedule": "1/sqrt(k)", "beta": 0.8, "gamma": 0.85, "rho": 0.9, "beta1": 0.7, "beta2": 0.99, "eps": 1e-7,
    "weight_decay": 0.02,
}  # fmt: skip


def _slot(method: str, problem: str, batch: int = 2) -> model.SlotSettings:
    hyper = {h: SETTINGS[h] for h in model.method_hyperparameters(method) if h in SETTINGS}
    lr = 1.0 if method == "Adadelta" else SAFE_LR[problem]
    return model.SlotSettings.for_method(method, lr=lr, batch_size=batch, **hyper)


@pytest.mark.parametrize("method", model.METHOD_NAMES)
@pytest.mark.parametrize("problem", list(DIRECT))
def test_each_problem_and_method_gives_the_path_iterate_path_gives(problem, method):
    settings, build = DIRECT[problem]
    slot = _slot(method, problem)
    result = model.compute(settings, slot, 40, seed=3)

    direct = build()
    hyper = {h: getattr(slot, h) for h in model.method_hyperparameters(method)}
    expected = iterate_path(direct, METHODS[method](**hyper), 40, batch_size=2, seed=3)
    assert result.path.shape == (41, direct.dim) and not result.diverged
    assert np.isfinite(result.path).all()
    np.testing.assert_array_equal(result.path[0], direct.initial_point())
    np.testing.assert_array_equal(result.path, expected)
    np.testing.assert_array_equal(result.k, np.arange(41))
    np.testing.assert_allclose(result.gap, [direct.loss(x) - direct.f_star for x in expected], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.grad_norm2, [float(direct.grad(x) @ direct.grad(x)) for x in expected])


@pytest.mark.parametrize("method", ["SGD", "Adam", "SAGA", "SVRG", "GD"])
def test_the_last_point_is_where_sl_run_ends(method):
    settings, build = DIRECT["least-squares"]
    slot = _slot(method, "least-squares", batch=3)
    result = model.compute(settings, slot, 60, seed=5)
    hyper = {h: getattr(slot, h) for h in model.method_hyperparameters(method)}
    trace = sl.run(build(), METHODS[method](**hyper), iters=60, batch_size=3, seed=5)
    np.testing.assert_array_equal(result.path[-1], trace.x)


def test_the_seed_changes_an_sgd_path_and_only_the_seed():
    settings = model.ProblemSettings("quadratic")
    slot = model.SlotSettings.for_method("SGD", lr=0.05, batch_size=1)
    a, b, again = (model.compute(settings, slot, 100, seed) for seed in (0, 1, 0))
    assert not np.array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.path[0], b.path[0])
    np.testing.assert_array_equal(a.path, again.path)
    gd = model.SlotSettings.for_method("GD", lr=0.05)
    np.testing.assert_array_equal(model.compute(settings, gd, 50, 0).path, model.compute(settings, gd, 50, 1).path)


@pytest.mark.parametrize(
    ("settings", "slot"),
    [
        (model.ProblemSettings("quadratic", kappa=100.0), model.SlotSettings.for_method("SGD", lr=1.0)),  # loss blow-up
        (model.ProblemSettings("quadratic", kappa=1000.0), model.SlotSettings.for_method("GD", lr=10.0)),  # overflow
        (model.ProblemSettings("rosenbrock"), model.SlotSettings.for_method("GD", lr=0.01)),
        (model.ProblemSettings("reddi"), model.SlotSettings.for_method("SGD", lr=0.5, schedule="1/sqrt(k)")),
    ],
)
def test_a_diverging_setting_is_reported_not_raised(settings, slot):
    result = model.compute(settings, slot, 3000, seed=0)
    assert result.diverged and 1 <= result.diverged_at < 3000
    assert len(result.path) in (result.diverged_at, result.diverged_at + 1)  # cut there
    assert np.isfinite(result.path).all() and np.isfinite(result.gap).all() and np.isfinite(result.grad_norm2).all()
    problem = model.make_problem(settings)
    last_good = problem.loss(result.path[result.diverged_at - 1]) - problem.f_star
    assert last_good <= model.DIVERGENCE_FACTOR * max(result.gap[0], 1.0)


def test_a_converging_setting_is_not_flagged():
    result = model.compute(model.ProblemSettings("least-squares"), model.SlotSettings.for_method("SAGA", lr=0.1,
                           batch_size=2), 1000, seed=0)  # fmt: skip
    assert not result.diverged and len(result.path) == 1001 and result.gap[-1] < 1e-10


def test_contours_cover_the_view_and_the_view_holds_x0_and_x_star():
    for key in ("quadratic", "rosenbrock", "least-squares"):
        settings = model.ProblemSettings(key)
        c = model.contours(settings)
        xmin, xmax, ymin, ymax = model.view_box(settings)
        assert c.log_gap.shape == (80, 80) and np.isfinite(c.log_gap).all()
        assert c.xs[0] < xmin < xmax < c.xs[-1] and c.ys[0] < ymin < ymax < c.ys[-1]
        assert np.all(np.diff(c.levels) > 0)
        for point in (model.x0(settings), model.x_star(settings)):
            assert xmin < point[0] < xmax and ymin < point[1] < ymax
        assert math.isclose(xmax - xmin, ymax - ymin)  # square: equal scales in a square frame
    with pytest.raises(ValueError, match="one-dimensional"):
        model.view_box(model.ProblemSettings("reddi"))


def test_settings_are_checked_and_unused_fields_do_not_split_the_cache():
    with pytest.raises(ValueError, match="unknown method"):
        model.SlotSettings("Adamax")
    with pytest.raises(ValueError, match="unknown problem"):
        model.ProblemSettings("rastrigin")
    with pytest.raises(ValueError, match="steps"):
        model.compute(model.ProblemSettings(), model.SlotSettings(), 0, 0)
    assert model.SlotSettings("SGD", beta=0.1).normalised() == model.SlotSettings("SGD", beta=0.5).normalised()
    assert model.ProblemSettings("rosenbrock", kappa=5).normalised() == model.ProblemSettings("rosenbrock")
    assert model.SlotSettings.for_method("Adam").lr == 1e-3 and model.SlotSettings.for_method("RMSProp").gamma == 0.9


# --- the app: the document and its callbacks, without a browser -------------------------------------


def _app(problem: str = "quadratic"):
    _require_bokeh()
    from bokeh.document import Document

    from sgdlab.playground.app import build

    return build(Document(), problem)


def test_controls_show_only_the_methods_hyperparameters():
    pg = _app()
    slot = pg.slots[0]
    expected = {
        "GD": {"lr", "schedule", "weight_decay"},  # every torch counterpart has torch's coupled L2 decay
        "SGD": {"lr", "schedule", "batch_size", "weight_decay"},
        "Momentum": {"lr", "schedule", "batch_size", "beta", "weight_decay"},
        "RMSProp": {"lr", "schedule", "batch_size", "gamma", "eps", "weight_decay"},
        "Adadelta": {"lr", "schedule", "batch_size", "gamma", "rho", "eps", "weight_decay"},
        "Adam": {"lr", "schedule", "batch_size", "beta1", "beta2", "eps", "weight_decay"},
        "SAGA": {"lr", "schedule", "batch_size"},
    }
    for method, shown in expected.items():
        slot.method.value = method
        assert {name for name, w in slot.widgets.items() if w.visible} == shown, method
    slot.method.value = "RMSProp"
    assert slot.widgets["gamma"].value == 0.9  # a new method starts from its own defaults
    slot.method.value = "Adadelta"
    assert slot.widgets["gamma"].value == 0.95


def test_choosing_a_problem_applies_its_preset_and_a_new_method_its_defaults():
    pg = _app()
    for key in ("least-squares", "rosenbrock", "reddi", "quadratic"):
        pg.problem.value = key
        pg.refresh()
        assert [s.settings().normalised() for s in pg.slots] == [s.normalised() for s in model.PRESETS[key]["slots"]]
        assert pg.steps.value == model.PRESETS[key]["steps"]
        assert pg.fig1d.visible == (key == "reddi") and pg.fig2d.visible == (key != "reddi")
        if key == "least-squares":  # the label is the run's: SGD with α/√k in slot 2
            assert pg.legend_items[0][1].label.value == "SGD α=0.1/√k b=2"
    slot = pg.slots[1]
    slot.widgets["schedule"].value = "1/k"
    slot.method.value = "RMSProp"  # the user's choice: RMSProp's γ, ε; the step size and schedule stay
    assert slot.settings().gamma == 0.9 and slot.settings().eps == 1e-8 and slot.settings().schedule == "1/k"


def test_every_control_at_either_end_gives_a_result_never_an_error():
    """Bad combinations are impossible by construction: each slider's range only holds valid settings."""
    pg = _app()
    slot = pg.slots[0]
    for key in model.PROBLEMS:
        pg.problem.value = key
        for method in model.METHOD_NAMES:
            slot.method.value = method
            for end in ("start", "end"):
                for widget in slot.widgets.values():
                    if hasattr(widget, "start"):
                        widget.value = getattr(widget, end)
                settings = slot.settings()
                result = model.compute(pg.problem_settings(), settings, 20, 0)
                assert len(result.path) >= 1 and np.isfinite(result.path).all(), (key, method, end)


def test_a_diverging_slot_says_where_and_keeps_the_others():
    pg = _app()
    pg.slots[0].widgets["lr"].value = 1.0  # α = 10
    pg.refresh()
    assert re.search(r"diverged at step \d+", pg.slots[0].status.text)
    assert "after 300 steps" in pg.slots[1].status.text
    assert len(pg.path_sources[0].data["k"]) < 10 and np.isfinite(pg.path_sources[0].data["x1"]).all()
    assert len(pg.end_sources[0].data["x1"]) == 1  # the cross where it left


def test_callbacks_are_fast_enough_for_1000_steps():
    """The time to answer one slider move (one slot recomputed) and a problem change (everything)."""
    pg = _app()
    pg.steps.value = 1000
    times = {}
    for key in model.PROBLEMS:
        pg.problem.value = key
        pg.steps.value = 1000
        pg.refresh()
        for method in ("SGD", "Momentum", "Adam", "SAGA"):
            pg.slots[0].method.value = method
            pg.slots[0].widgets["lr"].value -= 0.01
            started = time.perf_counter()
            pg.refresh()
            times[key, method] = time.perf_counter() - started
    print({f"{k}/{m}": f"{t * 1000:.0f} ms" for (k, m), t in times.items()})
    assert max(times.values()) < 1.0, times  # generous on a shared machine; README figures are ~0.1 s


# --- the page in a real browser ----------------------------------------------------------------------


def _read_line(proc: subprocess.Popen, pattern: str, timeout: float) -> tuple[str, str]:
    """Read the server's output until a line matches ``pattern`` (the match and everything read)."""
    seen = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            found = re.search(pattern, line)
            if found:
                return found.group(0), seen
    raise AssertionError(f"the server printed no line matching {pattern!r} in {timeout} s:\n{seen}")


@pytest.fixture
def server():
    """``sgdlab playground --no-browser --port 0`` in its own process: (url, seconds to print it, process)."""
    _require_bokeh()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sgdlab", "playground", "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip
    try:
        url, _ = _read_line(proc, r"http://127\.0\.0\.1:\d+/", timeout=30)
        yield url, time.perf_counter() - started, started, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


_DATA_JS = """(name) => {
    const doc = Bokeh.documents[0];
    const d = doc.get_model_by_name(name).data;
    return {k: Array.from(d.k), x1: Array.from(d.x1), x2: Array.from(d.x2)};
}"""
_SET_JS = "([name, value]) => { Bokeh.documents[0].get_model_by_name(name).value = value; }"
_TEXT_JS = "(name) => Bokeh.documents[0].get_model_by_name(name).text"


def test_the_page_follows_a_slider_in_chromium(server, tmp_path):
    url, listening_s, started, proc = server
    executable = browser.chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playground test drives Chromium with playwright, which is not installed: "
                    f"{browser.INSTALL_HINT}")  # fmt: skip
    errors: list[str] = []
    urls: list[str] = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            page.on("request", lambda r: urls.append(r.url))
            page.on("websocket", lambda ws: urls.append(ws.url))
            page.goto(url, wait_until="load", timeout=30_000)
            page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length > 0 &&"
                " Bokeh.documents[0].get_model_by_name('path-0').data.k.length === 301", timeout=30_000)  # fmt: skip
            first_page_s = time.perf_counter() - started
            before = page.evaluate(_DATA_JS, "path-0")
            assert before["k"] == list(range(301))
            assert [before["x1"][0], before["x2"][0]] == [-2.0, 1.5]  # x0 of Quadratic2D

            # move the step size of method 1 (the slider holds log10 α) and wait for the server's answer
            t0 = time.perf_counter()
            page.evaluate(_SET_JS, ["lr-0", -1.7])  # on the slider's grid: α = 10^-1.7 → 0.02 (3 digits)
            page.wait_for_function(
                "(x) => Bokeh.documents[0].get_model_by_name('path-0').data.x1[5] !== x", arg=before["x1"][5],
                timeout=10_000)  # fmt: skip
            slider_s = time.perf_counter() - t0
            after = page.evaluate(_DATA_JS, "path-0")
            assert after["k"] == before["k"] and after["x1"][0] == before["x1"][0]
            assert after["x1"] != before["x1"]
            expected = model.compute(model.ProblemSettings("quadratic"),
                                     model.SlotSettings.for_method("SGD", lr=0.02, batch_size=1), 300, 0)  # fmt: skip
            np.testing.assert_allclose(after["x1"], expected.path[:, 0], rtol=0, atol=1e-12)
            server_ms = float(re.search(r"(\d+) ms", page.evaluate(_TEXT_JS, "timing")).group(1))

            # a diverging step size: the slot says so
            page.evaluate(_SET_JS, ["lr-0", 1.0])
            page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('status-0').text.includes('diverged')",
                                   timeout=10_000)  # fmt: skip
            assert re.search(r"diverged at step \d+", page.evaluate(_TEXT_JS, "status-0"))

            # the 1-D problem: x_k against k, 2000 steps by its preset
            t0 = time.perf_counter()
            page.evaluate(_SET_JS, ["problem", "reddi"])
            page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('path-0').data.k.length === 2001",
                                   timeout=10_000)  # fmt: skip
            problem_s = time.perf_counter() - t0
            assert page.evaluate("() => Bokeh.documents[0].get_model_by_name('iterates-1d').visible")
            assert not page.evaluate("() => Bokeh.documents[0].get_model_by_name('trajectory').visible")
            adam = page.evaluate(_DATA_JS, "path-0")
            assert adam["x1"][-1] > 0.9  # Adam drifts to the wrong end, as in Reddi et al.
            page.wait_for_timeout(300)
            shot = tmp_path / "playground.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
        finally:
            chromium.close()

    print(json.dumps({"listening_s": round(listening_s, 2), "first_page_s": round(first_page_s, 2),
                      "slider_round_trip_s": round(slider_s, 3), "server_update_ms": server_ms,
                      "problem_change_round_trip_s": round(problem_s, 3)}))  # fmt: skip
    assert errors == []
    hosts = {urlparse(u).hostname for u in urls}
    assert hosts == {"127.0.0.1"}, hosts  # Bokeh's JS from the server itself; nothing else
    assert any(u.startswith("ws://127.0.0.1") for u in urls) and any("/static/js/bokeh" in u for u in urls)
    assert first_page_s < 15 and slider_s < 5 and problem_s < 5  # generous; the measured figures are printed
    # Ctrl-C stops it cleanly
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    assert "stopped" in out and "Traceback" not in out


def test_the_command_names_the_extra_when_bokeh_is_missing():
    code = (
        "import sys; sys.modules['bokeh'] = None\n"
        "from click.testing import CliRunner\nfrom sgdlab.cli import main\n"
        "r = CliRunner().invoke(main, ['playground', '--no-browser'])\nprint(r.exit_code); print(r.output)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    exit_code, message = out.stdout.split("\n", 1)
    assert exit_code == "1" and 'pip install -e ".[playground]"' in message


def test_the_core_imports_without_bokeh():
    code = "import sys; sys.modules['bokeh'] = None; import sgdlab, sgdlab.cli, sgdlab.playground.model; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert out.stdout.strip() == "ok"


def test_the_command_reaches_the_server_without_the_numerics():
    """`sgdlab playground` listens before numba, SciPy and sgdlab's methods are imported (they load in a thread
    while the browser fetches BokehJS), so the address comes as early as Bokeh's own import allows."""
    code = ("import sys, sgdlab, sgdlab.cli, sgdlab.playground.server\n"
            "print(sorted(m for m in ('numba', 'scipy', 'sgdlab.engine', 'sgdlab.methods', 'matplotlib', 'pandas')"
            " if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert out.stdout.strip() == "[]"
    code = (
        "import sgdlab as sl\nprint(sl.run.__module__, sl.Trace.__name__, sl.methods.SGD.__name__, sl.engine.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert out.stdout.split() == ["sgdlab.engine.loop", "Trace", "SGD", "sgdlab.engine"]
