"""What a worker process does before its first run.

Thread pools must be sized before the libraries that own them start: OpenMP (torch, numba's OpenMP layer) and
OpenBLAS read ``*_NUM_THREADS`` once, when they load, and a pool sized to every core in each of several
workers oversubscribes the machine — torch's first network run in a fresh worker took 25–50× longer than in
one that had pinned them. Every worker of a process pool runs :func:`init_worker` first (Dask's nanny sets
the same variables for the workers it spawns).

A worker also dies with its parent: a sweep that is SIGKILLed cannot shut its pool down, and its workers would
otherwise compute on, unseen, until their runs end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time

#: How often the fallback watch looks whether the parent process is still there.
PARENT_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1

#: Environment variables that fix the size of a library's thread pool when it loads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")  # fmt: skip


def pin_threads() -> None:
    """One thread per pool for every library not loaded yet (and, through threadpoolctl, for those loaded)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)  # orphaned: re-parented to init or a subreaper


def watch_parent(parent: int) -> None:
    """End this process when ``parent`` (the process that started it) dies.

    On Linux the kernel sends SIGKILL at once (``PR_SET_PDEATHSIG``), even while a run holds the GIL; everywhere,
    a daemon thread also polls the parent pid, which covers other systems and a parent that died before the
    signal was armed."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # 9: SIGKILL
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_exit_with, args=(parent,), name="sgdlab-parent-watch", daemon=True).start()


def init_worker(parent: int | None = None) -> None:
    """The initializer of every local worker process (``parent``: the pid of the process that started the pool;
    default: this process's parent now)."""
    pin_threads()
    watch_parent(os.getppid() if parent is None else parent)
