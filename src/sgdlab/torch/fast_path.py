"""The multi-tensor fast path of the `sgdlab.torch` optimizers: every CPU float32/float64 tensor of a param group
updated by one call of the method's fused update loop (`sgdlab.methods.fused`), in place, without copies.

`GroupPath.step` (an optimizer keeps one `GroupPath` per group, to replay what the last step found: the
qualifying tensors and their pointers) takes the parameters of one group that have a gradient and, when they
qualify, updates them and their state directly in memory: one numba call per group (per dtype and step count), its
chunks spread over as many of numba's threads as torch uses (`torch.get_num_threads()`) when the group holds at
least `PARALLEL_MIN` elements in all, on the calling thread below that. numba's OpenMP threads, not Python
threads: right after torch's own operations (a backward pass, another optimizer's step) torch's OpenMP threads
keep spinning for a few milliseconds, and a Python worker woken then waited for a core that long (ResNet-18's SGD
step took 7.1 ms against torch fused's 5.6 ms, alternated; with numba's threads 4.95 vs 4.98 ms), while numba's
launch takes its threads as torch does.
Inside the call every tensor — large or small — goes through the *same* `<kernel>_update` loop that
`sgdlab.methods.fused` compiles for NumPy arrays (and `sgdlab.engine.kernels.elementwise` for the GLM segments;
compiled serially by `sgdlab.methods.fused.serial`), called with the same arguments as `fused.step` does:

    kernel(x, g, *state arrays, alpha, *method.fused_step_args(k), *method.fused_args())

with the state slots of `method.fused_spec().state` (an unused slot is `x`) and `alpha` from
`method._advance(state)`. The update rules are thus written once; a kernel option added to a method (through
its `fused_args`) reaches this path unchanged.

Groups of at least `SPECIALISE_MIN` elements call `fused.specialised`'s copy of the loop instead, compiled with
the group's flags and zero or unit hyperparameters (`fused.fixed`) as constants: the same bits, fewer
instructions per element (a one-thread Adam step on 11.7M float32 elements took 4–5 % less time).

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
import types
from collections.abc import Callable, Iterable, Sequence

import numba
import numpy as np
import torch
from numba import types as nbtypes
from numba.extending import intrinsic

from sgdlab._numba_cache import njit
from sgdlab.methods import fused

# --- inside numba: tensors as arrays, and the group loops ---------------------------------------------------


@intrinsic
def _pointer(typingctx, address, like):
    """The integer `address` as a pointer to elements of `like`'s type."""
    signature = nbtypes.CPointer(like.dtype)(address, like)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], context.get_value_type(sig.return_type))

    return signature, codegen


@njit(nogil=True, inline="always")
def _view(address, lo, n, like):
    """Elements `lo … lo + n − 1` of the contiguous buffer at `address` (of `like`'s type), as an array."""
    return numba.carray(_pointer(address + lo * like.itemsize, like), n)


# The group loops, one per number of arrays the update takes (x, g and 0–3 state arrays). `table[t]` holds the
# data pointers of tensor t's arrays in the kernel's order; a segment `(t, lo, n)` is a piece of tensor t; the
# pieces of `chunks[c] … chunks[c + 1] − 1` form chunk c, and the chunks (equal numbers of elements) are
# spread over numba's threads. `_update` (the method's update loop, compiled serially) and `prange` are bound
# per kernel by `_driver`; these Python functions are never compiled themselves.


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


