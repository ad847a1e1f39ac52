"""The dask adapter: sigconv's engine and image filters on dask arrays.

This is the only module that imports dask, and only inside the functions below that
build graphs; :func:`is_dask` recognises a dask array without importing anything, so
numpy callers never load dask. The public functions (``sigconv.convolve`` and friends,
``sigconv.image.gaussian`` and friends) check their inputs with :func:`is_dask` and hand
dask arrays here; the graphs built here call those same public functions on numpy
blocks, so every block is planned and computed by sigconv as in memory. Graphs are
built with dask's public API (``dask.array.Array`` over a ``HighLevelGraph``,
``map_blocks``); dask's schedulers (threads by default, or a ``dask.distributed``
client) run them.

Convolution along chunked axes is a chunk-level overlap-add. Input block ``I`` (any
chunking) convolved in full with the whole kernel covers, along each convolved axis,
the full-result range ``[s_I, e_I + m - 1)``: its own span plus a tail of ``m - 1``. An
output block takes, from every input block whose range meets its own, the overlapping
slice, and adds them up. The tail may reach any number of following blocks, so any
kernel length works, including kernels longer than a chunk or than the whole signal.
Each input block is convolved once; the slices an output block takes from another
block's result (its tails) are copied out by small tasks of their own, so a distributed
worker fetches the tail, not the whole neighbouring result.

Image filters (H, W[, C]) run per block of the image's own chunks: each block is
filtered, by the public numpy filter, on a region extended by the kernel's reach, and
the extension is cropped off. Along an image edge the region stops at the edge and the
filter's own border rule pads it, as in memory; for ``border='wrap'`` the region is
gathered across the image (the rows and columns beyond an edge come from the other
side), so every border mode gives the in-memory pixels.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable

import numpy as np

from ._errors import InputError, InputTypeError

# A dask kernel (the smaller operand when both are dask arrays) is computed into memory
# when it holds at most this many bytes; beyond it sigconv refuses with an InputError.
KERNEL_MEMORY_LIMIT = 256 << 20


def is_dask(a) -> bool:
    """Whether ``a`` is a dask collection with a graph, without importing dask (a
    module-name check, then the collection protocol's ``__dask_graph__``)."""
    return type(a).__module__.startswith("dask.") and hasattr(a, "__dask_graph__")


def _da():
    try:
        import dask.array as da
    except ImportError as exc:        # an object from dask without dask.array: unlikely
        from ._errors import MissingExtraError
        raise MissingExtraError("dask arrays need dask.array: pip install 'sigconv[dask]'"
                                ) from exc
    return da


def _token(*parts) -> str:
    from dask.base import tokenize
    return tokenize(*parts)


# --------------------------------------------------------------------------- engine


def convolve(fn: Callable, in1, in2, mode: str, axes, *, fft_style: bool,
             options: dict):
    """``fn(in1, in2, mode, axes=axes, **options)`` (a public engine function) with one
    or both operands dask arrays, as a lazy dask array.

    The dask operand is cut along its chunks; the other one (a dask array too only if
    it is the smaller, computed into memory then, up to ``KERNEL_MEMORY_LIMIT``) is
    the kernel every block is convolved with.
    """
    da = _da()
    from .engine import _exact
    from .engine._validate import as_operand, check_mode, prepare

    check_mode(mode)
    d1, d2 = is_dask(in1), is_dask(in2)
    if d1 and d2:
        small = 1 if math.prod(in1.shape) < math.prod(in2.shape) else 2
        kernel = in1 if small == 1 else in2
        nbytes = math.prod(kernel.shape) * np.dtype(kernel.dtype).itemsize
        if nbytes > KERNEL_MEMORY_LIMIT:
            raise InputError(
                f"both operands are dask arrays and the smaller, in{small} of shape "
                f"{kernel.shape} ({nbytes / 2**20:.0f} MiB), is larger than the "
                f"{KERNEL_MEMORY_LIMIT >> 20} MiB a dask kernel may take in memory; "
                f"pass it as a numpy array, or chunk the other operand only")
        if small == 1:
            in1 = np.asarray(in1.compute())
            d1 = False
        else:
            in2 = np.asarray(in2.compute())
            d2 = False
    sig = in1 if d1 else in2
    _known_chunks(sig, "in1" if d1 else "in2")
    ker = as_operand(in2 if d1 else in1, "in2" if d1 else "in1")
    if np.dtype(sig.dtype).kind not in "biufc":
        raise InputTypeError(f"{'in1' if d1 else 'in2'} must be a numeric dask array "
                             f"(bool, integer, float or complex), not dtype "
                             f"{np.dtype(sig.dtype).str!r}")
    # Shape, mode and axes checks, the output window and the dtype policy, by the
    # engine's own validation on zero-stride stand-ins (no memory).
    stand = np.broadcast_to(np.zeros((), sig.dtype), sig.shape)
    p, early = prepare(stand if d1 else ker, ker if d1 else stand, mode, axes,
                       fft_style=fft_style)
    if p is None:                      # 0-d operands, or empty ones for the fft-style
        if sig.ndim == 0:
            return sig * ker
        return da.from_array(np.asarray(early))
    rdt = p.result_dtype
    if fft_style and not p.axes:       # every convolved axis of length 1: a product
        rdt = np.result_type(np.dtype(sig.dtype), ker.dtype)
    dtype, cast = rdt, False
    if not fft_style and rdt.kind in "iu":
        dtype = _integer_dtype(sig, ker, p, _exact)
        cast = dtype != rdt
    user_axes = None if axes is None else [a % sig.ndim for a in np.atleast_1d(axes)]
    return _overlap_add(fn, sig, ker, p, dtype, cast, user_axes, options, da)


def _known_chunks(a, name: str) -> None:
    if any(math.isnan(c) for sizes in a.chunks for c in sizes):
        raise InputError(f"{name} has chunks of unknown size ({a.chunks}); call its "
                         f"compute_chunk_sizes() first")


def _integer_dtype(sig, ker: np.ndarray, p, _exact) -> np.dtype:
    """The result dtype of an exact integer convolution, decided before computing.

    In memory the engine returns ``np.result_type`` when a bound on |output| (from
    the dtypes, else from the data) fits it, and otherwise the narrowest wider type
    holding the actual result's range. Here the bound is taken over the whole dask
    operand (its min and max, computed now: one pass over it) and the kernel; when
    it does not fit, the result takes the narrowest wider type holding the *bound*,
    which may be wider than the in-memory dtype, with a RuntimeWarning. Values are
    the same.
    """
    rdt = p.result_dtype
    terms = _exact.max_terms(p)
    bound = terms * _exact.dtype_maxabs(np.dtype(sig.dtype)) * _exact.dtype_maxabs(ker.dtype)
    if _exact.fits(bound, rdt):
        return rdt
    import dask
    lo_s, hi_s = (int(v) for v in dask.compute(sig.min(), sig.max()))
    lo_k, hi_k = (int(ker.min()), int(ker.max())) if ker.dtype.kind != "b" else (0, 1)
    if np.dtype(sig.dtype).kind == "b":
        lo_s, hi_s = min(lo_s, 0), max(hi_s, 0)
    bound = terms * max(hi_s, -lo_s) * max(hi_k, -lo_k)
    if _exact.fits(bound, rdt):
        return rdt
    negative = lo_s < 0 or lo_k < 0
    lo, hi = (-bound if negative else 0), bound
    names = ([np.int16, np.int32, np.int64] if negative or rdt.kind == "i"
             else [np.uint16, np.uint32, np.uint64])
    for cand in map(np.dtype, names):
        if cand.itemsize > rdt.itemsize and np.iinfo(cand).min <= lo \
                and hi <= np.iinfo(cand).max:
            break
    else:
        raise InputError(f"the exact integer result may reach {bound} in magnitude, "
                         f"beyond 64-bit integers; convert the dask array to float "
                         f"(or compute it into memory, where sigconv returns Python "
                         f"integers)")
    warnings.warn(f"the exact integer result may reach {bound} in magnitude, which does "
                  f"not fit {rdt}; the dask result is {cand} (in memory the dtype follows "
                  f"the actual result's range, so it may be narrower there)",
                  RuntimeWarning, stacklevel=4)
    return cand


def _out_chunks(chunks: tuple[int, ...], length: int) -> tuple[int, ...]:
    """The input's chunks cut to ``length``, or extended by chunks of the largest
    input chunk when the output is longer (the tail of a 'full' convolution)."""
    out, total = [], 0
    for c in chunks:
        if total >= length:
            break
        out.append(min(c, length - total))
        total += out[-1]
    step = max(chunks)
    while total < length:
        out.append(min(step, length - total))
        total += out[-1]
    return tuple(out) or (0,)


def _overlap_add(fn, sig, ker, p, dtype, cast, user_axes, options, da):
    from dask.highlevelgraph import HighLevelGraph

    nd = sig.ndim
    # per axis: input block spans, each block's range in the full result, the kernel
    # slice each block needs, and the output window/chunks
    in_ranges, ker_slices, out_chunks, out_bounds = [], [], [], []
    for a in range(nd):
        n, m = sig.shape[a], ker.shape[a]
        starts = np.cumsum((0,) + sig.chunks[a][:-1]).tolist()
        spans = [(s, s + c) for s, c in zip(starts, sig.chunks[a], strict=True)]
        if a in p.axes:
            ranges = [(s, e + m - 1) for s, e in spans]
            kslices = [slice(None)] * len(spans)
        elif n == 1 and m > 1:                   # the kernel broadcasts the block out
            ranges = [(0, m)]
            kslices = [slice(None)]
        else:
            ranges = spans
            kslices = [slice(s, e) if m == n and m > 1 else slice(None) for s, e in spans]
        in_ranges.append(ranges)
        ker_slices.append(kslices)
        length = p.stop[a] - p.start[a]
        oc = (length,) if (n == 1 and m > 1 and a not in p.axes) else \
            _out_chunks(sig.chunks[a], length)
        out_chunks.append(oc)
        ostarts = np.cumsum((0,) + oc[:-1]).tolist()
        out_bounds.append([(p.start[a] + s, p.start[a] + s + c) for s, c in
                           zip(ostarts, oc, strict=True)])

    token = _token(sig.name, ker, p.mode, p.axes, str(dtype), fn.__name__, options,
                   user_axes, cast)
    conv_name, piece_name, out_name = (f"sigconv-{w}-{token}" for w in
                                       ("block", "tail", "convolve"))
    ker_key = f"sigconv-kernel-{token}"
    dsk: dict = {ker_key: ker}
    for index in itertools.product(*(range(len(r)) for r in in_ranges)):
        kslice = tuple(ker_slices[a][i] for a, i in enumerate(index))
        dsk[(conv_name,) + index] = (_block_convolve, (sig.name,) + index, ker_key, kslice,
                                     fn, user_axes, options, dtype, cast)

    # For every axis, the input blocks meeting each output block, with the slices
    for jdx in itertools.product(*(range(len(b)) for b in out_bounds)):
        per_axis = []
        for a, j in enumerate(jdx):
            o0, o1 = out_bounds[a][j]
            hits = []
            for i, (r0, r1) in enumerate(in_ranges[a]):
                lo, hi = max(o0, r0), min(o1, r1)
                if lo < hi:
                    hits.append((i, slice(lo - r0, hi - r0), slice(lo - o0, hi - o0)))
            per_axis.append(hits)
        shape = tuple(out_bounds[a][j][1] - out_bounds[a][j][0] for a, j in enumerate(jdx))
        parts = []
        for combo in itertools.product(*per_axis):
            idx = tuple(h[0] for h in combo)
            src = tuple(h[1] for h in combo)
            dst = tuple(h[2] for h in combo)
            size = math.prod(s.stop - s.start for s in dst)
            parts.append((size, idx, src, dst))
        parts.sort(key=lambda t: -t[0])
        pieces = []
        for k, (_, idx, src, dst) in enumerate(parts):
            if k == 0:       # the largest part: sliced by the output task itself
                pieces.append([(conv_name,) + idx, src, dst])
            else:            # tails from other blocks: copied out where they were made
                key = (piece_name,) + idx + jdx
                dsk[key] = (_take, (conv_name,) + idx, src)
                pieces.append([key, None, dst])
        dsk[(out_name,) + jdx] = (_assemble, shape, dtype, pieces)

    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[sig])
    return da.Array(graph, out_name, chunks=tuple(out_chunks),
                    meta=np.empty((0,) * nd, dtype))


