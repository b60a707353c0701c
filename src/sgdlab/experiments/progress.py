"""A sweep's progress: one bar for all its runs, what each run is expected to cost, and the time left.

The bar counts distinct runs — a run that two experiments, or a tuning and a main phase, ask for is one run —
and starts at the runs already in the store when the sweep began (stored by an earlier sweep into the same
file: a resumed or repeated one), so it ends at its total, 100 %, whether the runs are computed now, found
stored, failed, or computed by another sweep on the same file. It shows the label (in `sgdlab reproduce`, the
claim) of the earliest run submitted and not yet finished.

The time left weighs each run by `run_cost`, what its budget costs (component gradients times their width,
iterations, checkpoints over the data), not by its count: a network run costs hundreds of small linear-model runs,
so a count-based estimate swings by an order of magnitude as the mix of finished runs changes.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from tqdm import tqdm

from sgdlab.engine.schedule import count_checkpoints
from sgdlab.experiments.grid import RunConfig
from sgdlab.methods import METHODS

#: Seconds of one core per unit of work, set from the full reproduction's runs timed one by one (warm caches):
#: a run's set-up and bookkeeping; an iteration of the Python loop (times a method's factor) and of a compiled
#: segment; a component gradient's fixed cost and its multiply-adds (its width of them); a multiply-add of a full
#: pass over the data (full-batch gradients, checkpoints: BLAS or the fused pass, sequential reads).
RUN_S = 0.01
PYTHON_STEP_S = 2.5e-5
PYTHON_STEP_FACTOR = {"SLBFGS": 4.0}  # two gradients and the two-loop recursion per iteration
COMPILED_STEP_S = 5e-7
SAMPLE_S = 1e-7
MULTIPLY_ADD_S = 1.5e-9
PASS_MULTIPLY_ADD_S = 4e-10
#: Networks: seconds per optimiser step (framework overhead) and per training sample (forward and backward) of
#: each network type at its default size; a forward pass (evaluation) costs a fraction of a training sample.
NETWORK_STEP_S = 1e-3
NETWORK_SAMPLE_S = {"digits_mlp": 2e-6, "digits_cnn": 1e-5, "char_lm": 1.8e-4}
NETWORK_FORWARD = 0.3
#: Problems with a compiled segment (`sgdlab.engine.compiled`), and their sample counts where known without
#: building them.
COMPILED_PROBLEMS = ("LeastSquares", "LogisticRegression", "SoftmaxRegression")
BUNDLED_SIZES = {"digits": (1797, 64), "breast_cancer": (569, 30), "diabetes": (442, 10), "iris": (150, 4),
                 "wine": (178, 13)}  # fmt: skip
DIGITS_SAMPLES = 1797
RARE_FEATURES_DENSITY = 0.1  # about; its rows are sparse by design
CHAR_LM_DEFAULTS = {"seq_len": 64, "max_chars": 100_000, "hidden": 128, "test_fraction": 0.1}
#: The time left starts from this many seconds' worth of the prior rate (each worker doing one second of
#: `run_cost` per second), so the first finished runs move it smoothly.
PRIOR_S = 10.0
#: Seconds between redraws on a terminal (the elapsed time and the time left move between finished runs).
REFRESH_S = 1.0


def _sizes(problem: Mapping[str, Any]) -> tuple[float, float, float]:
    """`(training samples, held-out samples, width)` of a problem table: width is the multiply-adds of one
    component gradient (nonzeros per row times outputs)."""
    kind, params, data = problem["type"], problem.get("params") or {}, problem.get("data") or {}
    if kind in ("digits_mlp", "digits_cnn"):
        return 0.75 * DIGITS_SAMPLES, 0.25 * DIGITS_SAMPLES, 1.0
    if kind == "char_lm":
        p = {**CHAR_LM_DEFAULTS, **params}
        windows = p["max_chars"] / (p["seq_len"] + 1)
        scale = p["seq_len"] / CHAR_LM_DEFAULTS["seq_len"] * p["hidden"] / CHAR_LM_DEFAULTS["hidden"]
        return (1 - p["test_fraction"]) * windows, p["test_fraction"] * windows, scale
    if not data:  # a problem of its own making: a few components in a few dimensions
        return float(params.get("n", 3)), 0.0, 2.0
    source = data.get("source")
    if source == "bundled":
        n, dim = BUNDLED_SIZES.get(data.get("name"), (1000, 20))
    else:
        n, dim = data.get("n") or (2000 if source == "rare_features" else 1000), data.get("dim") or 200
        if source != "rare_features" and not data.get("dim"):
            dim = 20
    density = data.get("density") or (RARE_FEATURES_DENSITY if source == "rare_features" else 1.0)
    width = dim * density * (data.get("n_classes") or 1 if kind == "SoftmaxRegression" else 1)
    test = data.get("test_size") or 0.0
    return n * (1 - test), n * test, float(width)


_checkpoints = functools.lru_cache(maxsize=256)(count_checkpoints)  # many runs share a budget


def run_cost(config: RunConfig) -> float:
    """What `config` is expected to cost, in seconds of one core: the weight of the run in the time left.

    From the budget alone (nothing is built): the component gradients it computes (`epochs × n`,
    `grad_evals`, or `iters` × the batch, × `n` for full-batch methods — the first budget reached), times
    their width; its iterations (Python or compiled); and its checkpoints, each a pass over the training and
    held-out data. A run bounded by `seconds` costs at most that. Networks are costed per step and per sample
    of their type (`NETWORK_SAMPLE_S`)."""
    n, n_test, width = _sizes(config.problem)
    budget, method = config.budget, METHODS.get(config.method)
    full_batch = config.sampler == "full" or bool(method and method.info.full_batch)
    per_iter = n if full_batch else min(config.batch_size, n)
    evals = math.inf
    if budget.get("epochs"):
        evals = budget["epochs"] * n
    if budget.get("grad_evals"):
        evals = min(evals, budget["grad_evals"])
    if budget.get("iters"):
        evals = min(evals, budget["iters"] * per_iter)
    if not math.isfinite(evals):  # only seconds
        return RUN_S + float(budget.get("seconds", 0.0))
    iters = max(1.0, evals / per_iter)
    record = config.record or {}
    points = record.get("points_per_decade")
    checkpoints = float(_checkpoints(points, int(iters))) if points else 2.0
    if record.get("every"):
        checkpoints += evals / (record["every"] * n)
    kind = config.problem["type"]
    if kind in NETWORK_SAMPLE_S:
        sample = NETWORK_SAMPLE_S[kind] * width
        measure = checkpoints * sample * ((1 + NETWORK_FORWARD) * n + NETWORK_FORWARD * n_test)
        cost = iters * NETWORK_STEP_S + evals * sample + measure
    else:
        compiled = kind in COMPILED_PROBLEMS and bool(method and method.info.compiled) and not full_batch
        step = COMPILED_STEP_S if compiled else PYTHON_STEP_S * PYTHON_STEP_FACTOR.get(config.method, 1.0)
        metrics = record.get("metrics")
        passes = 1 if metrics and "grad_norm2" not in metrics else 2  # the loss alone, or loss and gradient
        per_pass = (passes * n + n_test) * width * PASS_MULTIPLY_ADD_S
        if full_batch:
            cost = iters * (step + n * width * PASS_MULTIPLY_ADD_S)
        else:
            cost = iters * step + evals * (SAMPLE_S + width * MULTIPLY_ADD_S)
        cost += checkpoints * per_pass
    if budget.get("seconds"):
        cost = min(cost, budget["seconds"])
    return RUN_S + cost


def time_left(done_cost: float, elapsed_s: float, remaining_cost: float, workers: int = 1,
              prior_s: float = PRIOR_S) -> float:  # fmt: skip
    """Seconds until `remaining_cost` is done at the rate measured so far (`done_cost` in `elapsed_s`),
    started from the prior of `workers` cost-seconds per second weighed as `prior_s` seconds of it."""
    rate = (done_cost + max(1, workers) * prior_s) / (max(0.0, elapsed_s) + prior_s)
    return remaining_cost / rate


class _Bar(tqdm):
    """tqdm with two more fields for `bar_format`: `{left}` (the time left) and `{status}`."""

    def __init__(self, *args, fields: Callable[[], dict[str, str]], **kwargs) -> None:
        self._fields = fields
        super().__init__(*args, **kwargs)

    @property
    def format_dict(self):
        return {**super().format_dict, **self._fields()}


class SweepProgress:
    """One bar for all the runs of a sweep (see the module docstring).

    `names` maps an experiment's name to the label shown while its runs are computed (e.g. a claim's key);
    `file` is where the bar goes (default: standard error); `clock` is the time source (seconds)."""

    BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs [{elapsed}<{left}] {status}"

    def __init__(
        self,
        enabled: bool = True,
        *,
        file: TextIO | None = None,
        names: Mapping[str, str] | None = None,
        desc: str = "runs",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled, self.file, self.desc, self.clock = enabled, file, desc, clock
        self.names = dict(names or {})
        self.cost: dict[str, float] = {}
        self.label: dict[str, str] = {}
        self.stored: set[str] = set()  # in the store before the sweep began
        self.done: set[str] = set()  # finished during the sweep (computed, failed, or by another sweep)
        self.failed = 0
        self.workers = 1
        self._pending: dict[str, None] = {}  # submitted and unfinished, in submission order
        self._waiting = 0
        self._current = ""  # the label of the earliest unfinished run (kept when none is left)
        self._started: float | None = None  # when the first run was submitted
        self._estimate: tuple[float, float] | None = None  # (time left, when) at the last finished run
        self._bar: _Bar | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # --- what the sweep tells it --------------------------------------------------------------------------
    def plan(self, runs: Mapping[str, RunConfig], origin: Mapping[str, str], stored: Iterable[str],
             where: object = "the store") -> None:  # fmt: skip
        """The sweep's runs by key (`origin`: the experiment each belongs to), of which `stored` were in the
        store (`where`) before it began. Called again when the plan is known more exactly (after the tuning
        phase): runs no longer planned drop out, new ones join."""
        with self._lock:
            first = not self.cost
            self.cost = {key: self.cost.get(key) or run_cost(config) for key, config in runs.items()}
            self.label = {key: self.names.get(origin[key], origin[key]) for key in runs}
            self.stored = (self.stored | set(stored)) & set(runs)
            self.done &= set(runs)
        if first:
            self.write(self.header(where))
            self._open()
        self._show()

    def order(self, keys: Iterable[str]) -> list[str]:
        """`keys` in the order to compute them: grouped by label (an experiment, or a claim), the groups whose
        longest run is longest first, and the longest first within each."""
        keys = list(keys)
        longest: dict[str, float] = {}
        for key in keys:
            label = self.label.get(key, "")
            longest[label] = max(longest.get(label, 0.0), self.cost.get(key, 0.0))
        label = self.label.get
        return sorted(keys, key=lambda k: (-longest[label(k, "")], label(k, ""), -self.cost.get(k, 0.0)))

    def submitted(self, keys: Iterable[str], workers: int = 1) -> None:
        """Runs handed to the executor, in the order it takes them up, on `workers` workers."""
        with self._lock:
            self.workers = max(1, workers)
            for key in keys:
                self._pending[key] = None
            self._follow()
            if self._started is None:
                self._started = self.clock()
        self._show()

    def finished(self, key: str, status: str = "budget") -> None:
        """A run finished: computed here (`status` as stored) or found computed by another sweep."""
        with self._lock:
            self._pending.pop(key, None)
            if key in self.cost and key not in self.done and key not in self.stored:
                self.done.add(key)
                self.failed += status == "error"
            self._follow()
            self._estimate = (self._time_left(), self.clock())
        self._show()

    def _follow(self) -> None:
        """The label shown: that of the earliest submitted run not finished (kept when none is left)."""
        current = next(iter(self._pending), None)
        if current is not None:
            self._current = self.label.get(current, "")

    def waiting(self, count: int) -> None:
        """`count` runs are being computed by another sweep on the same store."""
        with self._lock:
            self._waiting = count
        self._show()

    def close(self) -> None:
        self._stop.set()
        if self._bar is not None:
            with self._lock:
                self._bar.total, self._bar.n = self.total, self.count
            self._bar.close()  # draws the final state

    # --- what it shows ------------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        return len(self.cost)

    @property
    def count(self) -> int:
        """Runs finished: stored before the sweep, or finished during it."""
        return len(self.stored) + len(self.done)

    @property
    def to_do(self) -> int:
        """Runs the sweep had to compute (or collect from another sweep): all but those stored before."""
        return self.total - len(self.stored)

    def _time_left(self) -> float:
        remaining = sum(c for k, c in self.cost.items() if k not in self.stored and k not in self.done)
        if remaining == 0:
            return 0.0
        done = sum(self.cost[k] for k in self.done)
        elapsed = self.clock() - self._started if self._started is not None else 0.0
        return time_left(done, elapsed, remaining, self.workers)

    def seconds_left(self) -> float | None:
        """The time left: the estimate at the last finished run, counting down since (`None` before any
        run was submitted, unless nothing is left)."""
        if self.count == self.total:
            return 0.0
        if self._started is None:
            return None
        if self._estimate is None:
            return self._time_left()
        left, at = self._estimate
        return max(0.0, left - (self.clock() - at))

    def status(self) -> str:
        """The words after the bar: the current label, the runs computed of those to do and the runs found
        stored, failures."""
        with self._lock:
            if self.to_do == 0:
                return f"nothing to compute: all {self.total} were stored before"
            parts = [self._current] if self._current else []
            if self._waiting and not self._pending:
                parts = [f"waiting for {self._waiting} runs another sweep is computing"]
            parts.append(f"computed {len(self.done)}/{self.to_do} · {len(self.stored)} already stored")
            if self.failed:
                parts.append(f"{self.failed} failed")
        return " · ".join(parts)

    def _fields(self) -> dict[str, str]:
        left = self.seconds_left()
        return {"left": "?" if left is None else tqdm.format_interval(math.ceil(left)), "status": self.status()}

    def _open(self) -> None:
        if not self.enabled:
            return
        self._bar = _Bar(total=self.total, initial=self.count, desc=self.desc, unit="run", file=self.file,
                         bar_format=self.BAR_FORMAT, fields=self._fields, leave=True, smoothing=0)  # fmt: skip
        isatty = getattr(self._bar.fp, "isatty", None)
        if callable(isatty) and isatty():
            self._ticker = threading.Thread(target=self._tick, name="sgdlab-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self._bar.refresh()

    def _show(self, force: bool = False) -> None:
        """Move the bar to the current count: through tqdm's `update` (which redraws at most every
        `mininterval`), or at once with `force`."""
        bar = self._bar
        if bar is None:
            return
        with self._lock:
            total, count = self.total, self.count
        if bar.total != total:
            bar.total, force = total, True
        if count > bar.n and not force:
            bar.update(count - bar.n)
        else:
            bar.n = count
            if force:
                bar.refresh()

    def write(self, line: str) -> None:
        """A line above the bar (or nowhere, when the bar is off)."""
        if self.enabled:
            tqdm.write(line, file=self._bar.fp if self._bar is not None else self.file)

    def header(self, store: object) -> str:
        """What the sweep starts from: its runs, those already in `store` and why, those to compute."""
        stored = len(self.stored)
        if stored == 0:
            return f"{self.total} runs to compute; none was in {store} before"
        why = "stored there by an earlier sweep into the same file (resumed or repeated)"
        if stored == self.total:
            return f"all {self.total} runs are already in {store}, {why}: nothing to compute"
        return f"{self.total} runs: {stored} already in {store}, {why}; {self.to_do} to compute"
