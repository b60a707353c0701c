"""Optimisation methods, each with its math in one place and the lecture's formula in its docstring."""

from sgdlab.methods.adadelta import Adadelta
from sgdlab.methods.adagrad import Adagrad
from sgdlab.methods.adam import Adam, AdamW, AMSGrad
from sgdlab.methods.base import Fused, Method, MethodInfo, State, SteppedMethod, expected_smoothness
from sgdlab.methods.gd import GD
from sgdlab.methods.lbfgs import SLBFGS
from sgdlab.methods.lion import Lion
from sgdlab.methods.momentum import Momentum, Nesterov
from sgdlab.methods.rmsprop import RMSProp
from sgdlab.methods.schedules import (
    Constant,
    Cosine,
    InverseSqrt,
    InverseTime,
    Schedule,
    StepDecay,
    Warmup,
)
from sgdlab.methods.sgd import SGD
from sgdlab.methods.variance_reduced import SAG, SAGA, SVRG

#: Every method by its public name: the registry. Each class carries its `MethodInfo` (`cls.info`), which the
#: fused path, the compiled segments, the torch optimizers, the spec schema, the CLI and the benchmarks read.
METHODS: dict[str, type[Method]] = {
    cls.__name__: cls
    for cls in (
        GD,
        SGD,
        Momentum,
        Nesterov,
        Adagrad,
        RMSProp,
        Adadelta,
        Adam,
        AMSGrad,
        AdamW,
        Lion,
        SAG,
        SAGA,
        SVRG,
        SLBFGS,
    )
}

__all__ = [
    "GD",
    "METHODS",
    "SAG",
    "SAGA",
    "SGD",
    "SLBFGS",
    "SVRG",
    "AMSGrad",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Constant",
    "Cosine",
    "Fused",
    "InverseSqrt",
    "InverseTime",
    "Lion",
    "Method",
    "MethodInfo",
    "Momentum",
    "Nesterov",
    "RMSProp",
    "Schedule",
    "State",
    "StepDecay",
    "SteppedMethod",
    "Warmup",
    "expected_smoothness",
]
