"""Pictures: paths replay sl.run exactly, plots draw what they promise, the HTML report is self-contained."""

from __future__ import annotations

import base64
import re
import warnings

import matplotlib

matplotlib.use("Agg")  # tests draw off-screen; the library itself never switches backends on import

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import sgdlab as sl
from sgdlab.problems import Quadratic2D, Rosenbrock, TwoParameterLeastSquares
from sgdlab.viz import (
    HtmlReport,
    animate_minibatch_sgd,
    animate_paths,
    convergence_axes,
    iterate_path,
    plot_convergence,
    plot_effect,
    plot_trajectories,
    sampled_indices,
    seed_bands,
)
from sgdlab.viz.trajectories import default_bounds


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


# --- iterate_path ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "batch_size", "sampler"),
    [
        pytest.param(lambda: sl.methods.SGD(), 2, "uniform", id="sgd-b2"),
        pytest.param(lambda: sl.methods.SGD(lr=0.05, schedule=sl.methods.Cosine()), 1, "reshuffle", id="cosine"),
        pytest.param(lambda: sl.methods.Adam(lr=0.05), 3, "uniform", id="adam"),
        pytest.param(lambda: sl.methods.SVRG(), 1, "uniform", id="svrg"),
        pytest.param(lambda: sl.methods.SAGA(), 2, "reshuffle", id="saga"),
        pytest.param(lambda: "GD", 1, "uniform", id="gd-by-name"),
    ],
)
@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(
    "problem",
    [
        # a LeastSquares subclass: sl.run takes the Python loop
        pytest.param(lambda: TwoParameterLeastSquares(n=12, seed=3), id="ls2d"),
        # plain GLMs: sl.run takes the engine's compiled segments where it has them
        pytest.param(lambda: sl.problems.LeastSquares(sl.data.make_regression(n=15, dim=2, seed=1)), id="ls"),
        pytest.param(
            lambda: sl.problems.LogisticRegression(sl.data.make_classification(n=15, dim=2, seed=1), l2=0.01),
            id="logistic",
        ),
    ],
)
def test_iterate_path_ends_where_run_ends(problem, method, batch_size, sampler, seed):
    problem = problem()
    iters = 37
    path = iterate_path(problem, method(), iters, batch_size=batch_size, seed=seed, sampler=sampler)
    trace = sl.run(
        problem, method(), iters=iters, batch_size=batch_size, seed=seed, sampler=sampler, points_per_decade=None
    )
    assert path.shape == (iters + 1, 2)
    np.testing.assert_array_equal(path[0], problem.initial_point())
    np.testing.assert_array_equal(path[-1], trace.x)


def test_iterate_path_takes_x0_and_reports_the_sampled_indices():
    problem = TwoParameterLeastSquares(n=10, seed=1)
    x0 = np.array([0.3, -0.2])
    path = iterate_path(problem, sl.methods.SGD(lr=0.1), 5, batch_size=2, seed=4, x0=x0)
    np.testing.assert_array_equal(path[0], x0)
    idx = sampled_indices(problem, sl.methods.SGD(lr=0.1), 5, batch_size=2, seed=4, x0=x0)
    assert idx.shape == (5, 2) and idx.min() >= 0 and idx.max() < problem.n
    # Replaying the path by hand with those indices reproduces it.
    x = x0.copy()
    for k, i in enumerate(idx, start=1):
        x = x - 0.1 * problem.grad_batch(x, i)
        np.testing.assert_allclose(path[k], x, rtol=1e-12)


def test_a_diverging_path_stops_where_run_stops():
    problem = Quadratic2D(kappa=10.0)
    path = iterate_path(problem, sl.methods.SGD(lr=1e3), 400, seed=0)
    trace = sl.run(problem, sl.methods.SGD(lr=1e3), iters=400, seed=0, points_per_decade=None)
    assert trace.status == "diverged" and len(path) == trace.diverged_at + 1
    with np.errstate(over="ignore"):
        assert not np.isfinite(path[-1] @ path[-1]) and np.isfinite(np.einsum("ij,ij->i", path, path)[:-1]).all()


def test_iterate_path_rejects_bad_arguments():
    with pytest.raises(ValueError, match="iters"):
        iterate_path(Quadratic2D(), sl.methods.SGD(), 0)
    with pytest.raises(ValueError, match="sampler"):
        iterate_path(Quadratic2D(), sl.methods.SGD(), 3, sampler="cyclic")


