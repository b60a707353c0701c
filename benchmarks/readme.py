"""The README's measured figures, written from ``benchmarks/results/*.json`` — their one source.

    python benchmarks/readme.py            # rewrite README.md's generated blocks from the results files
    python benchmarks/readme.py --check    # exit 1 when a block differs from what the results say

A block is the text between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->`` on lines of their own;
:data:`BLOCKS` renders each from the results files. ``tests/test_packaging.py`` checks that README.md holds exactly
what they render, so re-running a benchmark and then this script is the whole refresh (the docs site reads the
same files through ``run_all.rows()``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
BLOCK = re.compile(r"(<!-- results:([a-z0-9-]+) -->\n)(.*?)(<!-- /results:\2 -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((HERE / "results" / f"{name}.json").read_text())


def _module(name: str):
    """A benchmark script of this folder as a module (they are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def b1_table() -> str:
    """B1: one optimizer step on N float32 parameters, sgdlab vs torch.optim's fastest CPU path."""
    rows = _load("b1_optimizer_step")["rows"]
    sizes = sorted({r["n"] for r in rows})
    small, large = sizes[0], sizes[-1]
    by = {(r["method"], r["n"]): r for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))

    def cell(r: dict) -> str:
        path = "fused" if r["torch_path"] == "fused" else f"{r['torch_path']}: torch has no fused {r['method']}"
        return f"{_ms(r['sgdlab_s'])} / {_ms(r['torch_s'])} ({path})"

    out = [
        f"| method | N = {small / 1e6:g}M: sgdlab / torch ms | speed-up | N = {large / 1e6:g}M: sgdlab / torch ms "
        f"| speed-up | of triad ({large / 1e6:g}M) |",
        "|---|---|---|---|---|---|",
    ]
    for m in methods:
        a, b = by[(m, small)], by[(m, large)]
        out.append(
            f"| {m} | {cell(a)} | {a['speedup_vs_torch']:.2f}× | {cell(b)} | {b['speedup_vs_torch']:.2f}× "
            f"| {100 * b['fraction_of_triad']:.0f} % |"
        )
    triad = {n: next(r["triad_GBps"] for r in rows if r["n"] == n) for n in sizes}
    out.append("")
    out.append(
        "STREAM triad measured in the same run: "
        + ", ".join(f"{triad[n]:.1f} GB/s at N = {n / 1e6:g}M" for n in sizes)
        + "."
    )
    return "\n".join(out)


