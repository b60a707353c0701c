"""The results store: one SQLite file (WAL mode), one row per run, each finished run in its own transaction.

Tables: ``runs`` (identity, configuration, status, timings, versions, final metrics) and ``traces``
(the recorded columns of each run as JSON, and its final iterate where it was kept). A run is keyed by
:attr:`RunConfig.key`; a run whose status is ``ok``, ``budget`` or ``diverged`` is finished and never
recomputed, one with ``error`` is retried by the next sweep. Several processes may write to one file at
once (SQLite serialises the transactions).
"""

from __future__ import annotations

import contextlib
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
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep, problem, label);
"""

_FINAL = ("loss", "subopt", "grad_norm2", "test_loss", "test_accuracy")


def _last(columns: dict[str, list[float]], name: str) -> float | None:
    values = columns.get(name)
    return float(values[-1]) if values else None


class Store:
    """A results database at ``path`` (created on first use)."""

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # one thread at a time, but not necessarily the one that opened it (e.g. a sweep in a background thread)
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._enable_wal(timeout)
        self._db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._transaction():  # BEGIN IMMEDIATE waits for a concurrent creator instead of failing
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            if "x" not in {row[1] for row in self._db.execute("PRAGMA table_info(traces)")}:
                self._db.execute("ALTER TABLE traces ADD COLUMN x TEXT")  # a store written before final iterates

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
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    def record(self, result: dict[str, Any], spec_hash: str = "", sweep: str = "") -> None:
        """Store one run and its trace atomically (replacing an earlier failed attempt)."""
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

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: concurrent writers queue, not deadlock
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def mark_main(self, keys: Iterable[str]) -> None:
        """Mark stored runs as part of the main phase (a tuning run the main phase reuses)."""
        with self._transaction():
            self._db.executemany("UPDATE runs SET phase = 'main' WHERE run_key = ?", [(k,) for k in keys])

    # --- reading -------------------------------------------------------------------------------
    def finished_keys(self, keys: Iterable[str] | None = None) -> set[str]:
        marks = ", ".join("?" for _ in FINISHED)
        rows = self._db.execute(f"SELECT run_key FROM runs WHERE status IN ({marks})", FINISHED).fetchall()
        finished = {r[0] for r in rows}
        return finished if keys is None else finished & set(keys)

    def scores(self, metric: str, keys: Iterable[str]) -> dict[str, float]:
        """``final_<metric>`` of finished, non-diverged runs (what tuning compares)."""
        column = metric if metric.startswith("final_") else f"final_{metric}"
        out = {}
        for key in keys:
            row = self._db.execute(f"SELECT status, {column} FROM runs WHERE run_key = ?", (key,)).fetchone()
            if row and row[0] in ("ok", "budget") and row[1] is not None and math.isfinite(row[1]):
                out[key] = row[1]
        return out

    def runs(self, where: str = "", params: tuple = ()) -> pd.DataFrame:
        """The runs table as a DataFrame (JSON columns decoded)."""
        frame = pd.read_sql_query(f"SELECT * FROM runs {where} ORDER BY finished_at, run_key", self._db, params=params)
        for column in ("hyperparameters", "budget", "versions"):
            frame[column] = frame[column].map(json.loads)
        return frame.drop(columns=["config"])

    def find(self, prefix: str) -> str:
        """The full key of the one run whose key starts with ``prefix``."""
        rows = self._db.execute("SELECT run_key FROM runs WHERE run_key LIKE ?", (prefix + "%",)).fetchall()
        if len(rows) != 1:
            raise KeyError(f"{'no run' if not rows else f'{len(rows)} runs'} with a key starting with {prefix!r}")
        return rows[0][0]

    def config(self, key: str) -> dict[str, Any]:
        return json.loads(self._db.execute("SELECT config FROM runs WHERE run_key = ?", (key,)).fetchone()[0])

    def trace(self, key: str) -> pd.DataFrame:
        row = self._db.execute("SELECT columns FROM traces WHERE run_key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no trace for run {key!r}")
        return pd.DataFrame(json.loads(row[0]))

    def final_x(self, key: str) -> np.ndarray | None:
        """The run's final iterate, if it was kept (runs with up to ``MAX_KEPT_X`` parameters)."""
        row = self._db.execute("SELECT x FROM traces WHERE run_key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(f"no trace for run {key!r}")
        return None if row[0] is None else np.asarray(json.loads(row[0]), dtype=np.float64)

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

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def export(self, folder: str | Path, fmt: str = "csv") -> list[Path]:
        """Write ``runs`` and ``traces`` as CSV or Parquet files into ``folder``."""
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        runs = self.runs()
        for column in ("hyperparameters", "budget", "versions"):
            runs[column] = runs[column].map(lambda v: json.dumps(v, sort_keys=True))
        written = []
        for name, frame in (("runs", runs), ("traces", self.traces())):
            path = folder / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                try:
                    frame.to_parquet(path, index=False)
                except ImportError:
                    raise ImportError("Parquet export needs pyarrow: pip install pyarrow") from None
            written.append(path)
        return written
