"""The playground's Bokeh document: the controls, the four plots and the callbacks that tie them together.

Every number drawn comes from `sgdlab.playground.model`. Controls only ever hold valid settings
(slider ranges; step sizes and ε on a log scale, so they stay positive), so a callback never meets a bad
combination; a diverging run is drawn up to where it diverged and says so in its slot.

Names a test (or a curious user in the browser console, `Bokeh.documents[0].get_model_by_name(...)`)
can rely on: sources `path-i` (columns `k, x1, x2`) and `curve-i` (`k, gap, grad_norm2`) for slot
`i = 0, 1, 2`; controls `problem, kappa, angle, C, steps, seed` and `method-i, lr-i, schedule-i,
batch-i, beta-i, gamma-i, rho-i, beta1-i, beta2-i, eps-i, weight_decay-i, show-i`; texts `status-i`,
`timing`, `caption`; figures `trajectory`, `iterates-1d`, `gap`, `grad-norm`.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

import numpy as np
from bokeh.core.properties import value
from bokeh.layouts import column, row
from bokeh.models import (
    Checkbox,
    ColumnDataSource,
    CustomJSTickFormatter,
    Div,
    GlyphRenderer,
    HoverTool,
    Legend,
    LegendItem,
    Range1d,
    Select,
    Slider,
    Span,
    Spinner,
)
from bokeh.palettes import Blues256
from bokeh.plotting import figure
from bokeh.plotting.contour import contour_data

from sgdlab.playground import model
from sgdlab.viz.trajectories import PALETTE

SLOTS = 3
COLOURS = PALETTE[:SLOTS]
LEVELS = 16
FONT = {"title": "15px", "axis": "14px", "ticks": "12px", "legend": "12px"}

EXPLANATION = (
    "Every point is computed by sgdlab's own methods and engine (<code>iterate_path</code>: the run "
    "<code>sl.run</code> would make with the same settings). A stochastic gradient averages the gradients of "
    "<i>b</i> of the <i>n</i> components, drawn uniformly with replacement; GD uses all <i>n</i>. Contours are "
    "log-spaced levels of f − f*; ★ marks x*, ○ the start x₀. Move any control: the paths and curves follow."
)


def _log_format() -> CustomJSTickFormatter:
    """A fresh formatter for each slider (a Bokeh model belongs to one document, and each page has its own)."""
    return CustomJSTickFormatter(code="return Number((10 ** tick).toPrecision(3)).toExponential(2)")


_LABELS = {
    "lr": "step size α (log scale)",
    "schedule": "schedule α_k",
    "batch_size": "batch size b",
    "beta": "momentum β",
    "gamma": "decay γ of the squared-gradient average",
    "rho": "decay ρ of the step average",
    "beta1": "β1 (first moment)",
    "beta2": "β2 (second moment)",
    "eps": "ε (log scale)",
    "weight_decay": "weight decay λ",
}
_SCHEDULE_LABELS = {"constant": "constant α", "1/k": "α / k", "1/sqrt(k)": "α / √k"}


def _log_slider(name: str, title: str, lo: float, hi: float, value: float, step: float = 0.01) -> Slider:
    return Slider(start=lo, end=hi, step=step, value=math.log10(value), title=title, name=name, format=_log_format(),
                  sizing_mode="stretch_width")  # fmt: skip


def _slider(name: str, title: str, lo: float, hi: float, value: float, step: float) -> Slider:
    digits = max(0, -math.floor(math.log10(step)))  # show every step the slider can take (0.9999, not 1)
    return Slider(
        start=lo,
        end=hi,
        step=step,
        value=value,
        title=title,
        name=name,
        sizing_mode="stretch_width",
        format="0" if digits == 0 else "0." + "0" * digits,
    )


def _style(fig) -> None:
    fig.title.text_font_size = FONT["title"]
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font_size = FONT["axis"]
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font_size = FONT["ticks"]
    fig.toolbar.logo = None


class SlotControls:
    """One slot's widgets: its method and every hyperparameter control (only the method's are visible)."""

    def __init__(self, i: int, settings: model.SlotSettings, n: int):
        self.i = i
        colour = COLOURS[i]
        self.title = Div(text=f"<b>method {i + 1}</b>", name=f"slot-title-{i}",
                         styles={"color": colour, "font-size": "16px"})  # fmt: skip
        self.show = Checkbox(label="show", active=True, name=f"show-{i}", visible=i > 0)
        self.method = Select(title="method", value=settings.method, name=f"method-{i}",
                             options=list(model.METHOD_NAMES), sizing_mode="stretch_width")  # fmt: skip
        self.widgets: dict[str, Any] = {
            "lr": _log_slider(f"lr-{i}", _LABELS["lr"], -5.0, 1.0, settings.lr),
            "schedule": Select(
                title=_LABELS["schedule"],
                value=settings.schedule,
                name=f"schedule-{i}",
                options=list(_SCHEDULE_LABELS.items()),
                sizing_mode="stretch_width",
            ),
            "batch_size": _slider(f"batch-{i}", _LABELS["batch_size"], 1, n, min(settings.batch_size, n), 1),
            "beta": _slider(f"beta-{i}", _LABELS["beta"], 0.0, 0.99, settings.beta, 0.01),
            "gamma": _slider(f"gamma-{i}", _LABELS["gamma"], 0.0, 0.999, settings.gamma, 0.001),
            "rho": _slider(f"rho-{i}", _LABELS["rho"], 0.0, 0.999, settings.rho, 0.001),
            "beta1": _slider(f"beta1-{i}", _LABELS["beta1"], 0.0, 0.99, settings.beta1, 0.01),
            "beta2": _slider(f"beta2-{i}", _LABELS["beta2"], 0.0, 0.9999, settings.beta2, 0.0001),
            "eps": _log_slider(f"eps-{i}", _LABELS["eps"], -12.0, -1.0, settings.eps, 0.1),
            "weight_decay": _slider(
                f"weight_decay-{i}", _LABELS["weight_decay"], 0.0, 0.5, settings.weight_decay, 0.005
            ),
        }
        self.status = Div(text="", name=f"status-{i}", styles={"font-size": "13px"})
        self.update_visibility()

    @property
    def enabled(self) -> bool:
        return bool(self.show.active)

    def update_visibility(self) -> None:
        used = set(model.method_hyperparameters(self.method.value))
        if model.uses_batch(self.method.value):
            used.add("batch_size")
        for name, widget in self.widgets.items():
            widget.visible = name in used
        weight_decay = self.widgets["weight_decay"]
        weight_decay.title = "weight decay λ (decoupled)" if self.method.value == "AdamW" else "L2 λ (coupled)"

    def set(self, settings: model.SlotSettings) -> None:
        """Show `settings` (the method first: its change resets the others to the method's defaults)."""
        self.method.value = settings.method
        for name, widget in self.widgets.items():
            value = getattr(settings, name)
            if name in ("lr", "eps"):
                value = math.log10(value)
            elif name == "batch_size":
                value = min(int(value), int(widget.end))
            widget.value = value
        self.update_visibility()

    def settings(self) -> model.SlotSettings:
        w = self.widgets
        return model.SlotSettings(
            method=self.method.value,
            lr=float(f"{10 ** w['lr'].value:.3g}"),
            schedule=w["schedule"].value,
            batch_size=int(w["batch_size"].value),
            beta=float(w["beta"].value),
            gamma=float(w["gamma"].value),
            rho=float(w["rho"].value),
            beta1=float(w["beta1"].value),
            beta2=float(w["beta2"].value),
            eps=float(f"{10 ** w['eps'].value:.3g}"),
            weight_decay=float(w["weight_decay"].value),
        )

    def layout(self):
        w = self.widgets
        left = column(self.method, w["lr"], w["schedule"], w["batch_size"], sizing_mode="stretch_width")
        right = column(w["beta"], w["gamma"], w["rho"], w["beta1"], w["beta2"], w["eps"], w["weight_decay"],
                       sizing_mode="stretch_width")  # fmt: skip
        return column(
            row(self.title, self.show),
            row(left, right, sizing_mode="stretch_width"),
            self.status,
            width=420,
            styles={"border-top": f"4px solid {COLOURS[self.i]}", "padding": "4px 8px 0 8px", "background": "#fafbfc"},
        )


class Playground:
    """The document's state and callbacks; `doc` may be `None` until `attach` (the models are built, and the
    first paths computed, before a page asks for them)."""

    def __init__(self, doc=None, problem: str = "quadratic"):
        self.doc = doc
        self.pending = False
        self.applying = False
        self.shown_problem: model.ProblemSettings | None = None
        self.last_ms: float | None = None
        preset = model.PRESETS[problem]
        settings = model.ProblemSettings(problem)
        n = model.make_problem(settings).n

        # --- problem and run controls ---
        self.problem = Select(title="problem", value=problem, name="problem", options=list(model.PROBLEMS.items()),
                              sizing_mode="stretch_width")  # fmt: skip
        self.kappa = _log_slider("kappa", "condition number κ (log scale)", 0.0, 3.0, settings.kappa, 0.05)
        self.kappa.format = CustomJSTickFormatter(code="return Number((10 ** tick).toPrecision(3)).toString()")
        self.angle = _slider("angle", "angle of the long axis (radians)", 0.0, 3.14, settings.angle, 0.01)
        self.C = _slider("C", "rare slope C (> 2)", 2.1, 10.0, settings.C, 0.1)
        self.steps = _slider("steps", "number of steps", 10, 3000, preset["steps"], 10)
        self.seed = Spinner(title="seed (samples the minibatches)", low=0, high=10_000, step=1, value=0, name="seed",
                            sizing_mode="stretch_width")  # fmt: skip
        self.caption = Div(
            text="",
            name="caption",
            width=240,
            styles={"font-size": "13px", "color": "#333", "overflow-wrap": "anywhere"},
        )
        self.timing = Div(text="", name="timing", styles={"font-size": "12px", "color": "#666"})
        self.slots = [SlotControls(i, preset["slots"][i], n) for i in range(SLOTS)]

        # --- data sources ---
        self.path_sources = [ColumnDataSource({"k": [], "x1": [], "x2": []}, name=f"path-{i}") for i in range(SLOTS)]
        self.curve_sources = [ColumnDataSource({"k": [], "gap": [], "grad_norm2": []}, name=f"curve-{i}")
                              for i in range(SLOTS)]  # fmt: skip
        self.start_source = ColumnDataSource({"x1": [], "x2": []}, name="x0")
        self.star_source = ColumnDataSource({"x1": [], "x2": []}, name="x-star")
        self.end_sources = [ColumnDataSource({"x1": [], "x2": [], "k": []}, name=f"diverged-{i}")
                            for i in range(SLOTS)]  # fmt: skip

        self._figures()
        for widget in (self.kappa, self.angle, self.C, self.steps, self.seed):
            widget.on_change("value", self.on_value)
        self.problem.on_change("value", self.on_problem)
        for slot in self.slots:
            slot.method.on_change("value", lambda attr, old, new, slot=slot: self.on_method(slot))
            slot.show.on_change("active", self.on_value)
            for widget in slot.widgets.values():
                widget.on_change("value", self.on_value)
        self._problem_visibility()
        self.refresh()

    # --- figures ---------------------------------------------------------------------------------
    def _figures(self) -> None:
        tools = "pan,wheel_zoom,box_zoom,reset,save"
        self.fig2d = figure(title="trajectories over the contours of f − f*", name="trajectory", tools=tools,
                            frame_width=520, frame_height=520, x_axis_label="x₁", y_axis_label="x₂",
                            x_range=Range1d(-1, 1), y_range=Range1d(-1, 1))  # fmt: skip
        self.fig1d = figure(title="iterates x_k of the 1-D problem (x* dashed, the interval [−1, 1] dotted)",
                            name="iterates-1d", tools=tools, frame_width=520, frame_height=520,
                            x_axis_label="iteration k", y_axis_label="x_k", y_range=Range1d(-1.6, 1.6),
                            x_range=Range1d(0, 1), visible=False)  # fmt: skip
        self.fig_gap = figure(
            title="suboptimality f(x_k) − f*",
            name="gap",
            tools=tools,
            y_axis_type="log",
            width=512,
            height=300,
            x_axis_label="iteration k",
            y_axis_label="f(x_k) − f*",
        )
        self.fig_grad = figure(title="squared gradient norm ‖∇f(x_k)‖²", name="grad-norm", tools=tools,
                               y_axis_type="log", width=512, height=300, x_axis_label="iteration k",
                               y_axis_label="‖∇f(x_k)‖²", x_range=self.fig_gap.x_range)  # fmt: skip
        fills = [Blues256[int(j)] for j in np.linspace(40, 250, LEVELS - 1)]
        self.contour = self.fig2d.contour(
            x=np.array([0.0, 1.0]), y=np.array([0.0, 1.0]), z=np.zeros((2, 2)), levels=np.linspace(0, 1, LEVELS),
            fill_color=fills, fill_alpha=0.45, line_color="#5a6b7b", line_alpha=0.5, line_width=0.6,
        )  # fmt: skip
        self.xstar_span = Span(dimension="width", line_dash="dashed", line_color="black", line_width=1.5, location=0)
        self.bound_spans = [Span(dimension="width", line_dash="dotted", line_color="#888", location=s)
                            for s in (-1.0, 1.0)]  # fmt: skip
        self.fig1d.renderers.extend([self.xstar_span, *self.bound_spans])
        items2d, items1d = [], []
        self.renderers: list[list] = []
        for i, colour in enumerate(COLOURS):
            path, curve, end = self.path_sources[i], self.curve_sources[i], self.end_sources[i]
            line = self.fig2d.line("x1", "x2", source=path, line_color=colour, line_width=2, line_alpha=0.9)
            dots = self.fig2d.scatter("x1", "x2", source=path, size=4, color=colour, alpha=0.8)
            cross = self.fig2d.scatter("x1", "x2", source=end, size=14, marker="x", line_color=colour, line_width=3)
            line1 = self.fig1d.line("k", "x1", source=path, line_color=colour, line_width=1.6, line_alpha=0.9)
            cross1 = self.fig1d.scatter("k", "x1", source=end, size=14, marker="x", line_color=colour, line_width=3)
            gap = self.fig_gap.line("k", "gap", source=curve, line_color=colour, line_width=2)
            grad = self.fig_grad.line("k", "grad_norm2", source=curve, line_color=colour, line_width=2)
            self.renderers.append([line, dots, cross, line1, cross1, gap, grad])
            items2d.append(LegendItem(label=f"method {i + 1}", renderers=[line, dots]))
            items1d.append(LegendItem(label=f"method {i + 1}", renderers=[line1]))
        self.fig2d.scatter("x1", "x2", source=self.start_source, size=13, fill_color="white", line_color="black",
                           line_width=2)  # fmt: skip
        self.fig2d.scatter("x1", "x2", source=self.star_source, size=22, marker="star", fill_color="black",
                           line_color="white", line_width=1)  # fmt: skip
        self.legend_items = [items2d, items1d]
        for fig, items in ((self.fig2d, items2d), (self.fig1d, items1d)):  # the curves share the colours
            legend = Legend(items=items, location="top_right", label_text_font_size=FONT["legend"],
                            background_fill_alpha=0.85, click_policy="hide")  # fmt: skip
            fig.add_layout(legend)
        self.fig2d.add_tools(HoverTool(renderers=[r[1] for r in self.renderers],
                                       tooltips=[("k", "@k"), ("x", "(@x1{0.0000}, @x2{0.0000})")]))  # fmt: skip
        self.fig_gap.add_tools(HoverTool(renderers=[r[5] for r in self.renderers],
                                         tooltips=[("k", "@k"), ("f − f*", "@gap{0.000e}")]))  # fmt: skip
        self.fig_grad.add_tools(HoverTool(renderers=[r[6] for r in self.renderers],
                                          tooltips=[("k", "@k"), ("‖∇f‖²", "@grad_norm2{0.000e}")]))  # fmt: skip
        for fig in (self.fig2d, self.fig1d, self.fig_gap, self.fig_grad):
            _style(fig)
            for renderer in fig.renderers:
                if isinstance(renderer, GlyphRenderer):  # nothing is ever selected or muted here: no glyph copies
                    renderer.nonselection_glyph = renderer.muted_glyph = None  # (a sixth of the page's models)

    def layout(self) -> list:
        """The page's roots, top to bottom: the title, the plots with the problem's controls, the three slots.

        Separate roots, so that showing or hiding a slot's controls lays out that row again, not the plots.
        """
        header = Div(
            text=f"<h1 style='margin:0 0 4px 0;font-size:26px'>sgdlab playground</h1>"
            f"<div style='font-size:14px;color:#333'>{EXPLANATION}</div>",
            width=1300,
        )
        controls = column(self.problem, self.kappa, self.angle, self.C, self.caption, self.steps, self.seed,
                          self.timing, width=250)  # fmt: skip
        plots = row(controls, column(self.fig2d, self.fig1d), column(self.fig_gap, self.fig_grad))
        slots = row(*(slot.layout() for slot in self.slots))
        for root in (header, plots, slots):
            root.styles = {**root.styles, "margin-left": "12px"}
        return [header, plots, slots]

    # --- callbacks -------------------------------------------------------------------------------
    def on_value(self, attr, old, new) -> None:
        self.request()

    def attach(self, doc) -> None:
        """Put the page's roots into `doc`, under one freeze: Bokeh collects the document's models once, not once
        per root (that walk is as long as building the models)."""
        self.doc = doc
        doc.title = "sgdlab playground"
        with doc.models.freeze():
            for root in self.layout():
                doc.add_root(root)

    def _held(self, action) -> None:
        """Run `action` with the document's changes sent as one message (the browser lays out once)."""
        if self.doc is None:  # not on a page yet: nothing to send
            action()
            return
        self.doc.hold("combine")
        try:
            action()
        finally:
            self.doc.unhold()

    def request(self) -> None:
        """Recompute once on the next tick, however many controls moved in the meantime."""
        if not self.pending:
            self.pending = True
            self.doc.add_next_tick_callback(self.refresh)

    def on_problem(self, attr, old, new) -> None:
        # The hold defers the widgets' own callbacks to unhold(); `applying` must cover them too, so that the
        # preset's methods keep the preset's hyperparameters instead of their defaults.
        self.applying = True
        try:
            self._held(lambda: self._apply_preset(new))
        finally:
            self.applying = False

    def _apply_preset(self, new: str) -> None:
        preset = model.PRESETS[new]
        n = model.make_problem(model.ProblemSettings(new)).n
        self.steps.value = preset["steps"]
        for slot, settings in zip(self.slots, preset["slots"], strict=True):
            slot.widgets["batch_size"].end = n
            slot.set(settings)
        self._problem_visibility()
        self.request()

    def on_method(self, slot: SlotControls) -> None:
        """A new method gets its own defaults for everything but the step size, its schedule and the batch size."""
        if not self.applying:
            defaults = model.method_defaults(slot.method.value)
            for name, value in defaults.items():
                if name not in ("lr", "schedule", "batch_size"):
                    slot.widgets[name].value = math.log10(value) if name == "eps" else value
        slot.update_visibility()
        self.request()

    def _problem_visibility(self) -> None:
        key = self.problem.value
        self.kappa.visible = self.angle.visible = key == "quadratic"
        self.C.visible = key == "reddi"
        self.fig2d.visible, self.fig1d.visible = key != "reddi", key == "reddi"

    def problem_settings(self) -> model.ProblemSettings:
        return model.ProblemSettings(
            self.problem.value,
            kappa=float(f"{10**self.kappa.value:.3g}"),
            angle=float(self.angle.value),
            C=float(self.C.value),
        )

    def _show_problem(self, settings: model.ProblemSettings) -> None:
        info = model.describe(settings)
        start, star = model.x0(settings), info["x_star"]
        self.caption.text = (
            f"<b>{html.escape(model.PROBLEMS[settings.key])}</b> (<code>{info['kind']}</code>)<br>"
            f"n = {info['n']} components, L = {info['L']:.4g}, μ = {info['mu']:.4g}, L_max = {info['L_max']:.4g}<br>"
            f"x* = ({', '.join(f'{v:.4g}' for v in star)}), f* = {info['f_star']:.4g}"
        )
        if info["dim"] == 2:
            c = model.contours(settings, levels=LEVELS)
            self.contour.set_data(contour_data(c.xs, c.ys, c.log_gap, c.levels, want_line=True))
            xmin, xmax, ymin, ymax = model.view_box(settings)
            for rng, lo, hi in ((self.fig2d.x_range, xmin, xmax), (self.fig2d.y_range, ymin, ymax)):
                rng.update(start=lo, end=hi, reset_start=lo, reset_end=hi)
            self.start_source.data = {"x1": [start[0]], "x2": [start[1]]}
            self.star_source.data = {"x1": [star[0]], "x2": [star[1]]}
        else:
            problem = model.make_problem(settings)
            self.xstar_span.location = float(star[0])
            for span, sign in zip(self.bound_spans, (-1, 1), strict=True):
                span.location = sign * problem.radius
            lo, hi = float(star[0]) - 0.5, problem.radius + 1.1  # room above x = r for the legend
            self.fig1d.y_range.update(start=lo, end=hi, reset_start=lo, reset_end=hi)
        self.shown_problem = settings

    def refresh(self) -> None:
        self._held(self._refresh)

    def _refresh(self) -> None:
        self.pending = False
        started = time.perf_counter()
        settings = self.problem_settings()
        if settings.normalised() != (self.shown_problem.normalised() if self.shown_problem else None):
            self._show_problem(settings)
        steps, seed = int(self.steps.value), int(self.seed.value)
        one_d = settings.key == "reddi"
        if one_d:
            self.fig1d.x_range.update(start=0, end=steps, reset_start=0, reset_end=steps)
        for i, slot in enumerate(self.slots):
            on = slot.enabled
            for renderer in self.renderers[i]:
                renderer.visible = on
            for items in self.legend_items:
                items[i].visible = on
            if not on:
                slot.status.text = "<span style='color:#888'>hidden</span>"
                continue
            try:
                result = model.compute(settings, slot.settings(), steps, seed)
            except Exception as exc:  # a bug, not a setting (every slider range is valid): say it, keep the page
                self.path_sources[i].data = {"k": [], "x1": [], "x2": []}
                self.curve_sources[i].data = {"k": [], "gap": [], "grad_norm2": []}
                self.end_sources[i].data = {"x1": [], "x2": [], "k": []}
                slot.status.text = f"<span style='color:#c0392b'>error: {html.escape(str(exc))}</span>"
                continue
            path = result.path
            self.path_sources[i].data = {"k": result.k, "x1": path[:, 0],
                                         "x2": path[:, 1] if path.shape[1] > 1 else np.zeros(len(path))}  # fmt: skip
            self.curve_sources[i].data = {"k": result.k, "gap": _positive(result.gap),
                                          "grad_norm2": _positive(result.grad_norm2)}  # fmt: skip
            for items in self.legend_items:
                items[i].label = value(result.label)  # a plain string would be read as a column name
            if result.diverged:
                end = path[-1]
                self.end_sources[i].data = {"x1": [end[0]], "x2": [end[1] if len(end) > 1 else 0.0],
                                            "k": [len(path) - 1]}  # fmt: skip
                slot.status.text = (f"<span style='color:#c0392b;font-weight:bold'>diverged at step "
                                    f"{result.diverged_at}</span> (the path is cut there)")  # fmt: skip
            else:
                self.end_sources[i].data = {"x1": [], "x2": [], "k": []}
                slot.status.text = (f"after {steps} steps: f − f* = {result.gap[-1]:.3g}, "
                                    f"‖∇f‖² = {result.grad_norm2[-1]:.3g}")  # fmt: skip
        self.last_ms = (time.perf_counter() - started) * 1000
        self.timing.text = f"updated in {self.last_ms:.0f} ms (server side; runs already seen are cached)"


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: exact zeros (and rounding below them) become gaps in the line."""
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0)] = np.nan
    return out


#: A playground built before any page asked for one (see `prepare`), for the first page to take.
_spare: Playground | None = None


def prepare() -> None:
    """Build the first page's playground now (the server calls this as soon as it listens, while the browser
    is still loading BokehJS), so that the first page only attaches it."""
    global _spare
    if _spare is None:
        _spare = Playground()


def build(doc, problem: str = "quadratic") -> Playground:
    """Fill `doc` with the playground (what the server's handler calls for every new page)."""
    global _spare
    if _spare is not None and problem == _spare.problem.value:  # the prepared page, taken once
        playground, _spare = _spare, None
    else:
        playground = Playground(None, problem)
    playground.attach(doc)
    return playground
