"""Fused, in-place, single-pass update kernels (numba, parallel) for the element-wise methods.

The reference formulas live in each method's `_update`; these kernels compute the same update in one pass
over memory, without temporaries, and `step` uses them automatically for large NumPy arrays
(`usable`). `tests/test_fused.py` checks every kernel against its method's reference formula over the
method table (float64 to 1e-12, float32 to 1e-6 relative). Kernels compile on first use and are cached on disk
(`sgdlab._numba_cache`), so later processes do not compile again. `SGDLAB_FUSED=0` turns them off.

Each update rule is written once, as a plain loop named `<kernel>_update`, compiled without threads by `serial`.
`KERNELS` holds, for `step`, each loop run over one piece of the arrays per thread (`_kernel`; a method names
its kernel and state layout in `info.fused` and passes its scalars through `fused_args`); the compiled GLM
segments (`sgdlab.engine.kernels.elementwise`) and the torch fast path (`sgdlab.torch.fast_path`) call the
serial loops themselves. Optional terms sit behind tests of loop-invariant arguments (`if decay != 0`), which
each loop marks with `chooses`; `specialised` compiles a serial copy with those arguments fixed, in which LLVM
drops the untaken terms — the same operations on the same values, so the same bits, in fewer instructions.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import sys
import textwrap
import types

import numpy as np

from sgdlab._switch import Switch

#: Arrays smaller than this use the NumPy reference path (thread start-up would dominate).
MIN_SIZE = 1 << 16
_switch = Switch("SGDLAB_FUSED")
#: `with disabled(): …` — use the NumPy reference path inside this block.
disabled = _switch.off


def usable(x, *arrays) -> bool:
    """Whether the fused path applies: large, C-contiguous NumPy arrays of one float dtype, numba present."""
    if (
        not _switch.on
        or not isinstance(x, np.ndarray)
        or x.size < MIN_SIZE
        or x.dtype.type not in (np.float32, np.float64)
    ):
        return False
    for a in (x, *arrays):
        if not isinstance(a, np.ndarray) or a.dtype != x.dtype or not a.flags.c_contiguous or a.shape != x.shape:
            return False
    return _numba() is not None


@functools.cache
def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


# The update loops below are the single home of each element-wise rule: plain Python, compiled serially by
# `serial` — for `step`'s pieces (`_kernel`), the compiled GLM segments (one iteration per call) and the torch
# fast path. Their names are public for those uses. (Their `prange` is `range` there.)


@functools.cache
def _fma():
    """`fma(a, b, c) = a·b + c` rounded once (LLVM's `llvm.fma`: one instruction where the CPU has FMA), for the
    loops below: torch's CPU kernels compute `x − lr·d` so (`add(x, d, alpha=−lr)` is a fused multiply-add, and
    so is its fused SGD's `x += d·(−lr)` as compiled), and a float32 step rounded the same way is the same step."""
    from numba.core import types as nbtypes
    from numba.extending import intrinsic

    @intrinsic
    def fma(typingctx, a, b, c):
        # in the addend's float type (the arrays'): a factor that numba widened (`w − 1` of a float32 `w` is a
        # float64) is rounded back, which is exact where the float32 operation would have been
        if not all(isinstance(t, nbtypes.Float) for t in (a, b, c)):
            return None

        def codegen(context, builder, signature, args):
            real = signature.return_type
            x, y = (context.cast(builder, v, t, real) for v, t in zip(args[:2], signature.args[:2], strict=True))
            return builder.fma(x, y, args[2])

        return c(a, b, c), codegen

    return fma


#: `rounding`'s values: as torch.optim's for-loop/foreach ops, or as its `fused=True` CPU kernels.
ROUNDINGS = ("foreach", "fused")


@functools.cache
def _vector_bytes() -> int:
    torch = sys.modules.get("torch")
    if torch is not None:
        return 64 if torch.backends.cpu.get_cpu_capability() == "AVX512" else 32
    import llvmlite.binding as llvm

    return 64 if "+avx512f" in llvm.get_host_cpu_features().flatten() else 32


#: The width in bytes of the vectors in which the compiler vectorised the scalar tail loops of torch's fused CPU
#: kernels (GCC's preferred 256 bits, in the AVX-512 build too): of a tail of `size mod (lanes/itemsize)` elements,
#: the whole 32-byte vectors round as the vector body does, and only the last `size mod (min(lanes, TAIL_BYTES) /
#: itemsize)` elements round as scalars (all of the tail in the AVX2 build, where the two widths agree).
TAIL_BYTES = 32


def lanes(rounding: str) -> int:
    """The loops' `lanes` argument for a method's `rounding`: 0 (`"foreach"`), or the width in bytes of the
    vectors of torch's fused CPU kernels (`"fused"`: 64 where torch runs its AVX-512 kernels, else 32). Those
    kernels compute each full vector with one rounding pattern and the last elements of a tensor (its scalar
    tail, `TAIL_BYTES`) with another; their cache-line chunks make the tail the tensor's own, whatever the thread
    count."""
    return 0 if rounding == "foreach" else _vector_bytes()


def _bind(fn, numba) -> None:
    """Bind the names the update loops use, to be compiled: `prange` (plain `range` without `parallel=True`) and
    `fma`."""
    fn.__globals__["prange"] = numba.prange
    fn.__globals__["fma"] = _fma()


@functools.cache
def start_threads() -> None:
    """Start numba's thread pool (once per process) without changing torch's thread count. Every parallel
    numba kernel of sgdlab calls this before its first launch (these kernels, the checkpoint pass).

    numba's OpenMP threading layer starts its pool by setting the process's OpenMP thread count to its own
    (`omp_set_num_threads`, once); torch, whose wheel loads the same runtime (`libgomp.so.1`), reads its
    `get_num_threads()` from that setting, so the first parallel kernel would turn `torch.set_num_threads(1)`
    into numba's count (seen once torch has read its count on this thread: its first read re-applies it). Later
    parallel loops name their thread count per loop and leave the setting alone.
    """
    torch = sys.modules.get("torch")  # only if the process uses torch; importing it here would cost seconds
    before = torch.get_num_threads() if torch is not None else None
    _numba().get_num_threads()  # starts the pool if it is not running yet
    if torch is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)


