"""The window gather of convolution layers (im2col) and its adjoint (col2im).

A layer's matrix-product method needs, for every output position it keeps, the input
samples under the kernel's taps side by side: ``cols[n, c, t, p]`` is the sample that
tap ``t`` of the kernel reads for output position ``p`` (flattened in C order over the
output grid) of image ``n``, channel ``c``, with stride, dilation and zero padding
applied by index (no padded copy is made; outside the input the value is 0). Only the
positions the stride keeps are gathered. :func:`scatter_windows` is the adjoint: it adds
every entry of ``cols`` back onto the input sample it came from (entries that read the
padding are dropped), which is what the gradient of the input needs.

The compiled core (``src/native/windows.cpp``) does both in one pass over memory with
the GIL released, rows of ``cols`` (or planes of the input, for the adjoint) split over
``workers`` threads; the NumPy twins below are the fallback and the tests' reference.
Both give the same bits, whatever the thread count: the gather copies, and the adjoint
adds the taps in kernel order onto the existing values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._checks import workers as check_workers
from .._errors import InputError, InputTypeError
from . import _native

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _Win(NamedTuple):
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    out: tuple[int, ...]
    images: tuple[int, int]
    positions: tuple[int, int]


def _ints(v, n: int, name: str, low: int) -> tuple[int, ...]:
    items = tuple(v) if isinstance(v, (tuple, list)) else (v,) * n
    if len(items) != n or any(isinstance(e, (bool, np.bool_)) or
                              not isinstance(e, (int, np.integer)) for e in items):
        raise InputError(f"{name} must be an integer or {n} integers, not {v!r}")
    if any(e < low for e in items):
        raise InputError(f"{name} must be {'positive' if low else 'non-negative'}, not {v!r}")
    return tuple(int(e) for e in items)


def _pads(padding, n: int) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, (tuple, list)) and len(padding) == n and \
            all(isinstance(e, (tuple, list)) for e in padding):
        if any(len(e) != 2 for e in padding):
            raise InputError(f"padding pairs must be (before, after), not {padding!r}")
        flat = _ints([v for e in padding for v in e], 2 * n, "padding", 0)
        return tuple(zip(flat[::2], flat[1::2]))
    return tuple((p, p) for p in _ints(padding, n, "padding", 0))


def _range(r, total: int, name: str) -> tuple[int, int]:
    if r is None:
        return 0, total
    a, b = _ints(r, 2, name, 0)
    if not a <= b <= total:
        raise InputError(f"{name} must be a range (start, stop) within 0..{total}, not {r!r}")
    return a, b


def _window(shape: tuple[int, ...], kernel, stride, dilation, padding, images,
            positions) -> _Win:
    k = _ints(kernel, len(kernel) if isinstance(kernel, (tuple, list)) else 1, "kernel", 1)
    nsp = len(k)
    if not 1 <= nsp <= 3 or len(shape) != nsp + 2:
        raise InputError(f"an input (N, C, *spatial) with 1 to 3 spatial axes matching the "
                         f"kernel {k} is needed, not shape {shape}")
    s = _ints(stride, nsp, "stride", 1)
    d = _ints(dilation, nsp, "dilation", 1)
    pads = _pads(padding, nsp)
    out = []
    for n, kk, ss, dd, (a, b) in zip(shape[2:], k, s, d, pads):
        reach = (kk - 1) * dd + 1
        if reach > n + a + b:
            raise InputError(f"kernel {k} with dilation {d} reaches beyond the padded input "
                             f"(spatial shape {shape[2:]}, padding {pads})")
        out.append((n + a + b - reach) // ss + 1)
    out = tuple(out)
    return _Win(k, s, d, pads, out, _range(images, shape[0], "images"),
                _range(positions, math.prod(out), "positions"))


def _float_array(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype not in _FLOATS:
        raise InputTypeError(f"{name} must be float32 or float64, not dtype {arr.dtype.name!r}")
    return arr


def _three(v: tuple, fill: int) -> list[int]:
    return [fill] * (3 - len(v)) + list(v)


def _cols_shape(shape, win: _Win) -> tuple[int, ...]:
    (n0, n1), (p0, p1) = win.images, win.positions
    return (n1 - n0, shape[1], math.prod(win.kernel), p1 - p0)


def _out_array(out, shape: tuple[int, ...], dtype: np.dtype, name: str) -> np.ndarray:
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise InputError(f"{name} must be a writeable C-contiguous {dtype.name} array of "
                         f"shape {shape}, not {out.dtype.name} {out.shape}")
    return out


def gather_windows(x: ArrayLike, kernel, stride=1, dilation=1, padding=0, *,
                   images=None, positions=None, out: np.ndarray | None = None,
                   workers: int | None = None) -> np.ndarray:
    """The input samples under each kept output's window, tap by tap (im2col).

    Parameters
    ----------
    x : array_like
        ``(N, C, *spatial)`` with 1 to 3 spatial axes; float32 or float64, any strides.
    kernel : int or tuple of int
        Kernel size per spatial axis (its length gives the number of spatial axes).
    stride, dilation : int or tuple of int
        Step between kept outputs, and between taps; positive.
    padding : int, tuple of int, or tuple of (before, after) pairs
        Zeros around each spatial axis, applied by index.
    images : (start, stop), optional
        Gather only these images (default all).
    positions : (start, stop), optional
        Gather only these flattened output positions (default all).
    out : numpy.ndarray, optional
        C-contiguous array of the result's shape and ``x``'s dtype to write into.
    workers : int, optional
        Threads (default: every core).

    Returns
    -------
    numpy.ndarray
        ``cols`` of shape ``(images, C, taps, positions)``: ``cols[n, c, t, p]`` is what
        tap ``t`` (C order over the kernel) reads for output position ``p`` (C order
        over the output grid ``(size + before + after - dilation*(k-1) - 1) // stride
        + 1`` per axis).

    Raises
    ------
    TypeError
        ``x`` is not float32 or float64.
    ValueError
        A bad kernel, stride, dilation, padding, range, ``out`` or ``workers``.

    Examples
    --------
    >>> import numpy as np, sigconv.engine as engine
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> engine.gather_windows(x, 3, stride=2, padding=1)[0, 0]
    array([[0., 1., 3.],
           [0., 2., 4.],
           [1., 3., 0.]])
    """
    x = _float_array(x, "x")
    win = _window(x.shape, kernel, stride, dilation, padding, images, positions)
    threads = check_workers(workers)
    shape = _cols_shape(x.shape, win)
    cols = np.empty(shape, x.dtype) if out is None else _out_array(out, shape, x.dtype, "out")
    core = _native.kernels()
    if core is None:
        _gather_numpy(x, cols, win)
        return cols
    xc = np.ascontiguousarray(x)
    core.gather_windows(xc.reshape(x.shape[:2] + tuple(_three(x.shape[2:], 1))), cols,
                        list(win.images), _three(win.kernel, 1), _three(win.stride, 1),
                        _three(win.dilation, 1), _three(tuple(a for a, _ in win.pads), 0),
                        _three(win.out, 1), list(win.positions), threads)
    return cols


def scatter_windows(cols: ArrayLike, in_shape, kernel, stride=1, dilation=1, padding=0, *,
                    images=None, positions=None, out: np.ndarray | None = None,
                    workers: int | None = None) -> np.ndarray:
    """Add each window entry back onto the input sample it was read from (col2im).

    The adjoint of :func:`gather_windows`: for any ``x`` of shape ``in_shape``,
    ``sum(gather_windows(x, ...) * cols) == sum(x * scatter_windows(cols, ...))``.

    Parameters
    ----------
    cols : array_like
        ``(images, C, taps, positions)``, as :func:`gather_windows` returns; float32 or
        float64.
    in_shape : tuple of int
        Shape of the input, ``(N, C, *spatial)``.
    kernel, stride, dilation, padding, images, positions, workers
        As for :func:`gather_windows`.
    out : numpy.ndarray, optional
        C-contiguous array of ``in_shape`` and ``cols``' dtype that the entries are
        added to (default: zeros).

    Returns
    -------
    numpy.ndarray
        ``out``, with the entries added tap by tap in kernel order; entries that read
        the zero padding are dropped.

    Raises
    ------
    TypeError, ValueError
        As :func:`gather_windows`, or ``cols`` of the wrong shape.

    Examples
    --------
    >>> import numpy as np, sigconv.engine as engine
    >>> cols = np.ones((1, 1, 3, 3))
    >>> engine.scatter_windows(cols, (1, 1, 5), 3, stride=2, padding=1)
    array([[[1., 2., 1., 2., 1.]]])
    """
    c = _float_array(cols, "cols")
    shape = tuple(int(v) for v in in_shape)
    win = _window(shape, kernel, stride, dilation, padding, images, positions)
    threads = check_workers(workers)
    want = _cols_shape(shape, win)
    if c.shape != want:
        raise InputError(f"cols must have shape {want} for input {shape}, not {c.shape}")
    x = np.zeros(shape, c.dtype) if out is None else _out_array(out, shape, c.dtype, "out")
    core = _native.kernels()
    if core is None:
        _scatter_numpy(c, x, win)
        return x
    core.scatter_windows(np.ascontiguousarray(c),
                         x.reshape(shape[:2] + tuple(_three(shape[2:], 1))),
                         list(win.images), _three(win.kernel, 1), _three(win.stride, 1),
                         _three(win.dilation, 1), _three(tuple(a for a, _ in win.pads), 0),
                         _three(win.out, 1), list(win.positions), threads)
    return x


# ---- NumPy twins --------------------------------------------------------------------------

def _rows(win: _Win) -> tuple[int, int, int]:
    """(first row, stop row, positions per row) of the first output axis covering the
    positions."""
    per = math.prod(win.out[1:])
    p0, p1 = win.positions
    return p0 // per, -(-p1 // per), per


def _tap_views(xp: np.ndarray, win: _Win, r0: int, r1: int):
    """Per tap, the strided view of the padded ``xp`` read by output rows r0..r1."""
    for idx in np.ndindex(*win.kernel):
        starts = [t * d for t, d in zip(idx, win.dilation)]
        sl = [slice(starts[0] + r0 * win.stride[0],
                    starts[0] + (r1 - 1) * win.stride[0] + 1, win.stride[0])]
        sl += [slice(a, a + (o - 1) * s + 1, s) for a, o, s in
               zip(starts[1:], win.out[1:], win.stride[1:])]
        yield (slice(None), slice(None)) + tuple(sl)


def _padded_zeros(shape, win: _Win, dtype) -> tuple[np.ndarray, tuple]:
    n0, n1 = win.images
    padded = np.zeros((n1 - n0, shape[1]) + tuple(n + a + b for n, (a, b) in
                                                   zip(shape[2:], win.pads)), dtype)
    core = (slice(None), slice(None)) + tuple(slice(a, a + n) for n, (a, _) in
                                              zip(shape[2:], win.pads))
    return padded, core


def _gather_numpy(x: np.ndarray, cols: np.ndarray, win: _Win) -> None:
    n0, n1 = win.images
    if n1 == n0 or cols.shape[3] == 0:
        return
    xp, core = _padded_zeros(x.shape, win, x.dtype)
    xp[core] = x[n0:n1]
    r0, r1, per = _rows(win)
    lo = win.positions[0] - r0 * per
    for t, view in enumerate(_tap_views(xp, win, r0, r1)):
        part = xp[view].reshape(n1 - n0, x.shape[1], (r1 - r0) * per)
        cols[:, :, t, :] = part[:, :, lo:lo + cols.shape[3]]


def _scatter_numpy(cols: np.ndarray, x: np.ndarray, win: _Win) -> None:
    n0, n1 = win.images
    if n1 == n0 or cols.shape[3] == 0:
        return
    gp, core = _padded_zeros(x.shape, win, x.dtype)
    gp[core] = x[n0:n1]          # add onto the existing values, in the native order
    r0, r1, per = _rows(win)
    lo = win.positions[0] - r0 * per
    grid = (n1 - n0, x.shape[1], r1 - r0) + win.out[1:]
    full = np.zeros((n1 - n0, x.shape[1], (r1 - r0) * per), x.dtype)
    for t, view in enumerate(_tap_views(gp, win, r0, r1)):
        full[:, :, lo:lo + cols.shape[3]] = cols[:, :, t, :]
        gp[view] += full.reshape(grid)
    x[n0:n1] = gp[core]
