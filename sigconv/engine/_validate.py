"""Argument checks, the dtype policy and the output window of each mode.

Everything a method needs is gathered into a :class:`Problem`: the two operands
(swapped when 'valid' mode needs the larger first), the convolved axes, and for
every axis the window ``[start, stop)`` of the *full* convolution that the mode
keeps. Full convolution is commutative, so each method may compute with either
operand as the "signal"; only the window depends on the order the user gave.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from .._errors import InputError, InputTypeError

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "fft", "oa")
# dtype kinds the engine computes with: bool, signed, unsigned, float, complex, object
_KINDS = "biufcO"


@dataclass
class Problem:
    x: np.ndarray                  # first operand (maybe swapped for 'valid')
    h: np.ndarray                  # second operand
    axes: tuple[int, ...]          # convolved axes where neither size is 1, sorted
    start: tuple[int, ...]         # per array axis, first kept index of the full result
    stop: tuple[int, ...]          # per array axis, one past the last kept index
    result_dtype: np.dtype         # what the caller gets back
    mode: str
    bound: int | None = None       # |output| bound for integers, once computed (_exact)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(e - s for s, e in zip(self.start, self.stop))


def full_len(n: int, m: int, convolved: bool) -> int:
    return n + m - 1 if convolved else max(n, m)


def check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise InputError(f"acceptable mode flags are 'valid', 'same', or 'full', not {mode!r}")
    return mode


def check_method(method) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"acceptable method flags are 'auto', 'direct', 'fft' or 'oa', "
                         f"not {method!r}")
    return method


def as_operand(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in _KINDS:
        raise InputTypeError(f"{name} must be numeric (bool, integer, float or complex), "
                             f"not dtype {arr.dtype.str!r}")
    return arr


def normalize_axes(axes, ndim: int) -> list[int]:
    """Axes as a list of non-negative ints, with scipy.signal's checks and messages."""
    if axes is None:
        return list(range(ndim))
    if np.ndim(axes) > 1:
        raise InputError(f"axes must be a scalar or iterable of integers, not {axes!r}")
    try:
        items = [operator.index(a) for a in np.atleast_1d(np.asarray(axes, dtype=object))]
    except TypeError:
        raise InputError(f"axes must be a scalar or iterable of integers, "
                         f"not {axes!r}") from None
    if not items:
        raise InputError("when provided, axes cannot be empty")
    for a in items:
        if a >= ndim or a < -ndim:
            raise InputError(f"axes exceeds dimensionality of input: axis {a} for "
                             f"{ndim}-d arrays")
    items = [a % ndim for a in items]
    if len(set(items)) != len(items):
        raise InputError(f"all axes must be unique, got {axes!r}")
    return items


def result_dtype(dt1: np.dtype, dt2: np.dtype, *, fft_style: bool) -> np.dtype:
    """The one dtype policy.

    ``convolve``/``correlate`` return ``np.result_type`` of the inputs, as scipy does
    (float32 stays float32, integers stay integers and are computed exactly).
    ``fftconvolve``/``oaconvolve`` return the floating dtype their transforms use:
    integers and bools give float64, float16 gives float32.
    """
    rt = np.result_type(dt1, dt2)
    return fft_dtype(rt) if fft_style else rt


def fft_dtype(dt: np.dtype) -> np.dtype:
    """The floating (or complex) dtype an FFT of ``dt`` data is computed in."""
    dt = np.dtype(dt)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt == np.float16:
        return np.dtype(np.float32)
    if dt.kind == "O":
        raise InputTypeError("object arrays can only be convolved with method='direct'")
    return dt


def prepare(in1, in2, mode: str, axes, *, fft_style: bool) -> tuple[Problem | None, object]:
    """Validate and build the :class:`Problem`.

    Returns ``(problem, None)``, or ``(None, result)`` when the answer needs no
    convolution (0-d inputs, or empty inputs for the fft-style functions).
    """
    check_mode(mode)
    x = as_operand(in1, "in1")
    h = as_operand(in2, "in2")
    rdt = result_dtype(x.dtype, h.dtype, fft_style=fft_style)
    if x.ndim != h.ndim:
        raise InputError(f"in1 and in2 should have the same dimensionality, "
                         f"got {x.ndim}-d and {h.ndim}-d")
    if x.ndim == 0:
        return None, x * h
    if x.size == 0 or h.size == 0:
        if fft_style:
            return None, np.array([], dtype=rdt)
        which = "in1" if x.size == 0 else "in2"
        shape = x.shape if x.size == 0 else h.shape
        raise InputError(f"{which} is empty (shape {shape}); nothing to convolve")

    user_axes = normalize_axes(axes, x.ndim)
    s1, s2 = x.shape, h.shape
    conv = sorted(a for a in user_axes if s1[a] != 1 and s2[a] != 1)
    for a in range(x.ndim):
        if a not in conv and not (s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1):
            raise InputError(f"incompatible shapes for in1 and in2: {s1} and {s2}")

    if mode == "valid" and conv:
        ok1 = all(s1[a] >= s2[a] for a in conv)
        ok2 = all(s2[a] >= s1[a] for a in conv)
        if not (ok1 or ok2):
            raise InputError("For 'valid' mode, one must be at least as large as the other "
                             f"in every dimension; got shapes {s1} and {s2}")

    start, stop = [], []
    for a in range(x.ndim):
        n, m = s1[a], s2[a]
        full = full_len(n, m, a in conv)
        if a in conv:
            if mode == "full":
                s, e = 0, full
            elif mode == "same":
                s = (full - n) // 2
                e = s + n
            else:
                s, e = min(n, m) - 1, max(n, m)
        else:
            s, e = 0, full
            if mode == "same":
                s = (full - n) // 2
                e = s + n
        start.append(s)
        stop.append(e)
    return Problem(x, h, tuple(conv), tuple(start), tuple(stop), rdt, mode), None
