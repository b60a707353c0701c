"""Catalogue chapter: hostile hyperparameters, problem parameters and run arguments, and data at float64's edges.

Each case is a distinct mistake whose error names the culprit (the argument, or the data's scale).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

import sgdlab as sl
from conftest import well_conditioned_logistic
from sgdlab.data import Dataset
from sgdlab.methods import (
    GD,
    SAGA,
    SGD,
    SLBFGS,
    SVRG,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    AMSGrad,
    Cosine,
    InverseTime,
    Momentum,
    Nesterov,
    RMSProp,
    StepDecay,
    Warmup,
)
from sgdlab.problems import (
    AdamCounterexample,
    LeastSquares,
    LogisticRegression,
    NonconvexLogistic,
    NonconvexPL,
    Quadratic2D,
    Rosenbrock,
    SoftmaxRegression,
    TwoParameterLeastSquares,
)

NAN, INF = float("nan"), float("inf")


@functools.cache
def problem() -> LogisticRegression:
    return well_conditioned_logistic()


def run(**kwargs):
    return sl.run(problem(), SGD(), **{"epochs": 1, **kwargs})


def data(scale: float = 1.0, n: int = 10, dim: int = 3) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(scale * rng.standard_normal((n, dim)), np.where(rng.standard_normal(n) > 0, 1.0, -1.0))


def zero_data() -> LeastSquares:
    return LeastSquares(Dataset(np.zeros((10, 3)), np.arange(10.0)))


CASES = [
    # eps = 0 would make a zero gradient's update 0/0 in every method that divides by √v + ε or √(v + ε)
    ("adam-eps-zero", lambda: Adam(eps=0.0), ValueError, "eps must be > 0"),
    ("amsgrad-eps-zero", lambda: AMSGrad(eps=0, convention="torch"), ValueError, "eps must be > 0"),
    ("adamw-eps-zero", lambda: AdamW(eps=0.0), ValueError, "eps must be > 0"),
    ("adagrad-eps-zero", lambda: Adagrad(eps=0.0), ValueError, "eps must be > 0"),
    ("rmsprop-eps-zero-torch", lambda: RMSProp(eps=0.0, convention="torch"), ValueError, "eps must be > 0"),
    ("adam-eps-zero-in-float32", lambda: Adam(eps=1e-50).init(np.zeros(3, np.float32)), ValueError,
     "eps=1e-50 is 0 in float32"),
    ("adagrad-eps-zero-in-float32", lambda: Adagrad(eps=1e-60).init(np.zeros(3, np.float32)), ValueError,
     "eps=1e-60 is 0 in float32"),
    # hyperparameters of the wrong kind
    ("sgd-lr-string", lambda: SGD(lr="fast"), TypeError, "lr must be a real number, got str"),
    ("sgd-lr-complex", lambda: SGD(lr=0.1j), TypeError, "lr must be a real number, got complex"),
    ("sgd-lr-list", lambda: SGD(lr=[0.1]), TypeError, "lr must be a real number, got list"),
    ("sgd-lr-huge-int", lambda: SGD(lr=2**2000), ValueError, "lr must be finite"),
    ("momentum-beta-nan", lambda: Momentum(beta=NAN), ValueError, "beta must be finite"),
    ("nesterov-beta-string", lambda: Nesterov(beta="0.9"), TypeError, "beta must be a real number"),
    ("rmsprop-gamma-negative", lambda: RMSProp(gamma=-0.5), ValueError, r"gamma must be in \[0, 1\)"),
    ("adadelta-eps-inf", lambda: Adadelta(eps=INF), ValueError, "eps must be finite"),
    ("adam-beta1-bool", lambda: Adam(beta1=True), TypeError, "beta1 must be a real number"),
    ("amsgrad-convention-int", lambda: AMSGrad(convention=1), ValueError,
     "convention must be one of 'lecture', 'torch'; got 1"),
    ("rmsprop-convention-list", lambda: RMSProp(convention=["torch"]), ValueError, "convention must be one of"),
    ("gd-line-search-bool", lambda: GD(line_search=True), ValueError, "line_search must be one of None, 'armijo'"),
    ("svrg-inner-float", lambda: SVRG(inner=10.0), TypeError, "inner must be an integer"),
    ("slbfgs-memory-none", lambda: SLBFGS(memory=None), TypeError, "memory must be an integer"),
    ("adamw-weight-decay-string", lambda: AdamW(weight_decay="1e-2"), TypeError, "weight_decay must be a real"),
    # schedules, as objects and as text
    ("sgd-schedule-int", lambda: SGD(schedule=5), ValueError, "schedule must be a Schedule"),
    ("schedule-name-typo", lambda: SGD(schedule="cosin"), ValueError, "'constant', '1/k', '1/sqrt(k)', 'cosine'"),
    ("schedule-text-negative", lambda: SGD(schedule="InverseTime(k0=-1)"), ValueError, "k0 must be > 0, got -1"),
    ("schedule-text-unknown-parameter", lambda: SGD(schedule="InverseTime(x=1)"), ValueError,
     "schedule must be written with InverseTime's parameters (k0); got 'x'"),
    ("schedule-text-positional", lambda: SGD(schedule="StepDecay(100)"), ValueError,
     "schedule must be written with StepDecay's parameters by name (every, factor)"),
    ("schedule-text-not-literal", lambda: SGD(schedule="StepDecay(every=n)"), ValueError,
     "schedule must be written with literal values; got every="),
    ("schedule-text-float-every", lambda: SGD(schedule="StepDecay(every=2.5)"), TypeError,
     "every must be an integer"),
    ("stepdecay-factor-nan", lambda: StepDecay(factor=NAN), ValueError, "factor must be finite"),
    ("cosine-total-zero", lambda: Cosine(total=0), ValueError, "total must be >= 1"),
    ("cosine-final-above-one", lambda: Cosine(final=2.0), ValueError, r"final must be in \[0, 1\]"),
    ("warmup-steps-zero", lambda: Warmup(steps=0), ValueError, "steps must be >= 1"),
    ("warmup-then-unknown", lambda: Warmup(then="exponential"), ValueError, "then must be a Schedule"),
    ("inversetime-k0-string", lambda: InverseTime(k0="10"), TypeError, "k0 must be a real number"),
    # problem parameters
    ("rosenbrock-a-nan", lambda: Rosenbrock(a=NAN), ValueError, "a must be finite"),
    ("rosenbrock-a-string", lambda: Rosenbrock(a="1"), TypeError, "a must be a real number"),
    ("rosenbrock-a-huge", lambda: Rosenbrock(a=1e200), ValueError, "curvature 8·b·a² at x* overflows float64"),
    ("rosenbrock-b-zero", lambda: Rosenbrock(b=0), ValueError, "b must be > 0"),
    ("quadratic-angle-string", lambda: Quadratic2D(angle="abc"), TypeError, "angle must be a real number"),
    ("quadratic-angle-inf", lambda: Quadratic2D(angle=INF), ValueError, "angle must be finite"),
    ("quadratic-seed-negative", lambda: Quadratic2D(seed=-1), ValueError, "seed must be a non-negative integer"),
    ("quadratic-seed-float", lambda: Quadratic2D(seed=1.5), TypeError, "seed must be an integer"),
    ("quadratic-kappa-below-one", lambda: Quadratic2D(kappa=0.5), ValueError, r"kappa must be in \[1, 1e\+15\]"),
    ("quadratic-kappa-overflowing", lambda: Quadratic2D(kappa=1e308), ValueError, r"kappa must be in \[1, 1e\+15\]"),
    ("ls2d-noise-overflowing", lambda: TwoParameterLeastSquares(noise=1e300), ValueError,
     r"noise must be <= 1e\+100 \(the targets' squares stay finite\)"),
    ("make-regression-cond-huge", lambda: sl.data.make_regression(n=5, dim=2, cond=1e300), ValueError,
     r"cond must be in \[1, 1e\+15\]"),
    ("quadratic-n-zero", lambda: Quadratic2D(n=0), ValueError, "n must be >= 1"),
    ("quadratic-spread-inf", lambda: Quadratic2D(spread=INF), ValueError, "spread must be finite"),
    ("ls2d-n-float", lambda: TwoParameterLeastSquares(n=20.0), TypeError, "n must be an integer"),
    ("ls2d-cond-nan", lambda: TwoParameterLeastSquares(cond=NAN), ValueError, "cond must be finite"),
    ("ls2d-noise-negative", lambda: TwoParameterLeastSquares(noise=-1), ValueError, "noise must be >= 0"),
    ("ls2d-seed-bool", lambda: TwoParameterLeastSquares(seed=True), TypeError, "seed must be an integer"),
    ("counterexample-C-two", lambda: AdamCounterexample(C=2.0), ValueError, "C must be > 2"),
    ("counterexample-radius-negative", lambda: AdamCounterexample(radius=-1), ValueError, "radius must be > 0"),
    ("least-squares-array", lambda: LeastSquares(np.zeros((3, 3))), TypeError, "data must be an sgdlab.data.Dataset"),
    ("logistic-l2-string", lambda: LogisticRegression(data(), l2="0.1"), TypeError, "l2 must be a real number"),
    ("softmax-one-class", lambda: SoftmaxRegression(Dataset(np.eye(3), [0, 0, 0])), ValueError,
     "at least 2 classes"),
    ("softmax-n-classes-float", lambda: SoftmaxRegression(Dataset(np.eye(3), [0, 1, 0]), n_classes=2.0), TypeError,
     "n_classes must be an integer"),
    ("nonconvex-logistic-penalty-zero", lambda: NonconvexLogistic(data(), penalty=0.0), ValueError,
     "penalty must be > 0"),
    ("nonconvex-pl-underparametrised", lambda: NonconvexPL(data(n=10, dim=3)), ValueError, "over-parametrised"),
    # data at float64's edges: one message about the data's scale, not a LinAlgError
    ("design-too-large", lambda: LeastSquares(data(1e300)), ValueError,
     r"entries are too large \(max \|a_ij\| = .*\): ‖a_i‖² overflows float64.*sl.data.standardize"),
    ("design-too-large-logistic", lambda: LogisticRegression(data(1e160)), ValueError, "entries are too large"),
    ("design-too-small", lambda: LeastSquares(data(1e-300)), ValueError, "entries are too small"),
    ("design-too-small-sparse", lambda: LeastSquares(Dataset(sp.csr_matrix(1e-170 * np.eye(3)), np.ones(3))),
     ValueError, "‖a_i‖² underflows float64"),
    # default step sizes that the problem's constants do not define
    ("sgd-default-step-zero-data", lambda: sl.run(zero_data(), "SGD", epochs=1), ValueError,
     r"SGD's default step size 1/\(2 L_b\) is undefined because L_b = 0.*pass lr="),
    ("gd-default-step-zero-data", lambda: sl.run(zero_data(), "GD", iters=2), ValueError,
     "GD's default step size 1/L is undefined because L = 0"),
    ("momentum-default-step-zero-data", lambda: sl.run(zero_data(), "Momentum", epochs=1), ValueError,
     "Momentum's default step size"),
    ("saga-default-step-zero-data", lambda: sl.run(zero_data(), SAGA(), epochs=1), ValueError,
     r"1/\(3 L_max\) is undefined because L_max = 0"),
    ("slbfgs-zero-data", lambda: sl.run(zero_data(), "SLBFGS", epochs=1), ValueError,
     "SLBFGS's default inverse-Hessian scale 1/L_b is undefined"),
    # run arguments
    ("run-record-typo", lambda: run(record="los"), ValueError, "record entry must be one of 'loss'"),
    ("run-record-empty", lambda: run(record=()), ValueError, "record must name at least one of"),
    ("run-record-int", lambda: run(record=5), TypeError, "record must be a tuple of names"),
    ("run-record-set", lambda: run(record={"loss"}), TypeError, "record must be a tuple"),
    ("run-record-every-tiny", lambda: run(record_every=1e-300), ValueError,
     "record_every must be at least 1/n = 0.00333 epochs"),
    ("run-record-every-nan", lambda: run(record_every=NAN), ValueError, "record_every must be finite"),
    ("run-record-every-negative", lambda: run(record_every=-1), ValueError, "record_every must be > 0"),
    ("run-record-every-too-many", lambda: run(epochs=10_000, record_every=1 / 300), ValueError,
     "record_every=0.00333333 epochs asks for 3e+06 checkpoints"),
    ("run-points-per-decade-huge", lambda: run(points_per_decade=10**300), ValueError,
     "points_per_decade must be <= 1,000,000"),
    ("run-points-per-decade-float", lambda: run(points_per_decade=1e300), TypeError,
     "points_per_decade must be an integer"),
    ("run-seed-negative", lambda: run(seed=-1), ValueError, "seed must be a non-negative integer, got -1"),
    ("run-seed-float", lambda: run(seed=1.5), TypeError, "seed must be an integer"),
    ("run-seed-bool", lambda: run(seed=True), TypeError, "seed must be an integer"),
    ("run-seed-none", lambda: run(seed=None), TypeError, "seed must be an integer"),
    ("run-target-nan", lambda: run(target_subopt=NAN), ValueError, "target_subopt must be finite"),
    ("run-target-negative", lambda: run(target_subopt=-1e-3), ValueError, "target_subopt must be >= 0"),
    ("run-target-string", lambda: run(target_subopt="1e-3"), TypeError, "target_subopt must be a real number"),
    ("run-divergence-factor-zero", lambda: run(divergence_factor=0), ValueError, "divergence_factor must be > 0"),
    ("run-checkpoint-path-int", lambda: run(checkpoint_path=5), TypeError, "checkpoint_path must be a file path"),
    ("run-checkpoint-every-negative", lambda: run(checkpoint_every=-1), ValueError, "checkpoint_every must be >= 0"),
    ("run-x0-complex", lambda: run(x0=np.zeros(10, dtype=complex)), TypeError,
     "x0 must hold real numbers, got dtype complex128"),
    ("run-x0-strings", lambda: run(x0=["0"] * 10), TypeError, "x0 must hold real numbers"),
    ("run-x0-ragged", lambda: run(x0=[[0.0], [0.0, 1.0]]), TypeError, "x0 must be a 1-D array of real numbers"),
    ("run-x0-inf", lambda: run(x0=np.full(10, INF)), ValueError, "x0 contains NaN or Inf"),
    ("run-dtype-float16", lambda: run(dtype=np.float16), TypeError, "dtype must be float32 or float64, got float16"),
    ("run-dtype-name", lambda: run(dtype="double precision"), TypeError, "dtype must be float32 or float64"),
    ("run-epochs-string", lambda: run(epochs="1"), TypeError, "epochs must be a real number"),
    ("run-epochs-overflow", lambda: run(epochs=1e307), ValueError, "epochs=1e+307 is too large"),
    ("run-grad-evals-nan", lambda: run(grad_evals=NAN), ValueError, "grad_evals must be finite"),
    ("run-iters-bool", lambda: sl.run(problem(), SGD(), iters=True), TypeError, "iters must be an integer"),
    ("run-seconds-negative", lambda: sl.run(problem(), SGD(), seconds=-1), ValueError, "seconds must be > 0"),
    ("run-batch-size-float", lambda: run(batch_size=2.0), TypeError, "batch_size must be an integer"),
    ("run-sampler-int", lambda: run(sampler=1), ValueError, "sampler must be one of 'uniform', 'reshuffle'"),
    ("run-sampler-with-gd", lambda: sl.run(problem(), GD(), iters=1, sampler="bogus"), ValueError,
     "sampler must be one of"),
    # outside sl.run: the generators', splits', pictures' and analyses' own arguments
    ("make-regression-seed-negative", lambda: sl.data.make_regression(n=10, dim=3, seed=-1), ValueError,
     "seed must be a non-negative integer, got -1"),
    ("make-classification-seed-string", lambda: sl.data.make_classification(n=10, seed="x"), TypeError,
     "seed must be an integer, got str"),
    ("make-rare-features-seed-float", lambda: sl.data.make_rare_features(n=10, dim=5, seed=1.5), TypeError,
     "seed must be an integer, got float"),
    ("split-test-size-string", lambda: data().split(test_size="0.5"), TypeError, "test_size must be a real number"),
    ("split-test-size-none", lambda: data().split(test_size=None), TypeError, "test_size must be a real number"),
    ("split-seed-negative", lambda: data().split(seed=-1), ValueError, "seed must be a non-negative integer"),
    ("iterate-path-iters-float", lambda: sl.viz.iterate_path(Quadratic2D(), "SGD", 1.9), TypeError,
     "iters must be an integer, got float"),
    ("iterate-path-iters-nan", lambda: sl.viz.iterate_path(Quadratic2D(), "SGD", NAN), TypeError,
     "iters must be an integer"),
    ("iterate-path-iters-huge", lambda: sl.viz.iterate_path(Quadratic2D(), "SGD", 10**12), ValueError,
     "iters must be <= 67,108,864"),
    ("iterate-path-batch-float", lambda: sl.viz.iterate_path(Quadratic2D(), "SGD", 5, batch_size=2.7), TypeError,
     "batch_size must be an integer"),
    ("sampled-indices-seed-negative", lambda: sl.viz.sampled_indices(Quadratic2D(), "SGD", 5, seed=-1), ValueError,
     "seed must be a non-negative integer"),
    ("bootstrap-n-boot-huge", lambda: sl.analysis.bootstrap_rate(_curves(), "sublinear", n_boot=10**12), ValueError,
     "n_boot must be <= 1,000,000"),
    ("bootstrap-seed-negative", lambda: sl.analysis.bootstrap_rate(_curves(), "sublinear", seed=-1), ValueError,
     "seed must be a non-negative integer"),
    # a method changed after construction, or stepped by hand
    ("schedule-assigned-later", lambda: _with(SGD(lr=0.1), schedule="cosin").resolve(problem()), ValueError,
     "schedule must be a Schedule"),
    ("step-int-iterate", lambda: SGD(lr=0.1).step(np.zeros(3, int), np.ones(3), {"k": 0}), TypeError,
     "x must be a float32 or float64 NumPy array"),
    ("step-complex-gradient", lambda: SGD(lr=0.1).step(np.zeros(3), np.ones(3, complex), {"k": 0}), TypeError,
     "g must be a float32 or float64 NumPy array .*complex128"),
    ("step-list-gradient", lambda: SGD(lr=0.1).step(np.zeros(3), [1.0, 1.0, 1.0], {"k": 0}), TypeError,
     "g must be a float32 or float64 NumPy array .*list"),
    ("step-state-not-from-init", lambda: SGD(lr=0.1).step(np.zeros(3), np.ones(3), {}), ValueError,
     "state must be SGD.init\\(x\\)'s"),
    ("step-read-only-iterate", lambda: SGD(lr=0.1).step(_read_only(3), np.ones(3), {"k": 0}), ValueError,
     "x must be writeable"),
    ("run-x0-masked", lambda: run(x0=np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])), ValueError,
     "x0: masked arrays are not supported"),
]  # fmt: skip


def _curves() -> list:
    k = np.arange(1.0, 50.0)
    return [(k, 1.0 / k), (k, 1.1 / k), (k, 0.9 / k)]


def _with(method, **changes):
    for name, value in changes.items():
        setattr(method, name, value)
    return method


def _read_only(n: int) -> np.ndarray:
    x = np.zeros(n)
    x.flags.writeable = False
    return x
