"""sgdlab's element-wise methods as `torch.optim.Optimizer` subclasses.

Each optimizer holds no math of its own: for every parameter it calls the NumPy side's
`method.step(p, p.grad, state)`, whose update rule is written with array-agnostic operations
(`sgdlab.methods._ops`) and therefore runs on tensors of any floating dtype and device. Dense CPU float32/float64
tensors of a method with a fused kernel take the multi-tensor fast path instead (`sgdlab.torch.fast_path`: one
call of the same fused update loop per param group); every other tensor takes that reference loop. A parameter's
state is what `method.init` returns (tensors, and the step counter `"k"`). Hyperparameters live in the param groups (so
per-group values and every `torch.optim.lr_scheduler` work as usual); the method object for a group is rebuilt —
and its hyperparameters re-validated — whenever they change.

Two interfaces, each a set of keywords and of param-group keys:

* **torch's** (`TorchInterface`) — an optimizer named as its torch.optim counterpart (`Adam`, `AdamW`,
  `Adagrad`, `RMSprop` = `RMSProp`, `Adadelta`, `SGD`) takes that counterpart's signature: its keywords,
  positions and defaults, read from the installed torch, and its group keys (`betas`, `momentum`, …, which
  `OneCycleLR` and `CyclicLR` cycle). The group runs the method that `Method.from_torch` builds, under
  `convention="torch"`. This is their default: a drop-in.
* **sgdlab's** (`FieldInterface`) — the method's own hyperparameters (names, defaults, the lecture's convention),
  schedules as their text: `convention="lecture"` (or any method field) for those six, and the only interface of
  the others (`Momentum`, `Nesterov`, `AMSGrad`, `Lion`).

Complex parameters are stepped as their real view (`torch.view_as_real`, as torch.optim does). A sparse gradient
updates its rows only where a zero gradient entry changes nothing (plain SGD, Adagrad without weight decay), else
it is densified; methods that torch refuses sparse gradients for refuse them too (`Method.sparse_update`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from numbers import Real
from typing import Any, ClassVar

import torch

from sgdlab import methods
from sgdlab.methods.base import SteppedMethod
from sgdlab.torch import fast_path

#: torch's implementation choices: not hyperparameters. `foreach` and `fused` are accepted; every step takes
#: sgdlab's one path, and `fused=True` makes a method with a `rounding` option round as torch's fused kernels
#: (otherwise as its foreach ops); `capturable` and `differentiable` are refused (`_check_flags`).
FLAGS = ("foreach", "fused", "capturable", "differentiable")
_PROBE = torch.zeros(1, dtype=torch.float64)  # a method's state layout: the keys of its init on this


def _plain(name: str, value: Any) -> Any:
    """A group value as the method takes it: a 1-element tensor as its number, a tuple element by element."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element")
        return value.item()
    if isinstance(value, tuple | list):
        return tuple(_plain(f"{name}[{i}]", v) for i, v in enumerate(value))
    return value


def _immutable(value: Any) -> bool:
    """A group value that cannot change without being replaced: a number, string or None, or a tuple of them."""
    if isinstance(value, tuple):
        return all(map(_immutable, value))
    return value is None or type(value) in (bool, int, float, str)


def _same(value: Any, last: Any) -> bool:
    """`value` is `last` (an immutable group value), or equal to it and immutable too: never a comparison with a
    tensor, whose result is a tensor."""
    return value is last or (type(value) is type(last) and _immutable(value) and value == last)


def _check_flags(values: dict[str, Any]) -> None:
    """torch's own refusals of flag combinations (its types), then those of flags this implementation lacks."""
    fused, foreach = values.get("fused"), values.get("foreach")
    if fused and values.get("differentiable"):
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if values.get("capturable"):
        raise ValueError(
            "capturable=True is not supported: sgdlab.torch steps with its hyperparameters as Python numbers, "
            "which a CUDA graph cannot capture; pass capturable=False"
        )
    if values.get("differentiable"):
        raise ValueError(
            "differentiable=True is not supported: sgdlab.torch updates parameters in place outside autograd; "
            "pass differentiable=False"
        )


