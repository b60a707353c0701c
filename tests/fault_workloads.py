"""Run functions that misbehave on purpose, importable by spawned worker processes."""

from __future__ import annotations

import os
import time

from sgdlab.experiments.execute import execute_run


def die_on_seed_3(config):
    if config.seed == 3:
        os._exit(3)  # the worker process vanishes, as if killed
    return execute_run(config)


def raise_on_seed_2(config):
    if config.seed == 2:
        raise RuntimeError("injected failure")
    return execute_run(config)


def slow(config):
    time.sleep(1.0)
    return execute_run(config)


def open_fresh_stores(folder, rounds, barrier):
    """Open a brand-new store in ``folder`` each round, all processes at the same moment."""
    from sgdlab.experiments import Store

    for r in range(rounds):
        barrier.wait()
        Store(f"{folder}/round{r}.db").close()
