"""Experiments: declarative specs, grids with tuning, executors (serial, processes, Dask), an SQLite store."""

from sgdlab.experiments.executors import DaskExecutor, Executor, ProcessExecutor, SerialExecutor
from sgdlab.experiments.grid import Plan, RunConfig
from sgdlab.experiments.spec import Spec, SpecError
from sgdlab.experiments.store import Store
from sgdlab.experiments.sweep import SweepReport, run_sweep
from sgdlab.experiments.validate import load_spec, parse_spec

__all__ = [
    "DaskExecutor", "Executor", "Plan", "ProcessExecutor", "RunConfig", "SerialExecutor", "Spec", "SpecError",
    "Store", "SweepReport", "load_spec", "parse_spec", "run_sweep",
]  # fmt: skip
