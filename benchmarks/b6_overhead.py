"""B6, part 2: what measuring costs in a default run — wall time over ``time_s`` (the optimisation's time) —
and the bandwidth of the checkpoint pass.

    python benchmarks/b6_overhead.py [--pairs 5]

``sl.run(prob, SGD(lr=0.01), epochs=E)`` on logistic regression, n = 100,000, dim = 100, per-sample steps,
every other argument left at its default, for E = 1 and 10; the certified optimum and the numba kernels are
warmed first, so the figures are the steady state a user meets from the second run on.

The checkpoint pass (`sgdlab.engine.metrics`): loss and gradient from the separate passes (``problem.loss``
then ``problem.grad``), from shared scores (NumPy) and from the fused numba pass, timed alternately; its
bandwidth is the bytes of the design over the time of the pass `sl.run` uses (`metrics.loss_and_grad`: the
fused pass, dense and CSR), against a STREAM triad ``a = b + s·c`` (float64, 3 arrays of 160 MB, on numba's
threads as the pass, counted 3 × 8 bytes per element) measured before and after the designs in the same run;
every time there is the best of its repeats. Beside it, the time of the two products the separate passes hand
to BLAS (scipy's sparse products on CSR): `A @ X` and `Aᵀ @ S`, S of the scores' shape — the work of the pass
without its links, at the libraries' speed. A pass that is compute-bound rather than memory-bound (softmax: K dot
products and K axpys per row) is measured against that: its fraction of triad is bounded by the products'. And
the same pass over only the design's first rows (in cache), scaled to all of them: how much faster the pass
would be if reading the design cost nothing (`in_cache_speedup`; near 1: the memory is not what bounds it).
And its roofline: the machine's multiply-add peak, measured the same way (numba, the same threads: Horner
chains over an array in the L1 cache, as fast as the compiler's vectors go), gives the time the pass's
2 × K multiply-adds per stored element (scores and gradient) need at the least; the larger of that and the
design's bytes at the triad's speed is the fastest the pass could run (`roofline_s`), and
`fraction_of_roofline` how near it comes. Softmax's K = 10 needs more time for its arithmetic than for its
bytes at that peak: its fraction of triad cannot reach the roofline's. numba compiles for the host's CPU with
LLVM's tuning for it, which on Intel's AVX-512 Xeons keeps 256-bit vectors; `widest_multiply_adds_per_s` is the
same peak measured with that preference off (512-bit vectors, where the CPU has them), and
`fraction_of_widest_roofline` the pass's fraction of the roofline it gives — what the CPU could do, not what
numba's code for it does.
Prints one JSON object (the overheads: medians over ``--pairs`` repetitions); `b6_reproduce.py` stores it.
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

import numba
import numpy as np
import scipy.sparse as sp

import sgdlab as sl
from sgdlab.data import Dataset
from sgdlab.engine import metrics


@numba.njit(cache=True, parallel=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n: int = 20_000_000, repeats: int = 7) -> float:
    a, b, c = (np.full(n, v) for v in (0.0, 1.0, 2.0))
    return 3 * n * 8 / _best_time(lambda: _triad(a, b, c, 3.0), repeats)


@numba.njit(cache=True, parallel=True, fastmath={"contract"})
def _horner(x, y, c, rounds):
    for t in numba.prange(x.shape[0]):
        u, v = x[t], y[t]
        for _ in range(rounds):
            for i in range(u.size):  # vectorised over i; 16 dependent multiply-adds each, chains interleaved
                a = u[i]
                p = a * c + c
                for _k in range(15):
                    p = p * a + c
                v[i] = p


def multiply_add_peak(rounds: int = 20_000, repeats: int = 7) -> float:
    """Multiply-adds per second of numba's code on all its threads: 16 per element of a 512-element array each
    thread keeps in its L1 cache."""
    x = np.full((numba.get_num_threads(), 512), 0.5)
    y = np.zeros_like(x)
    return 16 * x.size * rounds / _best_time(lambda: _horner(x, y, 0.25, rounds), repeats)


def widest_multiply_add_peak() -> float | None:
    """`multiply_add_peak` of code allowed the CPU's widest vectors: numba compiles for the host's CPU, whose
    LLVM tuning may keep 256-bit vectors on a CPU that has 512-bit ones (Intel's AVX-512 Xeons: `prefer-256-bit`);
    a fresh process with that preference turned off (its own numba cache) measures what the CPU could do.
    `None` where the host has no wider vectors: numba's code already uses its widest."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    features = llvm.get_host_cpu_features().flatten()
    if platform.machine().lower() not in ("x86_64", "amd64") or "+avx512f" not in features.split(","):
        return None
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CPU_FEATURES": features + ",-prefer-256-bit", "NUMBA_CACHE_DIR": cache}
        code = "import b6_overhead; print(b6_overhead.multiply_add_peak())"
        rates = []
        for _ in range(3):  # the best of three processes, as each takes the best of its repeats
            out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, env=env, check=True,
                                 capture_output=True, text=True)  # fmt: skip
            rates.append(float(out.stdout.split()[-1]))
    return max(rates)


