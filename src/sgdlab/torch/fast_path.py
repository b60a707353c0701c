"""The multi-tensor fast path of the `sgdlab.torch` optimizers: every CPU float32/float64 tensor of a param group
updated by one call of the method's fused update loop (`sgdlab.methods.fused`), in place, without copies.

`step` takes the parameters of one group that have a gradient and, when they qualify, updates them and
their state directly in memory: one numba call per group (per dtype and step count), split over torch's number
of threads when the group holds at least `PARALLEL_MIN` elements in all, on the calling thread below that.
Inside the call every tensor — large or small — goes through the *same* `<kernel>_update` loop that
`sgdlab.methods.fused` compiles for NumPy arrays (and `sgdlab.engine.kernels.elementwise` for the GLM segments;
compiled serially by `sgdlab.methods.fused.serial`), called with the same arguments as `fused.step` does:

    kernel(x, g, *state arrays, alpha, *method.fused_step_args(k), *method.fused_args())

with the state slots of `method.fused_spec().state` (an unused slot is `x`) and `alpha` from
`method._advance(state)`. The update rules are thus written once; a kernel option added to a method (through
its `fused_args`) reaches this path unchanged.

A parameter qualifies when it, its gradient and its state tensors are dense, C-contiguous CPU tensors of one
float dtype (float32 or float64) and the method has a fused kernel (`fused_kernel()` is not `None`).
Every other parameter — other devices and dtypes, non-contiguous or sparse tensors, methods without a kernel —
is handed back to the caller, whose reference loop runs `method.step(p, p.grad, state)` on the tensors (the
array-agnostic formula). So does everything when `SGDLAB_FUSED=0` or inside `fused.disabled()`. A group
with a sparse gradient is handed back whole, so the reference loop raises where it always did. Gradients are
only read. Each updated parameter's version counter is bumped, as an in-place torch operation would.

The kernels see the tensors through their data pointers (`_view`: a raw address as a NumPy-typed
array inside numba), which is what `tensor.numpy()` shares, minus the cost of building an array object per
tensor per step.
"""

from __future__ import annotations

import functools
import math
import os
import types
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import torch
from numba import types as nbtypes
from numba.extending import intrinsic

from sgdlab.methods import fused

# --- inside numba: tensors as arrays, and the group loops ---------------------------------------------------


@intrinsic
def _pointer(typingctx, address, like):
    """The integer `address` as a pointer to elements of `like`'s type."""
    signature = nbtypes.CPointer(like.dtype)(address, like)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


@intrinsic
def _claim(typingctx, counter):
    """`counter[0] += 1`, atomically; the value before: the next chunk of a group this thread takes."""
    if not (isinstance(counter, nbtypes.Array) and counter.dtype == nbtypes.int64):
        return None

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        one = context.get_constant(nbtypes.int64, 1)
        return builder.atomic_rmw("add", array.data, one, "monotonic")

    return nbtypes.int64(counter), codegen


@numba.njit(cache=True, nogil=True, inline="always")
def _view(address, lo, n, like):
    """Elements `lo … lo + n − 1` of the contiguous buffer at `address` (of `like`'s type), as an array."""
    return numba.carray(_pointer(address + lo * like.itemsize, like), n)


# The group loops, one per number of arrays the update takes (x, g and 0–3 state arrays). `table[t]` holds the
# data pointers of tensor t's arrays in the kernel's order; a segment `(t, lo, n)` is a piece of tensor t; the
# pieces of `chunks[c] … chunks[c + 1] − 1` form chunk c (the chunks hold equal numbers of elements). Every thread
# of a group update runs the same loop, taking the next chunk not yet taken (`_claim` on the shared `counter`)
# until none is left: a thread that starts late — on a machine with few cores, after torch's OpenMP threads have
# kept spinning past their last operation — finds less to do, instead of the update waiting for its share.
# `_update` (the method's update loop, compiled serially) is bound per kernel by `_driver`; these Python
# functions are never compiled themselves.


def _group2(table, segments, chunks, counter, like, scalars):
    c = _claim(counter)
    while c < chunks.size - 1:
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like), *scalars)  # noqa: F821
        c = _claim(counter)


def _group3(table, segments, chunks, counter, like, scalars):
    c = _claim(counter)
    while c < chunks.size - 1:
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), *scalars)  # fmt: skip
        c = _claim(counter)


