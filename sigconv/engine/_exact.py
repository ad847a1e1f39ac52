"""Exact integer results: accumulator choice, FFT rounding safety, and the final cast.

Integer (and bool) inputs give exact results. The direct method accumulates in
int64 when the largest possible |output| fits, else in Python integers (object
arrays). The FFT methods are used for integers only when the rounding error is
provably below one half (see ``fft_is_exact``). If the exact result does not fit
the dtype scipy would return, sigconv widens the dtype instead of wrapping, and
says so with a RuntimeWarning.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

INT64_MAX = 2**63 - 1
_EPS64 = float(np.finfo(np.float64).eps)


def dtype_maxabs(dt: np.dtype) -> int:
    if dt.kind == "b":
        return 1
    info = np.iinfo(dt)
    return max(info.max, -info.min)


def data_maxabs(a: np.ndarray) -> int:
    if a.dtype.kind == "b":
        return int(a.any())
    if a.dtype.kind == "O":
        return max((abs(int(v)) for v in a.flat), default=0)
    return max(int(a.max()), -int(a.min()))


def max_terms(p) -> int:
    """Upper bound on the number of products summed into one output value."""
    return math.prod(min(p.x.shape[a], p.h.shape[a]) for a in p.axes) or 1


def dtype_bound(p) -> int:
    """An upper bound on |output| for integer inputs from their dtypes alone."""
    return max_terms(p) * dtype_maxabs(p.x.dtype) * dtype_maxabs(p.h.dtype)


def output_bound(p) -> int:
    """An upper bound on |output| for integer inputs, from dtypes first, data if needed
    (kept on the problem: the planner's exactness check and the final cast both ask)."""
    if p.bound is None:
        bound = dtype_bound(p)
        if bound > INT64_MAX:
            bound = max_terms(p) * data_maxabs(p.x) * data_maxabs(p.h)
        p.bound = bound
    return p.bound


def fits(bound: int, dt: np.dtype) -> bool:
    if dt.kind == "b":
        return True
    info = np.iinfo(dt)
    return bound <= info.max and -bound >= info.min


def fft_is_exact(p, fft_size: int) -> bool:
    """True when a float64 FFT convolution of integer inputs rounds back exactly.

    The error of an FFT convolution is bounded by about
    ``c * log2(N) * eps * min(|x|_2 |h|_1, |x|_1 |h|_2)``; we ask that bound, with a
    generous c, to stay below 1/4 so that rounding to the nearest integer is exact.
    """
    x = p.x.astype(np.float64, copy=False)
    h = p.h.astype(np.float64, copy=False)
    x1, h1 = float(np.abs(x).sum()), float(np.abs(h).sum())
    x2, h2 = float(np.sqrt(np.vdot(x, x))), float(np.sqrt(np.vdot(h, h)))
    err = 8.0 * (math.log2(max(fft_size, 2)) + 1) * _EPS64 * min(x2 * h1, x1 * h2)
    return err < 0.25 and output_bound(p) < 2**53


def finish_integer(acc: np.ndarray, rdt: np.dtype, bound: int) -> np.ndarray:
    """Cast an exact integer accumulator to ``rdt``, widening instead of wrapping."""
    if rdt.kind == "b":
        return acc != 0
    if fits(bound, rdt):
        return acc.astype(rdt, copy=False)
    lo, hi = data_minmax(acc)
    if lo >= np.iinfo(rdt).min and hi <= np.iinfo(rdt).max:
        return acc.astype(rdt, copy=False)
    for cand in ([np.int16, np.int32, np.int64] if lo < 0 else
                 [np.uint16, np.uint32, np.uint64] if rdt.kind == "u" else
                 [np.int16, np.int32, np.int64]):
        cand = np.dtype(cand)
        if cand.itemsize > rdt.itemsize and lo >= np.iinfo(cand).min \
                and hi <= np.iinfo(cand).max:
            break
    else:
        cand = np.dtype(object)
    warnings.warn(f"exact integer result spans [{lo}, {hi}], which does not fit {rdt}; "
                  f"returning {cand} instead of wrapping around", RuntimeWarning, stacklevel=4)
    if cand.kind == "O":
        return acc.astype(object)
    return acc.astype(cand)


def data_minmax(a: np.ndarray) -> tuple[int, int]:
    if a.dtype.kind == "O":
        vals = [int(v) for v in a.flat]
        return min(vals), max(vals)
    return int(a.min()), int(a.max())
