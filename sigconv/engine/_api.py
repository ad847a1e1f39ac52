"""Public engine functions: thin wrappers over ``prepare -> make_plan -> run``."""

from __future__ import annotations

import cmath
import dataclasses
import math
import operator
import threading
import warnings
from collections import OrderedDict
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .._dask import is_dask
from .._errors import InputError, InputTypeError
from ..backends import default_workers, get_backend, pyfftw_error
from ..backends._cache import fresh_array
from . import _exact, _native
from ._direct import NATIVE_MAX_TAPS, NATIVE_THREAD_MACS, all_finite, direct
from ._fft import (
    FFTRecipe,
    NonFiniteInput,
    OARecipe,
    fft_recipe,
    fftconv,
    oa_recipe,
    oaconv,
)
from ._planner import (
    BAND_MAX_TAPS,
    Plan,
    constants,
    constants_generation,
    make_plan,
    np_per_output,
)
from ._validate import Problem, as_operand, check_method, check_mode, normalize_axes, prepare

Mode = Literal["full", "same", "valid"]
Method = Literal["auto", "direct", "fft", "oa"]


def _resolve(p: Problem, backend, workers):
    if workers is None:
        workers = default_workers()
    elif int(workers) < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    b = get_backend(backend)
    if p is not None:
        cdt = np.result_type(p.x.dtype, p.h.dtype)
        if cdt.kind in "fc" and cdt.itemsize > (8 if cdt.kind == "f" else 16) \
                and not getattr(b, "supports_longdouble", False):
            b = get_backend("scipy")      # long double: only pocketfft transforms it
    return b, int(workers)


def _execute(p: Problem, plan: Plan, backend, workers: int, *, rounded: bool,
             spectra: dict | None = None, strided: bool = False,
             front: _Front | None = None, check_finite: bool = False) -> np.ndarray:
    rdt = p.result_dtype
    if plan.method == "direct":
        return direct(p, plan.variant or "taps", workers)
    recipe = None
    if front is None:
        q, back = _axes_last(p)
    else:
        back = front.perm
        q = p if back is None else _permuted(p, back)
        if plan is front.plan:
            recipe = front.recipe
    if plan.method == "fft":
        # fresh memory; a float32 result computed in double precision is rounded in the
        # copy out of the plan's buffer, not in a second copy below
        y = fftconv(q, backend, workers, plan.fft_shape, spectra, recipe,
                    rdt if rdt.kind in "fc" else None)
    else:
        y = oaconv(q, backend, workers, back.index(plan.axis) if back else plan.axis,
                   plan.block, spectra=spectra, recipe=recipe, check_finite=check_finite)
    if back:
        y = y.transpose(np.argsort(back))
    if rounded and rdt.kind in "biu":
        acc = np.rint(y).astype(np.int64)
        return _exact.finish_integer(acc, rdt, _exact.output_bound(p))
    if y.dtype == rdt and (strided or y.flags.c_contiguous):
        return y                                     # fresh memory, already the answer
    if rdt.kind != "c" and y.dtype.kind == "c":
        y = y.real
    return np.array(y, dtype=rdt, copy=True)


def _axes_last(p: Problem) -> tuple[Problem, list[int] | None]:
    """``p`` with its convolved axes moved last (views), and the permutation used.

    FFTW transforms a contiguous axis several times faster than a strided one with the
    same data (measured: 4.5 ms against 36 ms for 256-point transforms over a
    (3, 256, 3840) float32 array). The padding copy into the plan's buffer happens
    anyway, so laying the buffer out with the transformed axes last costs nothing;
    the copy out of the result undoes the permutation.
    """
    perm = _axes_perm(p)
    return (p, None) if perm is None else (_permuted(p, perm), perm)


def _axes_perm(p: Problem) -> list[int] | None:
    """The permutation of :func:`_axes_last` (None: the axes are last already)."""
    rest = [a for a in range(p.x.ndim) if a not in p.axes]
    if all(max(p.x.shape[a], p.h.shape[a]) == 1 for a in rest if a > min(p.axes)):
        return None
    return rest + list(p.axes)


def _permuted(p: Problem, perm: list[int]) -> Problem:
    nd = p.x.ndim
    return Problem(p.x.transpose(perm), p.h.transpose(perm),
                   tuple(range(nd - len(p.axes), nd)), tuple(p.start[a] for a in perm),
                   tuple(p.stop[a] for a in perm), p.result_dtype, p.mode)


