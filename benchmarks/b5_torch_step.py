"""B5: one ``step()`` of the sgdlab.torch optimizers on realistic parameter lists, and whole training steps.

    python benchmarks/b5_torch_step.py [--pairs 9] [--quick]

Parameter lists (float32, CPU; shapes written out below, torchvision is not needed): ResNet-18 (62 tensors,
11.7M parameters: 20 convolutions, 20 batch norms, the classifier) and a small GPT-style transformer (132
tensors, 20.7M parameters, 82 of them biases and layer norms of ≤ 1,536 elements). For every optimizer of
:data:`CONFIGS`, sgdlab.torch's step is timed against each torch.optim path in turn — the default (for-loop on
CPU), ``foreach=True`` and ``fused=True`` where torch has it — alternately (A B A B …, ``--pairs`` pairs after a
warm-up, median of the per-pair ratios; harness.py). Both sides step the very same tensors — parameters,
gradients and, after the first step, state (sgdlab's state entries are pointed at torch's, `TORCH_STATE`) — so
that a ratio measures code, not memory placement: on this machine two separately allocated copies of one and the
same optimizer stepped 5–10 % apart, in either direction from one allocation to the next (Adam, ResNet-18, one
thread: per-rebuild ratios 0.84–1.06 of sgdlab against itself). The ratio against torch's fastest path is the
pair whose torch side has the lowest median.

Where the time goes: the bytes a step must move (each array read once and written once, from the fused kernel's
state layout) over a STREAM triad measured in the same run (B1's), and the fixed cost of a step, timed on a list
with the same number of tensors of one element each (sgdlab's and torch's fastest path).

Training steps (forward, backward, step) on ``sgdlab.torch.problems.digits_cnn`` and ``char_lm``: sgdlab.torch
vs torch.optim, both with ``fused=True`` (sgdlab's then rounds as torch's fused kernels), from the same initial
weights on the same minibatches (batch 32), blocks of steps timed alternately (``--train-pairs`` pairs;
throughput, steps/s), and the two loss sequences compared (largest relative difference over the run: 0 when
every step is the same bits) — and, untimed, both against torch.optim ``foreach=True`` on the same batches:
float32 training amplifies one rounding difference, and torch's own foreach and fused paths round differently
(on digits_cnn with SGD momentum they drift apart by 3e-4 on one thread, by a factor 14 on two).

Threads: torch's CPU kernels use ``torch.get_num_threads()`` threads (at::parallel_for), and so does sgdlab.torch's
fast path (by construction); ``--threads`` sets that number for both, and the results file records it.

``--quick`` is a smoke test (tiny lists and models, 2 pairs; seconds): same code, same result structure, written
to a temporary file unless ``--out`` says where. Full results: benchmarks/results/b5_torch_step.json (torch's
default thread count) and b5_torch_step_threads1.json (``--threads 1``: both sides on one thread, the README's
tables — on a machine shared with other jobs, OpenMP's threads wait on each other and on the other jobs, which
made torch's two-thread steps 2–40× slower from one pair to the next); ``--readme`` prints the README's tables
from them.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numba
import torch

sys.path.insert(0, str(Path(__file__).parent))
from b1_optimizer_step import triad_bandwidth
from harness import RESULTS, alternate, machine, timed

import sgdlab.torch as st
from sgdlab.methods import METHODS
from sgdlab.torch import problems

# --- the parameter lists ----------------------------------------------------------------------------------


def resnet18_shapes(num_classes: int = 1000) -> list[tuple[int, ...]]:
    """torchvision's ``resnet18()`` parameters, in ``model.parameters()`` order (62 tensors, 11,689,512)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]  # conv1, bn1
    inplanes = 64
    for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            first_in = inplanes if block == 0 else planes
            shapes += [(planes, first_in, 3, 3), (planes,), (planes,), (planes, planes, 3, 3), (planes,), (planes,)]
            if block == 0 and (stride != 1 or inplanes != planes):
                shapes += [(planes, inplanes, 1, 1), (planes,), (planes,)]  # downsample conv + bn
        inplanes = planes
    return [*shapes, (num_classes, 512), (num_classes,)]


