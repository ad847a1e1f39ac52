"""Blur, edges and custom kernels on image arrays: the image policy.

This module decides what the filters mean for images (kernels, border and alpha defaults,
booleans as 8-bit images of 0 and 255, edge maps scaled to the image's range, dask images)
and hands the convolution passes to the engine's block functions
(:func:`sigconv.engine.separable_filter`, :func:`~sigconv.engine.box_filter`,
:func:`~sigconv.engine.filter_passes`, :func:`~sigconv.engine.edge_response`), which own
the borders, the strips and their threads, the window sums and the rounding into the
image's dtype (see :mod:`sigconv.engine._blocks`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .._dask import is_dask as _is_dask
from .._errors import InputError, InputTypeError
from ..engine import (
    box_filter,
    edge_response,
    filter_passes,
    finite_peak,
    full_scale,
    scale_to_dtype,
    separable_filter,
)
from . import kernels as _k

__all__ = ["blur", "box", "edges", "filter", "gaussian"]

Border = Literal["reflect", "nearest", "wrap", "constant", "mirror"]
Method = Literal["auto", "direct", "fft", "oa"]

OPERATORS = {"sobel": (_k.SOBEL_X, _k.SOBEL_Y), "prewitt": (_k.PREWITT_X, _k.PREWITT_Y),
             "scharr": (_k.SCHARR_X, _k.SCHARR_Y), "diff": (_k.DIFF_X, _k.DIFF_Y),
             "laplacian": (_k.LAPLACIAN, None)}
DIRECTIONS = ("x", "y", "magnitude")
COLORS = ("luminance", "channels")
SCALES = ("stretch", "none")
_METHODS = ("auto", "direct", "fft", "oa")
# ITU-R BT.601 luma weights, the ones Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------- public


def _keeps_bool(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Let ``fn`` take boolean images: filtered as 8-bit images of 0 and 255 (``cval``
    scaled alike), the result rounded back to False/True (255 * 0.5 and above: True),
    so that the output keeps the input's dtype as every other dtype does (a dask image
    is converted lazily, before the dask adapter sees it)."""
    @functools.wraps(fn)
    def filtered(image: ArrayLike, *args, **kwargs) -> np.ndarray:
        array = image if _is_dask(image) else np.asarray(image)
        if array.dtype.kind != "b":
            return fn(image, *args, **kwargs)
        cval = kwargs.get("cval", 0.0)
        if isinstance(cval, (bool, np.bool_, int, float, np.integer, np.floating)):
            kwargs["cval"] = 255.0 * float(cval)
        return fn(array.astype(np.uint8) * np.uint8(255), *args, **kwargs) >= 128

    return filtered


