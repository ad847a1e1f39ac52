"""``convolve2d`` / ``correlate2d``: scipy.signal's 2-D functions with boundary handling.

A boundary other than zero fill is done by extending ``in1`` by ``m - 1`` samples on
each side (numpy.pad: 'wrap' is periodic, 'symm' mirrors with the edge repeated)
and taking the 'valid' convolution of the extension, which is the 'full' result.
"""

from __future__ import annotations

import numpy as np

from .._dask import is_dask
from ._api import _reverse_conj, _run, convolve
from ._direct import SCIPY_2D_DTYPES, scipy_2d
from ._validate import as_operand, check_mode

_BOUNDARIES = {"fill": "constant", "pad": "constant", "wrap": "wrap", "circular": "wrap",
               "symm": "symmetric", "symmetric": "symmetric"}


def _check(in1, in2, mode, boundary, fillvalue, name):
    a1 = as_operand(in1, "in1")
    a2 = as_operand(in2, "in2")
    if not a1.ndim == a2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays, got {a1.ndim}-d "
                         f"and {a2.ndim}-d")
    check_mode(mode)
    if boundary not in _BOUNDARIES:
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), "
                         f"and 'symmetric' (or 'symm'), not {boundary!r}")
    fill = np.asarray(fillvalue)
    if fill.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element, "
                         f"not {fillvalue!r}")
    rdt = np.result_type(a1, a2)
    fill = fill.reshape(())
    if fill.dtype.kind == "c" and rdt.kind != "c" and fill.imag != 0:
        raise ValueError("could not cast `fillvalue` directly to the output type "
                         f"{rdt}: {fillvalue!r}")
    return a1, a2, rdt, fill


# scipy's convolve2d is direct only, so its sums are exact on integer-valued floats;
# these functions keep to direct unless a transform is predicted this much faster.
_TRANSFORM_GAIN = 4.0


def _conv(in1, in2, mode, backend, workers):
    """:func:`convolve` preferring direct sums (``_TRANSFORM_GAIN``), planned once."""
    return _run(in1, in2, mode, "auto", None, backend, workers, fft_style=False,
                transform_gain=_TRANSFORM_GAIN)


def _corr(a1: np.ndarray, a2: np.ndarray, mode, backend, workers):
    """:func:`correlate` of two checked 2-D arrays, preferring direct sums as :func:`_conv`."""
    return _conv(a1, _reverse_conj(a2, None), mode, backend, workers)


# Below this many multiply-adds, float/complex inputs go straight to scipy's own C loop
# (with its boundary handling): about 12 us for 8x8 * 3x3, where planning costs 30.
_SCIPY_MACS = 1 << 16


def _small_by_scipy(name: str, a1, a2, rdt, mode, boundary, fill):
    """scipy.signal's own ``name`` (convolve2d/correlate2d) on small float/complex
    inputs, else None."""
    fn = scipy_2d(name)
    if fn is None or rdt not in SCIPY_2D_DTYPES or a1.size * a2.size > _SCIPY_MACS \
            or not a1.size or not a2.size:
        return None
    value = fill.real.item() if rdt.kind != "c" else fill.item()   # _check: no imag part
    return fn(a1.astype(rdt, copy=False), a2.astype(rdt, copy=False), mode, boundary, value)


def _extended_full(a1, a2, rdt, boundary, fill, backend, workers):
    m0, m1 = a2.shape
    padw = ((m0 - 1, m0 - 1), (m1 - 1, m1 - 1))
    mode = _BOUNDARIES[boundary]
    base = a1.astype(rdt, copy=False)
    if mode == "constant":
        ext = np.pad(base, padw, mode="constant", constant_values=fill.astype(rdt).item()
                     if rdt.kind != "O" else fill.item())
    else:
        ext = np.pad(base, padw, mode=mode)
    return _conv(ext, a2, "valid", backend, workers)


