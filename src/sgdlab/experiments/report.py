"""`sgdlab report`: one convergence figure per experiment and problem in a store, plus an index page.

A figure is keyed by the experiment (its name and spec hash) and the problem's name within it, so two
experiments whose problems share a name get a figure each, and file names (a readable slug plus a short hash
of that identity) never collide — `a/b` and `a_b` included. The index is an [`HtmlReport`][sgdlab.viz.html.HtmlReport].
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd

from sgdlab.experiments.store import Store


def _value(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _curve_names(runs: pd.DataFrame) -> pd.Series:
    """A run's curve: its method label, plus its hyperparameters where one label has several settings, plus
    `(b=…)` where the runs have several batch sizes — words separated by single spaces."""
    settings = runs["hyperparameters"].map(lambda h: json.dumps(h, sort_keys=True))
    several = {label for label, part in runs.groupby("label") if settings[part.index].nunique() > 1}
    batches = runs["batch_size"].nunique() > 1
    names = []
    for label, h, b in zip(runs["label"], runs["hyperparameters"], runs["batch_size"], strict=True):
        parts = [str(label)]
        if label in several and h:
            parts.append(", ".join(f"{k}={_value(v)}" for k, v in h.items()))
        if batches:
            parts.append(f"(b={b})")
        names.append(" ".join(parts))
    return pd.Series(names, index=runs.index)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower()[:40] or "x"


def figure_name(sweep: str, spec_hash: str, problem: str) -> str:
    """`<experiment>--<problem>-<hash>.png`: readable, and unique for each (experiment, spec, problem)."""
    identity = hashlib.sha1(json.dumps([sweep, spec_hash, problem]).encode()).hexdigest()[:8]
    return f"{_slug(sweep)}--{_slug(problem)}-{identity}.png"


def write_report(store: Store, folder: str | Path) -> list[Path]:
    """Write a figure for every (experiment, problem) of the store's main-phase runs, and `index.html`."""
    from matplotlib.figure import Figure

    from sgdlab.viz import HtmlReport, convergence_axes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs = store.runs("WHERE phase = 'main' AND status != 'error'")
    if runs.empty:
        raise ValueError(f"{store.path} holds no finished runs to report")
    groups = ["sweep", "spec_hash", "problem"]  # curves are named within their figure
    runs = runs.assign(curve=pd.concat([_curve_names(part) for _, part in runs.groupby(groups, sort=False)]))
    traces = store.traces().merge(runs[["run_key", "curve", "sweep", "spec_hash"]], on="run_key")
    report = HtmlReport(
        f"sgdlab report: {Path(str(store.path)).name}",
        intro="Convergence of every experiment's main runs, one figure per experiment and problem: the median "
        "over seeds as a line and the inter-quartile range (IQR: the middle half of the seeds) as a band.",
    )
    images = []
    for (sweep, spec_hash, problem), part in traces.groupby(["sweep", "spec_hash", "problem"], sort=False):
        metrics = [m for m in ("subopt", "grad_norm2", "loss", "test_accuracy") if m in part and part[m].notna().any()]
        shown = metrics[:2]
        fig = Figure(figsize=(5.4 * len(shown), 4.2), layout="constrained")
        axes = fig.subplots(1, len(shown), squeeze=False)
        for ax, metric in zip(axes[0], shown, strict=True):
            convergence_axes(ax, part.dropna(subset=[metric]), metric, group="curve")
        fig.suptitle(f"{problem} — experiment {sweep}")
        path = folder / figure_name(sweep, spec_hash, problem)
        fig.savefig(path, dpi=150)
        images.append(path)
        chosen = runs[(runs["sweep"] == sweep) & (runs["spec_hash"] == spec_hash) & (runs["problem"] == problem)]
        table = chosen.groupby("curve", sort=False).agg(
            runs=("run_key", "count"), final_subopt=("final_subopt", "median"), final_loss=("final_loss", "median"),
            diverged=("status", lambda s: int((s == "diverged").sum())),
        ).reset_index()  # fmt: skip
        table.columns = ["method", "runs", "median final f − f*", "median final f(x)", "diverged runs"]
        caption = f"{problem} in experiment {sweep}: median and IQR over seeds."
        report.add_section(f"{problem} ({sweep})", table=table, key=f"experiment {sweep}, spec {spec_hash[:8]}",
                           figures=[(path, caption)])  # fmt: skip
    index = report.write(folder / "index.html")
    return [*images, index]
