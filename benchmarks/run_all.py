"""Every benchmark in one command, then one table of ratios against the targets.

    python benchmarks/run_all.py            # runs B1–B6 (about 50 minutes on 2 cores), then prints the table
    python benchmarks/run_all.py --table    # only prints the table from benchmarks/results/*.json

B6 (``sgdlab reproduce`` and the cost of measuring) reports times as "target / measured" (above 1: within the
target), and B5 its loss agreement as "tolerance / largest difference", so that every row reads the same way.

Each benchmark times sgdlab and its peer alternately in the same run (see harness.py) and writes its raw
numbers to benchmarks/results/; the table is read back from those files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = (
    "b1_optimizer_step.py", "b2_sgd_epoch.py", "b3_saga.py", "b4_memmap.py", "b5_torch_step.py",
    "b5_torch_step.py --threads 1", "b6_reproduce.py",
)  # fmt: skip


def _load(name: str) -> dict:
    return json.loads((HERE / "results" / f"{name}.json").read_text())


def rows() -> list[tuple[str, str, float, float]]:
    """(benchmark, what is compared, measured ratio, target ratio); ratio > 1: sgdlab is faster."""
    out = []
    b1 = _load("b1_optimizer_step")
    for r in b1["rows"]:
        target = 3.0 if r["method"] == "RMSProp" else 1.0
        out.append(("B1", f"{r['method']} step, N = {r['n']:.0e}, vs torch.optim ({r['torch_path']})",
                    r["speedup_vs_torch"], target))  # fmt: skip
        if r["n"] >= 100_000_000:
            out.append(("B1", f"{r['method']} step, N = {r['n']:.0e}, fraction of triad bandwidth",
                        r["fraction_of_triad"], 0.7))  # fmt: skip
    b2 = _load("b2_sgd_epoch")
    out.append(("B2", "per-sample SGD epoch vs SGDClassifier", b2["speedup_vs_sklearn"], 1.5))
    b3 = _load("b3_saga")
    out.append(("B3", "SAGA to 1e-6 vs sklearn saga", b3["speedup"], 1.5))
    b4 = _load("b4_memmap")
    for r in b4["rows"]:
        target = 0.8 if "blocks" in r["workload"] or "epoch" in r["workload"] else float("nan")
        out.append(("B4", f"memory-mapped / in memory: {r['workload']}", r["ratio_memmap_over_in_memory"], target))
    peak = max(v["peak_VmHWM"] for v in b4["peak_rss_bytes"].values()) / 2**30
    out.append(("B4", "peak RSS at n = 10^7, GiB (target: below)", peak, 1.0))
    for name in ("b5_torch_step_threads1", "b5_torch_step"):
        if (HERE / "results" / f"{name}.json").exists():
            out += b5_rows(_load(name))
    if (HERE / "results" / "b6_reproduce.json").exists():
        out += b6_rows(_load("b6_reproduce"))
    return out


#: B5's targets: sgdlab.torch / torch.optim's fastest CPU path, except where torch has no fused path (then / foreach).
B5_FOREACH_TARGETS = {"RMSprop": 2.0, "Adadelta": 2.0}
B5_TRAINING_TARGET = 0.98
B5_LOSS_TOLERANCE = 1e-6


def b5_rows(b5: dict) -> list[tuple[str, str, float, float]]:
    out = []
    threads = b5["threads"]["torch_threads"]
    for r in b5["rows"]:
        where = f"{r['optimizer']} step, {r['list']}, {threads} thread{'s' * (threads > 1)}"
        if r["optimizer"] in B5_FOREACH_TARGETS:
            out.append(("B5", f"{where}, vs torch.optim (foreach)", r["speedup_vs_foreach"],
                        B5_FOREACH_TARGETS[r["optimizer"]]))  # fmt: skip
        else:
            out.append(("B5", f"{where}, vs torch.optim ({r['fastest_torch_path']})", r["speedup_vs_fastest"], 1.0))
    for r in b5.get("training", []):
        where = f"training, {r['problem']}, {r['optimizer']}, {threads} thread{'s' * (threads > 1)}"
        out.append(("B5", f"{where}: throughput vs torch.optim (fused)", r["throughput_ratio"], B5_TRAINING_TARGET))
        rel = r["max_loss_rel_diff"]
        out.append(("B5", f"{where}: losses within {B5_LOSS_TOLERANCE:g} / largest difference ({rel:.1g})",
                    B5_LOSS_TOLERANCE / max(rel, 1e-12), 1.0))  # fmt: skip
    return out


#: B6's targets: seconds for the reproductions from an empty folder (warm caches), seconds for any figure.
B6_TARGETS = {"full": 60.0, "quick": 20.0}
FIGURE_TARGET_S = 2.0


def b6_rows(b6: dict) -> list[tuple[str, str, float, float]]:
    out = []
    for r in b6["rows"]:
        wall, target = r["empty_folder"]["wall_s"], B6_TARGETS[r["mode"]]
        out.append(("B6", f"reproduce{' --quick' if r['mode'] == 'quick' else ''}, empty folder, {r['cache']} "
                    f"caches: {target:g} s / wall ({wall:.0f} s)", target / wall,
                    1.0 if r["cache"] == "warm" else float("nan")))  # fmt: skip
        slowest, seconds = max(r["empty_folder"]["figures_s"].items(), key=lambda kv: kv[1], default=("—", 0.0))
        if r["cache"] == "warm" and seconds > 0:
            out.append(("B6", f"reproduce{' --quick' if r['mode'] == 'quick' else ''}: slowest figure ({slowest}), "
                        f"{FIGURE_TARGET_S:g} s / time", FIGURE_TARGET_S / seconds, 1.0))  # fmt: skip
    overhead = b6.get("default_run_overhead", {})
    for key, allowed in (("1_epochs", 5.0), ("10_epochs", 1.0)):
        if key in overhead:
            ratio = overhead[key]["measure_over_time_s"]
            out.append(("B6", f"default sl.run, {key.split('_')[0]} epoch(s): measuring within {allowed:g} x time_s "
                        f"({ratio:.2g} x)", allowed / ratio, 1.0))  # fmt: skip
    for r in b6.get("checkpoint_pass", {}).get("rows", []):
        path = r.get("engine_path", "fused")
        out.append(("B6", f"checkpoint pass ({path}), {r['problem']}: fraction of triad bandwidth",
                    r["fraction_of_triad"], 0.5))  # fmt: skip
        if "blas_products_fraction_of_triad" in r:  # the compute-bound reference: the same products by BLAS
            out.append(("B6", f"BLAS's two products alone (A @ X, Aᵀ @ S), {r['problem']}: fraction of triad",
                        r["blas_products_fraction_of_triad"], float("nan")))  # fmt: skip
    return out


def table() -> str:
    lines = [f"{'':4s} {'comparison':78s} {'measured':>9s} {'target':>7s}  met"]
    for bench, what, value, target in rows():
        if target != target:  # nan: shown for reference
            met = "   —"
        elif "RSS" in what:
            met = "  yes" if value < target else "   no"
        else:
            met = "  yes" if value >= target else "   no"
        shown_target = "—" if target != target else f"{target:g}"
        lines.append(f"{bench:4s} {what[:78]:78s} {value:9.3g} {shown_target:>7s} {met}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="only print the table from the stored results")
    args = parser.parse_args()
    if not args.table:
        for script in SCRIPTS:
            print(f"\n=== {script}", flush=True)
            name, *arguments = script.split()
            subprocess.run([sys.executable, str(HERE / name), *arguments], check=True)
    print()
    print(table())


if __name__ == "__main__":
    main()
