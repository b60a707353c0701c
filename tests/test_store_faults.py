"""The store under hostile conditions: files that are not stores, read-only files, a full disk, the WAL,
concurrent sweeps, and processes that must not outlive a killed sweep."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

import catalogue_store
from sgdlab.cli import main
from sgdlab.experiments import ProcessExecutor, SerialExecutor, parse_spec, run_sweep
from sgdlab.experiments.claims import Owner
from sgdlab.experiments.grid import Plan
from sgdlab.experiments.store import Store, StoreError, StoreFullError
from test_sweep import SMALL, spec_toml

TINY = catalogue_store.SPEC


def _snapshot(path: Path):
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        return "file", path.read_bytes(), info.st_mtime_ns
    return stat.S_IFMT(info.st_mode), sorted(os.listdir(path)) if path.is_dir() else None, info.st_mtime_ns


def test_no_catalogue_case_modifies_the_file_it_was_given():
    files = catalogue_store.garbage()
    before = {kind: _snapshot(path) for kind, path in files.items()}
    listing = sorted(os.listdir(files["good"].parent))
    for _, make, error, _ in catalogue_store.CASES:
        with pytest.raises(error):
            make()
    assert {kind: _snapshot(path) for kind, path in files.items()} == before
    assert sorted(os.listdir(files["good"].parent)) == listing  # no -wal, -shm or new tables anywhere


def test_a_fifo_given_as_a_database_fails_at_once():
    fifo = catalogue_store.garbage()["fifo"]
    started = time.monotonic()
    for args in (["ls", str(fifo)], ["run", str(catalogue_store.garbage()["spec"]), "--db", str(fifo)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code != 0 and "not a regular file" in result.output
    assert time.monotonic() - started < 10


def _small_db(path: Path) -> Path:
    with Store(path) as store:
        run_sweep(parse_spec(TINY), store, SerialExecutor(), progress=False)
    return path


def test_a_read_only_database_in_a_read_only_folder_is_listed_shown_exported_and_reported(tmp_path):
    folder = tmp_path / "archive"
    folder.mkdir()
    db = _small_db(folder / "results.db")
    assert not Path(f"{db}-wal").exists()  # a finished sweep leaves one file
    before = db.read_bytes(), db.stat().st_mtime_ns
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        runner = CliRunner()
        listing = runner.invoke(main, ["ls", str(db)])
        assert listing.exit_code == 0 and "20 runs: 20 budget" in listing.output, listing.output
        key = listing.output.splitlines()[1].split()[0]
        shown = runner.invoke(main, ["show", str(db), key])
        assert shown.exit_code == 0 and '"seed"' in shown.output, shown.output
        exported = runner.invoke(main, ["export", str(db), "--out", str(tmp_path / "csv")])
        assert exported.exit_code == 0 and len((tmp_path / "csv" / "runs.csv").read_text().splitlines()) == 21
        report = runner.invoke(main, ["report", str(db), "--out", str(tmp_path / "report")])
        assert report.exit_code == 0, report.output
        assert sorted(os.listdir(folder)) == ["results.db"]  # no -wal or -shm made beside it
        assert (db.read_bytes(), db.stat().st_mtime_ns) == before
        with Store(db, readonly=True) as store:  # root ignores permissions: the connection itself must refuse
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                store._db.execute("DELETE FROM runs")
            with pytest.raises(StoreError, match="opened read-only"):
                store.mark_main([key])
        if os.geteuid() != 0:  # only where permissions bind: a writing open is refused with a clear error
            with pytest.raises(StoreError, match=r"results\.db"):
                Store(db)
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert db.read_bytes() == before[0]


def test_a_read_only_store_sees_runs_that_are_still_in_the_wal(tmp_path):
    db = tmp_path / "live.db"
    with Store(db) as writer:  # an open writer: its runs are in results.db-wal, not yet in the file
        run_sweep(parse_spec({**TINY, "seeds": 3}), writer, SerialExecutor(), progress=False)
        writer.record({**_result_like(writer), "key": "extra"})
        assert Path(f"{db}-wal").stat().st_size > 0
        with Store(db, readonly=True) as reader:
            assert "extra" in set(reader.runs()["run_key"]) and reader.count() == 4


def _result_like(store: Store) -> dict:
    key = store.runs()["run_key"].iloc[0]
    return {"key": key, "config": store.config(key), "columns": {"iters": [0]}, "status": "budget"}


def test_show_takes_a_prefix_literally_and_lists_the_candidates_when_several_match(tmp_path):
    db = _small_db(tmp_path / "r.db")
    with Store(db, readonly=True) as store:
        keys = sorted(store.runs()["run_key"])
        assert store.find(keys[0][:12]) == keys[0]
        for pattern in ("%", "_", keys[0][:3] + "%", "_" + keys[0][1:]):
            with pytest.raises(KeyError, match="no run with a key starting with"):
                store.find(pattern)
        first = keys[0][0]
        candidates = [k for k in keys if k[0] == first]
        if len(candidates) > 1:
            with pytest.raises(KeyError) as caught:
                store.find(first)
            assert f"{len(candidates)} runs" in str(caught.value)
            assert all(k[:7] in str(caught.value) for k in candidates)


# --- a full disk -------------------------------------------------------------------------------------------
def _fill_up(store: Store, free_pages: int) -> None:
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + free_pages}")


def test_a_full_disk_stops_the_sweep_keeping_finished_runs_and_a_rerun_completes(tmp_path):
    doc = {**TINY, "seeds": 40, "budget": {"iters": 200}}
    db = tmp_path / "full.db"
    with Store(db) as store:
        _fill_up(store, 12)
        report = run_sweep(parse_spec(doc), store, SerialExecutor(), progress=False)
        assert report.disk_full and "full" in report.disk_full
        assert 0 < report.stored == report.executed < 40 and store.count() == report.stored
        assert store.integrity_ok()
        message = report.disk_full_message(db)
        assert f"{report.stored} finished runs are stored" in message and "run the same command again" in message
        assert f"remaining {40 - report.stored} runs" in message
    with Store(db) as store:  # space freed: the rerun computes only the rest
        again = run_sweep(parse_spec(doc), store, SerialExecutor(), progress=False)
        assert again.executed == 40 - report.stored and again.skipped == report.stored and not again.disk_full
        keys = store.runs()["run_key"]
        assert len(keys) == 40 and keys.is_unique


def test_the_cli_reports_a_full_disk_in_one_message(tmp_path, monkeypatch):
    opened = Store.__init__

    def small_disk(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        if not self.readonly:
            _fill_up(self, 12)

    monkeypatch.setattr(Store, "__init__", small_disk)
    spec = spec_toml(tmp_path / "spec.toml", {**TINY, "seeds": 40, "budget": {"iters": 200}})
    result = CliRunner().invoke(main, ["run", spec, "--db", str(tmp_path / "r.db"), "--jobs", "1", "--no-progress"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"stopped: the disk holding .*r\.db is full .*\. \d+ finished runs are stored in", result.output)
    assert "run the same command again to complete the remaining" in result.output


def test_a_write_that_finds_the_disk_full_raises_store_full_error(tmp_path):
    db = _small_db(tmp_path / "r.db")
    with Store(db) as store:
        _fill_up(store, 0)
        with pytest.raises(StoreFullError, match="is full"):
            store.record({**_result_like(store), "key": "k" * 64, "columns": {"iters": list(range(20_000))}})
        assert store.count() == 20


# --- the WAL ------------------------------------------------------------------------------------------------
def test_a_finished_sweep_leaves_every_run_in_the_database_file_itself(tmp_path):
    db = tmp_path / "r.db"
    with Store(db) as store, sqlite3.connect(db) as reader:  # a second connection keeps the WAL from vanishing
        reader.execute("SELECT count(*) FROM runs").fetchone()
        run_sweep(parse_spec(TINY), store, SerialExecutor(), progress=False)
        assert Path(f"{db}-wal").stat().st_size == 0  # checkpointed and truncated
        copy = tmp_path / "copy.db"
        copy.write_bytes(db.read_bytes())  # the file alone, as someone copying results.db would
    with sqlite3.connect(copy) as alone:
        assert alone.execute("SELECT count(*) FROM runs").fetchone()[0] == 20


def _interrupted_checkpoint(tmp_path: Path) -> tuple[Path, int]:
    """A store as a kill during a checkpoint leaves it: the file's header (page 1, copied first) counts pages
    the file does not have yet, and the WAL still holds them. Returns the file and the runs committed to it."""
    db = tmp_path / "r.db"
    with Store(db) as store:
        run_sweep(parse_spec({**TINY, "seeds": 2}), store, SerialExecutor(), progress=False)
    before = len(db.read_bytes())
    with Store(db) as store:  # an open writer: these runs are in the WAL, not yet in the file
        for k in range(8):
            store.record({**_result_like(store), "key": f"extra-{k}", "columns": {"iters": list(range(2000))}})
        runs = store.count()
        file, wal = db.read_bytes(), Path(f"{db}-wal").read_bytes()
    finished = tmp_path / "finished.db"  # the same state, checkpointed to the end by SQLite
    finished.write_bytes(file)
    Path(f"{finished}-wal").write_bytes(wal)
    with sqlite3.connect(finished) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    done = finished.read_bytes()
    page = int.from_bytes(done[16:18], "big")
    assert len(done) >= before + 2 * page  # the checkpoint grows the file: there are pages to leave out
    killed = tmp_path / "killed.db"
    killed.write_bytes(done[: len(done) - page])  # the last page not written yet
    Path(f"{killed}-wal").write_bytes(wal)
    return killed, runs


def test_a_checkpoint_cut_short_by_a_kill_loses_no_run(tmp_path):
    killed, runs = _interrupted_checkpoint(tmp_path)
    page = int.from_bytes(killed.read_bytes()[16:18], "big")
    assert int.from_bytes(killed.read_bytes()[28:32], "big") * page > killed.stat().st_size  # header ahead of file
    with Store(killed, readonly=True) as reader:
        assert reader.count() == runs
    with Store(killed) as store:  # SQLite completes the checkpoint from the WAL
        assert store.integrity_ok() and store.count() == runs


def test_a_truncated_file_beside_a_foreign_wal_is_refused_with_a_clear_error(tmp_path):
    killed, _ = _interrupted_checkpoint(tmp_path)
    Path(f"{killed}-wal").write_bytes(b"not a write-ahead log" * 100)  # SQLite ignores a WAL with a bad header
    before = killed.read_bytes()
    for readonly in (True, False):
        with pytest.raises(StoreError, match=r"killed\.db is not an sgdlab results database"):
            Store(killed, readonly=readonly)
    assert killed.read_bytes() == before


# --- claims: concurrent sweeps compute each run once --------------------------------------------------------
def test_two_concurrent_sweeps_on_one_database_compute_each_run_once(tmp_path):
    doc = {**SMALL, "seeds": 3, "budget": {"epochs": 20}}
    spec = spec_toml(tmp_path / "spec.toml", doc)
    db = tmp_path / "shared.db"
    command = [sys.executable, "-m", "sgdlab", "run", spec, "--db", str(db), "--jobs", "1", "--no-progress"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    executed = shared = 0
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err.decode()
        executed += int(re.search(r"(\d+) runs executed", out.decode())[1])
        found = re.search(r"(\d+) computed by another sweep", out.decode())
        shared += int(found[1]) if found else 0
    assert shared > 0  # the sweeps did overlap: one collected runs the other computed
    plan = Plan(parse_spec(doc))
    distinct = len({c.key for c in plan.tuning_runs}) + plan.main_count - 2  # two main runs are tuning runs
    with Store(db, readonly=True) as store:
        runs = store.runs()
        assert runs["run_key"].is_unique and len(runs) == distinct
        assert executed == distinct  # computed twice: 0
        assert runs["worker"].nunique() <= 2 and store._db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0


def test_claims_of_a_live_sweep_are_respected_and_those_of_a_dead_or_silent_one_are_taken(tmp_path):
    with Store(tmp_path / "r.db") as store:
        me, other = Owner(), Owner()
        assert store.claim(["a", "b"], other) == ["a", "b"]
        assert store.claim(["a", "b", "c"], me) == ["c"]  # a live owner (this very process) keeps its claims
        assert store.claim(["a"], other) == ["a"]  # an owner may claim its own runs again
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        killed = Owner(pid=int(dead.stdout))
        assert store.claim(["d"], killed) == ["d"]
        assert store.claim(["d"], me) == ["d"]  # its process is gone: the claim is free at once
        assert store.claim(["a"], me, stale_s=-1) == ["a"]  # a heartbeat older than the limit: free too
        store.release(me)
        assert {r[0] for r in store._db.execute("SELECT run_key FROM claims")} == {"b"}


def test_a_killed_sweeps_claims_do_not_block_the_next_sweep(tmp_path):
    db = tmp_path / "r.db"
    with Store(db) as store:
        configs = Plan(parse_spec(TINY)).tuning_runs
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        store.claim([c.key for c in configs], Owner(pid=int(dead.stdout)))
        started = time.monotonic()
        report = run_sweep(parse_spec(TINY), store, SerialExecutor(), progress=False)
        assert report.executed == 20 and time.monotonic() - started < 30


# --- executors -------------------------------------------------------------------------------------------
def test_a_huge_jobs_count_starts_no_more_workers_than_runs(tmp_path):
    doc = {**TINY, "seeds": 3}
    with Store(tmp_path / "r.db") as store, ProcessExecutor(jobs=1_000_000) as executor:
        report = run_sweep(parse_spec(doc), store, executor, progress=False)
        assert report.executed == 3 and store.runs()["worker"].nunique() <= 3


def test_an_unreachable_scheduler_fails_within_the_default_bound_and_says_where(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = str(catalogue_store.garbage()["spec"])
    started = time.monotonic()
    result = CliRunner().invoke(main, ["run", spec, "--db", str(tmp_path / "r.db"), "--scheduler",
                                       f"tcp://127.0.0.1:{port}"])  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"could not reach the Dask scheduler at tcp://127.0.0.1:{port} within 10 s" in result.output
    assert elapsed < 30


def _workers(parent: psutil.Process, least: int, timeout: float = 60) -> list[psutil.Process]:
    """The worker processes under ``parent`` (not multiprocessing's resource tracker), once ``least`` exist."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = [p for p in parent.children(recursive=True) if "resource_tracker" not in " ".join(p.cmdline())]
        except psutil.Error:
            found = []
        if len(found) >= least:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {least} workers started under {parent.pid}")


LONG = {"name": "long", "seeds": 4, "budget": {"epochs": 100_000},
        "problems": [{"name": "logistic", "type": "LogisticRegression", "params": {"l2": 1e-2},
                      "data": {"source": "classification", "n": 2000, "dim": 20, "seed": 1}}],
        "methods": [{"type": "SGD"}]}  # fmt: skip


@pytest.mark.parametrize(("options", "least"), [(["--jobs", "2"], 2), (["--dask-local", "2"], 2)], ids=["pool", "dask"])
def test_workers_die_with_a_sigkilled_sweep(tmp_path, options, least):
    spec = spec_toml(tmp_path / "long.toml", LONG)
    command = [sys.executable, "-m", "sgdlab", "run", spec, "--db", str(tmp_path / "r.db"), "--no-progress", *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[psutil.Process] = []
    try:
        workers += _workers(psutil.Process(process.pid), least)
        time.sleep(1.0)  # let them start computing
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers outlived the sweep: {[p.pid for p in alive]}"
    finally:
        for started in (psutil.Process(process.pid), *workers) if process.poll() is None else workers:
            if started.is_running():
                started.kill()
