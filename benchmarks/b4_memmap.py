"""Benchmark B4: an epoch over a memory-mapped n = 10^7, dim = 32 float32 dataset vs the same data in memory.

    python benchmarks/b4_memmap.py [--n 10000000] [--pairs 7] [--sgd-iters 20000]

Writes a classification dataset (float32 A, 1.28 GB, and int64 labels) block by block to a temporary folder,
then times, alternately on the memory-mapped and the in-memory dataset (``LogisticRegression``, float32
iterates):

* a streamed epoch: one full gradient (``GD``, one pass over all n rows in blocks);
* per-sample SGD (``sampler="uniform"``): a fixed number of iterations, each reading one random row.

Times are the engine's ``time_s`` (iterations only, no checkpoint evaluations); the wall time of each whole
``sgdlab.run`` call, which adds two full-pass loss evaluations, is reported too. Peak RSS of a memory-mapped run
is measured in fresh processes for n = 10^6 and 10^7. BLAS runs on one thread, as in sweeps. The folder is
deleted afterwards.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads BLAS: one thread, as sweeps run
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import harness

import sgdlab as sl

DIM = 32
CHUNK = 1 << 18
GD_LR, SGD_LR = 1.0, 0.01


def write_dataset(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """Gaussian features with scales 1..0.1 and noisy linear labels, written chunk by chunk."""
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 0.1, DIM).astype(np.float32)
    w = rng.standard_normal(DIM).astype(np.float32)

    def chunks():
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            A = rng.standard_normal((m, DIM), dtype=np.float32) * scales
            yield A, np.where(A @ w + rng.standard_normal(m, dtype=np.float32) >= 0, 1, -1)

    A_path, y_path = folder / f"A{n}.npy", folder / f"y{n}.npy"
    sl.data.write_npy(A_path, y_path, chunks())
    return A_path, y_path


def epoch(problem):
    return sl.run(problem, sl.methods.GD(lr=GD_LR), iters=1, dtype=np.float32, record=("loss",))


def sgd(problem, iters: int, seed: int):
    return sl.run(
        problem, sl.methods.SGD(lr=SGD_LR), iters=iters, sampler="uniform", seed=seed, dtype=np.float32,
        record=("loss",), points_per_decade=None,
    )  # fmt: skip


def engine_path(problem) -> str:
    """Which segment the engine runs for per-sample SGD on ``problem``."""
    try:
        from sgdlab.engine.compiled import segment_for
        from sgdlab.engine.samplers import Sampler
    except ImportError:
        return "python (this build has no compiled segments)"
    sampler = Sampler("uniform", problem.n, 1, np.random.default_rng(0))
    method = sl.methods.SGD(lr=SGD_LR).resolve(problem, 1, 1)
    return "python" if segment_for(method, problem, sampler) is None else "compiled"


RSS_CHILD = """
import os, sys, json, resource
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, sys.argv[4])
import numpy as np, sgdlab as sl
import b4_memmap as b4

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