# --- plot_trajectories --------------------------------------------------------------------------------
def test_plot_trajectories_draws_one_line_per_path_and_the_optimum(ax):
    problem = Quadratic2D(kappa=10.0, n=8)
    paths = {name: iterate_path(problem, m, 20, seed=1) for name, m in [("SGD", sl.methods.SGD()), ("GD", "GD")]}
    plot_trajectories(ax, problem, paths, title="quadratic")
    lines = ax.get_lines()
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_xydata(), paths["SGD"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SGD", "GD", "x*"]
    assert ax.get_title() == "quadratic"
    assert ax.collections, "contours are drawn"
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    everything = np.concatenate([*paths.values(), problem.x_star[None]])
    assert (everything[:, 0] > xmin).all() and (everything[:, 0] < xmax).all()
    assert (everything[:, 1] > ymin).all() and (everything[:, 1] < ymax).all()


def test_plot_trajectories_honours_bounds_and_rejects_other_dimensions(ax):
    plot_trajectories(ax, Rosenbrock(), {"p": np.array([[-1.5, 2.0], [0.0, 0.0]])}, bounds=(-2, 2, -1, 3))
    assert ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 3)
    wide = sl.problems.LeastSquares(sl.data.make_regression(n=20, dim=3, seed=0))
    with pytest.raises(ValueError, match="dim=3"):
        plot_trajectories(ax, wide, {})


def test_the_legend_option_sets_size_and_place_or_leaves_the_legend_out(ax):
    problem = Quadratic2D(kappa=10.0, n=8)
    paths = {"GD": iterate_path(problem, "GD", 10)}
    with matplotlib.rc_context({"legend.fontsize": 13}):  # by default the legend follows the style (slides)
        plot_trajectories(ax, problem, paths)
    assert ax.get_legend().get_texts()[0].get_fontsize() == 13
    plot_trajectories(ax, problem, paths, legend={"fontsize": 17, "loc": "upper left"})
    legend = ax.get_legend()
    assert legend.get_texts()[0].get_fontsize() == 17 and legend._loc == 2  # 2: "upper left"
    plot_trajectories(ax, problem, paths, legend=False)
    assert ax.get_legend() is None
    with pytest.raises(TypeError, match="legend"):
        plot_trajectories(ax, problem, paths, legend="big")
    x = np.arange(1.0, 20.0)
    plot_convergence(ax, {"a": [(x, 1 / x)]}, legend={"fontsize": 15})
    assert ax.get_legend().get_texts()[0].get_fontsize() == 15
    plot_effect(ax, [1, 2], [[1.0], [2.0]], "b", label="m", legend=False)
    assert ax.get_legend() is None


def test_log_axes_label_decades_in_plain_text(ax):
    """Tick labels of log axes are Unicode text (10⁻³), not mathtext, which was most of a figure's drawing time."""
    x = np.geomspace(1, 1e5, 50)
    plot_convergence(ax, {"a": [(x, 1e-3 / x)]})
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("$" in t for t in labels) and "10⁻⁵" in labels
    ax.set_ylim(0.004, 0.045)  # one decade: the minor ticks keep their labels (2×10⁻², 3×10⁻² …)
    ax.figure.canvas.draw()
    assert "2×10⁻²" in [t.get_text() for t in ax.get_yticklabels(minor=True)]


def test_trace_plot_draws_the_run_on_log_axes(ax):
    problem = sl.problems.LeastSquares(sl.data.make_regression(n=40, dim=3, seed=0))
    trace = sl.run(problem, sl.methods.SGD(), epochs=4, seed=0)
    assert trace.plot(ax=ax) is ax
    sl.run(problem, "SAGA", epochs=4, seed=0).plot(ax=ax, label="SAGA, b = 1")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SGD", "SAGA, b = 1"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epochs" and ax.get_ylabel() == "f(x) − f*"
    first = ax.get_lines()[0]
    # the median of one run is the run itself, interpolated in log–log space on the checkpoints' span
    keep = trace.epochs > 0
    np.testing.assert_allclose(first.get_ydata()[[0, -1]], trace.subopt[keep][[0, -1]], rtol=1e-9)
    new = trace.plot(y="grad_norm2", x="grad_evals", legend=False)
    assert new is not ax and new.get_xlabel() == "gradient evaluations" and new.get_legend() is None
    plt.close(new.figure)
    with pytest.raises(ValueError, match="not a column"):
        trace.plot(y="accuracy", ax=ax)
    trace.columns["dist2"] = np.full(len(trace), np.nan)
    with pytest.raises(ValueError, match="no finite value"):
        trace.plot(y="dist2", ax=ax)


