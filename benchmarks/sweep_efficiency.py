"""Parallel efficiency of a 40-run sweep: serial (one process) vs a pool of 2 worker processes.

    python benchmarks/sweep_efficiency.py [--pairs 3]

Efficiency = T_serial / (workers · T_parallel), both wall times of the whole `sgdlab run` command (start-up,
spawning workers and storing results included). The two sides are timed alternately, each on a fresh
database, and the median of the per-pair efficiencies is reported. Results go to
benchmarks/results/sweep_efficiency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
name = "efficiency"
seeds = 10
batch_size = 1

[budget]
epochs = 20

[record]
points_per_decade = 10

[[problems]]
name = "logistic"
type = "LogisticRegression"
params = { l2 = 1e-3 }
data = { source = "classification", n = 5000, dim = 50, cond = 100.0, seed = 0 }

[[methods]]
type = "SGD"

[[methods]]
type = "Momentum"

[[methods]]
type = "Adam"

[[methods]]
type = "RMSProp"
"""


def timed_sweep(spec: Path, jobs: int, folder: Path) -> float:
    db = folder / f"jobs{jobs}-{time.monotonic_ns()}.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "sgdlab", "run", str(spec), "--db", str(db), "--jobs", str(jobs), "--no-progress"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = folder / "spec.toml"
        spec.write_text(SPEC)
        os.environ.setdefault("SGDLAB_CACHE_DIR", str(folder / "cache"))
        timed_sweep(spec, 1, folder)  # warm-up: certify the optimum once, fill OS caches
        pairs = []
        for _ in range(args.pairs):
            serial = timed_sweep(spec, 1, folder)
            parallel = timed_sweep(spec, args.workers, folder)
            pairs.append({"serial_s": serial, "parallel_s": parallel, "efficiency": serial / (args.workers * parallel)})
            print(
                f"serial {serial:6.1f} s   {args.workers} workers {parallel:6.1f} s   "
                f"efficiency {pairs[-1]['efficiency']:.3f}"
            )
    result = {
        "benchmark": "40-run sweep, serial vs process pool",
        "workers": args.workers,
        "median_efficiency": statistics.median(p["efficiency"] for p in pairs),
        "pairs": pairs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    print(f"median parallel efficiency: {result['median_efficiency']:.3f}")
    out = Path(__file__).parent / "results" / "sweep_efficiency.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
