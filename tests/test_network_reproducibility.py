"""Network runs are bit-identical whatever executes them: serially in a fresh process or in this one, in a process
pool, on a Dask cluster, or killed and completed by a second sweep.

A network's trace depends on torch's thread count (convolutions and matrix products add in an order that depends
on it), so every run pins torch to one thread before its first operation — also when torch is first imported by
that run, in a process where it was not loaded yet — and every worker pins its OpenMP/BLAS pools before any
library loads.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from sgdlab.experiments import DaskExecutor, ProcessExecutor, SerialExecutor, Store, parse_spec, run_sweep
from sgdlab.experiments import execute as execute_module
from sgdlab.experiments.grid import Plan
from test_sweep import spec_toml, traces_without_time

NETWORKS = {
    "name": "networks",
    "seeds": 2,
    "batch_size": 8,
    "budget": {"epochs": 0.5},
    "record": {"points_per_decade": 4},
    "problems": [
        {"name": "cnn", "type": "digits_cnn", "params": {}},
        {"name": "lstm", "type": "char_lm", "params": {"max_chars": 10_000, "hidden": 16, "seq_len": 32}},
    ],
    "methods": [{"type": "SGD", "params": {"lr": 0.3}}, {"type": "Adam", "params": {"lr": 0.01}}],
}  # fmt: skip
RUNS = 8


def _sgdlab(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from sgdlab.cli import main; main()", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, **kwargs)  # fmt: skip


def _stored(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as raw:
            return raw.execute("SELECT count(*) FROM runs WHERE status != 'error'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _traces(db) -> pd.DataFrame:
    with Store(db) as store:
        assert len(store.runs()) == RUNS and set(store.runs()["status"]) == {"budget"}
        return traces_without_time(store)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    return spec_toml(tmp_path_factory.mktemp("networks") / "networks.toml", NETWORKS)


@pytest.fixture(scope="module")
def fresh_serial(spec_path, tmp_path_factory):
    """`sgdlab run --jobs 1` in a new process, where torch is first imported by the first network run."""
    db = tmp_path_factory.mktemp("serial") / "results.db"
    process = _sgdlab("run", spec_path, "--db", str(db), "--jobs", "1", "--no-progress")
    assert process.wait(timeout=600) == 0, process.stderr.read().decode()
    return _traces(db)


def test_the_spec_is_what_the_test_expects():
    plan = Plan(parse_spec(NETWORKS))
    assert plan.main_count == RUNS and not plan.tuning_runs


def test_serial_in_this_process_equals_a_fresh_process(fresh_serial, tmp_path):
    import torch

    threads = torch.get_num_threads()
    with Store(tmp_path / "here.db") as store:
        run_sweep(parse_spec(NETWORKS), store, SerialExecutor(), progress=False)
    pd.testing.assert_frame_equal(_traces(tmp_path / "here.db"), fresh_serial, check_exact=True)
    assert torch.get_num_threads() == threads  # the caller's setting is restored


def test_a_process_pool_equals_serial(fresh_serial, tmp_path):
    with Store(tmp_path / "pool.db") as store, ProcessExecutor(jobs=2) as executor:
        run_sweep(parse_spec(NETWORKS), store, executor, progress=False)
    pd.testing.assert_frame_equal(_traces(tmp_path / "pool.db"), fresh_serial, check_exact=True)


def test_a_dask_cluster_equals_serial(fresh_serial, tmp_path):
    with Store(tmp_path / "dask.db") as store, DaskExecutor(local_workers=2) as executor:
        run_sweep(parse_spec(NETWORKS), store, executor, progress=False)
    pd.testing.assert_frame_equal(_traces(tmp_path / "dask.db"), fresh_serial, check_exact=True)


def test_killed_and_completed_equals_serial(fresh_serial, spec_path, tmp_path):
    db = tmp_path / "killed.db"
    process = _sgdlab("run", spec_path, "--db", str(db), "--jobs", "2", "--no-progress")
    deadline = time.monotonic() + 300
    while _stored(db) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers
    process.wait()
    assert 2 <= _stored(db) < RUNS, "the kill came too late to interrupt the sweep"
    again = _sgdlab("run", spec_path, "--db", str(db), "--jobs", "2", "--no-progress")
    assert again.wait(timeout=600) == 0, again.stderr.read().decode()
    pd.testing.assert_frame_equal(_traces(db), fresh_serial, check_exact=True)


def _threads_seen_by_a_run(config):
    """Stands in for `execute_run` in a worker: what a network run there would see (numba: one thread inside)."""
    seen = {"omp": os.environ.get("OMP_NUM_THREADS"), "torch_loaded_before": "torch" in sys.modules}
    with execute_module._single_threaded(needs_torch=True):
        import numba
        import torch

        seen["torch_threads"], seen["numba_threads"] = torch.get_num_threads(), numba.get_num_threads()
    return {"key": config.key, **seen}


def test_a_fresh_worker_pins_its_threads_before_torch_loads():
    config = Plan(parse_spec(NETWORKS)).main_runs({})[0]
    with ProcessExecutor(jobs=1, fn=_threads_seen_by_a_run) as executor:
        (seen,) = executor.map_unordered([config])
    assert seen == {"key": config.key, "omp": "1", "torch_loaded_before": False, "torch_threads": 1,
                    "numba_threads": 1}  # fmt: skip
