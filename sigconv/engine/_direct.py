"""The direct method: sums of products in the signal domain, no per-sample Python loop.

Two shapes of loop, picked by the planner:

* ``"lines"``: one convolution axis; each 1-D line goes through ``numpy.convolve``
  (compiled, vectorised dot products). Python runs once per line, so this suits
  1-D signals and a few channels.
* ``"ndimage"``: float and complex data, any number of axes: one call of
  ``scipy.ndimage.correlate`` with the flipped kernel (compiled loops over
  outputs and taps, sums in double precision); the kernel must not be wider
  than the signal along the broadcast axes.
* ``"taps"``: any number of axes; Python loops over the taps (elements) of the
  smaller operand and adds ``tap * shifted signal`` into the output with whole-array
  operations. Suits small kernels on large N-D arrays (3x3 on an image is 9 passes).

Integers accumulate exactly (int64, or Python ints when int64 could overflow).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import _exact
from ._validate import Problem


def accumulator_dtype(p: Problem) -> tuple[np.dtype, int | None]:
    """The dtype to sum in, and (for integers) a bound on |output|."""
    rdt = p.result_dtype
    if rdt.kind in "biu":
        bound = _exact.output_bound(p)
        if _exact.fits(bound, rdt) and rdt.kind != "b":
            return rdt, bound
        if bound <= _exact.INT64_MAX:
            return np.dtype(np.int64), bound
        return np.dtype(object), bound
    return rdt, None


def direct(p: Problem, variant: str = "taps") -> np.ndarray:
    acc_dt, bound = accumulator_dtype(p)
    x = p.x.astype(acc_dt, copy=False)
    h = p.h.astype(acc_dt, copy=False)
    if variant == "lines" and len(p.axes) == 1 and acc_dt.kind != "O":
        out = _lines(x, h, p)
    elif variant == "ndimage" and ndimage_ok(p):
        out = _ndimage(p)
    else:
        out = _taps(x, h, p)
    if bound is not None:
        return _exact.finish_integer(out, p.result_dtype, bound)
    return out.astype(p.result_dtype, copy=False)


def ndimage_ok(p: Problem) -> bool:
    """Whether the ndimage variant applies: float/complex, kernel broadcastable."""
    if p.result_dtype.kind not in "fc" or p.result_dtype.itemsize > 16:
        return False
    return all(p.h.shape[a] == 1 for a in range(p.h.ndim) if a not in p.axes) or \
        all(p.x.shape[a] == 1 for a in range(p.x.ndim) if a not in p.axes)


def _ndimage(p: Problem) -> np.ndarray:
    from scipy import ndimage

    x, h = p.x, p.h
    if not all(h.shape[a] == 1 for a in range(h.ndim) if a not in p.axes):
        x, h = h, x
    rdt = p.result_dtype
    work = np.dtype(np.float32) if rdt == np.float16 else rdt
    x = x.astype(work, copy=False)
    w = h[tuple(slice(None, None, -1) if a in p.axes else slice(None)
                for a in range(h.ndim))].astype(work, copy=False)
    if w.dtype.kind == "c":
        w = w.conj()    # ndimage.correlate conjugates complex weights; undo that
    # With weights w = flipped h and centre c = m // 2, ndimage's output index t
    # holds the full-convolution index f = t + (m - 1) - c - pad_left.
    pads, keep = [], []
    for a in range(x.ndim):
        if a not in p.axes:
            pads.append((0, 0))
            keep.append(slice(p.start[a], p.stop[a]) if x.shape[a] > 1 else slice(None))
            continue
        n, m, s, e = x.shape[a], h.shape[a], p.start[a], p.stop[a]
        c = m // 2
        left = max(0, m - 1 - c - s)
        right = max(0, e - m + c - n + 1)
        pads.append((left, right))
        t0 = s - (m - 1) + c + left
        keep.append(slice(t0, t0 + e - s))
    if any(l or r for l, r in pads):
        x = np.pad(x, pads)
    y = ndimage.correlate(x, w, mode="constant", cval=0.0)
    return np.ascontiguousarray(y[tuple(keep)])


def _lines(x: np.ndarray, h: np.ndarray, p: Problem) -> np.ndarray:
    (ax,) = p.axes
    s, e = p.start[ax], p.stop[ax]
    n, m = x.shape[ax], h.shape[ax]
    if s == 0 and e == n + m - 1:
        np_mode, cut = "full", None
    elif s == min(n, m) - 1 and e == max(n, m):
        np_mode, cut = "valid", None
    else:
        np_mode, cut = "full", slice(s, e)
    if x.ndim == 1:
        y = np.convolve(x, h, np_mode)
        return y if cut is None else y[cut].copy()
    # Lines along `ax`, broadcasting the other axes, cropped as the mode asks.
    xm = np.moveaxis(x, ax, -1)
    hm = np.moveaxis(h, ax, -1)
    outer = np.broadcast_shapes(xm.shape[:-1], hm.shape[:-1])
    full_out = np.empty(outer + (e - s,), dtype=np.result_type(x, h))
    for idx in np.ndindex(*outer):
        xi = tuple(i if d > 1 else 0 for i, d in zip(idx, xm.shape[:-1]))
        hi = tuple(i if d > 1 else 0 for i, d in zip(idx, hm.shape[:-1]))
        y = np.convolve(xm[xi], hm[hi], np_mode)
        full_out[idx] = y if cut is None else y[cut]
    out = np.moveaxis(full_out, -1, ax)
    # 'same' crops non-convolved axes too (centred on in1's shape)
    sl = tuple(slice(s_, e_) if a != ax else slice(None)
               for a, (s_, e_) in enumerate(zip(p.start, p.stop)))
    return np.ascontiguousarray(out[sl])


def _taps(x: np.ndarray, h: np.ndarray, p: Problem) -> np.ndarray:
    axes = p.axes
    # Loop over the operand with fewer taps on the convolved axes.
    if math.prod(x.shape[a] for a in axes) < math.prod(h.shape[a] for a in axes):
        x, h = h, x
    ndim = x.ndim
    out_shape = p.out_shape
    out = np.empty(out_shape, dtype=np.result_type(x, h))
    started = False      # out holds no sums yet: the first full-size tap assigns, not adds
    skip_zeros = x.dtype.kind in "biuO"   # no inf/nan in x: a zero tap adds nothing
    # Non-convolved axes: fixed slices ('same' crops them to in1's extent).
    fixed_x = {a: (slice(None) if x.shape[a] == 1 else slice(p.start[a], p.stop[a]))
               for a in range(ndim) if a not in axes}
    fixed_h = {a: (slice(None) if h.shape[a] == 1 else slice(p.start[a], p.stop[a]))
               for a in range(ndim) if a not in axes}
    if fixed_h:
        hsl = [fixed_h.get(a, slice(None)) for a in range(ndim)]
        h = h[tuple(hsl)]
    # Per axis and tap index: (output slice, signal slice), or None if no overlap.
    per_axis = []
    for a in axes:
        s, n, size = p.start[a], x.shape[a], out_shape[a]
        opts = []
        for ja in range(h.shape[a]):
            lo, hi = max(0, ja - s), min(size, n + ja - s)
            opts.append((slice(lo, hi), slice(lo + s - ja, hi + s - ja)) if hi > lo else None)
        per_axis.append(opts)
    o_idx = [slice(None)] * ndim
    x_idx = [fixed_x.get(a, slice(None)) for a in range(ndim)]
    tmp = None if out.dtype.kind == "O" else np.empty(out_shape, dtype=out.dtype)
    hv = h.reshape(tuple(h.shape[a] for a in axes) + (-1,)) if not fixed_h else None
    for j in itertools.product(*(range(h.shape[a]) for a in axes)):
        ok = True
        for k, (a, ja) in enumerate(zip(axes, j)):
            pair = per_axis[k][ja]
            if pair is None:
                ok = False
                break
            o_idx[a], x_idx[a] = pair
        if not ok:
            continue
        if hv is not None and hv.shape[-1] == 1:
            tap = hv[j][0]                     # a scalar
        else:
            tap = h[tuple(slice(ja, ja + 1) if a in axes else slice(None)
                          for a, ja in _tap_index(axes, j, ndim))]
        if skip_zeros and not np.any(tap):
            continue
        xs = x[tuple(x_idx)]
        o = tuple(o_idx)
        if not started:
            started = True
            if tmp is not None and all(s_.stop - s_.start == n for s_, n in
                                       zip((o_idx[a] for a in axes),
                                           (out_shape[a] for a in axes))):
                np.multiply(xs, tap, out=out)     # saves zero-filling and one add pass
                continue
            out.fill(0)
        if tmp is None:
            out[o] += xs * tap
            continue
        t = tmp[o]
        np.multiply(xs, tap, out=t)
        region = out[o]
        np.add(region, t, out=region)
    if not started:
        out.fill(0)
    return out


def _tap_index(axes, j, ndim):
    """(axis, index) pairs selecting tap ``j`` (non-convolved axes kept whole)."""
    pos = dict(zip(axes, j))
    return [(a, pos.get(a, 0)) for a in range(ndim)]
