# %% [markdown]
# # First run and plot
#
# A problem, a method, a run, its trace, and a picture: the whole loop of sgdlab in a few cells.
# (Figures are drawn with matplotlib's Agg canvas and shown as PNG images.)

# %%
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, display

import sgdlab as sl


def show(fig):
    """Render a figure with Agg and display it as a PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    display(Image(buffer.getvalue()))


# %% [markdown]
# ## A problem knows its constants
#
# `make_classification` draws a design with an exact condition number; `LogisticRegression` adds the loss
# and an L2 term. The problem computes its smoothness constants, its strong-convexity constant and a
# certified optimum `x*` (cached under `$SGDLAB_CACHE_DIR`).

# %%
data = sl.data.make_classification(n=2000, dim=20, cond=100.0, seed=0)
prob = sl.problems.LogisticRegression(data, l2=1e-3)
print(f"n = {prob.n}, dim = {prob.dim}")
print(f"L = {prob.L:.4g}, L_max = {prob.L_max:.4g}, mu = {prob.mu:.4g}, kappa = {prob.L / prob.mu:.4g}")
print(f"f* = {prob.f_star:.6f}, sigma2* = {prob.sigma2_star:.4g}")

# %% [markdown]
# ## A run returns a Trace
#
# `sl.run` takes the problem, a method and a budget. SGD's step size is left unset, so it is derived from the
# problem: `1/(2 L_max)` for one sample per step. Checkpoints are log-spaced in iterations.

# %%
trace = sl.run(prob, sl.methods.SGD(), epochs=5, batch_size=1, seed=0)
print(trace.status, "| lr used:", trace.hyperparameters["lr"], "| 1/(2 L_max):", 1 / (2 * prob.L_max))
trace.to_frame()[["iters", "epochs", "loss", "subopt", "grad_norm2"]].tail(5)

# %% [markdown]
# ## The most common picture, in one line
#
# `trace.plot()` draws `f − f*` against epochs on log–log axes and returns the matplotlib axes; `y=` and `x=`
# choose other columns (`y="grad_norm2"`, `x="grad_evals"`), and `ax=` adds another run to the same axes.

# %%
ax = trace.plot()
sl.run(prob, sl.methods.SGD(), epochs=5, batch_size=16, seed=0).plot(ax=ax, label="SGD, b = 16")
show(ax.figure)

# %% [markdown]
# ## Several methods, several seeds, one picture
#
# `sl.viz.plot_convergence` (what `trace.plot` calls) takes, for each name, one `(x, y)` pair per seed, and
# draws the median as a line with the inter-quartile range as a band.

# %%
methods = {"SGD": sl.methods.SGD(), "SAGA": sl.methods.SAGA(), "Adam (lr 0.01)": sl.methods.Adam(lr=1e-2)}
curves = {}
for name, method in methods.items():
    runs = [sl.run(prob, method, epochs=5, seed=seed) for seed in range(3)]
    curves[name] = [(t.epochs, t.subopt) for t in runs]
    print(f"{name:15s} final f − f*: " + ", ".join(f"{t.subopt[-1]:.2e}" for t in runs))

fig, ax = plt.subplots(figsize=(6, 4))
sl.viz.plot_convergence(ax, curves, xlabel="epochs", ylabel="subopt")
ax.set_title(f"logistic regression, n = {prob.n}, κ = L/μ ≈ {prob.L / prob.mu:.0f}")
show(fig)

# %% [markdown]
# SAGA keeps decreasing linearly; SGD and Adam flatten out — the noise floor of a constant step, the subject of
# the next tutorial.
#
# ## Exercises
#
# 1. Run SGD with `batch_size=16`. Which step size does it use now, and why?
# 2. Give the same seed twice: are the traces identical?
# 3. Plot against `grad_evals` instead of `epochs`: what changes, and why not the shape?
#
# <details>
# <summary>Answers</summary>
# <ol>
# <li>The derived step is <code>1/(2 L_b)</code> with <code>L_b = L_max/b + (1 − 1/b) L</code>: a minibatch averages
# out part of the noise, so its expected smoothness is smaller and the step larger
# (<code>sl.methods.expected_smoothness(prob, 16)</code>).</li>
# <li>Yes, bit for bit (except <code>time_s</code>): <code>np.array_equal(a.subopt, b.subopt)</code> is
# <code>True</code>.</li>
# <li>Only the axis scale: <code>epochs = grad_evals / n</code>, so the curves shift by the constant factor n
# on the log axis.</li>
# </ol>
# </details>
