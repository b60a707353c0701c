"""Sweeps with real components: an SQLite file, a process pool, a Dask LocalCluster, a killed process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from sgdlab.cli import main
from sgdlab.experiments import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    Store,
    parse_spec,
    run_sweep,
)
from sgdlab.experiments.execute import execute_run
from sgdlab.experiments.grid import Plan

SMALL = {
    "name": "small",
    "seeds": 2,
    "budget": {"epochs": 2},
    "record": {"points_per_decade": 10},
    "problems": [
        {"name": "logistic", "type": "LogisticRegression", "params": {"l2": 1e-2},
         "data": {"source": "classification", "n": 200, "dim": 5, "seed": 1, "test_size": 0.25}},
        {"name": "quadratic", "type": "Quadratic2D", "params": {"kappa": 10.0}},
    ],
    "methods": [
        {"type": "SGD"},
        {"type": "SAGA"},
        {"type": "Adam", "params": {"lr": [0.003, 0.03]}, "tune": {"param": "lr", "seeds": [0]}},
    ],
}  # fmt: skip


def spec_toml(path, doc) -> str:
    """Write ``doc`` as TOML (JSON-compatible values only) and return the path."""

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(v)

    def is_table_list(v):
        return isinstance(v, list) and bool(v) and isinstance(v[0], dict)

    lines = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict) and not is_table_list(v)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines += [f"[{k}]", *(f"{a} = {value(b)}" for a, b in v.items())]
    for k, v in doc.items():
        if is_table_list(v):
            for item in v:
                lines += [f"[[{k}]]", *(f"{a} = {value(b)}" for a, b in item.items())]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def traces_without_time(store: Store) -> pd.DataFrame:
    frame = store.traces().drop(columns=["time_s"])
    return frame[sorted(frame.columns)].sort_values(["run_key", "iters"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def serial_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "results.db"
    with Store(path) as store:
        report = run_sweep(parse_spec(SMALL), store, SerialExecutor(), progress=False)
    return path, report


def test_a_sweep_stores_every_run_once(serial_db):
    path, report = serial_db
    plan = Plan(parse_spec(SMALL))
    assert report.planned == len(plan.tuning_runs) + plan.main_count == 2 * (2 + 2 + 2) + 2 * 2
    # the seed-0 run at the tuned lr is shared by both phases, so one fewer run is executed
    assert report.executed == report.planned - 2 and report.failed == 0 and not report.interrupted
    with Store(path) as store:
        runs = store.runs()
        assert len(runs) == report.executed and runs["run_key"].is_unique
        assert set(runs["status"]) == {"budget"}
        main = runs[runs["phase"] == "main"]
        assert main.groupby(["problem", "label"]).size().eq(2).all()  # every method: 2 seeds
        assert store.integrity_ok()
        assert store.runs("WHERE problem = 'logistic'")["final_test_accuracy"].notna().all()


def test_the_store_keeps_each_runs_final_iterate(serial_db, tmp_path):
    path, _ = serial_db
    config = Plan(parse_spec(SMALL)).tuning_runs[0]
    direct = execute_run(config)
    with Store(path) as store:
        kept = store.final_x(config.key)
        assert kept is not None and kept.tolist() == direct["x"]
        with pytest.raises(KeyError, match="no trace"):
            store.final_x("no-such-run")
    old = tmp_path / "old.db"  # a store written before final iterates were kept opens and gains the column
    with sqlite3.connect(old) as raw:
        raw.execute("CREATE TABLE traces (run_key TEXT PRIMARY KEY, columns TEXT NOT NULL)")
        raw.execute("INSERT INTO traces VALUES ('k', '{}')")
    with Store(old) as store:
        assert store.final_x("k") is None


def test_running_the_same_spec_again_executes_nothing(serial_db):
    path, first = serial_db
    with Store(path) as store:
        again = run_sweep(parse_spec(SMALL), store, SerialExecutor(), progress=False)
    assert again.executed == 0 and again.skipped == first.planned


def test_failed_and_diverged_runs_are_recorded_and_the_sweep_goes_on(tmp_path):
    broken = {"name": "broken", "type": "NonconvexPL", "data": {"source": "regression", "n": 50, "dim": 5}}
    doc = {**SMALL, "problems": [SMALL["problems"][0], broken], "seeds": 1,
           "methods": [{"type": "SGD", "params": {"lr": [0.1, 1e4]}}]}  # fmt: skip
    with Store(tmp_path / "r.db") as store:
        report = run_sweep(parse_spec(doc), store, SerialExecutor(), progress=False)
        runs = store.runs()
        assert report.failed == 2 and report.diverged == 1 and report.executed == 4
        errors = runs[runs["status"] == "error"]
        assert errors["error"].str.contains("over-parametrised").all()
        diverged = runs[runs["status"] == "diverged"].iloc[0]
        assert diverged["diverged_at"] > 0 and diverged["problem"] == "logistic"
        # failed runs are retried by the next sweep; finished ones are not
        again = run_sweep(parse_spec(doc), store, SerialExecutor(), progress=False)
        assert again.executed == 2 and again.skipped == 2


def test_process_pool_gives_bit_identical_results(serial_db, tmp_path):
    with Store(tmp_path / "pool.db") as store, ProcessExecutor(jobs=2) as executor:
        run_sweep(parse_spec(SMALL), store, executor, progress=False)
        pool = traces_without_time(store)
    with Store(serial_db[0]) as store:
        pd.testing.assert_frame_equal(pool, traces_without_time(store), check_exact=True)


def test_dask_local_cluster_gives_bit_identical_results(serial_db, tmp_path):
    with Store(tmp_path / "dask.db") as store, DaskExecutor(local_workers=2) as executor:
        assert executor.client.scheduler_info()["address"].startswith("tcp://127.0.0.1")
        run_sweep(parse_spec(SMALL), store, executor, progress=False)
        dask = traces_without_time(store)
    with Store(serial_db[0]) as store:
        pd.testing.assert_frame_equal(dask, traces_without_time(store), check_exact=True)


class _InterruptAfter(Executor):
    """Delivers ``n`` results, then behaves as if the user pressed Ctrl-C."""

    def __init__(self, n: int) -> None:
        self.n = n

    def map_unordered(self, configs):
        for i, config in enumerate(configs):
            if i == self.n:
                raise KeyboardInterrupt
            yield execute_run(config)


def test_ctrl_c_keeps_finished_runs_and_a_rerun_completes(serial_db, tmp_path):
    with Store(tmp_path / "r.db") as store:
        report = run_sweep(parse_spec(SMALL), store, _InterruptAfter(3), progress=False)
        assert report.interrupted and report.executed == 3
        assert len(store.runs()) == 3
        rest = run_sweep(parse_spec(SMALL), store, SerialExecutor(), progress=False)
        assert rest.executed == 14 - 3 and not rest.interrupted
        resumed = traces_without_time(store)
    with Store(serial_db[0]) as store:
        pd.testing.assert_frame_equal(resumed, traces_without_time(store), check_exact=True)


def _count_finished(path) -> int:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT count(*) FROM runs WHERE status = 'budget'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_a_sweep_killed_with_sigkill_loses_and_duplicates_nothing(tmp_path):
    """Start a real sweep process, SIGKILL it after some runs finished, resume: the result equals an
    uninterrupted sweep, with no run lost and none stored twice."""
    doc = {**SMALL, "seeds": 4, "budget": {"epochs": 6}}
    spec_path = spec_toml(tmp_path / "spec.toml", doc)
    killed_db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "sgdlab", "run", spec_path, "--jobs", "1", "--no-progress"]
    process = subprocess.Popen(
        [*command, "--db", str(killed_db)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while _count_finished(killed_db) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the sweep ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    finished_before = _count_finished(killed_db)
    planned = Plan(parse_spec(doc))
    assert 4 <= finished_before < len(planned.tuning_runs) + planned.main_count - 2

    subprocess.run([*command, "--db", str(killed_db)], env=env, check=True, capture_output=True, timeout=120)
    with Store(tmp_path / "clean.db") as clean, Store(killed_db) as resumed:
        run_sweep(parse_spec(doc), clean, SerialExecutor(), progress=False)
        assert resumed.integrity_ok()
        keys = resumed.runs()["run_key"]
        assert keys.is_unique and set(keys) == set(clean.runs()["run_key"])  # 0 lost, 0 duplicated
        pd.testing.assert_frame_equal(traces_without_time(resumed), traces_without_time(clean), check_exact=True)


def test_cli_commands_end_to_end(tmp_path):
    spec_path = spec_toml(tmp_path / "spec.toml", SMALL)
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(main, ["run", spec_path, "--db", db, "--jobs", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "sweep complete: 14 runs executed" in result.output
    listing = runner.invoke(main, ["ls", db])
    assert listing.exit_code == 0 and "12 runs: 12 budget" in listing.output
    key = listing.output.splitlines()[1].split()[0]
    shown = runner.invoke(main, ["show", db, key])
    assert shown.exit_code == 0 and '"seed"' in shown.output and "subopt" in shown.output
    for fmt in ("csv", "parquet"):
        exported = runner.invoke(main, ["export", db, "--format", fmt, "--out", str(tmp_path / fmt)])
        assert exported.exit_code == 0, exported.output
        reader = pd.read_csv if fmt == "csv" else pd.read_parquet
        assert len(reader(tmp_path / fmt / f"runs.{fmt}")) == 14
        assert {"run_key", "iters", "loss", "label", "seed"} <= set(reader(tmp_path / fmt / f"traces.{fmt}"))
    report = runner.invoke(main, ["report", db, "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    (figure,) = (tmp_path / "report").glob("*--logistic-*.png")  # keyed by experiment and problem
    assert figure.stat().st_size > 10_000
    assert "<img" in (tmp_path / "report" / "index.html").read_text()


def test_report_figures_are_keyed_by_experiment_and_problem(tmp_path):
    """Problems sharing a name in two experiments get a figure each; names a/b and a_b do not collide."""
    from sgdlab.experiments.report import _curve_names, figure_name

    names = {figure_name("e1", "h1", "logistic-l2"), figure_name("e2", "h2", "logistic-l2"),
             figure_name("e1", "h1", "a/b"), figure_name("e1", "h1", "a_b")}  # fmt: skip
    assert len(names) == 4 and all(n.endswith(".png") and "/" not in n for n in names)
    runs = pd.DataFrame({"label": ["SGD", "SGD"], "hyperparameters": [{}, {}], "batch_size": [1, 4]})
    assert list(_curve_names(runs)) == ["SGD (b=1)", "SGD (b=4)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.toml"], "file not found"),
        (["ls", "missing.db"], "no results database"),
        (["show", "{db}", "zzzz"], "no run with a key starting with 'zzzz'"),
        (["run", "{spec}", "--scheduler", "tcp://127.0.0.1:1", "--dask-local", "2"], "not both"),
    ],
)
def test_cli_errors_are_clear(tmp_path, args, message):
    spec_path = spec_toml(tmp_path / "spec.toml", SMALL)
    db = tmp_path / "empty.db"
    Store(db).close()
    args = [a.format(db=db, spec=spec_path) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and message in result.output, result.output


def test_invalid_spec_on_the_command_line_lists_the_mistakes(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nsampler = "sometimes"\n[budget]\nepochs = -1\n')
    result = CliRunner().invoke(main, ["run", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "sampler: Input should be" in result.output and "budget.epochs" in result.output
    assert not (tmp_path / "x.db").exists()  # nothing ran, nothing was created
