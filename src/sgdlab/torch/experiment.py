"""The neural-network experiment: optimizers on vision (digits MLP, CNN) and language (character LSTM).

For every network and optimizer: tune the learning rate on a grid (seed 0, a short run, lowest final
training loss wins; a diverged run never wins), then train ``seeds`` networks from different initial
weights at the chosen rate, recording training loss and held-out loss/accuracy once per epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from sgdlab.engine import run
from sgdlab.methods import METHODS
from sgdlab.torch.problems import char_lm, digits_cnn, digits_mlp

NETWORKS: dict[str, Callable] = {"mlp": digits_mlp, "cnn": digits_cnn, "charlm": char_lm}
OPTIMIZERS: tuple[str, ...] = ("SGD", "Momentum", "Adam", "AdamW", "Adagrad")
LR_GRIDS: dict[str, tuple[float, ...]] = {
    "SGD": (0.3, 0.1, 0.03),
    "Momentum": (0.1, 0.03, 0.01),
    "Adam": (1e-2, 3e-3, 1e-3),
    "AdamW": (1e-2, 3e-3, 1e-3),
    "Adagrad": (0.3, 0.1, 0.03),
}


@dataclass(frozen=True)
class Settings:
    """Budget of the experiment. ``quick()`` is a smoke-sized version for tests and previews."""

    epochs: dict[str, float] = field(default_factory=lambda: {"mlp": 20, "cnn": 20, "charlm": 8})
    tune_epochs: dict[str, float] = field(default_factory=lambda: {"mlp": 5, "cnn": 5, "charlm": 2})
    seeds: tuple[int, ...] = (0, 1, 2)
    batch_size: int = 32

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            epochs={"mlp": 3, "cnn": 3, "charlm": 1}, tune_epochs={"mlp": 1, "cnn": 1, "charlm": 0.5}, seeds=(0,)
        )


def _train(network: str, optimizer: str, lr: float, seed: int, epochs: float, batch_size: int) -> pd.DataFrame:
    problem = NETWORKS[network](seed=seed)
    test = problem.test
    trace = run(
        problem,
        METHODS[optimizer](lr=lr),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        test=test,
        points_per_decade=None,
        record_every=min(1.0, epochs),
        record=("loss",),
    )
    frame = trace.to_frame()[["epochs", "time_s", "loss", "test_loss", "test_accuracy"]]
    return frame.assign(network=network, optimizer=optimizer, lr=lr, seed=seed, status=trace.status)


def tune_lr(
    network: str, optimizer: str, settings: Settings, grid: Iterable[float] | None = None, extend: int = 2
) -> float:
    """The learning rate with the lowest final training loss after a short run (seed 0).

    Starts from ``grid``; while the best rate lies on the grid's edge, tries the next rate beyond it
    (×3 or ÷3), at most ``extend`` times, so that the chosen rate is an interior minimum when possible.
    """
    scores: dict[float, float] = {}

    def score(lr: float) -> None:
        frame = _train(network, optimizer, lr, 0, settings.tune_epochs[network], settings.batch_size)
        final = float(frame["loss"].iloc[-1])
        scores[lr] = final if frame["status"].iloc[-1] != "diverged" and math.isfinite(final) else math.inf

    for lr in grid or LR_GRIDS[optimizer]:
        score(lr)
    for _ in range(extend):
        best = min(scores, key=scores.get)
        if best == max(scores):
            score(best * 3.0)
        elif best == min(scores):
            score(best / 3.0)
        else:
            break
    return min(scores, key=scores.get)


def run_experiment(
    networks: Iterable[str] = tuple(NETWORKS),
    optimizers: Iterable[str] = OPTIMIZERS,
    settings: Settings | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Curves of every (network, optimizer, seed) at the tuned learning rate, one row per epoch."""
    settings = settings or Settings()
    networks, optimizers = tuple(networks), tuple(optimizers)
    for name in networks:
        if name not in NETWORKS:
            raise ValueError(f"unknown network {name!r}; choose from {', '.join(NETWORKS)}")
    for name in optimizers:
        if name not in LR_GRIDS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(LR_GRIDS)}")
    frames = []
    for network in networks:
        for optimizer in optimizers:
            started = time.perf_counter()
            lr = tune_lr(network, optimizer, settings)
            for seed in settings.seeds:
                frames.append(_train(network, optimizer, lr, seed, settings.epochs[network], settings.batch_size))
            if on_progress:
                on_progress(f"{network}/{optimizer}: lr={lr:g} ({time.perf_counter() - started:.1f} s)")
    return pd.concat(frames, ignore_index=True)


def summarize(curves: pd.DataFrame) -> pd.DataFrame:
    """Final training loss and test metrics per (network, optimizer): mean and std over seeds."""
    final = curves.groupby(["network", "optimizer", "seed"], sort=False).tail(1)  # rows come in epoch order
    table = final.groupby(["network", "optimizer"], sort=False).agg(
        lr=("lr", "first"),
        train_loss=("loss", "mean"),
        train_loss_std=("loss", "std"),
        test_loss=("test_loss", "mean"),
        test_accuracy=("test_accuracy", "mean"),
        test_accuracy_std=("test_accuracy", "std"),
        seeds=("seed", "nunique"),
    )
    return table.reset_index()
