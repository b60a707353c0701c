"""Argument checks shared by the public API: one clear message per mistake, naming the argument."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def _as_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive(name: str, value: object) -> float:
    """Return ``value`` as a float after checking ``value > 0``."""
    value = _as_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float after checking ``value >= 0``."""
    value = _as_real(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def unit_interval(name: str, value: object) -> float:
    """Return ``value`` as a float after checking ``0 <= value < 1`` (decay and momentum factors)."""
    value = _as_real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def open_unit_interval(name: str, value: object) -> float:
    """Return ``value`` as a float after checking ``0 < value < 1`` (backtracking factors)."""
    value = _as_real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int after checking it is an integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value  # type: ignore[return-value]