@functools.cache
def _driver(update_loop, arrays: int, parallel: bool, constants: tuple = ()):
    """The group loop for `update_loop` (a `fused.<kernel>_update`) taking `arrays` arrays, cached on disk:
    `parallel`, its chunks spread over numba's threads; else on the calling thread (`prange` is `range`). With
    `constants` (`fused.fixed`'s), the loop is `fused.specialised`'s copy."""
    template = _GROUPS[arrays]
    kind = "parallel" if parallel else "serial"
    update = fused.specialised(update_loop, constants)
    name = f"{template.__name__}_{kind}_{update.py_func.__name__}"
    namespace = dict(template.__globals__, _update=update, prange=numba.prange)
    copy = types.FunctionType(template.__code__, namespace, name)
    copy.__qualname__ = name
    return njit(nogil=True, parallel=parallel)(copy)


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
#: Groups of at least this many elements run a copy of the update loop specialised to the group's flags and
#: zero or unit hyperparameters (`fused.specialised`): leaner, the same bits, but compiled once per combination
#: (a few seconds, then cached on disk), which pays where one step takes milliseconds.
SPECIALISE_MIN = 1 << 20
#: How many group calls the fast path has made (tests read it to see that the path was taken).
calls = 0


#: Chunks cut tensors at multiples of this many elements (64 bytes of float32), so that a piece ends where the
#: whole tensor's vector body would (the fused roundings treat a tensor's last `size mod lanes` elements apart).
_CUT = 16


