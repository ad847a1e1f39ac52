"""Image blocks: filters of (H, W[, C]) arrays run in horizontal strips over threads.

The engine's passes for the image front end (:mod:`sigconv.image` keeps the image policy:
kernels, dtypes of booleans, alpha defaults, edge scaling, I/O).

**Compiled path.** For uint8, uint16, float32 and float64 images and ``method='auto'``,
separable passes, box means, 3x3 edge operators (with the colour mix and the magnitude),
the peak of an edge map and its scaling run in the compiled core
(``_native.kernels()``: ``sep_filter``, ``box_filter``, ``edges3x3``, ``finite_peak``,
``convert``): borders are read by index (no padded copy), rows are shared between
``workers`` threads (the result does not depend on their number) and results are rounded
and clipped straight into the output, so a filter needs the input, the output and at most
one image-sized temporary (measured by ``benchmarks/bench_image.py --memory``). Dense
2-D kernels of 25 taps or more (``method`` 'auto' or 'fft', finite images) are filtered
by FFT tiles, any dtype, with the compiled tile load and store when the core is loaded
(:mod:`sigconv.engine._tiles`). Other dtypes, other methods, and a build without the
core take the NumPy twin below, which the tests compare with the compiled path.

**NumPy twin.** Pipeline of every block function (one place, :func:`_run`):

1. **border**: the image is padded (:func:`sigconv.engine.pad`) by the kernel's reach,
   in the border mode asked for; 1-D passes wider than the image are folded first
   (:func:`~sigconv.engine._borders.fold_passes`). Every later step is a 'valid'
   convolution, so the result does not depend on which method (direct, overlap-add,
   FFT) the engine picks;
2. **strips**: the padded image is cut into horizontal strips of a few MB (overlapping
   by the kernel's reach), shared between ``workers`` threads (each with one BLAS
   thread); each strip is copied into a planar ``(C, rows, W)`` float block, so 1-D
   passes run along whole rows or contiguous lines whatever the channel count. Kernels
   at most 3 wide and box sums keep the image's interleaved ``(rows, W, C)`` layout:
   their shifted-slice passes take any layout, and the planar copies in and out would
   cost as much as the filtering;
3. **dtype**: 8/16-bit images are computed in float32, int32 in float64, float images
   in their own precision (box sums of 8/16-bit images are exact integer sums);
4. **alpha**: colour channels are multiplied by alpha before filtering and divided by
   the filtered alpha afterwards, so transparent pixels do not bleed their (invisible)
   colour into their neighbours; where the filtered alpha is below rounding noise (an
   integer alpha under 0.5, a float one under 256 eps), the pixel is transparent and
   its colour 0;
5. **structure**: box kernels by window sums (along a shortest addition chain of
   shifted sums; for integer images wider than 31 pixels, differences of an exact
   cumulative sum), read straight from the padded image and written straight into the
   output; rank-1 kernels as two 1-D passes, anything else as one 2-D convolution, each
   by :func:`sigconv.convolve`, except window sums and 1-D factors of at most 3 taps
   (the edge operators'), which are shifted slices added in place (:func:`_shift_pass`);
   edge maps, like box sums, read their strips in place and write into the output when
   there is no alpha; box sums keep their partial sums in buffers each thread reuses
   (:class:`_Scratch`);
6. **back to the input dtype**, rounding and clipping integer results.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, Literal

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from .. import _checks
from .._errors import InputError, InputTypeError
from . import _native, _tiles
from ._api import convolve as _engine_convolve
from ._api import convolve_finite as _engine_convolve_finite
from ._borders import BORDERS, Border, _pad, check_border, fold_passes
from ._direct import all_finite

__all__ = ["box_filter", "edge_response", "filter_passes", "finite_peak", "full_scale",
           "scale_to_dtype", "separable_filter"]

Method = Literal["auto", "direct", "fft", "oa"]
_METHODS = ("auto", "direct", "fft", "oa")
# Kernels at most this wide (3x3 operators, their 1-D factors) are filtered in the
# image's interleaved layout: the engine's direct passes (shifted slices, or banded
# products down the columns) take any layout, so the planar copies are saved.
_DIRECT_REACH = 3


# --------------------------------------------------------------------------- public


def filter_passes(image: ArrayLike, kernels: Sequence[ArrayLike], *, flip: bool = False,
                  border: Border = "reflect", cval: float = 0.0, alpha: bool = False,
                  method: Method = "auto", workers: int | None = None) -> np.ndarray:
    """Filter each channel of an image with a product of 2-D kernels, in strips.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)`` array of real numbers (booleans count as 0/1 uint8).
    kernels : sequence of 2-D array_like
        Applied one after the other (e.g. a column then a row for a separable kernel).
        Each is correlated with its origin at ``(kh // 2, kw // 2)``, as
        ``scipy.ndimage.correlate`` does.
    flip : bool, optional
        Convolve instead: each kernel flipped, with ``scipy.ndimage.convolve``'s origin.
    border : {'reflect', 'nearest', 'wrap', 'constant', 'mirror'}, optional
        scipy.ndimage's border modes (see :func:`sigconv.engine.pad`).
    cval : float, optional
        The outside value for 'constant' (finite for integer images).
    alpha : bool, optional
        Whether the last channel is alpha: the colour channels are premultiplied by it
        before filtering and divided by the filtered alpha after.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        The engine's method for the passes; the result is the same up to rounding.
    workers : int, optional
        Threads sharing the strips (default: the CPUs this process may use). The result
        does not depend on it.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``; integers rounded and clipped.

    Examples
    --------
    >>> img = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], np.uint8)
    >>> filter_passes(img, [np.ones((3, 1)) / 3, np.ones((1, 3)) / 3], border="constant")
    array([[1, 1, 1],
           [1, 1, 1],
           [1, 1, 1]], dtype=uint8)
    """
    passes = [_kernel2d(k) for k in kernels]
    convolve = bool(flip)
    array = np.asarray(image)
    _checks.choice(method, _METHODS, "method")
    taps = _correlation_taps(passes, convolve)
    if taps is not None and np.all([np.isfinite(t).all() for t in taps]):
        array, cval, threads = _prepare(image, border, cval, alpha, workers)
        kernel = _native_kernel(array, method, "sep_filter")
        zero_taps = any((t == 0).any() for t in taps)
        if kernel is not None and (not zero_taps or _finite(array, border, cval)):
            # (a NaN or inf under a zero tap must not spread, as in the twin's passes)
            # Borders read by index (no padded copy, kernels wider than the image too),
            # rounded and clipped into the image's dtype by the kernel.
            return _native_call(kernel, array, array.shape[-1] if array.ndim == 3
                                else 1, array.dtype, taps[0], taps[1],
                                _native.BORDER_CODES[border], cval, bool(alpha), threads)
    if array.ndim in (2, 3) and array.size and border in BORDERS:
        passes, convolve = fold_passes(passes, convolve, array.shape[:2], border)
    if taps is None and method in ("auto", "fft") and _TILE_DENSE:
        out = _dense_tiles(image, passes, convolve, border, cval, alpha, workers)
        if out is not None:
            return out
    # The strips are what runs in parallel (``workers`` threads), so each engine call
    # gets one thread: FFT threads of its own would only compete with the other strips.
    planar = not _interleaved(passes, method)
    pads, valid_op = _linear_op(passes, method=method, convolve=convolve, engine_workers=1,
                                planar=planar, finite=_finite_check(image, border, cval))
    return _run(image, pads, valid_op, border=border, cval=cval, alpha=alpha, workers=workers,
                planar=planar)


def separable_filter(image: ArrayLike, taps_y: ArrayLike, taps_x: ArrayLike, *,
                     border: Border = "reflect", cval: float = 0.0, alpha: bool = False,
                     method: Method = "auto", workers: int | None = None) -> np.ndarray:
    """Correlate each channel with ``taps_y`` down the columns and ``taps_x`` along the rows.

    The origin of ``n`` taps is tap ``n // 2`` (``scipy.ndimage.correlate1d``'s). See
    :func:`filter_passes` for the other parameters.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``; integers rounded and clipped.

    Examples
    --------
    >>> img = np.zeros((3, 5), np.float32); img[1, 2] = 16
    >>> separable_filter(img, [0.25, 0.5, 0.25], [0.25, 0.5, 0.25], border="constant")
    array([[0., 1., 2., 1., 0.],
           [0., 2., 4., 2., 0.],
           [0., 1., 2., 1., 0.]], dtype=float32)
    """
    taps = []
    for t, name in ((taps_y, "taps_y"), (taps_x, "taps_x")):
        t = np.asarray(t, dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
            raise InputError(f"{name} must be a non-empty 1-D array of finite numbers, "
                             f"not {t!r}")
        taps.append(t)
    return filter_passes(image, [taps[0][:, None], taps[1][None, :]], border=border,
                         cval=cval, alpha=alpha, method=method, workers=workers)


def box_filter(image: ArrayLike, size: int | Sequence[int], *, border: Border = "reflect",
               cval: float = 0.0, alpha: bool = False, method: Method = "auto",
               workers: int | None = None) -> np.ndarray:
    """Mean over ``rows x columns`` windows, by window sums (exact for 8/16-bit images).

    Matches ``scipy.ndimage.uniform_filter(image, (rows, columns, 1), mode=border)``: for
    even sizes the window reaches one pixel further up/left than down/right.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)`` array of real numbers.
    size : int or (int, int)
        Window size in pixels, ``>= 1``, one for both axes or ``(rows, columns)``.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        'auto' sums windows; any other value runs two averaging passes through the engine
        with that method (float sums then, as for windows wider than the image).
    border, cval, alpha, workers
        As for :func:`filter_passes`.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``.

    Examples
    --------
    >>> box_filter(np.array([[0, 0, 9, 0, 0]], np.uint8), (1, 3), border="constant")
    array([[0, 3, 3, 3, 0]], dtype=uint8)
    """
    sy, sx = _sizes(size)
    _checks.choice(method, _METHODS, "method")
    shape = (sy, sx)
    array, cval, threads = _prepare(image, border, cval, alpha, workers)
    kernel = _native_kernel(array, method, "box_filter")
    # Integer images whose sums cannot stay integers (alpha, or a fractional or
    # out-of-range cval) take the twin: the compiled float sums group their terms by
    # blocks aligned on the image's columns and rows, so a pixel's rounding would depend
    # on where the block starts (a dask chunk would differ from the whole image by 1).
    integer_sums = array.dtype.kind in "ui" and not alpha and (border != "constant" or (
        np.isfinite(cval) and cval == int(cval)
        and np.iinfo(array.dtype).min <= cval <= np.iinfo(array.dtype).max))
    if kernel is not None and (array.dtype.kind == "f" or integer_sums):
        # Exact integer window sums for 8/16-bit images (also for windows wider than
        # the image, where the twin below folds float passes), borders by index.
        return _native_call(kernel, array, array.shape[-1] if array.ndim == 3 else 1,
                            array.dtype, sy, sx, _native.BORDER_CODES[border], cval,
                            bool(alpha), threads)
    wide = array.ndim in (2, 3) and any(n > 2 * m + 1 for n, m in zip(shape, array.shape))
    if method != "auto" or wide:
        # The engine's averaging passes: asked for, or for a window wider than the image,
        # whose passes are folded (see fold_passes) instead of padding the image by the
        # window (float sums then, not exact ones).
        passes = [np.full((sy, 1), 1 / sy), np.full((1, sx), 1 / sx)]
        return filter_passes(image, passes, border=border, cval=cval, alpha=alpha,
                             method=method, workers=workers)
    pads = [(n // 2, n - 1 - n // 2) for n in shape]
    work = _work_dtype(array.dtype) if array.dtype.kind in "buif" else np.dtype(np.float64)
    exact = None  # integer type holding any window sum of an 8/16-bit image
    if array.dtype.kind in "bui" and array.dtype.itemsize <= 2:
        largest = int(np.iinfo(array.dtype).max) if array.dtype.kind != "b" else 1
        # Every partial sum is at most a window's sum (plus one row, going down the
        # columns), so a type that holds (area + size) * max never overflows; the
        # narrowest such type moves the least memory (uint16 for 8-bit up to 15x15).
        top = largest * (sy + 1) * sx
        exact = np.dtype(np.uint16 if top <= 65535 and array.dtype.kind != "i" else
                         np.int32 if top < 2**31 else np.int64)
    # Window sums need no planar layout: the vertical ones run along whole interleaved
    # rows, and skipping the two transpositions measured faster (RGB 3840x2160, 15x15,
    # one thread, a prototype of this path side by side with the planar one: 153 ms
    # against 189 ms). The sums read the padded image in place (converting it to the
    # accumulator as they start), and the last step writes into the output.
    local = threading.local()
    lent: list[_Scratch] = []

    def valid_op(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = _Scratch.borrow()
            lent.append(scratch)
        return _box_valid(x, shape, work, exact, out, scratch)

    try:
        return _run(image, pads, valid_op, border=border, cval=cval, alpha=alpha,
                    workers=workers, raw_integers=exact, planar=False, reads_only=True)
    finally:
        _Scratch.put_back(lent)


def _sizes(size) -> tuple[int, int]:
    items = list(size) if isinstance(size, (list, tuple, np.ndarray)) else [size, size]
    if len(items) != 2:
        raise InputError(f"size must be a number or a pair (rows, columns), not {size!r}")
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise InputTypeError(f"size must be an integer, not {item!r}")
        if item < 1:
            raise InputError(f"size must be >= 1, not {item!r}")
    return int(items[0]), int(items[1])


def _kernel2d(kernel: ArrayLike) -> np.ndarray:
    k = np.asarray(kernel)
    if k.dtype.kind not in "buif" or k.ndim != 2 or k.size == 0:
        raise InputError(f"each kernel must be a non-empty 2-D array of real numbers, not "
                         f"{np.asarray(kernel)!r}")
    return k.astype(np.float64, copy=False)


def full_scale(dtype: np.dtype) -> float:
    """Full white (and opaque alpha) of an image dtype.

    The type's maximum for 8/16-bit integers, 65535 for wider ones (int32 images come
    from Pillow's mode I, which in practice holds 16-bit data), 1.0 for floats.

    Examples
    --------
    >>> full_scale(np.dtype(np.uint8)), full_scale(np.dtype(np.int32)), full_scale(np.dtype("f4"))
    (255.0, 65535.0, 1.0)
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1.0
    return float(min(np.iinfo(dtype).max, 65535))


