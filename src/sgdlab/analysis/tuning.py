"""Hyperparameter sweeps summarised: the median score per value over seeds, divergences, the best value."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns that [`tuning_summary`][sgdlab.analysis.tuning.tuning_summary] needs in its input.
INPUT_COLUMNS = ("method", "param", "value", "seed", "score")


def tuning_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Summarise a sweep: one row per `(method, param, value)` over its seeds, the best value per method marked.

    A run counts as *diverged* when its score is NaN or infinite, or when an optional `status` column says
    `"diverged"`.

    Args:
        frame: One row per run with columns `method`, `param` (the tuned hyperparameter, e.g. `"lr"`),
            `value` (its value), `seed` and `score` (lower is better, e.g. the final suboptimality), and
            optionally `status`.

    Returns:
        A DataFrame sorted by `method`, `param`, `value`, with the columns `method`, `param`, `value` (the
        setting); `n_seeds` (how many runs it has); `n_diverged` (how many of them diverged);
        `median_score` (the median score over all its runs, a diverged run counting as `+inf`, so a value
        that diverges on half the seeds or more has `median_score = inf`); and `best` (`True` on the row
        with the lowest `median_score` of its method — ties: fewer divergences, then the first value in sort
        order; no row of a method is marked when every one of its values has `median_score = inf`).

    Raises:
        TypeError: `frame` is not a DataFrame.
        ValueError: A needed column is missing, the frame is empty, or `score` is not numeric.

    Examples:
        >>> import pandas as pd
        >>> from sgdlab.analysis import tuning_summary
        >>> runs = pd.DataFrame({"method": "SGD", "param": "lr", "value": [0.1, 0.1, 1.0, 1.0], "seed": [0, 1, 0, 1],
        ...                      "score": [1e-3, 2e-3, 1e-5, float("inf")]})
        >>> tuning_summary(runs)[["value", "n_diverged", "median_score", "best"]].to_dict("records")
        [{'value': 0.1, 'n_diverged': 0, 'median_score': 0.0015, 'best': True},
         {'value': 1.0, 'n_diverged': 1, 'median_score': inf, 'best': False}]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"tuning_summary needs a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"tuning_summary: the frame lacks column(s) {', '.join(missing)}; needs {', '.join(INPUT_COLUMNS)}"
        )
    if frame.empty:
        raise ValueError("tuning_summary: the frame has no runs")
    try:
        score = pd.to_numeric(frame["score"], errors="raise").astype(float)
    except (TypeError, ValueError):
        raise ValueError("tuning_summary: the score column must be numeric") from None
    diverged = ~np.isfinite(score.to_numpy())
    if "status" in frame.columns:
        diverged |= (frame["status"] == "diverged").to_numpy()
    runs = pd.DataFrame(
        {
            "method": frame["method"].to_numpy(),
            "param": frame["param"].to_numpy(),
            "value": frame["value"].to_numpy(),
            "score": np.where(diverged, np.inf, score.to_numpy()),
            "diverged": diverged,
        }
    )
    summary = (
        runs.groupby(["method", "param", "value"], sort=True, dropna=False)
        .agg(n_seeds=("score", "size"), n_diverged=("diverged", "sum"), median_score=("score", "median"))
        .reset_index()
    )
    summary["n_seeds"] = summary["n_seeds"].astype(int)
    summary["n_diverged"] = summary["n_diverged"].astype(int)
    summary["best"] = False
    for _, group in summary.groupby("method", sort=False):
        finite = group[np.isfinite(group["median_score"])]
        if finite.empty:
            continue
        order = finite.sort_values(["median_score", "n_diverged"], kind="stable")
        summary.loc[order.index[0], "best"] = True
    return summary
