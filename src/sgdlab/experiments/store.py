"""The results store: one SQLite file (WAL mode), one row per run, each finished run in its own transaction.

Tables: `runs` (identity, configuration, status, timings, versions, final metrics) and `traces`
(the recorded columns of each run as JSON, and its final iterate where it was kept). A run is keyed by
[`RunConfig.key`][sgdlab.experiments.RunConfig.key]; a run whose status is `ok`, `budget` or `diverged` is
finished and never recomputed, one with `error` is retried by the next sweep. Several processes may write to one file at
once (SQLite serialises the transactions); a `claims` table records which sweep is computing which run, so
concurrent sweeps compute each run once. A sweep checkpoints the WAL when it ends, so that the finished runs
live in the database file itself rather than in its `-wal` companion.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sgdlab.engine.trace import STATUSES as FINISHED  # every way a run can end except an error
from sgdlab.experiments.claims import STALE_S, Owner, owner_alive
from sgdlab.experiments.dbfile import StoreError, StoreFullError, check_file, check_tables, connect_readonly

__all__ = ["FINISHED", "Store", "StoreError", "StoreFullError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY,
    spec_hash TEXT, sweep TEXT, phase TEXT,
    problem TEXT, method TEXT, label TEXT, hyperparameters TEXT,
    batch_size INTEGER, sampler TEXT, seed INTEGER, budget TEXT, config TEXT,
    status TEXT NOT NULL, error TEXT, message TEXT, diverged_at INTEGER,
    final_loss REAL, final_subopt REAL, final_grad_norm2 REAL, final_test_loss REAL, final_test_accuracy REAL,
    epochs REAL, time_s REAL, wall_s REAL,
    started_at TEXT, finished_at TEXT, worker TEXT, versions TEXT
);
CREATE TABLE IF NOT EXISTS traces (
    run_key TEXT PRIMARY KEY REFERENCES runs(run_key) ON DELETE CASCADE,
    columns TEXT NOT NULL,
    x TEXT
);
CREATE TABLE IF NOT EXISTS claims (
    run_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    claimed_at REAL NOT NULL, heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep, problem, label);
"""

_FINAL = ("loss", "subopt", "grad_norm2", "test_loss", "test_accuracy")


def _store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """Our error for an SQLite failure on `path`: a full disk, a read-only file, or a damaged database."""
    text = str(exc)
    if "full" in text:
        return StoreFullError(f"the disk holding {path} is full ({text})")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path} is read-only ({text})")
    if isinstance(exc, sqlite3.OperationalError) and "malformed" not in text:
        return StoreError(f"cannot use {path}: {text}")
    return StoreError(f"{path} is not an sgdlab results database: {text}")


