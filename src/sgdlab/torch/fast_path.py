"""The multi-tensor fast path of the `sgdlab.torch` optimizers: every CPU float32/float64 tensor of a param group
updated by one call of the method's fused update loop (`sgdlab.methods.fused`), in place, without copies.

:func:`step` takes the parameters of one group that have a gradient and, when they qualify, updates them and
their state directly in memory: one numba call per group (per dtype and step count), parallel over the cores
when the group holds at least ``fused.MIN_SIZE`` elements in all, serial below that, where starting threads
would cost more than the update. Inside the call every tensor — large or small — goes through the *same*
``<kernel>_update`` loop that `sgdlab.methods.fused` compiles for NumPy arrays (and
`sgdlab.engine.kernels.elementwise` for the GLM segments), called with the same arguments as ``fused.step``
does::

    kernel(x, g, *state arrays, alpha, *method.fused_step_args(k), *method.fused_args())

with the state slots of ``type(method).fused_kernel().state`` (an unused slot is ``x``) and ``alpha`` from
``method._advance(state)``. The update rules are thus written once; a kernel option added to a method (through
its ``fused_args``) reaches this path unchanged.

A parameter qualifies when it, its gradient and its state tensors are dense, C-contiguous CPU tensors of one
float dtype (float32 or float64) and the method has a fused kernel (``fused_kernel()`` is not ``None``).
Every other parameter — other devices and dtypes, non-contiguous or sparse tensors, methods without a kernel —
is handed back to the caller, whose reference loop runs ``method.step(p, p.grad, state)`` on the tensors (the
array-agnostic formula). So does everything when ``SGDLAB_FUSED=0`` or inside ``fused.disabled()``. A group
with a sparse gradient is handed back whole, so the reference loop raises where it always did. Gradients are
only read. Each updated parameter's version counter is bumped, as an in-place torch operation would.

The kernels see the tensors through their data pointers (:func:`_view`: a raw address as a NumPy-typed
array inside numba), which is what ``tensor.numpy()`` shares, minus the cost of building an array object per
tensor per step.
"""

from __future__ import annotations

import functools
import hashlib
import math
import types
from collections.abc import Iterable, Sequence

import numba
import numpy as np
import torch
from numba import types as nbtypes
from numba.extending import intrinsic

from sgdlab.engine.kernels.elementwise import serial
from sgdlab.methods import fused

# --- inside numba: tensors as arrays, and the group loops ---------------------------------------------------


@intrinsic
def _pointer(typingctx, address, like):
    """The integer ``address`` as a pointer to elements of ``like``'s type."""
    signature = nbtypes.CPointer(like.dtype)(address, like)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _view(address, lo, n, like):
    """Elements ``lo … lo + n − 1`` of the contiguous buffer at ``address`` (of ``like``'s type), as an array."""
    return numba.carray(_pointer(address + lo * like.itemsize, like), n)


# The group loops, one per number of arrays the update takes (x, g and 0–3 state arrays). ``table[t]`` holds the
# data pointers of tensor t's arrays in the kernel's order; a segment ``(t, lo, n)`` is a piece of tensor t; the
# pieces of ``chunks[c] … chunks[c + 1] − 1`` form chunk c, and the chunks (equal numbers of elements) are
# spread over the threads. ``_update`` (the method's update loop, compiled serially) and ``prange`` are bound
# per kernel by :func:`_driver`; these Python functions are never compiled themselves.


def _group2(table, segments, chunks, like, scalars):
    for c in prange(chunks.size - 1):  # noqa: F821 - bound by _driver
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like), *scalars)  # noqa: F821


def _group3(table, segments, chunks, like, scalars):
    for c in prange(chunks.size - 1):  # noqa: F821
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), *scalars)  # fmt: skip


def _group4(table, segments, chunks, like, scalars):
    for c in prange(chunks.size - 1):  # noqa: F821
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), _view(table[t, 3], lo, n, like), *scalars)  # fmt: skip


def _group5(table, segments, chunks, like, scalars):
    for c in prange(chunks.size - 1):  # noqa: F821
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), _view(table[t, 3], lo, n, like),
                    _view(table[t, 4], lo, n, like), *scalars)  # fmt: skip


_GROUPS = {2: _group2, 3: _group3, 4: _group4, 5: _group5}


def _fingerprint(fn) -> str:
    """A digest of an update loop's code: part of its group loop's name, so that numba's disk cache (which keys
    entries by the compiled function's name and code, not by the functions it calls) cannot serve a group loop
    compiled around an older version of the update."""
    code = fn.__code__
    text = repr((code.co_code, code.co_consts, code.co_names, code.co_varnames, fn.__defaults__))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def _driver(update_loop, arrays: int, parallel: bool):
    """The group loop for ``update_loop`` (a ``fused.<kernel>_update``) taking ``arrays`` arrays, compiled in
    parallel or serially, cached on disk."""
    template = _GROUPS[arrays]
    name = f"{template.__name__}_{update_loop.__name__}_{'parallel' if parallel else 'serial'}"
    name += f"_{_fingerprint(update_loop)}"
    namespace = dict(template.__globals__, _update=serial(update_loop), prange=numba.prange)
    copy = types.FunctionType(template.__code__, namespace, name)
    copy.__qualname__ = name
    return numba.njit(parallel=parallel, cache=True, nogil=True)(copy)


