"""The few array operations the element-wise update rules need, for NumPy arrays and torch tensors alike.

Dispatch is by duck typing, so one formula serves both sides (`sgdlab.torch` runs the very same `step`
on tensors, on any device) and the NumPy core never imports torch.
"""

from __future__ import annotations

import numpy as np


def zeros_like(x):
    """Zeros of `x`'s shape, dtype and (for tensors) device."""
    return np.zeros_like(x) if isinstance(x, np.ndarray) else x.new_zeros(x.shape)


def sqrt(a):
    return a.sqrt() if hasattr(a, "sqrt") else np.sqrt(a)  # tensors have .sqrt; arrays and scalars do not


def sign(a):
    """`sign(a)` element-wise, with `sign(0) = 0` (NumPy's and torch's convention)."""
    return a.sign() if hasattr(a, "sign") else np.sign(a)  # tensors have .sign; arrays do not


def maximum_into(out, other) -> None:
    """`out ← max(out, other)` element-wise, in place."""
    if isinstance(out, np.ndarray):
        np.maximum(out, other, out=out)
    else:
        out.copy_(out.maximum(other))


def rounds_to_zero(value: float, x) -> bool:
    """Whether `value` is 0 in `x`'s floating-point type (e.g. `eps = 1e-50` in float32)."""
    return bool((x.dtype.type(value) if isinstance(x, np.ndarray) else x.new_tensor(value)) == 0)


def _floating(a) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype.type in (np.float32, np.float64)
    return callable(getattr(a, "is_floating_point", None)) and a.is_floating_point()


def check_step(x, g) -> None:
    """What `step(x, g, state)` checks at every call, in O(1): `x` and `g` are float32/float64 arrays (or
    floating-point tensors) of one shape, and `x` is writeable. (`init` checks `x`'s values once.)"""
    for name, a in (("x", x), ("g", g)):
        if not _floating(a):
            dtype = getattr(a, "dtype", type(a).__name__)
            raise TypeError(f"{name} must be a float32 or float64 NumPy array (or a floating-point tensor), got "
                            f"{dtype}")  # fmt: skip
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        raise ValueError("x must be writeable: methods update it in place")
    if g.shape != x.shape:
        raise ValueError(f"the gradient has shape {tuple(g.shape)} but x has shape {tuple(x.shape)}")


def check_iterate(x) -> None:
    """`x` must be a writeable, finite float32/float64 array, or a floating-point tensor."""
    if isinstance(x, np.ndarray):
        if x.dtype.type not in (np.float32, np.float64):
            raise TypeError(f"x must be a float32 or float64 NumPy array, got {x.dtype}")
        if not x.flags.writeable:
            raise ValueError("x must be writeable: methods update it in place")
        finite = bool(np.isfinite(x).all())
    elif callable(getattr(x, "is_floating_point", None)) and x.is_floating_point():
        finite = bool(x.isfinite().all())
    else:
        dtype = getattr(x, "dtype", type(x).__name__)
        raise TypeError(f"x must be a float32 or float64 NumPy array (or a floating-point tensor), got {dtype}")
    if not finite:
        raise ValueError("x contains NaN or Inf")
