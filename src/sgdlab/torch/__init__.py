"""PyTorch side of sgdlab: drop-in optimizers (same update rules as `sgdlab.methods`) and network problems.

Importing this package imports torch; ``import sgdlab`` alone does not.
"""

from sgdlab.torch.optim import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    AMSGrad,
    Momentum,
    Nesterov,
    RMSProp,
    SgdlabOptimizer,
)

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AMSGrad",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "RMSProp",
    "SgdlabOptimizer",
]