def _group4(table, segments, chunks, counter, like, scalars):
    c = _claim(counter)
    while c < chunks.size - 1:
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), _view(table[t, 3], lo, n, like), *scalars)  # fmt: skip
        c = _claim(counter)


def _group5(table, segments, chunks, counter, like, scalars):
    c = _claim(counter)
    while c < chunks.size - 1:
        for s in range(chunks[c], chunks[c + 1]):
            t, lo, n = segments[s, 0], segments[s, 1], segments[s, 2]
            _update(_view(table[t, 0], lo, n, like), _view(table[t, 1], lo, n, like),  # noqa: F821
                    _view(table[t, 2], lo, n, like), _view(table[t, 3], lo, n, like),
                    _view(table[t, 4], lo, n, like), *scalars)  # fmt: skip
        c = _claim(counter)


_GROUPS = {2: _group2, 3: _group3, 4: _group4, 5: _group5}


@functools.cache
def _driver(update_loop, arrays: int):
    """The group loop for `update_loop` (a `fused.<kernel>_update`) taking `arrays` arrays, compiled serially
    (threads are the caller's, `_Workers`) and cached on disk."""
    template = _GROUPS[arrays]
    name = f"{template.__name__}_{update_loop.__name__}_{fused._fingerprint(update_loop)}"
    namespace = dict(template.__globals__, _update=fused.serial(update_loop))
    copy = types.FunctionType(template.__code__, namespace, name)
    copy.__qualname__ = name
    return numba.njit(cache=True, nogil=True)(copy)


# --- the Python side ------------------------------------------------------------------------------------

_FLOAT_SIZES = {4: np.float32, 8: np.float64}
#: The element size of each float type the path takes (a dtype is one object per type: compared with `is`).
_SIZES = {torch.float32: 4, torch.float64: 8}
#: An empty array of each float type: tells the group loops the element type.
_LIKE = {size: np.empty(0, dtype=real) for size, real in _FLOAT_SIZES.items()}
#: Groups of fewer elements are updated on the calling thread alone. Handing work to a thread costs ~30 µs on a
#: quiet machine but up to a scheduler time slice (ms) on a busy one — a training step's forward and backward
#: passes leave torch's OpenMP threads spinning — so threads are used only where the update itself takes
#: milliseconds (2^20 float32 elements of Adam move 28 MB). The character LSTM's 99k parameters, split over two
#: threads, took 6–9 ms per step on the shared 2-core machine against 0.6 ms on one.
PARALLEL_MIN = 1 << 20
#: How many group calls the fast path has made (tests read it to see that the path was taken).
calls = 0


@functools.lru_cache(maxsize=256)
def _layout(sizes: tuple[int, ...], parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments `(tensor, lo, n)` and chunk offsets cutting the concatenation of tensors of `sizes` into
    `parts` chunks of equal length (a multiple of 16 elements, one 64-byte line of float32)."""
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
    """The kernel's scalars as `fused` passes them: Python floats in the arrays' type (float32 arithmetic for
    float32 tensors), everything else unchanged."""
    return tuple(real(v) if isinstance(v, float) else v for v in values)


class _Workers:
    """The threads of the group loops besides the caller's: `T − 1` of them for `T` threads. They wait on a queue
    (blocking, not spinning), so between steps they take no CPU from torch's own thread pool — numba's OpenMP
    pool spins after each parallel loop, and on a machine with few cores that slows the forward and backward
    passes that follow. The loops release the GIL (`nogil`)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0

    def run(self, fn, args: tuple, threads: int) -> None:
        """`fn(*args)` on `threads` threads at once, the caller's among them."""
        if threads - 1 > self._size:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            self._size = threads - 1
            self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="sgdlab-fast-path")
        futures = [self._pool.submit(fn, *args) for _ in range(threads - 1)]
        try:
            fn(*args)
        finally:
            for future in futures:
                future.result()

    def forget(self) -> None:
        """After a fork: the child has none of the parent's threads."""
        self._pool, self._size = None, 0


_WORKERS = _Workers()
os.register_at_fork(after_in_child=_WORKERS.forget)
#: Chunks per thread of a split group: the threads take them in turn (`_claim`), so one that starts late
#: leaves its share to the others.
CHUNKS_PER_THREAD = 8