def _multiply_adds(prob) -> int:
    """The pass's multiply-adds: one for the scores and one for the gradient per stored element and output."""
    A = prob.A
    stored = A.nnz if sp.issparse(A) else A.size
    return 2 * stored * prob.n_outputs


def _best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls after a warm-up (STREAM's convention: the best rate; these machines are
    shared, and a slower call measures the neighbours)."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def pass_bandwidth(repeats: int = 11) -> dict:
    """Separate passes, shared scores and the fused pass on four designs; the fused pass's bytes/s vs the triad."""
    dense = sl.data.make_classification(n=100_000, dim=100, cond=10.0, seed=0)
    sparse = sl.data.make_classification(n=100_000, dim=2000, density=0.02, seed=1)
    classes = sl.data.make_classification(n=100_000, dim=50, n_classes=10, seed=2)
    problems = {
        "logistic dense 1e5 x 100": sl.problems.LogisticRegression(dense, l2=1e-3),
        "least squares dense 1e5 x 100": sl.problems.LeastSquares(Dataset(dense.A, dense.y.astype(float))),
        "logistic CSR 1e5 x 2000, 2 %": sl.problems.LogisticRegression(sparse, l2=1e-3),
        "softmax dense 1e5 x 50, K = 10": sl.problems.SoftmaxRegression(classes, l2=1e-3),
    }
    triad_before = triad_bandwidth()
    rows = []
    for name, prob in problems.items():
        x = 0.1 * np.random.default_rng(3).standard_normal(prob.dim)
        sides = {"separate": lambda prob=prob, x=x: (prob.loss(x), prob.grad(x)),
                 "shared_scores": lambda prob=prob, x=x: metrics.shared_scores(prob, x),
                 "fused": lambda prob=prob, x=x: metrics.fused_pass(prob, x),
                 "engine": lambda prob=prob, x=x: metrics.loss_and_grad(prob, x)}  # fmt: skip
        times = {k: [] for k in sides}
        for _ in range(3):  # alternated rounds
            for key, fn in sides.items():
                times[key].append(_best_time(fn, repeats))
        t = {k: statistics.median(v) for k, v in times.items()}
        nbytes = metrics.design_bytes(prob)
        products = _products_time(prob, x, repeats)
        in_cache = _in_cache_time(prob, x, repeats)
        rows.append({"problem": name, "design_bytes": nbytes, **{f"{k}_s": v for k, v in t.items()},
                     "speedup_fused_vs_separate": t["separate"] / t["fused"],
                     "speedup_shared_vs_separate": t["separate"] / t["shared_scores"],
                     "fused_bytes_per_s": nbytes / t["fused"], "engine_bytes_per_s": nbytes / t["engine"],
                     "engine_path": "fused", "blas_products_s": products,
                     "engine_vs_blas_products": products / t["engine"], "in_cache_s": in_cache,
                     "in_cache_speedup": t["engine"] / in_cache})  # fmt: skip
    triad = statistics.median([triad_before, triad_bandwidth()])
    peak = multiply_add_peak()
    widest = widest_multiply_add_peak() or peak
    for row, prob in zip(rows, problems.values(), strict=True):
        row["fraction_of_triad"] = row["engine_bytes_per_s"] / triad  # the pass sl.run uses
        row["blas_products_fraction_of_triad"] = row["design_bytes"] / row["blas_products_s"] / triad
        row["multiply_adds"] = _multiply_adds(prob)
        row["roofline_s"] = max(row["design_bytes"] / triad, row["multiply_adds"] / peak)
        row["fraction_of_roofline"] = row["roofline_s"] / row["engine_s"]
        row["widest_roofline_s"] = max(row["design_bytes"] / triad, row["multiply_adds"] / widest)
        row["fraction_of_widest_roofline"] = row["widest_roofline_s"] / row["engine_s"]
    return {"triad_bytes_per_s": triad, "multiply_adds_per_s": peak, "widest_multiply_adds_per_s": widest,
            "rows": rows}  # fmt: skip