def _to_dtype(result: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``result`` in ``dtype``; integers rounded to nearest and clipped, never wrapped.

    A float ``result`` may be rounded in place.

    Examples
    --------
    >>> _to_dtype(np.array([-3.0, 1.5, 2.49, 300.0]), np.uint8)
    array([  0,   2,   2, 255], dtype=uint8)
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return result.astype(dtype, copy=False)
    if not result.flags.writeable:
        result = result.copy()
    return _round_clip(result, dtype).astype(dtype)


def finite_peak(x: ArrayLike, *, workers: int | None = None) -> float:
    """The largest finite ``|x|`` of a float array (0.0 when there is none).

    A NaN or inf (say from a NaN in a float image) is skipped, so that it cannot set the
    scale of a whole edge map. ``x`` is not modified.

    Examples
    --------
    >>> finite_peak(np.array([[-3.0, np.inf], [np.nan, 2.0]]))
    3.0
    """
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise InputTypeError(f"x must be a float array, not dtype {array.dtype}")
    threads = _checks.workers(workers)
    kernel = getattr(_native.kernels(), "finite_peak", None)
    if kernel is not None and array.dtype in _NATIVE_DTYPES and array.size:
        return float(kernel(_canonical(np.ascontiguousarray(array)), threads))
    if array.ndim == 0:
        array = array.reshape(1)
    return float(max(_by_rows(array, threads, lambda rows: _finite_peak(np.abs(rows))),
                     default=0.0))


def scale_to_dtype(x: ArrayLike, factor: float, dtype: np.dtype, *, absolute: bool = False,
                   workers: int | None = None) -> np.ndarray:
    """``|x| * factor`` (or ``x * factor``) in ``dtype``, integers rounded and clipped.

    ``factor`` is applied in ``x``'s float type; one pass over memory with the compiled
    core. ``x`` is not modified.

    Examples
    --------
    >>> scale_to_dtype(np.array([-1.0, 0.25, 2.0], np.float32), 200, np.uint8, absolute=True)
    array([200,  50, 255], dtype=uint8)
    """
    array = np.asarray(x)
    if array.dtype.kind != "f":
        raise InputTypeError(f"x must be a float array, not dtype {array.dtype}")
    dtype = np.dtype(dtype)
    threads = _checks.workers(workers)
    scale = array.dtype.type(_checks.number(factor, "factor", finite=False))
    kernel = getattr(_native.kernels(), "convert", None)
    if kernel is not None and array.dtype in _NATIVE_DTYPES and dtype in _NATIVE_DTYPES:
        out = _native.empty(array.shape, np.dtype(dtype.char))
        kernel(_canonical(np.ascontiguousarray(array)), out, float(scale), bool(absolute),
               threads)
        return out
    out = np.empty(array.shape, dtype)
    if array.ndim == 0:
        return _to_dtype(np.abs(array) * scale if absolute else array * scale, dtype)

    def finish(rows: slice) -> None:
        chunk = np.abs(array[rows]) if absolute else array[rows].copy()
        chunk *= scale
        out[rows] = _to_dtype(chunk, dtype)

    _by_rows(array, threads, finish, whole=True)
    return out


def _finite_peak(magnitude: np.ndarray) -> float:
    """The largest finite value of a non-negative array (0 for none)."""
    peak = magnitude.max(initial=0.0)
    if not np.isfinite(peak):
        peak = magnitude.max(initial=0.0, where=np.isfinite(magnitude))
    return float(peak)


# --------------------------------------------------------------------------- native

# Image dtypes the compiled kernels take; the others (int8/16/32/64, float16) run the
# NumPy twin (booleans arrive as uint8).
_NATIVE_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.float32, np.float64))