def _block_convolve(block, ker, kslice, fn, axes, options, dtype, cast):
    """One input block convolved in full with the whole kernel, by ``fn``."""
    block = np.asarray(block)
    k = ker[kslice]
    if cast:
        block, k = block.astype(dtype), k.astype(dtype)
    out = fn(block, k, "full", axes=axes, **options)
    return out.astype(dtype, copy=False)


def _take(result, src):
    """A slice of a block's result, copied (a tail sent on to another output block)."""
    return np.array(result[src], copy=True)


def _assemble(shape, dtype, pieces):
    """An output block: its largest part, then every tail added in place, in ``dtype``
    (exact for integers: the engine's bound over the whole array fits ``dtype``)."""
    first, src, dst = pieces[0]
    part = first[src]
    if part.shape == tuple(shape):
        out = np.array(part, dtype=dtype, copy=True)
    else:
        out = np.zeros(shape, dtype)
        out[dst] = part
    for piece, _, dst in pieces[1:]:
        target = out[dst]
        np.add(target, piece, out=target, casting="unsafe")
    return out


def pad_constant(a, widths, value):
    """``a`` (dask or numpy) padded with ``value`` as a dask array (dask.array.pad's
    constant mode is exact for any width; its 'wrap' and 'symmetric' are not once the
    padding is wider than the array, so those are made by indexing instead)."""
    da = _da()
    return da.pad(da.asarray(a), widths, mode="constant", constant_values=value)


