"""B6, part 2: what measuring costs in a default run — wall time over ``time_s`` (the optimisation's time).

    python benchmarks/b6_overhead.py [--pairs 5]

``sl.run(prob, SGD(lr=0.01), epochs=E)`` on logistic regression, n = 100,000, dim = 100, per-sample steps,
every other argument left at its default, for E = 1 and 10; the certified optimum and the numba kernels are
warmed first, so the figures are the steady state a user meets from the second run on. Prints one JSON
object (the medians over ``--pairs`` repetitions); `b6_reproduce.py` stores it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import sgdlab as sl


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
    print(json.dumps(overhead(parser.parse_args().pairs), indent=2))
