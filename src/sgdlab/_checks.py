"""Argument checks shared by the public API: one clear message per mistake, naming the argument."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def real(name: str, value: object) -> float:
    """Return `value` as a float after checking it is a finite real number (not a bool, string or complex)."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float64
        raise ValueError(f"{name} must be finite, got an integer of {int(value).bit_length()} bits") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive(name: str, value: object) -> float:
    """Return `value` as a float after checking `value > 0`."""
    value = real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def nonnegative(name: str, value: object) -> float:
    """Return `value` as a float after checking `value >= 0`."""
    value = real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def unit_interval(name: str, value: object) -> float:
    """Return `value` as a float after checking `0 <= value < 1` (decay and momentum factors)."""
    value = real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def open_unit_interval(name: str, value: object) -> float:
    """Return `value` as a float after checking `0 < value < 1` (backtracking factors)."""
    value = real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def closed_unit_interval(name: str, value: object) -> float:
    """Return `value` as a float after checking `0 <= value <= 1` (fractions)."""
    value = real(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def integer(name: str, value: object) -> int:
    """Return `value` as an int after checking it is an integer (not a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    return int(value)


def positive_int(name: str, value: object, at_most: int | None = None) -> int:
    """Return `value` as an int after checking it is an integer `>= 1` (and `<= at_most` when given)."""
    value = integer(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be <= {at_most:,}, got {value:,}")
    return value


def seed(name: str, value: object) -> int:
    """A random seed: a non-negative integer (what `numpy.random.default_rng` accepts, checked here)."""
    value = integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return value


def unmasked(name: str, value: object) -> object:
    """A masked array's mask would be silently dropped by `np.asarray`: refuse it unless nothing is masked."""
    if isinstance(value, np.ma.MaskedArray):
        if np.ma.is_masked(value):
            raise ValueError(f"{name}: masked arrays are not supported; fill or drop the masked entries")
        return value.data
    return value


def float_dtype(name: str, value: object) -> np.dtype:
    """`np.float32` or `np.float64` from a type, dtype or its name."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.type not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {getattr(dtype, 'name', None) or repr(value)}")
    return dtype


def choices(name: str, value: object, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty tuple of names from `allowed`; one name alone stands for a tuple of one."""
    if isinstance(value, str):
        value = (value,)
    elif not isinstance(value, tuple | list):
        shown = ", ".join(map(repr, allowed))
        raise TypeError(f"{name} must be a tuple of names from {shown}; got {type(value).__name__} {value!r}")
    if not value:
        raise ValueError(f"{name} must name at least one of {', '.join(map(repr, allowed))}; got {value!r}")
    for entry in value:
        choice(f"{name} entry", entry, allowed)
    return tuple(value)


def choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return `value` after checking it is one of `allowed`."""
    if not isinstance(value, str | None) or value not in allowed:  # no unhashable or array comparisons
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value  # type: ignore[return-value]
