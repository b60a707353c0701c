"""Who is computing which run: claims that keep concurrent sweeps on one store from computing a run twice.

A sweep claims the runs it is about to compute (a row per run in the store's `claims` table, written in one
transaction) and keeps its claims alive with a heartbeat. Another sweep skips runs claimed by a live owner and
collects them when they are stored. An owner is dead when its heartbeat is older than `STALE_S`, or, on
the same host, at once when its process no longer exists — so a killed sweep never blocks a later one for long.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field

#: Seconds between heartbeats of a sweep's claims.
HEARTBEAT_S = 5.0
#: A claim whose heartbeat is older than this is abandoned (its owner is on another host and stopped beating).
STALE_S = 60.0


@dataclass(frozen=True)
class Owner:
    """A sweep: its host, its process and a random token (two sweeps in one process are two owners)."""

    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: secrets.token_hex(4))

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def owner_alive(host: str, pid: int, heartbeat: float, now: float | None = None, stale_s: float = STALE_S) -> bool:
    """Whether a claim's owner may still be computing: a fresh heartbeat and, on this host, a live process."""
    if (time.time() if now is None else now) - heartbeat > stale_s:
        return False
    return host != socket.gethostname() or _process_exists(pid)


class Heartbeat:
    """Refreshes an owner's claims every `HEARTBEAT_S` from a thread with its own connection, so a long
    run does not let its claim go stale."""

    def __init__(self, path: str | os.PathLike, owner: Owner, every: float = HEARTBEAT_S) -> None:
        self.path, self.owner, self.every = path, owner, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sgdlab-claims-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with contextlib.closing(sqlite3.connect(self.path, timeout=self.every)) as db, db:
                    db.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (time.time(), self.owner.id))
            except sqlite3.Error:  # a busy or full store: the next beat tries again, staleness is generous
                pass

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 1)