@functools.lru_cache(maxsize=256)
def _layout(sizes: tuple[int, ...], parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Segments `(tensor, lo, n)` and chunk offsets cutting the concatenation of tensors of `sizes` into `parts`
    chunks of about equal length: a chunk of `per` elements (a multiple of `_CUT`) may end inside a tensor only at
    a multiple of `_CUT` from the tensor's start, so it holds up to `_CUT − 1` elements fewer or more."""
    total = sum(sizes)
    per = max(_CUT, -(-math.ceil(total / parts) // _CUT) * _CUT)
    segments, chunks, fill = [], [0], 0
    for t, n in enumerate(sizes):
        lo = 0
        while lo < n:
            take = n - lo
            if take > per - fill:  # the chunk ends inside this tensor: at a multiple of _CUT, or before it
                take = (per - fill) // _CUT * _CUT
            if take:
                segments.append((t, lo, take))
                lo, fill = lo + take, fill + take
            if lo < n or fill >= per:
                chunks.append(len(segments))
                fill = 0
    if chunks[-1] != len(segments):
        chunks.append(len(segments))
    return np.array(segments, dtype=np.int64).reshape(-1, 3), np.array(chunks, dtype=np.int64)


def _scalars(real, values: Iterable) -> tuple:
    """The kernel's scalars as `fused` passes them: Python floats in the arrays' type (float32 arithmetic for
    float32 tensors), everything else unchanged."""
    return tuple(real(v) if isinstance(v, float) else v for v in values)


def _launch(driver, table: np.ndarray, segments: np.ndarray, chunks: np.ndarray, like, scalars: tuple,
            threads: int) -> None:  # fmt: skip
    """One group update, its chunks on `threads` of numba's threads (`driver` is the parallel group loop where
    `threads > 1`). A seam for tests."""
    global calls
    calls += 1
    if threads == 1:
        driver(table, segments, chunks, like, scalars)
        return
    fused.start_threads()
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        driver(table, segments, chunks, like, scalars)
    finally:
        numba.set_num_threads(before)


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


class _Batch:
    """The tensors of a group that one group update takes (one float type, one step count), as pass 1 found
    them: their pointer table (the gradients' column refreshed each step), state dicts and sizes."""

    __slots__ = ("arrays", "constants", "k", "last", "layouts", "params", "size", "sizes", "states", "table", "total")

    def __init__(self, size: int, k: int, params: list, states: list, pointers: list, sizes: list, arrays: int):
        self.size, self.k, self.arrays = size, k, arrays
        self.params, self.states, self.sizes = params, states, tuple(sizes)
        self.total = sum(sizes)
        self.table = np.array(pointers, dtype=np.int64).reshape(-1, arrays)
        self.layouts: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.last: tuple = ((), ())  # the kernel's last scalars: (as computed, as passed)
        self.constants: tuple = ()  # what the update loop is specialised to (`fused.fixed`)

    def scalars(self, values: tuple, update_loop) -> tuple:
        """`values` in the arrays' float type, reused while they repeat (SGD's, from the second step on); the
        loop's `constants` follow them."""
        if values != self.last[0]:
            self.last = (values, _scalars(_FLOAT_SIZES[self.size], values))
            if self.total >= SPECIALISE_MIN:
                self.constants = fused.fixed(update_loop, self.arrays, self.last[1])
        return self.last[1]

    def layout(self, threads: int) -> tuple[np.ndarray, np.ndarray]:
        found = self.layouts.get(threads)
        if found is None:
            found = self.layouts[threads] = _layout(self.sizes, threads)
        return found


class GroupPath:
    """The fast path of one param group across steps (`SgdlabOptimizer` keeps one per group).

    A step's pass 1 — which parameters qualify, their states and data pointers — is the path's fixed cost per
    tensor, and in a training loop, where the forward and backward passes have just evicted the interpreter's
    caches, it cost ~8 µs a tensor (SGD momentum on the digits CNN's 6 tensors: 155 µs a step against torch
    fused's 117; replayed, 128). So the pass's result is kept as a plan and replayed while everything it read
    still holds — the same parameters in the same order with gradients on the same ones, the same data and state
    tensors (same objects, same pointers: `load_state_dict` or a reassigned `.data` makes a new plan), the same
    step counts and the same kernel and state layout — reading only the gradients' pointers anew, after checking
    that each gradient is still a contiguous tensor of its parameter's dtype and size. Anything else runs pass 1
    again.
    """

    __slots__ = ("method", "plan", "spec", "update_loop")

    def __init__(self) -> None:
        self.plan: _Plan | None = None
        # the last method, its `fused_spec()` and that kernel's update loop (a method is immutable)
        self.method = self.spec = self.update_loop = None

    def step(self, method, params: Sequence[torch.Tensor], state_of: Callable[[torch.Tensor, torch.Tensor], dict],
             states: dict, layout: frozenset) -> list[torch.Tensor]:  # fmt: skip
        """Update the parameters of one group (`params`, with `method`) that the fast path takes; return the others
        that have a gradient, for the caller's reference loop. `state_of(p, x)` is the state of parameter `p`
        stepped as `x` (created or completed as the reference loop would: the optimizer's `_state`); `states` is
        the optimizer's state mapping and `layout` the method's state layout, both part of what the plan depends
        on."""
        if method is not self.method:
            self.method, self.spec = method, method.fused_spec()
            self.update_loop = None if self.spec is None else _update_loop(self.spec)
        spec = self.spec
        if spec is None or not fused._switch.on:
            self.plan = None
            return _all_with_gradients(params)
        key = (spec.kernel, spec.state, layout)
        plan = self.plan
        if plan is not None and plan.key == key and plan.states is states and _replay(plan, params):
            _run_batches(method, plan.batches, self.update_loop)
            return []  # (a plan is kept only when it left nothing to the reference loop)
        rest, batches, entries = _pass1(spec, self.update_loop, params, state_of)
        # replayable only when it took every parameter with a gradient
        self.plan = _Plan(key, entries, batches, states) if batches is not None and not rest else None
        if batches is not None:
            _run_batches(method, batches, self.update_loop)
        return rest


class _Plan:
    """What one pass 1 found (`GroupPath`): for the kernel and state layout `key`, per parameter what `_replay`
    checks (`entries`), the batches, and the optimizer's state mapping it read the states from."""

    __slots__ = ("batches", "entries", "key", "states")

    def __init__(self, key: tuple, entries: list, batches: list[_Batch], states: dict) -> None:
        self.key, self.entries, self.batches, self.states = key, entries, batches, states


def _update_loop(spec):
    return getattr(fused.KERNELS.get(spec.kernel), "__wrapped__", None)


def _replay(plan: _Plan, params: Sequence[torch.Tensor]) -> bool:
    """Whether `plan` still holds for `params` (see `GroupPath`); on True the batches' tables hold this step's
    gradient pointers. Until then it only reads: a plan that fails changes nothing."""
    entries, batches, states = plan.entries, plan.batches, plan.states
    if len(params) != len(entries):
        return False
    grads: list[list[int]] = [[] for _ in batches]
    try:
        for p, entry in zip(params, entries, strict=True):
            g = p.grad
            if entry is None:
                if g is None:
                    continue
                return False
            q, b, state, dtype, numel, x, slots = entry
            if (
                p is not q
                or g is None
                or g.dtype is not dtype
                or not g.is_contiguous()
                or g.numel() != numel
                or not g.is_cpu
                or p.data_ptr() != x
                or states.get(p) is not state
                or state["k"] != batches[b].k
            ):
                return False
            for name, tensor, pointer in slots:
                if state.get(name) is not tensor or tensor.data_ptr() != pointer:
                    return False
            grads[b].append(g.data_ptr())
    except RuntimeError:  # (a sparse CSR gradient's is_contiguous)
        return False
    for batch, pointers in zip(batches, grads, strict=True):
        batch.table[:, 1] = pointers
    return True


def _pass1(spec, update_loop, params: Sequence[torch.Tensor], state_of: Callable) -> tuple[list, list | None, list]:
    """Which parameters the path takes (their states created as the reference loop would), batched per float
    type and step count: `(rest, batches, entries)` — the parameters left to the reference loop, the batches
    (`None`: the whole group goes to the reference loop), and per parameter what `_replay` checks (`None`: no
    gradient). Spelled out, since it is the path's fixed cost per tensor (a transformer has 130 tensors, most of
    them small): a float type is one `dtype` lookup, and the state arrays are checked inline."""
    slots = spec.state
    arrays = 2 + len(slots)
    if update_loop is None or arrays not in _GROUPS:  # (a kernel with more state arrays than the loops take)
        return _all_with_gradients(params), None, []
    found: dict[tuple[int, int], int] = {}  # (element size, step count) -> its index in `lists`
    lists: list[tuple[list, list, list, list]] = []  # per batch: parameters, states, pointers, sizes
    rest: list[torch.Tensor] = []
    entries: list = []
    for p in params:
        g = p.grad
        if g is None:
            entries.append(None)
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
                return _all_with_gradients(params), None, []  # the reference loop raises where it always did
            rest.append(p)
            continue
        state = state_of(p, p)
        x = p.data_ptr()
        row = [x, g.data_ptr()]
        checked = []
        for name in slots:
            if name is None:
                row.append(x)
                continue
            s = state.get(name)
            if not _fits(s, dtype, numel):  # e.g. a state loaded non-contiguous
                rest.append(p)
                break
            row.append(s.data_ptr())
            checked.append((name, s, row[-1]))
        else:
            b = found.setdefault((size, state["k"]), len(found))
            if b == len(lists):
                lists.append(([], [], [], []))
            batch = lists[b]
            batch[0].append(p)
            batch[1].append(state)
            batch[2].extend(row)
            batch[3].append(numel)
            entries.append((p, b, state, dtype, numel, x, tuple(checked)))
    batches = [_Batch(size, k, *lists[b], arrays) for (size, k), b in found.items()]
    return rest, batches, entries


def _run_batches(method, batches: list[_Batch], update_loop) -> None:
    """Pass 2: step counters, then one group update per batch. The step size depends on the step count alone,
    so `_advance` runs once per batch and the batch's other counters just count."""
    for batch in batches:
        states = batch.states
        alpha = method._advance(states[0])
        for state in states[1:]:
            state["k"] += 1
        k, batch.k = batch.k, batch.k + 1
        threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS) if batch.total >= PARALLEL_MIN else 1
        segments, chunks = batch.layout(threads)
        scalars = batch.scalars(fused.scalars(method, alpha, k + 1), update_loop)
        driver = _driver(update_loop, batch.arrays, threads > 1, batch.constants)
        _launch(driver, batch.table, segments, chunks, _LIKE[batch.size], scalars, threads)
        torch.autograd.graph.increment_version(batch.params)  # as an in-place torch operation would
