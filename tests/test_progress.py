"""The sweep's progress bar: one bar over distinct runs that reaches its total, what it counts, its labels, and the
time left weighed by each run's budget (simulated clocks: no wall-clock assertion)."""

from __future__ import annotations

import io
import itertools
import math
import random
import re
import threading
import time

import pytest

from sgdlab.experiments import DaskExecutor, ProcessExecutor, SerialExecutor, Store, parse_spec, run_sweep
from sgdlab.experiments.claims import Owner
from sgdlab.experiments.execute import execute_run
from sgdlab.experiments.grid import Plan, RunConfig
from sgdlab.experiments.progress import SweepProgress, run_cost, time_left
from sgdlab.lecture import CLAIMS, Claim, Verdict, run_claims
from test_sweep import SMALL, _InterruptAfter

# 5 distinct runs of 6 requests: a tuning phase (2 values × seed 0) whose choice's seed-0 run the main phase reuses
TUNED = {
    "name": "tuned",
    "seeds": 2,
    "budget": {"epochs": 1},
    "record": {"points_per_decade": 5},
    "problems": [SMALL["problems"][0]],
    "methods": [{"type": "SGD"}, {"type": "Adam", "params": {"lr": [0.003, 0.03]}, "tune": {"param": "lr"}}],
}
DISTINCT = 2 + 2 + 1  # SGD on 2 seeds, Adam's 2 tuning runs, the tuned Adam on seed 1


def _config(problem: dict, method: str = "SGD", batch: int = 1, points: int = 2, **budget) -> RunConfig:
    return RunConfig(problem=problem, method=method, hyperparameters={}, batch_size=batch, sampler="uniform", seed=0,
                     budget=budget, record={"points_per_decade": points})  # fmt: skip


def _data(kind: str = "LogisticRegression", n: int = 1000, dim: int = 20, **data) -> dict:
    return {"name": kind, "type": kind, "params": {}, "data": {"source": "classification", "n": n, "dim": dim, **data}}


def _final(text: str) -> str:
    """The bar as last drawn (tqdm redraws in place with carriage returns)."""
    lines = [line for line in re.split(r"[\r\n]", text) if "runs [" in line]
    return lines[-1]


def _sweep(store: Store, executor=None, names=None, doc=TUNED):
    out = io.StringIO()
    progress = SweepProgress(file=out, names=names or {"tuned": "claim-a"})
    report = run_sweep(parse_spec(doc), store, executor or SerialExecutor(), progress=progress)
    return report, progress, out.getvalue()


# --- the weights -------------------------------------------------------------------------------------------
def test_a_runs_cost_grows_with_its_budget_and_its_data():
    size = {"n": 20_000, "dim": 100}
    one, ten = run_cost(_config(_data(**size), epochs=1)), run_cost(_config(_data(**size), epochs=10))
    assert 3 < ten / one <= 10  # the optimisation is linear in the epochs; set-up and checkpoints are not
    assert run_cost(_config(_data(n=200_000, dim=100), epochs=10)) > 8 * ten  # ten times the samples
    assert run_cost(_config(_data(n=20_000, dim=1000), epochs=10)) > 3 * ten  # each gradient ten times wider
    softmax = _data("SoftmaxRegression", n_classes=100, **size)
    assert run_cost(_config(softmax, epochs=10)) > 20 * ten  # a gradient per class
    # an iteration budget: the batch multiplies the gradients, a full-batch method takes n per iteration
    many = run_cost(_config(_data(**size), batch=16, iters=10_000))
    assert many > 1.5 * run_cost(_config(_data(**size), iters=10_000))
    assert run_cost(_config(_data(**size), method="GD", iters=1000)) > 10 * run_cost(_config(_data(**size), iters=1000))
    assert run_cost(_config(_data(**size), seconds=2.0, epochs=1e6)) < 2.1  # a time budget bounds it
    # checkpoints cost passes over the data: a one-epoch run measured 20 times per decade costs several epochs
    assert run_cost(_config(_data(**size), points=20, epochs=1)) > 2 * one


def test_python_loop_runs_cost_more_per_iteration_than_compiled_ones():
    compiled = run_cost(_config(_data("LeastSquares"), iters=100_000))
    python = run_cost(_config({"name": "q", "type": "Quadratic2D", "params": {}}, iters=100_000))
    assert python > 20 * compiled