class _Front(NamedTuple):
    """What :func:`_run` works out from shapes, strides, dtypes and options alone, kept
    for later calls with the same ones (see :func:`_front`)."""
    axes: tuple[int, ...]           # the Problem's, but for its operands
    start: tuple[int, ...]
    stop: tuple[int, ...]
    result_dtype: np.dtype
    backend: object                 # resolved backend and workers
    workers: int
    plan: Plan | None               # None: integer operands, checked against the data
    perm: list[int] | None          # _axes_last's permutation
    recipe: FFTRecipe | OARecipe | None   # fftconv's or oaconv's, for ``plan``


# Fronts kept (least recently used dropped first): a few dozen layouts cover a program's
# repeated calls; each entry holds no array, only shapes, a Plan and plan-cache keys.
FRONT_MAX_ENTRIES = 128
_fronts: OrderedDict = OrderedDict()
_fronts_lock = threading.Lock()
_SLOW = object()        # a key whose problem the fast path does not take (0-d, empty...)


def clear_fronts() -> None:
    """Forget every kept front (they are rebuilt on the next calls)."""
    with _fronts_lock:
        _fronts.clear()


def _front_key(x: np.ndarray, h: np.ndarray, mode, method, axes, backend, workers,
               fft_style: bool, transform_gain, spectra) -> tuple | None:
    """The key of a call's front, or None for calls the fast path leaves alone.

    Options must be of exact built-in types (``axes=1.0`` must still fail as it did, and
    not hit the entry of ``axes=1``). The key holds everything the front depends on: the
    operands' shapes, strides (contiguity of the transposed views) and dtypes, the
    options, the backend ``backend`` resolves to now (the default may change), whether
    the compiled core is on (per thread), and the planner constants' generation."""
    if not (type(mode) is str and type(method) is str
            and (workers is None or type(workers) is int)
            and (backend is None or type(backend) is str)):
        return None
    if axes is not None and type(axes) is not int:
        if type(axes) not in (tuple, list) or not all(type(a) is int for a in axes):
            return None
        axes = tuple(axes)      # a list checks and plans as the tuple of its items does
    try:
        b = get_backend(backend)
    except Exception:       # noqa: BLE001 - the slow path raises it, after the input checks
        return None
    return (x.shape, x.strides, x.dtype, h.shape, h.strides, h.dtype, mode, method, axes,
            b, workers, fft_style, transform_gain, spectra is not None,
            _native.kernels() is not None, constants_generation())


def _front(in1: np.ndarray, in2: np.ndarray, mode, method, axes, backend, workers, *,
           fft_style: bool, transform_gain, spectra) -> _Front | None:
    """The kept front of this call's layout, built on the first call (raising what the
    slow path raises for bad input); None where the slow path must run."""
    key = _front_key(in1, in2, mode, method, axes, backend, workers, fft_style,
                     transform_gain, spectra)
    if key is None:
        return None
    with _fronts_lock:
        front = _fronts.get(key)
        if front is not None:
            _fronts.move_to_end(key)
            return None if front is _SLOW else front
    front = _build_front(in1, in2, mode, method, axes, backend, workers,
                         fft_style=fft_style, transform_gain=transform_gain, spectra=spectra)
    with _fronts_lock:
        _fronts[key] = _SLOW if front is None else front
        while len(_fronts) > FRONT_MAX_ENTRIES:
            _fronts.popitem(last=False)
    return front


def _build_front(in1, in2, mode, method, axes, backend, workers, *, fft_style: bool,
                 transform_gain, spectra) -> _Front | None:
    """:func:`_run`'s own steps up to the plan, kept without the operands."""
    check_method(method)
    p, _ = prepare(in1, in2, mode, axes, fft_style=fft_style)
    if p is None or (fft_style and not p.axes):
        return None
    b, w = _resolve(p, backend, workers)
    plan = make_plan(p, method, b, w, transform_gain)
    perm = _axes_perm(p) if p.axes else None
    if p.x.dtype.kind in "biu" and p.h.dtype.kind in "biu":
        # the plan depends on the values too (is the FFT exact?): made on every call
        return _Front(p.axes, p.start, p.stop, p.result_dtype, b, w, None, perm, None)
    recipe = None
    if plan.method in ("fft", "oa"):
        q = p if perm is None else _permuted(p, perm)
        if plan.method == "fft":
            recipe = fft_recipe(q, b, w, plan.fft_shape, spectra is not None)
        else:
            recipe = oa_recipe(q, b, w, perm.index(plan.axis) if perm else plan.axis,
                               plan.block)
    return _Front(p.axes, p.start, p.stop, p.result_dtype, b, w, plan, perm, recipe)