def _products_time(prob, x: np.ndarray, repeats: int) -> float:
    """The best time of BLAS's (scipy's, on CSR) `A @ X` then `Aᵀ @ S` for `prob`'s design, `X` shaped as
    the problem's weights (`features × K`) and `S` as its scores."""
    A = prob.A
    X = x.reshape(A.shape[1], -1) if prob.n_outputs > 1 else x
    S = np.asarray(A @ X)
    return _best_time(lambda: (A @ X, A.T @ S), repeats)


def _in_cache_time(prob, x: np.ndarray, repeats: int) -> float:
    """The best time of the fused pass over only the design's first `threads × ROW_BLOCK` rows (a block per
    thread, a few MB: in cache from the second call on), scaled to all its rows: what the pass would take if
    reading the design cost nothing. Near the pass's own time, the pass is bound by its arithmetic (or, on CSR,
    its gathers and scatters), not by the memory."""
    rows = min(prob.n, numba.get_num_threads() * metrics.ROW_BLOCK)
    small = type(prob)(prob.data.subset(np.arange(rows)), l2=prob.l2)
    assert small.n_outputs == prob.n_outputs  # every class among the first rows: the same work per row
    return _best_time(lambda: metrics.fused_pass(small, x), 10 * repeats) * prob.n / rows


def overhead(pairs: int = 5) -> dict:
    data = sl.data.make_classification(n=100_000, dim=100, cond=10.0, seed=0)
    prob = sl.problems.LogisticRegression(data, l2=1e-3)
    prob.f_star  # noqa: B018 - certify the optimum before timing
    sl.run(prob, sl.methods.SGD(lr=0.01), iters=1000)  # compile
    rows = {}
    for epochs in (1, 10):
        samples = []
        for _ in range(pairs):
            started = time.perf_counter()
            trace = sl.run(prob, sl.methods.SGD(lr=0.01), epochs=epochs)
            wall = time.perf_counter() - started
            samples.append((wall, float(trace.time_s[-1]), float(getattr(trace, "measure_s", float("nan"))),
                            len(trace)))  # fmt: skip
        rows[f"{epochs}_epochs"] = {
            "wall_s": statistics.median(s[0] for s in samples),
            "time_s": statistics.median(s[1] for s in samples),
            "measure_s": statistics.median(s[2] for s in samples),
            "checkpoints": samples[0][3],
            "wall_over_time_s": statistics.median(s[0] / s[1] for s in samples),
            "measure_over_time_s": statistics.median(s[2] / s[1] for s in samples),
        }
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--bandwidth", action="store_true", help="also time the checkpoint pass (bandwidth)")
    args = parser.parse_args()
    result = {"default_run_overhead": overhead(args.pairs)}
    if args.bandwidth:
        result["checkpoint_pass"] = pass_bandwidth()
    print(json.dumps(result, indent=2))