# --- the Python side ------------------------------------------------------------------------------------

_FLOAT_SIZES = {4: np.float32, 8: np.float64}
#: An empty array of each float type: tells the group loops the element type.
_LIKE = {size: np.empty(0, dtype=real) for size, real in _FLOAT_SIZES.items()}
#: How many group calls the fast path has made (tests read it to see that the path was taken).
calls = 0


def _dense(t: torch.Tensor, size: int, numel: int) -> bool:
    """``t`` is a C-contiguous CPU tensor of ``numel`` elements of the float type of ``size`` bytes."""
    return (
        t.is_cpu
        and not t.is_sparse
        and t.is_floating_point()
        and t.element_size() == size
        and t.numel() == numel
        and t.is_contiguous()
    )


@functools.lru_cache(maxsize=256)
def _layout(sizes: tuple[int, ...], parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments ``(tensor, lo, n)`` and chunk offsets cutting the concatenation of tensors of ``sizes`` into
    ``parts`` chunks of equal length (a multiple of 16 elements, one 64-byte line of float32)."""
    total = sum(sizes)
    per = max(16, -(-math.ceil(total / parts) // 16) * 16)
    segments, chunks, fill = [], [0], 0
    for t, n in enumerate(sizes):
        lo = 0
        while lo < n:
            take = min(n - lo, per - fill)
            segments.append((t, lo, take))
            lo, fill = lo + take, fill + take
            if fill == per:
                chunks.append(len(segments))
                fill = 0
    if chunks[-1] != len(segments):
        chunks.append(len(segments))
    return np.array(segments, dtype=np.int64).reshape(-1, 3), np.array(chunks, dtype=np.int64)


def _scalars(real, values: Iterable) -> tuple:
    """The kernel's scalars as ``fused`` passes them: Python floats in the arrays' type (float32 arithmetic for
    float32 tensors), everything else unchanged."""
    return tuple(real(v) if isinstance(v, float) else v for v in values)


def _launch(driver, table: np.ndarray, segments: np.ndarray, chunks: np.ndarray, like, scalars: tuple) -> None:
    """One call of a group loop (a seam for tests)."""
    global calls
    calls += 1
    driver(table, segments, chunks, like, scalars)


def step(optimizer: torch.optim.Optimizer, method, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Update the parameters of one group (``params``, with ``method``, state in ``optimizer.state``) that the
    fast path takes; return the others that have a gradient, for the caller's reference loop."""
    spec = type(method).fused_kernel()
    if spec is None or not fused._switch.on:
        return [p for p in params if p.grad is not None]
    update_loop = getattr(fused.KERNELS.get(spec.kernel), "__wrapped__", None)
    if update_loop is None:
        return [p for p in params if p.grad is not None]
    slots = spec.state
    arrays = 2 + len(slots)
    if arrays not in _GROUPS:  # a kernel with more state arrays than the group loops take
        return [p for p in params if p.grad is not None]

    # Pass 1 changes nothing: which parameters qualify, and whether the group must go to the reference loop whole.
    taken, rest = [], []
    for p in params:
        g = p.grad
        if g is None:
            continue
        if g.is_sparse:
            return [p for p in params if p.grad is not None]  # the reference loop raises where it always did
        size = p.element_size()
        numel = p.numel()
        if size in _FLOAT_SIZES and _dense(p, size, numel) and _dense(g, size, numel) and g.shape == p.shape:
            taken.append((p, g, size, numel))
        else:
            rest.append(p)
    if not taken:
        return rest

    # Pass 2: states, step counters and data pointers, batched by float type and step count.
    state_of = optimizer.state
    batches: dict[tuple[int, int], tuple[float, list[int], list[int]]] = {}
    for p, g, size, numel in taken:
        state = state_of[p]
        if not state:
            state.update(method.init(p))
        row = [p.data_ptr(), g.data_ptr()]
        for name in slots:
            if name is None:
                row.append(row[0])
                continue
            s = state.get(name)
            if not (isinstance(s, torch.Tensor) and _dense(s, size, numel)):
                break
            row.append(s.data_ptr())
        else:
            alpha = method._advance(state)
            key = (size, state["k"])
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = (alpha, [], [])
            batch[1].extend(row)
            batch[2].append(numel)
            torch.autograd.graph.increment_version(p)
            continue
        rest.append(p)  # a state tensor that does not qualify (e.g. loaded non-contiguous)

    for (size, k), (alpha, pointers, sizes) in batches.items():
        real = _FLOAT_SIZES[size]
        total = sum(sizes)
        parallel = total >= fused.MIN_SIZE
        driver = _driver(update_loop, arrays, parallel)
        segments, chunks = _layout(tuple(sizes), numba.get_num_threads() if parallel else 1)
        table = np.array(pointers, dtype=np.int64).reshape(-1, arrays)
        scalars = _scalars(real, (alpha, *method.fused_step_args(k), *method.fused_args()))
        _launch(driver, table, segments, chunks, _LIKE[size], scalars)
    return rest