def _sci(value: float, digits: int = 2) -> str:
    """``4.6e-7`` rather than Python's ``4.6e-07``."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{int(exponent)}"


def _thousands(value: float) -> str:
    return f"{round(value, -2):,.0f}"


def one_table() -> str:
    """B2–B4 in one table, and B5's summary rows (B1 and B5 have their own blocks too)."""
    b2, b3, b4 = _load("b2_sgd_epoch"), _load("b3_saga"), _load("b4_memmap")
    ours2, sk2 = b2["rows"][:2]
    sk3_tol = float(b3["rows"][1]["side"].split("tol=")[1].rstrip(")"))
    ours3, sk3 = b3["rows"]
    blocks = next(r for r in b4["rows"] if "blocks sampler" in r["workload"])
    epoch = next(r for r in b4["rows"] if "epoch" in r["workload"])
    rss = {int(n): v for n, v in b4["peak_rss_bytes"].items()}
    mib = lambda b: f"{b / 2**20:.0f}"  # noqa: E731
    n_small, n_large = min(rss), max(rss)
    gib = b4["file_bytes"] / 2**30
    rows = [
        (f"B2: one per-sample SGD epoch, L2-logistic, n = {b2['n']:,}, dim = {b2['dim']} (whole `sl.run` call, "
         "including its two loss evaluations)", f"{ours2['seconds']:.3f} s", f"`SGDClassifier`: {sk2['seconds']:.3f} s",
         f"**{b2['speedup_vs_sklearn']:.2f}×** (epoch alone {b2['speedup_epoch_only']:.2f}×; pure-Python engine "
         f"{b2['speedup_vs_python']:.0f}× slower)", "≥ 1.5×"),
        (f"B3: SAGA to {_sci(b3['target'])} relative suboptimality, same problem",
         f"{ours3['seconds']:.2f} s ({ours3['epochs']:g} epochs, {_sci(ours3['relative_subopt'])})",
         f"`LogisticRegression(solver=\"saga\", tol={_sci(sk3_tol, 1)})`: {sk3['seconds']:.2f} s "
         f"({sk3['epochs']:g} epochs, {_sci(sk3['relative_subopt'])})", f"**{b3['speedup']:.2f}×**", "≥ 1.5×"),
        (f"B4: per-sample SGD, `\"blocks\"` sampler, n = 10⁷ × {b4['dim']} float32 ({gib:.2f} GiB)",
         f"memory-mapped: {_thousands(blocks['memmap_rows_per_s'])} rows/s",
         f"the same data in memory: {_thousands(blocks['in_memory_rows_per_s'])} rows/s",
         f"**{blocks['ratio_memmap_over_in_memory']:.2f}×**", "≥ 0.8×"),
        ("B4: a streamed full-gradient epoch, same data", f"memory-mapped: {epoch['memmap_s']:.2f} s",
         f"in memory: {epoch['in_memory_s']:.2f} s", f"**{epoch['ratio_memmap_over_in_memory']:.2f}×**", "≥ 0.8×"),
        (f"B4: peak RSS of a memory-mapped run, n = 10^{len(str(n_small)) - 1} / 10^{len(str(n_large)) - 1}",
         f"{mib(rss[n_small]['peak_VmHWM_sgd'])} MiB / {mib(rss[n_large]['peak_VmHWM_sgd'])} MiB (per-sample SGD); "
         f"{mib(rss[n_small]['peak_VmHWM'])} / {mib(rss[n_large]['peak_VmHWM'])} MiB with a full-gradient epoch",
         "", "", "< 1 GiB"),
    ]  # fmt: skip
    out = ["| benchmark | sgdlab | peer | ratio (> 1: sgdlab faster) | target |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    b5, single, default = _b5()
    out += [*b5.readme_summary(single), *b5.readme_summary(default)]
    return "\n".join(out)


def _b5() -> tuple:
    """B5's module and its two results files (one thread each side, torch's default thread count)."""
    b5 = _module("b5_torch_step")
    return (b5, *(json.loads(path.read_text()) for path in b5.RESULTS_FILES))


def b5_tables() -> str:
    """B5: one `step()` of sgdlab.torch vs torch.optim, and whole training steps (one thread each side)."""
    b5, single, _ = _b5()
    return b5.readme_tables(single)


def sweep_sentence() -> str:
    """The process pool's parallel efficiency on a 40-run sweep."""
    s = _load("sweep_efficiency")
    middle = sorted(s["pairs"], key=lambda p: p["efficiency"])[len(s["pairs"]) // 2]
    return (
        f"`python benchmarks/sweep_efficiency.py` (whole `sgdlab run` commands timed alternately, {len(s['pairs'])} "
        f"pairs): serial {middle['serial_s']:.1f} s, {s['workers']} workers {middle['parallel_s']:.1f} s, median "
        f"efficiency **{s['median_efficiency']:.2f}**."
    )


#: Every generated block of README.md by name.
BLOCKS: dict[str, Callable[[], str]] = {
    "b1": b1_table,
    "b5": b5_tables,
    "benchmarks": one_table,
    "sweep": sweep_sentence,
}


def render(text: str) -> str:
    """``text`` with every block replaced by what :data:`BLOCKS` renders (an unknown block name is an error)."""

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in BLOCKS:
            raise KeyError(f"README.md has a block {name!r} that benchmarks/readme.py does not know")
        return f"{match.group(1)}{BLOCKS[name]()}\n{match.group(4)}"

    return BLOCK.sub(replace, text)


def blocks(text: str) -> dict[str, str]:
    """The blocks of ``text`` by name (their current contents)."""
    return {m.group(2): m.group(3) for m in BLOCK.finditer(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the results files")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.check:
        stale = [name for name, body in blocks(new).items() if blocks(text).get(name) != body]
        print("README.md is up to date" if not stale else f"stale blocks in README.md: {', '.join(stale)}")
        return 1 if stale else 0
    README.write_text(new)
    print(f"wrote {len(blocks(new))} blocks of README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
