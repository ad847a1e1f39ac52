"""The FFT and overlap-add methods.

Both compute a *circular* convolution long enough that the part of the linear
convolution the mode keeps is not aliased. Keeping the full-result window
``[s, e)`` of an axis where the operands have lengths n and m (full length
``n + m - 1``) needs a transform length L with ``L >= e`` (the window does not
wrap) and ``L >= n + m - 1 - s`` (what wraps from the end lands before ``s``).
For 'valid' that is just ``L >= max(n, m)``; for 'same' about ``n + m/2``.

Work buffers belong to cached plans (see ``sigconv.backends``), so repeated calls
of one shape neither plan nor allocate again; 1/N is folded into the kernel side.

Overlap-add cuts the signal along one axis into blocks of B samples, convolves
each block with the kernel through transforms of length ``L = B + m - 1`` (B is
chosen by the planner so that L is a fast length), and adds each block's tail of
``m - 1`` samples onto the next block. Blocks are processed in chunks whose
buffers stay a few MB, so memory is bounded by the output and the chunk, not by
the number of blocks, and FFTW works on many blocks per call (threads split them).
"""

from __future__ import annotations

import functools
import math
import operator
from typing import NamedTuple

import numpy as np

from .._errors import InputError, InputTypeError
from ..backends import PlanKey, default_workers
from ..backends._base import oa_chunk_blocks, real_of
from ..backends._cache import PLANS, fresh_array
from . import _native
from ._direct import all_finite
from ._native import native_threads
from ._validate import Problem, fft_dtype

# Single-precision problems whose transforms hold at most this many points are
# transformed in double precision: free at that size, and it keeps results near
# zero at the float32 rounding of the *output* rather than of the whole signal.
SMALL_DOUBLE_POINTS = 1 << 14

# From this many spectrum elements on, the inverse transform writes straight into a
# new (aligned) array that becomes the result, instead of into the plan's buffer and
# then a copy out. Below it the copy is cheaper than making the array and pointing FFTW
# at it (measured at 10368 points: 38 us against 44).
FRESH_MIN = 1 << 15


def multiply_spectra(x: np.ndarray, h: np.ndarray, *, scale: float = 1.0,
                     workers: int | None = None) -> np.ndarray:
    """Multiply spectra in place: ``x *= h * scale``, with ``h`` repeated over x's rows.

    The spectral product of an FFT convolution in one pass over ``x``, with the 1/N of
    the inverse transform (or any real ``scale``) folded in. ``h`` broadcasts against
    the trailing dimensions of ``x``: with ``F = x.shape[-1]``, x is seen as rows of F
    values and row ``r`` is multiplied by row ``r % M`` of the M rows of ``h``.

    Parameters
    ----------
    x : numpy.ndarray
        complex64 or complex128, C-contiguous and writeable; overwritten.
    h : array_like
        Complex; its shape, without leading 1s, must equal the trailing dimensions of
        ``x``. Converted to x's dtype.
    scale : float, keyword-only
        A real factor applied to each product (after the complex multiplication).
    workers : int, optional, keyword-only
        Threads for the compiled core (default: every core; small arrays use one). The
        result does not depend on it.

    Returns
    -------
    numpy.ndarray
        ``x`` itself.

    Raises
    ------
    TypeError
        ``x`` or ``h`` is not complex, or ``scale`` is not a real number.
    ValueError
        ``x`` is not C-contiguous or writeable, the shapes do not broadcast as above, or
        ``workers`` is not positive.

    Notes
    -----
    The compiled core computes each product as ``(ar*br - ai*bi, ar*bi + ai*br)``, then
    multiplies both parts by ``scale``, without fused multiply-adds. Its NumPy twin (used
    when the core is not loaded) calls ``numpy.multiply``, whose SIMD loops may fuse, so
    the two agree to a few units in the last place of ``|x| |h|``; NaN and inf propagate
    alike.

    Examples
    --------
    >>> import numpy as np
    >>> from sigconv.engine import multiply_spectra
    >>> x = np.array([[1 + 1j, 2], [3, 4j]])
    >>> multiply_spectra(x, np.array([1j, 0.5]), scale=2.0)
    array([[-2.+2.j,  2.+0.j],
           [ 0.+6.j,  0.+4.j]])
    """
    if not isinstance(x, np.ndarray) or x.dtype not in (np.complex64, np.complex128):
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise InputTypeError(f"x must be a complex64 or complex128 numpy array, not {got}")
    if not x.flags.c_contiguous or not x.flags.writeable:
        raise InputError("x must be C-contiguous and writeable (it is overwritten), got "
                         f"an array with strides {x.strides} of shape {x.shape}")
    h = np.asarray(h)
    if h.dtype.kind != "c":
        raise InputTypeError(f"h must be complex, not dtype {h.dtype.str!r}")
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.integer,
                                                                     np.floating)):
        raise InputTypeError(f"scale must be a real number, not {scale!r}")
    w = default_workers() if workers is None else workers
    try:
        w = operator.index(w)
    except TypeError:
        raise InputTypeError(f"workers must be a positive integer, not {workers!r}") from None
    if w < 1:
        raise InputError(f"workers must be a positive integer, not {workers!r}")
    hs = h.shape
    while hs and hs[0] == 1 and len(hs) > 1:
        hs = hs[1:]
    if x.ndim == 0 or not hs or len(hs) > x.ndim or x.shape[x.ndim - len(hs):] != hs:
        raise InputError(f"h of shape {h.shape} does not match the trailing dimensions of x "
                         f"of shape {x.shape}")
    h = np.ascontiguousarray(h.reshape(hs), dtype=x.dtype)
    if x.size == 0:
        return x
    k = _native.kernels()
    if k is not None:
        k.cmul_scaled(x, h, float(scale), native_threads(x.size, w))
    else:
        _multiply_spectra_twin(x, h, float(scale))
    return x