# The parallel drivers of `step`, one per number of arrays an update loop takes (x, g and 0–3 state arrays): the
# arrays cut into one piece per thread, each piece a multiple of 16 elements long but the last (which keeps the
# array's own scalar tail for the fused roundings), each updated by the loop compiled serially (`serial`). The
# loops themselves are never compiled in parallel: the serial loop is the one LLVM vectorises well, and a
# parallel compile of the same loop came out differently from one kernel option to the next (11.7M float32 on
# two threads: Adam 12.8 ms compiled in parallel against 8.1 ms as two serial pieces, centered RMSProp with
# momentum 19.7 against 9.9 ms). `_update` and `prange` are bound by `_kernel`; these
# Python functions are never compiled themselves.


def _pieces2(x, g, scalars, parts, per):
    n = x.size
    for c in prange(parts):  # noqa: F821
        lo = min(n, c * per)
        hi = min(n, lo + per)
        _update(x[lo:hi], g[lo:hi], *scalars)  # noqa: F821


def _pieces3(x, g, a, scalars, parts, per):
    n = x.size
    for c in prange(parts):  # noqa: F821
        lo = min(n, c * per)
        hi = min(n, lo + per)
        _update(x[lo:hi], g[lo:hi], a[lo:hi], *scalars)  # noqa: F821


def _pieces4(x, g, a, b, scalars, parts, per):
    n = x.size
    for c in prange(parts):  # noqa: F821
        lo = min(n, c * per)
        hi = min(n, lo + per)
        _update(x[lo:hi], g[lo:hi], a[lo:hi], b[lo:hi], *scalars)  # noqa: F821