def _prepare(image: ArrayLike, border: str, cval, alpha: bool,
             workers: int | None) -> tuple[np.ndarray, float, int]:
    """The checks every block function makes: (image array, cval, threads)."""
    cval = check_border(border, cval)
    threads = _checks.workers(workers)
    array = _image_array(image, alpha)
    if border == "constant" and not np.isfinite(cval) and array.dtype.kind in "biu":
        raise InputError(f"cval must be finite for an integer image, not {cval!r}")
    return array, cval, threads


def _native_kernel(array: np.ndarray, method: str, name: str) -> Callable | None:
    """The compiled kernel ``name`` when it may filter ``array`` (else None: the NumPy
    twin runs). Called in the caller's thread: :func:`sigconv.engine._native.use_native`
    is thread-local."""
    if method != "auto" or array.dtype not in _NATIVE_DTYPES:
        return None
    return getattr(_native.kernels(), name, None)


def _native_call(kernel: Callable, array: np.ndarray, out_channels: int, out_dtype: np.dtype,
                 *args) -> np.ndarray:
    """``kernel(src, dst, *args)`` on the image as a C-contiguous ``(H, W, C)`` array (a copy
    only for a non-contiguous image) into a new ``(H, W, out_channels)`` array, returned
    with the image's number of axes."""
    src = _canonical(np.ascontiguousarray(array))
    src3 = src if src.ndim == 3 else src[..., np.newaxis]
    dst = _native.empty(src3.shape[:2] + (out_channels,), np.dtype(np.dtype(out_dtype).char))
    kernel(src3, dst, *args)
    return dst if array.ndim == 3 else dst[..., 0]


def _canonical(array: np.ndarray) -> np.ndarray:
    """``array`` viewed with NumPy's own instance of its dtype: an unpickled array (a dask
    worker's block) carries an equal but distinct dtype object, which the compiled
    module's dtype test (by identity) refused."""
    canonical = np.dtype(array.dtype.char)
    return array if array.dtype is canonical else array.view(canonical)