def _sqlite_errors(method):
    """Report SQLite (and pandas-wrapped SQLite) failures of `method` as `StoreError`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
        except pd.errors.DatabaseError as exc:
            cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else sqlite3.DatabaseError(str(exc))
            raise _store_error(self.path, cause) from None

    return wrapper


def _last(columns: dict[str, list[float]], name: str) -> float | None:
    values = columns.get(name)
    return float(values[-1]) if values else None


class Store:
    """A results database: one SQLite file, one row per run (see the module's description above).

    A file that is not an sgdlab store — another program's SQLite database, random bytes, a directory, a
    FIFO — is refused and left untouched. Use it as a context manager (or call `close()`).

    Args:
        path: The database file (created on first use, with its folder).
        timeout: Seconds to wait for another process's write lock.
        readonly: Only read an existing store (writing then raises `StoreError`).

    Raises:
        StoreError: The file is not an sgdlab store, cannot be opened, or (read-only) does not exist.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sgdlab.experiments import SerialExecutor, Store, parse_spec, run_sweep
        >>> spec = parse_spec({"name": "demo", "seeds": 2, "budget": {"epochs": 3},
        ...                    "problems": [{"name": "q", "type": "Quadratic2D"}],
        ...                    "methods": [{"type": "SGD", "params": {"lr": 0.05}}, {"type": "GD"}]})
        >>> with Store(Path(tempfile.mkdtemp()) / "results.db") as store:
        ...     report = run_sweep(spec, store, SerialExecutor(), progress=False)
        ...     again = run_sweep(spec, store, SerialExecutor(), progress=False)  # nothing is recomputed
        ...     runs = store.runs()
        ...     curve = store.trace(runs.run_key[0])
        >>> report.executed, again.executed, again.skipped, len(runs)
        (4, 0, 4, 4)
        >>> sorted(runs.label.unique()), list(curve.columns[:3])
        (['GD', 'SGD'], ['iters', 'grad_evals', 'epochs'])
    """

    def __init__(self, path: str | Path, timeout: float = 60.0, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        existing = check_file(self.path, readonly)
        if existing:  # look before writing: a foreign database is refused, not given our tables
            db = connect_readonly(self.path, timeout)
            try:
                check_tables(db, self.path)
            finally:
                if not readonly:
                    db.close()
            if readonly:
                self._db = db
                return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one thread at a time, but not necessarily the one that opened it (e.g. a sweep in a background thread)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path} for writing: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            self._enable_wal(timeout)
            self._db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction():  # BEGIN IMMEDIATE waits for a concurrent creator instead of failing
                check_tables(self._db, self.path)  # again, inside the lock: another process may have made it
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if "x" not in {row[1] for row in self._db.execute("PRAGMA table_info(traces)")}:
                    self._db.execute("ALTER TABLE traces ADD COLUMN x TEXT")  # a store written before final iterates
        except sqlite3.Error as exc:
            self._db.close()
            raise _store_error(self.path, exc) from None
        except StoreError:
            self._db.close()
            raise

    def _enable_wal(self, timeout: float) -> None:
        """Switch to WAL mode. SQLite answers "locked" at once, without its busy timeout, when another
        process is switching a new file at the same moment, so retry with jittered back-off."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.05))

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    @_sqlite_errors
    def record(self, result: dict[str, Any], spec_hash: str = "", sweep: str = "") -> None:
        """Store one run and its trace atomically (replacing an earlier failed attempt); a sweep's workers call it
        with what `sgdlab.experiments.execute` returns."""
        config, columns = result["config"], result["columns"]
        row = {
            "run_key": result["key"], "spec_hash": spec_hash, "sweep": sweep, "phase": config["phase"],
            "problem": config["problem"]["name"], "method": config["method"], "label": config["label"],
            "hyperparameters": json.dumps(config["hyperparameters"], sort_keys=True),
            "batch_size": config["batch_size"], "sampler": config["sampler"], "seed": config["seed"],
            "budget": json.dumps(config["budget"], sort_keys=True), "config": json.dumps(config, sort_keys=True),
            "status": result["status"], "error": result.get("error"), "message": result.get("message"),
            "diverged_at": result.get("diverged_at"),
            **{f"final_{name}": _last(columns, name) for name in _FINAL},
            "epochs": _last(columns, "epochs"), "time_s": _last(columns, "time_s"), "wall_s": result.get("wall_s"),
            "started_at": result.get("started_at"), "finished_at": result.get("finished_at"),
            "worker": result.get("worker"), "versions": json.dumps(result.get("versions", {}), sort_keys=True),
        }  # fmt: skip
        names = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._transaction():
            self._db.execute(f"INSERT OR REPLACE INTO runs ({names}) VALUES ({marks})", row)
            x = result.get("x")
            self._db.execute(
                "INSERT OR REPLACE INTO traces (run_key, columns, x) VALUES (?, ?, ?)",
                (result["key"], json.dumps(columns), None if x is None else json.dumps(x)),
            )
            self._db.execute("DELETE FROM claims WHERE run_key = ?", (result["key"],))

    @contextlib.contextmanager
    def _transaction(self):
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: concurrent writers queue, not deadlock
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite rolls back by itself after some errors (a full disk)
                self._db.execute("ROLLBACK")
            raise

    # --- claims: which sweep computes which run (see `sgdlab.experiments.claims`) ------------------
    @_sqlite_errors
    def claim(self, keys: Iterable[str], owner: Owner, stale_s: float = STALE_S) -> list[str]:
        """Claim, in one transaction, those of `keys` that are unfinished and not claimed by another live owner;
        return them."""
        keys = list(keys)
        now = time.time()
        with self._transaction():
            finished = self._finished()
            rows = self._db.execute("SELECT run_key, owner, host, pid, heartbeat FROM claims")
            held = {row[0]: row[1:] for row in rows}
            mine = [
                key for key in keys
                if key not in finished
                and (key not in held or held[key][0] == owner.id or not owner_alive(*held[key][1:], now, stale_s))
            ]  # fmt: skip
            self._db.executemany(
                "INSERT OR REPLACE INTO claims (run_key, owner, host, pid, claimed_at, heartbeat) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(key, owner.id, owner.host, owner.pid, now, now) for key in mine],
            )
        return mine

    @_sqlite_errors
    def release(self, owner: Owner) -> None:
        """Drop `owner`'s remaining claims (runs it did not finish)."""
        with self._transaction():
            self._db.execute("DELETE FROM claims WHERE owner = ?", (owner.id,))

    @_sqlite_errors
    def checkpoint(self) -> None:
        """Move every committed run from the `-wal` file into the database file itself, and empty the WAL."""
        if not self.readonly:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    @_sqlite_errors
    def count(self) -> int:
        """How many runs the store holds."""
        return self._db.execute("SELECT count(*) FROM runs").fetchone()[0]

    @_sqlite_errors
    def mark_main(self, keys: Iterable[str]) -> None:
        """Mark stored runs as part of the main phase (a tuning run the main phase reuses)."""
        with self._transaction():
            self._db.executemany("UPDATE runs SET phase = 'main' WHERE run_key = ?", [(k,) for k in keys])

    # --- reading -------------------------------------------------------------------------------
    @_sqlite_errors
    def finished_keys(self, keys: Iterable[str] | None = None) -> set[str]:
        """The keys of finished runs (`ok`, `budget`, `diverged`), among `keys` if given."""
        finished = self._finished()
        return finished if keys is None else finished & set(keys)

    def _finished(self) -> set[str]:
        marks = ", ".join("?" for _ in FINISHED)
        return {r[0] for r in self._db.execute(f"SELECT run_key FROM runs WHERE status IN ({marks})", FINISHED)}

    @_sqlite_errors
    def scores(self, metric: str, keys: Iterable[str]) -> dict[str, float]:
        """`final_<metric>` of finished, non-diverged runs (what tuning compares)."""
        column = metric if metric.startswith("final_") else f"final_{metric}"
        out = {}
        for key in keys:
            row = self._db.execute(f"SELECT status, {column} FROM runs WHERE run_key = ?", (key,)).fetchone()
            if row and row[0] in ("ok", "budget") and row[1] is not None and math.isfinite(row[1]):
                out[key] = row[1]
        return out

    @_sqlite_errors
    def runs(self, where: str = "", params: tuple = ()) -> pd.DataFrame:
        """The runs table as a DataFrame, one row per run, in the order they finished.

        Args:
            where: An SQL `WHERE …` clause over the `runs` table's columns (e.g. `"WHERE status = ?"`).
            params: The values of the clause's `?` placeholders.

        Returns:
            The runs: identity (`run_key`, `problem`, `method`, `label`, `seed`, …), status, final metrics
            (`final_subopt`, …), timings and versions; the JSON columns `hyperparameters`, `budget` and
            `versions` decoded into dicts.
        """
        frame = pd.read_sql_query(f"SELECT * FROM runs {where} ORDER BY finished_at, run_key", self._db, params=params)
        for column in ("hyperparameters", "budget", "versions"):
            frame[column] = frame[column].map(json.loads)
        return frame.drop(columns=["config"])

    @_sqlite_errors
    def find(self, prefix: str) -> str:
        """The full key of the one run whose key starts with `prefix` (taken literally: `%` and `_` are
        characters, not patterns).

        Raises:
            KeyError: No run, or several, has a key starting with `prefix` (the message names candidates).
        """
        if not prefix:
            raise KeyError("the run key prefix is empty: give the first characters of a key (see sgdlab ls)")
        query = "SELECT run_key FROM runs WHERE substr(run_key, 1, ?) = ? ORDER BY run_key"
        keys = [r[0] for r in self._db.execute(query, (len(prefix), prefix))]
        if not keys:
            raise KeyError(f"no run with a key starting with {prefix!r}")
        if len(keys) > 1:
            shown = ", ".join(k[: len(prefix) + 6] for k in keys[:10]) + (", ..." if len(keys) > 10 else "")
            raise KeyError(f"{len(keys)} runs with a key starting with {prefix!r}: {shown}; give more characters")
        return keys[0]

    @_sqlite_errors
    def config(self, key: str) -> dict[str, Any]:
        """The run's configuration ([`RunConfig`][sgdlab.experiments.RunConfig] as a dict)."""
        return json.loads(self._db.execute("SELECT config FROM runs WHERE run_key = ?", (key,)).fetchone()[0])

    @_sqlite_errors
    def trace(self, key: str) -> pd.DataFrame:
        """The run's recorded columns (`iters`, `grad_evals`, `epochs`, `time_s`, metrics), one row per
        checkpoint; `KeyError` if there is no such run."""
        row = self._db.execute("SELECT columns FROM traces WHERE run_key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no trace for run {key!r}")
        return pd.DataFrame(json.loads(row[0]))

    @_sqlite_errors
    def final_x(self, key: str) -> np.ndarray | None:
        """The run's final iterate, if it was kept (runs with up to `MAX_KEPT_X` parameters)."""
        row = self._db.execute("SELECT x FROM traces WHERE run_key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no trace for run {key!r}")
        return None if row[0] is None else np.asarray(json.loads(row[0]), dtype=np.float64)

    @_sqlite_errors
    def traces(self) -> pd.DataFrame:
        """Every recorded checkpoint of every run, long format, with the run's identity."""
        meta = self.runs()[["run_key", "problem", "label", "method", "batch_size", "seed", "status", "phase"]]
        frames = []
        for key, columns in self._db.execute("SELECT run_key, columns FROM traces ORDER BY run_key"):
            frame = pd.DataFrame(json.loads(columns))
            if len(frame):
                frames.append(frame.assign(run_key=key))
        if not frames:
            return pd.DataFrame(columns=["run_key"])
        return pd.concat(frames, ignore_index=True).merge(meta, on="run_key")

    @_sqlite_errors
    def integrity_ok(self) -> bool:
        """SQLite's integrity check of the file."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def export(self, folder: str | Path, fmt: str = "csv") -> list[Path]:
        """Write `runs` and `traces` as CSV or Parquet files into `folder`.

        Args:
            folder: Created if needed.
            fmt: `"csv"` or `"parquet"` (needs pyarrow).

        Returns:
            The two files written.

        Raises:
            ValueError: An unknown `fmt`.
            ImportError: Parquet without pyarrow.
            OSError: The folder or a file cannot be written.
        """
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"cannot export into {folder}: {exc.strerror or exc}") from None
        runs = self.runs()
        for column in ("hyperparameters", "budget", "versions"):
            runs[column] = runs[column].map(lambda v: json.dumps(v, sort_keys=True))
        written = []
        for name, frame in (("runs", runs), ("traces", self.traces())):
            path = folder / f"{name}.{fmt}"
            try:
                if fmt == "csv":
                    frame.to_csv(path, index=False)
                else:
                    frame.to_parquet(path, index=False)
            except ImportError:
                raise ImportError("Parquet export needs pyarrow: pip install pyarrow") from None
            except OSError as exc:
                raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
            written.append(path)
        return written
