"""What every benchmark shares: alternating A/B timing, the machine description and the results file.

These machines are noisy and their speed drifts within a minute, so two sides are never timed in separate
blocks: they run alternately (A B A B …) after a warm-up, and the reported figure is the median of the
per-pair ratios.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(ours: Callable[[], object], theirs: Callable[[], object], pairs: int = 9, warmup: int = 1) -> dict:
    """Time ``ours`` and ``theirs`` alternately; ``speedup`` is the median of per-pair ``theirs / ours``."""
    for _ in range(warmup):
        ours(), theirs()
    times = [(timed(ours), timed(theirs)) for _ in range(pairs)]
    return {
        "speedup": statistics.median(b / a for a, b in times),
        "ours_s": statistics.median(a for a, _ in times),
        "theirs_s": statistics.median(b for _, b in times),
        "pairs": times,
    }


def machine() -> dict:
    """The machine and library versions a result was measured with."""
    info = {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for module in ("numba", "torch", "sklearn", "scipy"):
        with contextlib.suppress(ImportError):
            info[module] = __import__(module).__version__
    return info


def save(name: str, title: str, rows: list[dict], **extra) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the rows and the machine description."""
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"benchmark": title, "machine": machine(), **extra, "rows": rows}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    return out
