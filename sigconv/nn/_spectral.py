"""Convolution layers through the engine's transforms (FFT or overlap-add).

The layer is rewritten as one engine correlation over the spatial axes, the batch,
group and channel axes broadcasting (the engine convolves only where both operands
are longer than 1):

* one input channel per group (depthwise, with a channel multiplier ``m``):
  ``x`` (N, G, 1, *S) against ``w`` (1, G, m, *k) gives (N, G, m, *out) directly;
* several input channels per group: ``x`` (N, G, 1, C_in/G, *S) against ``w``
  (1, G, C_out/G, C_in/G, *k), then the sum over the input channels. The engine has
  no entry point that sums over an axis in the frequency domain, so here every
  (output, input) channel pair pays its own inverse transform; the planner knows it.

Dilation zero-stuffs the kernel. Stride keeps every s-th output of the stride-1
result (a transform cannot skip outputs). Zero padding up to the kernel's reach is
done by the engine's 'full' mode (no padded copy of the input); other padding is
explicit. The gradients are the same correlations with the roles exchanged:
``grad_x`` is the full convolution of the zero-stuffed ``grad_y`` with the kernel,
``grad_w`` the valid correlation of the padded input with the zero-stuffed
``grad_y``, summed over the batch.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import convolve_window
from ._args import Geometry
from ._pad import fold, pad

# Bytes of the broadcast (N, G, C_out/G, C_in/G, *out) result per chunk of images when
# the input channels are summed after the transforms.
SUM_CHUNK_BYTES = 64 << 20


def dilated(w: np.ndarray, geo: Geometry) -> np.ndarray:
    if all(d == 1 for d in geo.dilation):
        return w
    out = np.zeros(w.shape[:2] + geo.reach, w.dtype)
    out[(slice(None),) * 2 + tuple(slice(None, None, d) for d in geo.dilation)] = w
    return out


def stuffed(gy: np.ndarray, geo: Geometry) -> np.ndarray:
    """grad_y with s - 1 zeros between its samples (the stride's adjoint)."""
    if all(s == 1 for s in geo.stride):
        return gy
    size = tuple((o - 1) * s + 1 for o, s in zip(geo.out_size, geo.stride))
    out = np.zeros(gy.shape[:2] + size, gy.dtype)
    out[(slice(None),) * 2 + tuple(slice(None, None, s) for s in geo.stride)] = gy
    return out


def uses_full_mode(geo: Geometry) -> bool:
    """Zero padding the engine's 'full' mode covers (no padded copy of the input)."""
    return (geo.padding_mode == "zeros" and any(a or b for a, b in geo.pads)
            and all(max(a, b) <= r - 1 for (a, b), r in zip(geo.pads, geo.reach)))


def engine_shapes(geo: Geometry) -> tuple[tuple, tuple, str]:
    """Shapes of the engine operands of the forward pass, and its mode."""
    G, cg, cog = geo.groups, geo.cg, geo.cog
    full = uses_full_mode(geo)
    size = geo.in_size if full else geo.padded
    chan_x, chan_w = ((1,), (cog,)) if cg == 1 else ((1, cg), (cog, cg))
    return ((geo.batch, G) + chan_x + size, (1, G) + chan_w + geo.reach,
            "full" if full else "valid")


# Multi-axis transforms of fewer points than this run on one FFTW thread. FFTW's
# threads split each small 2-D transform and meet after it: with another process
# holding a core, 1024 transforms of 63x63 (depthwise 7x7 on (8, 128, 56, 56)) took
# 56 s on two threads against 0.14 s on one (2026-12-04, load average 5); at 90x90 the
# two took 330 ms against 370 ms. 1-D batches keep the engine's default.
SMALL_ND_POINTS = 1 << 20


def _workers(geo: Geometry) -> int | None:
    size = math.prod(n + r for n, r in zip(geo.padded, geo.reach))
    return 1 if geo.nsp >= 2 and size < SMALL_ND_POINTS else None


def _chunks(geo: Geometry, per_image_elems: int, itemsize: int) -> int:
    return max(1, min(geo.batch, SUM_CHUNK_BYTES // max(1, per_image_elems * itemsize)))


def forward(x: np.ndarray, w: np.ndarray, geo: Geometry, method: str) -> np.ndarray:
    """y (N, C_out, *out) by the engine with ``method`` 'fft' or 'oa'.

    The engine returns just the window of the full correlation the layer keeps (its
    outputs at stride 1), as a strided view of the inverse transform's output when that
    is most of it, so nothing is copied after the transforms."""
    G, cg, cog, nsp = geo.groups, geo.cg, geo.cog, geo.nsp
    full = uses_full_mode(geo)
    xs = x if full else pad(x, geo.pads, geo.padding_mode)
    wd = dilated(w, geo)
    axes = tuple(range(-nsp, 0))
    # the window in the coordinates of the full correlation of xs with the kernel
    start = (tuple(r - 1 - a for r, (a, b) in zip(geo.reach, geo.pads)) if full
             else tuple(r - 1 for r in geo.reach))
    window = tuple((s0, s0 + (o - 1) * s + 1)
                   for s0, o, s in zip(start, geo.out_size, geo.stride))
    step = tuple(slice(None, None, s) for s in geo.stride)
    N = geo.batch
    wk = _workers(geo)
    if cg == 1:
        y = convolve_window(xs.reshape((N, G, 1) + xs.shape[2:]),
                            wd.reshape((1, G, cog) + wd.shape[2:]), window, method, axes,
                            correlate=True, workers=wk)
        return y.reshape((N, geo.c_out) + y.shape[3:])[(slice(None),) * 2 + step]
    wg = wd.reshape((1, G, cog, cg) + wd.shape[2:])
    y = np.empty((N, G, cog) + geo.out_size, x.dtype)
    per = G * cog * cg * math.prod(n + r - 1 for n, r in zip(xs.shape[2:], geo.reach))
    nb = _chunks(geo, per, 8)
    for n0 in range(0, N, nb):
        n1 = min(N, n0 + nb)
        part = convolve_window(xs[n0:n1].reshape((n1 - n0, G, 1, cg) + xs.shape[2:]), wg,
                               window, method, axes, correlate=True, workers=wk)
        np.sum(part[(slice(None),) * 4 + step], axis=3, out=y[n0:n1])
    return y.reshape((N, geo.c_out) + geo.out_size)


def backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, geo: Geometry, method: str,
             need_gx: bool = True, need_gw: bool = True):
    """(grad_x, grad_w) by the engine, ``x`` the unpadded input.

    With zero padding the transposed convolution's kept window is taken straight from
    the engine's full result (no padded gradient), and where the padding is at least
    ``grad_y``'s stretch, grad_w comes from the full correlation of the unpadded input
    (no padded copy, transforms no longer)."""
    G, cg, cog, nsp = geo.groups, geo.cg, geo.cog, geo.nsp
    N = geo.batch
    axes = tuple(range(-nsp, 0))
    wd = dilated(w, geo)
    gs = stuffed(gy, geo)
    osz = gs.shape[2:]
    wk = _workers(geo)
    gx = gw = None
    if need_gx:
        # the full convolution covers padded positions [0, O_s + reach - 1), the rest got
        # nothing; with zero padding covering the input, only the input's window is asked
        span = tuple(o + r - 1 for o, r in zip(osz, geo.reach))
        inner = geo.padding_mode == "zeros" and all(
            a + n <= f for (a, _), n, f in zip(geo.pads, geo.in_size, span))
        window = (tuple((a, a + n) for (a, _), n in zip(geo.pads, geo.in_size)) if inner
                  else tuple((0, f) for f in span))
        if cg == 1:
            part = convolve_window(gs.reshape((N, G, cog) + osz),
                                   wd.reshape((1, G, cog) + geo.reach), window, method, axes,
                                   workers=wk)
            full = part.sum(axis=2) if cog > 1 else part[:, :, 0]
        else:
            wg = wd.reshape((1, G, cog, cg) + geo.reach)
            per = G * cog * cg * math.prod(span)
            nb = _chunks(geo, per, 8)
            full = np.empty((N, geo.c_in) + tuple(e - s for s, e in window), x.dtype)
            for n0 in range(0, N, nb):
                n1 = min(N, n0 + nb)
                part = convolve_window(gs[n0:n1].reshape((n1 - n0, G, cog, 1) + osz), wg,
                                       window, method, axes, workers=wk)
                full[n0:n1] = part.sum(axis=2).reshape((n1 - n0, geo.c_in) + part.shape[4:])
        if inner:
            gx = full
        else:
            gxp = np.zeros((N, geo.c_in) + geo.padded, x.dtype)
            gxp[(slice(None),) * 2 + tuple(slice(0, f) for f in span)] = full
            gx = fold(gxp, geo.pads, geo.padding_mode, geo.in_size)
    if need_gw:
        # grad_w[t] = sum_o gs[o] * xpad[o + t*d]: the correlation of the padded input
        # with gs at lags 0 .. reach-1, or of the input itself at lags - before ...
        lead = tuple(o - 1 - a for o, (a, _) in zip(osz, geo.pads))
        use_full = geo.padding_mode == "zeros" and all(
            j >= 0 and j + r <= n + o - 1 and n + o - 1 <= p
            for j, r, n, o, p in zip(lead, geo.reach, geo.in_size, osz, geo.padded))
        # ... (the window of the full correlation starts at lag - (O_s - 1))
        if use_full:
            src, first = x, lead
        else:
            src = pad(x, geo.pads, geo.padding_mode)
            first = tuple(o - 1 for o in osz)
        window = tuple((j, j + r) for j, r in zip(first, geo.reach))
        lag = tuple(slice(None, None, d) for d in geo.dilation)
        size = src.shape[2:]
        if cg == 1:
            part = convolve_window(src.reshape((N, G, 1) + size),
                                   gs.reshape((N, G, cog) + osz), window, method, axes,
                                   correlate=True, workers=wk)
            gw = part[(slice(None),) * 3 + lag].sum(axis=0).reshape(w.shape)
        else:
            gw = np.zeros((G, cog, cg) + geo.kernel, x.dtype)
            per = G * cog * cg * math.prod(p + o - 1 for p, o in zip(size, osz))
            nb = _chunks(geo, per, 8)
            for n0 in range(0, N, nb):
                n1 = min(N, n0 + nb)
                part = convolve_window(src[n0:n1].reshape((n1 - n0, G, 1, cg) + size),
                                       gs[n0:n1].reshape((n1 - n0, G, cog, 1) + osz), window,
                                       method, axes, correlate=True, workers=wk)
                gw += part[(slice(None),) * 4 + lag].sum(axis=0)
            gw = gw.reshape(w.shape)
    return gx, gw
