"""Faults during sweeps: dying and raising workers, a killed Dask worker, repeated SIGKILLs, concurrent writers."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pandas as pd

import fault_workloads
from sgdlab.experiments import DaskExecutor, ProcessExecutor, SerialExecutor, Store, parse_spec, run_sweep
from sgdlab.experiments.grid import Plan
from test_sweep import SMALL, spec_toml, traces_without_time

EIGHT_SEEDS = {**SMALL, "seeds": 8, "problems": SMALL["problems"][:1], "methods": [{"type": "SGD"}]}


def test_a_worker_that_dies_fails_only_its_own_run(tmp_path):
    with Store(tmp_path / "r.db") as store, ProcessExecutor(jobs=2, fn=fault_workloads.die_on_seed_3) as executor:
        report = run_sweep(parse_spec(EIGHT_SEEDS), store, executor, progress=False)
        runs = store.runs().set_index("seed")
        assert store.integrity_ok()
    assert report.executed == 8 and report.failed == 1
    assert runs.loc[3, "status"] == "error" and "worker process died" in runs.loc[3, "error"]
    assert (runs.drop(index=3)["status"] == "budget").all()


def test_a_worker_that_raises_fails_only_its_own_run(tmp_path):
    with Store(tmp_path / "r.db") as store, ProcessExecutor(jobs=2, fn=fault_workloads.raise_on_seed_2) as executor:
        report = run_sweep(parse_spec(EIGHT_SEEDS), store, executor, progress=False)
        runs = store.runs().set_index("seed")
    assert report.failed == 1 and runs.loc[2, "error"] == "RuntimeError: injected failure"
    assert (runs.drop(index=2)["status"] == "budget").all()


def test_a_killed_dask_worker_has_its_runs_retried_not_lost(tmp_path):
    spec = parse_spec(EIGHT_SEEDS)
    with Store(tmp_path / "r.db") as store, DaskExecutor(local_workers=2, fn=fault_workloads.slow) as executor:
        outcome = {}
        sweep = threading.Thread(target=lambda: outcome.update(report=run_sweep(spec, store, executor, progress=False)))
        sweep.start()
        deadline = time.monotonic() + 60
        while len(outcome) == 0 and time.monotonic() < deadline:
            with sqlite3.connect(store.path) as db:
                if db.execute("SELECT count(*) FROM runs").fetchone()[0] >= 2:
                    break
            time.sleep(0.05)
        assert sweep.is_alive(), "the sweep finished before a worker could be killed"
        victim = next(iter(executor.client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
        sweep.join(timeout=120)
        assert not sweep.is_alive()
        runs = store.runs()
    assert outcome["report"].failed == 0 and outcome["report"].executed == 8
    assert len(runs) == 8 and runs["run_key"].is_unique and (runs["status"] == "budget").all()


def _finished(path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_store_survives_twenty_sigkills_at_random_points(tmp_path):
    doc = {**SMALL, "seeds": 6}
    spec_path = spec_toml(tmp_path / "spec.toml", doc)
    db = tmp_path / "killed.db"
    command = [sys.executable, "-m", "sgdlab", "run", spec_path, "--db", str(db), "--jobs", "1", "--no-progress"]
    rng = random.Random(0)
    kills = kills_while_writing = 0
    while kills < 20:
        stored_before = _finished(db)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kills % 2:  # every other kill lands while the sweep is storing runs, however slow start-up is
            while _finished(db) == stored_before and process.poll() is None:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # the others at a random moment, start-up included
            time.sleep(rng.uniform(0.3, 1.4))
        if process.poll() is not None:  # the sweep finished before this kill: start over on a fresh file
            db.unlink()
            for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                extra.unlink(missing_ok=True)
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        kills_while_writing += _finished(db) > 0
        if db.exists():
            with Store(db) as store:
                assert store.integrity_ok()
                with sqlite3.connect(db) as raw:  # every stored run has its trace: runs and traces commit together
                    orphans = raw.execute("SELECT count(*) FROM runs WHERE run_key NOT IN (SELECT run_key FROM traces)")
                    assert orphans.fetchone()[0] == 0
    assert kills_while_writing >= 5  # enough kills hit a sweep that was storing runs
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Store(db) as resumed, Store(tmp_path / "clean.db") as clean:
        run_sweep(parse_spec(doc), clean, SerialExecutor(), progress=False)
        keys = resumed.runs()["run_key"]
        assert keys.is_unique and set(keys) == set(clean.runs()["run_key"])
        pd.testing.assert_frame_equal(traces_without_time(resumed), traces_without_time(clean), check_exact=True)


def test_two_sweeps_writing_one_database_at_once_lose_nothing(tmp_path):
    first = {**SMALL, "name": "first", "seeds": [0, 1, 2]}
    second = {**SMALL, "name": "second", "seeds": [2, 3, 4]}  # seed 2 overlaps: both may compute it
    db = tmp_path / "shared.db"
    processes = [
        subprocess.Popen([sys.executable, "-m", "sgdlab", "run", spec_toml(tmp_path / f"{doc['name']}.toml", doc),
                          "--db", str(db), "--jobs", "1", "--no-progress"], stderr=subprocess.PIPE)
        for doc in (first, second)
    ]  # fmt: skip
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()
    expected = set()
    for doc in (first, second):
        plan = Plan(parse_spec(doc))
        with Store(tmp_path / f"ref-{doc['name']}.db") as ref:
            run_sweep(parse_spec(doc), ref, SerialExecutor(), progress=False)
            expected |= set(ref.runs()["run_key"])
        assert plan.main_count > 0
    with Store(db) as store:
        keys = store.runs()["run_key"]
        assert store.integrity_ok()
        assert keys.is_unique and set(keys) == expected


def test_processes_creating_one_new_database_at_the_same_moment_all_succeed(tmp_path):
    """SQLite refuses a concurrent switch to WAL on a new file at once (no busy timeout): the store retries."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3, timeout=20)  # a process that died must not leave the others waiting
    workers = [context.Process(target=fault_workloads.open_fresh_stores, args=(str(tmp_path), 20, barrier))
               for _ in range(3)]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    for r in range(20):
        with Store(tmp_path / f"round{r}.db") as store:
            assert store.integrity_ok()
