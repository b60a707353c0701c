"""B1: one optimizer step on N float32 parameters — sgdlab's fused kernels vs torch.optim, and vs bandwidth.

    python benchmarks/b1_optimizer_step.py [--sizes 10000000 100000000] [--pairs 9]

For every method, torch.optim's fastest CPU path is chosen first (``fused=True`` where torch supports it,
else the faster of ``foreach=True`` and the default), then the two sides are timed alternately (A B A B …,
``--pairs`` pairs after warm-up) and the median of the per-pair ratios is reported (>1: sgdlab is faster).
Bandwidth: a STREAM triad ``a = b + s·c`` (numba, all cores) measured in the same run; the fraction reported
is (minimal bytes the method must move) / time / triad bandwidth, counting each array read once and each
array written once. Results go to benchmarks/results/b1_optimizer_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numba
import numpy as np
import torch

import sgdlab.methods as M
from sgdlab.methods import fused

# label -> (registry name, sgdlab kwargs, torch.optim kwargs); the classes come from the registry (the method and
# its ``info.torch`` counterpart), the bytes moved from its fused kernel's state layout (``info.fused.state``).
CONFIGS = {
    "Adam": ("Adam", {"lr": 1e-3}, {"lr": 1e-3}),
    "AdamW": ("AdamW", {"lr": 1e-3, "weight_decay": 0.01}, {"lr": 1e-3, "weight_decay": 0.01}),
    "Adagrad": ("Adagrad", {"lr": 1e-2, "convention": "torch"}, {"lr": 1e-2}),
    "RMSProp": ("RMSProp", {"lr": 1e-3, "convention": "torch"}, {"lr": 1e-3, "alpha": 0.9}),
    "SGD+momentum": ("Momentum", {"lr": 1e-2, "beta": 0.9}, {"lr": 1e-2, "momentum": 0.9}),
}


def benchmarked(name: str, ours: dict, theirs: dict):
    """(sgdlab factory, (torch.optim class, kwargs), arrays read + written per element) for a registry entry."""
    cls = M.METHODS[name]
    info = cls.info
    if info.fused is None or info.torch is None:
        raise ValueError(f"{name} has no fused kernel or no torch.optim counterpart: nothing to compare")
    states = sum(slot is not None for slot in info.fused.state)
    arrays = 3 + 2 * states  # x read and written, g read, each state array read and written
    return (lambda: cls(**ours)), (getattr(torch.optim, info.torch.rpartition(".")[2]), theirs), arrays


METHODS = {label: benchmarked(*config) for label, config in CONFIGS.items()}


@numba.njit(parallel=True, cache=True)
def _triad(a, b, c, s):
    for i in numba.prange(a.size):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n: int, repeats: int = 9) -> float:
    a, b, c = (np.full(n, v, dtype=np.float32) for v in (0.0, 1.0, 2.0))
    _triad(a, b, c, 3.0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _triad(a, b, c, 3.0)
        times.append(time.perf_counter() - start)
    return 3 * n * 4 / min(times)  # bytes per second (STREAM convention: no write-allocate traffic)


def sgdlab_stepper(make, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32) * 1e-3
    method = make()
    state = method.init(x)
    assert fused.usable(x, g), "the fused path must apply at this size"
    return lambda: method.step(x, g, state)


def torch_stepper(factory, kwargs, n, mode):
    p = torch.nn.Parameter(torch.randn(n, dtype=torch.float32))
    p.grad = torch.randn(n, dtype=torch.float32) * 1e-3
    opt = factory([p], **kwargs, **({"fused": True} if mode == "fused" else {"foreach": mode == "foreach"}))
    return opt.step


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def fastest_torch(factory, kwargs, n):
    """torch.optim's fastest CPU path for this optimizer: fused if it works, else foreach vs default."""
    candidates = {}
    for mode in ("fused", "foreach", "default"):
        try:
            step = torch_stepper(factory, kwargs, n, mode)
            step()
        except (RuntimeError, TypeError, ValueError):
            continue
        candidates[mode] = (statistics.median(timed(step) for _ in range(5)), step)
        if mode == "fused":
            break  # fused is torch's fastest path wherever it exists
    mode = min(candidates, key=lambda m: candidates[m][0])
    return mode, candidates[mode][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--pairs", type=int, default=9)
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        bandwidth = triad_bandwidth(n)
        print(f"\nN = {n:,} float32; triad bandwidth {bandwidth / 1e9:.1f} GB/s")
        print(f"{'method':14s} {'torch path':10s} {'sgdlab ms':>9s} {'torch ms':>9s} {'speed-up':>8s} {'of triad':>8s}")
        for name, (make, (factory, kwargs), arrays) in METHODS.items():
            ours = sgdlab_stepper(make, n)
            ours()  # compile or load the kernel
            mode, theirs = fastest_torch(factory, kwargs, n)
            pairs = []
            for _ in range(args.pairs):
                a, b = timed(ours), timed(theirs)
                pairs.append((a, b))
            ratio = statistics.median(b / a for a, b in pairs)
            ours_s = statistics.median(a for a, _ in pairs)
            fraction = arrays * n * 4 / ours_s / bandwidth
            rows.append(
                {
                    "n": n,
                    "method": name,
                    "torch_path": mode,
                    "sgdlab_s": ours_s,
                    "torch_s": statistics.median(b for _, b in pairs),
                    "speedup_vs_torch": ratio,
                    "fraction_of_triad": fraction,
                    "triad_GBps": bandwidth / 1e9,
                    "pairs": pairs,
                }
            )
            torch_ms = 1e3 * rows[-1]["torch_s"]
            print(f"{name:14s} {mode:10s} {1e3 * ours_s:9.1f} {torch_ms:9.1f} {ratio:7.2f}x {fraction:7.0%}")
            del ours, theirs
    machine = {
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
    out = Path(__file__).parent / "results" / "b1_optimizer_step.json"
    out.write_text(json.dumps({"benchmark": "B1 optimizer step", "machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"\nraw results: {out}")


if __name__ == "__main__":
    main()