def _multiply_spectra_twin(x: np.ndarray, h: np.ndarray, scale: float) -> None:
    """NumPy twin of ``_core.cmul_scaled``: x (any shape) *= h (its trailing dims) * scale."""
    np.multiply(x, h, out=x)
    if scale != 1.0:
        r = x.view(real_of(x.dtype))
        np.multiply(r, r.dtype.type(scale), out=r)


def compute_dtype(p: Problem, points: int | None = None) -> tuple[np.dtype, bool]:
    """(transform dtype, is_complex) for ``p``; ``points``: size of its transforms."""
    return _compute_dtype(p.x.dtype, p.h.dtype, points)


@functools.lru_cache(maxsize=256)
def _compute_dtype(dx: np.dtype, dh: np.dtype, points: int | None) -> tuple[np.dtype, bool]:
    dt = fft_dtype(np.result_type(dx, dh))
    if points is not None and points <= SMALL_DOUBLE_POINTS and dt.itemsize == \
            (8 if dt.kind == "c" else 4):
        dt = np.dtype(np.complex128 if dt.kind == "c" else np.float64)
    return dt, dt.kind == "c"


def fft_length(n: int, m: int, s: int, e: int) -> int:
    """Shortest circular length that keeps the window [s, e) of an (n, m) convolution."""
    return max(e, n + m - 1 - s, n, m)   # and room for both operands


def _fill_slices(buf_shape, src_shape) -> tuple[tuple, tuple]:
    """(the corner of a buffer that takes the operand, the slices to zero beyond it)."""
    corner = tuple(slice(0, d) for d in src_shape)
    zeros = []
    for a, (d, full) in enumerate(zip(src_shape, buf_shape)):
        if d < full:
            sl = [slice(None)] * len(buf_shape)
            sl[a] = slice(d, None)
            zeros.append(tuple(sl))
    return corner, tuple(zeros)


def _fill(buf: np.ndarray, src: np.ndarray, scale: float | None = None,
          slices: tuple | None = None) -> None:
    """Copy ``src`` into the corner of ``buf`` (casting, optionally scaling); zero the rest."""
    corner, zeros = slices or _fill_slices(buf.shape, src.shape)
    if scale is None:
        np.copyto(buf[corner], src, casting="unsafe")
    else:
        np.multiply(src, scale, out=buf[corner], dtype=buf.dtype, casting="unsafe")
    for sl in zeros:
        buf[sl] = 0


# dtypes the compiled fills read (float16, long double and object go through NumPy)
_NATIVE_SRC = frozenset("?bBhHiIlLqQfdFD")


def _native_fill_ok(src: np.ndarray, buf: np.ndarray) -> bool:
    """Whether ``_core.pad_fill``/``oa_fill`` can copy ``src`` into ``buf``."""
    return src.dtype.char in _NATIVE_SRC and src.dtype.isnative and buf.dtype.char in "fdFD" \
        and (src.dtype.kind != "c" or buf.dtype.kind == "c") and src.flags.c_contiguous \
        and buf.flags.c_contiguous


def _pad(k, buf: np.ndarray, src: np.ndarray, slices: tuple, workers: int) -> None:
    """``_fill(buf, src)`` through the compiled core when it can (one pass: copy, cast,
    zero tail), else NumPy."""
    native = k is not None and _native_fill_ok(src, buf)
    _copy_in(k if native else None, buf, src, slices,
             native_threads(buf.size, workers) if native else 1)


def _copy_in(k, buf: np.ndarray, src: np.ndarray, slices: tuple, threads: int) -> None:
    """:func:`_pad` with its choice made: ``k`` the core (its fill takes ``src``) or None."""
    if k is not None:
        k.pad_fill(buf, src, threads)
    else:
        _fill(buf, src, None, slices)


def _rows_repeat(xshape: tuple, hshape: tuple) -> bool:
    """Whether h's rows repeat over x's as ``cmul_scaled`` reads them: h's shape without
    its leading 1s equals x's trailing dimensions."""
    i = 0
    while i < len(hshape) - 1 and hshape[i] == 1:
        i += 1
    hs = hshape[i:]
    return len(hs) <= len(xshape) and tuple(xshape[len(xshape) - len(hs):]) == tuple(hs)


def _plan_keys(shape_x, shape_h, shape_out, axes, cdt, is_complex, workers, tag) -> tuple:
    """PlanKeys of the x transform, the h transform and the inverse (slots ``tag`` +
    x / h / y): complex-to-complex for complex data, else real-to-complex and back."""
    kf, ki, dt = ("c2c", "c2ci", cdt.str) if is_complex else ("r2c", "c2r", real_of(cdt).str)
    return (PlanKey(kf, shape_x, dt, axes, workers, tag + "x"),
            PlanKey(kf, shape_h, dt, axes, workers, tag + "h"),
            PlanKey(ki, shape_out, dt, axes, workers, tag + "y"))


def _plans(backend, shape_x, shape_h, shape_out, axes, cdt, is_complex, workers, tag):
    return tuple(backend.plan(k) for k in _plan_keys(shape_x, shape_h, shape_out, axes, cdt,
                                                        is_complex, workers, tag))


def axis_length(p: Problem, a: int, backend, cplx: bool) -> int:
    """Transform length on axis ``a``: the backend's fast length for the kept window, a
    real transform's length on the last transformed axis only (the other axes of a
    real transform are complex ones)."""
    return backend.next_fast_len(
        fft_length(p.x.shape[a], p.h.shape[a], p.start[a], p.stop[a]),
        not cplx and a == max(p.axes))


def fft_shape(p: Problem, backend) -> tuple[int, ...]:
    """Transform lengths on the convolved axes (fast lengths of the backend)."""
    _, cplx = compute_dtype(p)
    return tuple(axis_length(p, a, backend, cplx) for a in p.axes)


