"""sgdlab — a laboratory for stochastic and adaptive gradient methods on finite-sum problems.

import sgdlab as sl
data = sl.data.make_classification(n=10_000, dim=50, cond=100.0, seed=0)
prob = sl.problems.LogisticRegression(data, l2=1e-3)
trace = sl.run(prob, sl.methods.Adam(lr=1e-3), epochs=10, batch_size=1, seed=0)
"""

from sgdlab import analysis, data, methods, problems
from sgdlab.engine import Trace, run

__version__ = "0.1.0"
__all__ = ["Trace", "__version__", "analysis", "data", "methods", "problems", "run"]