after_import = status("VmRSS")
data = sl.data.load_npy(sys.argv[1], sys.argv[2], mmap=True)
prob = sl.problems.LogisticRegression(data, l2=1e-6)
b4.epoch(prob)
b4.sgd(prob, int(sys.argv[3]), 0)
print(json.dumps({"after_import": after_import, "peak_VmHWM": status("VmHWM"),
                  "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def peak_rss(A_path: Path, y_path: Path, sgd_iters: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(A_path), str(y_path), str(sgd_iters), str(Path(__file__).parent)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(ours_run, theirs_run, pairs: int) -> dict:
    """Alternate the two sides with the harness; also keep the engine's own time of each run."""
    engine = {"ours": [], "theirs": []}

    def side(run, key):
        def call():
            engine[key].append(run().time_s[-1])

        return call

    wall = harness.alternate(side(ours_run, "ours"), side(theirs_run, "theirs"), pairs=pairs)
    ours, theirs = engine["ours"][-pairs:], engine["theirs"][-pairs:]  # after the warm-up
    return {
        "ratio_memmap_over_in_memory": statistics.median(t / o for o, t in zip(ours, theirs, strict=True)),
        "memmap_s": statistics.median(ours),
        "in_memory_s": statistics.median(theirs),
        "wall_ratio": wall["speedup"],
        "engine_pairs_s": list(zip(ours, theirs, strict=True)),
        "wall_pairs_s": wall["pairs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--small-n", type=int, default=1_000_000, help="second size for the RSS comparison")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--sgd-iters", type=int, default=20_000)
    parser.add_argument("--dir", default=None, help="where to write the temporary files (default: system temp)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sgdlab-b4-", dir=args.dir))
    try:
        started = time.perf_counter()
        A_path, y_path = write_dataset(folder, args.n)
        write_s = time.perf_counter() - started
        size = A_path.stat().st_size + y_path.stat().st_size
        print(f"wrote n={args.n:,} × {DIM} float32 ({size / 2**30:.2f} GiB) in {write_s:.1f} s")

        rss = {}
        small = write_dataset(folder, args.small_n, seed=1)
        for n, paths in ((args.small_n, small), (args.n, (A_path, y_path))):
            rss[n] = peak_rss(*paths, args.sgd_iters)
            print(f"peak RSS, memory-mapped run, n={n:,}: {rss[n]['peak_VmHWM'] / 2**20:.0f} MiB")

        started = time.perf_counter()
        disk = sl.problems.LogisticRegression(sl.data.load_npy(A_path, y_path, mmap=True), l2=1e-6)
        open_s = time.perf_counter() - started
        memory = sl.problems.LogisticRegression(sl.data.load_npy(A_path, y_path), l2=1e-6)
        paths = {"memmap": engine_path(disk), "in_memory": engine_path(memory)}
        print(f"opened (one validating pass) in {open_s:.1f} s; engine segments: {paths}")

        rows = []
        ep = compare(lambda: epoch(disk), lambda: epoch(memory), args.pairs)
        ep.update(workload="epoch: one full gradient (GD), streamed in blocks", rows=args.n)
        rows.append(ep)
        print(f"epoch: memmap {ep['memmap_s']:.3f} s, in memory {ep['in_memory_s']:.3f} s, "
              f"ratio {ep['ratio_memmap_over_in_memory']:.2f}")  # fmt: skip

        seeds = iter(range(10**6))
        sg = compare(
            lambda: sgd(disk, args.sgd_iters, next(seeds)), lambda: sgd(memory, args.sgd_iters, next(seeds)), args.pairs
        )
        sg.update(workload=f"per-sample SGD, uniform sampler, {args.sgd_iters} iterations", rows=args.sgd_iters)
        rows.append(sg)
        rates = [args.sgd_iters / sg[key] for key in ("memmap_s", "in_memory_s")]
        rates = [args.sgd_iters / sg[key] for key in ("memmap_s", "in_memory_s")]
        print(f"per-sample SGD: memmap {rates[0]:,.0f} rows/s, in memory {rates[1]:,.0f} rows/s, "
              f"ratio {sg['ratio_memmap_over_in_memory']:.2f}")  # fmt: skip
        for row in rows:
            row["memmap_rows_per_s"] = row["rows"] / row["memmap_s"]
            row["in_memory_rows_per_s"] = row["rows"] / row["in_memory_s"]

        out = harness.save(
            "b4_memmap",
            "B4: epoch over a memory-mapped n=10^7, dim=32 float32 dataset vs in memory; peak RSS",
            rows,
            n=args.n,
            dim=DIM,
            file_bytes=size,
            write_s=write_s,
            open_validate_s=open_s,
            engine_segments=paths,
            blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"),
            block_rows=disk.data.block_rows,
            peak_rss_bytes={str(n): v for n, v in rss.items()},
            targets={"ratio": 0.8, "peak_rss_bytes": 2**30},
        )
        print(f"saved {out}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
