"""Deciding whether a file is an sgdlab results database before SQLite touches it, and opening one read-only.

A user's file is never modified to find out: its type and header are read first (a FIFO is never opened, so
it cannot hang the process), then its tables through a read-only connection. Only a file that passes, an
empty file or a missing one is ever opened for writing.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

_MAGIC = b"SQLite format 3\x00"
#: Tables an sgdlab store holds; a database with any other table belongs to someone else.
TABLES = frozenset({"runs", "traces", "claims"})
_RUN_COLUMNS = frozenset({"run_key", "status", "config"})


class StoreError(Exception):
    """A results database that cannot be used: missing, not an sgdlab store, unreadable or unwritable."""


class StoreFullError(StoreError):
    """A write failed because the disk (or the database's size limit) is full; earlier runs are stored."""


def not_a_store(path: Path, why: str) -> StoreError:
    return StoreError(f"{path} is not an sgdlab results database: {why}")


def check_file(path: Path, readonly: bool) -> bool:
    """Whether `path` holds an SQLite file to validate (False: missing or empty, so a new store may be
    created there). Raises `StoreError` for anything that is certainly not a store."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if readonly:
            raise StoreError(f"no results database at {path}") from None
        return False
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise not_a_store(path, "it is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise not_a_store(path, "it is not a regular file (a FIFO, socket or device)")
    if info.st_size == 0:
        if readonly:
            raise not_a_store(path, "the file is empty")
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise not_a_store(path, "it is not an SQLite file (its first bytes are not the SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages, valid_for, changes = (int.from_bytes(header[i : i + 4], "big") for i in (28, 92, 24))
    if page_size < 512 or page_size & (page_size - 1):
        raise not_a_store(path, "its SQLite header is corrupt")
    if _wal_bytes(path):
        # A checkpoint copies the WAL's pages into the file, the header (page 1) first: one cut short by a kill
        # leaves a file shorter than its header says, whose missing pages are still in the WAL. SQLite finishes
        # the checkpoint from the WAL when it next opens the file; only the tables are then left to check.
        return True
    expected = pages * page_size if pages and valid_for == changes else None
    if info.st_size % page_size or (expected is not None and info.st_size < expected):
        raise not_a_store(path, f"the file is truncated ({info.st_size} bytes of {expected or 'a whole page'})")
    return True


def _wal_bytes(path: Path) -> int:
    """The size of the `-wal` file beside `path` (0: none, or not a regular file)."""
    try:
        info = os.stat(f"{path}-wal")
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def connect_readonly(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that cannot write. With a `-wal` file present (a sweep is running, or one was killed) it
    reads through SQLite's locks to see the runs in it; without one, or where the directory is read-only and
    SQLite could not make its `-shm` index, it opens the file as immutable, which creates no file at all."""
    uri = f"file:{quote(str(path.absolute()))}"
    if Path(f"{path}-wal").exists():
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, isolation_level=None,
                             check_same_thread=False)  # fmt: skip
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.DatabaseError:  # no -shm possible, or a file its WAL cannot complete: the file alone
            db.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None, check_same_thread=False)


def check_tables(db: sqlite3.Connection, path: Path) -> None:
    """Raise `StoreError` unless `db`'s tables are those of an sgdlab store (or there are none)."""
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = {t for t in tables if not t.startswith("sqlite_")}
        columns = {r[1] for r in db.execute("PRAGMA table_info(runs)")} if "runs" in tables else _RUN_COLUMNS
    except sqlite3.DatabaseError as exc:
        raise not_a_store(path, str(exc)) from None
    if tables - TABLES:
        raise not_a_store(path, f"it holds other tables ({', '.join(sorted(tables - TABLES))})")
    if not _RUN_COLUMNS <= columns:
        raise not_a_store(path, f"its runs table lacks {', '.join(sorted(_RUN_COLUMNS - columns))}")