def _crop_same(full, shape, *, correlation=False):
    """The 'same' part: centred, rounding down for convolution and up for correlation
    (the kernel is reversed, so its centre is too; scipy's 2-D functions do this)."""
    starts = []
    for f, n in zip(full.shape, shape):
        extra = f - n
        starts.append(extra - extra // 2 if correlation else extra // 2)
    return full[starts[0]:starts[0] + shape[0], starts[1]:starts[1] + shape[1]].copy()


def _on_dask(in1, in2, mode, boundary, fillvalue, backend, workers, *, correlation: bool):
    """:func:`convolve2d` / :func:`correlate2d` with a dask operand: the same steps as
    in memory on the dask array (a lazy result), by :func:`sigconv.convolve`'s dask path
    (which plans each block freely, where the in-memory functions prefer direct sums:
    float results equal to rounding). The boundary is made by indexing with
    numpy.pad's index map ('wrap', 'symmetric'), exact for any kernel size
    (``dask.array.pad`` repeats wrongly once the padding is wider than the array)."""
    stand = [np.broadcast_to(np.zeros((), a.dtype), a.shape) if is_dask(a) else a
             for a in (in1, in2)]
    a1s, a2s, rdt, fill = _check(*stand, mode, boundary, fillvalue,
                                 "correlate2d" if correlation else "convolve2d")
    a1 = in1 if is_dask(in1) else a1s
    a2 = in2 if is_dask(in2) else a2s
    opts = dict(backend=backend, workers=workers)
    if correlation:
        if mode == "valid" and not (a1.shape[0] >= a2.shape[0] and a1.shape[1] >= a2.shape[1])\
                and (a2.shape[0] >= a1.shape[0] and a2.shape[1] >= a1.shape[1]):
            return convolve(a2, _reverse_conj(a1, None), "valid", **opts)[::-1, ::-1]
        a2 = _reverse_conj(a2, None)
    if mode == "valid" or (_BOUNDARIES[boundary] == "constant" and fill == 0
                           and not (correlation and mode == "same")):
        return convolve(a1, a2, mode, **opts)
    m0, m1 = a2.shape
    pad = _BOUNDARIES[boundary]
    if pad == "constant" and fill == 0:
        full = convolve(a1, a2, "full", **opts)
        return _crop_same(full, a1.shape, correlation=True)
    if pad == "constant":
        from .. import _dask
        ext = _dask.pad_constant(a1.astype(rdt), ((m0 - 1, m0 - 1), (m1 - 1, m1 - 1)),
                                 fill.astype(rdt).item())
    else:
        rows = np.pad(np.arange(a1.shape[0]), m0 - 1, mode=pad)
        cols = np.pad(np.arange(a1.shape[1]), m1 - 1, mode=pad)
        ext = a1.astype(rdt)[rows][:, cols]
    full = convolve(ext, a2, "valid", **opts)
    return full if mode == "full" else _crop_same(full, a1.shape, correlation=correlation)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, backend=None,
               workers=None) -> np.ndarray:
    """Convolve two 2-D arrays with a boundary rule, as :func:`scipy.signal.convolve2d`.

    Parameters
    ----------
    in1, in2 : array_like
        2-D inputs.
    mode : {"full", "same", "valid"}
        Output size, as in :func:`sigconv.convolve`.
    boundary : {"fill", "wrap", "symm"}
        How ``in1`` is extended: ``fillvalue``, periodically, or mirrored.
    fillvalue : scalar
        Value outside ``in1`` for ``boundary="fill"``.

    Examples
    --------
    >>> import sigconv
    >>> sigconv.convolve2d([[1, 2], [3, 4]], [[1, 1]], boundary="wrap")
    array([[3, 3, 3],
           [7, 7, 7]])
    """
    if is_dask(in1) or is_dask(in2):
        return _on_dask(in1, in2, mode, boundary, fillvalue, backend, workers,
                        correlation=False)
    a1, a2, rdt, fill = _check(in1, in2, mode, boundary, fillvalue, "convolve2d")
    small = _small_by_scipy("convolve2d", a1, a2, rdt, mode, boundary, fill)
    if small is not None:
        return small
    if mode == "valid" or (_BOUNDARIES[boundary] == "constant" and fill == 0):
        return _conv(a1, a2, mode, backend, workers)
    full = _extended_full(a1, a2, rdt, boundary, fill, backend, workers)
    return full if mode == "full" else _crop_same(full, a1.shape)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *, backend=None,
                workers=None) -> np.ndarray:
    """Cross-correlate two 2-D arrays with a boundary rule, as :func:`scipy.signal.correlate2d`.

    In 'valid' mode with ``in2`` the larger, scipy returns the reversed
    ``correlate2d(in2, in1)`` (the complex conjugate of the true correlation); this
    function does the same so that it stays a drop-in replacement.

    Examples
    --------
    >>> import sigconv
    >>> sigconv.correlate2d([[1, 2, 3]], [[1, 1]], mode="valid")
    array([[3, 5]])
    """
    if is_dask(in1) or is_dask(in2):
        return _on_dask(in1, in2, mode, boundary, fillvalue, backend, workers,
                        correlation=True)
    a1, a2, rdt, fill = _check(in1, in2, mode, boundary, fillvalue, "correlate2d")
    small = _small_by_scipy("correlate2d", a1, a2, rdt, mode, boundary, fill)
    if small is not None:
        return small
    if mode == "valid":
        if not (a1.shape[0] >= a2.shape[0] and a1.shape[1] >= a2.shape[1]) and \
                (a2.shape[0] >= a1.shape[0] and a2.shape[1] >= a1.shape[1]):
            return _corr(a2, a1, "valid", backend, workers)[::-1, ::-1].copy()
        return _corr(a1, a2, "valid", backend, workers)
    if _BOUNDARIES[boundary] == "constant" and fill == 0:
        full = _corr(a1, a2, "full", backend, workers)
    else:
        full = _extended_full(a1, _reverse_conj(a2, None), rdt, boundary, fill, backend,
                              workers)
    return full if mode == "full" else _crop_same(full, a1.shape, correlation=True)