def _run(in1, in2, mode, method, axes, backend, workers, *, fft_style: bool,
         spectra: dict | None = None, finite: bool = False, transform_gain: float = 1.0,
         window=None):
    """Validate, plan (``transform_gain``: see :func:`make_plan`), execute. With
    ``window`` (see :func:`convolve_window`; ``mode`` is then 'full'), the kept window of
    the full result, which may be a strided view of fresh memory.

    Calls repeating an earlier call's shapes, strides, dtypes and options skip the
    checks and the planning: their outcome (the Problem but for its operands, the
    backend, the Plan, the FFT recipe) is kept by :func:`_front`. What depends on the
    values still runs on every call (non-finite checks, integer exactness)."""
    front = None
    if window is None and type(in1) is np.ndarray and type(in2) is np.ndarray:
        front = _front(in1, in2, mode, method, axes, backend, workers, fft_style=fft_style,
                       transform_gain=transform_gain, spectra=spectra)
    if front is not None:
        p = Problem(in1, in2, front.axes, front.start, front.stop, front.result_dtype, mode)
        b, w = front.backend, front.workers
        plan = front.plan or make_plan(p, method, b, w, transform_gain)
    else:
        check_method(method)
        p, early = prepare(in1, in2, mode, axes, fft_style=fft_style)
        if p is None:
            return early
        if window is not None:
            p = _windowed(p, axes, window)
        if fft_style and not p.axes:
            # every convolved axis has length 1: a broadcast product, as scipy returns it
            return (p.x * p.h)[tuple(slice(s, e) for s, e in zip(p.start, p.stop))].copy()
        b, w = _resolve(p, backend, workers)
        plan = make_plan(p, method, b, w, transform_gain)
    if plan.variant == "band" and not finite and _has_nonfinite(p):
        plan = _nonfinite_plan(p, plan, method)
    strided = window is not None
    try:
        # overlap-add checks its operands itself (the compiled block fill as it copies)
        out = _execute(p, plan, b, w, rounded=not fft_style, spectra=spectra,
                       strided=strided, front=front,
                       check_finite=plan.method == "oa" and not finite)
    except NonFiniteInput:
        plan = _nonfinite_plan(p, plan, method)
        out = _execute(p, plan, b, w, rounded=not fft_style, spectra=spectra,
                       strided=strided, front=front)
    if plan.method == "fft" and out.size and out.dtype.kind in "fc" \
            and not _finite_scalar(out.item(0)):
        # One non-finite input value spreads over every output of a transform.
        if method == "auto":
            plan = Plan(method="direct", variant="taps" if len(p.axes) > 1 else "lines")
            return _execute(p, plan, b, w, rounded=not fft_style, strided=strided)
        warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                      "output. Consider using method='direct' instead.", RuntimeWarning,
                      stacklevel=3)
    return out


def _finite_scalar(v) -> bool:
    """Whether ``v`` (an array's ``item()``) is finite: math/cmath for Python scalars
    (a fraction of numpy.isfinite's call), numpy for the others (long double)."""
    if type(v) is float:
        return math.isfinite(v)
    if type(v) is complex:
        return cmath.isfinite(v)
    return bool(np.isfinite(v))


def convolve_finite(in1: np.ndarray, in2: np.ndarray, mode: Mode = "full",
                    method: Method = "auto", axes=None, *, workers: int | None = None
                    ) -> np.ndarray:
    """:func:`convolve` for callers that know both operands hold no NaN or inf (the
    image front end checks an image once, not every strip of every pass): skips the
    per-call check that keeps a NaN local (a pass over both operands)."""
    return _run(in1, in2, mode, method, axes, None, workers, fft_style=False, finite=True)


