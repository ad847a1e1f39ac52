"""Direct convolution layers: matrix products through BLAS, or a loop over the taps.

Both compute only the outputs the stride keeps.

``gemm``: the kernel's taps are stacked into the contraction, so that each group's
output is one matrix product ``W_g (C_out/g, C_in/g * taps) @ cols (C_in/g * taps, P)``
per image (numpy.matmul, which calls BLAS sgemm/dgemm). ``cols`` holds, for each kept
output position, the input samples under its window (im2col), gathered by the engine
(:func:`sigconv.engine.gather_windows`, compiled) straight from the input with the zero
padding applied by index: no padded copy, nothing the stride skips, and the product's
output is the layer's output, contiguous. Images (or, for big images, bands of output
rows) are done a few MB at a time, so that the gathered windows are still in cache when
the product reads them.

``taps``: for one input channel per group (depthwise), each tap is one broadcast
multiply-add over the whole batch: no copy, no matrix product of width 1.

The backward pass reuses the gather: ``grad_w = grad_y @ cols^T``, and ``W^T @ grad_y``
added back onto the input by the gather's adjoint (:func:`sigconv.engine.scatter_windows`,
col2im), which is the transposed convolution of ``grad_y`` with the weight.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..engine import gather_windows, scatter_windows
from ._args import Geometry
from ._pad import fold, pad

# Bytes of the stacked-taps buffer per chunk of images: a few MB keeps it in the
# last-level cache between its fill and the matrix product (one image at least).
COLS_CHUNK_BYTES = 8 << 20


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


def tap_starts(geo: Geometry) -> list[tuple[int, ...]]:
    """Start of each tap (kernel index order) in the padded input, per spatial axis."""
    return [tuple(t * d for t, d in zip(idx, geo.dilation)) for idx in np.ndindex(*geo.kernel)]


def tap_slices(geo: Geometry) -> list[tuple[slice, ...]]:
    """For each tap, the strided view of the padded input that its outputs read."""
    return [tuple(slice(a, a + (o - 1) * s + 1, s)
                  for a, o, s in zip(start, geo.out_size, geo.stride))
            for start in tap_starts(geo)]


def _tiling(geo: Geometry, itemsize: int) -> tuple[int, int]:
    """(images per chunk, output rows per tile): whole images while one fits in
    COLS_CHUNK_BYTES of gathered windows, else one image cut into bands of rows."""
    per_row = geo.c_in * geo.taps * math.prod(geo.out_size[1:]) * itemsize
    per_image = per_row * geo.out_size[0]
    if per_image <= COLS_CHUNK_BYTES:
        return max(1, min(geo.batch, COLS_CHUNK_BYTES // per_image)), geo.out_size[0]
    return 1, max(1, min(geo.out_size[0], COLS_CHUNK_BYTES // per_row))


def chunk(geo: Geometry, itemsize: int) -> int:
    """Images per matrix product."""
    return _tiling(geo, itemsize)[0]


def _tiles(geo: Geometry, itemsize: int, a: int, b: int):
    """(n0, n1, p0, p1): images n0..n1 and output positions p0..p1 (whole rows of the
    first output axis), covering images a..b."""
    nb, rows = _tiling(geo, itemsize)
    rc = math.prod(geo.out_size[1:])
    o0 = geo.out_size[0]
    for n0 in range(a, b, nb):
        n1 = min(b, n0 + nb)
        for r0 in range(0, o0, rows):
            yield n0, n1, r0 * rc, min(o0, r0 + rows) * rc


def _source(x: np.ndarray, geo: Geometry) -> tuple[np.ndarray, tuple]:
    """(the array the windows are gathered from, C-contiguous; the zero padding to apply
    by index): the input itself for zero padding, else its padded copy."""
    if geo.padding_mode == "zeros":
        return np.ascontiguousarray(x), geo.pads
    return np.ascontiguousarray(pad(x, geo.pads, geo.padding_mode)), ((0, 0),) * geo.nsp


def _cols(buf: list, geo: Geometry, m: int, pt: int, dtype) -> np.ndarray:
    """A C-contiguous (m, C_in, taps, pt) view of the calling thread's work buffer
    (``buf`` holds it, made on first use at the size of the first, largest tile)."""
    size = m * geo.c_in * geo.taps * pt
    if not buf or buf[0].size < size:
        buf[:] = [np.empty(size, dtype)]
    return buf[0][:size].reshape(m, geo.c_in, geo.taps, pt)


def gemm_forward(x: np.ndarray, w: np.ndarray, geo: Geometry) -> np.ndarray:
    """y (N, C_out, *out), C-contiguous and of its own, from the unpadded input ``x``
    (the caller adds the bias in place)."""
    G, cg, cog, taps = geo.groups, geo.cg, geo.cog, geo.taps
    src, pads = _source(x, geo)
    wm = np.ascontiguousarray(w).reshape(G, cog, cg * taps)
    N, P = geo.batch, math.prod(geo.out_size)
    y = np.empty((N, G, cog, P), x.dtype)

    def work(a, b):
        buf: list = []
        for n0, n1, p0, p1 in _tiles(geo, x.itemsize, a, b):
            m, pt = n1 - n0, p1 - p0
            cols = gather_windows(src, geo.kernel, geo.stride, geo.dilation, pads,
                                  images=(n0, n1), positions=(p0, p1),
                                  out=_cols(buf, geo, m, pt, x.dtype), workers=1)
            np.matmul(wm, cols.reshape(m, G, cg * taps, pt), out=y[n0:n1, :, :, p0:p1])
    run_split(N, N * P * geo.c_out * cg * taps, work)
    return y.reshape((N, geo.c_out) + geo.out_size)


def gemm_backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, geo: Geometry,
                  need_gx: bool = True, need_gw: bool = True):
    """(grad of the input x or None, grad_w or None)."""
    G, cg, cog, taps = geo.groups, geo.cg, geo.cog, geo.taps
    src, pads = _source(x, geo)
    N, P, K = geo.batch, math.prod(geo.out_size), cg * taps
    dt = src.dtype
    wm = np.ascontiguousarray(w).reshape(G, cog, K)
    gyl = np.ascontiguousarray(gy).reshape(N, G, cog, P)
    # the gradient of the array the windows came from: the input itself when the zero
    # padding is applied by index (the scatter drops it), else the padded copy, folded
    gsrc = np.zeros(src.shape, dt) if need_gx else None
    wt = wm.transpose(0, 2, 1)

    def work(a, b):
        buf: list = []
        gw = np.zeros((G, cog, K), dt) if need_gw else None
        for n0, n1, p0, p1 in _tiles(geo, dt.itemsize, a, b):
            m, pt = n1 - n0, p1 - p0
            g = gyl[n0:n1, :, :, p0:p1]
            opts = dict(images=(n0, n1), positions=(p0, p1), workers=1)
            if need_gw:
                cols = gather_windows(src, geo.kernel, geo.stride, geo.dilation, pads,
                                      out=_cols(buf, geo, m, pt, dt), **opts)
                gw += np.matmul(g, cols.reshape(m, G, K, pt).transpose(0, 1, 3, 2)).sum(axis=0)
            if need_gx:
                gc = np.matmul(wt, g).reshape(m, geo.c_in, taps, pt)
                scatter_windows(gc, src.shape, geo.kernel, geo.stride, geo.dilation, pads,
                                out=gsrc, **opts)
        return gw
    parts = run_split(N, N * P * geo.c_out * K * (need_gx + need_gw), work)
    gw = sum(parts[1:], parts[0]) if need_gw else None
    gx = None
    if need_gx:
        gx = gsrc if src.shape == x.shape else fold(gsrc, geo.pads, geo.padding_mode,
                                                     geo.in_size)
    return gx, (gw.reshape(w.shape) if need_gw else None)


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
    return gemm_forward(gy, wt, geo_t), not direct_ok