def _kernel_spectrum(plan, h: np.ndarray, scale: float | None, spectra: dict | None, key,
                     slices: tuple | None = None, k=None, workers: int = 1):
    """The transform of ``h`` (scaled by ``scale``) through ``plan``; from ``spectra``
    when a :class:`sigconv.Convolver` already computed it for this layout. With the
    compiled core ``k`` and no scale, the fill is native."""
    if spectra is not None:
        hit = spectra.get(key)
        if hit is not None:
            return hit
    if scale is None:
        _pad(k, plan.input, h, slices or _fill_slices(plan.input.shape, h.shape), workers)
    else:
        _fill(plan.input, h, scale, slices)
    H = plan.execute()
    if spectra is not None:
        H = _keep_spectrum(spectra, key, H.copy())
    return H


def _keep_spectrum(spectra: dict, key, H: np.ndarray) -> np.ndarray:
    """``H`` stored in a Convolver's ``spectra`` under ``key`` (a handful of layouts per
    kernel is plenty: the store is emptied beyond 8)."""
    if len(spectra) >= 8:
        spectra.clear()
    spectra[key] = H
    return H


class _FFTLayout(NamedTuple):
    """Everything about one FFT convolution that depends only on shapes and dtypes."""
    keys: tuple             # PlanKeys of the x transform, the h transform, the inverse
    scale_x: float | None   # 1/N folded into x's fill, or None
    scale_h: float | None   # ... into h's fill
    fill_x: tuple           # _fill_slices of each operand into its plan buffer
    fill_h: tuple
    keep: tuple             # the kept window of the inverse transform
    spectrum_key: tuple     # names h's spectrum in a Convolver's store
    scale: float            # 1/N
    native_product: bool    # the spectra's shapes suit _core.cmul_scaled_to


@functools.lru_cache(maxsize=256)
def _fft_layout(sx0, sh0, dx, dh, axes, start, stop, lens, workers, keep_h) -> _FFTLayout:
    batch = max(math.prod(d for a, d in enumerate(sx0) if a not in axes),
                math.prod(d for a, d in enumerate(sh0) if a not in axes))
    cdt, cplx = _compute_dtype(dx, dh, math.prod(lens) * batch)
    sx, sh = list(sx0), list(sh0)
    for a, L in zip(axes, lens):
        sx[a] = sh[a] = L
    so = tuple(max(i, j) if a not in axes else i for a, (i, j) in enumerate(zip(sx, sh)))
    sx, sh = tuple(sx), tuple(sh)
    keys = _plan_keys(sx, sh, so, axes, cdt, cplx, workers, "f")
    # Put 1/N on the smaller operand (on the kernel when its spectrum is kept).
    scale = 1.0 / math.prod(lens)
    on_h = keep_h or math.prod(sh0) <= math.prod(sx0)
    return _FFTLayout(keys, None if on_h else scale, scale if on_h else None,
                      _fill_slices(sx, sx0), _fill_slices(sh, sh0),
                      tuple(slice(s, e) for s, e in zip(start, stop)),
                      ("fft", sh, cdt.str, axes), scale,
                      sx == so and _rows_repeat(sx, sh))


def _plan_trio(backend, keys: tuple, cache_key: tuple | None = None) -> tuple:
    """The three plans of an FFT convolution, cached together (one cache look-up);
    ``cache_key``: ``(backend.name, "fft3", keys)`` when the caller has it already."""
    build = getattr(backend, "build", None)
    if build is None:
        return tuple(backend.plan(k) for k in keys)

    def make():
        made = [build(k) for k in keys]
        return tuple(p for p, _ in made), sum(b for _, b in made)
    return PLANS.get(cache_key or (backend.name, "fft3", keys), make)


# A batch of independent transforms whose x buffer holds at least this many bytes is
# convolved in chunks of rows (a row: one transform) of about ROW_CHUNK_BYTES of real
# input, each chunk padded, transformed, multiplied, transformed back and cropped while it
# is still in the cache, the chunks shared among `workers` threads, each with plans of
# its own on one FFTW thread. The whole-batch passes each streamed 32 MB through memory:
# depthwise (512, 16384) float32 rows with a 1024-tap kernel took 49 ms in 8-row chunks
# on one core against 80 ms whole on two, with another process on the second core
# (2026-12-05, load 2).
ROW_CHUNK_MIN_BYTES = 8 << 20
ROW_CHUNK_BYTES = 512 << 10


