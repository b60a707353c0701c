"""sgdlab — a laboratory for stochastic and adaptive gradient methods on finite-sum problems.

Examples:
    >>> import sgdlab as sl
    >>> data = sl.data.make_classification(n=200, dim=5, cond=10.0, seed=0)
    >>> prob = sl.problems.LogisticRegression(data, l2=1e-3)
    >>> trace = sl.run(prob, sl.methods.Adam(lr=1e-2), epochs=5, batch_size=1, seed=0)
    >>> trace.status, float(trace.epochs[-1])
    ('budget', 5.0)

Every subpackage is loaded on first use, so `import sgdlab` imports neither numba nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sgdlab._version import __version__

if TYPE_CHECKING:  # what static tools see; at run time each name is loaded on first use (__getattr__)
    from sgdlab import analysis, data, methods, problems, viz
    from sgdlab.engine import Trace, run

__all__ = ["Trace", "__version__", "analysis", "data", "methods", "problems", "run", "viz"]

#: Subpackages imported on first use (PEP 562), so that `import sgdlab` costs nothing until a name is used:
#: the `sgdlab` command (`sgdlab playground` listens before the numerics — numba, SciPy — are imported), and
#: `sl.viz` imports matplotlib only when a picture is drawn.
_LAZY = ("analysis", "data", "engine", "methods", "problems", "viz")
#: Names re-exported from a subpackage, loaded with it.
_FROM = {"Trace": "engine", "run": "engine"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"sgdlab.{name}")  # the import also binds it here, as a submodule
    if name in _FROM:
        value = getattr(importlib.import_module(f"sgdlab.{_FROM[name]}"), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise AttributeError(f"module 'sgdlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