# --------------------------------------------------------------------------- images


def image_filter(fn: Callable, image, args: tuple, kwargs: dict, *, reach: tuple[int, int],
                 border: str):
    """``fn(image, *args, **kwargs)`` (a public image filter) of a dask image (H, W[, C])
    as a lazy dask array with the image's chunks (the channels in one chunk).

    Every argument is checked now, by ``fn`` on a 1x1 image of the same dtype and
    channels, which also gives the output's dtype and channels. Each block is then
    filtered by ``fn`` (one thread unless ``workers`` is given) on its region extended
    by ``reach`` (see :func:`_regions`) and cropped.
    """
    image = _image_operand(image)
    options = dict(kwargs)
    probe = fn(np.zeros((1, 1) + image.shape[2:], image.dtype), *args, **options)
    if options.get("workers") is None:
        options["workers"] = 1                   # the blocks run in parallel

    def block_fn(region):
        return fn(region, *args, **options)

    return _regions(block_fn, image, reach, border, probe.dtype, probe.shape[2:],
                    _token(fn.__module__, fn.__name__, args, options))


def image_stretch(raw: Callable, peak: Callable, finish: Callable, image, *,
                  reach: tuple[int, int], border: str, token: tuple):
    """A filter whose output is scaled by a global statistic (edges' 'stretch'): the
    ``raw`` response block by block (as :func:`image_filter`), ``peak`` of each block
    reduced to the maximum over the image (lazily), then ``finish(raw_block,
    image_block, peak)`` block by block. ``token`` names everything ``raw`` depends on
    (its options), so that equal calls share keys and different ones never do."""
    da = _da()
    image = _image_operand(image)
    probe = raw(np.zeros((3, 3) + image.shape[2:], image.dtype))
    response = _regions(raw, image, reach, border, probe.dtype, probe.shape[2:],
                        _token("stretch", raw.__module__, raw.__qualname__, token))
    peaks = da.map_blocks(lambda b: np.full((1,) * b.ndim, peak(b), np.float64), response,
                          chunks=tuple((1,) * len(c) for c in response.chunks),
                          dtype=np.float64)
    top = peaks.max()
    final = finish(probe, np.zeros((3, 3) + image.shape[2:], image.dtype), 1.0)
    return da.map_blocks(finish, response, image, top, dtype=final.dtype,
                         chunks=image.chunks, meta=np.empty((0,) * image.ndim, final.dtype))


