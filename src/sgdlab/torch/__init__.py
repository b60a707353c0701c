"""PyTorch side of sgdlab: drop-in optimizers (same update rules as `sgdlab.methods`) and network problems.

Importing this package imports torch; `import sgdlab` alone does not. The optimizers (`sgdlab.torch.Adam`, …)
are those of `sgdlab.torch.optim.OPTIMIZERS`, one per element-wise method of the registry, and torch.optim's
spellings of their names (`sgdlab.torch.optim.ALIASES`: `RMSprop`).
"""

from sgdlab.torch.optim import ALIASES, OPTIMIZERS, SgdlabOptimizer

globals().update(OPTIMIZERS)  # sgdlab.torch.Adam, …: built from the registry, so not spelled out here
globals().update(ALIASES)

__all__ = ["ALIASES", "OPTIMIZERS", "SgdlabOptimizer"]
__all__.extend(OPTIMIZERS)  # the optimizers' names, made at import (the API page inspects the module)
__all__.extend(ALIASES)