def row_chunk_size(row_bytes: int) -> int:
    """Rows per chunk for rows of ``row_bytes`` (when the kernel's rows allow it)."""
    return max(1, ROW_CHUNK_BYTES // row_bytes)


class _RowChunks(NamedTuple):
    rows: int               # transforms in the batch (x's leading dimensions)
    size: int               # rows per chunk
    hrows: int              # rows of h's spectrum (row r of x takes row r % hrows)
    lead: int               # number of leading (batch) axes


def _row_chunks(p: Problem, lay: _FFTLayout, backend, k) -> _RowChunks | None:
    """How to run ``p`` in chunks of rows, or None where the whole-batch path is kept:
    it needs the compiled core, FFTW, the transformed axes last, x C-contiguous and not
    broadcast, no crop of the batch axes, and a big enough batch."""
    if k is None or not lay.native_product or getattr(backend, "build", None) is None:
        return None
    x, nd = p.x, p.x.ndim
    lead = nd - len(p.axes)
    if p.axes != tuple(range(lead, nd)) or lead == 0 or not x.flags.c_contiguous:
        return None
    if any(p.start[a] != 0 or p.stop[a] != x.shape[a] for a in range(lead)):
        return None
    fx_shape = lay.keys[0].shape
    row_bytes = math.prod(fx_shape[lead:]) * np.dtype(lay.keys[0].dtype).itemsize
    rows = math.prod(fx_shape[:lead])
    if rows < 4 or rows * row_bytes < ROW_CHUNK_MIN_BYTES:
        return None
    hs = lay.keys[1].shape
    hrows = math.prod(hs[:lead])
    want = row_chunk_size(row_bytes)
    if hrows >= want:       # a divisor of hrows: each chunk takes a run of h's rows
        size = max(d for d in range(1, want + 1) if hrows % d == 0)
    else:                   # a multiple of hrows: each chunk takes all of them
        size = hrows * (want // hrows)
    if rows < 2 * size:
        return None
    return _RowChunks(rows, size, hrows, lead)


_POOL: dict = {}


def _pool(threads: int):
    """A persistent pool of worker threads for the row chunks."""
    ex = _POOL.get(threads)
    if ex is None:
        from concurrent.futures import ThreadPoolExecutor
        ex = _POOL[threads] = ThreadPoolExecutor(threads, thread_name_prefix="sigconv-fft")
    return ex


def _fft_rows(k, p: Problem, lay: _FFTLayout, plan: _RowChunks, backend, workers: int,
              spectra: dict | None) -> np.ndarray:
    """:func:`fftconv` chunk by chunk of rows, into a new C-contiguous result."""
    lead = plan.lead
    x2 = p.x.reshape((plan.rows,) + p.x.shape[lead:])
    C = plan.size
    nchunks = -(-plan.rows // C)
    threads = max(1, min(int(workers), nchunks))
    trios = _thread_trios(backend, lay.keys, threads, "r", lambda kk: {
        "shape": (C,) + kk.shape[lead:], "axes": tuple(a - lead + 1 for a in kk.axes)})
    skey = lay.spectrum_key + ("native",)
    H = spectra.get(skey) if spectra is not None else None
    if H is None and C < plan.hrows:
        # the kernel's spectrum chunk by chunk too, on the same one-thread plans
        h2 = p.h.reshape((plan.hrows,) + p.h.shape[lead:])
        fh0 = trios[0][1]
        H = np.empty((plan.hrows,) + fh0.output.shape[1:], fh0.output.dtype)
        slices = _fill_slices(fh0.input.shape, (C,) + h2.shape[1:])
        hchunks = iter(range(0, plan.hrows, C))

        def spectrum(t: int) -> None:
            fh = trios[t][1]
            for g0 in hchunks:
                _pad(k, fh.input, h2[g0:g0 + C], slices, 1)
                np.copyto(H[g0:g0 + C], fh.execute())
        _on_threads(spectrum, min(threads, plan.hrows // C))
        if spectra is not None:
            _keep_spectrum(spectra, skey, H)
    elif H is None:
        H = _kernel_spectrum(backend.plan(lay.keys[1]), p.h, None, spectra, skey,
                             lay.fill_h, k, workers)
    H2 = H.reshape((plan.hrows,) + H.shape[H.ndim - len(p.axes):])   # either layout
    keep = (slice(None),) + lay.keep[lead:]
    out = _native.empty((plan.rows,) + tuple(sl.stop - sl.start for sl in lay.keep[lead:]),
                        trios[0][2].output.dtype)
    scale = lay.scale
    chunks = iter(range(0, plan.rows, C))      # next() on it is atomic under the GIL

    def work(t: int) -> None:
        fx, _, inv = trios[t]
        for r0 in chunks:
            r1 = min(plan.rows, r0 + C)
            n = r1 - r0
            k.pad_fill(fx.input[:n] if n < C else fx.input, x2[r0:r1], 1)
            X = fx.execute()
            if C >= plan.hrows:
                h = H2
            else:
                g0 = r0 % plan.hrows
                h = H2[g0:g0 + C]
            yin = inv.input
            k.cmul_scaled_to(yin[:n] if n < C else yin, X[:n] if n < C else X, h, scale, 1)
            Y = inv.execute()
            np.copyto(out[r0:r1], Y[:n][keep])

    _on_threads(work, threads)
    return out.reshape(tuple(sl.stop - sl.start for sl in lay.keep))


def _thread_trios(backend, keys: tuple, threads: int, tag: str, change=None) -> list:
    """One plan trio per thread, each on one FFTW thread, for work shared out by
    :func:`_on_threads` (slots ``tag`` + thread; ``change(key)``: other PlanKey fields to
    replace). Planned here, on the calling thread: the plan cache is per thread."""
    if change is None:
        return [_plan_trio(backend, tk) for tk in _trio_keys(keys, threads, tag)]
    return [_plan_trio(backend, tuple(
        kk._replace(workers=1, slot=f"{tag}{t}{kk.slot}", **change(kk))
        for kk in keys)) for t in range(threads)]


@functools.lru_cache(maxsize=256)
def _trio_keys(keys: tuple, threads: int, tag: str) -> tuple:
    """The PlanKeys of :func:`_thread_trios` without ``change`` (made once: building
    them took 18 us a call, a few percent of a 1e5-sample overlap-add)."""
    return tuple(tuple(kk._replace(workers=1, slot=f"{tag}{t}{kk.slot}") for kk in keys)
                 for t in range(threads))


def _on_threads(fn, threads: int) -> None:
    """fn(0) on this thread and fn(1) ... fn(threads - 1) on the pool; they share their
    work through an iterator, so a thread that starts late finds less (or nothing) to do."""
    if threads <= 1:
        fn(0)
        return
    futs = [_pool(threads - 1).submit(fn, t) for t in range(1, threads)]
    try:
        fn(0)
    finally:
        for f in futs:
            f.result()


class FFTRecipe(NamedTuple):
    """What :func:`fftconv` works out before it touches the data, for one layout of the
    problem (shapes, strides, dtypes, window, transform lengths, workers, backend, the
    compiled core on or off); the engine keeps it for repeated calls."""
    lay: _FFTLayout
    native: bool            # worked out with the compiled core on
    pad_x: bool             # _core.pad_fill copies x into its plan's buffer (else NumPy)
    pad_h: bool             # ... and h
    threads_x: int          # native threads of x's fill, h's fill, the spectral product
    threads_h: int
    threads_p: int
    spectrum_key: tuple     # h's spectrum in a Convolver's store (the native product's)
    trio_key: tuple         # the plan trio in the plan cache
    batch: bool             # x has axes not transformed (_row_chunks needs some)


def fft_recipe(p: Problem, backend, workers: int, lens: tuple[int, ...] | None = None,
               keep_h: bool = False) -> FFTRecipe:
    """The :class:`FFTRecipe` of ``p`` (``keep_h``: a Convolver keeps h's spectrum);
    plans the transforms if they are not cached yet."""
    lens = tuple(lens or fft_shape(p, backend))
    k = _native.kernels()
    lay = _fft_layout(p.x.shape, p.h.shape, p.x.dtype, p.h.dtype, p.axes, p.start, p.stop,
                      lens, workers, keep_h)
    trio_key = (backend.name, "fft3", lay.keys)
    fx, fh, inv = _plan_trio(backend, lay.keys, trio_key)
    on = k is not None
    return FFTRecipe(lay, on, on and _native_fill_ok(p.x, fx.input),
                     on and _native_fill_ok(p.h, fh.input),
                     native_threads(fx.input.size, workers),
                     native_threads(fh.input.size, workers),
                     native_threads(inv.input.size, workers),
                     lay.spectrum_key + ("native",), trio_key, len(p.axes) < p.x.ndim)


def fftconv(p: Problem, backend, workers: int, lens: tuple[int, ...] | None = None,
            spectra: dict | None = None, recipe: FFTRecipe | None = None,
            out_dtype: np.dtype | None = None) -> np.ndarray:
    """The kept window of the convolution, in fresh memory (a view of the inverse
    transform's new output array when it is most of it, else a copy, cast to ``out_dtype``
    when given: a dtype of the transform's kind, maybe of lower precision).

    With the compiled core: the operands are padded into the plans' buffers in one pass
    each, and the spectral product, with 1/N folded in, writes the inverse's input in
    one pass; the NumPy twin folds 1/N into the smaller operand's fill instead. Large
    batches of transforms go through :func:`_fft_rows` (chunks of rows kept in the
    cache) and give a C-contiguous result. ``recipe``: :func:`fft_recipe` of this very
    layout (with ``lens`` and ``spectra is not None``), worked out by an earlier call."""
    k = _native.kernels()
    if recipe is None or recipe.native != (k is not None):
        recipe = fft_recipe(p, backend, workers, lens, spectra is not None)
    lay = recipe.lay
    rc = _row_chunks(p, lay, backend, k) if recipe.batch else None
    if rc is not None:
        return _fft_rows(k, p, lay, rc, backend, workers, spectra)
    fx, fh, inv = _plan_trio(backend, lay.keys, recipe.trio_key)
    if k is not None and lay.native_product:
        _copy_in(k if recipe.pad_x else None, fx.input, p.x, lay.fill_x, recipe.threads_x)
        if spectra is None:
            _copy_in(k if recipe.pad_h else None, fh.input, p.h, lay.fill_h, recipe.threads_h)
            H = fh.execute()
        else:
            H = _kernel_spectrum(fh, p.h, None, spectra, recipe.spectrum_key, lay.fill_h, k,
                                 workers)
        # (the layout checked the shapes; the core checks dtypes and contiguity)
        k.cmul_scaled_to(inv.input, fx.execute(), H, lay.scale, recipe.threads_p)
    else:
        _fill(fx.input, p.x, lay.scale_x, lay.fill_x)
        H = _kernel_spectrum(fh, p.h, lay.scale_h, spectra, lay.spectrum_key, lay.fill_h)
        X = fx.execute()
        np.multiply(X, H, out=inv.input)
    if inv.input.size < FRESH_MIN:
        return _copy_out(inv.execute()[lay.keep], out_dtype)
    y = inv.execute_fresh()
    kept = y[lay.keep]
    return kept if 2 * kept.size >= y.size else _copy_out(kept, out_dtype)


def _copy_out(kept: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    """A C-contiguous copy of ``kept``, cast to ``dtype`` when given."""
    return kept.copy() if dtype is None else kept.astype(dtype, order="C")


def _chunk_axis(a: int, axis: int) -> int:
    """Index of axis ``a`` in overlap-add's chunk layout (C blocks inserted at ``axis``)."""
    return a if a < axis else a + 1


class OARecipe(NamedTuple):
    """What :func:`oaconv` works out before it touches the data, for one layout of the
    problem (shapes, dtypes, window, cut axis, block, workers, backend)."""
    swap: bool              # the second operand is the longer along the cut axis
    n: int                  # samples of the longer operand along it, taps of the other
    m: int
    L: int                  # transform length B + m - 1
    nb: int                 # blocks
    C: int                  # blocks per chunk
    cdt: np.dtype           # transform dtype
    cplx: bool
    others: list            # the other convolved axes and their transform lengths
    other_lens: dict
    fft_axes: tuple         # transformed axes of the chunk layout
    sx: tuple               # chunk layouts of x, h and the product
    sh: tuple
    so: tuple
    keys: tuple             # PlanKeys of the x transform, the h transform, the inverse
    trio_key: tuple         # the three plans together in the plan cache
    scale: float            # 1/N
    native: tuple | None    # _oa_native_layout, or None


def oa_recipe(p: Problem, backend, workers: int, axis: int, block: int) -> OARecipe:
    """The :class:`OARecipe` of overlap-add along ``axis`` with blocks of ``block``."""
    x, h = p.x, p.h
    swap = x.shape[axis] < h.shape[axis]
    if swap:
        x, h = h, x
    n, m = x.shape[axis], h.shape[axis]
    B = block
    L = B + m - 1
    nb = -(-n // B)
    cdt, cplx = compute_dtype(p, L * nb * max(x.size, h.size) // max(n, 1))
    ndim = x.ndim
    others = [a for a in p.axes if a != axis]
    other_lens = {a: axis_length(p, a, backend, cplx) for a in others}


    # chunk layout: x.shape with `axis` replaced by (C, L)
    row = math.prod(other_lens.get(a, x.shape[a]) for a in range(ndim) if a != axis) * L
    C = oa_chunk_blocks(nb, row * cdt.itemsize)
    fft_axes = tuple(sorted([_chunk_axis(a, axis) for a in others] + [axis + 1]))

    def layout(shape, c):
        s = [other_lens.get(a, shape[a]) for a in range(ndim)]
        return tuple(s[:axis] + [c, L] + s[axis + 1:])

    sx, sh = layout(x.shape, C), layout(h.shape, 1)
    so = tuple(max(i, j) if k not in fft_axes and k != axis else i
               for k, (i, j) in enumerate(zip(sx, sh)))
    keys = _plan_keys(sx, sh, so, fft_axes, cdt, cplx, workers, "o")
    scale = 1.0 / (L * math.prod(other_lens.values()))
    return OARecipe(swap, n, m, L, nb, C, cdt, cplx, others, other_lens, fft_axes, sx, sh,
                    so, keys, (backend.name, "oa3", keys), scale,
                    _oa_native_layout(p, x, h, axis, sx, sh, so))


class NonFiniteInput(Exception):
    """Raised by :func:`oaconv` with ``check_finite`` when an operand holds NaN or inf
    (overlap-add would spread each over a whole block); the caller picks another plan."""


def oaconv(p: Problem, backend, workers: int, axis: int, block: int,
           spectra: dict | None = None, recipe: OARecipe | None = None,
           check_finite: bool = False) -> np.ndarray:
    """Overlap-add along ``axis`` with blocks of ``block`` samples of the longer operand;
    ``recipe``: :func:`oa_recipe` of this very layout, worked out by an earlier call.
    With ``check_finite``, raise :class:`NonFiniteInput` if an operand holds NaN or inf:
    the compiled path checks the long operand as its block fill copies it (no pass of its
    own), the NumPy path checks both first."""
    if recipe is None:
        recipe = oa_recipe(p, backend, workers, axis, block)
    x, h = p.x, p.h
    if recipe.swap:
        x, h = h, x
        spectra = None               # the kept spectrum is the kernel's, not this one
    if check_finite and not all_finite(h):
        raise NonFiniteInput
    n, m, L, nb, C = recipe.n, recipe.m, recipe.L, recipe.nb, recipe.C
    B = block
    cdt, cplx, fft_axes = recipe.cdt, recipe.cplx, recipe.fft_axes
    others, so, scale = recipe.others, recipe.so, recipe.scale
    ndim = x.ndim


    fx, fh, inv = _plan_trio(backend, recipe.keys, recipe.trio_key)
    h1 = h.reshape(h.shape[:axis] + (1,) + h.shape[axis:])     # one block of the kernel

    k = _native.kernels()
    if k is not None:
        native = recipe.native
        if native is not None:
            H = _kernel_spectrum(fh, h1, None, spectra,
                                 ("oa", recipe.sh, cdt.str, fft_axes, "native"), None, k,
                                 workers)
            # (H may be fh's own output buffer: nothing executes fh again in this call,
            # and the plans are this thread's own)
            return _oa_native(k, p, x, H, fx, inv, native, axis, B, L, nb, C, scale,
                              workers, backend, recipe.keys, check_finite,
                              blocks=OA_FFTW_BLOCKS and len(fft_axes) == 1 and not cplx)
    if check_finite and not all_finite(x):
        raise NonFiniteInput

    # Kernel spectrum, once per call (copied: the plan's output buffer is reused).
    H = _kernel_spectrum(fh, h1, scale, spectra, ("oa", recipe.sh, cdt.str, fft_axes))
    if spectra is None:
        H = H.copy()                 # the plan's output buffer is reused

    # Output accumulator along `axis`: blocks' heads are assigned, tails carried.
    out_other = []
    crop = []
    for a in range(ndim):
        if a == axis:
            continue
        if a in others:
            out_other.append(p.stop[a] - p.start[a])
            crop.append(slice(p.start[a], p.stop[a]))
        else:
            out_other.append(so[_chunk_axis(a, axis)])
            crop.append(slice(None))
    acc_len = nb * B + m - 1
    acc_shape = tuple(out_other[:axis] + [acc_len] + out_other[axis:])
    acc = np.empty(acc_shape, dtype=cdt if cplx else real_of(cdt))
    tail = m - 1

    def along(arr, sl):  # index `sl` on the chunk layout's C and L axes, crop the others
        full = list(crop[:axis]) + list(sl) + list(crop[axis:])
        return arr[tuple(full)]

    def acc_blocks(k0, c, lo, hi):  # view of acc blocks k0..k0+c, samples lo..hi of each
        seg = acc[(slice(None),) * axis + (slice(k0 * B, (k0 + c) * B),)]
        seg = seg.reshape(seg.shape[:axis] + (c, B) + seg.shape[axis + 1:])
        return seg[(slice(None),) * axis + (slice(None), slice(lo, hi))]

    carry = None
    xin = fx.input
    for k0 in range(0, nb, C):
        c = min(C, nb - k0)
        seg = x[(slice(None),) * axis + (slice(k0 * B, min(n, (k0 + c) * B)),)]
        got = seg.shape[axis]
        # fill blocks: whole blocks by reshape, the last partial block padded
        whole = got // B
        xin[(slice(None),) * axis + (slice(None), slice(B, None))] = 0
        if c < C:
            xin[(slice(None),) * axis + (slice(c, None),)] = 0
        for a in others:
            sl = [slice(None)] * xin.ndim
            sl[_chunk_axis(a, axis)] = slice(x.shape[a], None)
            xin[tuple(sl)] = 0
        core = tuple(slice(0, x.shape[a]) if a in others else slice(None)
                     for a in range(ndim) if a != axis)
        if whole:
            src = seg[(slice(None),) * axis + (slice(0, whole * B),)]
            src = src.reshape(src.shape[:axis] + (whole, B) + src.shape[axis + 1:])
            dst = xin[core[:axis] + (slice(0, whole), slice(0, B)) + core[axis:]]
            np.copyto(dst, src, casting="unsafe")
        if got > whole * B:
            rest = seg[(slice(None),) * axis + (slice(whole * B, got),)]
            r = got - whole * B
            dst = xin[core[:axis] + (whole, slice(0, B)) + core[axis:]]
            dst[(slice(None),) * axis + (slice(r, None),)] = 0
            np.copyto(dst[(slice(None),) * axis + (slice(0, r),)], rest, casting="unsafe")
        X = fx.execute()
        np.multiply(X, H, out=inv.input)
        Y = inv.execute()
        # heads: assign; tails: add onto the next block's head
        np.copyto(acc_blocks(k0, c, 0, B), along(Y, (slice(0, c), slice(0, B))))
        if carry is not None:
            head = acc[(slice(None),) * axis + (slice(k0 * B, k0 * B + tail),)]
            head += carry
        if tail:
            if c > 1:
                nxt = acc_blocks(k0 + 1, c - 1, 0, tail)
                nxt += along(Y, (slice(0, c - 1), slice(B, L)))
            carry = along(Y, (slice(c - 1, c), slice(B, L)))
            carry = carry.reshape(carry.shape[:axis] + carry.shape[axis + 1:]).copy()
    if tail:
        end = acc[(slice(None),) * axis + (slice(nb * B, nb * B + tail),)]
        np.copyto(end, carry)
    # the kept window along `axis`, and 'same' crops of broadcast (non-convolved) axes
    sl = tuple(slice(None) if a in others else slice(p.start[a], p.stop[a])
               for a in range(ndim))
    return acc[sl]


def _oa_native_layout(p: Problem, x: np.ndarray, h: np.ndarray, axis: int, sx: tuple,
                      sh: tuple, so: tuple) -> tuple | None:
    """(G, W, Ws, w0, Wo, per_line) of the compiled overlap-add, or None where its loops
    do not apply: x seen as (G, n, Ws) lines, the chunk buffer as (G, C, L, W), the
    output as (G, E, Wo) taking columns w0 .. w0 + Wo. Needs at most one axis after the
    cut one longer than 1, one kernel for all G lines or one per line (``per_line``: h's
    leading axes are x's, as a stereo impulse response for a stereo signal), and no crop
    of the leading axes."""
    rest_buf = sx[axis + 2:]
    if sum(d > 1 for d in rest_buf) > 1 or so != sx:
        return None
    per_line = math.prod(sh[:axis]) != 1
    if per_line and (tuple(h.shape[:axis]) != tuple(x.shape[:axis])
                     or any(a in p.axes for a in range(axis))
                     or sh[axis + 2:] != sx[axis + 2:]):
        return None             # (leading axes transformed too: not lines)
    if x.dtype.char not in _NATIVE_SRC or not x.dtype.isnative or sx[axis + 2:] != so[axis + 2:]:
        return None
    for a in range(axis):
        if p.start[a] != 0 or p.stop[a] != x.shape[a]:
            return None
    G = math.prod(x.shape[:axis])
    W = math.prod(rest_buf)
    Ws = math.prod(x.shape[axis + 1:])
    w0 = sum(p.start[a] for a in range(axis + 1, x.ndim))     # one of them may be > 0
    Wo = math.prod(p.stop[a] - p.start[a] for a in range(axis + 1, x.ndim))
    if w0 + Wo > W:
        return None
    return G, W, Ws, w0, Wo, per_line


def _product(k, out: np.ndarray, X: np.ndarray, H: np.ndarray, scale: float, G: int,
             per_line: bool, threads: int) -> None:
    """out = X H scale for a chunk: X and out the G lines' spectra (each C blocks), H the
    kernel's, for all lines or (``per_line``) one per line."""
    if not per_line:
        k.cmul_scaled_to(out, X, H, scale, threads)
        return
    hh = H.reshape(G, 1, -1)
    F = hh.shape[2]
    o, x = out.reshape(G, -1, F), X.reshape(G, -1, F)
    for g in range(G):
        k.cmul_scaled_to(o[g], x[g], hh[g], scale, threads)


# Real overlap-add along one axis runs as one call into the core, block by block, where the
# backend gives FFTW's one-block plans (pyFFTW); False keeps the chunked loop below (tests).
OA_FFTW_BLOCKS = True
# ... on the core's threads from this many transformed points on. Measured (float64, the core
# called directly, medians): 2 threads against 1 took 1.6-2.5x the time up to 25k points
# (waking a sleeping worker costs 25-40 us here), 0.91-1.15x at 57-62k, 0.80-0.97x at
# 113-124k.
OA_BLOCKS_PARALLEL_MIN_POINTS = 1 << 16

# Overlap-add runs its chunks side by side (one thread each, one-thread plans) from this many
# transformed points on: with the transforms threaded inside each chunk instead, two workers
# gained 0-8% over one (1e7 x 301 float64, 2560-point blocks: 54.0 against 57.0 ms).
OA_PARALLEL_MIN_POINTS = 1 << 17


def _oa_native(k, p: Problem, x: np.ndarray, H: np.ndarray, fx, inv, layout: tuple,
               axis: int, B: int, L: int, nb: int, C: int, scale: float,
               workers: int, backend, keys: tuple, check_finite: bool = False,
               blocks: bool = False) -> np.ndarray:
    """Overlap-add with the compiled core.

    With FFTW's own functions at hand (``blocks``: real transforms along the one axis, and
    ``backend.block_plans`` gives one-block plans), the whole convolution is one call into the
    core, block by block on buffers that stay in cache (``_core.oa_fftw``). Otherwise, per
    chunk of C blocks, one pass fills the
    blocks (copy, cast, zero padding), one pass forms the spectral product with the scale,
    and one pass adds each block's head and the previous block's tail straight into the
    kept window of the output; only the transforms run between them.

    With several workers and chunks (and the output in the transforms' dtype), the chunks
    run side by side on threads of their own, each with one-thread plans: a chunk leaves its
    first block's head without the previous chunk's tail and keeps its own last tail, and
    those tails are added in at the end, one addition per sample as in the sequential order,
    so the result is the same for any number of workers.

    ``check_finite``: raise :class:`NonFiniteInput` as soon as a block fill finds NaN or
    inf in ``x`` (the fill checks what it copies)."""
    G, W, Ws, w0, Wo, per_line = layout
    n = x.shape[axis]
    x3 = np.ascontiguousarray(x).reshape(G, n, Ws)
    ydt = fx.input.dtype                 # the inverse gives back the forward's input type
    rdt = p.result_dtype
    # write the result's precision straight away when it is lower (float32 problems
    # transformed in double precision); integers are rounded by the caller
    odt = rdt if rdt.kind in "fc" and rdt.itemsize < ydt.itemsize \
        and rdt.kind == ydt.kind else ydt
    s, e = p.start[axis], p.stop[axis]
    block_plans = getattr(backend, "block_plans", None) \
        if blocks and odt.kind == "f" and odt.itemsize >= 4 else None
    bp = block_plans(L, W, ydt) if block_plans is not None else None
    if bp is not None:
        threads = int(workers) if G * nb * L * W >= OA_BLOCKS_PARALLEL_MIN_POINTS else 1
        out = fresh_array((G, e - s, Wo), odt)
        Hb = np.ascontiguousarray(H).reshape(G if per_line else 1, L // 2 + 1, W)
        if not k.oa_fftw(out, x3, Hb, L, B, s, w0, per_line, scale, bp.addresses, threads,
                         check_finite):
            raise NonFiniteInput
        return out.reshape(p.out_shape)
    nchunks = -(-nb // C)
    threads = min(int(workers), nchunks)
    if threads > 1 and odt == ydt and getattr(backend, "build", None) is not None \
            and G * nb * L * W >= OA_PARALLEL_MIN_POINTS:
        # not populated: the threads share the page faults of new memory (1e7 x 301
        # float64: 54 ms in all, against 60 ms with the pages mapped first on one thread by
        # _native.empty); a large output reuses a freed block when one is kept
        out = fresh_array((G, e - s, Wo), odt)
        if not _oa_side_by_side(k, x3, out, H, backend, keys, G, W, w0, Wo, B, L, nb, C,
                                s, e, scale, threads, check_finite, per_line):
            raise NonFiniteInput
        return out.reshape(p.out_shape)
    out = _native.empty((G, e - s, Wo), odt)
    xin = fx.input.reshape(G, C, L, W)
    carry = np.empty((G, L - B, W), ydt)
    tx = native_threads(xin.size, workers)
    tp = native_threads(inv.input.size, workers)
    for k0 in range(0, nb, C):
        c = min(C, nb - k0)
        if not k.oa_fill(xin, x3, k0, B, tx) and check_finite:
            raise NonFiniteInput
        X = fx.execute()
        _product(k, inv.input, X, H, scale, G, per_line, tp)
        Y = inv.execute()
        k.oa_add(out, Y.reshape(G, C, L, W), carry, c, k0, B, s, w0, k0 + c == nb, tx)
    return out.reshape(p.out_shape)


def _oa_side_by_side(k, x3, out, H, backend, keys, G, W, w0, Wo, B, L, nb, C, s, e, scale,
                     threads, check_finite: bool = False, per_line: bool = False) -> bool:
    """The chunks of :func:`_oa_native` on ``threads`` threads (see there). With
    ``check_finite``, the threads take no more chunks after a block fill finds NaN or
    inf in ``x3``, and False is returned (``out`` is then incomplete); else True."""
    trios = _thread_trios(backend, keys, threads, "s")
    nchunks = -(-nb // C)
    T = L - B
    carries = np.empty((nchunks, G, T, W), trios[0][0].input.dtype)
    chunks = iter(range(0, nb, C))      # next() on it is atomic under the GIL
    bad = []

    def work(t: int) -> None:
        fx, _, inv = trios[t]
        xin = fx.input.reshape(G, C, L, W)
        for k0 in chunks:
            c = min(C, nb - k0)
            if bad or (not k.oa_fill(xin, x3, k0, B, 1) and check_finite):
                bad.append(k0)
                return
            X = fx.execute()
            _product(k, inv.input, X, H, scale, G, per_line, 1)
            Y = inv.execute()
            k.oa_add(out, Y.reshape(G, C, L, W), carries[k0 // C], c, k0, B, s, w0,
                     k0 + c == nb, 1, carry_in=False)

    _on_threads(work, threads)
    if bad:
        return False
    if T == 0:
        return True
    for j in range(1, nchunks):       # each chunk's first T samples: + the last chunk's tail
        q0 = j * C * B
        lo, hi = max(q0, s), min(q0 + T, e)
        if lo < hi:
            out[:, lo - s:hi - s, :] += carries[j - 1][:, lo - q0:hi - q0, w0:w0 + Wo]
    return True