def test_network_runs_weigh_far_more_than_linear_model_runs():
    glm = run_cost(_config(_data(), batch=32, epochs=10))
    cnn = run_cost(_config({"name": "cnn", "type": "digits_cnn", "params": {}}, batch=32, epochs=10))
    lm = run_cost(_config({"name": "lm", "type": "char_lm", "params": {"max_chars": 60_000, "hidden": 64}},
                          batch=32, epochs=6))  # fmt: skip
    assert cnn > 50 * glm and lm > 50 * glm
    bigger = run_cost(_config({"name": "lm", "type": "char_lm", "params": {"max_chars": 120_000, "hidden": 64}},
                              batch=32, epochs=6))  # fmt: skip
    assert 1.5 < bigger / lm <= 2


def test_the_reproductions_weights_rank_its_runs_as_measured():
    """The lecture's own runs: every network run (~1–2 s measured) outweighs by far every per-sample SGD run on
    least squares of at most 60,000 iterations (10–100 ms)."""
    configs = [c for claim in CLAIMS for doc in claim.experiments(False) for c in Plan(parse_spec(doc)).tuning_runs +
               Plan(parse_spec(doc)).main_runs({})]  # fmt: skip
    networks = [run_cost(c) for c in configs if c.problem["type"] in ("digits_cnn", "char_lm")]
    small = [run_cost(c) for c in configs if c.problem["type"] == "LeastSquares" and c.method == "SGD"
             and c.budget.get("iters", math.inf) <= 60_000 and c.batch_size == 1]  # fmt: skip
    assert networks and small and min(networks) > 10 * max(small)


def test_the_time_left_starts_from_the_prior_and_follows_the_measured_rate():
    assert time_left(0.0, 0.0, 100.0, workers=2) == pytest.approx(50.0)  # the prior: one cost-second per worker
    assert time_left(1000.0, 500.0, 100.0, workers=2) == pytest.approx(50.0, rel=0.01)  # measured: 2 per second
    assert time_left(1000.0, 10_000.0, 100.0, workers=2) == pytest.approx(1000.0, rel=0.05)  # 10× slower


def _simulate(weights: list[float], durations: list[float]) -> list[tuple[float, float]]:
    """A serial sweep on a simulated clock: ``(estimated, true)`` time left after each finished run."""
    now = [0.0]
    progress = SweepProgress(False, clock=lambda: now[0])
    configs = {f"r{i}": _config(_data(), iters=i + 1) for i in range(len(weights))}
    progress.plan(configs, dict.fromkeys(configs, "x"), stored=())
    progress.cost = dict(zip(configs, weights, strict=True))
    progress.submitted(configs)
    out = []
    for i, key in enumerate(configs):
        now[0] += durations[i]
        progress.finished(key)
        out.append((progress.seconds_left(), sum(durations[i + 1 :])))
    return out


def test_the_time_left_weighed_by_cost_stays_within_a_factor_of_the_truth():
    """Heavy runs first (as a sweep orders them), then many light ones; actual times scatter ±40 % around the
    weights. Weighed, the estimate stays within 2× of the true time left and never jumps 10×; counted by runs,
    it is off by an order of magnitude."""
    rng = random.Random(0)
    weights = [30.0] * 20 + [0.5] * 200
    durations = [w * rng.uniform(0.7, 1.4) for w in weights]
    weighed = _simulate(weights, durations)
    for (estimate, truth), (after, _) in itertools.pairwise(weighed[2:-5]):
        assert truth / 2 < estimate < 2 * truth
        assert 0.1 < after / estimate < 10
    counted = _simulate([1.0] * len(weights), durations)
    assert any(estimate > 10 * truth for estimate, truth in counted[20:-5])


