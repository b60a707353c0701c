"""`sgdlab report`: one convergence figure per problem in a store, plus an index page."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from sgdlab.experiments.store import Store


def _curve_names(runs: pd.DataFrame) -> pd.Series:
    """A run's curve: its method label, plus its hyperparameters where one label has several settings."""
    settings = runs["hyperparameters"].map(lambda h: json.dumps(h, sort_keys=True))
    names = runs["label"].copy()
    for label, part in runs.groupby("label"):
        if settings[part.index].nunique() > 1:
            names[part.index] = [
                f"{label} " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in h.items())
                for h in part["hyperparameters"]
            ]
    return names + runs["batch_size"].map(lambda b: "" if runs["batch_size"].nunique() == 1 else f" (b={b})")


def write_report(store: Store, folder: str | Path) -> list[Path]:
    """Write ``<problem>.png`` for every problem of the store's main-phase runs, and ``index.html``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sgdlab.viz import convergence_axes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs = store.runs("WHERE phase = 'main' AND status != 'error'")
    if runs.empty:
        raise ValueError(f"{store.path} holds no finished runs to report")
    runs = runs.assign(curve=_curve_names(runs))
    traces = store.traces().merge(runs[["run_key", "curve"]], on="run_key")
    images = []
    for problem, part in traces.groupby("problem", sort=False):
        metrics = [m for m in ("subopt", "grad_norm2", "loss", "test_accuracy") if m in part and part[m].notna().any()]
        shown = metrics[:2]
        fig, axes = plt.subplots(1, len(shown), figsize=(6.4 * len(shown), 4.6), squeeze=False)
        for ax, metric in zip(axes[0], shown, strict=True):
            convergence_axes(ax, part.dropna(subset=[metric]), metric, group="curve")
        fig.suptitle(str(problem))
        fig.tight_layout()
        path = folder / f"{''.join(c if c.isalnum() or c in '-_' else '_' for c in str(problem))}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        images.append(path)
    table = runs.groupby(["problem", "curve"], sort=False).agg(
        runs=("run_key", "count"), median_final_subopt=("final_subopt", "median"),
        median_final_loss=("final_loss", "median"), diverged=("status", lambda s: int((s == "diverged").sum())),
    )  # fmt: skip
    body = "".join(
        f'<h2>{html.escape(p.stem)}</h2><img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}">' for p in images
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>sgdlab report</title><h1>{html.escape(str(store.path))}</h1>"
        f"{table.to_html(float_format=lambda v: f'{v:.3e}')}{body}"
    )
    (folder / "index.html").write_text(page, encoding="utf-8")
    return [*images, folder / "index.html"]