def _launch(driver, table: np.ndarray, segments: np.ndarray, chunks: np.ndarray, like, scalars: tuple,
            threads: int) -> None:  # fmt: skip
    """One group update on `threads` threads (the caller's and `threads − 1` workers). A seam for tests."""
    global calls
    calls += 1
    args = (table, segments, chunks, np.zeros(1, dtype=np.int64), like, scalars)
    if threads == 1:
        driver(*args)
    else:
        _WORKERS.run(driver, args, threads)


def _fits(t, dtype: torch.dtype, numel: int) -> bool:
    """`t` is a C-contiguous CPU tensor of `numel` elements of `dtype`."""
    try:
        return (
            isinstance(t, torch.Tensor)
            and t.dtype is dtype
            and t.is_cpu
            and t.is_contiguous()  # False for sparse COO tensors; other layouts raise
            and t.numel() == numel
        )
    except RuntimeError:
        return False


def _all_with_gradients(params):
    return [p for p in params if p.grad is not None]


def step(
    method, params: Sequence[torch.Tensor], state_of: Callable[[torch.Tensor, torch.Tensor], dict]
) -> list[torch.Tensor]:
    """Update the parameters of one group (`params`, with `method`) that the fast path takes; return the others
    that have a gradient, for the caller's reference loop. `state_of(p, x)` is the state of parameter `p` stepped
    as `x` (created or completed as the reference loop would: the optimizer's `_state`)."""
    spec = method.fused_spec()
    if spec is None or not fused._switch.on:
        return _all_with_gradients(params)
    update_loop = getattr(fused.KERNELS.get(spec.kernel), "__wrapped__", None)
    slots = spec.state
    arrays = 2 + len(slots)
    if update_loop is None or arrays not in _GROUPS:  # (a kernel with more state arrays than the loops take)
        return _all_with_gradients(params)

    # Pass 1 advances nothing: which parameters qualify (their states created as the reference loop would), their
    # data pointers gathered per float type and step count, and whether the group must go to the reference loop
    # whole. It is the path's fixed cost per tensor (a transformer has 130 tensors, most of them small), hence
    # spelled out: a float type is one `dtype` lookup (not `is_floating_point()` and `element_size()`), and the
    # state arrays are checked inline.
    batches: dict[tuple[int, int], tuple[list, list, list, list]] = {}
    rest: list[torch.Tensor] = []
    for p in params:
        g = p.grad
        if g is None:
            continue
        dtype = p.dtype
        size = _SIZES.get(dtype)
        numel = p.numel()
        try:
            fits = (
                size is not None
                and g.dtype is dtype
                and p.is_cpu
                and g.is_cpu
                and p.is_contiguous()  # False for sparse COO tensors; other layouts raise
                and g.is_contiguous()
                and g.numel() == numel
            )
        except RuntimeError:
            fits = False
        if not fits:
            if g.is_sparse:
                return _all_with_gradients(params)  # the reference loop raises where it always did
            rest.append(p)
            continue
        state = state_of(p, p)
        x = p.data_ptr()
        row = [x, g.data_ptr()]
        for name in slots:
            if name is None:
                row.append(x)
                continue
            s = state.get(name)
            if not _fits(s, dtype, numel):  # e.g. a state loaded non-contiguous
                rest.append(p)
                break
            row.append(s.data_ptr())
        else:
            key = (size, state["k"])
            batch = batches.get(key)
            if batch is None:
                batch = batches[key] = ([], [], [], [])
            batch[0].append(p)
            batch[1].append(state)
            batch[2].extend(row)
            batch[3].append(numel)

    # Pass 2: step counters, then one group update per float type and step count. The step size depends on the
    # step count alone, so `_advance` runs once per batch and the batch's other counters just count.
    for (size, k), (updated, states, pointers, sizes) in batches.items():
        alpha = method._advance(states[0])
        for state in states[1:]:
            state["k"] += 1
        threads = torch.get_num_threads() if sum(sizes) >= PARALLEL_MIN else 1
        segments, chunks = _layout(tuple(sizes), threads * CHUNKS_PER_THREAD if threads > 1 else 1)
        table = np.array(pointers, dtype=np.int64).reshape(-1, arrays)
        scalars = _scalars(_FLOAT_SIZES[size], fused.scalars(method, alpha, k + 1))
        _launch(_driver(update_loop, arrays), table, segments, chunks, _LIKE[size], scalars, threads)
        torch.autograd.graph.increment_version(updated)  # as an in-place torch operation would
    return rest