def test_sl_viz_is_loaded_on_first_use_and_the_playground_needs_neither_matplotlib_nor_pandas():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import sgdlab as sl\n"
        "from sgdlab.viz import iterate_path\n"
        "from sgdlab.viz.trajectories import PALETTE\n"
        "import sgdlab.playground.model\n"
        "heavy = sorted(m for m in ('matplotlib', 'pandas') if m in sys.modules)\n"
        "print(heavy, 'viz' in dir(sl), sl.viz.plot_convergence.__module__, 'matplotlib' in sys.modules)\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": src})  # fmt: skip
    assert out.stdout.split() == ["[]", "True", "sgdlab.viz.convergence", "False"]
    import sgdlab.viz

    assert sorted(sgdlab.viz.__all__) == sorted(sgdlab.viz._HOMES)
    for name in sgdlab.viz.__all__:
        assert getattr(sgdlab.viz, name).__module__ == f"sgdlab.viz.{sgdlab.viz._HOMES[name]}"
    with pytest.raises(AttributeError, match="plot_everything"):
        sgdlab.viz.plot_everything  # noqa: B018


def test_a_diverging_path_does_not_set_the_default_box():
    problem = Rosenbrock()
    calm = iterate_path(problem, sl.methods.GD(lr=1e-3), 30)
    wild = np.array([problem.initial_point(), [3.0, -4.0], [1e150, 1e150], [np.inf, np.nan]])
    xmin, xmax, ymin, ymax = default_bounds(problem, {"calm": calm, "wild": wild})
    assert -3 < xmin < xmax < 3 and -1 < ymin < ymax < 4


# --- animation --------------------------------------------------------------------------------------------
def test_animate_paths_writes_a_small_multi_frame_gif(tmp_path):
    problem = TwoParameterLeastSquares(n=10, seed=2)
    paths = {"SGD": iterate_path(problem, sl.methods.SGD(), 6, batch_size=2), "GD": iterate_path(problem, "GD", 4)}
    out = animate_paths(problem, paths, tmp_path / "paths.gif", max_frames=5, title="tiny")
    assert out == tmp_path / "paths.gif" and out.stat().st_size < 2_000_000
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5 and gif.is_animated
        assert gif.info["loop"] == 0


def test_the_minibatch_picture_shows_the_sampled_components(tmp_path):
    problem = TwoParameterLeastSquares(n=10, seed=2)
    out = animate_minibatch_sgd(problem, tmp_path / "batch2.gif", iters=5, seed=3)
    with Image.open(out) as gif:
        assert gif.n_frames == 6
        frames = []
        for k in (0, 3):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")).astype(int))

    def bluish(frame):  # the first path colour (tab10 blue): trail, head and the sampled components' lines
        return int(((frame[..., 2] - frame[..., 0]) > 60).sum())

    assert bluish(frames[1]) > bluish(frames[0]) + 150


def test_animate_paths_rejects_bad_input(tmp_path):
    problem = Quadratic2D()
    path = iterate_path(problem, sl.methods.SGD(), 3)
    with pytest.raises(ValueError, match="GIF"):
        animate_paths(problem, {"p": path}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="unknown paths"):
        animate_paths(problem, {"p": path}, tmp_path / "x.gif", samples={"q": np.zeros((3, 1), int)})


# --- effects ----------------------------------------------------------------------------------------------
def test_plot_effect_draws_medians_with_quartile_bars(ax):
    values = [1e-3, 1e-2, 1e-1]
    finals = [[1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.2, 0.3], [np.inf, np.nan]]  # the last step size diverged
    plot_effect(ax, values, finals, "step size", label="SGD")
    plot_effect(ax, values, [[1.0], [0.5], [0.25]], "step size", label="SAGA")
    assert len(ax.containers) == 2
    medians = ax.containers[0].lines[0]
    np.testing.assert_allclose(medians.get_xdata(), [1e-3, 1e-2])
    np.testing.assert_allclose(medians.get_ydata(), [3.0, 0.2])
    segments = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose([seg[:, 1] for seg in segments], [[2.0, 4.0], [0.15, 0.25]])
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [1e-1]  # the diverged value is marked
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_ylabel() == "final f − f*" and ax.get_xlabel() == "step size"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["SGD", "SAGA"]


def test_plot_effect_linear_axes_and_length_check(ax):
    plot_effect(ax, [1, 2, 4], [[0.0, 1.0], [2.0], [-1.0, 1.0]], "batch size", logx=False, logy=False)
    assert ax.get_xscale() == ax.get_yscale() == "linear"
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), [0.5, 2.0, 0.0])
    with pytest.raises(ValueError, match="finals"):
        plot_effect(ax, [1, 2], [[1.0]], "b")