def _has_nonfinite(p: Problem) -> bool:
    """A NaN or inf in either operand."""
    return not (all_finite(p.x) and all_finite(p.h))


def _nonfinite_plan(p: Problem, plan: Plan, method: str) -> Plan:
    """Overlap-add spreads a NaN/inf over its whole block (B + m - 1 outputs) instead
    of the kernel's reach (m), and so does the band variant over its tile (0 * inf is
    NaN). Direct plans switch to another variant; with method='auto', overlap-add goes
    direct when that costs under 20x; otherwise say what happens."""
    local = {k: v for k, v in plan.costs.items()
             if k.startswith("direct") and k != "direct:band"}
    direct_t = min(local.values(), default=float("inf"))
    if plan.method == "direct" or (method == "auto"
                                   and direct_t < 20 * min(plan.costs.values())):
        return Plan(method="direct", variant=min(local, key=local.get).split(":")[1]
                    if local else "taps", reason="non-finite input: direct keeps it local")
    warnings.warn(f"input holds NaN or inf: overlap-add spreads each over its block of "
                  f"{plan.block} samples plus the kernel length, not just the kernel's "
                  f"reach; use method='direct' to keep it local", RuntimeWarning, stacklevel=4)
    return plan


def convolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", method: Method = "auto",
             axes=None, *, backend: str | None = None, workers: int | None = None) -> np.ndarray:
    """Convolve two N-D arrays, choosing direct, overlap-add or FFT by predicted cost.

    A drop-in replacement for :func:`scipy.signal.convolve` (same arguments, output
    shapes, dtypes and exception types), with more methods and an ``axes`` option.

    Parameters
    ----------
    in1, in2 : array_like or dask.array.Array
        Inputs with the same number of dimensions. Along axes not convolved,
        sizes must match or be 1 (they broadcast). A dask array (either operand)
        gives a lazy dask array: see Notes.
    mode : {"full", "same", "valid"}
        ``full``: every overlap (length ``n + m - 1``); ``same``: the size of
        ``in1``, centred; ``valid``: only full overlaps (``max - min + 1``).
    method : {"auto", "direct", "fft", "oa"}
        ``auto`` asks the planner (see :func:`explain`); the others force a method.
    axes : int or sequence of int, optional
        Axes to convolve over (default: all).
    backend : {"pyfftw", "scipy"}, optional, keyword-only
        FFT backend (default: pyfftw when it imports, else scipy.fft).
    workers : int, optional, keyword-only
        Threads for the transforms (default: all cores).

    Returns
    -------
    numpy.ndarray
        ``np.result_type(in1, in2)``: integer inputs give exact integers (widened,
        with a RuntimeWarning, rather than wrapped if they do not fit), float32
        stays float32.

    Raises
    ------
    ValueError
        Unknown ``mode``/``method``, different ``ndim``, incompatible shapes,
        'valid' mode with neither input at least as large in every axis, bad
        ``axes``, empty inputs; both operands dask arrays and the smaller one
        larger than ``sigconv._dask.KERNEL_MEMORY_LIMIT`` (256 MiB).
    TypeError
        Non-numeric dtypes.

    Notes
    -----
    **Dask arrays** (``pip install 'sigconv[dask]'``; the same for :func:`correlate`,
    :func:`fftconvolve`, :func:`oaconvolve`, :func:`convolve2d`, :func:`correlate2d`
    and :class:`Convolver`): the dask operand is convolved chunk by chunk, each chunk
    in full with the whole kernel by this function (one thread per chunk unless
    ``workers`` is given; dask runs the chunks in parallel), and each chunk's tail is
    added into the following output chunks, so a kernel may be longer than a chunk or
    than the signal. The other operand is the kernel and must fit in memory; when
    both are dask arrays, the smaller is computed into memory (up to 256 MiB, else
    a ValueError). The result is lazy, chunked like the dask input along every axis
    (plus chunks for the tail in 'full' mode), with the dtype computed in memory.
    Integer results are exact; their dtype is decided before computing, from a
    bound over the whole array (one pass over the dask input for its min and max):
    when that bound does not fit ``np.result_type(in1, in2)``, the result takes the
    narrowest wider integer type holding it, with a RuntimeWarning (in memory the
    dtype follows the actual range, so it may be narrower there). Float results
    equal the in-memory ones to rounding (each chunk is planned on its own).

    Examples
    --------
    >>> import sigconv
    >>> sigconv.convolve([1, 2, 3], [2, 3, 4])
    array([ 2,  7, 16, 17, 12])

    On a dask array, lazily, chunk by chunk (the kernel longer than a chunk):

    >>> import dask.array as da
    >>> y = sigconv.convolve(da.arange(10, chunks=4), [1, 1, 1, 1, 1, 1], mode="same")
    >>> y.chunks, y.dtype
    (((4, 4, 2),), dtype('int64'))
    >>> y.compute()
    array([ 3,  6, 10, 15, 21, 27, 33, 39, 35, 30])
    >>> sigconv.convolve([[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0], [0, 1, 2, 4]],
    ...                  [[0, 1, 2], [2, 2, 0], [1, 0, 1]], mode="valid")
    array([[11, 14],
           [11,  9]])
    """
    if not (type(in1) is np.ndarray and type(in2) is np.ndarray) \
            and (is_dask(in1) or is_dask(in2)):
        return _on_dask(convolve, in1, in2, mode, axes, fft_style=False,
                        method=method, backend=backend, workers=workers)
    if method == "auto" and axes is None and mode in _NP_MODES:
        fast = _small_1d(in1, in2, mode)
        if fast is not None:
            return fast
    return _run(in1, in2, mode, method, axes, backend, workers, fft_style=False)