def transformer_shapes(
    vocab: int = 16384, context: int = 512, width: int = 384, layers: int = 8, mlp: int = 1536
) -> list[tuple[int, ...]]:
    """A GPT-style decoder (token and position embeddings, per layer: layer norm, q/k/v/o projections with
    biases, layer norm, two MLP layers with biases; a final layer norm; the output layer tied to the token
    embedding): 132 tensors, 20,684,544 parameters with the defaults."""
    shapes: list[tuple[int, ...]] = [(vocab, width), (context, width)]
    for _ in range(layers):
        shapes += [(width,), (width,)]  # ln1
        for _ in range(4):  # q, k, v, o
            shapes += [(width, width), (width,)]
        shapes += [(width,), (width,), (mlp, width), (mlp,), (width, mlp), (width,)]  # ln2, fc1, fc2
    return [*shapes, (width,), (width,)]


# --- what is compared ---------------------------------------------------------------------------------------

#: label -> (sgdlab.torch optimizer, its kwargs, torch.optim class, torch kwargs). The one place that maps
#: torch's keywords to sgdlab's (the drop-ins take torch's own; Momentum/Nesterov keep sgdlab's names):
#:
#: ===================  ==============================================  =========================================
#: torch.optim          sgdlab.torch                                    why
#: ===================  ==============================================  =========================================
#: SGD(momentum=0.9)    Momentum(beta=0.9)                              same velocity form v ← βv + g
#: SGD(nesterov=True)   Nesterov(beta=0.9)                              look-ahead form g + βv
#: RMSprop, Adagrad, Adadelta, Adam(W), SGD: the drop-ins, called with torch.optim's own keywords and defaults
#: Adam(betas=(b1,b2))  Adam(beta1=b1, beta2=b2)                        same formula
#: ===================  ==============================================  =========================================
CONFIGS: dict[str, tuple[str, dict, str, dict]] = {
    "Adam": ("Adam", {"lr": 1e-3}, "Adam", {"lr": 1e-3}),
    "AdamW": ("AdamW", {"lr": 1e-3, "weight_decay": 0.01}, "AdamW", {"lr": 1e-3, "weight_decay": 0.01}),
    "Adagrad": ("Adagrad", {"lr": 1e-2}, "Adagrad", {"lr": 1e-2}),
    "SGD": ("SGD", {"lr": 1e-2}, "SGD", {"lr": 1e-2}),
    "SGD momentum": ("Momentum", {"lr": 1e-2, "beta": 0.9}, "SGD", {"lr": 1e-2, "momentum": 0.9}),
    "SGD Nesterov": ("Nesterov", {"lr": 1e-2, "beta": 0.9}, "SGD", {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    "RMSprop": ("RMSProp", {"lr": 1e-2}, "RMSprop", {"lr": 1e-2}),
    "Adadelta": ("Adadelta", {"lr": 1.0}, "Adadelta", {"lr": 1.0}),
}
#: sgdlab.torch's state entries and torch.optim's names for the same arrays (the two sides share them: `_shared`).
TORCH_STATE: dict[str, dict[str, str]] = {
    "Adam": {"m": "exp_avg", "v": "exp_avg_sq"},
    "AdamW": {"m": "exp_avg", "v": "exp_avg_sq"},
    "Adagrad": {"v": "sum"},
    "SGD": {},
    "SGD momentum": {"v": "momentum_buffer"},
    "SGD Nesterov": {"v": "momentum_buffer"},
    "RMSprop": {"v": "square_avg"},
    "Adadelta": {"v": "square_avg", "dx": "acc_delta"},
}
#: Targets (Done means of the issue): sgdlab / torch's fastest path for these, and / foreach for the others.
FASTEST_TARGET = {"Adam", "AdamW", "Adagrad", "SGD", "SGD momentum", "SGD Nesterov"}
FOREACH_TARGET = {"RMSprop": 2.0, "Adadelta": 2.0}
TORCH_PATHS = ("default", "foreach", "fused")
#: The results: both sides on one thread (``--threads 1``; the README's tables), and on torch's default count.
RESULTS_FILES = (RESULTS / "b5_torch_step_threads1.json", RESULTS / "b5_torch_step.json")


def arrays_moved(label: str) -> int:
    """Arrays read or written per element by one step: x read and written, g read, each state array both."""
    spec = METHODS[CONFIGS[label][0]].fused_kernel()
    return 3 + 2 * sum(slot is not None for slot in spec.state)


def _parameters(shapes, seed: int) -> tuple[list[torch.nn.Parameter], list[torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    params = [torch.nn.Parameter(torch.randn(s, generator=gen) * 0.05) for s in shapes]
    grads = [torch.randn(s, generator=gen) * 1e-3 for s in shapes]
    return params, grads


def _with_gradients(shapes, seed: int) -> list[torch.nn.Parameter]:
    params, grads = _parameters(shapes, seed)
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    return params


def _stepper(make, shapes, seed: int = 0):
    """A ready optimizer on fresh parameters with gradients attached; returns its ``step``."""
    opt = make(_with_gradients(shapes, seed))
    opt.step()  # state created, kernels compiled or loaded
    return opt.step


def _shared(label: str, path: str, shapes, seed: int = 0):
    """sgdlab.torch's and torch.optim's (`path`) steps on the same parameters and gradients, sgdlab's state
    entries then pointed at torch's arrays (`TORCH_STATE`): both sides update the same memory."""
    params = _with_gradients(shapes, seed)
    ours, theirs = _ours(label)(params), _theirs(label, path)(params)
    ours.step()  # states created, kernels compiled or loaded
    theirs.step()
    names = TORCH_STATE[label]
    for p in params:
        mine, torchs = ours.state[p], theirs.state[p]
        for name, value in mine.items():
            if isinstance(value, torch.Tensor):
                other = torchs[names[name]]
                assert other.shape == value.shape and other.dtype is value.dtype, (label, name)
                mine[name] = other
    return ours.step, theirs.step


def _ours(label: str):
    name, kwargs, _, _ = CONFIGS[label]
    return lambda params: st.OPTIMIZERS[name](params, **kwargs)


def _theirs(label: str, path: str):
    _, _, name, kwargs = CONFIGS[label]
    extra = {"fused": True} if path == "fused" else {"foreach": True} if path == "foreach" else {"foreach": False}
    cls = getattr(torch.optim, name)
    return lambda params: cls(params, **kwargs, **extra)


def _available(label: str, path: str) -> bool:
    """Whether torch.optim has this path on CPU (fused exists for some optimizers only)."""
    try:
        _stepper(_theirs(label, path), [(4,)])()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def fixed_cost(make, count: int, repeats: int) -> float:
    """Median time of a step on ``count`` one-element tensors: the per-step cost that does not scale with size."""
    step = _stepper(make, [(1,)] * count)
    for _ in range(3):
        step()
    return statistics.median(timed(step) for _ in range(repeats))


def step_rows(lists: dict, pairs: int, bandwidth: float, labels: list[str]) -> list[dict]:
    rows = []
    for list_name, shapes in lists.items():
        n = sum(math.prod(s) for s in shapes)
        print(f"\n{list_name}: {len(shapes)} tensors, {n:,} float32 parameters")
        print(f"{'optimizer':13s} {'torch path':9s} {'sgdlab ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
        for label in labels:
            comparisons = {}
            for path in TORCH_PATHS:
                if not _available(label, path):
                    continue
                ours, theirs = _shared(label, path, shapes)
                result = alternate(ours, theirs, pairs=pairs, warmup=2)
                comparisons[path] = {k: result[k] for k in ("speedup", "ours_s", "theirs_s", "pairs")}
                print(f"{label:13s} {path:9s} {1e3 * result['ours_s']:9.2f} {1e3 * result['theirs_s']:9.2f} "
                      f"{result['speedup']:6.2f}x")  # fmt: skip
                del ours, theirs
            fastest = min(comparisons, key=lambda p: comparisons[p]["theirs_s"])
            moved = arrays_moved(label) * n * 4
            best = comparisons[fastest]
            row = {
                "list": list_name,
                "tensors": len(shapes),
                "parameters": n,
                "optimizer": label,
                "sgdlab": f"sgdlab.torch.{CONFIGS[label][0]}({_kw(CONFIGS[label][1])})",
                "torch": f"torch.optim.{CONFIGS[label][2]}({_kw(CONFIGS[label][3])})",
                "torch_paths": comparisons,
                "fastest_torch_path": fastest,
                "speedup_vs_fastest": best["speedup"],
                "speedup_vs_foreach": comparisons["foreach"]["speedup"] if "foreach" in comparisons else None,
                "sgdlab_s": best["ours_s"],
                "torch_fastest_s": best["theirs_s"],
                "bytes_moved": moved,
                "fraction_of_triad": moved / best["ours_s"] / bandwidth,
                "torch_fraction_of_triad": moved / best["theirs_s"] / bandwidth,
                "fixed_cost_s": {
                    "sgdlab": fixed_cost(_ours(label), len(shapes), 15),
                    "torch": fixed_cost(_theirs(label, fastest), len(shapes), 15),
                },
            }
            rows.append(row)
    return rows


def _kw(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


# --- whole training steps -------------------------------------------------------------------------------------

#: label -> (sgdlab.torch optimizer, kwargs, torch.optim class, kwargs), as CONFIGS; both sides run with
#: fused=True (sgdlab's then rounds as torch's fused kernels, so the two trainings can be compared loss by loss).
TRAINING = {
    "Adam": ("Adam", {"lr": 1e-3}, "Adam", {"lr": 1e-3}),
    "SGD momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9}),
}


def _trainer(problem, make, batches):
    """A model (a copy of the problem's network at its initial weights) and its optimizer; ``run(i, j)`` trains
    on batches ``i … j − 1`` and appends their losses."""
    model = copy.deepcopy(problem.network)
    opt = make(list(model.parameters()))
    losses: list[float] = []

    def run(start: int, stop: int) -> None:
        for inputs, targets in batches[start:stop]:
            opt.zero_grad()
            loss = problem._cross_entropy(model(inputs), targets)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))

    return run, losses


#: Steps per timed block of a training comparison (a digits-CNN step takes ~1 ms, a char-LSTM step ~15 ms).
TRAINING_BLOCK = {"digits_cnn": 10, "char_lm": 1}


def training_rows(quick: bool, pairs: int) -> list[dict]:
    made = {
        "digits_cnn": lambda: problems.digits_cnn(seed=0),
        "char_lm": lambda: problems.char_lm(max_chars=20_000 if quick else 100_000, seed=0),
    }
    rows = []
    for problem_name, make_problem in made.items():
        problem = make_problem()
        block = 1 if quick else TRAINING_BLOCK[problem_name]
        gen = torch.Generator().manual_seed(0)
        count = block * (pairs + 1)
        batches = []
        for _ in range(count):
            idx = torch.randint(len(problem.train), (32,), generator=gen)
            batches.append((problem.train.inputs[idx], problem.train.targets[idx]))
        for label, (ours_name, ours_kw, theirs_name, theirs_kw) in TRAINING.items():
            ours, ours_losses = _trainer(
                problem, lambda p, n=ours_name, k=ours_kw: st.OPTIMIZERS[n](p, **k, fused=True), batches
            )
            theirs, theirs_losses = _trainer(
                problem, lambda p, n=theirs_name, k=theirs_kw: getattr(torch.optim, n)(p, **k, fused=True), batches
            )
            # Both sides train on the same blocks of batches, alternately and in alternating order (A B, B A, …:
            # neither side always runs right after the other's forward and backward passes).
            times = []
            for i, start in enumerate(range(0, count, block)):
                a = functools.partial(ours, start, start + block)
                b = functools.partial(theirs, start, start + block)
                if i % 2:
                    tb, ta = timed(b), timed(a)
                else:
                    ta, tb = timed(a), timed(b)
                times.append((ta, tb))
            times = times[1:]  # the first pair is the warm-up (compilation, allocator)
            ratio = statistics.median(b / a for a, b in times)
            ours_s, theirs_s = (statistics.median(t[i] for t in times) / block for i in (0, 1))
            rel = _relative(ours_losses, theirs_losses)
            # the reference for that difference: torch's own for-each path against its fused one, same batches
            foreach, foreach_losses = _trainer(
                problem, lambda p, n=theirs_name, k=theirs_kw: getattr(torch.optim, n)(p, **k, foreach=True), batches
            )
            foreach(0, count)
            rows.append(
                {
                    "problem": problem_name,
                    "parameters": sum(p.numel() for p in problem.network.parameters()),
                    "tensors": len(list(problem.network.parameters())),
                    "optimizer": label,
                    "steps": len(ours_losses),
                    "block": block,
                    "sgdlab_steps_per_s": 1.0 / ours_s,
                    "torch_fused_steps_per_s": 1.0 / theirs_s,
                    "throughput_ratio": ratio,
                    "final_loss": {"sgdlab": ours_losses[-1], "torch_fused": theirs_losses[-1]},
                    "final_loss_rel_diff": rel[-1],
                    "max_loss_rel_diff": max(rel),
                    "first_step_over_1e-6": next((i + 1 for i, r in enumerate(rel) if r > 1e-6), None),
                    "max_loss_rel_diff_vs_torch_foreach": max(_relative(ours_losses, foreach_losses)),
                    "torch_foreach_vs_fused_max_loss_rel_diff": max(_relative(foreach_losses, theirs_losses)),
                    "pairs": times,
                }
            )
            print(f"{problem_name:10s} {label:13s} sgdlab {1 / ours_s:8.1f} steps/s, torch fused {1 / theirs_s:8.1f} "
                  f"steps/s, ratio {ratio:5.2f}x; losses {ours_losses[-1]:.6f} / {theirs_losses[-1]:.6f} "
                  f"(max rel. diff {max(rel):.1e}; vs torch foreach "
                  f"{rows[-1]['max_loss_rel_diff_vs_torch_foreach']:.1e}; torch's foreach vs its fused "
                  f"{rows[-1]['torch_foreach_vs_fused_max_loss_rel_diff']:.1e})")  # fmt: skip
    return rows


def _relative(ours: list[float], theirs: list[float]) -> list[float]:
    """Step by step, |ours − theirs| / |theirs| of two loss sequences."""
    return [abs(a - b) / abs(b) for a, b in zip(ours, theirs, strict=True)]


# --- the README's tables, from the results file ---------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f}" if seconds >= 0.01 else f"{1e3 * seconds:.2f}"


def readme_tables(result: dict) -> str:
    """The README's B5 tables, written from a results file (tests/test_torch_fast_path.py checks that the README
    holds exactly these lines, so its numbers are the file's)."""
    by = {(r["list"], r["optimizer"]): r for r in result["rows"]}
    lists = list(dict.fromkeys(r["list"] for r in result["rows"]))
    head = " | ".join(f"{name}: sgdlab / torch ms (torch path) | ratio" for name in lists)
    lines = [f"| optimizer | {head} | target |", "|---" * (2 + 2 * len(lists)) + "|"]
    for label in dict.fromkeys(r["optimizer"] for r in result["rows"]):
        cells = []
        for name in lists:
            r = by[(name, label)]
            if label in FOREACH_TARGET:
                c = r["torch_paths"]["foreach"]
                cells += [f"{_ms(c['ours_s'])} / {_ms(c['theirs_s'])} (foreach)", f"{c['speedup']:.2f}×"]
            else:
                cells += [f"{_ms(r['sgdlab_s'])} / {_ms(r['torch_fastest_s'])} ({r['fastest_torch_path']})",
                          f"{r['speedup_vs_fastest']:.2f}×"]  # fmt: skip
        target = f"≥ {FOREACH_TARGET[label]:g}× foreach" if label in FOREACH_TARGET else "≥ 1× fastest"
        lines.append(f"| {label} | {' | '.join(cells)} | {target} |")
    lines += ["", "| list | bytes per Adam step | Adam, of triad: sgdlab / torch (fastest) | fixed cost per step: "
              "sgdlab / torch (fastest) µs |", "|---|---|---|---|"]  # fmt: skip
    for name in lists:
        r = by[(name, "Adam")]
        ours_us, theirs_us = (1e6 * r["fixed_cost_s"][side] for side in ("sgdlab", "torch"))
        lines.append(f"| {name} ({r['tensors']} tensors, {r['parameters'] / 1e6:.1f}M) | "
                     f"{r['bytes_moved'] / 1e6:.0f} MB | {r['fraction_of_triad']:.0%} / "
                     f"{r['torch_fraction_of_triad']:.0%} | {ours_us:.0f} / {theirs_us:.0f} |")  # fmt: skip
    lines += ["", "| training step | sgdlab steps/s | torch fused steps/s | ratio | final loss sgdlab / torch | "
              "largest loss difference vs torch fused / vs torch foreach | torch's foreach vs its fused |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in result["training"]:
        loss = r["final_loss"]
        lines.append(f"| {r['problem']}, {r['optimizer']} ({r['steps']} steps) | {r['sgdlab_steps_per_s']:.0f} | "
                     f"{r['torch_fused_steps_per_s']:.0f} | {r['throughput_ratio']:.2f}× | {loss['sgdlab']:.6f} / "
                     f"{loss['torch_fused']:.6f} | {r['max_loss_rel_diff']:.1e} / "
                     f"{r['max_loss_rel_diff_vs_torch_foreach']:.1e} | "
                     f"{r['torch_foreach_vs_fused_max_loss_rel_diff']:.1e} |")  # fmt: skip
    return "\n".join(lines)


def readme_summary(result: dict) -> list[str]:
    """B5's rows of the README's one-table summary of the benchmarks, from a results file."""
    fastest = [r["speedup_vs_fastest"] for r in result["rows"] if r["optimizer"] not in FOREACH_TARGET]
    foreach = [r["speedup_vs_foreach"] for r in result["rows"] if r["optimizer"] in FOREACH_TARGET]
    threads = result["threads"]["torch_threads"]
    lines = [
        f"| B5: one `step()` of sgdlab.torch on ResNet-18 and transformer parameter lists (float32, CPU, {threads} "
        f"thread{'s' * (threads > 1)}): Adam, AdamW, Adagrad, SGD (plain, momentum, Nesterov) / RMSprop, Adadelta | "
        f"fast path | torch.optim's fastest path / `foreach=True` | **{min(fastest):.2f}–{max(fastest):.2f}×** / "
        f"**{min(foreach):.2f}–{max(foreach):.2f}×** | ≥ 1× / ≥ 2× |"
    ]
    if result.get("training"):
        ratios = [r["throughput_ratio"] for r in result["training"]]
        worst = max(r["max_loss_rel_diff"] for r in result["training"])
        lines.append(
            f"| B5: training steps (forward, backward, step), digits CNN and char LSTM, Adam and SGD momentum, "
            f"{threads} thread{'s' * (threads > 1)} | "
            f"sgdlab.torch | torch.optim `fused=True` | **{min(ratios):.2f}–{max(ratios):.2f}×** (losses within "
            f"{worst:.1e}) | ≥ 0.98× (1e-6) |"
        )
    return lines


# --- main ----------------------------------------------------------------------------------------------------


def threads(count: int) -> dict:
    """Set torch's thread count and record what each side uses: torch's CPU kernels run on
    ``torch.get_num_threads()`` threads (at::parallel_for over OpenMP), and sgdlab.torch's fast path on as many of
    numba's threads (at most numba's pool, `sgdlab.torch.fast_path`). Where numba and torch load the same OpenMP
    runtime, numba's first parallel loop (the triad here) leaves *torch's* count at ``numba.get_num_threads()``, so
    the count is set after the triad."""
    torch.set_num_threads(count)
    return {"torch_threads": torch.get_num_threads(),
            "sgdlab_fast_path_threads": min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS),
            "numba_threads": numba.get_num_threads()}  # fmt: skip


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--train-pairs", type=int, default=60, help="timed pairs of training blocks")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny lists and models, 2 pairs")
    parser.add_argument("--readme", action="store_true", help="only print the README's tables from the results files")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--only", nargs="+", help="step benchmark: only these optimizers (labels of CONFIGS)")
    parser.add_argument("--no-training", action="store_true", help="skip the training steps")
    parser.add_argument(
        "--out", type=Path, help="results file (default: benchmarks/results/b5_torch_step[_threads1].json)"
    )
    args = parser.parse_args(argv)
    if args.readme:
        single, default = (json.loads(path.read_text()) for path in RESULTS_FILES)
        print(readme_tables(single), "", *readme_summary(single), *readme_summary(default), sep="\n")
        return RESULTS_FILES[0]
    pairs = 2 if args.quick else args.pairs
    if args.quick:
        lists = {
            "resnet18": resnet18_shapes(num_classes=10)[:14],
            "transformer": transformer_shapes(256, 16, 32, 1, 64),
        }
    else:
        lists = {"resnet18": resnet18_shapes(), "transformer": transformer_shapes()}
    initial_threads = torch.get_num_threads()
    bandwidth = triad_bandwidth(1 << 16 if args.quick else 20_000_000)
    print(f"triad bandwidth {bandwidth / 1e9:.1f} GB/s")
    thread_info = threads(args.threads or initial_threads)
    print(f"threads: torch and sgdlab's fast path {thread_info['torch_threads']}, numba {thread_info['numba_threads']}")
    step = step_rows(lists, pairs, bandwidth, args.only or list(CONFIGS))
    print()
    training = [] if args.no_training else training_rows(args.quick, 2 if args.quick else args.train_pairs)
    assert torch.get_num_threads() == thread_info["torch_threads"], "the thread count changed during the run"
    out = args.out or (
        Path(tempfile.mkdtemp()) / "b5_torch_step.json" if args.quick else RESULTS_FILES[0 if args.threads == 1 else 1]
    )
    payload = {
        "benchmark": "B5 torch optimizer step",
        "machine": machine(),
        "quick": args.quick,
        "threads": thread_info,
        "triad_GBps": bandwidth / 1e9,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "training": training,
        "rows": step,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")  # harness.save's format, at a chosen path
    print(f"\nraw results: {out}")
    return out


if __name__ == "__main__":
    main()
