"""Image borders: padding by a kernel's reach, and folding kernels wider than the image.

Border modes carry scipy.ndimage's names; ``numpy.pad`` calls them differently (ndimage's
'reflect' repeats the edge pixel, numpy's 'symmetric').
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .._errors import InputError, InputTypeError

__all__ = ["BORDERS", "Border", "pad"]

Border = Literal["reflect", "nearest", "wrap", "constant", "mirror"]

# scipy.ndimage border names -> numpy.pad modes
BORDERS = {"reflect": "symmetric", "nearest": "edge", "wrap": "wrap", "constant": "constant",
           "mirror": "reflect"}


def check_border(border, cval) -> float:
    """Check ``border`` and ``cval``; ``cval`` as a float."""
    _checks.choice(border, BORDERS, "border")
    if isinstance(cval, (bool, np.bool_)):
        raise InputTypeError(f"cval must be a number, not {cval!r}")
    return _checks.number(cval, "cval", finite=False)


def pad(image: ArrayLike, pads, border: Border = "reflect", cval: float = 0.0, *,
        work: np.dtype | None = None) -> np.ndarray:
    """Pad the first two axes of an image, as ``scipy.ndimage`` fills its borders.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)`` array.
    pads : ((int, int), (int, int))
        Pixels added ``(before, after)`` along the rows and along the columns.
    border : {'reflect', 'nearest', 'wrap', 'constant', 'mirror'}, optional
        scipy.ndimage's border modes: 'reflect' repeats the edge pixel (``d c b a | a b c
        d | d c b a``), 'mirror' does not (``d c b | a b c d | c b a``).
    cval : float, optional
        The outside value for 'constant'.
    work : numpy.dtype, optional
        The dtype to pad an integer image in when ``cval`` does not fit its own dtype
        (default float64); otherwise the image keeps its dtype.

    Returns
    -------
    numpy.ndarray
        The padded image (``image`` itself when nothing is added).

    Examples
    --------
    >>> pad(np.array([[1, 2, 3]]), ((0, 0), (2, 2)), "reflect")
    array([[2, 1, 1, 2, 3, 3, 2]])
    >>> pad(np.array([[1, 2, 3]]), ((0, 0), (2, 2)), "mirror")
    array([[3, 2, 1, 2, 3, 2, 1]])
    >>> pad(np.array([[1, 2, 3]], np.uint8), ((1, 0), (0, 0)), "constant", 0.5)
    array([[0.5, 0.5, 0.5],
           [1. , 2. , 3. ]])
    """
    cval = check_border(border, cval)
    array = np.asarray(image)
    if array.ndim < 2:
        raise InputError(f"image must have at least 2 axes, not shape {array.shape}")
    pads = [(int(before), int(after)) for before, after in pads]
    if len(pads) != 2 or min(min(p) for p in pads) < 0:
        raise InputError(f"pads must be two pairs (before, after) >= 0, not {pads!r}")
    return _pad(array, pads, border, cval, np.dtype(work or np.float64))


def _pad(array: np.ndarray, pads, border: str, cval: float, work: np.dtype) -> np.ndarray:
    """Pad axes 0 and 1; in the input dtype when it can hold ``cval`` (cheaper), else ``work``."""
    if not any(before or after for before, after in pads):
        return array
    pad_width = list(pads) + [(0, 0)] * (array.ndim - 2)
    if border != "constant":
        return np.pad(array, pad_width, mode=BORDERS[border])
    if array.dtype.kind in "iub":
        info = np.iinfo(array.dtype) if array.dtype.kind != "b" else None
        fits = np.isfinite(cval) and cval == int(cval) and (
            info.min <= cval <= info.max if info is not None else cval in (0, 1))
        if not fits:
            array = array.astype(work)
    return np.pad(array, pad_width, mode="constant", constant_values=cval)


def fold_passes(passes: list[np.ndarray], convolve: bool, size: tuple[int, int],
                border: str) -> tuple[list[np.ndarray], bool]:
    """1-D passes longer than ``2 n + 1`` taps on an axis of ``n`` pixels, folded to that
    length; the passes returned are correlation kernels (``convolve`` False).

    Beyond an image's edge every border mode repeats itself: 'reflect' with period
    2n, 'mirror' 2n - 2, 'wrap' n; and 'nearest' and 'constant' give the same value
    at every offset of n pixels or more (for every output pixel). So the taps at offsets
    u of the kernel can be summed into the offsets -n..n that read the same pixels
    (u modulo the period, or u clamped to +-n), and the padding shrinks from the
    kernel's reach to n. A Gaussian of sigma 2000 on a 30x20 image was padded to
    16030 x 16020 pixels (1.3 GB, 7.5 s); scipy.ndimage takes 10 ms.
    """
    if not all(k.ndim == 2 and min(k.shape) == 1 for k in passes) or not any(
            k.shape[a] > 2 * size[a] + 1 for k in passes for a in (0, 1)):
        return passes, convolve
    folded = []
    for k in passes:
        axis = 0 if k.shape[1] == 1 else 1
        w = np.asarray(k, dtype=np.float64).ravel()
        if convolve:                     # as a correlation: flipped, and for an even
            w = w[::-1]                  # length the origin ndimage.convolve uses,
            if w.size % 2 == 0:          # i.e. one more tap reaching left
                w = np.concatenate([[0.0], w])
        elif w.size % 2 == 0:            # ndimage.correlate's origin: one more right
            w = np.concatenate([w, [0.0]])
        n = size[axis]
        if w.size > 2 * n + 1:
            u = np.arange(w.size) - w.size // 2
            period = {"reflect": 2 * n, "mirror": max(2 * n - 2, 1), "wrap": n}.get(border)
            target = np.clip(u, -n, n) if period is None else (u + n) % period - n
            w = np.bincount(target + n, weights=w, minlength=2 * n + 1)
        folded.append(w.reshape((-1, 1) if axis == 0 else (1, -1)))
    return folded, False
