"""B6: the wall time of ``sgdlab reproduce``, full and ``--quick``, from an empty folder, stage by stage.

    python benchmarks/b6_reproduce.py                 # quick and full, cold and warm caches (~25 min on 2 cores)
    python benchmarks/b6_reproduce.py --modes quick   # only the quick reproduction

Each reproduction runs in a fresh process through `sgdlab.lecture.run_claims` — what ``sgdlab reproduce`` calls,
with its default ``--jobs`` (all cores) and the CLI's pictures — with timers wrapped around its stages from
outside (nothing in sgdlab is changed): **runs** (the sweep: every experiment into ``results.db``),
**verdicts** (collecting each claim's stored results and judging them), **figures** (each claim's figures,
timed one by one, and the lecture's pictures: trajectories and the "batch = 2" GIF), and the rest (start-up,
imports, the report). With worker processes, `run_claims` draws the pictures and each claim whose runs are
all stored while the sweep goes on: ``during_runs_s`` is the part of each stage that overlapped the runs,
``before_runs_s`` and ``after_runs_s`` the wall time before the sweep began and after it ended. Then the same
command again on the filled folder (no run recomputed: verdicts, figures and report only). *Cold*: empty numba
and certified-optimum caches (``NUMBA_CACHE_DIR``, ``SGDLAB_CACHE_DIR``); *warm*: the caches the cold run
filled. Part 2 is `b6_overhead.py`: the default-run overhead and the checkpoint pass's bandwidth.
Results: benchmarks/results/b6_reproduce.json, and (from the full reproduction) benchmarks/results/claims.json,
each claim's checks and tables (`claims.py`); `python benchmarks/readme.py` renders README.md's blocks from both.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))


def _child(mode: str, out: str, report: str) -> None:
    """One reproduction in this process, its stages timed; writes the timings to ``report`` (JSON)."""
    started = time.perf_counter()
    import sgdlab.lecture.reproduce as reproduce
    from sgdlab.lecture import CLAIMS, pictures

    stages = {"runs": 0.0, "verdicts": 0.0, "figures": 0.0, "pictures": 0.0}
    during: dict[str, float] = {}  # the part of each stage drawn while the sweep ran (a thread of run_claims)
    figures: dict[str, float] = {}
    sweep: dict[str, float] = {}

    def timed(fn, stage, name=None):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - t
                stages[stage] = stages.get(stage, 0.0) + spent
                if stage != "runs" and "start" in sweep and "end" not in sweep:
                    during[stage] = during.get(stage, 0.0) + spent
                if name is not None:
                    figures[name] = figures.get(name, 0.0) + spent

        return wrapper

    def swept(*args, **kwargs):
        sweep["start"] = time.perf_counter()
        try:
            return run_sweep(*args, **kwargs)
        finally:
            sweep["end"] = time.perf_counter()

    run_sweep = timed(reproduce.run_sweep, "runs")
    reproduce.run_sweep = swept
    reproduce.collect = timed(reproduce.collect, "verdicts")
    for claim in CLAIMS:
        claim.judge = timed(claim.judge, "verdicts")
        claim.figures = timed(claim.figures, "figures", f"claim {claim.key}")
    for name, fn in vars(pictures).items():  # the pictures' drawing functions, as make_pictures finds them
        if inspect.isfunction(fn) and fn.__module__ == pictures.__name__ and name != "make_pictures":
            setattr(pictures, name, timed(fn, "pictures_parts", f"picture {name}"))
    for name in ("animate_minibatch_sgd",):
        if hasattr(pictures, name):
            setattr(pictures, name, timed(getattr(pictures, name), "pictures_parts", f"picture {name}"))
    make_pictures = timed(pictures.make_pictures, "pictures")
    accepted = inspect.signature(reproduce.run_claims).parameters
    kwargs = {"quick": mode == "quick", "progress": False, "echo": lambda line: None, "pictures": make_pictures}
    result = reproduce.run_claims(CLAIMS, out, **{k: v for k, v in kwargs.items() if k in accepted})
    total = time.perf_counter() - started
    stages.pop("pictures_parts", None)
    during.pop("pictures_parts", None)
    Path(report).write_text(json.dumps({
        "in_process_s": total, "stages_s": stages, "during_runs_s": during, "figures_s": figures,
        "before_runs_s": sweep["start"] - started, "after_runs_s": time.perf_counter() - sweep["end"],
        "rest_s": total - sum(stages.values()) + sum(during.values()),
        "runs_executed": getattr(result, "runs_executed", None),
        "passed": result.passed, "claims": len(result.verdicts),
    }))  # fmt: skip


def reproduction(mode: str, caches: dict[str, str], out: Path) -> dict:
    """Time one reproduction (a fresh process) into ``out``; returns its stages."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        report = f.name
    env = {**os.environ, **caches}
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--child", mode, str(out), report], env=env, check=True)
    wall = time.perf_counter() - started
    row = json.loads(Path(report).read_text())
    os.unlink(report)
    # the machine is shared: the 1-minute load average at the end (over 2 cores) says how busy it was
    return {"wall_s": wall, "load_average_1min": os.getloadavg()[0], **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--no-overhead", action="store_true", help="skip part 2 (the default-run overhead)")
    parser.add_argument("--name", default="b6_reproduce", help="results file name (default: %(default)s)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "OUT", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    from harness import machine, save

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            caches = {"NUMBA_CACHE_DIR": f"{tmp}/{mode}-numba", "SGDLAB_CACHE_DIR": f"{tmp}/{mode}-optima"}
            for cache in ("cold", "warm"):
                out = Path(tmp) / f"{mode}-{cache}"
                first = reproduction(mode, caches, out)
                print(
                    f"{mode:5s} {cache}: {first['wall_s']:.1f} s from an empty folder "
                    f"(stages {json.dumps({k: round(v, 1) for k, v in first['stages_s'].items()})}, "
                    f"after the runs {first['after_runs_s']:.1f} s)",
                    flush=True,
                )
                again = reproduction(mode, caches, out)
                print(f"{mode:5s} {cache}: {again['wall_s']:.1f} s on the filled folder", flush=True)
                rows.append({"mode": mode, "cache": cache, "empty_folder": first, "filled_folder": again})
            if mode == "full":  # the README's claim tables: what this full reproduction measured
                from claims import write

                print(write(Path(tmp) / "full-warm"), flush=True)
    extra = {}
    if not args.no_overhead:
        from b6_overhead import overhead, pass_bandwidth

        extra["default_run_overhead"] = overhead()
        extra["checkpoint_pass"] = pass_bandwidth()
    path = save(args.name, "sgdlab reproduce: wall time by stage, full and quick, cold and warm caches", rows,
                cpus=os.cpu_count(), **extra)  # fmt: skip
    print(path, machine()["cpus"], "cpus")


if __name__ == "__main__":
    main()