# --- the bar in real sweeps -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["serial", "processes", "dask"])
def test_a_fresh_store_counts_every_distinct_run_once_and_ends_at_100_percent(tmp_path, kind):
    executor = {"serial": SerialExecutor, "processes": lambda: ProcessExecutor(jobs=2),
                "dask": lambda: DaskExecutor(local_workers=2)}[kind]()  # fmt: skip
    with Store(tmp_path / "r.db") as store, executor:
        report, progress, out = _sweep(store, executor)
        assert len(store.runs()) == DISTINCT
    assert progress.total == progress.count == DISTINCT and progress.to_do == DISTINCT and not progress.stored
    assert f"{DISTINCT} runs to compute; none was in" in out
    final = _final(out)
    assert "100%" in final and f"{DISTINCT}/{DISTINCT} runs" in final
    assert f"computed {DISTINCT}/{DISTINCT} · 0 already stored" in final
    assert "claim-a · computed" in final  # the label of the experiment being computed
    # one main request reuses a tuning run: shared within the sweep, not "already in the store"
    assert report.executed == DISTINCT and report.shared == 1 and report.found == 0 and report.skipped == 0
    assert "already in the store" not in str(report) and "1 more requests shared a run" in str(report)


def test_a_fully_stored_store_says_why_and_is_at_100_percent_at_once(tmp_path):
    with Store(tmp_path / "r.db") as store:
        _sweep(store)
        report, progress, out = _sweep(store)
    assert progress.count == progress.total == DISTINCT and progress.to_do == 0
    assert f"all {DISTINCT} runs are already in {tmp_path / 'r.db'}, stored there by an earlier sweep" in out
    final = _final(out)
    assert "100%" in final and f"{DISTINCT}/{DISTINCT} runs" in final and "nothing to compute" in final
    assert report.executed == 0 and report.found == DISTINCT
    assert f"{DISTINCT} already in the store from an earlier sweep" in str(report)


def test_a_half_stored_store_counts_stored_and_to_do_apart_and_ends_at_100_percent(tmp_path):
    doc = {**TUNED, "seeds": 4}  # 9 distinct runs: SGD on 4 seeds, Adam's 2 tuning runs, the tuned Adam on 3 more
    with Store(tmp_path / "r.db") as store:
        first = run_sweep(parse_spec(doc), store, _InterruptAfter(4), progress=False)
        assert first.interrupted and first.executed == 4
        report, progress, out = _sweep(store, doc=doc)
    assert len(progress.stored) == 4 and progress.to_do == 5 and progress.count == progress.total == 9
    assert "9 runs: 4 already in" in out and "5 to compute" in out
    final = _final(out)
    assert "100%" in final and "9/9 runs" in final and "computed 5/5 · 4 already stored" in final
    assert report.executed == 5 and report.found == 4


def test_failed_runs_count_as_finished(tmp_path):
    broken = {"name": "broken", "type": "NonconvexPL", "data": {"source": "regression", "n": 50, "dim": 5}}
    doc = {**TUNED, "problems": [broken], "methods": [{"type": "SGD"}]}
    with Store(tmp_path / "r.db") as store:
        report, progress, out = _sweep(store, doc=doc, names={"tuned": "claim-b"})
    assert report.failed == 2 and progress.count == progress.total == 2
    final = _final(out)
    assert "100%" in final and "2 failed" in final


def test_runs_another_sweep_computes_are_collected_and_counted(tmp_path):
    configs = Plan(parse_spec(TUNED)).tuning_runs
    other = Owner()  # this live process, another sweep
    with Store(tmp_path / "r.db") as store:
        store.claim([c.key for c in configs], other)

        def compute():
            time.sleep(0.5)
            with Store(tmp_path / "r.db") as theirs:
                for config in configs:
                    theirs.record(execute_run(config), sweep="tuned")

        worker = threading.Thread(target=compute)
        worker.start()
        report, progress, out = _sweep(store)
        worker.join()
    assert report.by_others == len(configs) and report.executed == DISTINCT - len(configs)
    final = _final(out)
    assert progress.count == progress.total == DISTINCT and "100%" in final and f"computed {DISTINCT}/" in final
    assert "waiting for 2 runs another sweep" in out


class _Tiny(Claim):
    key, title, statement = "tiny-claim", "A tiny claim", "SGD runs."

    def experiments(self, quick):
        return [TUNED]

    def judge(self, results):
        verdict = Verdict()
        verdict.check("ran", len(results["tuned"]) == 4, "", "")
        return verdict


def test_a_reproduction_labels_the_bar_with_the_claim(tmp_path):
    out = io.StringIO()
    result = run_claims([_Tiny()], tmp_path, jobs=1, progress=SweepProgress(file=out), echo=lambda _: None)
    assert result.passed
    final = _final(out.getvalue())
    assert "100%" in final and "tiny-claim · computed 5/5" in final