def _correlation_taps(passes: list[np.ndarray], convolve: bool
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """``(taps_y, taps_x)``: the 1-D correlation taps (origin ``len // 2``) of passes that
    are one column and/or one row kernel, else None (a dense 2-D kernel)."""
    taps = {0: [np.ones(1)], 1: [np.ones(1)]}
    seen = set()
    for k in passes:
        if k.ndim != 2 or min(k.shape) != 1:
            return None
        axis = 0 if k.shape[1] == 1 else 1
        if axis in seen:
            return None
        seen.add(axis)
        w = np.asarray(k, dtype=np.float64).ravel()
        if convolve:              # flipped, with ndimage.convolve's origin for even lengths
            w = w[::-1]
            if w.size % 2 == 0:
                w = np.concatenate([[0.0], w])
        taps[axis] = [w]
    return np.ascontiguousarray(taps[0][0]), np.ascontiguousarray(taps[1][0])


def _compose(passes: list[np.ndarray]) -> np.ndarray:
    """The one correlation kernel equal to the 2-D correlation kernels applied in turn."""
    kernel = np.ones((1, 1))
    for k in passes:
        k = np.asarray(k, dtype=np.float64)
        full = np.zeros((kernel.shape[0] + k.shape[0] - 1, kernel.shape[1] + k.shape[1] - 1))
        for (i, j), v in np.ndenumerate(k):      # correlating with a then b = with a * b
            full[i:i + kernel.shape[0], j:j + kernel.shape[1]] += v * kernel
        kernel = full
    return kernel


def _composed3x3(passes: list[np.ndarray]) -> np.ndarray | None:
    """The one 3x3 correlation kernel equal to the passes applied in turn, else None."""
    kernel = _compose(passes)
    return kernel if kernel.shape == (3, 3) else None


# --------------------------------------------------------------------------- dtypes


def _image_array(image: ArrayLike, alpha: bool) -> np.ndarray:
    """The image as an array (booleans as 0/1 uint8), checked: (H, W[, C]), real, not
    empty, an alpha channel only with 2 channels or more."""
    array = np.asarray(image)
    if array.dtype.kind not in "buif":
        raise InputTypeError(f"image must hold real numbers, not dtype {array.dtype}")
    if array.dtype.kind == "b":
        array = array.astype(np.uint8)
    if array.ndim not in (2, 3):
        raise InputError(f"image must be (H, W) or (H, W, C), not shape {array.shape}")
    if array.size == 0:
        raise InputError(f"image is empty (shape {array.shape})")
    channels = array.shape[2] if array.ndim == 3 else 1
    if alpha and channels < 2:
        raise InputError(f"alpha=True needs at least 2 channels, image has shape {array.shape}")
    return array


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for 8/16-bit integers and float32/16; float64 for wider ints and float64."""
    if dtype.kind == "f":
        return np.dtype(np.float64) if dtype.itemsize >= 8 else np.dtype(np.float32)
    return np.dtype(np.float32) if dtype.itemsize <= 2 else np.dtype(np.float64)


def _round_clip(result: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round a float array in place to integers and clip it to ``dtype``'s range (the
    part of it ``result``'s float type holds: 2**63 - 1 rounds up to 2**63 in float64,
    which would wrap to -2**63 when cast to int64)."""
    lo, hi = _clip_range(dtype, result.dtype)
    np.rint(result, out=result)
    np.clip(result, lo, hi, out=result)
    return result


@functools.lru_cache(maxsize=32)
def _clip_range(dtype: np.dtype, work: np.dtype) -> tuple[float, float]:
    info = np.iinfo(dtype)
    lo, hi = work.type(info.min), work.type(info.max)
    if int(hi) > info.max:
        hi = np.nextafter(hi, work.type(0))
    if int(lo) < info.min:
        lo = np.nextafter(lo, work.type(0))
    return lo, hi


# --------------------------------------------------------------------------- core

# Dense 2-D kernels with at least this many taps (after composing the passes) are
# filtered by FFT tiles (:mod:`sigconv.engine._tiles`) rather than by the engine on strips.
_TILE_MIN_TAPS = 25
_TILE_DENSE = True


def _composite(passes: list[np.ndarray], convolve: bool) -> tuple[np.ndarray, tuple[int, int]]:
    """The one correlation kernel equal to the passes applied in turn (each flipped first
    with ``convolve``), and the padding before the first row and column that
    :func:`_linear_op` gives it."""
    kernel = _compose([np.asarray(k, np.float64)[::-1, ::-1] if convolve else k
                       for k in passes])
    if convolve:
        before = tuple((n - 1) // 2 for n in kernel.shape)
    else:
        before = tuple(n // 2 for n in kernel.shape)
    return kernel, before


def _dense_tiles(image: ArrayLike, passes: list[np.ndarray], convolve: bool, border: str,
                 cval, alpha: bool, workers: int | None) -> np.ndarray | None:
    """The filter by FFT tiles when the passes compose to a dense kernel of at least
    ``_TILE_MIN_TAPS`` taps and the image and its border are finite (a NaN would spread
    over its tile); else None."""
    if not passes or any(np.ndim(k) != 2 for k in passes):
        return None
    kernel, before = _composite(passes, convolve)
    if min(kernel.shape) < 2 or kernel.size < _TILE_MIN_TAPS or \
            not np.isfinite(kernel).all():
        return None
    array, cval, threads = _prepare(image, border, cval, alpha, workers)
    if not _finite(array, border, cval):
        return None
    work = _work_dtype(array.dtype)
    dtype = array.dtype
    top = full_scale(dtype)
    clear = 0.5 if dtype.kind in "iu" else top * 256 * float(np.finfo(work).eps)
    src = _canonical(np.ascontiguousarray(array))
    src3 = src if src.ndim == 3 else src[..., np.newaxis]
    out = _tiles.dense_filter(src3, kernel, before, border=border, cval=cval,
                              alpha=bool(alpha), top=top, clear=clear, work=work,
                              threads=threads)
    return out if array.ndim == 3 else out[..., 0]


# Rows per strip: the image is filtered in horizontal strips of about this many samples
# (a few MB of float32, so the temporaries of one strip stay in cache and are not
# page-faulted in afresh), the strips shared between threads.
_STRIP_SAMPLES = 1 << 19
_MIN_STRIPS = 4


def _run(image: ArrayLike, pads: list[tuple[int, int]],
         valid_op: Callable[..., np.ndarray | None], *, border: str, cval: float,
         alpha: bool, workers: int | None, cast: bool = True,
         raw_integers: np.dtype | None = None, planar: bool = True,
         reads_only: bool = False, out_channels: int | None = None) -> np.ndarray:
    """Pad, then per strip: premultiply, apply a 'valid' op, unpremultiply, cast.

    ``valid_op`` maps a padded block, planar ``(C, rows + reach, W + reach_x)``, to
    ``(C', rows, W)``; C' may differ from C (edges return one luminance plane), and the
    op may work in place on the block, which is its own copy. With ``planar=False`` the
    blocks are interleaved instead, ``(rows + reach, W + reach_x, C)`` to
    ``(rows, W, C')``. With ``cast`` the result has the input's dtype (rounded and
    clipped), otherwise the working float dtype. With ``raw_integers`` (an integer
    dtype) an integer image without alpha reaches ``valid_op`` in that dtype instead of
    converted to float.

    With ``reads_only`` (interleaved, no alpha), ``valid_op(block, out)`` never writes
    to its block, which is then a view of the padded image (in its own dtype, not
    converted: the op converts as it goes), and it may write its result straight into
    ``out``, the strip's part of the output, and return None; or return the result,
    which is then cast and copied as usual. Each saves a pass over the image. The
    output then has ``out_channels`` channels (default: the input's), in the input's
    dtype with ``cast``, else in the working dtype.
    """
    array, cval, threads = _prepare(image, border, cval, alpha, workers)
    has_alpha = bool(alpha)
    dtype = array.dtype
    work = _work_dtype(dtype)
    top = full_scale(dtype)
    padded = _pad(array, pads, border, cval, work)
    height, width = array.shape[:2]
    reach = pads[0][0] + pads[0][1]
    row_samples = padded[0].size
    rows = max(_STRIP_SAMPLES // max(row_samples, 1), 4 * reach, 16)
    starts = list(range(0, height, rows))
    # Small image: a few strips, to keep some threads busy. Their number is fixed, not
    # counted from ``workers`` or the CPUs, so that the strips (and the engine's choices
    # for them, which round differently) and hence the result depend on the image and
    # the kernel only, not on the machine or the thread count.
    if len(starts) < _MIN_STRIPS:
        rows = max(-(-height // _MIN_STRIPS), 2 * reach, 8)
        starts = list(range(0, height, rows))

    convert = raw_integers is None or has_alpha or padded.dtype.kind not in "ui"
    # Where the filtered alpha is this small the pixel is transparent and its colour is
    # set to 0: dividing by it would only blow up rounding noise. Transforms leave about
    # eps * top of noise where alpha should be 0 (float32 Gaussian sigma 20 of an RGBA
    # image made colours of -5025 to 22068 there); an integer alpha below 0.5 rounds to 0.
    clear = 0.5 if dtype.kind in "iu" else top * 256 * float(np.finfo(work).eps)
    block_dtype = work if convert else raw_integers
    direct_view = reads_only and not has_alpha and not planar

    def compute(r0: int, out: np.ndarray | None = None) -> np.ndarray | None:
        rows_in = padded[r0:min(r0 + rows, height) + reach]
        if direct_view:
            view = rows_in[..., np.newaxis] if rows_in.ndim == 2 else rows_in
            if convert and view.dtype != work:
                view = view.astype(work)
            result = valid_op(view, None if out is None else
                              out[..., np.newaxis] if out.ndim == 2 else out)
            if result is None:
                return None
            if cast and dtype.kind in "iu" and result.dtype.kind == "f":
                result = _round_clip(result if result.flags.writeable else result.copy(),
                                     dtype)
            return result[..., 0] if array.ndim == 2 else result
        if planar:
            # Planar copy (channels first): every 1-D pass then runs along rows or
            # along contiguous lines, which FFTs do up to twice as fast as along the
            # interleaved channels of an (H, W, C) image.
            view = rows_in[np.newaxis] if rows_in.ndim == 2 else np.moveaxis(rows_in, 2, 0)
        else:
            view = rows_in[..., np.newaxis] if rows_in.ndim == 2 else rows_in
        block = np.array(view, dtype=block_dtype, order="C")
        if has_alpha:
            _scale_colour(block, block.dtype.type(1 / top) * _alpha(block, planar), planar)
        result = valid_op(block)
        if has_alpha:
            a = _alpha(result, planar)
            _scale_colour(result, np.divide(top, a, out=np.zeros_like(a), where=a > clear),
                          planar)
        if cast and dtype.kind in "iu" and result.dtype.kind == "f":
            _round_clip(result, dtype)  # the cast happens when copied into the output
        if planar:
            return result               # (C', rows, W): fill() interleaves it
        return result[..., 0] if array.ndim == 2 and result.shape[-1] == 1 else result

    # The first strip to finish fixes the output's channel count. Copying a strip into
    # the output casts it and, for planar strips, interleaves its channels one channel
    # at a time: contiguous reads, and 2-4x faster than one copy from the moved-axis
    # view (measured 0.38 against 0.84-1.7 ms for a 45-row RGB strip of 3840 pixels).
    made: list[np.ndarray] = []
    if direct_view:
        channels_out = out_channels or (array.shape[2] if array.ndim == 3 else 1)
        made.append(_native.empty(array.shape[:2] + ((channels_out,) if array.ndim == 3
                                                     else ()), dtype if cast else work))
    lock = threading.Lock()

    def fill(r0: int) -> None:
        if direct_view:
            dest = made[0][r0:r0 + rows]
            strip = compute(r0, dest)
            if strip is not None:
                dest[...] = strip
            return
        strip = compute(r0)
        with lock:
            if not made:
                if not planar:
                    shape = strip.shape[2:]
                else:
                    shape = () if array.ndim == 2 and strip.shape[0] == 1 else strip.shape[:1]
                made.append(np.empty((height, width, *shape),
                                     dtype=dtype if cast else strip.dtype))
        dest = made[0][r0:r0 + rows]
        if not planar:
            dest[...] = strip
        elif dest.ndim == 2:
            dest[...] = strip[0]
        else:
            for c in range(strip.shape[0]):
                dest[..., c] = strip[c]

    # One BLAS thread per strip thread: the band products of two strips running side by
    # side, each asking BLAS for every core, measured 1.7x slower than with one BLAS
    # thread each (Gaussian sigma 5 on 3840x2160 RGB: 341 -> 202 ms). With one worker
    # too: ``workers=1`` means one thread, and BLAS threads spinning for a core that
    # another process holds made the first such Gaussian take seconds on a loaded VM.
    with threadpool_limits(1, user_api="blas"):
        if threads > 1:
            with ThreadPoolExecutor(min(threads, len(starts))) as pool:
                list(pool.map(fill, starts))
        else:
            for r0 in starts:
                fill(r0)
    return made[0]


def _alpha(block: np.ndarray, planar: bool) -> np.ndarray:
    """The alpha channel (the last) of a planar ``(C, rows, W)`` or interleaved block."""
    return block[-1] if planar else block[..., -1]


def _scale_colour(block: np.ndarray, factor: np.ndarray, planar: bool) -> None:
    """Multiply every colour channel (all but the last) of ``block`` by ``factor``, in
    place, one channel at a time: broadcasting an (rows, W, 1) factor over interleaved
    channels runs an inner loop of C - 1 elements (box blur of a 3840x2160 RGBA image:
    422 ms in all, most of it here)."""
    for c in range(block.shape[0] - 1 if planar else block.shape[-1] - 1):
        target = block[c] if planar else block[..., c]
        target *= factor


def _linear_op(passes: list[np.ndarray], *, method: str, convolve: bool, engine_workers: int,
               planar: bool = True, finite: Callable[[], bool] | None = None
               ) -> tuple[list[tuple[int, int]], Callable[[np.ndarray], np.ndarray]]:
    """Padding and 'valid' operation applying the product of 2-D kernels ``passes``.

    With ``convolve=False`` each kernel is correlated with its origin at
    ``(kh // 2, kw // 2)`` (scipy.ndimage.correlate); with ``convolve=True`` it is
    flipped first and its origin placed as scipy.ndimage.convolve does. Blocks are
    planar ``(C, rows, W)`` or, with ``planar=False``, interleaved ``(rows, W, C)``.
    ``finite()``: the blocks hold no NaN or inf (see :func:`_finite_check`).
    """
    _checks.choice(method, _METHODS, "method")
    # Correlating with w (origin c = k // 2) reaches c before and k-1-c after; a
    # convolution is a correlation with the flipped kernel, whose origin is (k-1) // 2.
    kernels = [np.asarray(k)[::-1, ::-1] if convolve else np.asarray(k) for k in passes]
    shape = (sum(k.shape[0] - 1 for k in kernels) + 1, sum(k.shape[1] - 1 for k in kernels) + 1)
    if convolve:
        pads = [((n - 1) // 2, n // 2) for n in shape]
    else:
        pads = [(n // 2, n - 1 - n // 2) for n in shape]
    first = 1 if planar else 0          # the block's row axis

    def valid_op(x: np.ndarray) -> np.ndarray:
        scale = 1.0
        for k in kernels:
            if k.shape == (1, 1):
                scale *= float(k[0, 0])
                continue
            if max(k.shape) <= _DIRECT_REACH and min(k.shape) == 1 and \
                    method in ("auto", "direct") and x.dtype.kind == "f":
                axis = first + (0 if k.shape[1] == 1 else 1)
                x, factor = _shift_pass(x, k.ravel(), axis)
                scale *= factor
                continue
            # The engine convolves; correlating with k is convolving with k flipped.
            # The kernel broadcasts over the channels.
            flipped = k[::-1, ::-1].astype(x.dtype)
            flipped = flipped[np.newaxis] if planar else flipped[..., np.newaxis]
            axes = tuple(first + a for a in (0, 1) if k.shape[a] > 1)
            conv = _engine_convolve_finite if finite is not None and finite() \
                else _engine_convolve
            x = conv(x, flipped, mode="valid", method=method, axes=axes, workers=engine_workers)
        if scale != 1.0:
            x = x * x.dtype.type(scale)
        return x

    return pads, valid_op


def _shift_pass(x: np.ndarray, taps: np.ndarray, axis: int) -> tuple[np.ndarray, float]:
    """Valid correlation of ``x`` with at most 3 ``taps`` along ``axis`` by shifted
    slices, as ``(y, scale)`` with the result ``scale * y``: the scale of a pass is
    left for the caller to apply once (Sobel's 0.5 [1, 2, 1] and 2 [-1, 0, 1] cancel).

    The operators' factors cost one or two whole-block passes each: [1, 2, 1] is the
    pairwise sum summed pairwise again, [-1, 0, 1] one difference, [1, 1, 1] a sum of
    three, [1, -2, 1] a difference of differences, a lone tap a shifted view (no pass).
    Zero taps are skipped (a NaN under a zero tap does not spread, as in OpenCV).
    Measured: Sobel magnitude on a 3840x2160 float32 image, 72 ms with an engine call
    per pass (its taps and band variants) against 28-38 ms this way.
    """
    length = x.shape[axis] - taps.size + 1

    def part(a: np.ndarray, start: int, size: int = length) -> np.ndarray:
        return _along(a, axis, start, size)

    t = [float(v) for v in taps]
    nonzero = [i for i, v in enumerate(t) if v != 0]
    if not nonzero:
        return np.zeros_like(part(x, 0)), 1.0
    unit = abs(t[nonzero[0]])
    u = [v / unit for v in t]
    if len(nonzero) == 1:                          # a shifted copy
        i = nonzero[0]
        return part(x, i), t[i]
    if len(t) == 3 and u[0] == u[2] and u[1] == 2 * u[0]:       # [1, 2, 1]
        pairs = np.add(part(x, 0, length + 1), part(x, 1, length + 1))
        return np.add(part(pairs, 0), part(pairs, 1)), t[0]
    if len(t) == 3 and u[0] == -u[2] and u[1] == 0:             # [-1, 0, 1]
        return np.subtract(part(x, 2), part(x, 0)), t[2]
    if len(t) == 3 and u[0] == u[2] and u[1] == -2 * u[0]:      # [1, -2, 1]
        steps = np.subtract(part(x, 0, length + 1), part(x, 1, length + 1))
        return np.subtract(part(steps, 0), part(steps, 1)), t[0]
    if len(nonzero) == 2 and u[nonzero[0]] == -u[nonzero[1]]:   # [-1, 1] at any offsets
        i, j = nonzero
        return np.subtract(part(x, j), part(x, i)), t[j]
    if all(u[i] == u[nonzero[0]] for i in nonzero):              # equal taps
        out = np.add(part(x, nonzero[0]), part(x, nonzero[1]))
        for i in nonzero[2:]:
            out += part(x, i)
        return out, t[nonzero[0]]
    out = None
    for i in nonzero:
        term = part(x, i) * x.dtype.type(u[i])
        out = term if out is None else np.add(out, term, out=out)
    return out, unit


def _interleaved(passes: list[np.ndarray], method: str) -> bool:
    """Whether to filter in the image's own (rows, W, C) layout: for kernels at most
    3 wide run by the direct method, whose shifted-slice passes take any layout, so
    the planar copies in and out are saved (their cost is that of the filtering)."""
    return method in ("auto", "direct") and all(max(np.shape(k)) <= _DIRECT_REACH
                                                for k in passes)


def _finite_check(image: ArrayLike, border: str, cval) -> Callable[[], bool]:
    """:func:`_finite` of the image, run on first use only (at most once per image in
    practice): filters whose passes never reach the engine, such as Sobel's shifted
    slices, skip the pass over the image (2.4 ms on a 3840x2160 float32 image)."""
    return functools.cache(lambda: _finite(image, border, cval))


def _finite(image: ArrayLike, border: str, cval) -> bool:
    """No NaN or inf in the image nor in its border: integers always, floats by one pass
    over the image here instead of one per strip and pass in the engine."""
    array = np.asarray(image)
    try:
        if border == "constant" and not np.isfinite(float(cval)):
            return False
    except (TypeError, ValueError):
        return False          # not a number: _run says so
    return array.dtype.kind in "biu" or (array.dtype.kind == "f" and all_finite(array))


def _box_valid(x: np.ndarray, shape: tuple[int, int], work: np.dtype,
               exact: np.dtype | None = None, out: np.ndarray | None = None,
               scratch: _Scratch | None = None) -> np.ndarray | None:
    """Valid-mode mean over ``shape`` windows of an interleaved ``(rows, W, C)`` block.

    Window sums down the columns, then along the rows (:func:`_window_sums`; in this
    order the row sums skip the rows shared with the next strip, 14 of 70 for 15x15 RGB
    strips: fewer elements, though the two orders timed within noise of each other): with
    ``exact`` (an integer type wide enough, for 8/16-bit images) integer blocks are
    summed exactly, other blocks in ``work`` precision (sums along an addition chain
    lose about log2(size) units in the last place; a running sum in float32 would drift
    over thousands of rows). Down the columns, the chain's whole-block passes beat a
    running sum row by row, whose Python loop two strip threads contend for (RGB
    3840x2160, 15x15, two threads, A/B: 58-60 ms against 66-71). The block is only
    read. Integer sums are divided by the window area last, float blocks scaled by
    1 / area first (see below); the result goes straight into ``out`` (the output's
    strip) when given and it needs no float rounding: then None is returned. The
    intermediate sums live in ``scratch`` when given.
    """
    scratch = scratch or _Scratch()
    integer = exact is not None and x.dtype.kind in "uib"
    acc = exact if integer else work
    area = shape[0] * shape[1]
    owned = last = False
    if not integer:
        # Floats are scaled by 1 / area first: partial sums of scaled values never
        # exceed the image's largest magnitude (sums of float32 3e38 overflowed), and
        # the last sum can then go straight into the output. Same pass count as scaling
        # last.
        scaled = scratch.take(x.shape, acc)
        np.multiply(x, acc.type(1.0 / area), out=scaled, casting="unsafe")
        x, owned = scaled, True
        last = out is not None and out.dtype == acc and out.shape == (
            x.shape[0] - shape[0] + 1, x.shape[1] - shape[1] + 1) + x.shape[2:]
    passes = [(axis, n) for axis, n in enumerate(shape) if n > 1]
    if not passes and not owned:
        x, owned = scratch.copy(x, acc), True    # never write into the caller's block
    for k, (axis, n) in enumerate(passes):
        into = out if last and k == len(passes) - 1 else None
        x, owned = _window_sums(x, n, axis, acc, scratch, owned=owned, out=into), True
    try:
        if integer:
            # The mean rounded to nearest, in integers: (sum + area // 2) // area (the
            # type has room for the extra half). Two integer passes instead of five in
            # float32 (convert, scale, round, clip); ties, possible for even areas only,
            # round up.
            if area > 1:
                np.add(x, area // 2, out=x)
            if out is not None:
                np.floor_divide(x, area, out=out, casting="unsafe")
                return None
            return np.floor_divide(x, area)
        if out is not None and out.dtype.kind == "f":
            if x is not out:
                np.copyto(out, x, casting="unsafe")
            return None
        return x.copy()
    finally:
        scratch.give(x)


class _Scratch:
    """Buffers one thread reuses from strip to strip: ``take`` lends an array of any
    shape and dtype (a view of the smallest free buffer big enough, else of a new one),
    ``give`` takes it back. Idle ones are kept between calls (``borrow``/``put_back``).

    New arrays of a strip's size are page-faulted in afresh until glibc's dynamic mmap
    threshold has grown, which made a process's first 15x15 box of a 3840x2160 RGB
    image take 131-299 ms (median 214) against 81-195 ms (median 98) with these
    buffers; later calls, one thread, A/B: RGB 56 against 49-57 ms (no gain), gray
    float32 33-36 against 51-54 ms. Each new buffer starts at another offset within its page: an add
    whose output lay within 128 bytes of an input modulo 4096 took 80-90 us instead of
    65 (4K aliasing of loads and stores), and equal offsets had cost RGB a third."""

    _idle: ClassVar[list[_Scratch]] = []   # kept between calls, one per thread at most
    _idle_lock = threading.Lock()
    KEEP_BYTES = 16 << 20                  # what an idle one keeps (largest buffers dropped)

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        self._lent: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (array, buffer)
        self._made = 0

    @classmethod
    def borrow(cls) -> _Scratch:
        with cls._idle_lock:
            return cls._idle.pop() if cls._idle else cls()

    @classmethod
    def put_back(cls, scratches: list[_Scratch]) -> None:
        """Keep ``scratches`` for later calls (as many as there are CPUs), each with
        at most ``KEEP_BYTES`` of buffers; whatever is still lent is forgotten."""
        for scratch in scratches:
            scratch._lent.clear()
            scratch._free.sort(key=len)
            total = 0
            for k, buffer in enumerate(scratch._free):
                total += buffer.size
                if total > cls.KEEP_BYTES:
                    del scratch._free[k:]
                    break
        with cls._idle_lock:
            cls._idle.extend(scratches)
            del cls._idle[_checks.cpus():]

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = math.prod(shape)
        nbytes = max(1, count * dtype.itemsize)
        # The smallest buffer that fits, the last given back among equals (still in cache)
        fits = [k for k, b in enumerate(self._free) if b.size >= nbytes]
        if fits:
            buffer = self._free.pop(min(fits, key=lambda k: (self._free[k].size, -k)))
        else:
            # The n-th new buffer starts 1088 n bytes (mod 4096, 64-byte aligned) into a
            # page, whatever address malloc returned.
            self._made += 1
            raw = np.empty(nbytes + 4096, np.uint8)
            start = ((self._made * 1088) - raw.ctypes.data) % 4096
            buffer = raw[start:start + nbytes]
        array = buffer[:nbytes].view(dtype)[:count].reshape(shape)
        self._lent[id(array)] = (array, buffer)
        return array

    def give(self, array: np.ndarray) -> None:
        """Take back ``array`` if it was lent (anything else is ignored)."""
        lent = self._lent.pop(id(array), None)
        if lent is not None:
            self._free.append(lent[1])

    def copy(self, array: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """``array`` converted to ``dtype``, in a lent buffer."""
        result = self.take(array.shape, dtype)
        np.copyto(result, array, casting="unsafe")
        return result


# Integer windows longer than this are summed from a cumulative sum (a constant cost
# per pixel, exact in modular arithmetic), shorter ones along an addition chain (about
# log2(n) passes; the figures are for the doubling that preceded it, 2 log2(n) passes).
# Box blurs of a 3840x2160 RGB image, doubling against cumulative sums: n = 15 53 / 126
# ms, 23 119 / 143, 31 156 / 150, 47 200 / 124. Float windows always take the chain: a
# running sum spreads one NaN or inf over the rest of the strip and loses the digits of
# small values after large ones (1e12 then ones: 2.6e-4 relative error), and the chain
# was faster anyway on 3840x2160 gray float32 (n = 47 67 against 130 ms, 101 72 / 143,
# 201 180 / 265).
_CHAIN_MAX = 31


def _cumulative_window_sums(x: np.ndarray, n: int, axis: int, length: int,
                            acc: np.dtype) -> np.ndarray:
    """Window sums of an integer type ``acc`` as differences of a cumulative sum, which
    may wrap around: the differences are exact (arithmetic modulo 2**bits) while each
    window's sum fits the type."""
    sums = np.cumsum(x, axis=axis, dtype=acc)
    # window k = sums[k + n - 1] - sums[k - 1], taking sums[-1] = 0
    out = np.empty_like(_along(sums, axis, n - 1, length))
    _along(out, axis, 0, 1)[...] = _along(sums, axis, n - 1, 1)
    np.subtract(_along(sums, axis, n, length - 1), _along(sums, axis, 0, length - 1),
                out=_along(out, axis, 1, length - 1))
    return out


def _along(a: np.ndarray, axis: int, start: int, size: int) -> np.ndarray:
    """``a[..., start:start + size, ...]`` on ``axis`` (a view)."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, start + size)
    return a[tuple(index)]


@functools.lru_cache(maxsize=64)
def addition_chain(n: int) -> tuple[int, ...]:
    """A shortest addition chain ``1 = a0 < a1 < ... < ak = n`` (each term the sum of
    two earlier ones), by iterative deepening: window sums of width n in k passes
    (15: 1 2 4 5 10 15, five passes where doubling and combining take seven)."""
    def extend(chain: tuple[int, ...], depth: int) -> tuple[int, ...] | None:
        if chain[-1] == n:
            return chain
        if len(chain) > depth or chain[-1] << (depth + 1 - len(chain)) < n:
            return None
        for i in range(len(chain) - 1, -1, -1):
            for j in range(i, -1, -1):
                total = chain[i] + chain[j]
                if chain[-1] < total <= n:
                    found = extend(chain + (total,), depth)
                    if found:
                        return found
        return None

    depth = 1
    while n > 1 and (found := extend((1,), depth)) is None:
        depth += 1
    return (1,) if n == 1 else found


def _window_sums(x: np.ndarray, n: int, axis: int, acc: np.dtype | None = None,
                 scratch: _Scratch | None = None, owned: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
    """Sums of ``n`` consecutive elements along ``axis`` ('valid': ``len - n + 1`` of
    them), in ``acc`` (default: ``x``'s dtype; ``x`` is converted on the way).

    Along a shortest addition chain: the sums of width k = i + j are those of width i
    plus those of width j shifted by i, one pass over contiguous memory each (15: five
    passes). Measured 2.3x faster than a cumulative sum along the middle axis of an
    interleaved (rows, W, C) block, which takes over beyond ``_CHAIN_MAX`` for integer
    types only (see there).

    With ``scratch``, the partial sums and the result are lent by it, each given back
    after its last use; ``owned`` says ``x`` was lent by it too (and is given back).
    ``out`` (of ``acc`` and the result's shape), when given, receives the result.
    """
    acc = np.dtype(acc or x.dtype)
    length = x.shape[axis] - n + 1
    if n > _CHAIN_MAX and acc.kind in "iu":
        result = _cumulative_window_sums(x, n, axis, length, acc)
    elif n == 1:
        result = x.astype(acc) if scratch is None else scratch.copy(x, acc)
    else:
        result = _chain_sums(x, n, axis, acc, scratch, owned, out)
        owned = False                      # given back by the chain
    if owned and scratch is not None:
        scratch.give(x)
    if out is not None and result is not out:
        np.copyto(out, result)
        if scratch is not None:
            scratch.give(result)
        result = out
    return result


@functools.lru_cache(maxsize=64)
def _chain_steps(n: int) -> tuple[tuple[tuple[int, int], ...], dict[int, int]]:
    """The steps ``(k, i)`` of :func:`addition_chain` ``(n)`` (the sums of width k from
    those of widths i and k - i), and the step after which each width is last used."""
    chain = addition_chain(n)
    steps = []
    for k in chain[1:]:
        steps.append((k, next(i for i in reversed(chain) if i < k and k - i in chain)))
    last = {1: -1}
    for s, (k, i) in enumerate(steps):
        last[i] = last[k - i] = s
    return tuple(steps), last


def _chain_sums(x: np.ndarray, n: int, axis: int, acc: np.dtype,
                scratch: _Scratch | None, owned: bool,
                out: np.ndarray | None = None) -> np.ndarray:
    """:func:`_window_sums` along the addition chain of ``n`` > 1."""
    steps, last = _chain_steps(n)

    def new(shape: tuple[int, ...]) -> np.ndarray:
        return np.empty(shape, acc) if scratch is None else scratch.take(shape, acc)

    if x.dtype != acc:
        # Convert once: an add that mixes dtypes runs NumPy's buffered casting loop,
        # twice the time of a same-type add (uint8 + uint8 -> uint16: 133 us against
        # 42 for the conversion plus 61 for a uint16 add, on a 70 x 11562 strip).
        converted = new(x.shape)
        np.copyto(converted, x, casting="unsafe")
        if owned and scratch is not None:
            scratch.give(x)
        x, owned = converted, scratch is not None
    sums = {1: x}
    for s, (k, i) in enumerate(steps):
        size = x.shape[axis] - k + 1
        shape = x.shape[:axis] + (size,) + x.shape[axis + 1:]
        sums[k] = np.add(_along(sums[i], axis, 0, size), _along(sums[k - i], axis, i, size),
                         out=out if k == n and out is not None else new(shape))
        if scratch is not None:
            for width in {i, k - i}:
                if last[width] == s and (width != 1 or owned):
                    scratch.give(sums.pop(width))
    return sums[n]


# --------------------------------------------------------------------------- rows and edges


def _by_rows(array: np.ndarray, threads: int, fn: Callable, whole: bool = False) -> list:
    """``fn`` on row chunks of ``array`` (views; ``fn(slice)`` with ``whole``), in threads."""
    rows = max(1, _STRIP_SAMPLES // max(1, array[0].size))
    chunks = [slice(r, r + rows) for r in range(0, array.shape[0], rows)]
    call = fn if whole else (lambda rows: fn(array[rows]))
    if threads == 1 or len(chunks) == 1:
        return [call(c) for c in chunks]
    with ThreadPoolExecutor(min(threads, len(chunks))) as pool:
        return list(pool.map(call, chunks))


def edge_response(image: ArrayLike, operators: Sequence[Sequence[ArrayLike]], *,
                  mix: ArrayLike | None = None, border: Border = "reflect", cval: float = 0.0,
                  alpha: bool = False, method: Method = "auto", workers: int | None = None,
                  cast: bool = True) -> np.ndarray:
    """Response of one or two edge operators, or their magnitude, in one pass over an image.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)`` array of real numbers.
    operators : sequence of one or two sequences of 2-D array_like
        Each operator is a product of 2-D kernels applied one after the other (e.g. the
        column and row factors of Sobel's x kernel), correlated with their origin at
        ``shape // 2``; all operators must span the same odd square (same reach). With
        two, the result is the magnitude ``sqrt(gx**2 + gy**2)``.
    mix : array_like, optional
        Weights of the colour channels (all but alpha) summed into one channel before
        filtering, e.g. BT.601 luma ``[0.299, 0.587, 0.114]``; one per colour channel.
    alpha : bool, optional
        Whether the last channel is alpha: the colour is premultiplied by it (transparent
        pixels count as black); the alpha channel gives no response.
    cast : bool, optional
        Round and clip the response into the image's dtype (negative responses become 0
        for unsigned types); otherwise return it in the working float dtype (float32 for
        8/16-bit images and float32, float64 for the others), signed.
    border, cval, method, workers
        As for :func:`filter_passes`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` for a 2-D image, else ``(H, W, C')`` with one channel (``mix``) or
        one per colour channel.

    Examples
    --------
    >>> step = np.repeat([[0, 0, 10, 10]], 2, axis=0).astype(np.float32)
    >>> edge_response(step, [[np.array([[-1.0, 1.0, 0.0]])]])
    array([[ 0.,  0., 10.,  0.],
           [ 0.,  0., 10.,  0.]], dtype=float32)
    """
    array, cval, threads = _prepare(image, border, cval, alpha, workers)
    has_alpha = bool(alpha)
    if not 1 <= len(operators) <= 2:
        raise InputError(f"operators must hold one or two operators, not {len(operators)}")
    passes = [[_kernel2d(k) for k in op] for op in operators]
    n_colour = (array.shape[2] - has_alpha) if array.ndim == 3 else 1
    luma = None
    if mix is not None:
        luma = np.asarray(mix, dtype=np.float64).ravel()
        if luma.size != n_colour or not np.isfinite(luma).all():
            raise InputError(f"mix must hold one finite weight per colour channel "
                             f"({n_colour}), not {mix!r}")
    luminance = luma is not None
    top = full_scale(array.dtype)
    planar = not all(_interleaved(p, method) for p in passes)
    finite = _finite_check(array, border, cval)
    ops = [_linear_op(p, method=method, convolve=False, engine_workers=1, planar=planar,
                      finite=finite)
           for p in passes]
    pads = ops[0][0]
    if any(p != pads for p, _ in ops):
        raise InputError("the operators must span the same square (the same reach)")
    kernel = _native_kernel(array, method, "edges3x3")
    composed = [_composed3x3(p) for p in passes]
    if kernel is not None and all(k is not None for k in composed):
        # One pass over memory: the colour mix, both operators, the magnitude and the
        # rounding into the output, borders by index.
        return _native_call(kernel, array, 1 if luminance else n_colour,
                            array.dtype if cast else _work_dtype(array.dtype), composed[0],
                            composed[1] if len(composed) == 2 else None,
                            _native.BORDER_CODES[border], cval, has_alpha, luma, threads)

    def plane(block: np.ndarray, which) -> np.ndarray:
        return block[which] if planar else block[..., which]

    def valid_op(block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        if has_alpha:   # the block is a copy here (no reads_only): premultiply in place
            _scale_colour(block, block.dtype.type(1 / top) * _alpha(block, planar), planar)
            colour = plane(block, slice(None, -1))
        else:
            colour = block
        if luminance:
            weights = luma.astype(colour.dtype)
            if not planar and colour.flags.c_contiguous:
                # one product over the interleaved pixels (2x faster than five passes)
                grey = (colour.reshape(-1, n_colour) @ weights).reshape(
                    colour.shape[:-1] + (1,))
            else:
                grey = plane(colour, slice(0, 1)) * weights[0]
                for c in range(1, n_colour):
                    grey += plane(colour, slice(c, c + 1)) * weights[c]
            colour = grey
        if len(ops) == 1:
            return ops[0][1](colour)
        gx, gy = ((g if not np.may_share_memory(g, block) else g.copy())
                  for g in (op(colour) for _, op in ops))
        gx *= gx
        gy *= gy
        gx += gy
        if out is not None and out.dtype.kind == "f":
            np.sqrt(gx, out=out)
            return None
        return np.sqrt(gx, out=gx)

    # Unscaled responses are rounded and cast strip by strip, in the threads; stretched
    # ones need the peak of the whole image first, then scale and cast in row chunks.
    # Without alpha the strips are read in place from the padded image, and written
    # straight into the output.
    return _run(array, pads, valid_op, border=border, cval=cval, alpha=False,
                workers=threads, cast=bool(cast), planar=planar,
                reads_only=not has_alpha and not planar,
                out_channels=1 if luminance else n_colour)
