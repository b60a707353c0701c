"""sgdlab's element-wise methods as ``torch.optim.Optimizer`` subclasses.

Each optimizer holds no math of its own: for every parameter it calls the NumPy side's
``method.step(p, p.grad, state)``, whose update rule is written with array-agnostic operations
(`sgdlab.methods._ops`) and therefore runs on tensors of any floating dtype and device. Hyperparameters
live in the param groups (so per-group values and ``torch.optim.lr_scheduler`` work as usual); the
method object for a group is rebuilt — and its hyperparameters re-validated — whenever they change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch

from sgdlab import methods
from sgdlab.methods.base import SteppedMethod
from sgdlab.torch import fast_path


class SgdlabOptimizer(torch.optim.Optimizer):
    """Base class: ``method_class`` names the sgdlab method whose ``step`` this optimizer applies."""

    method_class: ClassVar[type[SteppedMethod]]

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], **hyperparameters: Any) -> None:
        method = self.method_class(**hyperparameters)  # validates and fills in the defaults
        if method.lr is None:
            raise ValueError(
                f"{type(self).__name__} needs lr=: without a problem there are no constants to derive it from"
            )
        self._fields = tuple(f.name for f in dataclasses.fields(method))
        super().__init__(params, {name: getattr(method, name) for name in self._fields})
        self._methods: dict[int, tuple[tuple, SteppedMethod]] = {}

    def _method_for(self, index: int, group: dict[str, Any]) -> SteppedMethod:
        key = tuple(group[name] for name in self._fields)
        cached = self._methods.get(index)
        if cached is None or cached[0] != key:
            cached = (key, self.method_class(**dict(zip(self._fields, key, strict=True))))
            self._methods[index] = cached
        return cached[1]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient; ``closure`` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            method = self._method_for(index, group)
            for p in fast_path.step(self, method, group["params"]):  # what the fast path leaves to this loop
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state.update(method.init(p))
                method.step(p, p.grad, state)
        return loss


def _optimizer(method_class: type[SteppedMethod]) -> type[SgdlabOptimizer]:
    if not method_class.info.elementwise or method_class.info.full_batch:
        raise TypeError(f"{method_class.__name__} is not an element-wise stochastic method; it has no torch optimizer")
    doc = (
        f"``torch.optim.Optimizer`` running :class:`sgdlab.methods.{method_class.__name__}`'s update rule.\n\n"
        f"Keyword arguments are that method's hyperparameters.\n\n{method_class.__doc__ or ''}"
    )
    return type(
        method_class.__name__,
        (SgdlabOptimizer,),
        {"method_class": method_class, "__doc__": doc, "__module__": __name__},
    )


#: An optimizer for every element-wise stochastic method of `sgdlab.methods.METHODS` (``info.elementwise`` and not
#: ``info.full_batch``), by name; each is also an attribute of this module and of `sgdlab.torch`.
OPTIMIZERS: dict[str, type[SgdlabOptimizer]] = {
    name: _optimizer(cls)
    for name, cls in methods.METHODS.items()
    if cls.info.elementwise and not cls.info.full_batch
}
globals().update(OPTIMIZERS)