def _image_operand(image):
    if image.ndim not in (2, 3):
        raise InputError(f"image must be (H, W) or (H, W, C), not shape {image.shape}")
    _known_chunks(image, "image")
    if np.dtype(image.dtype).kind not in "buif":
        raise InputTypeError(f"image must hold real numbers, not dtype {image.dtype}")
    if math.prod(image.shape) == 0:
        raise InputError(f"image is empty (shape {image.shape})")
    if image.ndim == 3 and len(image.chunks[2]) > 1:
        image = image.rechunk({2: -1})        # a pixel's channels together (alpha, luma)
    return image


def _runs(index: np.ndarray, starts: np.ndarray, sizes) -> list[tuple[int, slice, slice]]:
    """``index`` (source positions along one axis) as runs ``(chunk, slice in the
    chunk, slice in the region)`` of consecutive positions within one chunk."""
    chunk = np.searchsorted(starts, index, side="right") - 1
    runs = []
    k = 0
    while k < index.size:
        e = k + 1
        while e < index.size and chunk[e] == chunk[k] and index[e] == index[e - 1] + 1:
            e += 1
        c = int(chunk[k])
        lo = int(index[k] - starts[c])
        runs.append((c, slice(lo, lo + e - k), slice(k, e)))
        k = e
    return runs