# --- convergence ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", ["iters", "grad_evals", "epochs", "time_s"])
def test_convergence_bands_for_every_counter(ax, x):
    problem = Quadratic2D(kappa=5.0, n=8)
    frames = []
    for seed in range(3):
        frame = sl.run(problem, sl.methods.SGD(), epochs=5, seed=seed).to_frame()
        frames.append(frame.assign(run_key=f"r{seed}", curve="SGD"))
    frame = pd.concat(frames)
    convergence_axes(ax, frame, "subopt", x=x)
    assert len(ax.get_lines()) == 1 and len(ax.collections) == 1  # median line, IQR band
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_xlabel() in ("iterations", "gradient evaluations", "epochs", "time (s)")
    assert np.isfinite(ax.get_lines()[0].get_ydata()).any()


@pytest.mark.parametrize(
    ("seeds", "stopped"),
    [(1, ()), (2, ()), (5, ()), (5, (1, 3)), (4, (0, 1, 2, 3))],  # `stopped`: runs that end a third of the way
)
def test_seed_bands_are_numpys_quartiles_over_the_runs_still_going(seeds, stopped):
    rng = np.random.default_rng(seeds + len(stopped))
    k = np.arange(1.0, 301.0)
    lengths = [100 if i in stopped else 300 for i in range(seeds)]
    runs = [(k[:length], rng.lognormal(size=length)) for length in lengths]
    grid, q25, median, q75 = seed_bands(runs, points=40)
    table = np.full((seeds, len(grid)), np.nan)  # each run on the grid, where it has points (as seed_bands does)
    for row, (x, y) in enumerate(runs):
        inside = grid <= x.max()
        table[row, inside] = np.exp(np.interp(np.log(grid[inside]), np.log(x), np.log(y)))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN, as seed_bands gives
        expected = [np.nanquantile(table, q, axis=0) for q in (0.25, 0.5, 0.75)]
    for got, want in zip((q25, median, q75), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_plot_convergence_takes_arrays(ax):
    x = np.arange(1, 50, dtype=float)
    curves = {"a": [(x, 1 / x), (x, 2 / x), (x, 3 / x)], "b": [(x, x**-2.0)]}
    plot_convergence(ax, curves, "iters", "f − f*")
    lines = ax.get_lines()
    assert len(lines) == 2 and len(ax.collections) == 1  # a single seed gets no band
    np.testing.assert_allclose(lines[0].get_ydata(), 2 / lines[0].get_xdata(), rtol=1e-9)
    assert ax.get_xlabel() == "iterations" and ax.get_ylabel() == "f − f*"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (3 seeds)", "b"]


# --- HtmlReport --------------------------------------------------------------------------------------------
def _png(path, ax_title="t"):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title(ax_title)
    fig.savefig(path, dpi=50)
    plt.close(fig)
    return path


def test_html_report_is_self_contained_and_escapes(tmp_path):
    png = _png(tmp_path / "curve.png")
    svg = tmp_path / "dot.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><circle cx="2" cy="2" r="2"/></svg>')
    report = HtmlReport("Claims <&> checks", intro="Intro with `code`.")
    report.add_section("<script>alert(1)</script>", "a < b", verdict=True, figures=[png, svg])
    report.add_section("Table", verdict=False, table=pd.DataFrame({"value": [1.23456789, 1e-9], "name": ["x", "<y>"]}))
    report.add_section("Raw", table="<table><tr><td>raw</td></tr></table>", details="stderr: <boom>")
    report.add_section("Named", table=pd.DataFrame({"method": ["SGD"], "rate": [-1.0]}).set_index("method"))
    out = report.write(tmp_path / "sub" / "report.html")
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "sub" / "report.html"
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Claims &lt;&amp;&gt; checks</title>" in page
    assert "a &lt; b" in page and "<code>code</code>" in page and "stderr: &lt;boom&gt;" in page
    assert "&lt;y&gt;" in page and ">1.235<" in page and ">1e−9<" in page  # 4 significant digits, compact exponent
    assert "<table><tr><td>raw</td></tr></table>" in page
    assert "<th>method</th><th class=num>rate</th>" in page and '<td class="short">SGD</td>' in page  # the index
    assert "<th>0</th>" not in page and "<th></th>" not in page  # no unnamed index, no empty header row
    uris = re.findall(r'<img src="(data:[^"]+)" alt="([^"]+)"[^>]*>', page)
    assert [u.split(";")[0] for u, _ in uris] == ["data:image/png", "data:image/svg+xml"]
    assert base64.b64decode(uris[0][0].split(",", 1)[1]) == png.read_bytes()
    assert "curve.png</figcaption>" in page
    # No external resources: nothing but data: URIs and in-page anchors.
    assert not re.search(r'(src|href)="(?!data:|#)', page)
    assert page.count('class="badge pass"') == 2 and page.count('class="badge fail"') == 2  # summary + section
    anchors = re.findall(r'<section id="([^"]+)"', page)
    assert len(anchors) == 4 and all(f'href="#{a}"' in page for a in anchors)
    assert "1 of 2 checks pass" in page


def test_html_report_rejects_unknown_figure_types(tmp_path):
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(ValueError, match=r"x\.pdf"):
        HtmlReport("t").add_section("s", figures=[tmp_path / "x.pdf"])


def test_html_tables_are_formatted_for_people(tmp_path):
    from sgdlab.viz.html import format_number

    assert [format_number(v) for v in (4480.0, 57300.0, 0.00303, 12.0, -5.55e-17, float("inf"), float("nan"))] == [
        "4,480",
        "57,300",
        "0.00303",
        "12",
        "−5.55e−17",
        "∞",
        "—",
    ]
    nested = pd.DataFrame(
        {("theory", "GD"): ["O(1/ε)"], ("theory", "SGD"): ["O(1/ε²)"]}, index=pd.Index(["convex"], name="assumption")
    )
    report = HtmlReport("t")
    report.add_section(
        "s",
        tables=[("what the columns are", nested)],
        key="claim-key",
        figures=[(_png(tmp_path / "c.png"), "What to look at.")],
    )
    page = report.render()
    assert "<th>assumption</th><th>theory: GD</th><th>theory: SGD</th>" in page  # one header row
    assert "<caption>what the columns are</caption>" in page
    assert "<code>claim-key</code>" in page
    assert 'What to look at.<span class="file">c.png</span></figcaption>' in page
    assert 'width="192"' in page  # 2 inches at 50 dpi, shown at its drawn size (96 CSS px per inch)


@pytest.mark.parametrize(("text", "typeset"), [
    ("measured -0.034 nats", "measured −0.034 nats"),
    ("final x in [-1.007, -1.002]", "final x in [−1.007, −1.002]"),
    ("f − f* 3.3e-05, 2e+03, 1e-16", "f − f* 3.3e−5, 2e3, 1e−16"),
    ("x = -.5", "x = −.5"),
    ("a 1-D problem, the x-axis, k-1, 2026-12-02", "a 1-D problem, the x-axis, k-1, 2026-12-02"),
])  # fmt: skip
def test_numbers_in_sentences_are_typeset_as_the_tables_print_them(text, typeset):
    from sgdlab.viz.html import typeset_numbers

    assert typeset_numbers(text) == typeset


def test_report_sentences_and_cells_use_the_tables_minus_but_code_stays_as_written():
    from sgdlab.viz.html import format_number

    report = HtmlReport("t")
    report.add_section(
        "s",
        text="the gap is -0.034 nats; run `sgdlab x --lr -1e-3`",
        table=pd.DataFrame({"measured": ["Zipf 0.014, uniform -0.034"], "value": [-0.034]}),
    )
    page = report.render()
    assert "the gap is −0.034 nats" in page and "<code>sgdlab x --lr -1e-3</code>" in page
    assert "uniform −0.034" in page and format_number(-0.034) in page


def test_a_figures_log_axes_get_plain_labels_unless_a_caller_chose_a_formatter():
    from matplotlib import ticker
    from matplotlib.figure import Figure

    from sgdlab.viz._ticks import UnicodeLogFormatter, plain_log_labels

    fig = Figure()
    default, chosen = fig.subplots(1, 2)
    for ax in (default, chosen):
        ax.loglog([1e-3, 1e4], [1e-9, 1.0])
    chosen.yaxis.set_major_formatter(ticker.NullFormatter())
    fig.canvas.draw()
    mathtext = [t.get_text() for t in default.get_xticklabels()]
    for ax in (default, chosen):
        plain_log_labels(ax)
    fig.canvas.draw()
    assert isinstance(default.xaxis.get_major_formatter(), UnicodeLogFormatter)
    assert isinstance(default.yaxis.get_minor_formatter(), UnicodeLogFormatter)
    assert isinstance(chosen.yaxis.get_major_formatter(), ticker.NullFormatter)  # left as the caller set it
    plain = [t.get_text() for t in default.get_xticklabels()]
    assert len(plain) == len(mathtext) and "10⁻²" in plain and not any("$" in t for t in plain)
    assert [bool(t) for t in plain] == [bool(t) for t in mathtext]  # the same ticks labelled
