"""Direct convolution layers: matrix products through BLAS, or a loop over the taps.

Both work on the padded input ``xp`` (N, C_in, *padded) and compute only the outputs
the stride keeps.

``gemm``: the kernel's taps are stacked into the contraction, so that each group's
output is one matrix product ``W_g (C_out/g, C_in/g * taps) @ cols (C_in/g * taps, P)``
per image (numpy.matmul, which calls BLAS sgemm/dgemm). ``cols`` is filled one tap at
a time from a view of the input, in one of two layouts:

* *shifted* (stride 1): the padded image is flattened, and tap ``t`` of the kernel
  reads the contiguous slice ``[off_t, off_t + P)`` of it, where ``off_t`` is the
  tap's flat offset; every output row then carries ``padded - out`` junk columns
  (wrapped-around positions) that are computed and cropped. Contiguous copies run at
  memcpy speed.
* *strided* (any stride): tap ``t`` reads the strided view of the samples the kept
  outputs need (the classic im2col), so nothing the stride skips is computed.

``taps``: for one input channel per group (depthwise), each tap is one broadcast
multiply-add over the whole batch: no copy, no matrix product of width 1.

The backward pass reuses the same layouts: ``grad_w = grad_y @ cols^T`` and
``cols_grad = W^T @ grad_y`` scattered back tap by tap (col2im, the adjoint of the
fill), which is the transposed convolution of ``grad_y`` with the weight.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ._args import Geometry

# Bytes of the stacked-taps buffer per chunk of images: a few MB keeps it in the
# last-level cache between its fill and the matrix product (one image at least).
COLS_CHUNK_BYTES = 8 << 20

# The shifted layout is used when at least this fraction of its columns are outputs
# (the rest are wrapped-around junk computed for nothing).
SHIFTED_MIN_USEFUL = 0.75


# Products of fewer multiply-adds than this run on the calling thread with BLAS as it
# is; larger ones are split by images over threads, each product single-threaded.
# OpenBLAS's own threads wait for each other at every product: on this shared 2-core
# VM with another process running, a (64 x 576) @ (576 x 3136) float32 product took
# 24 ms on 2 OpenBLAS threads against 3.2 ms on one (benchmarks/bench_nn.py, 3x3s1).
THREAD_MIN_MACS = 20_000_000

_pool: dict = {}
_pool_lock = threading.Lock()


def _executor():
    """The module's thread pool and a threadpoolctl controller, made on first use."""
    with _pool_lock:
        if not _pool:
            from threadpoolctl import ThreadpoolController
            _pool["workers"] = os.cpu_count() or 1
            _pool["ex"] = ThreadPoolExecutor(_pool["workers"], thread_name_prefix="sigconv-nn")
            _pool["ctl"] = ThreadpoolController()
        return _pool


