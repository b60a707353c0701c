"""Where runs execute: in this process, in a local process pool, or on a Dask cluster — one interface.

`executor.map_unordered(configs)` yields each run's result record as soon as it is finished. All three
give bit-identical results for the same configurations (see `sgdlab.experiments.execute`).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from sgdlab.experiments.execute import execute_run
from sgdlab.experiments.grid import RunConfig
from sgdlab.experiments.worker import init_worker

#: How many pool breakages a run may be caught in before it is run alone to find out whether it is the culprit.
WORKER_DEATH_RETRIES = 2
#: Seconds to wait for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 10.0
#: The longest wait for a scheduler that `DaskExecutor` accepts (a day).
MAX_CONNECT_TIMEOUT_S = 86_400.0
#: A Dask scheduler address: an optional tcp:// or tls:// scheme, a host (or [IPv6]) and a port.
_ADDRESS = re.compile(r"^(?:(?:tcp|tls)://)?(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$")


def max_jobs() -> int:
    """The most worker processes a pool may have: 4 per core. More only add memory and start-up time, since every
    run is single-threaded."""
    return 4 * (os.cpu_count() or 1)


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the address within the connection timeout."""


class Executor:
    """Base class: run configurations and yield result records as they finish.

    Subclasses implement `map_unordered(configs)`, which yields each configuration's result record (a dict
    with its `key`, `status`, `columns`, …) as soon as it is finished; an executor is a context manager that
    `close`s itself.

    Examples:
        >>> from sgdlab.experiments import Executor, SerialExecutor
        >>> with SerialExecutor() as executor:
        ...     isinstance(executor, Executor), executor.name, executor.workers
        (True, 'serial', 1)
    """

    name = "executor"

    @property
    def workers(self) -> int:
        """How many runs it computes at once (what a sweep's time left divides the work by)."""
        return 1

    def map_unordered(self, configs: Sequence[RunConfig]) -> Iterator[dict[str, Any]]:
        raise TypeError(f"{type(self).__name__} must implement map_unordered")

    def close(self) -> None:
        """Stop workers and drop pending runs (finished ones were already yielded)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialExecutor(Executor):
    """One run after another in this process.

    Examples:
        >>> from sgdlab.experiments import Plan, SerialExecutor
        >>> from sgdlab.experiments import parse_spec
        >>> spec = parse_spec({"name": "demo", "seeds": 2, "budget": {"epochs": 3},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": 0.05}}, {"type": "GD"}]})
        >>> configs = Plan(spec).main_runs({})
        >>> results = list(SerialExecutor().map_unordered(configs))
        >>> [(r["config"]["label"], r["status"]) for r in results]
        [('SGD', 'budget'), ('SGD', 'budget'), ('GD', 'budget'), ('GD', 'budget')]
    """

    name = "serial"

    def map_unordered(self, configs):
        for config in configs:
            yield execute_run(config)


def _failed(config: RunConfig, error: str) -> dict[str, Any]:
    return {
        "key": config.key,
        "config": asdict(config),
        "columns": {},
        "status": "error",
        "error": error,
        "diverged_at": None,
    }


def _died(config: RunConfig, error: BaseException) -> dict[str, Any]:
    return _failed(config, f"worker process died: {type(error).__name__}: {error}")


class ProcessExecutor(Executor):
    """A pool of `jobs` worker processes on this machine (default: one per core), started with `spawn`; never
    more than there are runs, nor than `max_jobs`. Workers exit when this process dies; between calls they
    wait for the next (`close` ends them).

    A worker that dies (killed, or crashing the interpreter) breaks the whole pool, and every unfinished run
    is resubmitted to a new pool. A run caught in `WORKER_DEATH_RETRIES` breakages becomes a suspect
    and runs alone in a one-worker pool: if that pool breaks too, the run is the culprit and is failed with
    `status="error"`; the runs that were merely in flight beside it are not. `fn` replaces the function
    applied to each configuration (for tests and custom workloads; it must be importable by the workers).

    Args:
        jobs: Worker processes (default: one per core; at most `max_jobs()`, and never more than there are runs).
        fn: The function applied to each configuration (default: `execute_run`).

    Examples:
        Starting worker processes takes a few seconds, so this example only builds one (`run_sweep` uses it):

        >>> from sgdlab.experiments import ProcessExecutor
        >>> with ProcessExecutor(jobs=2) as executor:
        ...     executor.name, executor.workers
        ('processes', 2)
    """

    name = "processes"

    def __init__(self, jobs: int | None = None, fn: Callable[[RunConfig], dict[str, Any]] = execute_run) -> None:
        self.jobs = jobs or os.cpu_count() or 1
        self.fn = fn
        self._pool: cf.ProcessPoolExecutor | None = None  # kept between calls while sound
        self._size = 0
        self._solo: cf.ProcessPoolExecutor | None = None  # a suspect's own pool

    @property
    def workers(self) -> int:
        return min(self.jobs, max_jobs())

    def _new_pool(self, workers: int) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=min(workers, max_jobs()), mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker, initargs=(os.getpid(),),
        )  # fmt: skip

    def _shared_pool(self, workers: int) -> cf.ProcessPoolExecutor:
        """The pool an earlier call left, if it has enough workers — they keep their imports, compiled kernels
        and built problems, so a sweep's second phase does not start them again —, else a new one."""
        workers = min(workers, max_jobs())
        if self._pool is None or self._size < workers:
            self._drop(self._pool)
            self._pool, self._size = self._new_pool(workers), workers
        return self._pool

    def _alone(self, config: RunConfig) -> dict[str, Any]:
        self._solo = self._new_pool(1)
        try:
            return self._solo.submit(self.fn, config).result()
        except cf.process.BrokenProcessPool as exc:
            return _died(config, exc)
        finally:
            self._solo.shutdown(wait=True, cancel_futures=True)
            self._solo = None

    def map_unordered(self, configs):
        pending = {config.key: config for config in configs}
        breakages = dict.fromkeys(pending, 0)
        while pending:
            for key in [k for k in pending if breakages[k] >= WORKER_DEATH_RETRIES]:
                yield self._alone(pending.pop(key))
            if not pending:
                break
            pool = self._shared_pool(min(self.jobs, len(pending)))
            futures = {pool.submit(self.fn, config): key for key, config in pending.items()}
            sound = False  # every future answered and none broke: the pool serves the next call
            try:
                broke = False
                for future in cf.as_completed(futures):
                    key = futures[future]
                    try:
                        result = future.result()
                    except cf.process.BrokenProcessPool:
                        breakages[key] += 1
                        broke = True
                        continue
                    except Exception as exc:  # the function itself raised: that run failed, the rest go on
                        result = _failed(pending[key], f"{type(exc).__name__}: {exc}")
                    pending.pop(key)
                    yield result
                sound = not broke
            finally:
                if not sound:  # broken, or the caller stopped early: a new pool for what is left
                    pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = None

    @staticmethod
    def _drop(pool: cf.ProcessPoolExecutor | None) -> None:
        if pool is not None:
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()

    def close(self) -> None:
        """Stop at once: drop pending runs and end the workers (their runs in flight are lost, as on Ctrl-C)."""
        for pool in (self._pool, self._solo):
            self._drop(pool)
        self._pool = self._solo = None


class DaskExecutor(Executor):
    """Runs on a Dask distributed cluster: an existing scheduler (`address="tcp://host:port"`) or a
    `LocalCluster` of `local_workers` single-threaded worker processes on loopback. Dask retries a run
    whose worker died (up to `retries` times). A scheduler that does not answer within `connect_timeout`
    seconds raises `SchedulerUnreachable`.

    Args:
        address: A scheduler's address, `tcp://HOST:PORT` (or `tls://`); give this or `local_workers`.
        local_workers: Start a `LocalCluster` of this many single-threaded workers (1 to `max_jobs()`).
        retries: How many times Dask reruns a run whose worker died.
        fn: The function applied to each configuration (default: `execute_run`).
        connect_timeout: Seconds to wait for the scheduler (positive).

    Raises:
        ValueError: Both or neither of `address` and `local_workers`, an address that is not one, a number of
            workers out of range, or a timeout that is not positive.
        ImportError: dask.distributed is not installed.
        SchedulerUnreachable: No scheduler answered within `connect_timeout`.

    Examples:
        Starting a cluster takes seconds; the arguments are checked first:

        >>> from sgdlab.experiments import DaskExecutor
        >>> DaskExecutor(address="localhost")
        Traceback (most recent call last):
        ...
        ValueError: 'localhost' is not a Dask scheduler address: expected tcp://HOST:PORT (or tls://)
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        local_workers: int | None = None,
        retries: int = 2,
        fn: Callable[[RunConfig], dict[str, Any]] = execute_run,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if (address is None) == (local_workers is None):
            raise ValueError("give exactly one of a scheduler address or a number of local workers")
        if address is not None and not (_ADDRESS.match(address) and 0 < int(_ADDRESS.match(address)[1]) < 65536):
            raise ValueError(f"{address!r} is not a Dask scheduler address: expected tcp://HOST:PORT (or tls://)")
        if local_workers is not None and not 1 <= local_workers <= max_jobs():
            raise ValueError(f"local_workers must be between 1 and {max_jobs()} (4 per core), got {local_workers}")
        if not 0 < connect_timeout <= MAX_CONNECT_TIMEOUT_S:  # (Dask cannot parse an infinite timeout)
            raise ValueError(
                f"connect_timeout must be a positive number of seconds, at most {MAX_CONNECT_TIMEOUT_S:.0f}, "
                f"got {connect_timeout}"
            )
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ImportError("the Dask executor needs dask.distributed: pip install 'dask[distributed]'") from None
        self._cluster = None
        if local_workers is not None:
            self._cluster = LocalCluster(
                n_workers=local_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            address = self._cluster.scheduler_address
        try:
            self.client = Client(address, set_as_default=False, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise SchedulerUnreachable(
                f"could not reach the Dask scheduler at {address} within {connect_timeout:g} s ({exc})"
            ) from None
        self.retries = retries
        self.fn = fn

    @property
    def workers(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:  # a scheduler that does not answer: the estimate only
            return 1

    def map_unordered(self, configs):
        from distributed import as_completed

        futures = [
            self.client.submit(self.fn, config, key=f"run-{config.key}", pure=False, retries=self.retries)
            for config in configs
        ]
        for future in as_completed(futures, loop=self.client.loop):  # our client is not the process default
            yield future.result()
            future.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
