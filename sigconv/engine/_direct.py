"""The direct method: sums of products in the signal domain, no per-sample Python loop.

Six variants, picked by the planner:

* ``"native"``: one convolution axis, the last with more than one sample, a kernel of
  at most ``NATIVE_MAX_TAPS`` taps: the compiled core's loop (``_core.direct_conv``),
  tiles of outputs accumulated in registers over the taps; float32 stays float32,
  integers go through float64 where every partial sum is exact.

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
* ``"band"``: one convolution axis, one kernel for every line: the outputs are cut
  into tiles of B samples, and each tile is a product of a B x (B + m - 1) banded
  (Toeplitz) matrix holding the kernel with a window of the signal, read in place
  through a strided view. All tiles go to the BLAS matrix product in one call, which
  does B + m - 1 multiply-adds per output instead of m but runs them tens of times
  faster than a plain loop (medium kernels, 8 to a few hundred taps).
* ``"convolve2d"``: two 2-D float/complex operands: ``scipy.signal.convolve2d``'s
  compiled loop (full output, then cropped). Its call costs a few microseconds where
  the others cost tens, so it takes the tiny images.

Integers accumulate exactly (int64, or Python ints when int64 could overflow).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from ..backends import default_workers
from ..backends._cache import fresh_array
from . import _exact, _native
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


def direct(p: Problem, variant: str = "taps", workers: int | None = None) -> np.ndarray:
    acc_dt, bound = accumulator_dtype(p)
    # The compiled loops (1-D lines, 2-D); each falls back to its NumPy variant when the
    # core is off or the integer data are too large for exact float64 sums.
    compiled = {"native": (native_ok, _native_direct, "lines"),
                "native2d": (native2d_ok, _native_direct2d, "taps")}.get(variant)
    if compiled is not None:
        ok, run, fallback = compiled
        k = _native.kernels()
        if k is not None and ok(p) and (bound is None or bound <= BAND_EXACT):
            out = run(k, p, default_workers() if workers is None else workers)
            if bound is None:
                return out.astype(p.result_dtype, copy=False)
            # exact integers held in float64
            return _exact.finish_integer(out.astype(np.int64), p.result_dtype, bound)
        variant = fallback
    if variant == "ndimage" and ndimage_ok(p):
        out = _ndimage(p)
    elif variant == "convolve2d" and convolve2d_ok(p):
        out = _convolve2d(p)
    elif variant == "band" and band_ok(p) and (bound is None or bound <= BAND_EXACT):
        out = _band(p)
        if bound is not None:
            out = np.rint(out).astype(np.int64)
    else:
        x = p.x.astype(acc_dt, copy=False)
        h = p.h.astype(acc_dt, copy=False)
        if variant == "lines" and len(p.axes) == 1 and acc_dt.kind != "O":
            out = _lines(x, h, p)
        else:
            out = _taps(x, h, p)
    if bound is not None:
        return _exact.finish_integer(out, p.result_dtype, bound)
    return out.astype(p.result_dtype, copy=False)


# The compiled direct loop takes kernels up to this many taps (its cost grows with the
# taps; beyond, the band product and the transforms are the better tools).
NATIVE_MAX_TAPS = 64

# Multiply-adds per thread below which the compiled loop stays on one thread (about 30-60 us
# of work). Its pieces go to the core's persistent workers, which take 20-30 us to wake on
# the 2-core VM while the caller works on: two threads gained 1.2-1.6x from 1-1.6 million
# multiply-adds (float64, 3 to 64 taps) and lost below.
NATIVE_THREAD_MACS = 1 << 19


def native_lines(p: Problem) -> tuple[int, int, int] | None:
    """(lines, lines of x, lines of h) when the compiled direct loop applies, else None:
    one convolved axis with nothing but length-1 axes after it, float or integer data,
    and no crop of the other axes."""
    if len(p.axes) != 1 or p.result_dtype.kind not in "biuf" or p.result_dtype.kind == "b" \
            or p.result_dtype.itemsize > 8:
        return None
    (a,) = p.axes
    x, h = p.x, p.h
    if any(x.shape[b] != 1 or h.shape[b] != 1 for b in range(a + 1, x.ndim)):
        return None
    if min(x.shape[a], h.shape[a]) > NATIVE_MAX_TAPS:
        return None
    gx, gh = math.prod(x.shape[:a]), math.prod(h.shape[:a])
    g = max(gx, gh)
    if not all(d == 1 for d in x.shape[:a]) and x.shape[:a] != p.out_shape[:a]:
        return None
    if not all(d == 1 for d in h.shape[:a]) and h.shape[:a] != p.out_shape[:a]:
        return None
    if any(p.start[b] != 0 for b in range(a)) or math.prod(p.out_shape[:a]) != g:
        return None
    return g, gx, gh


def native_ok(p: Problem) -> bool:
    return native_lines(p) is not None


def _native_direct(k, p: Problem, workers: int) -> np.ndarray:
    """The compiled direct loop (``_core.direct_conv``) over every line."""
    g, gx, gh = native_lines(p)
    (a,) = p.axes
    rdt = p.result_dtype
    work = np.dtype(np.float32) if rdt in (np.float32, np.float16) else np.dtype(np.float64)
    x, h = p.x, p.h
    n, m = x.shape[a], h.shape[a]
    if m > n:            # the full convolution is symmetric in its operands
        x, h, n, m, gx, gh = h, x, m, n, gh, gx
    x2 = np.ascontiguousarray(x, dtype=work).reshape(gx, n)
    h2 = np.ascontiguousarray(h, dtype=work).reshape(gh, m)
    s, e = p.start[a], p.stop[a]
    # not _native.empty: pages mapped up front cost the loop more than the faults its
    # threads share (1e6 x 3 float64 on two threads: 0.18 against 0.37 ms; 1e7 x 3: 9.6
    # against 11.8 ms); a large output reuses a freed block when one is kept
    out = fresh_array((g, e - s), work)
    threads = max(1, min(workers, out.size * m // NATIVE_THREAD_MACS))
    k.direct_conv(out, x2, h2, s, threads)
    return out.reshape(p.out_shape)


# The compiled 2-D loop takes kernels of up to this many taps (beyond, transforms win).
NATIVE2D_MAX_TAPS = 256


def native2d_ok(p: Problem) -> bool:
    """Whether the compiled 2-D direct loop applies: two 2-D real (float or integer)
    operands, both axes convolved, the smaller at most NATIVE2D_MAX_TAPS taps."""
    return (p.x.ndim == 2 and len(p.axes) == 2 and p.result_dtype.kind in "iuf"
            and p.result_dtype.itemsize <= 8
            and min(p.x.size, p.h.size) <= NATIVE2D_MAX_TAPS)


def _native_direct2d(k, p: Problem, workers: int) -> np.ndarray:
    """The compiled 2-D direct loop (``_core.direct_conv2d``) over the kept window; the
    larger operand (by size) is the signal."""
    rdt = p.result_dtype
    work = np.dtype(np.float32) if rdt in (np.float32, np.float16) else np.dtype(np.float64)
    x, h = p.x, p.h
    if h.size > x.size:               # the full convolution is symmetric in its operands
        x, h = h, x
    x2 = np.ascontiguousarray(x, dtype=work)
    h2 = np.ascontiguousarray(h, dtype=work)
    out = fresh_array(p.out_shape, work)    # (as in _native_direct; 4096^2 x 3x3: 23 vs 26 ms)
    threads = max(1, min(workers, out.size * h2.size // NATIVE_THREAD_MACS))
    k.direct_conv2d(out, x2, h2, p.start[0], p.start[1], threads)
    return out


def ndimage_ok(p: Problem) -> bool:
    """Whether the ndimage variant applies: float/complex, kernel broadcastable."""
    if p.result_dtype.kind not in "fc" or p.result_dtype.itemsize > 16:
        return False
    return all(p.h.shape[a] == 1 for a in range(p.h.ndim) if a not in p.axes) or \
        all(p.x.shape[a] == 1 for a in range(p.x.ndim) if a not in p.axes)


# The dtypes scipy.signal's compiled 2-D loops (convolve2d, correlate2d) work in.
SCIPY_2D_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                                  np.complex128))


def scipy_2d(name: str):
    """scipy.signal's own ``convolve2d`` or ``correlate2d`` (None if scipy moved it),
    taken from its private module so that it is scipy's even where scipy.signal's
    public names were replaced by sigconv's (scipy's test suite run against sigconv)."""
    try:
        from scipy.signal import _signaltools
    except ImportError:   # pragma: no cover - a scipy that moved it
        return None
    return getattr(_signaltools, name, None)


def convolve2d_ok(p: Problem) -> bool:
    """Whether scipy.signal.convolve2d applies: two 2-D float/complex operands, both
    axes convolved (its C loop costs ~8 us per call against the other variants' 80-130
    us, so it takes the tiny images)."""
    return p.x.ndim == 2 and len(p.axes) == 2 and p.result_dtype in SCIPY_2D_DTYPES \
        and scipy_2d("convolve2d") is not None


def _convolve2d(p: Problem) -> np.ndarray:
    rdt = p.result_dtype
    full = scipy_2d("convolve2d")(p.x.astype(rdt, copy=False), p.h.astype(rdt, copy=False),
                                  "full")
    return np.ascontiguousarray(full[tuple(slice(s, e) for s, e in zip(p.start, p.stop))])


# Integer sums are exact in double precision while every partial sum is below 2**53.
BAND_EXACT = 2**53


def band_ok(p: Problem) -> bool:
    """Whether the band variant applies: one axis, one kernel shared by all lines,
    and a dtype BLAS multiplies (integers go through float64, exactly, if small)."""
    if len(p.axes) != 1 or p.result_dtype.kind not in "biufc" \
            or p.result_dtype.itemsize > (8 if p.result_dtype.kind != "c" else 16):
        return False
    (a,) = p.axes
    return any(all(k.shape[b] == 1 for b in range(k.ndim) if b != a) for k in (p.x, p.h))


def band_block(m: int) -> int:
    """Outputs per tile for an m-tap kernel: small tiles waste fewer multiply-adds
    (B + m - 1 per output), large ones make better matrix products."""
    if m <= 24:
        return 16
    if m <= 64:
        return 32
    return min(128, -(-(m // 2) // 16) * 16)


def band_roles(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(signal, kernel) for the band variant: the kernel is the same for every line
    (length 1 on the other axes), the shorter operand if both qualify."""
    (a,) = p.axes
    x, h = p.x, p.h
    if not all(h.shape[b] == 1 for b in range(h.ndim) if b != a) or \
            (x.shape[a] < h.shape[a] and all(x.shape[b] == 1 for b in range(x.ndim) if b != a)):
        x, h = h, x
    return x, h


