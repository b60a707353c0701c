# %% [markdown]
# # Step sizes, measured: constant vs 1/k on real data
#
# The theory's rules (see [Step sizes and schedules](../../step-sizes/)) on the bundled breast-cancer data
# (569 samples, 30 features, shipped with sgdlab — no download): standardised features, L2-regularised
# logistic regression. Constant step `1/(2 L_max)`, the plain `"1/k"` schedule from the same step, and
# `InverseTime` with `k0 = 4 L_max/μ` — the 1/k decay done right.

# %%
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import sgdlab as sl


def show(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


data = sl.data.standardize(sl.data.load_bundled("breast_cancer"))
prob = sl.problems.LogisticRegression(data, l2=0.1)
print(data)
print(f"L = {prob.L:.3g}, L_max = {prob.L_max:.3g}, mu = {prob.mu:.3g}, L_max/mu = {prob.L_max / prob.mu:.0f}, "
      f"sigma2* = {prob.sigma2_star:.3g}")

# %% [markdown]
# `L_max` is about 30 times `L`: a few samples have large norms, and the one-sample step must respect them.
# With `lr` unset, SGD takes `1/(2 L_max)`:

# %%
alpha = 1 / (2 * prob.L_max)
k0 = 4 * prob.L_max / prob.mu
settings = {
    "constant 1/(2 L_max)": sl.methods.SGD(),
    "1/k (k0 = 1)": sl.methods.SGD(schedule="1/k"),
    f"InverseTime(k0 = {k0:.0f})": sl.methods.SGD(schedule=sl.methods.InverseTime(k0=k0)),
}
EPOCHS, SEEDS = 50, 3
curves, summary = {}, {}
for name, method in settings.items():
    runs = [sl.run(prob, method, epochs=EPOCHS, seed=s) for s in range(SEEDS)]
    curves[name] = [(t.epochs, t.subopt) for t in runs]
    finals = [t.subopt[-1] for t in runs]
    summary[name] = runs
    print(f"{name:24s} lr {runs[0].hyperparameters['lr']:.4f}  final f − f* (median of {SEEDS}): "
          f"{np.median(finals):.2e}")
fig, ax = plt.subplots(figsize=(6, 4))
sl.viz.plot_convergence(ax, curves)
ax.set_title(f"breast_cancer, L2 logistic (λ = 0.1), {EPOCHS} epochs")
show(fig)

# %% [markdown]
# ## Reading the result
#
# - The constant step drops fast, then stalls at its noise floor (within a few epochs).
# - The plain `1/k` decays the step from the first iteration: its tail `α/k = 1/(2 L_max k)` is
#   `c/(μ k)` with `c = μ/(2 L_max)`, far below 1, and it crawls — the most common way to get 1/k wrong.
# - `InverseTime(k0 = 4 L_max/μ)` keeps the constant step for about `k0` iterations, then decays like
#   `2/(μ k)`: it reaches the floor as fast as the constant step and then goes below it.
#
# The level each run holds over the last quarter of its budget (`sl.analysis.noise_floor`: the median of
# `f − f*` there), median over seeds:

# %%
levels = {}
for name, runs in summary.items():
    levels[name] = np.median([sl.analysis.noise_floor(t.epochs, t.subopt) for t in runs])
    print(f"{name:24s} {levels[name]:.2e}")
constant, decayed = levels["constant 1/(2 L_max)"], levels[f"InverseTime(k0 = {k0:.0f})"]
print(f"InverseTime ends {constant / decayed:.1f}× below the constant step's floor; "
      f"k0 = {k0:.0f} iterations = {k0 / prob.n:.1f} epochs")

# %% [markdown]
# ## Exercises
#
# 1. Double and halve `k0`. Which way is the result more sensitive?
# 2. Try `lr = 1/μ` with the `"1/k"` schedule (the textbook `1/(μ k)` from the first step). What happens?
# 3. How many epochs would the constant step need to match the final value of `InverseTime`?
#
# <details>
# <summary>Answers</summary>
# <ol>
# <li>Too small a <code>k0</code> is the dangerous side: the tail constant <code>c = lr·k0·μ</code> drops below 1
# and the rate degrades; a larger <code>k0</code> only delays the decay (the run stays at the constant step's
# floor for longer).</li>
# <li><code>1/μ</code> is far above the stable step <code>1/(2 L_max)</code> (here by a factor of about
# <code>2 L_max/μ</code>), so the first iterations blow up; the run ends with <code>status == "diverged"</code>
# or wastes its budget recovering.</li>
# <li>None: a constant step never goes below its floor, whatever the budget; only a smaller constant step (or
# a decay) lowers the floor.</li>
# </ol>
# </details>
