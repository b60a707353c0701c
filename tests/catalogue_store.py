"""Catalogue chapter: results databases that are not what they claim to be, and the options that reach them.

Every garbage file is given to each command that opens a store; ``tests/test_store_faults.py`` checks that none
of them is modified by any of these cases.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import sqlite3
import tempfile
from pathlib import Path

from click.testing import CliRunner

from sgdlab.cli import main
from sgdlab.experiments import SerialExecutor, parse_spec, run_sweep
from sgdlab.experiments.executors import DaskExecutor, max_jobs
from sgdlab.experiments.store import Store, StoreError


class CliError(Exception):
    """A CLI invocation that exited non-zero; the message is what the user saw."""


def cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    if result.exit_code != 0:  # the status leads the message, on one line: a case can require 2, a usage error
        raise CliError(f"exit status {result.exit_code}: " + " ".join(result.output.split()))


SPEC = {"name": "tiny", "seeds": 20, "budget": {"iters": 5},
        "problems": [{"name": "q", "type": "Quadratic2D"}], "methods": [{"type": "SGD"}]}  # fmt: skip
SPEC_TOML = (
    'name = "tiny"\n[budget]\niters = 5\n[[problems]]\nname = "q"\ntype = "Quadratic2D"\n[[methods]]\ntype = "SGD"\n'
)


def _sqlite_file(path: Path, tables: str) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(tables)
    db.close()


@functools.cache
def garbage() -> dict[str, Path]:
    """Files that are not sgdlab results databases, by kind, written once per session."""
    root = Path(tempfile.mkdtemp(prefix="sgdlab-garbage-db-"))
    good = root / "good.db"
    with Store(good) as store:
        run_sweep(parse_spec(SPEC), store, SerialExecutor(), progress=False)
    data = good.read_bytes()
    kinds = {
        "random": os.urandom(20_000),
        "truncated": data[: len(data) // 3],
        "zeroed": bytes(len(data)),
        "half-page": data[:1000],
        "text": b"run_key,status\nabc,ok\n",
    }
    paths = {}
    for kind, content in kinds.items():
        paths[kind] = root / f"{kind}.db"
        paths[kind].write_bytes(content)
    paths["empty"] = root / "empty.db"
    paths["empty"].touch()
    paths["directory"] = root / "directory.db"
    paths["directory"].mkdir()
    paths["fifo"] = root / "fifo.db"
    os.mkfifo(paths["fifo"])
    paths["foreign"] = root / "foreign.db"
    _sqlite_file(paths["foreign"], "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');")
    paths["foreign-runs"] = root / "foreign-runs.db"  # a table named runs, but not ours
    _sqlite_file(paths["foreign-runs"], "CREATE TABLE runs (id INTEGER, speed REAL);")
    paths["spec"] = root / "spec.toml"
    paths["spec"].write_text(SPEC_TOML)
    paths["good"] = good
    paths["a-file"] = root / "a-file.txt"
    paths["a-file"].write_text("not a folder")
    paths["latin1-spec"] = root / "latin1.toml"
    paths["latin1-spec"].write_bytes('name = "café"\n'.encode("latin-1"))
    return paths


def g(kind: str) -> str:
    return str(garbage()[kind])


DB_EXPECTED = r"expected an sgdlab results database file, e\.g\. results\.db"
SPEC_EXPECTED = r"expected an experiment spec file \(TOML\), e\.g\. experiment\.toml"
FOLDER_EXPECTED = r"is a file; give a folder to write into \(it is created if missing\)"

#: Files any store-opening command must refuse (an empty file is fine for `run`, which creates a store there).
REFUSED = ("random", "truncated", "zeroed", "half-page", "text", "directory", "fifo", "foreign", "foreign-runs")


def _db_cases():
    reasons = {"random": "not an SQLite file", "truncated": "truncated", "zeroed": "not an SQLite file",
               "half-page": "truncated", "text": "not an SQLite file", "directory": "is a directory",
               "fifo": "not a regular file", "foreign": "other tables \\(people\\)",
               "foreign-runs": "its runs table lacks", "empty": "the file is empty"}  # fmt: skip
    out = "/tmp/sgdlab-catalogue-out"
    for kind in (*REFUSED, "empty"):
        why = reasons[kind]
        # a usage error: status 2, the argument, what is wrong and what is expected, in sgdlab's own words
        named = f"exit status 2: .*Invalid value for DB: .*{kind}.db.*{why}.*; {DB_EXPECTED}"
        yield f"ls-{kind}", functools.partial(lambda k: cli("ls", g(k)), kind), CliError, named
        yield f"show-{kind}", functools.partial(lambda k: cli("show", g(k), "ab"), kind), CliError, named
        yield (f"export-{kind}", functools.partial(lambda k: cli("export", g(k), "--out", out), kind), CliError,
               named)  # fmt: skip
        yield (f"report-{kind}", functools.partial(lambda k: cli("report", g(k), "--out", out), kind), CliError,
               named)  # fmt: skip
        yield (f"store-readonly-{kind}", functools.partial(lambda k: Store(g(k), readonly=True), kind), StoreError,
               f"{kind}.db is not an sgdlab results database: .*{why}")  # fmt: skip
        if kind == "empty":
            continue
        yield (f"run-{kind}", functools.partial(lambda k: cli("run", g("spec"), "--db", g(k), "--jobs", "1",
                                                              "--no-progress"), kind), CliError,
               f"exit status 2: .*--db.*{kind}.db is not an sgdlab results database.*{why}.*{DB_EXPECTED}")  # fmt: skip
        yield f"store-{kind}", functools.partial(lambda k: Store(g(k)), kind), StoreError, f"{kind}.db.*{why}"
    yield ("reproduce-foreign", lambda: _reproduce_into("foreign"), CliError,
           "results.db is not an sgdlab results database: it holds other tables")  # fmt: skip


def _reproduce_into(kind: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sgdlab-reproduce-"))
    (folder / "results.db").write_bytes(garbage()[kind].read_bytes())
    cli("reproduce", "--out", str(folder), "--quick", "--claim", "sgd-vs-gd", "--no-progress")


def _ambiguous_prefix() -> str:
    with Store(garbage()["good"], readonly=True) as store:
        keys = sorted(store.runs()["run_key"])
    return next(a[0] for a, b in itertools.pairwise(keys) if a[0] == b[0])  # 20 keys: one first digit twice


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*options: str) -> None:
    cli("run", g("spec"), "--db", str(Path(tempfile.mkdtemp()) / "r.db"), "--no-progress", *options)


CASES = [
    *_db_cases(),
    # run keys given to `show`: taken literally, and exactly one must match
    ("show-percent", lambda: cli("show", g("good"), "%"), CliError, "no run with a key starting with '%'"),
    ("show-underscore", lambda: cli("show", g("good"), "_"), CliError, "no run with a key starting with '_'"),
    ("show-like-pattern", lambda: cli("show", g("good"), "%_%"), CliError, "no run with a key starting with '%_%'"),
    ("show-empty-prefix", lambda: cli("show", g("good"), ""), CliError, "prefix is empty"),
    ("show-ambiguous", lambda: cli("show", g("good"), _ambiguous_prefix()), CliError,
     r"\d+ runs with a key starting with '[0-9a-f]': [0-9a-f]+, [0-9a-f]+.*give more characters"),
    ("show-missing-key", lambda: cli("show", g("good"), "zzzz"), CliError, "no run with a key starting with 'zzzz'"),
    ("ls-missing-file", lambda: cli("ls", g("good") + ".nope"), CliError,
     f"exit status 2: .*DB: no results database at .*good.db.nope; {DB_EXPECTED}"),
    ("ls-spec-file", lambda: cli("ls", g("spec")), CliError,
     f"exit status 2: .*DB: .*spec.toml is not an sgdlab results database: it is not an SQLite file.*{DB_EXPECTED}"),
    # spec files given to `run`: only stat-ed before reading (a FIFO is never opened)
    ("run-spec-directory", lambda: cli("run", g("directory"), "--db", g("empty")), CliError,
     f"exit status 2: .*'SPEC': .*directory.db is a directory; {SPEC_EXPECTED}"),
    ("run-spec-fifo", lambda: cli("run", g("fifo"), "--db", g("empty")), CliError,
     f"exit status 2: .*'SPEC': .*fifo.db is not a regular file \\(a FIFO, socket or device\\); {SPEC_EXPECTED}"),
    ("run-spec-missing", lambda: cli("run", g("spec") + ".nope", "--db", g("empty")), CliError,
     f"exit status 2: .*'SPEC': file not found: .*spec.toml.nope; {SPEC_EXPECTED}"),
    ("run-spec-not-utf8", lambda: cli("run", g("latin1-spec"), "--db", g("empty")), CliError,
     f"exit status 2: .*'SPEC': .*latin1.toml is not a text file \\(not UTF-8\\); {SPEC_EXPECTED}"),
    ("run-spec-database", lambda: cli("run", g("good"), "--db", g("empty")), CliError,
     f"exit status 2: .*'SPEC': .*good.db is not a text file \\(not UTF-8\\); {SPEC_EXPECTED}"),
    # output places
    ("export-format", lambda: cli("export", g("good"), "--format", "xlsx"), CliError, "'xlsx' is not one of"),
    ("export-out-is-a-file", lambda: cli("export", g("good"), "--out", g("a-file")), CliError,
     f"exit status 2: .*'--out': .*a-file.txt {FOLDER_EXPECTED}"),
    ("export-out-under-a-file", lambda: cli("export", g("good"), "--out", g("a-file") + "/sub"), CliError,
     "exit status 2: .*--out.*cannot create the folder .*a-file.txt/sub: Not a directory"),
    ("export-out-unwritable", lambda: cli("export", g("good"), "--out", "/proc/sgdlab-export"), CliError,
     "exit status 2: .*--out.*cannot create the folder /proc/sgdlab-export"),
    ("report-out-is-a-file", lambda: cli("report", g("good"), "--out", g("a-file")), CliError,
     f"exit status 2: .*'--out': .*a-file.txt {FOLDER_EXPECTED}"),
    ("reproduce-out-is-a-file", lambda: cli("reproduce", "--out", g("a-file"), "--claim", "sgd-vs-gd"), CliError,
     f"exit status 2: .*'--out': .*a-file.txt {FOLDER_EXPECTED}"),
    ("nn-out-is-a-file", lambda: cli("nn", "--out", g("a-file"), "--quick"), CliError,
     f"exit status 2: .*'--out': .*a-file.txt {FOLDER_EXPECTED}"),
    ("report-out-under-a-file", lambda: cli("report", g("good"), "--out", g("a-file") + "/sub"), CliError,
     "exit status 2: .*--out.*cannot create the folder .*a-file.txt/sub: Not a directory"),
    # executors
    ("run-jobs-huge", lambda: _run("--jobs", "1000000"), CliError,
     f"--jobs.*1000000 is more than {max_jobs()} \\(4 worker processes per core"),
    ("run-jobs-negative", lambda: _run("--jobs", "-3"), CliError, "--jobs.*-3 is not in the range x>=1"),
    ("run-dask-local-zero", lambda: _run("--dask-local", "0"), CliError, "--dask-local.*0 is not in the range x>=1"),
    ("run-dask-local-negative", lambda: _run("--dask-local", "-1"), CliError, "--dask-local.*-1 is not in the range"),
    ("run-dask-local-huge", lambda: _run("--dask-local", "1000000"), CliError, "--dask-local.*1000000 is more than"),
    ("run-scheduler-no-host", lambda: _run("--scheduler", "tcp://"), CliError,
     "--scheduler.*'tcp://' is not a Dask scheduler address: expected tcp://HOST:PORT"),
    ("run-scheduler-http", lambda: _run("--scheduler", "http://x"), CliError,
     "'http://x' is not a Dask scheduler address"),
    ("run-scheduler-nonsense", lambda: _run("--scheduler", "nonsense"), CliError,
     "'nonsense' is not a Dask scheduler address"),
    ("run-scheduler-port-zero", lambda: _run("--scheduler", "tcp://127.0.0.1:0"), CliError,
     "'tcp://127.0.0.1:0' is not a Dask scheduler address"),
    ("run-scheduler-unreachable", lambda: _run("--scheduler", f"tcp://127.0.0.1:{_closed_port()}",
                                               "--connect-timeout", "1"), CliError,
     r"could not reach the Dask scheduler at tcp://127\.0\.0\.1:\d+ within 1 s"),
    ("run-connect-timeout-zero", lambda: _run("--scheduler", "tcp://127.0.0.1:8786", "--connect-timeout", "0"),
     CliError, "--connect-timeout.*0.0 is not in the range 0<x<=86400"),
    ("run-scheduler-and-jobs", lambda: _run("--scheduler", "tcp://127.0.0.1:8786", "--jobs", "2"), CliError,
     "--jobs applies to local processes"),
    ("dask-api-bad-address", lambda: DaskExecutor(address="localhost"), ValueError,
     "'localhost' is not a Dask scheduler address"),
    ("dask-api-timeout", lambda: DaskExecutor(address="tcp://127.0.0.1:1", connect_timeout=-1), ValueError,
     "connect_timeout must be a positive number of seconds"),
    ("dask-api-local-workers", lambda: DaskExecutor(local_workers=0), ValueError,
     "local_workers must be between 1 and"),
    ("dask-api-timeout-inf", lambda: DaskExecutor(address="tcp://127.0.0.1:1", connect_timeout=float("inf")),
     ValueError, "connect_timeout must be a positive number of seconds, at most 86400"),
    ("run-connect-timeout-inf", lambda: cli("run", g("spec"), "--scheduler", "tcp://127.0.0.1:1",
                                            "--connect-timeout", "inf"), CliError,
     "exit status 2: .*--connect-timeout.*inf is not in the range"),
    # an output folder that cannot be made is refused before any work (a training run's results were lost)
    ("nn-out-under-a-file", lambda: cli("nn", "--quick", "--network", "mlp", "--optimizer", "SGD", "--out",
                                        g("a-file") + "/sub"), CliError,
     "exit status 2: .*--out.*cannot create the folder .*a-file.txt/sub: Not a directory"),
    ("reproduce-out-under-a-file", lambda: cli("reproduce", "--quick", "--out", g("a-file") + "/sub"), CliError,
     "exit status 2: .*--out.*cannot create the folder .*a-file.txt/sub: Not a directory"),
    # the demo's numbers: click's FloatRange lets inf and nan through
    *[(f"demo-{option.strip('-')}-{value}", (lambda o, v: lambda: cli("demo", o, v, "--n", "50"))(option, value),
       CliError, f"exit status 2: .*'{option}'.*{value}")
      for option in ("--epochs", "--cond", "--l2") for value in ("inf", "nan")],
    ("demo-seed-negative", lambda: cli("demo", "--seed", "-1", "--n", "50"), CliError,
     "exit status 2: .*'--seed': -1 is not in the range x>=0"),
]  # fmt: skip
