"""B2: one epoch of per-sample SGD on L2-regularised logistic regression — sgdlab vs scikit-learn's SGDClassifier.

    python benchmarks/b2_sgd_epoch.py [--n 100000] [--dim 100] [--pairs 9]

Problem: ``f(x) = (1/n) Σ log(1 + exp(−y_i a_iᵀx)) + (l2/2)‖x‖²``, dense float64, no intercept. scikit-learn's
SGDClassifier minimises ``(1/n) Σ loss + alpha·R(w)`` with ``R = ½‖w‖²`` for ``penalty="l2"``, so ``alpha = l2``;
with ``learning_rate="constant"`` both take ``x ← x − lr (∇ℓ_i(x) + l2 x)`` for each sample of a reshuffled epoch.

sgdlab side: the whole ``sl.run(problem, SGD(lr), epochs=1, batch_size=1, sampler="reshuffle",
points_per_decade=None, record=("loss",))`` call — one epoch, the loss recorded at the start and the end (two
full passes over the data that scikit-learn does not make, counted against sgdlab). Its compiled segment
(`sgdlab.engine.compiled`) runs the epoch; the pure-Python segment (``SGDLAB_COMPILED=0``) is timed once for
context. The headline ratio is the whole call; the epoch alone (``trace.time_s``, the segment without the two
loss evaluations and the run's set-up) is reported beside it, as ``epoch_s``.

A secondary ratio repeats the pairs with BLAS limited to one thread for both sides (``threadpoolctl``): the two
loss evaluations are BLAS matrix-vector products, after which OpenBLAS's idle workers keep polling a core for a
while; on a small, shared machine they compete with the single-threaded epoch that follows. scikit-learn's
solver makes no BLAS calls, so the limit only removes that interference from sgdlab's side.

Timing: `harness.alternate` (A B A B …, median of per-pair ratios; >1 means sgdlab is faster).
Results: benchmarks/results/b2_sgd_epoch.json.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
from harness import alternate, save, timed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from threadpoolctl import threadpool_limits

import sgdlab as sl
from sgdlab.engine import compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=9)
    args = parser.parse_args()
    l2 = 1e-4
    data = sl.data.make_classification(n=args.n, dim=args.dim, cond=100.0, seed=0)
    problem = sl.problems.LogisticRegression(data, l2=l2)
    lr = 0.5 / problem.L_max  # SGD's default step 1/(2 L_max), given explicitly to both sides
    A, y = np.ascontiguousarray(data.A, dtype=np.float64), problem.y

    epochs_s = []  # trace.time_s of every call, to pair each timed call's epoch with scikit-learn's fit

    def ours():
        trace = sl.run(problem, sl.methods.SGD(lr=lr), epochs=1, batch_size=1, sampler="reshuffle",
                      points_per_decade=None, record=("loss",), seed=0)  # fmt: skip
        epochs_s.append(float(trace.time_s[-1]))
        return trace

    def theirs():
        clf = SGDClassifier(loss="log_loss", penalty="l2", alpha=l2, learning_rate="constant", eta0=lr, max_iter=1,
                            tol=None, shuffle=True, fit_intercept=False, random_state=0)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return clf.fit(A, y)

    result = alternate(ours, theirs, pairs=args.pairs)
    epoch_pairs = list(zip(epochs_s[-args.pairs :], (b for _, b in result["pairs"]), strict=True))
    epoch_s = float(np.median([a for a, _ in epoch_pairs]))
    epoch_speedup = float(np.median([b / a for a, b in epoch_pairs]))
    with threadpool_limits(1, user_api="blas"):
        single = alternate(ours, theirs, pairs=args.pairs)
    trace, clf = ours(), theirs()
    with compiled.disabled():
        python_s = timed(ours)
    f_ours, f_theirs = trace.loss[-1], problem.loss(clf.coef_.ravel().astype(np.float64))
    f0 = trace.loss[0]
    rows = [
        {"side": "sgdlab (compiled)", "seconds": result["ours_s"], "loss_after_epoch": f_ours, "epoch_s": epoch_s},
        {"side": "sklearn SGDClassifier", "seconds": result["theirs_s"], "loss_after_epoch": f_theirs},
        {"side": "sgdlab (pure Python, SGDLAB_COMPILED=0)", "seconds": python_s, "loss_after_epoch": f_ours},
    ]  # fmt: skip
    print(f"B2: one per-sample SGD epoch, L2-logistic, n={args.n:,}, dim={args.dim}, lr={lr:.3g}, l2={l2:g}")
    print(f"{'side':42s} {'seconds':>9s} {'f after epoch':>14s}")
    for row in rows:
        print(f"{row['side']:42s} {row['seconds']:9.4f} {row['loss_after_epoch']:14.6f}")
    print(f"f(x0) = {f0:.6f}; sgdlab's compiled epoch itself (trace.time_s, median): {epoch_s:.4f} s, the rest "
          f"of the call (two loss evaluations, set-up): {result['ours_s'] - epoch_s:.4f} s")  # fmt: skip
    print(f"speed-up vs SGDClassifier, whole call (median of {args.pairs} alternating pairs): {result['speedup']:.2f}x")
    print(f"  epoch alone vs SGDClassifier's fit (same pairs): {epoch_speedup:.2f}x")
    print(f"  with BLAS limited to one thread for both sides: {single['speedup']:.2f}x")
    print(f"speed-up vs the pure-Python path: {python_s / result['ours_s']:.1f}x")
    out = save("b2_sgd_epoch", "B2 one SGD epoch, L2-logistic", rows, n=args.n, dim=args.dim, lr=lr, l2=l2,
               speedup_vs_sklearn=result["speedup"], speedup_epoch_only=epoch_speedup,
               speedup_blas_one_thread=single["speedup"], speedup_vs_python=python_s / result["ours_s"],
               load_average=os.getloadavg(), pairs=result["pairs"], pairs_blas_one_thread=single["pairs"])  # fmt: skip
    print(f"raw results: {out}")


if __name__ == "__main__":
    main()
