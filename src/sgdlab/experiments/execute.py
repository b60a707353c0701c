"""Running one configured run, in whatever process the executor chose.

A run never raises: failures come back as `status="error"` with the message, so a sweep goes on.
BLAS, torch and numba run single-threaded inside a run, which makes results bit-identical whatever the executor and
whatever ran before in the process (summation order in a multi-threaded BLAS, and in torch's convolutions and
matrix products, depends on the thread count) and keeps parallel workers from fighting over cores.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib
import json
import os
import platform
import socket
import sys
import time
from dataclasses import asdict
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from sgdlab import problems
from sgdlab._version import __version__
from sgdlab.data import sources
from sgdlab.engine import run
from sgdlab.experiments.grid import RunConfig
from sgdlab.experiments.spec import DATA_PROBLEMS, NETWORK_PROBLEMS
from sgdlab.methods import METHODS

#: Final iterates up to this many parameters are kept with a run's result (larger ones, e.g. networks, are not).
MAX_KEPT_X = 10_000


@functools.lru_cache(maxsize=16)
def _problem_from_json(problem_json: str):
    spec = json.loads(problem_json)
    kind, params = spec["type"], spec.get("params") or {}
    if kind in DATA_PROBLEMS:
        data, test = sources.build(spec["data"]), None
        if spec["data"].get("test_size"):
            data, test = data.split(spec["data"]["test_size"], seed=spec["data"].get("seed", 0))
        return getattr(problems, kind)(data, **params), test
    if kind in NETWORK_PROBLEMS:
        from sgdlab.torch import problems as networks

        network = getattr(networks, kind)(**params)
        return network, network.test
    return getattr(problems, kind)(**params), None


def build_problem(problem: dict[str, Any]):
    """`(problem, test data or None)` from a problem table; built once per process and reused."""
    return _problem_from_json(json.dumps(problem, sort_keys=True))


@contextlib.contextmanager
def _single_threaded(needs_torch: bool = False):
    """One BLAS thread, one torch thread, one numba thread. A run that needs torch imports it here, first, so that
    its thread count is set before the run's first operation even in a process where torch was not loaded yet."""
    torch = importlib.import_module("torch") if needs_torch else sys.modules.get("torch")
    previous = torch.get_num_threads() if torch else None
    # numba's parallel kernels (the checkpoint pass, large fused steps) too; NUMBA_NUM_THREADS is no way to pin
    # them: numba refuses to raise the count again above the pool it launched with
    numba = sys.modules.get("numba")
    numba_previous = numba.get_num_threads() if numba else None
    with threadpool_limits(limits=1):
        if torch:
            torch.set_num_threads(1)
        if numba:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(previous)
            if numba:
                numba.set_num_threads(numba_previous)


def versions() -> dict[str, str]:
    import scipy

    out = {
        "sgdlab": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
    }
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].__version__
    return out


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def execute_run(config: RunConfig) -> dict[str, Any]:
    """Run `config` and return its result record (never raises)."""
    started_at, started = _now(), time.perf_counter()
    result: dict[str, Any] = {
        "key": config.key,
        "config": asdict(config),
        "columns": {},
        "diverged_at": None,
        "error": None,
    }
    try:
        with _single_threaded(needs_torch=config.problem["type"] in NETWORK_PROBLEMS):
            problem, test = build_problem(config.problem)
            method = METHODS[config.method](**config.hyperparameters)
            record = config.record
            trace = run(
                problem, method, batch_size=config.batch_size, sampler=config.sampler, seed=config.seed, test=test,
                record=tuple(record["metrics"]) if record.get("metrics") else None,
                points_per_decade=record.get("points_per_decade"), record_every=record.get("every"),
                target_subopt=record.get("target_subopt"), **config.budget,
            )  # fmt: skip
        result.update(
            status=trace.status,
            diverged_at=trace.diverged_at,
            message=trace.message,
            columns={k: v.tolist() for k, v in trace.columns.items()},
            x=np.asarray(trace.x, dtype=np.float64).tolist() if np.size(trace.x) <= MAX_KEPT_X else None,
        )
    except Exception as exc:  # a failed run is a result too
        result.update(status="error", error=f"{type(exc).__name__}: {exc}")
    result.update(
        started_at=started_at,
        finished_at=_now(),
        wall_s=time.perf_counter() - started,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        versions=versions(),
    )
    return result