_NP_MODES = ("full", "same", "valid")


def _on_dask(fn, in1, in2, mode, axes, *, fft_style: bool, **options):
    """``fn`` with a dask operand: a lazy dask array built by sigconv's dask adapter,
    each block computed by ``fn`` itself (one thread per block unless ``workers``)."""
    from .. import _dask
    if fn is convolve:
        check_method(options["method"])
    if options.get("workers") is None:
        options["workers"] = 1       # dask runs the blocks in parallel
    return _dask.convolve(fn, in1, in2, mode, axes, fft_style=fft_style, options=options)


# samples (by itemsize) from which 2-3 taps go to the compiled loop: below, numpy.convolve's
# smaller call overhead wins (3 taps, float64: 1e4 samples 6.2 against 5.9 us, 3e3 2.9
# against 4.1; float32 3e3 3.7 against 3.7)
_NATIVE_SHORT_MIN = {4: 4_000, 8: 12_000}
_SMALL_MACS = 350_000     # beyond this many multiply-adds a transform may win (measured)


def _small_1d(in1, in2, mode):
    """numpy.convolve straight away for small 1-D float/complex/int problems, else None.

    Skips the planner (tens of microseconds) where its answer is known: a kernel of
    at most 3 taps, or fewer than ``_SMALL_MACS`` products that numpy.convolve finishes
    before the band variant would have started (its fixed cost, ``band_call``).
    """
    a = in1 if isinstance(in1, np.ndarray) else np.asarray(in1)
    v = in2 if isinstance(in2, np.ndarray) else np.asarray(in2)
    if a.ndim != 1 or v.ndim != 1:
        return None
    n, m = a.size, v.size
    short = min(n, m)
    if not n or not m:
        return None
    if short > 3 and short <= NATIVE_MAX_TAPS and _native.kernels() is not None:
        pass      # the compiled loop below, whatever the size (no transform beats it)
    elif short > 3 and (n * m > _SMALL_MACS or (
            short <= BAND_MAX_TAPS and _np_time(n, m, a.dtype) > constants()["band_call"])):
        return None
    if mode == "same" and n < m:
        return None
    ka, kv = a.dtype.kind, v.dtype.kind
    # (longer kernels: numpy.convolve's dot products beat the compiled loop, which is
    # made for at most NATIVE_MAX_TAPS taps: 1e3 x 301 float64 48 against 101 us)
    if 3 < short <= NATIVE_MAX_TAPS:
        return _small_native(a, v, mode)
    if 2 <= short <= 3 and ka == kv == "f" and a.dtype.itemsize == v.dtype.itemsize \
            and max(n, m) >= _NATIVE_SHORT_MIN.get(a.dtype.itemsize, n + m) \
            and _native.kernels() is not None:
        # 3 taps over 1e5-1e6 samples: numpy.convolve took 1.9-2x the compiled loop's time
        # in float64, 5-6x in float32
        return _small_native(a, v, mode)
    if ka in "fc" and kv in "fc":
        if a.dtype.itemsize > 16 or v.dtype.itemsize > 16 or "e" in (a.dtype.char,
                                                                       v.dtype.char):
            return None
        return np.convolve(a, v, mode)
    if ka in "iu" and kv in "iu":
        rdt = np.result_type(a, v)
        bound = min(n, m) * _exact.data_maxabs(a) * _exact.data_maxabs(v)
        if _exact.fits(bound, rdt):
            return np.convolve(a.astype(rdt, copy=False), v.astype(rdt, copy=False), mode)
    return None


