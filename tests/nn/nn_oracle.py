"""A naive convolution layer written from the definition, in float64 loops.

Kept apart from sigconv.nn: padding by index rules, a loop over every output,
the channels and taps summed with numpy per output.
"""

import itertools

import numpy as np


def _source(i, n, mode):
    """Input index read at padded position i - before (i may fall outside 0..n-1)."""
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    # reflect about the edge samples, without repeating them
    return -i if i < 0 else 2 * (n - 1) - i


def pad_naive(x, pads, mode):
    """x (N, C, *sp) padded by ``pads`` [(before, after), ...] per spatial axis."""
    sp = x.shape[2:]
    out_sp = tuple(n + a + b for n, (a, b) in zip(sp, pads))
    out = np.zeros(x.shape[:2] + out_sp)
    for pos in itertools.product(*(range(m) for m in out_sp)):
        src = [_source(p - a, n, mode) for p, n, (a, _) in zip(pos, sp, pads)]
        if None not in src:
            out[(slice(None), slice(None)) + pos] = x[(slice(None), slice(None)) + tuple(src)]
    return out


def resolve(padding, kernel, dilation, nsp):
    if padding == "valid":
        return [(0, 0)] * nsp
    if padding == "same":
        tot = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in tot]
    if isinstance(padding, int):
        return [(padding, padding)] * nsp
    return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def tup(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def conv_naive(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """y[n, o, pos] = b[o] + sum_{c, t} w[o, c, t] * xpad[n, g*Cg + c, pos*s + t*d]."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nsp = w.ndim - 2
    s, d = tup(stride, nsp), tup(dilation, nsp)
    k = w.shape[2:]
    pads = resolve(padding, k, d, nsp)
    xp = pad_naive(x, pads, padding_mode)
    n_, c_in = x.shape[:2]
    c_out = w.shape[0]
    cg, cog = c_in // groups, c_out // groups
    out_sp = tuple((p - dd * (kk - 1) - 1) // ss + 1
                   for p, kk, ss, dd in zip(xp.shape[2:], k, s, d))
    y = np.zeros((n_, c_out) + out_sp)
    for n in range(n_):
        for o in range(c_out):
            g = o // cog
            for pos in itertools.product(*(range(m) for m in out_sp)):
                win = tuple(slice(p * ss, p * ss + dd * (kk - 1) + 1, dd)
                            for p, ss, dd, kk in zip(pos, s, d, k))
                patch = xp[(n, slice(g * cg, (g + 1) * cg)) + win]
                y[(n, o) + pos] = np.sum(patch * w[o]) + (0.0 if b is None else b[o])
    return y