def run_split(n: int, macs: int, work) -> list:
    """``work(n0, n1)`` over the images ``0..n``: on this thread for small problems,
    else split into one contiguous range per core, BLAS limited to one thread."""
    if n < 2 or macs < THREAD_MIN_MACS or (os.cpu_count() or 1) < 2:
        return [work(0, n)]
    pool = _executor()
    parts = min(n, pool["workers"])
    bounds = [n * i // parts for i in range(parts + 1)]
    with pool["ctl"].limit(limits=1, user_api="blas"):
        futures = [pool["ex"].submit(work, a, b) for a, b in zip(bounds, bounds[1:])]
        return [f.result() for f in futures]


class Layout(NamedTuple):
    shifted: bool
    cols: int                   # P: columns of the product per image
    width: int                  # columns of the output buffer per image (>= cols)
    offsets: tuple              # per tap: flat offset (shifted) or slices (strided)


def tap_starts(geo: Geometry) -> list[tuple[int, ...]]:
    """Start of each tap (kernel index order) in the padded input, per spatial axis."""
    return [tuple(t * d for t, d in zip(idx, geo.dilation)) for idx in np.ndindex(*geo.kernel)]


def tap_slices(geo: Geometry) -> list[tuple[slice, ...]]:
    """For each tap, the strided view of the padded input that its outputs read."""
    return [tuple(slice(a, a + (o - 1) * s + 1, s)
                  for a, o, s in zip(start, geo.out_size, geo.stride))
            for start in tap_starts(geo)]


def useful_fraction(geo: Geometry) -> float:
    """Outputs / computed columns of the shifted layout (stride 1)."""
    sp = geo.padded
    st = [math.prod(sp[i + 1:]) for i in range(len(sp))]
    cols = sum((o - 1) * s for o, s in zip(geo.out_size, st)) + 1
    return math.prod(geo.out_size) / cols


def layout(geo: Geometry) -> Layout:
    sp = geo.padded
    if all(s == 1 for s in geo.stride) and useful_fraction(geo) >= SHIFTED_MIN_USEFUL:
        st = [math.prod(sp[i + 1:]) for i in range(len(sp))]
        cols = sum((o - 1) * s for o, s in zip(geo.out_size, st)) + 1
        offs = tuple(sum(a * s for a, s in zip(start, st)) for start in tap_starts(geo))
        return Layout(True, cols, geo.out_size[0] * st[0], offs)
    p = math.prod(geo.out_size)
    return Layout(False, p, p, tuple(tap_slices(geo)))


def _row_cols(geo: Geometry, lay: Layout) -> int:
    """Columns of the product per row of the first output axis."""
    return math.prod(geo.padded[1:]) if lay.shifted else math.prod(geo.out_size[1:])


def _tiling(geo: Geometry, lay: Layout, itemsize: int) -> tuple[int, int]:
    """(images per chunk, output rows per tile): whole images while one fits in
    COLS_CHUNK_BYTES of stacked taps, else one image cut into bands of rows."""
    per_image = geo.c_in * geo.taps * lay.cols * itemsize
    if per_image <= COLS_CHUNK_BYTES:
        return max(1, min(geo.batch, COLS_CHUNK_BYTES // per_image)), geo.out_size[0]
    per_row = geo.c_in * geo.taps * _row_cols(geo, lay) * itemsize
    return 1, max(1, min(geo.out_size[0], COLS_CHUNK_BYTES // per_row))


def _chunk(geo: Geometry, lay: Layout, itemsize: int) -> int:
    return _tiling(geo, lay, itemsize)[0]


def _tiles(geo: Geometry, lay: Layout, itemsize: int, a: int, b: int):
    """(n0, n1, r0, r1, p0, p1): images n0..n1, output rows r0..r1, product columns
    p0..p1, covering images a..b."""
    nb, rows = _tiling(geo, lay, itemsize)
    rc = _row_cols(geo, lay)
    o0 = geo.out_size[0]
    for n0 in range(a, b, nb):
        n1 = min(b, n0 + nb)
        for r0 in range(0, o0, rows):
            r1 = min(o0, r0 + rows)
            yield n0, n1, r0, r1, r0 * rc, (lay.cols if r1 == o0 else r1 * rc)


def _band(sl: tuple, geo: Geometry, r0: int, r1: int) -> tuple:
    """A tap's strided view restricted to output rows r0..r1."""
    s0 = geo.stride[0]
    a0 = sl[0].start
    return (slice(a0 + r0 * s0, a0 + (r1 - 1) * s0 + 1, s0),) + sl[1:]


def _fill(cols: np.ndarray, xp: np.ndarray, tile, geo: Geometry, lay: Layout) -> None:
    """cols[:nb, :, t, :p1-p0] <- the taps' views for one tile of xp."""
    n0, n1, r0, r1, p0, p1 = tile
    nb, pt = n1 - n0, p1 - p0
    if lay.shifted:
        xf = xp.reshape(xp.shape[:2] + (-1,))
        for t, off in enumerate(lay.offsets):
            np.copyto(cols[:nb, :, t, :pt], xf[n0:n1, :, off + p0:off + p1])
    else:
        for t, sl in enumerate(lay.offsets):
            dst = cols[:nb, :, t, :pt].reshape((nb, geo.c_in, r1 - r0) + geo.out_size[1:])
            np.copyto(dst, xp[(slice(n0, n1), slice(None)) + _band(sl, geo, r0, r1)])


def _crop(ybuf: np.ndarray, geo: Geometry, lay: Layout) -> np.ndarray:
    """(N, C_out, width) -> (N, C_out, *out) view."""
    n, c = ybuf.shape[:2]
    if not lay.shifted:
        return ybuf.reshape((n, c) + geo.out_size)
    full = ybuf.reshape((n, c, geo.out_size[0]) + geo.padded[1:])
    return full[(slice(None),) * 3 + tuple(slice(0, o) for o in geo.out_size[1:])]


def gemm_forward(xp: np.ndarray, w: np.ndarray, geo: Geometry) -> np.ndarray:
    """y (N, C_out, *out), possibly a strided view of a work buffer of its own (the
    caller adds the bias in place)."""
    xp = np.ascontiguousarray(xp)
    G, cg, cog, taps = geo.groups, geo.cg, geo.cog, geo.taps
    lay = layout(geo)
    wm = np.ascontiguousarray(w).reshape(G, cog, cg * taps)
    N, P = geo.batch, lay.cols
    ybuf = np.empty((N, G, cog, lay.width), xp.dtype)

    def work(a, b):
        cols = None
        for tile in _tiles(geo, lay, xp.itemsize, a, b):
            n0, n1, _, _, p0, p1 = tile
            if cols is None:
                cols = np.empty((n1 - n0, geo.c_in, taps, p1 - p0), xp.dtype)
            _fill(cols, xp, tile, geo, lay)
            m, pt = n1 - n0, p1 - p0
            np.matmul(wm, cols[:m, :, :, :pt].reshape(m, G, cg * taps, pt),
                      out=ybuf[n0:n1, :, :, p0:p1])
    run_split(N, N * P * geo.c_out * cg * taps, work)
    return _crop(ybuf.reshape(N, geo.c_out, lay.width), geo, lay)


def gemm_backward(xp: np.ndarray, w: np.ndarray, gy: np.ndarray, geo: Geometry,
                  need_gx: bool = True, need_gw: bool = True):
    """(grad of the padded input (N, C_in, *padded) or None, grad_w or None)."""
    xp = np.ascontiguousarray(xp)
    G, cg, cog, taps = geo.groups, geo.cg, geo.cog, geo.taps
    lay = layout(geo)
    N, P, K = geo.batch, lay.cols, cg * taps
    dt = xp.dtype
    wm = np.ascontiguousarray(w).reshape(G, cog, K)
    if lay.shifted:       # grad_y spread into the shifted layout, zeros on the junk
        gyb = np.zeros((N, geo.c_out, lay.width), dt)
        _crop(gyb, geo, lay)[...] = gy
        gyl = gyb.reshape(N, G, cog, lay.width)[..., :P]
    else:
        gyl = np.ascontiguousarray(gy).reshape(N, G, cog, P)
    gxp = np.zeros((N, geo.c_in) + geo.padded, dt) if need_gx else None
    gxf = gxp.reshape(N, geo.c_in, -1) if need_gx else None
    wt = wm.transpose(0, 2, 1)

    def work(a, b):
        cols = None
        gw = np.zeros((G, cog, K), dt) if need_gw else None
        for tile in _tiles(geo, lay, dt.itemsize, a, b):
            n0, n1, r0, r1, p0, p1 = tile
            m, pt = n1 - n0, p1 - p0
            g = gyl[n0:n1, :, :, p0:p1]
            if need_gw:
                if cols is None:
                    cols = np.empty((m, geo.c_in, taps, pt), dt)
                _fill(cols, xp, tile, geo, lay)
                c4 = cols[:m, :, :, :pt].reshape(m, G, K, pt)
                gw += np.matmul(g, c4.transpose(0, 1, 3, 2)).sum(axis=0)
            if need_gx:
                gc = np.matmul(wt, g).reshape(m, geo.c_in, taps, pt)
                for t, off in enumerate(lay.offsets):
                    if lay.shifted:
                        gxf[n0:n1, :, off + p0:off + p1] += gc[:, :, t, :]
                    else:
                        gxp[(slice(n0, n1), slice(None)) + _band(off, geo, r0, r1)] += \
                            gc[:, :, t, :].reshape((m, geo.c_in, r1 - r0) + geo.out_size[1:])
        return gw
    parts = run_split(N, N * P * geo.c_out * K * (need_gx + need_gw), work)
    gw = sum(parts[1:], parts[0]) if need_gw else None
    return gxp, (gw.reshape(w.shape) if need_gw else None)


# Output bytes per block of channels in the taps loop: the block, its scratch and the
# input rows it reads stay in the core's L2 cache across the taps.
TAPS_BLOCK_BYTES = 64 << 10


def taps_forward(xp: np.ndarray, w: np.ndarray, geo: Geometry) -> np.ndarray:
    """One input channel per group: a broadcast multiply-add per tap (y (N, C_out, *out)),
    over blocks of channels small enough to stay in cache, images split over threads."""
    C, m = geo.c_in, geo.cog
    one = (1,) * geo.nsp
    wv = w.reshape(C, m, geo.taps)
    y = np.empty((geo.batch, C, m) + geo.out_size, xp.dtype)
    per_channel = m * math.prod(geo.out_size) * xp.itemsize
    cb = max(1, min(C, TAPS_BLOCK_BYTES // per_channel))
    slices = tap_slices(geo)

    def work(a, b):
        tmp = np.empty((cb, m) + geo.out_size, xp.dtype)
        for n in range(a, b):
            for c0 in range(0, C, cb):
                c1 = min(C, c0 + cb)
                yb, tb = y[n, c0:c1], tmp[:c1 - c0]
                for t, sl in enumerate(slices):
                    xt = xp[(n, slice(c0, c1)) + sl][:, None]
                    wt = wv[c0:c1, :, t].reshape((c1 - c0, m) + one)
                    if t == 0:
                        np.multiply(xt, wt, out=yb)
                    else:
                        np.multiply(xt, wt, out=tb)
                        yb += tb
    run_split(geo.batch, geo.batch * geo.c_out * math.prod(geo.out_size) * geo.taps * 4,
              work)
    return y.reshape((geo.batch, geo.c_out) + geo.out_size)


def taps_backward(xp: np.ndarray, w: np.ndarray, gy: np.ndarray, geo: Geometry,
                  need_gx: bool = True, need_gw: bool = True):
    C, m = geo.c_in, geo.cog
    one = (1,) * geo.nsp
    wv = w.reshape(C, m, geo.taps)
    g = gy.reshape((geo.batch, C, m) + geo.out_size)
    gw = np.zeros((C, m, geo.taps), xp.dtype) if need_gw else None
    gxp = np.zeros((geo.batch, C) + geo.padded, xp.dtype) if need_gx else None
    axes = tuple(range(3, 3 + geo.nsp))
    for t, sl in enumerate(tap_slices(geo)):
        idx = (slice(None), slice(None)) + sl
        if need_gw:
            xt = xp[idx][:, :, None]
            gw[:, :, t] = (g * xt).sum(axis=(0,) + axes)
        if need_gx:
            wt = wv[:, :, t].reshape((C, m) + one)
            gxp[idx] += (g * wt).sum(axis=2) if m > 1 else g[:, :, 0] * wt[:, 0]
    return gxp, (gw.reshape(w.shape) if need_gw else None)


def grad_input_stride1(gy: np.ndarray, w: np.ndarray, geo: Geometry):
    """grad of the input for stride 1, as a forward convolution: ``grad_y`` padded by the
    kernel's reach less the forward padding, against the weight with its channel axes
    exchanged (per group) and its taps reversed (the transposed convolution, here with
    no zeros to stuff). Returns ``(array, padded)``: the gradient of the input itself
    when the forward padding was zeros within the reach, else of the padded input (the
    caller folds it)."""
    G, cg, cog, nsp = geo.groups, geo.cg, geo.cog, geo.nsp
    wt = w.reshape((G, cog, cg) + geo.kernel).swapaxes(1, 2).reshape(
        (geo.c_in, cog) + geo.kernel)
    wt = np.ascontiguousarray(wt[(slice(None),) * 2 + (slice(None, None, -1),) * nsp])
    direct_ok = geo.padding_mode == "zeros" and all(
        max(a, b) <= r - 1 for (a, b), r in zip(geo.pads, geo.reach))
    if direct_ok:
        pads = tuple((r - 1 - a, r - 1 - b) for (a, b), r in zip(geo.pads, geo.reach))
        size = geo.in_size
    else:
        pads = tuple((r - 1, r - 1) for r in geo.reach)
        size = geo.padded
    geo_t = Geometry(geo.batch, geo.c_out, geo.c_in, G, geo.out_size, geo.kernel,
                     (1,) * nsp, geo.dilation, pads, "zeros", size)
    gyp = gy
    if any(a or b for a, b in pads):
        gyp = np.zeros((geo.batch, geo.c_out) + tuple(o + a + b for o, (a, b) in
                                                        zip(geo.out_size, pads)), gy.dtype)
        gyp[(slice(None),) * 2 + tuple(slice(a, a + o) for o, (a, b) in
                                       zip(geo.out_size, pads))] = gy
    return gemm_forward(gyp, wt, geo_t), not direct_ok