def _pieces5(x, g, a, b, d, scalars, parts, per):
    n = x.size
    for c in prange(parts):  # noqa: F821
        lo = min(n, c * per)
        hi = min(n, lo + per)
        _update(x[lo:hi], g[lo:hi], a[lo:hi], b[lo:hi], d[lo:hi], *scalars)  # noqa: F821


_PIECES = {2: _pieces2, 3: _pieces3, 4: _pieces4, 5: _pieces5}


def _kernel(fn):
    """`fn` (an update loop) for `step`: its parallel driver, compiled lazily (first call, per number of arrays)
    and cached on disk; arrays flattened for it."""

    @functools.wraps(fn)
    def call(*args):
        count = next(i for i, a in enumerate(args) if not isinstance(a, np.ndarray))
        driver = call.drivers.get(count)
        if driver is None:
            from sgdlab._numba_cache import njit

            numba = _numba()
            template = _PIECES[count]
            name = f"{template.__name__}_{fn.__name__}"
            namespace = dict(template.__globals__, _update=serial(fn), prange=numba.prange)
            copy = types.FunctionType(template.__code__, namespace, name)
            copy.__qualname__ = name
            driver = call.drivers[count] = njit(parallel=True, nogil=True)(copy)
            call.compiled = driver
            start_threads()
        # Scalars take the arrays' float type, so float32 arrays are updated in float32 arithmetic (as NumPy's
        # reference does) instead of being promoted to float64 by Python-float coefficients.
        real = args[0].dtype.type
        scalars = tuple(real(a) if isinstance(a, float) else a for a in args[count:])
        parts = _numba().get_num_threads()
        per = (-(-args[0].size // parts) + 15) // 16 * 16  # a multiple of 16 elements: the pieces keep no tail
        driver(*(a.reshape(-1) for a in args[:count]), scalars, parts, per)

    call.compiled = None
    call.drivers = {}
    return call


def chooses(*names: str):
    """Mark an update loop's arguments that choose its code path rather than enter its arithmetic (flags, modes,
    the gradient's sign, a weight decay that may be 0): `specialised` compiles copies with them as constants."""

    def mark(update_loop):
        update_loop.chooses = names
        return update_loop

    return mark


@chooses("sign", "decay", "lanes")
def sgd_update(x, g, lr, sign, decay, lanes=0):
    """SGD: `x ← x − lr·(sign·g + decay·x)` (`sign = −1`: maximize; `decay`: coupled weight decay), the last
    multiply-add rounded once, as torch's. `lanes > 0` (`rounding="fused"`, see `lanes`): as torch's fused kernel,
    whose decay `g + x·decay` is a multiply-add too."""
    # One loop whose choices are selects (`… if flag else …` on loop constants), never a branch around a store:
    # LLVM then vectorises it (a branchy loop ran 1.4x slower; see `adam_update`).
    for i in prange(x.size):  # noqa: F821 - bound to numba.prange when compiled
        xi = x[i]
        gi = sign * g[i]
        if decay != 0:  # (skipped at 0, as torch does: an infinite x stays finite-stepped)
            gi = fma(xi, decay, gi) if lanes else gi + decay * xi  # noqa: F821
        x[i] = fma(gi, -lr, xi)  # noqa: F821 - bound to _fma() when compiled


@chooses("sign", "decay", "nesterov", "lanes")
def momentum_update(x, g, v, lr, keep, gain, beta, sign, decay, nesterov, lanes=0):
    """Heavy ball / Nesterov on `g' = sign·g + decay·x`: `v ← keep·v + gain·g'`; `x ← x − lr·v` (or
    `x ← x − lr·(g' + β·v)` when `nesterov`; multiply-adds as torch rounds them). `keep = β, gain = 1 −
    dampening`; torch's first step copies the gradient: `keep = 0, gain = 1`. `lanes > 0`: as torch's fused
    kernel (`lanes`), whose vectors compute `gain·g'` first and fuse it, its scalars (`TAIL_BYTES`) `keep·v`."""
    body = x.size - x.size % (min(int(lanes), TAIL_BYTES) // x.itemsize) if lanes else x.size
    # The body's and the tail's roundings are a select per element, never a branch: LLVM vectorises the loop.
    for i in prange(x.size):  # noqa: F821
        xi = x[i]
        if lanes:
            gi = sign * g[i]
            if decay != 0:
                gi = fma(xi, decay, gi)  # noqa: F821
            v0 = v[i]
            vi = fma(gi, gain, v0 * keep) if i < body else fma(v0, keep, gi * gain)  # noqa: F821
        else:
            gi = sign * g[i]
            if decay != 0:
                gi = gi + decay * xi
            vi = keep * v[i] + gain * gi
        v[i] = vi
        # torch's order: the look-ahead `g' + β·v` and the step `x − lr·d` are each a multiply-add rounded once
        d = fma(vi, beta, gi) if nesterov else vi  # noqa: F821
        x[i] = fma(d, -lr, xi)  # noqa: F821


@chooses("sign", "decay", "momentum", "accumulate", "centered", "lecture", "lanes")
def diagonal_update(
    x, g, v, mean, buf, lr, gamma, one_minus_gamma, eps, sign, decay, momentum, accumulate, centered, lecture,
    lanes=0,
):  # fmt: skip
    """Adagrad (`accumulate`: `v ← v + g²`) and RMSProp (`v ← γv + (1−γ)g²`) on `g ← sign·g + decay·x`;
    `s = v` or, `centered`, `s = v − ḡ²` with `ḡ ← ḡ + (1−γ)(g − ḡ)`; `d = √(s + ε)` (`lecture`) or
    `√s + ε`; `x ← x − lr·g/d`, or with `momentum = μ > 0`: `b ← μb + g/d`, `x ← x − lr·b`. `lanes > 0`
    (Adagrad only): as torch's fused kernel (`lanes`), whose `g + decay·x` and `v + g²` are multiply-adds."""
    if lanes:
        for i in prange(x.size):  # noqa: F821
            xi = x[i]
            gi = sign * g[i]
            if decay != 0:
                gi = fma(xi, decay, gi)  # noqa: F821
            vi = fma(gi, gi, v[i])  # noqa: F821
            v[i] = vi
            x[i] = xi - lr * gi / (np.sqrt(vi) + eps)
        return
    # the variants with an extra state array (centered, momentum) in loops of their own: a store under a test
    # keeps LLVM from vectorising the loop
    extra = centered or momentum > 0
    for i in prange(0 if extra else x.size):  # noqa: F821
        xi = x[i]
        gi = sign * g[i]
        if decay != 0:
            gi = gi + decay * xi
        vi = v[i] + gi * gi if accumulate else gamma * v[i] + one_minus_gamma * (gi * gi)
        v[i] = vi
        x[i] = xi - lr * gi / (np.sqrt(vi + eps) if lecture else np.sqrt(vi) + eps)
    for i in prange(x.size if extra else 0):  # noqa: F821
        xi = x[i]
        gi = sign * g[i]
        if decay != 0:
            gi = gi + decay * xi
        vi = v[i] + gi * gi if accumulate else gamma * v[i] + one_minus_gamma * (gi * gi)
        v[i] = vi
        if centered:
            mi = mean[i] + one_minus_gamma * (gi - mean[i])
            mean[i] = mi
            vi = vi - mi * mi
        d = np.sqrt(vi + eps) if lecture else np.sqrt(vi) + eps
        if momentum > 0:
            bi = momentum * buf[i] + gi / d
            buf[i] = bi
            x[i] = xi - lr * bi
        else:
            x[i] = xi - lr * gi / d


@chooses("sign", "decay")
def adadelta_update(x, g, v, dx, lr, gamma, one_minus_gamma, rho, one_minus_rho, eps, sign, decay):
    """Adadelta on `g ← sign·g + decay·x`: `v ← γv + (1−γ)g²`; `Δ = √(dx + ε)/√(v + ε)·g`; `x ← x − lr·Δ`;
    `dx ← ρ·dx + (1−ρ)Δ²`."""
    for i in prange(x.size):  # noqa: F821
        xi = x[i]
        gi = sign * g[i]
        if decay != 0:
            gi = gi + decay * xi
        vi = gamma * v[i] + one_minus_gamma * (gi * gi)
        v[i] = vi
        gt = np.sqrt(dx[i] + eps) / np.sqrt(vi + eps) * gi
        x[i] = xi - lr * gt
        dx[i] = rho * dx[i] + one_minus_rho * (gt * gt)


@chooses("coupled", "decoupled", "sign", "amsgrad", "mode")
def adam_lecture_update(
    x, g, m, v, vmax, lr, inv_bc1, c2, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, coupled, decoupled,
    sign, amsgrad, mode=0,
):  # fmt: skip
    """Adam/AMSGrad/AdamW as the lecture writes them: `g ← sign·g + coupled·x`; `m ← β₁m + (1−β₁)g`;
    `v ← β₂v + (1−β₂)g²`; `x ← x − lr·(m·inv_bc1/(√(v̂·c2) + ε) + decoupled·x)` with `inv_bc1 = 1/(1 − β₁ᵏ)`,
    `c2 = 1/(1 − β₂ᵏ)` and `v̂ = v`, or (`amsgrad`) the running max of `v·c2`. The arguments are `adam_update`'s
    (`mode` is 0, the lecture's convention: its own loop, since one loop for both conventions kept LLVM from
    vectorising either — 3x slower)."""
    for i in prange(x.size):  # noqa: F821
        xi = x[i]
        gi = sign * g[i]
        if coupled != 0:
            gi = gi + coupled * xi
        mi = beta1 * m[i] + one_minus_beta1 * gi
        vi = beta2 * v[i] + one_minus_beta2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        q = vi * c2
        if amsgrad != 0:
            q = max(vmax[i], q)
            vmax[i] = q
        d = mi * inv_bc1 / (np.sqrt(q) + eps)
        if decoupled != 0:
            d = d + decoupled * xi
        x[i] = xi - lr * d


@chooses("coupled", "decoupled", "sign", "amsgrad", "mode")
def adam_update(
    x, g, m, v, vmax, lr, inv_bc1, c2, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, coupled, decoupled,
    sign, amsgrad, mode,
):  # fmt: skip
    """Adam/AMSGrad/AdamW in torch's order and rounding: `x ← (x − lr·decoupled·x) − (lr·inv_bc1)·m/(√v̂/c2 + ε)`
    (`mode = 1`, torch's for-loop/foreach ops) on `g ← sign·g + coupled·x`, `m.lerp_(g, 1 − β₁)` (a multiply-add
    from the nearer end) and `v.mul_(β₂).addcmul_(g, g, value=1 − β₂)` (a multiply-add), with `inv_bc1 = 1/(1 −
    β₁ᵏ)`, `c2 = √(1 − β₂ᵏ)` and `v̂ = v` or its running max (`amsgrad`). `mode ≥ 2` rounds as torch's fused CPU
    kernel (`fused=True`; `mode` is its vector width in bytes, `lanes`), whose scalars `Adam.fused_scalars`
    passes: `lr` is the step size `lr/(1 − β₁ᵏ)` rounded once from double, `inv_bc1` the decay factor `1 − lr·λ`
    (applied when `decoupled ≠ 0`), and `x ← x·(1 − lr·λ) + (−step)·m/(√v̂/c2 + ε)`; coupled decay and `v`'s
    update are multiply-adds — in its vectors `(1−β₂)·g·g` is computed first and fused with `β₂·v`, in its
    scalars (the last `size mod (min(mode, TAIL_BYTES)/itemsize)` elements) `v·β₂` is the fused product. (The
    lecture's convention is `adam_lecture_update`.)"""
    # Every choice is a select on a loop constant, and the body's and the tail's roundings a select per element:
    # a branch per element kept LLVM from vectorising the loop (1.5x slower in torch's order, up to 7x fused).
    fused = mode >= 2
    body = x.size - x.size % (min(int(mode), TAIL_BYTES) // x.itemsize) if fused else x.size
    near = one_minus_beta1 < 0.5
    w = one_minus_beta1 if near else one_minus_beta1 - 1
    shrink = lr * decoupled  # (the fused kernel's decoupled decay `x·(1 − lr·λ)` is passed as `inv_bc1`)
    gain = -lr if fused else -(lr * inv_bc1)
    for i in prange(x.size):  # noqa: F821
        xi = x[i]
        gi = sign * g[i]
        if coupled != 0:  # `g += x·λ`
            gi = fma(xi, coupled, gi) if fused else gi + coupled * xi  # noqa: F821
        m0, v0 = m[i], v[i]
        mi = fma(w, gi - m0, m0 if near else gi)  # noqa: F821
        vi = fma(one_minus_beta2 * gi, gi, beta2 * v0) if i < body else fma(v0, beta2, one_minus_beta2 * gi * gi)  # noqa: F821
        m[i] = mi
        v[i] = vi
        if amsgrad != 0:
            vi = max(vmax[i], vi)
            vmax[i] = vi
        if decoupled != 0:
            xi = xi * inv_bc1 if fused else xi - shrink * xi
        x[i] = xi + (gain * mi) / (np.sqrt(vi) / c2 + eps)


@chooses("decay")
def lion_update(x, g, m, lr, beta1, one_minus_beta1, beta2, one_minus_beta2, decay):
    """Lion: `c = β₁m + (1−β₁)g`; `x ← x − lr·(sign(c) + decay·x)`; `m ← β₂m + (1−β₂)g` (`sign(0) = 0`)."""
    for i in prange(x.size):  # noqa: F821
        xi, gi = x[i], g[i]
        d = np.sign(beta1 * m[i] + one_minus_beta1 * gi)
        if decay != 0:
            d = d + decay * xi
        x[i] = xi - lr * d
        m[i] = beta2 * m[i] + one_minus_beta2 * gi


#: The parallel kernels by name (`Fused.kernel`): each loop above, compiled for `step`.
KERNELS = {
    fn.__name__.removesuffix("_update"): _kernel(fn)
    for fn in (
        sgd_update,
        momentum_update,
        diagonal_update,
        adadelta_update,
        adam_update,
        adam_lecture_update,
        lion_update,
    )
}


@functools.cache
def serial(update_loop):
    """`update_loop` (one of the `<kernel>_update` loops above) compiled without threads, for callers that run it
    once per iteration (the compiled GLM segments, `sgdlab.engine.kernels.elementwise`) or over many pieces of
    one call (`sgdlab.torch.fast_path`).

    With NumPy's error model: a division then gives inf/NaN as the NumPy and torch formulas do, instead of testing
    for a zero divisor first — a branch per element that keeps LLVM from vectorising the loop (Adam's serial loop
    ran 4× slower, RMSProp's 9×). A renamed copy (`<name>_serial`): numba's disk cache keys entries by the
    function's name, not by its `parallel` flag, so compiling the very same function would share (and clash with)
    `KERNELS`' parallel entries.
    """
    from sgdlab._numba_cache import njit

    _bind(update_loop, _numba())
    name = f"{update_loop.__name__}_serial"
    copy = types.FunctionType(update_loop.__code__, update_loop.__globals__, name, update_loop.__defaults__)
    copy.__qualname__ = name
    return njit(nogil=True, error_model="numpy")(copy)


def fixed(update_loop, arrays: int, scalars: tuple) -> tuple:
    """What `specialised` may fix of a call `update_loop(*arrays, *scalars)` (`arrays` arrays first): each
    argument `update_loop` marks as `chooses` whose value is a flag, an integer or a float 0, 1 or −1, as
    `(name, type name, value)`. Other values stay arguments, so that a decay of 0.01 or 0.02 shares one copy."""
    names = update_loop.__code__.co_varnames[arrays : update_loop.__code__.co_argcount]
    found = []
    for name, value in zip(names, scalars, strict=False):
        if name not in update_loop.chooses:
            continue
        if isinstance(value, bool | np.bool_ | int | np.integer) or (
            isinstance(value, float | np.floating) and value in (0.0, 1.0, -1.0)
        ):
            found.append((name, type(value).__name__, value.item() if isinstance(value, np.generic) else value))
    return tuple(found)


_CONSTANT_TYPES = {"bool": bool, "bool_": np.bool_, "int": int, "float": float, "float32": np.float32,
                   "float64": np.float64, "int64": np.int64}  # fmt: skip


@functools.cache
def specialised(update_loop, constants: tuple):
    """`update_loop` compiled serially (as `serial`) with the arguments of `constants` (`fixed`'s) as constants of
    their own types: its first statements set them, so LLVM folds the tests they make (`if decay != 0`, `mode`,
    `amsgrad`) and the factors they are (`sign = 1`) and vectorises only the path taken. The arithmetic is the
    same operations on the same values, so the results are the same bits as `serial`'s; the loop is leaner (a
    step of Adam on one thread, 11.7M float32 elements, took 4–5 % less time). The copy is the loop's source with
    those assignments added, compiled under the loop's file name (cached on disk) and named after the
    loop and the constants."""
    if not constants:
        return serial(update_loop)
    from sgdlab._numba_cache import njit

    _bind(update_loop, _numba())
    tree = ast.parse(textwrap.dedent(inspect.getsource(update_loop)))
    definition = tree.body[0]
    definition.decorator_list = []
    digest = hashlib.sha256(repr(constants).encode()).hexdigest()[:8]
    definition.name = f"{update_loop.__name__}_serial_{digest}"
    namespace = dict(update_loop.__globals__)
    settings = []
    for name, kind, value in constants:
        namespace[f"_constant_{name}"] = _CONSTANT_TYPES[kind](value)
        settings.append(ast.parse(f"{name} = _constant_{name}").body[0])
    has_doc = isinstance(definition.body[0], ast.Expr) and isinstance(definition.body[0].value, ast.Constant)
    definition.body[int(has_doc) : int(has_doc)] = settings
    ast.fix_missing_locations(tree)
    ast.increment_lineno(tree, update_loop.__code__.co_firstlineno - 1)
    exec(compile(tree, update_loop.__code__.co_filename, "exec"), namespace)
    copy = namespace[definition.name]
    copy.__qualname__ = definition.name
    return njit(nogil=True, error_model="numpy")(copy)


def step(method, x, g, state, alpha) -> bool:
    """One step of `method` by its fused kernel (`Method.fused_spec`: its class's, with the state arrays this
    configuration uses), when it has one and `usable` allows:
    `kernel(x, g, *state arrays, alpha, *method.fused_step_args(k), *method.fused_args())`. Returns whether it ran.
    (A class that registers a kernel name this module does not have is refused when it is defined.)
    """
    if not isinstance(x, np.ndarray) or x.size < MIN_SIZE:  # the common small case, before anything else
        return False
    spec = method.fused_spec()
    if spec is None:
        return False
    slots = [x if name is None else state[name] for name in spec.state]
    if not usable(x, g, *slots):
        return False
    KERNELS[spec.kernel](x, g, *slots, *scalars(method, alpha, state["k"]))
    return True


def scalars(method, alpha: float, k: int) -> tuple:
    """The kernel's scalars after its arrays at step `k` with step size `alpha`:
    `(alpha, *method.fused_step_args(k), *method.fused_args())`, or `method.fused_scalars(alpha, k)` where a
    method defines it (a rounding whose scalars must be computed in double from both, e.g. torch's fused Adam's
    step size `lr/(1 − β₁ᵏ)`)."""
    own = getattr(method, "fused_scalars", None)
    if own is not None:
        found = own(alpha, k)
        if found is not None:
            return found
    return (alpha, *method.fused_step_args(k), *method.fused_args())
