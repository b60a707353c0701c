"""Benchmark B4: an epoch over a memory-mapped n = 10^7, dim = 32 float32 dataset vs the same data in memory.

    python benchmarks/b4_memmap.py [--n 10000000] [--pairs 7] [--sgd-iters 200000] [--uniform-iters 20000]

Writes a classification dataset (float32 A, 1.28 GB, and int64 labels) block by block to a temporary folder,
then times, alternately on the memory-mapped and the in-memory dataset (``LogisticRegression``, float32
iterates):

* a streamed epoch: one full gradient (``GD``, one pass over all n rows in blocks);
* per-sample SGD with ``sampler="blocks"`` (blocks in random order, rows in random order within each block; the
  same indices on both sides): ``--sgd-iters`` iterations, several blocks' worth, so the memory-mapped side pays
  for reading each block it visits; its rows per second give the time of a per-sample epoch;
* for reference, per-sample SGD with ``sampler="uniform"`` (every iteration reads one random row from disk).

Times are the engine's ``time_s`` (iterations only, no checkpoint evaluations); the wall time of each whole
``sgdlab.run`` call, which adds two full-pass loss evaluations, is reported too. Peak RSS (VmHWM) of a
memory-mapped run is measured in fresh processes for n = 10^6 and 10^7: after per-sample SGD with both samplers,
then after the streamed epoch as well. BLAS runs on one thread, as in sweeps. The load average is recorded
before and after. The folder is deleted afterwards.
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


def sgd(problem, iters: int, seed: int, sampler: str = "blocks"):
    return sl.run(
        problem, sl.methods.SGD(lr=SGD_LR), iters=iters, sampler=sampler, seed=seed, dtype=np.float32,
        record=("loss",), points_per_decade=None,
    )  # fmt: skip


def engine_path(problem, kind: str) -> str:
    """Which segment the engine runs for per-sample SGD with sampler ``kind`` on ``problem``."""
    try:
        from sgdlab.engine.compiled import segment_for
        from sgdlab.engine.samplers import Sampler
    except ImportError:
        return "python (this build has no compiled segments)"
    sampler = Sampler.for_problem(kind, problem, 1, np.random.default_rng(0))
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
b4.sgd(prob, int(sys.argv[3]), 0, "blocks")
b4.sgd(prob, int(sys.argv[5]), 0, "uniform")
after_sgd = status("VmHWM")  # per-sample SGD (and the runs' full-pass loss evaluations) only
b4.epoch(prob)
print(json.dumps({"after_import": after_import, "peak_VmHWM_sgd": after_sgd, "peak_VmHWM": status("VmHWM"),
                  "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def peak_rss(A_path: Path, y_path: Path, sgd_iters: int, uniform_iters: int) -> dict:
    here = str(Path(__file__).parent)
    out = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(A_path), str(y_path), str(sgd_iters), here, str(uniform_iters)],
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
    parser.add_argument("--sgd-iters", type=int, default=200_000, help="per-sample SGD iterations, blocks sampler")
    parser.add_argument("--uniform-iters", type=int, default=20_000, help="the same with the uniform sampler")
    parser.add_argument("--dir", default=None, help="where to write the temporary files (default: system temp)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sgdlab-b4-", dir=args.dir))
    load_before = os.getloadavg()
    print(f"load average before: {load_before}")
    try:
        started = time.perf_counter()
        A_path, y_path = write_dataset(folder, args.n)
        write_s = time.perf_counter() - started
        size = A_path.stat().st_size + y_path.stat().st_size
        print(f"wrote n={args.n:,} × {DIM} float32 ({size / 2**30:.2f} GiB) in {write_s:.1f} s")

        rss = {}
        small = write_dataset(folder, args.small_n, seed=1)
        for n, paths in ((args.small_n, small), (args.n, (A_path, y_path))):
            rss[n] = peak_rss(*paths, args.sgd_iters, args.uniform_iters)
            print(f"peak RSS, memory-mapped runs, n={n:,}: per-sample SGD {rss[n]['peak_VmHWM_sgd'] / 2**20:.0f} MiB, "
                  f"then with the streamed epoch {rss[n]['peak_VmHWM'] / 2**20:.0f} MiB")  # fmt: skip

        started = time.perf_counter()
        disk = sl.problems.LogisticRegression(sl.data.load_npy(A_path, y_path, mmap=True), l2=1e-6)
        open_s = time.perf_counter() - started
        memory = sl.problems.LogisticRegression(sl.data.load_npy(A_path, y_path), l2=1e-6)
        paths = {f"{side}, {kind}": engine_path(problem, kind) for side, problem in (("memmap", disk),
                 ("in_memory", memory)) for kind in ("blocks", "uniform")}  # fmt: skip
        print(f"opened (one validating pass) in {open_s:.1f} s; engine segments: {paths}")

        rows = []
        ep = compare(lambda: epoch(disk), lambda: epoch(memory), args.pairs)
        ep.update(workload="epoch: one full gradient (GD), streamed in blocks", rows=args.n)
        rows.append(ep)
        print(f"epoch: memmap {ep['memmap_s']:.3f} s, in memory {ep['in_memory_s']:.3f} s, "
              f"ratio {ep['ratio_memmap_over_in_memory']:.2f}")  # fmt: skip

        seeds = iter(range(10**6))
        for kind, iters in (("blocks", args.sgd_iters), ("uniform", args.uniform_iters)):
            sg = compare(
                lambda kind=kind, iters=iters: sgd(disk, iters, next(seeds), kind),
                lambda kind=kind, iters=iters: sgd(memory, iters, next(seeds), kind),
                args.pairs,
            )
            sg.update(workload=f"per-sample SGD, {kind} sampler, {iters} iterations", rows=iters)
            sg["epoch_estimate_s"] = {key: args.n * sg[key] / iters for key in ("memmap_s", "in_memory_s")}
            rows.append(sg)
            rates = [iters / sg[key] for key in ("memmap_s", "in_memory_s")]
            print(f"per-sample SGD, {kind}: memmap {rates[0]:,.0f} rows/s, in memory {rates[1]:,.0f} rows/s, "
                  f"ratio {sg['ratio_memmap_over_in_memory']:.2f}")  # fmt: skip
        for row in rows:
            row["memmap_rows_per_s"] = row["rows"] / row["memmap_s"]
            row["in_memory_rows_per_s"] = row["rows"] / row["in_memory_s"]

        out = harness.save(
            "b4_memmap",
            "B4: epochs over a memory-mapped n=10^7, dim=32 float32 dataset vs in memory (streamed full gradient; "
            "per-sample SGD, blocks sampler); peak RSS",
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
            load_average={"before": load_before, "after": os.getloadavg()},
        )
        print(f"saved {out}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
