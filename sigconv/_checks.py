"""Argument checks shared by the front ends (image, audio, nn) and the engine's blocks.

Each check takes the value and the parameter's name, returns the value in its working type,
and raises sigconv's :class:`~sigconv._errors.InputTypeError` for a wrong type or
:class:`~sigconv._errors.InputError` for a wrong value, quoting the value given:

>>> choice("wrap", ("reflect", "wrap"), "border")
'wrap'
>>> number("2.5", "sigma", ok=lambda v: v >= 0, want="finite and >= 0")
2.5
>>> positive_int(3, "block_size")
3
>>> workers(2)
2
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection

import numpy as np

from ._errors import InputError, InputTypeError

__all__ = ["choice", "cpus", "number", "positive_int", "workers"]


def choice(value, options: Collection[str], name: str, *, ordered: bool = False) -> str:
    """``value`` if it is one of ``options``; the message lists them sorted, or in their
    own order with ``ordered``."""
    if not isinstance(value, str) or value not in options:
        shown = list(options) if ordered else sorted(options)
        raise InputError(f"{name} must be one of {shown}, not {value!r}")
    return value


def number(value, name: str, *, ok: Callable[[float], bool] | None = None,
           want: str = "finite", finite: bool = True) -> float:
    """``value`` as a float: a TypeError-kind error if it is not a number, a ValueError-kind
    one saying ``{name} must be {want}`` if it is not finite (with ``finite``) or fails
    ``ok``."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number, not {value!r}") from None
    if (finite and not math.isfinite(result)) or (ok is not None and not ok(result)):
        raise InputError(f"{name} must be {want}, not {value!r}")
    return result


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1 (booleans refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise InputError(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def cpus() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def workers(value: int | None) -> int:
    """A thread count: ``value`` (a positive integer), or the CPUs this process may use
    for None."""
    return cpus() if value is None else positive_int(value, "workers")