def _band(p: Problem) -> np.ndarray:
    (a,) = p.axes
    x, h = band_roles(p)
    rdt = p.result_dtype
    work = np.dtype(np.float64) if rdt.kind in "biu" else \
        np.dtype(np.float32) if rdt == np.float16 else rdt
    # Other axes: 'same' crops them to in1's extent (x's, as h is 1 there).
    x = x[tuple(slice(None) if b == a or x.shape[b] == 1 else slice(p.start[b], p.stop[b])
                for b in range(x.ndim))]
    post = x.shape[a + 1:]
    compact = x.strides[a + 1:] == tuple(work.itemsize * math.prod(post[i + 1:])
                                         for i in range(len(post)))
    if x.dtype != work or not compact or (not post and x.strides[a] != work.itemsize):
        x = np.ascontiguousarray(x, dtype=work)
    g = h.reshape(-1)[::-1].astype(work)          # correlate with the flipped kernel
    n, m = x.shape[a], g.size
    s, count = p.start[a], p.stop[a] - p.start[a]
    B = band_block(m)
    band = _band_matrix(g.tobytes(), work.str, B)
    out = fresh_array(x.shape[:a] + (count,) + post, work)
    along = (slice(None),) * a

    # Output k (a full-convolution index) = sum_i g[i] * x[k - (m - 1) + i]. Tile t holds
    # outputs s + t*B ... s + t*B + B - 1 and reads x over [s + t*B - (m - 1), s + (t+1)*B).
    # Tiles t0 <= t < t1 lie inside x and are read in place; the others from zero-padded
    # copies of their few samples.
    tiles = -(-count // B)
    t0 = min(tiles, max(0, -(-(m - 1 - s) // B)))
    t1 = max(t0, min(count // B, (n - s) // B))    # whole tiles only: dest has T*B samples
    if t1 > t0:
        _band_tiles(x[along + (slice(s + t0 * B - (m - 1), s + t1 * B),)], band,
                    out[along + (slice(t0 * B, t1 * B),)], a)
    for ta, tb in ((0, t0), (t1, tiles)):
        if tb <= ta:
            continue
        lo, hi = s + ta * B - (m - 1), s + tb * B
        seg = np.zeros(x.shape[:a] + (hi - lo,) + post, work)
        seg[along + (slice(max(0, -lo), min(n, hi) - lo),)] = \
            x[along + (slice(max(0, lo), min(n, hi)),)]
        tmp = np.empty(x.shape[:a] + ((tb - ta) * B,) + post, work)
        _band_tiles(seg, band, tmp, a)
        stop = min(tb * B, count)
        out[along + (slice(ta * B, stop),)] = tmp[along + (slice(0, stop - ta * B),)]
    return out


_BAND_MANY_LINES = 64


def _flat_stride(a: np.ndarray, axis: int) -> int | None:
    """The one stride stepping through all of ``a``'s axes before ``axis`` as one, if any."""
    dims = [i for i in range(axis) if a.shape[i] != 1]
    for i, j in itertools.pairwise(dims):
        if a.strides[i] != a.strides[j] * a.shape[j]:
            return None
    return a.strides[dims[-1]] if dims else a.itemsize


@functools.lru_cache(maxsize=32)
def _band_matrix(taps: bytes, dtype: str, B: int) -> np.ndarray:
    """The B x (B + m - 1) matrix whose row i holds the m taps from column i on."""
    g = np.frombuffer(taps, dtype)
    zeros = np.zeros(B - 1, dtype)
    rows = np.lib.stride_tricks.sliding_window_view(np.concatenate([zeros, g, zeros]),
                                                    B + g.size - 1)
    band = rows[B - 1::-1].copy()       # row i starts at column i
    band.flags.writeable = False
    return band


def _view(a: np.ndarray, shape: tuple, strides: tuple, writeable: bool = True) -> np.ndarray:
    """A strided view starting at ``a``'s first element. Of a contiguous array it is made
    by the ndarray constructor, which checks that the view stays inside ``a`` and costs
    1 us against as_strided's 5 (a band call makes up to twelve)."""
    if a.flags.c_contiguous:
        v = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
        if not writeable:
            v.flags.writeable = False
        return v
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=writeable)


def _band_tiles(seg: np.ndarray, band: np.ndarray, dest: np.ndarray, a: int) -> None:
    """``dest`` (T*B samples along axis ``a``) = the band applied to every tile of ``seg``
    (T*B + m - 1 samples along ``a``); both arrays compact after axis ``a``."""
    strided = _view
    B, K = band.shape
    lead, inner = seg.shape[:a], math.prod(seg.shape[a + 1:])
    tiles = dest.shape[a] // B
    # The views below may be made with as_strided: check the extents they assume.
    if dest.shape[a] != tiles * B or seg.shape[a] != tiles * B + K - B \
            or seg.shape[:a] != dest.shape[:a] or seg.shape[a + 1:] != dest.shape[a + 1:]:
        raise AssertionError(f"band tiles: {seg.shape} -> {dest.shape} with band {band.shape}")
    step, dstep = seg.strides[a], dest.strides[a]
    if inner == 1:
        lines = math.prod(lead)
        flat = _flat_stride(seg, a), _flat_stride(dest, a)
        if lines >= _BAND_MANY_LINES and None not in flat:
            # Many lines: one product per tile position, over all lines at once
            # (tiles x (lines, K) windows times the band transposed), larger products
            # than one per line (measured 2x faster on 480 lines of 3840 samples).
            windows = strided(seg, (tiles, lines, K), (B * step, flat[0], step),
                              writeable=False)
            np.matmul(windows, band.T, out=strided(dest, (tiles, lines, B),
                                                   (B * dstep, flat[1], dstep)))
            return
        # Row tiles: (..., tiles, K) windows times the band transposed.
        windows = strided(seg, lead + (tiles, K), seg.strides[:a] + (B * step, step),
                          writeable=False)
        np.matmul(windows, band.T, out=strided(dest, lead + (tiles, B),
                                               dest.strides[:a] + (B * dstep, dstep)))
    else:
        # Column tiles: the band times (K, inner) windows, every column at once.
        size = seg.itemsize
        windows = strided(seg, lead + (tiles, K, inner),
                          seg.strides[:a] + (B * step, step, size), writeable=False)
        np.matmul(band, windows, out=strided(dest, lead + (tiles, B, inner),
                                             dest.strides[:a] + (B * dstep, dstep, size)))


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
    # A zero tap adds nothing unless x holds inf or NaN (0 * inf is NaN).
    skip_zeros = x.dtype.kind in "biuO" or (not h.all() and all_finite(x))
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
    objects = out.dtype.kind == "O"
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
            if tap.size == 1 and not objects:
                # a kernel broadcast over other axes (an image's channels): a scalar, so
                # that taps of +-1 add or subtract and products need no broadcasting
                tap = tap.reshape(-1)[0]
        if skip_zeros and not np.any(tap):
            continue
        xs = x[tuple(x_idx)]
        o = tuple(o_idx)
        unit = 0 if objects or np.ndim(tap) else 1 if tap == 1 else -1 if tap == -1 else 0
        if not started:
            started = True
            if not objects and all(s_.stop - s_.start == n for s_, n in
                                       zip((o_idx[a] for a in axes),
                                           (out_shape[a] for a in axes))):
                # the first tap assigns: no zero-filling, one pass fewer
                if unit == 1:
                    np.copyto(out, xs)
                elif unit == -1:
                    np.negative(xs, out=out)
                else:
                    np.multiply(xs, tap, out=out)
                continue
            out.fill(0)
        if objects:
            out[o] += xs * tap
            continue
        region = out[o]
        if unit:            # taps of +-1 (difference kernels): one pass, no product
            (np.add if unit == 1 else np.subtract)(region, xs, out=region)
            continue
        _add_product(region, xs, tap)
    if not started:
        out.fill(0)
    return out


# Elements of the scratch array for tap * shifted signal: products are formed and added
# slab by slab, so the scratch stays in cache and is never a fresh multi-MB allocation
# (a 4 MB float64 scratch per call cost more in page faults than the arithmetic:
# 3 taps over 136 x 3842 took 9.4 ms, 6.9 of them in the first touch).
_SCRATCH = 1 << 17


def _add_product(region: np.ndarray, xs: np.ndarray, tap) -> None:
    """``region += xs * tap`` (tap broadcasting), through a small scratch array."""
    if region.size <= _SCRATCH or region.ndim == 0:
        region += xs * tap
        return
    per = region[0].size
    step = max(1, _SCRATCH // max(per, 1))
    scratch = np.empty((step,) + region.shape[1:], dtype=region.dtype)
    def rows(a, r):      # operands broadcast along axis 0 are used whole
        return a[r:r + step] if np.ndim(a) == region.ndim and np.shape(a)[0] > 1 else a

    for r in range(0, region.shape[0], step):
        part = region[r:r + step]
        t = scratch[:part.shape[0]]
        np.multiply(rows(xs, r), rows(tap, r), out=t)
        np.add(part, t, out=part)


def all_finite(a: np.ndarray) -> bool:
    """No inf or NaN in ``a``, by one pass: the compiled check where it applies, else
    the sum of squares, which is then finite (a false alarm for values beyond 1e154
    only costs the caller its careful path). The compiled check calls no BLAS: NumPy's
    vdot of a large array wakes OpenBLAS's threads, which spin on a core for about 0.1 s
    afterwards and slowed the threaded transforms that followed (1e7 x 301 float64
    overlap-add: 50 ms against 29)."""
    if a.dtype.kind not in "fc":
        return True
    if a.dtype.char in "fdFD" and a.flags.c_contiguous:
        k = _native.kernels()
        if k is not None and a.dtype.isnative:
            return bool(k.all_finite(a, _native.native_threads(a.size, default_workers())))
        # BLAS: 3x faster than sum, and it sets no NumPy error flags (no errstate needed,
        # a few microseconds per call)
        flat = a.reshape(-1)
        return bool(np.isfinite(np.vdot(flat, flat)))
    with np.errstate(all="ignore"):
        if a.dtype.itemsize <= 16 and a.flags.c_contiguous:
            flat = a.reshape(-1)
            return bool(np.isfinite(np.vdot(flat, flat)))
        return bool(np.isfinite(a.sum()))


def _tap_index(axes, j, ndim):
    """(axis, index) pairs selecting tap ``j`` (non-convolved axes kept whole)."""
    pos = dict(zip(axes, j))
    return [(a, pos.get(a, 0)) for a in range(ndim)]
