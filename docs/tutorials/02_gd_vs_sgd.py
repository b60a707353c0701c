# %% [markdown]
# # GD vs SGD, the noise floor and the batch size
#
# An SGD step costs one component gradient, a GD step `n`. Per gradient evaluation SGD is fast early and
# slow late: with a constant step it stalls at a noise floor proportional to `α σ²*/b`.

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


prob = sl.problems.LeastSquares(sl.data.make_regression(n=1000, dim=20, cond=10.0, noise=0.5, seed=0))
print(f"n = {prob.n}, L = {prob.L:.3g}, L_max = {prob.L_max:.3g}, mu = {prob.mu:.3g}, sigma2* = {prob.sigma2_star:.3g}")

# %% [markdown]
# ## Cost: the same budget of gradient evaluations
#
# Both runs get 30 epochs, i.e. `30 n` component gradients: 30 GD iterations, 30,000 SGD iterations.

# %%
gd = sl.run(prob, sl.methods.GD(), epochs=30)
sgd = sl.run(prob, sl.methods.SGD(), epochs=30, seed=0)
for t in (gd, sgd):
    print(f"{t.method:4s} iterations {int(t.iters[-1]):6d}  grad evals {int(t.grad_evals[-1]):6d}  "
          f"final f − f* {t.subopt[-1]:.2e}")
for eps in (1e-1, 1e-3, 1e-6):
    to = [sl.analysis.iterations_to(t.grad_evals, t.subopt / t.subopt[0], eps) for t in (gd, sgd)]
    print(f"grad evals to {eps:g} of the initial gap: GD {to[0]:.0f}, SGD {to[1]:.0f}")

ax = gd.plot(x="grad_evals", label="GD (1/L)")
sgd.plot(x="grad_evals", label="SGD (1/(2 L_max))", ax=ax)
show(ax.figure)

# %% [markdown]
# SGD reaches a rough solution with far fewer gradient evaluations; GD's linear rate wins at high accuracy,
# where constant-step SGD never arrives (`iterations_to` returns `inf`).
#
# ## The floor grows with α …

# %%
alpha = 1 / (2 * prob.L_max)
floors = {}
curves = {}
for factor in (1, 4, 16):
    runs = [sl.run(prob, sl.methods.SGD(lr=alpha / factor), epochs=30, seed=s) for s in range(3)]
    floors[factor] = np.median([sl.analysis.noise_floor(t.epochs, t.subopt) for t in runs])
    curves[f"α/{factor}"] = [(t.epochs, t.subopt) for t in runs]
    print(f"lr = α/{factor:<2d}  floor {floors[factor]:.2e}")
slope = np.polyfit(np.log([alpha / f for f in floors]), np.log(list(floors.values())), 1)[0]
print(f"log–log slope of the floor against the step: {slope:.2f} (theory: 1)")

fig, ax = plt.subplots(figsize=(6, 4))
sl.viz.plot_convergence(ax, curves)
show(fig)

# %% [markdown]
# ## … and shrinks with the batch size
#
# The same step `α` with minibatches of `b` samples: the gradient's variance is `σ²*/b`, and so is the floor.
# (Per epoch a batch of 16 makes 16 times fewer steps, so the floor takes longer to reach.)

# %%
batch_floors = {}
for b in (1, 4, 16):
    runs = [sl.run(prob, sl.methods.SGD(lr=alpha), epochs=60, batch_size=b, seed=s) for s in range(3)]
    batch_floors[b] = np.median([sl.analysis.noise_floor(t.epochs, t.subopt) for t in runs])
    print(f"b = {b:2d}  floor {batch_floors[b]:.2e}")
slope = np.polyfit(np.log(list(batch_floors)), np.log(list(batch_floors.values())), 1)[0]
print(f"log–log slope of the floor against b: {slope:.2f} (theory: −1)")

# %% [markdown]
# ## No noise, no floor; decreasing steps go below it
#
# With `noise=0` the model interpolates the data: every `∇f_i(x*) = 0`, so `σ²* = 0` and constant-step SGD
# converges linearly. On the noisy problem a decreasing step `α_k ≈ 2/(μ k)` (`InverseTime` with
# `k0 = 4 L_max/μ`, see [Step sizes](../../step-sizes/)) keeps going below the floor.

# %%
clean = sl.problems.LeastSquares(sl.data.make_regression(n=1000, dim=20, cond=10.0, noise=0.0, seed=0))
print(f"noiseless: sigma2* = {clean.sigma2_star:.2e}")
t_clean = sl.run(clean, sl.methods.SGD(), epochs=30, seed=0)
k0 = 4 * prob.L_max / prob.mu
t_decay = sl.run(prob, sl.methods.SGD(lr=alpha, schedule=sl.methods.InverseTime(k0=k0)), epochs=60, seed=0)
t_const = sl.run(prob, sl.methods.SGD(lr=alpha), epochs=60, seed=0)
print(f"noiseless, constant step: |f − f*| = {abs(t_clean.subopt[-1]):.0e} (rounding level; "
      f"the initial gap was {t_clean.subopt[0]:.2g})")
print(f"noisy, constant step:     f − f* = {t_const.subopt[-1]:.2e}")
print(f"noisy, InverseTime(k0={k0:.0f}): f − f* = {t_decay.subopt[-1]:.2e}")

ax = t_clean.plot(label="σ²* = 0, constant")
t_const.plot(ax=ax, label="σ²* > 0, constant")
t_decay.plot(ax=ax, label="σ²* > 0, InverseTime")
show(ax.figure)

# %% [markdown]
# ## Exercises
#
# 1. By the theory, what should the floor of `lr = α/4` with `b = 4` be, relative to `α` with `b = 1`?
# 2. Why is the floor measured against epochs and not against iterations when comparing batch sizes?
# 3. Replace `InverseTime(k0=k0)` by the plain `"1/k"` schedule with the same `lr`. What happens, and why?
#
# <details>
# <summary>Answers</summary>
# <ol>
# <li>About 1/16 of it: the floor scales like α/b, and both factors contribute 1/4.</li>
# <li>The floor itself does not depend on the axis, but reaching it does: at equal cost (epochs) a batch of b
# makes b times fewer steps. Measuring over the tail of a long enough run in epochs gives every batch size
# the same work.</li>
# <li>It is far slower: with <code>k0 = 1</code> the step falls to <code>α/k</code> at once, i.e. <code>c/(μ k)</code>
# with <code>c = μ/(2 L_max)</code> much smaller than 1, and the rate degrades to roughly <code>k^(−c)</code>.
# The 1/k rule needs <code>α_k ≈ c/(μ k)</code> with <code>c ≥ 1</code> in the tail.</li>
# </ol>
# </details>