@functools.cache
def _torch_defaults(torch_class: type[torch.optim.Optimizer]) -> dict[str, Any]:
    """The defaults torch's optimizer sets when constructed with its own defaults."""
    return torch_class([torch.zeros(1, requires_grad=True)]).defaults


class TorchInterface:
    """torch.optim's interface for `method_class`: `torch_class`'s signature and group keys."""

    def __init__(self, method_class: type[SteppedMethod], torch_class: type[torch.optim.Optimizer]) -> None:
        self.method_class, self.torch_class = method_class, torch_class
        self.signature = inspect.signature(torch_class)
        named = tuple(name for name in self.signature.parameters if name != "params")
        # what torch's groups hold besides the keywords (AdamW's decoupled_weight_decay=True), as torch sets it
        self.fixed = {k: v for k, v in _torch_defaults(torch_class).items() if k not in named}
        self.keys = named + tuple(self.fixed)
        #: the method has the `rounding` option that `fused=True` sets
        self.rounds = "rounding" in {f.name for f in dataclasses.fields(method_class)}

    def defaults(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The constructor's arguments bound as torch binds them, with torch's defaults."""
        try:
            bound = self.signature.bind(None, *args, **kwargs)
        except TypeError as error:
            raise TypeError(
                f"{error} (torch.optim.{self.torch_class.__name__}'s keywords: {', '.join(self.keys)}; sgdlab's "
                f"own names, such as {', '.join(f.name for f in dataclasses.fields(self.method_class))}, need "
                "convention='lecture')"
            ) from None
        bound.apply_defaults()
        values = {**dict(bound.arguments), **self.fixed}
        del values["params"]
        self._check_numbers(values)
        self.method_class.check_torch_call(values)
        return values

    def _check_numbers(self, values: dict[str, Any]) -> None:
        """A keyword whose torch default is a number (or a pair of numbers) must be one, or a tensor: torch's
        range checks (`0.0 <= lr`) raise TypeError for `None` or a string, and so does this, naming it."""
        for name, parameter in self.signature.parameters.items():
            default, value = parameter.default, values.get(name)
            if isinstance(default, bool) or not isinstance(default, int | float | tuple):
                continue
            pair = isinstance(default, tuple)
            for entry in value if pair and isinstance(value, tuple | list) else (value,):
                if not isinstance(entry, Real | torch.Tensor):  # (a bool is a number to torch's checks too)
                    what = "a pair of numbers (or of one-element tensors)" if pair else "a number (or a tensor)"
                    raise TypeError(
                        f"{self.torch_class.__name__}'s {name} must be {what}, like its "
                        f"default {default!r}; got {type(value).__name__} {value!r}"
                    )

    def build(self, values: dict[str, Any]) -> SteppedMethod:
        _check_flags(values)
        keywords = {k: v for k, v in values.items() if k not in FLAGS}
        if values.get("fused") and self.rounds:
            keywords["rounding"] = "fused"  # torch's fused kernels' roundings
        return self.method_class.from_torch(**keywords)


class FieldInterface:
    """sgdlab's interface: the method's fields as keywords and group keys (`lr` may come first, by position)."""

    def __init__(self, method_class: type[SteppedMethod]) -> None:
        self.method_class = method_class
        self.keys = tuple(f.name for f in dataclasses.fields(method_class))

    def defaults(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        name = self.method_class.__name__
        if len(args) > 1 or (args and "lr" in kwargs):
            raise TypeError(f"{name}() takes lr as its only positional hyperparameter; pass the others by name")
        kwargs = {"lr": args[0], **kwargs} if args else kwargs
        unknown = [key for key in kwargs if key not in self.keys]
        if unknown:
            raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}; its hyperparameters: "
                            f"{', '.join(self.keys)}")  # fmt: skip
        method = self.method_class(**{k: _plain(k, v) for k, v in kwargs.items()})
        if method.lr is None:
            raise ValueError(f"{name} needs lr=: without a problem there are no constants to derive it from")
        return {**method.hyperparameters(), **{k: v for k, v in kwargs.items() if isinstance(v, torch.Tensor)}}

    def build(self, values: dict[str, Any]) -> SteppedMethod:
        return self.method_class(**values)


class SgdlabOptimizer(torch.optim.Optimizer):
    """Base class: `method_class` names the sgdlab method whose `step` this optimizer applies, `torch_class` the
    torch.optim optimizer whose interface it takes by default (`None`: sgdlab's only).

    Args:
        params: The tensors to optimize, or param groups (dicts with `params` and per-group hyperparameters).
        *args: Positional hyperparameters, as the interface takes them (torch's positions, or `lr` alone).
        **kwargs: The hyperparameters by name: the torch counterpart's keywords, or with `convention="lecture"`
            (and for methods without a counterpart) the method's fields.

    Raises:
        TypeError: An unknown keyword, or more positional hyperparameters than the interface takes.
        ValueError: A hyperparameter out of its range, or a param group made for another interface.

    Examples:
        Every optimizer of `OPTIMIZERS` is a subclass; the drop-ins are also `torch.optim.Optimizer`s:

        >>> import torch
        >>> import sgdlab.torch
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = sgdlab.torch.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.99))
        >>> isinstance(opt, sgdlab.torch.SgdlabOptimizer), isinstance(opt, torch.optim.Optimizer)
        (True, True)
        >>> opt.param_groups[0]["betas"], opt.method_class.__name__
        ((0.9, 0.99), 'Adam')
        >>> lecture = sgdlab.torch.Adam(model.parameters(), lr=0.01, beta2=0.99, convention="lecture")
        >>> lecture.param_groups[0]["beta2"]
        0.99
    """

    method_class: ClassVar[type[SteppedMethod]]
    torch_class: ClassVar[type[torch.optim.Optimizer] | None] = None

    def __init__(self, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        torch_way = self.torch_class is not None and kwargs.get("convention", "torch") == "torch"
        if torch_way:
            kwargs.pop("convention", None)
            self.interface: TorchInterface | FieldInterface = TorchInterface(self.method_class, self.torch_class)
        else:
            self.interface = FieldInterface(self.method_class)
        defaults = self.interface.defaults(args, kwargs)
        # per group index: its values (as numbers), method, state layout, and its raw values where immutable
        self._methods: dict[int, tuple[tuple, SteppedMethod, frozenset, list | None]] = {}
        self._layouts: dict[tuple, frozenset] = {}
        self._paths: dict[int, fast_path.GroupPath] = {}  # per group index: its fast path's plan
        super().__init__(params, defaults)

    def __getstate__(self) -> dict[str, Any]:
        """torch's (defaults, state, groups) and which interface the optimizer takes: a deep copy or a pickle of the
        whole optimizer keeps it."""
        return {**super().__getstate__(), "interface": self.interface}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """torch's (`load_state_dict` comes through here too), then the caches that a copy or an unpickled
        optimizer does not carry: they are rebuilt at its first step."""
        super().__setstate__(state)
        for name in ("_methods", "_layouts", "_paths"):
            self.__dict__.setdefault(name, {})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's, then the group's hyperparameters checked (a refused group is not added)."""
        super().add_param_group(param_group)
        try:
            self._method_for(len(self.param_groups) - 1, self.param_groups[-1])
        except Exception:
            self.param_groups.pop()
            raise

    def _method_for(self, index: int, group: dict[str, Any]) -> tuple[SteppedMethod, frozenset]:
        """The group's method and the state keys it needs, rebuilt when the group's values change."""
        cached = self._methods.get(index)
        if cached is not None and cached[3] is not None:
            # the group's values as they are, against the last ones where those were all immutable numbers: the
            # cheap check of every step (a tensor lr, changed in place by a scheduler, takes the full one)
            try:
                if all(map(_same, [group[name] for name in self.interface.keys], cached[3])):
                    return cached[1], cached[2]
            except KeyError:
                pass  # (the full check names the missing key)
        try:
            key = tuple(_plain(name, group[name]) for name in self.interface.keys)
        except KeyError as missing:
            raise ValueError(
                f"param group {index} has no {missing}: it was made for another interface than this "
                f"{type(self).__name__}'s ({type(self.interface).__name__})"
            ) from None
        if cached is None or cached[0] != key:
            values = dict(zip(self.interface.keys, key, strict=True))
            method = self.interface.build(values)
            # the state layout does not depend on the step size: a scheduler that changes `lr` every step rebuilds
            # the method, not its layout (an `init` on the probe tensor, ~25 µs a step)
            shape = tuple(value for name, value in values.items() if name != "lr")
            try:
                layout = self._layouts.get(shape)
            except TypeError:  # (an unhashable hyperparameter value: no cache)
                shape, layout = None, None
            if layout is None:
                layout = frozenset(method.init(_PROBE))
                if shape is not None:
                    self._layouts[shape] = layout
            cached = (key, method, layout)
        raw = [group[name] for name in self.interface.keys]
        self._methods[index] = (*cached[:3], raw if all(map(_immutable, raw)) else None)
        return cached[1], cached[2]

    def _state(self, p: torch.Tensor, x: torch.Tensor, method: SteppedMethod, layout: frozenset) -> dict[str, Any]:
        """`p`'s state: `method.init(x)` at the first step, completed when a changed hyperparameter (amsgrad,
        momentum) needs a state array it did not have. (Such an array starts as `init` makes it: SGD's momentum
        buffer switched on after the first step starts at 0, where torch copies that step's gradient — the same
        update unless `dampening > 0`.)"""
        state = self.state[p]
        if not state.keys() >= layout:
            for name, value in method.init(x).items():
                state.setdefault(name, value)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One update of every parameter that has a gradient; `closure` re-evaluates the loss first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            method, layout = self._method_for(index, group)
            state_of = functools.partial(self._state, method=method, layout=layout)
            path = self._paths.get(index)
            if path is None:
                path = self._paths[index] = fast_path.GroupPath()
            # what the fast path leaves to this loop
            for p in path.step(method, group["params"], state_of, self.state, layout):
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    self._sparse_step(method, layout, p)
                    continue
                x, g = (torch.view_as_real(p), torch.view_as_real(p.grad)) if p.is_complex() else (p, p.grad)
                method.step(x, g, self._state(p, x, method, layout))
        return loss

    def _sparse_step(self, method: SteppedMethod, layout: frozenset, p: torch.Tensor) -> None:
        """A sparse gradient: its rows stepped alone (`method.sparse_update() == "rows"`), or densified."""
        if p.is_complex():
            raise RuntimeError(f"{type(self).__name__} does not support sparse gradients of complex parameters")
        rule, grad = method.sparse_update(), p.grad.coalesce()
        state = self._state(p, p, method, layout)
        if rule == "dense":
            method.step(p, grad.to_dense(), state)
            return
        index = tuple(grad.indices())
        arrays = [name for name, value in state.items() if isinstance(value, torch.Tensor) and value.shape == p.shape]
        rows = {name: state[name][index] if name in arrays else state[name] for name in state}
        x = p[index]
        method.step(x, grad.values(), rows)
        p[index] = x
        for name, value in rows.items():
            if name in arrays:
                state[name][index] = value
            else:
                state[name] = value


def _counterpart(method_class: type[SteppedMethod]) -> type[torch.optim.Optimizer] | None:
    """The torch.optim class named as the method (case aside: `RMSprop`), whose interface its optimizer takes."""
    name = (method_class.info.torch or "").rpartition(".")[2]
    return getattr(torch.optim, name) if name.lower() == method_class.__name__.lower() else None


_SECTION = re.compile(r"^(Args|Attributes|Returns|Raises|Examples):$", re.MULTILINE)


def _rule(method_class: type[SteppedMethod]) -> str:
    """The method's docstring without its sections (its Args and Examples are the NumPy side's)."""
    doc = inspect.cleandoc(method_class.__doc__ or "")
    found = _SECTION.search(doc)
    rule = doc[: found.start()] if found else doc
    return f"The update rule (`sgdlab.methods.{method_class.__name__}`): {rule.rstrip()}"


_TORCH_ARGS = """\
    params: The tensors to optimize, or param groups (dicts with `params` and per-group hyperparameters), as
        for any `torch.optim.Optimizer`.
    convention: `"torch"` (the default): the counterpart's keywords (listed in the signature), positions and
        defaults, and torch's formula; `"lecture"`: the method's fields as keywords (`lr` also by position)."""
_FIELD_ARGS = """\
    params: The tensors to optimize, or param groups (dicts with `params` and per-group hyperparameters), as
        for any `torch.optim.Optimizer`.
    *args: `lr`, the only hyperparameter that may come by position.
    **kwargs: The method's other fields, by name; `lr` is required (no problem to derive it from)."""
_OPTIMIZER_SECTIONS = """

Args:
{args}

Raises:
    TypeError: An unknown keyword (the message lists the accepted ones).
    ValueError: A hyperparameter out of its range (named as the interface names it), `lr` missing under
        sgdlab's interface, or `capturable=True` / `differentiable=True`, which this implementation lacks.

Examples:
    One training step after another on a tiny linear model:

    >>> import torch
    >>> import sgdlab.torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Linear(3, 1)
    >>> x, y = torch.randn(16, 3), torch.randn(16, 1)
    >>> opt = sgdlab.torch.{name}(model.parameters(), lr={lr})
    >>> def loss():
    ...     return torch.nn.functional.mse_loss(model(x), y)
    >>> before = loss().item()
    >>> for _ in range(5):
    ...     opt.zero_grad()
    ...     loss().backward()
    ...     opt.step()
    >>> loss().item() < before
    True
"""
_EXAMPLE_LR = {"Adadelta": 1.0}  # torch's default; the others take a small step


def _optimizer(method_class: type[SteppedMethod]) -> type[SgdlabOptimizer]:
    if not method_class.info.elementwise or method_class.info.full_batch:
        raise TypeError(f"{method_class.__name__} is not an element-wise stochastic method; it has no torch optimizer")
    counterpart, name = _counterpart(method_class), method_class.__name__
    if counterpart is None:
        doc = (
            f"`torch.optim.Optimizer` running `sgdlab.methods.{name}`'s update rule.\n\n"
            f"Keyword arguments are that method's hyperparameters.\n\n{_rule(method_class)}"
            + _OPTIMIZER_SECTIONS.format(name=name, lr=_EXAMPLE_LR.get(name, 0.01), args=_FIELD_ARGS)
        )
    else:
        doc = (
            f"`torch.optim.Optimizer` running `sgdlab.methods.{name}`'s update rule: a drop-in for "
            f'`torch.optim.{counterpart.__name__}`.\n\nBy default (`convention="torch"`) it takes torch.optim\'s '
            f"arguments, positions and defaults, and runs torch's formula (`sgdlab.methods.{name}.from_torch`), so "
            'that code written for torch.optim runs unchanged. `convention="lecture"` takes sgdlab\'s names and '
            "defaults instead (the method's fields, the lecture's formula).\n\n"
            f"{_rule(method_class)}"
            + _OPTIMIZER_SECTIONS.format(name=name, lr=_EXAMPLE_LR.get(name, 0.01), args=_TORCH_ARGS)
        )
    attributes: dict[str, Any] = {"method_class": method_class, "torch_class": counterpart, "__doc__": doc,
                                  "__module__": __name__}  # fmt: skip
    if counterpart is not None:
        signature = inspect.signature(counterpart)
        lecture = inspect.Parameter("convention", inspect.Parameter.KEYWORD_ONLY, default="torch")
        attributes["__signature__"] = signature.replace(parameters=[*signature.parameters.values(), lecture])
    return type(name, (SgdlabOptimizer,), attributes)


#: An optimizer for every element-wise stochastic method of `sgdlab.methods.METHODS` (`info.elementwise` and not
#: `info.full_batch`), by name; each is also an attribute of this module and of `sgdlab.torch`.
OPTIMIZERS: dict[str, type[SgdlabOptimizer]] = {
    name: _optimizer(cls) for name, cls in methods.METHODS.items() if cls.info.elementwise and not cls.info.full_batch
}
#: torch.optim's spelling of a name, for the drop-in: `sgdlab.torch.RMSprop` is `sgdlab.torch.RMSProp`.
ALIASES: dict[str, type[SgdlabOptimizer]] = {
    optimizer.torch_class.__name__: optimizer
    for optimizer in OPTIMIZERS.values()
    if optimizer.torch_class is not None and optimizer.torch_class.__name__ not in OPTIMIZERS
}
globals().update(OPTIMIZERS)
globals().update(ALIASES)
