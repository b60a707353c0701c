# %% [markdown]
# # Experiment sweeps and the results store
#
# A sweep is a document — problems × methods × grids × batch sizes × seeds, a budget, what to record,
# tuning rules — validated in full before anything runs. `run_sweep` executes it into a SQLite `Store`, one
# committed transaction per finished run, and skips every run that is already there. The same document as a
# TOML file runs with `sgdlab run FILE --db results.db`.

# %%
import tempfile
import tomllib
from pathlib import Path

import sgdlab.experiments as ex

document = tomllib.loads('''
name = "tutorial"
seeds = 2
batch_size = [1, 8]

[budget]
epochs = 3

[record]
metrics = ["loss", "subopt"]

[[problems]]
name = "logistic"
type = "LogisticRegression"
params = { l2 = 1e-2 }
data = { source = "classification", n = 500, dim = 10, cond = 10.0, seed = 0 }

[[methods]]
type = "SGD"

[[methods]]
type = "Adam"
params = { lr = [1e-3, 1e-2, 1e-1] }
tune = { param = "lr", metric = "final_subopt", seeds = [0] }
''')
spec = ex.parse_spec(document)
print(spec.name, "| seeds", spec.seed_list, "| batch sizes", spec.batch_sizes, "| digest", spec.digest())

# %% [markdown]
# ## Mistakes are caught before any run, all at once

# %%
broken = {**document, "sampler": "shuffle", "budget": {}}
try:
    ex.parse_spec(broken)
except ex.SpecError as error:
    print(error)

# %% [markdown]
# ## Run it, serially, into a store
#
# `SerialExecutor` runs in this process (`ProcessExecutor` and `DaskExecutor` run in parallel, with
# bit-identical results). Adam's `lr` is tuned first on seed 0, then every seed runs at the chosen value.

# %%
folder = Path(tempfile.mkdtemp())
with ex.Store(folder / "results.db") as store, ex.SerialExecutor() as executor:
    report = ex.run_sweep(spec, store, executor, progress=False)
    print(report)
    again = ex.run_sweep(spec, store, executor, progress=False)
    print("second time:", again)

# %% [markdown]
# The second call finds every run finished and computes nothing.
#
# ## Read the store

# %%
with ex.Store(folder / "results.db") as store:
    runs = store.runs()
    runs["lr"] = runs["hyperparameters"].map(lambda h: h.get("lr"))
    columns = ["run_key", "label", "batch_size", "seed", "phase", "lr", "status", "final_subopt"]
    print(runs[columns].to_string(index=False))
    key = runs.loc[runs["status"] == "budget", "run_key"].iloc[0]
    print("\none trace:", key[:10])
    print(store.trace(key).tail(3).to_string(index=False))

# %% [markdown]
# `store.traces()` gives every checkpoint of every run in long format (for `sgdlab.viz.convergence_axes`),
# `store.export(folder, "csv")` writes both tables, and on the command line `sgdlab ls`, `sgdlab show` and
# `sgdlab report` read the same file.
#
# ## Exercises
#
# 1. Add a third seed (`seeds = 3`) and run the sweep again. How many runs are computed?
# 2. Which Adam learning rate was chosen, and where can you see it?
# 3. What happens to the store if the process is killed in the middle of a sweep?
#
# <details>
# <summary>Answers</summary>
# <ol>
# <li>Only the new seed's runs: runs are keyed by a hash of everything that determines their result, so the
# first two seeds are found in the store and skipped.</li>
# <li>The tuning runs are stored too (their <code>phase</code> column tells them apart); the main runs carry the
# chosen value in their <code>hyperparameters</code>. <code>sl.analysis.tuning_summary</code> tabulates the
# choice.</li>
# <li>Nothing is lost but the runs in flight: each finished run was committed in its own transaction (SQLite,
# WAL mode). Running the same spec again completes the sweep (see <a href="../../reliability/">Reliability</a>).</li>
# </ol>
# </details>
