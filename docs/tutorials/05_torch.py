# %% [markdown]
# # Neural networks with sgdlab.torch
#
# `sgdlab.torch` has the methods as `torch.optim` optimizers — same constructor style, parameter groups,
# `state_dict`, learning-rate schedulers — whose `step` calls the NumPy methods' update rule on tensors. And
# networks are problems like any other, so `sgdlab.run` trains them.

# %%
import numpy as np
import torch

import sgdlab as sl
import sgdlab.torch as st
from sgdlab.torch.problems import digits_mlp

torch.manual_seed(0)
digits = sl.data.load_bundled("digits")
inputs = torch.tensor(np.asarray(digits.A) / 16.0, dtype=torch.float32)
labels = torch.tensor(np.asarray(digits.y), dtype=torch.long)
print(digits, "| classes:", sorted(set(labels.tolist())))

# %% [markdown]
# ## A training loop with sgdlab.torch.Adam
#
# Exactly a torch loop: `zero_grad`, `backward`, `step`. We train the same small network twice from the same
# initial weights and minibatches, once with `sgdlab.torch.Adam` and once with `torch.optim.Adam`.

# %%
def train(make_optimizer, steps=80, batch=64):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimizer = make_optimizer(model.parameters())
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(inputs), (batch,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(inputs[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model(inputs).argmax(1) == labels).float().mean().item()
    return losses, accuracy


ours, acc_ours = train(lambda p: st.Adam(p, lr=1e-2))
theirs, acc_theirs = train(lambda p: torch.optim.Adam(p, lr=1e-2))
print(f"sgdlab.torch.Adam: last loss {ours[-1]:.4f}, training accuracy {acc_ours:.3f}")
print(f"torch.optim.Adam:  last loss {theirs[-1]:.4f}, training accuracy {acc_theirs:.3f}")
print(f"largest difference of the loss curves: {max(abs(a - b) for a, b in zip(ours, theirs, strict=True)):.1e}")

# %% [markdown]
# The two curves agree to float32 rounding: `st.Adam` takes torch.optim.Adam's arguments and formula (as
# `st.AdamW`, `st.Adagrad`, `st.RMSprop`, `st.Adadelta` and `st.SGD` do theirs); `convention="lecture"` gives the
# lecture's instead; see [Methods](../../methods/#conventions-sgdlab-torchoptim-and-optax).
#
# ## A network as a problem
#
# `digits_mlp` returns a problem (the cross-entropy of an MLP on the digits' training split) that carries the test
# split as `.test`. `sl.run` trains it with any method, records the training loss, and with `test=` the test
# metrics. Networks have no certified optimum, so there is no `subopt`.

# %%
prob = digits_mlp(hidden=(32,), seed=0)
test = prob.test
print(f"{prob.n} training samples, {prob.dim} parameters")
for method in (sl.methods.SGD(lr=0.3), sl.methods.Adam(lr=1e-2)):
    trace = sl.run(prob, method, epochs=1, batch_size=32, seed=0, test=test, record_every=1.0)
    frame = trace.to_frame()
    print(f"{method.name:4s}", frame[["epochs", "loss", "test_loss", "test_accuracy"]].iloc[-1].round(4).to_dict())

# %% [markdown]
# ## Exercises
#
# 1. Replace `st.Adam` by `st.AdamW(p, lr=1e-2, weight_decay=0.01)` and `torch.optim.AdamW`. Do the curves
#    still agree?
# 2. Attach `torch.optim.lr_scheduler.StepLR(optimizer, 50, 0.5)` to the sgdlab optimizer. Does it work?
# 3. Why does `sl.run` on a network report `loss` but not `subopt`?
#
# <details>
# <summary>Answers</summary>
# <ol>
# <li>Yes: AdamW follows torch's convention too (decay with the previous iterate, not scaled by the
# denominator).</li>
# <li>Yes: the optimizers keep their learning rate in <code>param_groups</code>, which is what torch's
# schedulers change.</li>
# <li><code>subopt = f − f*</code> needs a certified optimum, which a network does not have
# (<code>prob.has_optimum</code> is <code>False</code>).</li>
# </ol>
# </details>
