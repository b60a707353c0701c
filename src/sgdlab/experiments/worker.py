"""What a worker process does before its first run.

Thread pools must be sized before the libraries that own them start: OpenMP (torch, numba's OpenMP layer) and
OpenBLAS read ``*_NUM_THREADS`` once, when they load, and a pool sized to every core in each of several
workers oversubscribes the machine — torch's first network run in a fresh worker took 25–50× longer than in
one that had pinned them. Every worker of a process pool runs :func:`init_worker` first (Dask's nanny sets
the same variables for the workers it spawns).
"""

from __future__ import annotations

import os

#: Environment variables that fix the size of a library's thread pool when it loads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")  # fmt: skip


def pin_threads() -> None:
    """One thread per pool for every library not loaded yet (and, through threadpoolctl, for those loaded)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def init_worker() -> None:
    """The initializer of every local worker process."""
    pin_threads()