def _small_native(a: np.ndarray, v: np.ndarray, mode: str):
    """The compiled direct loop for 1-D float32/float64 or small-integer operands with a
    kernel of 4 to NATIVE_MAX_TAPS taps (or numpy.convolve without the core); None for
    other dtypes."""
    k = _native.kernels()
    ka, kv = a.dtype.kind, v.dtype.kind
    if k is None or a.size < 1 or v.size < 1:
        if ka in "fc" and kv in "fc" and "e" not in (a.dtype.char, v.dtype.char) \
                and max(a.dtype.itemsize, v.dtype.itemsize) <= 16:
            return np.convolve(a, v, mode)
        return None
    n, m = a.size, v.size
    if ka == "f" and kv == "f" and a.dtype.itemsize in (4, 8) and v.dtype.itemsize in (4, 8):
        rdt = np.result_type(a, v)
        work = rdt
    elif ka in "iu" and kv in "iu":
        rdt = np.result_type(a, v)
        bound = min(n, m) * _exact.data_maxabs(a) * _exact.data_maxabs(v)
        if not _exact.fits(bound, rdt) or bound > 2**53:
            return None
        work = np.dtype(np.float64)
    else:
        return None
    full = n + m - 1
    s, e = (0, full) if mode == "full" else ((full - n) // 2, (full - n) // 2 + n) \
        if mode == "same" else (min(n, m) - 1, max(n, m))
    x, h = (a, v) if n >= m else (v, a)
    x = np.ascontiguousarray(x, dtype=work).reshape(1, -1)
    h = np.ascontiguousarray(h, dtype=work).reshape(1, -1)
    threads = max(1, min(default_workers(), (e - s) * min(n, m) // NATIVE_THREAD_MACS))
    out = fresh_array((1, e - s), work)       # (see _direct._native_direct)
    k.direct_conv(out, x, h, s, threads)
    return out[0] if work == rdt else out[0].astype(rdt)


def _np_time(n: int, m: int, dtype: np.dtype) -> float:
    """numpy.convolve's predicted time for a full (n, m) convolution, s."""
    return (n + m - 1) * np_per_output(constants(), min(n, m), dtype.itemsize == 4)


def _reverse_conj(a: np.ndarray, axes) -> np.ndarray:
    if axes is None:
        axes = range(a.ndim)
    elif np.ndim(axes) == 0:
        axes = [axes]
    sl = [slice(None)] * a.ndim
    for ax in axes:
        sl[int(ax)] = slice(None, None, -1)
    r = a[tuple(sl)]
    return r.conj() if r.dtype.kind == "c" else r


def correlate(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", method: Method = "auto",
              axes=None, *, backend: str | None = None,
              workers: int | None = None) -> np.ndarray:
    """Cross-correlate two N-D arrays: ``convolve(in1, reversed conj(in2))``.

    A drop-in replacement for :func:`scipy.signal.correlate`; arguments and return
    as :func:`convolve`. The kernel is not flipped, which is what deep-learning
    "convolution" layers compute.

    Examples
    --------
    >>> import sigconv
    >>> sigconv.correlate([1, 2, 3], [0, 1, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    check_mode(mode)
    check_method(method)
    a2 = in2 if is_dask(in2) else as_operand(in2, "in2")
    a1 = in1 if is_dask(in1) else as_operand(in1, "in1")
    if a1.ndim != a2.ndim:
        raise ValueError(f"in1 and in2 should have the same dimensionality, "
                         f"got {a1.ndim}-d and {a2.ndim}-d")
    if a2.ndim == 0:
        return convolve(a1, a2.conj() if a2.dtype.kind == "c" else a2, mode, method, axes,
                        backend=backend, workers=workers)
    return convolve(a1, _reverse_conj(a2, axes), mode, method, axes,
                    backend=backend, workers=workers)


def _windowed(p: Problem, axes, window) -> Problem:
    """``p`` (prepared in 'full' mode) keeping ``window`` on the axes of ``axes``."""
    user = normalize_axes(axes, p.x.ndim)
    try:
        pairs = [tuple(operator.index(v) for v in pair) for pair in window]
    except TypeError:
        raise InputError(f"window must hold one (start, stop) pair of integers per axis, "
                         f"not {window!r}") from None
    if len(pairs) != len(user) or any(len(pair) != 2 for pair in pairs):
        raise InputError(f"window must hold one (start, stop) pair per convolved axis "
                         f"({len(user)}), not {window!r}")
    start, stop = list(p.start), list(p.stop)
    for a, (s, e) in zip(user, pairs):
        full = p.stop[a]
        if not 0 <= s < e <= full:
            raise InputError(f"window ({s}, {e}) on axis {a} must satisfy 0 <= start < stop "
                             f"<= {full} (the full result's length there)")
        start[a], stop[a] = s, e
    return dataclasses.replace(p, start=tuple(start), stop=tuple(stop))


def convolve_window(in1: ArrayLike, in2: ArrayLike, window, method: Method = "auto",
                    axes=None, *, correlate: bool = False, backend: str | None = None,
                    workers: int | None = None) -> np.ndarray:
    """One window of the full convolution (or correlation), maybe as a strided view.

    For front ends that crop the result themselves (convolution layers): the transform
    is only as long as the window needs, and the result is not copied into a
    contiguous array when it is most of the inverse transform's output.

    Parameters
    ----------
    in1, in2 : array_like
        As for :func:`convolve` (NumPy arrays, not dask).
    window : sequence of (int, int)
        One ``(start, stop)`` pair per axis of ``axes`` (in that order), in the
        coordinates of the full result: ``0 <= start < stop <= n + m - 1``.
    method, axes, backend, workers
        As for :func:`convolve`.
    correlate : bool, keyword-only
        The window of :func:`correlate`'s full result instead (``in2`` reversed and
        conjugated along ``axes``).

    Returns
    -------
    numpy.ndarray
        ``convolve(in1, in2, "full", ...)[window]`` (or ``correlate``'s), with the dtype
        :func:`convolve` gives, in memory of its own that may be a strided view of a
        larger array (not C-contiguous).

    Raises
    ------
    ValueError
        A window not inside the full result, or not one pair per axis; anything
        :func:`convolve` raises.
    TypeError
        Non-numeric dtypes, a dask operand.

    Examples
    --------
    >>> import numpy as np
    >>> from sigconv.engine import convolve_window
    >>> convolve_window(np.arange(5.0), np.array([1.0, 1.0, 1.0]), [(1, 4)])
    array([1., 3., 6.])
    >>> convolve_window(np.arange(5.0), np.array([1.0, 0.0, -1.0]), [(2, 5)],
    ...                 correlate=True)
    array([-2., -2., -2.])
    """
    if is_dask(in1) or is_dask(in2):
        raise InputTypeError("convolve_window takes NumPy arrays, not dask arrays")
    check_method(method)
    if correlate:
        a2 = as_operand(in2, "in2")
        if a2.ndim:
            in2 = _reverse_conj(a2, axes)
        elif a2.dtype.kind == "c":
            in2 = a2.conj()
    return _run(in1, in2, "full", method, axes, backend, workers, fft_style=False,
                window=window)


def fftconvolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", axes=None, *,
                backend: str | None = None, workers: int | None = None) -> np.ndarray:
    """Convolve two N-D arrays with one FFT over the whole (padded) extent.

    A drop-in replacement for :func:`scipy.signal.fftconvolve`: integer inputs give
    float64 results, empty inputs an empty array.

    Examples
    --------
    >>> import sigconv
    >>> sigconv.fftconvolve([1, 2, 3], [2, 3, 4]).round(6)
    array([ 2.,  7., 16., 17., 12.])
    """
    if is_dask(in1) or is_dask(in2):
        return _on_dask(fftconvolve, in1, in2, mode, axes, fft_style=True, backend=backend,
                        workers=workers)
    return _run(in1, in2, mode, "fft", axes, backend, workers, fft_style=True)


def oaconvolve(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", axes=None, *,
               backend: str | None = None, workers: int | None = None) -> np.ndarray:
    """Convolve two N-D arrays by overlap-add: blocks of the longer along one axis.

    A drop-in replacement for :func:`scipy.signal.oaconvolve`; the planner picks the
    blocked axis and the block length from its cost model.

    Examples
    --------
    >>> import numpy as np, sigconv
    >>> x = np.arange(10.0)
    >>> bool(np.allclose(sigconv.oaconvolve(x, [1, -1]), np.convolve(x, [1, -1])))
    True
    """
    if is_dask(in1) or is_dask(in2):
        return _on_dask(oaconvolve, in1, in2, mode, axes, fft_style=True, backend=backend,
                        workers=workers)
    return _run(in1, in2, mode, "oa", axes, backend, workers, fft_style=True)


class Convolver:
    """Convolve many arrays with one kernel, transforming the kernel once per layout.

    ``Convolver(h, ...)(x)`` equals ``convolve(x, h, ...)``; when the planner picks the
    FFT or overlap-add, the kernel's spectrum is kept (for a few input shapes) and reused,
    which saves one transform in three (FFT) or the kernel's transform per call (overlap-
    add). Suits block-by-block streaming, where every block has the same shape.

    Parameters
    ----------
    kernel : array_like
        The second operand of every call; copied, so later changes to it do not count.
    mode, method, axes, backend, workers
        As for :func:`convolve`.

    Examples
    --------
    >>> import numpy as np, sigconv
    >>> conv = sigconv.Convolver(np.ones(3), mode="full")
    >>> conv(np.arange(4.0))
    array([0., 1., 3., 6., 5., 3.])
    """

    def __init__(self, kernel: ArrayLike, mode: Mode = "full", method: Method = "auto",
                 axes=None, *, backend: str | None = None, workers: int | None = None):
        check_mode(mode)
        check_method(method)
        self.kernel = np.array(as_operand(kernel, "kernel"), copy=True)
        self.kernel.flags.writeable = False
        self.mode, self.method, self.axes = mode, method, axes
        self.backend, self.workers = backend, workers
        self._spectra: dict = {}

    def __call__(self, x: ArrayLike) -> np.ndarray:
        if is_dask(x):
            return convolve(x, self.kernel, self.mode, self.method, self.axes,
                            backend=self.backend, workers=self.workers)
        return _run(x, self.kernel, self.mode, self.method, self.axes, self.backend,
                    self.workers, fft_style=False, spectra=self._spectra)


def explain(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", method: Method = "auto",
            axes=None, *, backend: str | None = None, workers: int | None = None) -> Plan:
    """The :class:`Plan` ``convolve`` would follow, with the predicted cost of each method.

    Examples
    --------
    >>> import numpy as np, sigconv
    >>> sigconv.explain(np.ones(10**6), np.ones(301)).method
    'oa'
    """
    check_method(method)
    p, _ = prepare(in1, in2, mode, axes, fft_style=False)
    if p is None:
        return Plan(method="direct", reason="0-d or empty inputs: nothing to plan")
    if backend is None:
        pyfftw_error()   # import pyfftw now (if installed), so the plan names the backend
    b, w = _resolve(p, backend, workers)   # that will really transform
    return dataclasses.replace(make_plan(p, method, b, w))   # the caller's own copy


def choose_conv_method(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full",
                       measure: bool = False):
    """The method ``convolve(..., method="auto")`` would use, as scipy's chooser.

    Returns ``"direct"``, ``"fft"`` or ``"oa"``. With ``measure=True``, runs every
    method and returns ``(fastest, {method: seconds})``, like
    :func:`scipy.signal.choose_conv_method`.

    Examples
    --------
    >>> import sigconv
    >>> sigconv.choose_conv_method([1, 2, 3], [4, 5])
    'direct'
    """
    if measure:
        import timeit
        times = {}
        for m in ("direct", "fft", "oa"):
            timer = timeit.Timer(lambda m=m: convolve(in1, in2, mode, m))
            number, _ = timer.autorange()
            times[m] = min(timer.repeat(3, number)) / number
        return min(times, key=times.get), times
    return explain(in1, in2, mode).method
