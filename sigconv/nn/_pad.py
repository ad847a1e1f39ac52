"""Padding of the spatial axes, and its adjoint (the fold of a padded gradient).

Every border mode is a gather along each axis: padded index ``i`` reads input index
``source(i)``. The forward pass takes those indices; the backward pass adds each
padded position's gradient back onto the input sample it was read from, which for
'zeros' is a crop and for the border modes folds the margins onto the edge samples.
"""

from __future__ import annotations

import numpy as np

_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """Input index each of the ``before + n + after`` padded positions reads."""
    return np.pad(np.arange(n), (before, after), mode=_NP_MODES[mode])


def pad(x: np.ndarray, pads, mode: str) -> np.ndarray:
    """``x`` (N, C, *spatial) padded on its spatial axes; ``x`` itself when no padding."""
    if not any(a or b for a, b in pads):
        return x
    nsp = len(pads)
    shape = x.shape[:2] + tuple(n + a + b for n, (a, b) in zip(x.shape[2:], pads))
    if mode == "zeros":
        out = np.empty(shape, x.dtype)
        core = (slice(None),) * 2 + tuple(slice(a, a + n) for n, (a, b) in
                                          zip(x.shape[2:], pads))
        out[core] = x
        for ax, (n, (a, b)) in enumerate(zip(x.shape[2:], pads)):
            sl = [slice(None)] * (nsp + 2)
            if a:
                sl[ax + 2] = slice(0, a)
                out[tuple(sl)] = 0
            if b:
                sl[ax + 2] = slice(a + n, None)
                out[tuple(sl)] = 0
        return out
    out = x
    for ax, (n, (a, b)) in enumerate(zip(x.shape[2:], pads)):
        if a or b:
            out = np.take(out, source_index(n, a, b, mode), axis=ax + 2)
    return out


def fold(g: np.ndarray, pads, mode: str, in_size) -> np.ndarray:
    """The adjoint of :func:`pad`: the gradient of the padded input folded onto the input."""
    if not any(a or b for a, b in pads):
        return g
    if mode == "zeros":
        return g[(slice(None),) * 2 + tuple(slice(a, a + n) for n, (a, b) in
                                            zip(in_size, pads))].copy()
    out = g
    # pad() padded axis 0 first, then 1...: undo in reverse order
    for ax in reversed(range(len(pads))):
        n, (a, b) = in_size[ax], pads[ax]
        if not (a or b):
            continue
        src = source_index(n, a, b, mode)
        axis = ax + 2
        core = np.take(out, np.arange(a, a + n), axis=axis)     # a copy
        for i in list(range(a)) + list(range(a + n, a + n + b)):
            dst = [slice(None)] * out.ndim
            dst[axis] = src[i]
            sl = [slice(None)] * out.ndim
            sl[axis] = i
            core[tuple(dst)] += out[tuple(sl)]
        out = core
    return out
