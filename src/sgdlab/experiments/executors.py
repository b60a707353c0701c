"""Where runs execute: in this process, in a local process pool, or on a Dask cluster — one interface.

``executor.map_unordered(configs)`` yields each run's result record as soon as it is finished. All three
give bit-identical results for the same configurations (see `sgdlab.experiments.execute`).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any

from sgdlab.experiments.execute import execute_run
from sgdlab.experiments.grid import RunConfig

#: How many times a run is resubmitted after its worker process died (e.g. killed) before it is failed.
WORKER_DEATH_RETRIES = 2


class Executor:
    """Base class: run configurations and yield result records as they finish."""

    name = "executor"

    def map_unordered(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        raise TypeError(f"{type(self).__name__} must implement map_unordered")

    def close(self) -> None:
        """Stop workers and drop pending runs (finished ones were already yielded)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(Executor):
    """One run after another in this process."""

    name = "serial"

    def map_unordered(self, configs):
        for config in configs:
            yield execute_run(config)


def _died(config: RunConfig, error: BaseException) -> dict[str, Any]:
    return {
        "key": config.key,
        "config": config.__dict__ | {},
        "columns": {},
        "status": "error",
        "error": f"worker process died: {type(error).__name__}: {error}",
        "diverged_at": None,
    }


class ProcessExecutor(Executor):
    """A pool of ``jobs`` worker processes on this machine (default: one per core).

    Workers are started with ``spawn`` (no state inherited from the parent). If a worker dies, the pool is
    rebuilt and the runs it had not finished are resubmitted, up to :data:`WORKER_DEATH_RETRIES` times.
    """

    name = "processes"

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"))

    def map_unordered(self, configs):
        pending = {config.key: config for config in configs}
        attempts = dict.fromkeys(pending, 0)
        while pending:
            self._pool = self._new_pool()
            futures = {self._pool.submit(execute_run, config): key for key, config in pending.items()}
            try:
                for future in cf.as_completed(futures):
                    key = futures[future]
                    try:
                        result = future.result()
                    except cf.process.BrokenProcessPool as exc:
                        attempts[key] += 1
                        if attempts[key] > WORKER_DEATH_RETRIES:
                            yield _died(pending.pop(key), exc)
                        continue
                    pending.pop(key, None)
                    yield result
            finally:
                self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor(Executor):
    """Runs on a Dask distributed cluster: an existing scheduler (``address="tcp://host:port"``) or a
    ``LocalCluster`` of ``local_workers`` single-threaded worker processes on loopback. Dask retries a run
    whose worker died (up to ``retries`` times)."""

    name = "dask"

    def __init__(self, address: str | None = None, local_workers: int | None = None, retries: int = 2) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("the Dask executor needs dask.distributed: pip install 'dask[distributed]'") from None
        if (address is None) == (local_workers is None):
            raise ValueError("give exactly one of a scheduler address or a number of local workers")
        self._cluster = None
        if local_workers is not None:
            self._cluster = LocalCluster(
                n_workers=local_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            address = self._cluster.scheduler_address
        self.client = Client(address, set_as_default=False)
        self.retries = retries

    def map_unordered(self, configs):
        from distributed import as_completed

        futures = [
            self.client.submit(execute_run, config, key=f"run-{config.key}", pure=False, retries=self.retries)
            for config in configs
        ]
        for future in as_completed(futures, loop=self.client.loop):  # our client is not the process default
            yield future.result()
            future.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