def _regions(block_fn: Callable, image, reach, border: str, dtype, channels, token):
    """Output block (i, j) = ``block_fn(region)`` cropped, where region is the image's
    pixels within ``reach`` of the block: cut at the image's edges (``block_fn``
    pads there by its own border rule, exactly as in memory), except for 'wrap',
    whose pixels beyond an edge are gathered from the other side (as numpy.pad's
    'wrap' makes them), unless the region spans the whole axis anyway: then the whole
    axis is given and ``block_fn`` wraps it itself (folding a kernel longer than the
    image as in memory)."""
    da = _da()
    from dask.highlevelgraph import HighLevelGraph

    name = f"sigconv-image-{token}-{_token(image.name, reach, border, str(dtype))}"
    maps = []                          # per axis: per block (source index, crop start)
    for axis in (0, 1):
        n, r = image.shape[axis], int(reach[axis])
        starts = np.cumsum((0,) + image.chunks[axis][:-1])
        per_block = []
        wrapped = np.pad(np.arange(n), r, mode="wrap") if border == "wrap" and r else None
        for s, c in zip(starts.tolist(), image.chunks[axis], strict=True):
            if wrapped is not None and (s - r > 0 or s + c + r < n):
                index, crop = wrapped[s:s + c + 2 * r], r
            else:
                lo, hi = max(0, s - r), min(n, s + c + r)
                index, crop = np.arange(lo, hi), s - lo
            per_block.append((_runs(index, starts, image.chunks[axis]), index.size, crop, c))
        maps.append(per_block)
    extra = (0,) * (image.ndim - 2)
    dsk = {}
    for i, (rows, height, top, h) in enumerate(maps[0]):
        for j, (cols, width, left, w) in enumerate(maps[1]):
            parts = [[(image.name, ri, cj) + extra, rs, rd, cs, cd]
                     for ri, rs, rd in rows for cj, cs, cd in cols]
            dsk[(name, i, j) + extra] = (_region_block, block_fn, parts, (height, width),
                                         image.shape[2:], np.dtype(image.dtype),
                                         (top, left), (h, w))
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[image])
    chunks = image.chunks[:2] + tuple((n,) for n in channels)
    return da.Array(graph, name, chunks=chunks, meta=np.empty((0,) * len(chunks), dtype))


def _region_block(block_fn, parts, size, channels, dtype, corner, shape):
    region = np.empty(tuple(size) + tuple(channels), dtype)
    for chunk, rs, rd, cs, cd in parts:
        region[rd, cd] = chunk[rs, cs]
    out = block_fn(region)
    top, left = corner
    return np.array(out[top:top + shape[0], left:left + shape[1]], copy=True)
