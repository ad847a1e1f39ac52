"""Dense 2-D image filters by FFT tiles: overlap-save over both image axes.

A dense kernel of ``kh x kw`` taps (31x31: 961 products a pixel) is cheapest by
transforms, but transforms of whole-width strips run out of cache: FFTW took 9.0 ns per
output pixel on (3, 512, 3888) float32 strips against 4.9-5.0 ns on (3, 256, 512) and
(3, 512, 512) tiles (one thread, 2026-12-05, quiet machine). So the image is cut into
tiles of ``TH x TW`` input pixels overlapping by the kernel's reach; each tile is

1. **loaded** into the forward plan's buffer, planar ``(C, TH, TW)`` in the working
   float type, borders read by index (no padded copy of the image), colour
   premultiplied by alpha (``_core.tile_load``, or :func:`_load_twin`);
2. transformed (r2c over the two image axes, the channels one batch), multiplied by the
   kernel's spectrum, computed once and shared by every tile and thread, with 1/N
   folded in (:func:`sigconv.engine.multiply_spectra`'s compiled product), and
   transformed back;
3. **stored**: its ``(TH - kh + 1) x (TW - kw + 1)`` uncorrupted outputs (circular
   wrap-around touches only the first ``kh - 1`` rows and ``kw - 1`` columns) divided by
   the filtered alpha, rounded and clipped into the image's dtype and interleaved into
   the output (``_core.tile_store``, or :func:`_store_twin`).

Tiles are shared between threads, each with its own plans and buffers; every tile is
computed the same way whichever thread takes it, so the result does not depend on the
thread count. Memory: the input, the output and a few tile buffers per thread.
"""

from __future__ import annotations

import numpy as np

from ..backends import PlanKey, get_backend
from . import _native
from ._fft import _on_threads

# Smallest tile edges (input pixels, before the fast length): measured per output pixel
# for a 31x31 kernel, (256, 512) tiles 4.93 ns, (512, 512) 5.03, (256, 1024) 5.17,
# (512, 3888) strips 9.02 (FFTW, float32, one thread).
MIN_TILE = (256, 512)
# Tiles grow with the kernel, to keep the wasted overlap near 1/8 of a tile edge.
REACH_FACTOR = 8


def tile_shape(kshape: tuple[int, int], image_shape: tuple[int, int], backend
               ) -> tuple[int, int]:
    """Transform shape of the tiles for a ``kshape`` kernel on an image of ``image_shape``:
    about ``REACH_FACTOR`` times the kernel's reach and at least ``MIN_TILE``, no larger
    than the padded image needs (fast lengths of the backend)."""
    out = []
    for k, n, lo in zip(kshape, image_shape, MIN_TILE):
        want = max(lo, REACH_FACTOR * (k - 1))
        out.append(backend.next_fast_len(min(want, n + k - 1), True))
    return out[0], out[1]


def _border_indices(start: int, count: int, n: int, border: str) -> np.ndarray:
    """The sample each position ``start .. start + count - 1`` reads on an axis of ``n``
    (ndimage's border modes; -1 for the constant border): the twin of
    ``border_index`` in src/native/common.hpp."""
    i = np.arange(start, start + count, dtype=np.int64)
    inside = (i >= 0) & (i < n)
    if border == "nearest":
        j = np.clip(i, 0, n - 1)
    elif border == "wrap":
        j = i % n
    elif border == "reflect":
        r = i % (2 * n)
        j = np.where(r < n, r, 2 * n - 1 - r)
    elif border == "mirror":
        if n == 1:
            j = np.zeros_like(i)
        else:
            r = i % (2 * n - 2)
            j = np.where(r < n, r, 2 * n - 2 - r)
    else:                                   # constant
        j = np.where(inside, i, -1)
    return np.where(inside, i, j)


def _load_twin(src: np.ndarray, buf: np.ndarray, r0: int, c0: int, border: str,
               cval: float, alpha: bool, top: float) -> None:
    """NumPy twin of ``_core.tile_load``: ``buf (C, TH, TW)`` from ``src (H, W, C)``."""
    work = buf.dtype
    _, TH, TW = buf.shape
    rows = _border_indices(r0, TH, src.shape[0], border)
    cols = _border_indices(c0, TW, src.shape[1], border)
    tile = src[np.maximum(rows, 0)][:, np.maximum(cols, 0)].astype(work)
    if border == "constant":
        outside = (rows < 0)[:, None] | (cols < 0)[None, :]
        tile[outside] = work.type(cval)
    planar = np.moveaxis(tile, 2, 0)
    if alpha:
        factor = work.type(1 / top) * planar[-1]
        for c in range(planar.shape[0] - 1):
            planar[c] *= factor
    buf[...] = planar