def _dask_aware(reach: Callable[..., tuple[int, int]],
                on_dask: Callable[..., object] | None = None) -> Callable:
    """Let a filter take a dask image (H, W[, C]): it is handed to sigconv's dask
    adapter, which filters each block (by this same function, on numpy) on a region
    extended by ``reach(*args, **kwargs)`` = (rows, columns) pixels, or to ``on_dask``
    for filters that need more than that (a global scale)."""
    def decorate(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        @functools.wraps(fn)
        def public(image: ArrayLike, *args, **kwargs):
            if not _is_dask(image):
                return fn(image, *args, **kwargs)
            if on_dask is not None:
                special = on_dask(image, *args, **kwargs)
                if special is not None:
                    return special
            from .. import _dask
            return _dask.image_filter(public, image, args, kwargs, reach=reach(*args, **kwargs),
                                      border=kwargs.get("border", "reflect"))

        return public

    return decorate


def _gaussian_reach(sigma, *, truncate: float = 4.0, **_) -> tuple[int, int]:
    return tuple(_k.gaussian_kernel1d(s, truncate=truncate).size // 2
                 for s in _pair(sigma, "sigma"))


def _box_reach(size, **_) -> tuple[int, int]:
    return tuple(n // 2 for n in _pair(size, "size", integer=True))


def _kernel_reach(kernel, **_) -> tuple[int, int]:
    return tuple(n // 2 for n in _k.as_kernel(kernel).shape)


@_keeps_bool
@_dask_aware(_gaussian_reach)
def gaussian(image: ArrayLike, sigma: float | Sequence[float], *, truncate: float = 4.0,
             border: Border = "reflect", cval: float = 0.0, alpha: bool | None = None,
             method: Method = "auto", workers: int | None = None) -> np.ndarray:
    """Gaussian blur of an image, per channel, as ``scipy.ndimage.gaussian_filter``.

    Parameters
    ----------
    image : array_like or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` image (see :func:`sigconv.image.read`); a dask
        array gives a lazy dask array (see Notes).
    sigma : float or (float, float)
        Standard deviation in pixels, one for both axes or ``(rows, columns)``.
    truncate : float, optional
        The kernel is cut at ``truncate * sigma`` pixels (scipy.ndimage's rule).
    border : {'reflect', 'nearest', 'wrap', 'constant', 'mirror'}, optional
        How pixels beyond the edge are made up, with scipy.ndimage's names.
    cval : float, optional
        The outside value for ``border='constant'``, in the image's units.
    alpha : bool, optional
        Whether the last channel is alpha; by default True for 2 and 4 channels.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        Passed to the engine; the result is the same up to rounding.
    workers : int, optional
        Threads; the image is cut in horizontal strips shared between them. Default:
        the CPUs this process may use.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image`` (a lazy dask array for a dask image).

    Notes
    -----
    **Dask images** (``pip install 'sigconv[dask]'``; also :func:`box`, :func:`blur`,
    :func:`filter` and :func:`edges`): an ``(H, W[, C])`` dask array gives a lazy dask
    array with the same chunks (the channels gathered in one chunk). Each chunk is
    filtered by this function on numpy, on the chunk plus the kernel's reach around
    it, and cropped: along the image's edges the border mode pads as in memory, and
    for 'wrap' the pixels beyond an edge are fetched from the other side, so every
    border mode gives the in-memory pixels whatever the chunking (chunks may be
    smaller than the kernel). Options are checked when called, not when computed;
    each chunk uses one thread unless ``workers`` is given. :func:`edges` with
    ``scale='stretch'`` finds the strongest response over the whole image first (a
    lazy reduction). Integer images came out identical to the in-memory filters in
    every test; float results agree to rounding.

    Examples
    --------
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
    >>> out = gaussian(img, 1.0)
    >>> out.dtype, round(float(out.sum()), 6), bool(out[2, 2] == out.max())
    (dtype('float32'), 1.0, True)

    A dask image, chunk by chunk (chunks of 3 pixels, a reach of 4):

    >>> import dask.array as da
    >>> pic = np.arange(64, dtype=np.uint8).reshape(8, 8)
    >>> lazy = gaussian(da.from_array(pic, chunks=3), 1.0, border="wrap")
    >>> lazy.chunks
    ((3, 3, 2), (3, 3, 2))
    >>> bool((lazy.compute() == gaussian(pic, 1.0, border="wrap")).all())
    True
    """
    sy, sx = _pair(sigma, "sigma")
    return separable_filter(image, _k.gaussian_kernel1d(sy, truncate=truncate),
                            _k.gaussian_kernel1d(sx, truncate=truncate), border=border,
                            cval=cval, alpha=_has_alpha(image, alpha), method=method,
                            workers=workers)


@_keeps_bool
@_dask_aware(_box_reach)
def box(image: ArrayLike, size: int | Sequence[int], *, border: Border = "reflect",
        cval: float = 0.0, alpha: bool | None = None, method: Method = "auto",
        workers: int | None = None) -> np.ndarray:
    """Mean over a ``size x size`` window, by window sums (cost ~ log2(size); for 8/16-bit
    images independent of size beyond 31 pixels). Exact integer sums for 8/16-bit
    images; float images are scaled by 1 / area first, so sums cannot overflow, and a
    NaN or inf spreads no further than its windows.

    Matches ``scipy.ndimage.uniform_filter(image, (size, size, 1), mode=border)``; for even
    sizes the window reaches one pixel further up/left than down/right, as there.

    Parameters
    ----------
    image : array_like or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` image; a dask array gives a lazy dask array (see
        :func:`gaussian`).
    size : int or (int, int)
        Window size in pixels, ``>= 1``, one for both axes or ``(rows, columns)``.
    border, cval, alpha, workers
        As for :func:`gaussian`.
    method : {'auto', 'direct', 'fft', 'oa'}, optional
        'auto' sums windows (exact for 8/16-bit images); any other value sends the
        two 1-D averaging passes through the engine with that method instead.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``.

    Examples
    --------
    >>> box(np.array([[0, 0, 9, 0, 0]], np.uint8), (1, 3), border="constant")
    array([[0, 3, 3, 3, 0]], dtype=uint8)
    """
    sy, sx = _pair(size, "size", integer=True)
    if max(sy, sx) > 2 * _k.MAX_RADIUS + 1:
        raise InputError(f"box size {max(sy, sx)} is too large: beyond "
                         f"{2 * _k.MAX_RADIUS + 1} pixels")
    return box_filter(image, (sy, sx), border=border, cval=cval,
                      alpha=_has_alpha(image, alpha), method=method, workers=workers)


def blur(image: ArrayLike, *, sigma: float | Sequence[float] | None = None,
         size: int | Sequence[int] | None = None, border: Border = "reflect",
         cval: float = 0.0, alpha: bool | None = None, method: Method = "auto",
         workers: int | None = None) -> np.ndarray:
    """Gaussian blur (``sigma=``) or box blur (``size=``); exactly one must be given.

    See :func:`gaussian` and :func:`box` for the parameters.

    Examples
    --------
    >>> img = np.full((4, 4), 7, np.uint8)
    >>> bool((blur(img, size=3) == 7).all()) and bool((blur(img, sigma=2) == 7).all())
    True
    """
    if (sigma is None) == (size is None):
        raise InputError("give exactly one of sigma= (Gaussian) and size= (box)")
    if sigma is not None:
        return gaussian(image, sigma, border=border, cval=cval, alpha=alpha, method=method,
                        workers=workers)
    return box(image, size, border=border, cval=cval, alpha=alpha, method=method,
               workers=workers)


@_keeps_bool
@_dask_aware(_kernel_reach)
def filter(image: ArrayLike, kernel: ArrayLike, *, normalize: bool = False,
           correlate: bool = False, border: Border = "reflect", cval: float = 0.0,
           alpha: bool | None = None, method: Method = "auto",
           workers: int | None = None) -> np.ndarray:
    """Convolve each channel of an image with a 2-D kernel.

    Parameters
    ----------
    image : array_like or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` image; a dask array gives a lazy dask array (see
        :func:`gaussian`).
    kernel : array_like
        1-D (a row) or 2-D real kernel, e.g. :data:`sigconv.image.kernels.SHARPEN`.
    normalize : bool, optional
        Divide the kernel by its sum first (an error if the sum is 0).
    correlate : bool, optional
        Slide the kernel as it is (correlation) instead of flipped (convolution, the
        default). Same as ``scipy.ndimage.correlate`` / ``convolve`` respectively.
    border, cval, alpha, method, workers
        As for :func:`gaussian`.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``; integer results rounded and clipped.

    Notes
    -----
    Rank-1 kernels run as two 1-D passes; others as one 2-D engine convolution.

    Examples
    --------
    >>> img = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], np.uint8)
    >>> filter(img, np.ones((3, 3)), normalize=True, border="constant")
    array([[1, 1, 1],
           [1, 1, 1],
           [1, 1, 1]], dtype=uint8)
    """
    k = _k.as_kernel(kernel)
    if normalize:
        total = k.sum()
        if abs(total) <= 1e-12 * np.abs(k).sum():
            raise InputError("cannot normalize a kernel whose sum is 0")
        k = k / total
    return filter_passes(image, _passes(k), flip=not correlate, border=border, cval=cval,
                         alpha=_has_alpha(image, alpha), method=method, workers=workers)


@_keeps_bool
@_dask_aware(lambda *args, **kwargs: (1, 1), on_dask=lambda *a, **k: _edges_on_dask(*a, **k))
def edges(image: ArrayLike, operator: str = "sobel", *, direction: str = "magnitude",
          color: str = "luminance", scale: str = "stretch", border: Border = "reflect",
          cval: float = 0.0, alpha: bool | None = None, method: Method = "auto",
          workers: int | None = None) -> np.ndarray:
    """Edge map of an image with a gradient or Laplacian operator.

    Parameters
    ----------
    image : array_like or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` image; a dask array gives a lazy dask array (see
        :func:`gaussian`).
    operator : {'sobel', 'prewitt', 'scharr', 'laplacian', 'diff'}, optional
        ``diff`` is the two-pixel difference ``[-1, 1]``: ``pixel - left neighbour`` (x)
        or ``pixel - upper neighbour`` (y). The kernels are applied by correlation, so
        x responses are positive where the image brightens to the right, y responses
        where it brightens downwards.
    direction : {'magnitude', 'x', 'y'}, optional
        ``sqrt(gx**2 + gy**2)``, or one signed component. The Laplacian has only
        'magnitude', meaning its (signed) response.
    color : {'luminance', 'channels'}, optional
        On colour images, 'luminance' (default) computes one edge map from the BT.601
        luma ``0.299 R + 0.587 G + 0.114 B`` and writes it into every colour channel
        (grey edges, colour-noise free); 'channels' filters each channel separately.
    scale : {'stretch', 'none'}, optional
        'stretch' (default) returns ``abs(response)`` scaled so the strongest edge maps
        to the top of the image's range (the type's maximum for 8/16-bit integers,
        65535 for int32, 1.0 for float), one factor for all channels; an edge-free image
        gives 0.
        'none' returns the raw response, rounded and clipped for integer images (so
        negative responses become 0 there).
    border, cval, alpha, method, workers
        As for :func:`gaussian`. Alpha is not filtered: the colour is premultiplied by
        alpha (transparent pixels count as black) and the alpha channel copied.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``image``.

    Examples
    --------
    >>> step = np.repeat([[0, 0, 10, 10]], 2, axis=0).astype(np.float32)
    >>> edges(step, "diff", direction="x", scale="none")
    array([[ 0.,  0., 10.,  0.],
           [ 0.,  0., 10.,  0.]], dtype=float32)
    """
    _checks.choice(scale, SCALES, "scale")
    array = np.asarray(image)
    has_alpha = _has_alpha(array, alpha)
    threads = _checks.workers(workers)
    response = _edge_response(array, has_alpha, operator, direction, color, border, cval,
                              method, threads, cast=scale == "none")
    if scale == "stretch":
        response = _stretched(response, finite_peak(response, workers=threads), array.dtype,
                              threads)
    return _edge_channels(response, array, has_alpha)


def _edge_response(array: np.ndarray, has_alpha: bool, operator: str, direction: str,
                   color: str, border: str, cval: float, method: str, threads: int, *,
                   cast: bool) -> np.ndarray:
    """The edge operator's response (see :func:`sigconv.engine.edge_response`): (H, W),
    or (H, W, C') with one luminance channel or the colour channels; rounded to the
    image's dtype with ``cast``, else in the working float dtype (signed)."""
    _checks.choice(operator, OPERATORS, "operator")
    _checks.choice(direction, DIRECTIONS, "direction")
    _checks.choice(color, COLORS, "color")
    kx, ky = OPERATORS[operator]
    if ky is None and direction != "magnitude":
        raise InputError(f"the {operator!r} operator has no direction; use "
                         f"direction='magnitude', not {direction!r}")
    n_colour = (array.shape[2] - has_alpha) if array.ndim == 3 else 1
    luminance = color == "luminance" and n_colour == 3
    wanted = [kx] if direction == "x" or ky is None else [ky] if direction == "y" else [kx, ky]
    return edge_response(array, [_passes(_centred(k)) for k in wanted],
                         mix=_LUMA if luminance else None, border=border, cval=cval,
                         alpha=has_alpha, method=method, workers=threads, cast=cast)



def _stretched(response: np.ndarray, peak: float, dtype: np.dtype, threads: int) -> np.ndarray:
    """``|response|`` scaled so ``peak`` maps to the top of ``dtype``'s range, in ``dtype``
    (integers rounded)."""
    factor = full_scale(dtype) / peak if peak > 0 else 0.0
    return scale_to_dtype(response, factor, dtype, absolute=True, workers=threads)


def _edge_channels(response: np.ndarray, array: np.ndarray, has_alpha: bool) -> np.ndarray:
    """The edge map in the image's shape: the response in every colour channel (one
    luminance map, or one per channel), the alpha channel copied."""
    dtype = array.dtype
    n_colour = (array.shape[2] - has_alpha) if array.ndim == 3 else 1
    if array.ndim == 3 and response.shape != array.shape:
        result = np.empty(array.shape, dtype)
        plane_of = (lambda c: response) if response.ndim == 2 else \
            (lambda c: response[..., 0 if response.shape[2] == 1 else c])
        # One channel at a time: broadcasting a (H, W, 1) map into (H, W, 3) in one
        # assignment runs an inner loop of 3 elements (87 ms against 12 on 3840x2160).
        for c in range(n_colour):
            result[..., c] = plane_of(c)
        if has_alpha:
            result[..., -1] = array[..., -1]
        return result
    return response


def _edges_on_dask(image, operator: str = "sobel", *, direction: str = "magnitude",
                   color: str = "luminance", scale: str = "stretch", border: str = "reflect",
                   cval: float = 0.0, alpha: bool | None = None, method: str = "auto",
                   workers: int | None = None):
    """:func:`edges` of a dask image with ``scale='stretch'`` (else None: block by
    block as any filter): the raw response block by block, its largest finite
    magnitude over the whole image (a lazy reduction), then each block stretched."""
    if scale != "stretch":
        return None
    from .. import _dask
    options = {"direction": direction, "color": color, "border": border, "cval": cval,
               "alpha": alpha, "method": method, "workers": workers}
    edges(np.zeros((1, 1) + image.shape[2:], image.dtype), operator, scale=scale,
          **options)                      # every argument checked now, not at compute time
    threads = 1 if workers is None else _checks.workers(workers)

    def raw(region: np.ndarray) -> np.ndarray:
        array = np.asarray(region)
        return _edge_response(array, _has_alpha(array, alpha), operator, direction, color,
                              border, cval, method, threads, cast=False)

    def peak(block: np.ndarray) -> float:
        return finite_peak(block, workers=1)

    def finish(block: np.ndarray, original: np.ndarray, top_peak: float) -> np.ndarray:
        array = np.asarray(original)
        return _edge_channels(_stretched(block, float(top_peak), array.dtype, 1),
                              array, _has_alpha(array, alpha))

    return _dask.image_stretch(raw, peak, finish, image, reach=(1, 1), border=border,
                               token=(operator, sorted(options.items()), threads))


def _centred(kernel: np.ndarray) -> np.ndarray:
    """Embed a kernel in the smallest odd square with the same origin (``shape // 2``)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    rows, cols = kernel.shape
    radius = max(rows // 2, rows - 1 - rows // 2, cols // 2, cols - 1 - cols // 2)
    square = np.zeros((2 * radius + 1, 2 * radius + 1))
    top, left = radius - rows // 2, radius - cols // 2
    square[top:top + rows, left:left + cols] = kernel
    return square


# --------------------------------------------------------------------------- checks


def _pair(value, name: str, *, integer: bool = False) -> tuple:
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value, value]
    if len(items) != 2:
        raise InputError(f"{name} must be a number or a pair (rows, columns), not {value!r}")
    out = []
    for item in items:
        if integer:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
                raise InputTypeError(f"{name} must be an integer, not {item!r}")
            if item < 1:
                raise InputError(f"{name} must be >= 1, not {item!r}")
            out.append(int(item))
        else:
            try:
                number = float(item)
            except (TypeError, ValueError):
                raise InputTypeError(f"{name} must be a number, not {item!r}") from None
            if not np.isfinite(number) or number < 0:
                raise InputError(f"{name} must be finite and >= 0, not {item!r}")
            out.append(number)
    return tuple(out)


def _has_alpha(image: ArrayLike, alpha: bool | None) -> bool:
    """Whether the last channel is alpha: as given, or by default for 2 and 4 channels."""
    if alpha is None:
        shape = np.shape(image)
        return len(shape) == 3 and shape[2] in (2, 4)
    return bool(alpha)


def _passes(kernel: np.ndarray) -> list[np.ndarray]:
    """One dense kernel, or its column and row factors when it is rank 1."""
    if min(kernel.shape) == 1:
        return [kernel]
    factors = _k.separate(kernel)
    if factors is None:
        return [kernel]
    column, row = factors
    return [column[:, None], row[None, :]]