def _store_twin(res: np.ndarray, dst: np.ndarray, i0: int, j0: int, r0: int, c0: int,
                nr: int, nc: int, alpha: bool, top: float, clear: float) -> None:
    """NumPy twin of ``_core.tile_store``."""
    part = res[:, i0:i0 + nr, j0:j0 + nc].copy()
    if alpha:
        a = part[-1]
        factor = np.divide(part.dtype.type(top), a, out=np.zeros_like(a), where=a > clear)
        for c in range(part.shape[0] - 1):
            part[c] *= factor
    if dst.dtype.kind in "iu":
        info = np.iinfo(dst.dtype)
        np.rint(part, out=part)
        np.clip(part, info.min, info.max, out=part)
    for c in range(part.shape[0]):
        dst[r0:r0 + nr, c0:c0 + nc, c] = part[c]


def dense_filter(src: np.ndarray, kernel: np.ndarray, pads: tuple[int, int], *,
                 border: str, cval: float, alpha: bool, top: float, clear: float,
                 work: np.dtype, threads: int, backend=None) -> np.ndarray:
    """Correlate each channel of ``src`` (C-contiguous ``(H, W, C)``, no NaN or inf)
    with the 2-D ``kernel``, output pixel ``(i, j)`` reading padded pixels from
    ``(i - pads[0], j - pads[1])`` on, borders as ``border``; a new ``(H, W, C)`` array
    of ``src``'s dtype (integers rounded and clipped)."""
    H, W, C = src.shape
    kh, kw = kernel.shape
    b = get_backend(backend)
    TH, TW = tile_shape((kh, kw), (H, W), b)
    OH, OW = TH - kh + 1, TW - kw + 1
    dt = np.dtype(work).str
    kx = PlanKey("r2c", (C, TH, TW), dt, (1, 2), 1, "tile x")
    ky = PlanKey("c2r", (C, TH, TW), dt, (1, 2), 1, "tile y")
    kk = PlanKey("r2c", (1, TH, TW), dt, (1, 2), 1, "tile h")
    # The kernel's spectrum: the correlation is the convolution with the flipped kernel,
    # whose 'valid' outputs start at (kh - 1, kw - 1) of each tile.
    hp = b.plan(kk)
    hp.input[...] = 0
    hp.input[0, :kh, :kw] = kernel[::-1, ::-1]
    spectrum = np.ascontiguousarray(hp.execute()[0])
    scale = 1.0 / (TH * TW)
    k = _native.kernels()
    code = _native.BORDER_CODES[border]
    out = _native.empty((H, W, C), src.dtype)
    tiles = [(r, c) for r in range(0, H, OH) for c in range(0, W, OW)]

    def run(tile: tuple[int, int]) -> None:
        r, c = tile
        fx, inv = b.plan(kx), b.plan(ky)
        nr, nc = min(OH, H - r), min(OW, W - c)
        if k is not None:
            k.tile_load(src, fx.input, r - pads[0], c - pads[1], code, cval, alpha)
            k.cmul_scaled_to(inv.input, fx.execute(), spectrum, scale, 1)
            k.tile_store(inv.execute(), out, kh - 1, kw - 1, r, c, nr, nc, alpha, top, clear)
        else:
            _load_twin(src, fx.input, r - pads[0], c - pads[1], border, cval, alpha, top)
            np.multiply(fx.execute(), spectrum, out=inv.input)
            inv.input *= inv.input.real.dtype.type(scale)
            _store_twin(inv.execute(), out, kh - 1, kw - 1, r, c, nr, nc, alpha, top, clear)

    queue = iter(tiles)            # next() on it is atomic under the GIL

    def work(_: int) -> None:
        for t in queue:
            run(t)

    # The calling thread and the engine's persistent pool share the tiles: pool threads
    # keep their plans (the plan cache is per thread) from one filter call to the next.
    _on_threads(work, max(1, min(threads, len(tiles))))
    return out

