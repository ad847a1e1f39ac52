"""conv1d/2d/3d, their backward passes, output_shape and explain_conv."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from .._checks import choice
from .._errors import InputError
from . import _direct, _spectral
from ._args import as_array, as_tuple, float_dtype, geometry, out_sizes, resolve_padding
from ._pad import fold, pad
from ._plan import ConvPlan, plan

Method = Literal["auto", "direct", "fft", "oa"]
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
METHODS = ("auto", "direct", "fft", "oa")


def _check_method(method) -> str:
    return choice(method, METHODS, "method", ordered=True)


def _prepare(nsp, x, w, bias, stride, padding, dilation, groups, padding_mode, grad_y=None):
    x = as_array(x, "input")
    w = as_array(w, "weight")
    b = as_array(bias, "bias")
    g = as_array(grad_y, "grad_y")
    float_dtype((x, "input"), (w, "weight"), (b, "bias"), (g, "grad_y"))
    unbatched = x.ndim == nsp + 1
    if unbatched:
        x = x[None]
        if g is not None and g.ndim == nsp + 1:
            g = g[None]
    geo = geometry(x, w, b, nsp, stride, padding, dilation, groups, padding_mode)
    if g is not None:
        want = (geo.batch, geo.c_out) + geo.out_size
        if g.shape != want:
            shown = want[1:] if unbatched else want
            raise InputError(f"grad_y must have the output's shape {shown}, "
                             f"not {g.shape[1:] if unbatched else g.shape}")
    return x, w, b, g, geo, unbatched


def _forward(nsp, x, w, bias, stride, padding, dilation, groups, padding_mode, method):
    _check_method(method)
    x, w, b, _, geo, unbatched = _prepare(nsp, x, w, bias, stride, padding, dilation,
                                          groups, padding_mode)
    p = plan(geo, x.dtype, method)
    if p.method == "direct" and p.variant == "gemm":
        y = _direct.gemm_forward(x, w, geo)
    elif p.method == "direct":
        y = _direct.taps_forward(pad(x, geo.pads, geo.padding_mode), w, geo)
    else:
        y = _spectral.forward(x, w, geo, p.method)
    # every method returns fresh memory of its own: the bias is added in place
    if b is not None:
        y += b.reshape((-1,) + (1,) * nsp)
    return y[0] if unbatched else y


def _backward(nsp, grad_y, x, w, stride, padding, dilation, groups, padding_mode, bias,
              method):
    _check_method(method)
    x, w, _, gy, geo, unbatched = _prepare(nsp, x, w, None, stride, padding, dilation,
                                           groups, padding_mode, grad_y)
    p = plan(geo, x.dtype, method)
    if p.method == "direct" and p.variant == "gemm" and all(s == 1 for s in geo.stride):
        # the transposed convolution is a forward one: no scatter of the columns back
        _, gw = _direct.gemm_backward(x, w, gy, geo, need_gx=False)
        g, padded = _direct.grad_input_stride1(gy, w, geo)
        gx = fold(g, geo.pads, geo.padding_mode, geo.in_size) if padded else g
    elif p.method == "direct" and p.variant == "gemm":
        gx, gw = _direct.gemm_backward(x, w, gy, geo)
    elif p.method == "direct":
        gxp, gw = _direct.taps_backward(pad(x, geo.pads, geo.padding_mode), w, gy, geo)
        gx = fold(gxp, geo.pads, geo.padding_mode, geo.in_size)
    else:
        gx, gw = _spectral.backward(x, w, gy, geo, p.method)
    gb = gy.sum(axis=(0,) + tuple(range(2, 2 + nsp))) if bias else None
    return (gx[0] if unbatched else gx), gw, gb


_DOC_ARGS = """
    Parameters
    ----------
    input : array_like
        ``(N, C_in, {sp})``, or ``(C_in, {sp})`` unbatched; float32 or float64.
    weight : array_like
        ``(C_out, C_in / groups, {k})``, the same dtype as ``input``.
    bias : array_like, optional
        ``(C_out,)``, one value added to each output channel.
    stride, dilation : int or tuple of int
        Step between outputs, and between the kernel's taps; positive.
    padding : int, tuple, 'same' or 'valid'
        Samples added on both sides of each spatial axis (an int for all, one per axis,
        or one ``(before, after)`` pair per axis); 'valid' is 0; 'same' keeps the input
        size (stride 1 only), the odd sample of an even total going after.
    groups : int
        Input and output channels are split into ``groups`` independent groups
        (``groups = C_in``: depthwise).
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
        What the padding holds: zeros, the mirror image without the edge sample, the
        edge sample repeated, or the other end of the axis.
    method : {{'auto', 'direct', 'fft', 'oa'}}, keyword-only
        'auto' asks the planner (see :func:`explain_conv`); the others force a method.
"""


def conv1d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride=1, padding=0, dilation=1, groups: int = 1,
           padding_mode: PaddingMode = "zeros", *, method: Method = "auto") -> np.ndarray:
    """1-D convolution layer (cross-correlation, as in deep learning).

    ``y[n, o, i] = bias[o] + sum_{c, t} weight[o, c, t] * xpad[n, g*C_in/G + c,
    i*stride + t*dilation]``, ``g`` the group of output channel ``o``.
    {args}
    Returns
    -------
    numpy.ndarray
        ``(N, C_out, L_out)``, ``L_out = (L + pad - dilation*(k-1) - 1) // stride + 1``,
        in the input's dtype. It may be a strided view of a larger work buffer.

    Raises
    ------
    TypeError
        Integer or other non-float data, or operands of different float dtypes.
    ValueError
        Wrong number of dimensions, channels not divisible by ``groups``, a kernel
        larger than the padded input, stride or dilation below 1, 'same' with stride
        above 1, bad padding or padding_mode.

    Examples
    --------
    >>> import numpy as np, sigconv.nn as nn
    >>> x = np.arange(6.0).reshape(1, 1, 6)
    >>> nn.conv1d(x, np.array([[[1.0, 0.0, -1.0]]]), padding=1)
    array([[[-1., -2., -2., -2., -2.,  4.]]])
    """
    return _forward(1, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                    method)


def conv2d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride=1, padding=0, dilation=1, groups: int = 1,
           padding_mode: PaddingMode = "zeros", *, method: Method = "auto") -> np.ndarray:
    """2-D convolution layer (cross-correlation over height and width, channels summed).
    {args}
    Returns
    -------
    numpy.ndarray
        ``(N, C_out, H_out, W_out)`` in the input's dtype, each size
        ``(n + pad - dilation*(k-1) - 1) // stride + 1``.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`.

    Examples
    --------
    >>> import numpy as np, sigconv.nn as nn
    >>> x = np.ones((1, 3, 5, 5))
    >>> w = np.ones((2, 3, 3, 3))
    >>> y = nn.conv2d(x, w, bias=np.array([1.0, 0.0]), stride=2, padding=1)
    >>> y.shape
    (1, 2, 3, 3)
    >>> y[0, 0]
    array([[13., 19., 13.],
           [19., 28., 19.],
           [13., 19., 13.]])
    """
    return _forward(2, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                    method)


def conv3d(input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None = None,
           stride=1, padding=0, dilation=1, groups: int = 1,
           padding_mode: PaddingMode = "zeros", *, method: Method = "auto") -> np.ndarray:
    """3-D convolution layer (cross-correlation over depth, height and width).
    {args}
    Returns
    -------
    numpy.ndarray
        ``(N, C_out, D_out, H_out, W_out)`` in the input's dtype.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`.

    Examples
    --------
    >>> import numpy as np, sigconv.nn as nn
    >>> nn.conv3d(np.ones((1, 1, 4, 4, 4)), np.ones((1, 1, 2, 2, 2)), stride=2).shape
    (1, 1, 2, 2, 2)
    """
    return _forward(3, input, weight, bias, stride, padding, dilation, groups, padding_mode,
                    method)


for _fn, _sp, _k in ((conv1d, "L", "k"), (conv2d, "H, W", "kH, kW"),
                     (conv3d, "D, H, W", "kD, kH, kW")):
    _fn.__doc__ = _fn.__doc__.replace("{args}", _DOC_ARGS.format(sp=_sp, k=_k))

_DOC_BACKWARD = """Gradients of :func:`conv{n}d` with respect to its input, weight and bias.

    Given ``grad_y`` (the loss's gradient with respect to the output), returns
    ``(grad_input, grad_weight, grad_bias)``: ``grad_input`` is the transposed
    convolution of ``grad_y`` with the weight (folded back over the padding for the
    border modes), ``grad_weight`` the correlation of the padded input with
    ``grad_y`` summed over the batch, ``grad_bias`` the sum of ``grad_y`` over
    everything but the channels (None when ``bias=False``). Computed by the method
    the forward pass would use.

    Parameters
    ----------
    grad_y : array_like
        The output's shape, the input's dtype.
    input, weight, stride, padding, dilation, groups, padding_mode, method
        As for :func:`conv{n}d`.
    bias : bool
        Whether the layer has a bias (whether to return its gradient).

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray, numpy.ndarray or None)
        Gradients shaped like ``input``, ``weight`` and ``(C_out,)``.

    Examples
    --------
    >>> import numpy as np, sigconv.nn as nn
    >>> x = np.arange({size}.0).reshape({xshape})
    >>> w = np.ones({wshape})
    >>> gx, gw, gb = nn.conv{n}d_backward(np.ones({yshape}), x, w, padding=1)
    >>> gx.shape == x.shape, gw.shape == w.shape, gb.tolist()
    (True, True, [{gb}])
"""


def conv1d_backward(grad_y: ArrayLike, input: ArrayLike, weight: ArrayLike, stride=1,
                    padding=0, dilation=1, groups: int = 1,
                    padding_mode: PaddingMode = "zeros", bias: bool = True, *,
                    method: Method = "auto"):
    return _backward(1, grad_y, input, weight, stride, padding, dilation, groups,
                     padding_mode, bias, method)


def conv2d_backward(grad_y: ArrayLike, input: ArrayLike, weight: ArrayLike, stride=1,
                    padding=0, dilation=1, groups: int = 1,
                    padding_mode: PaddingMode = "zeros", bias: bool = True, *,
                    method: Method = "auto"):
    return _backward(2, grad_y, input, weight, stride, padding, dilation, groups,
                     padding_mode, bias, method)


def conv3d_backward(grad_y: ArrayLike, input: ArrayLike, weight: ArrayLike, stride=1,
                    padding=0, dilation=1, groups: int = 1,
                    padding_mode: PaddingMode = "zeros", bias: bool = True, *,
                    method: Method = "auto"):
    return _backward(3, grad_y, input, weight, stride, padding, dilation, groups,
                     padding_mode, bias, method)


conv1d_backward.__doc__ = _DOC_BACKWARD.format(n=1, size=4, xshape="1, 1, 4",
                                               wshape="(1, 1, 3)", yshape="(1, 1, 4)", gb="4.0")
conv2d_backward.__doc__ = _DOC_BACKWARD.format(n=2, size=16, xshape="1, 1, 4, 4",
                                               wshape="(2, 1, 3, 3)", yshape="(1, 2, 4, 4)",
                                               gb="16.0, 16.0")
conv3d_backward.__doc__ = _DOC_BACKWARD.format(n=3, size=8, xshape="1, 1, 2, 2, 2",
                                               wshape="(1, 1, 3, 3, 3)",
                                               yshape="(1, 1, 2, 2, 2)", gb="8.0")


def output_shape(in_shape, kernel, stride=1, padding=0, dilation=1) -> tuple[int, ...]:
    """Spatial output size of a convolution layer.

    ``(n + before + after - dilation*(kernel - 1) - 1) // stride + 1`` per axis, the
    background article's ``(W - F + 2P)/S + 1`` with dilation.

    Parameters
    ----------
    in_shape : int or tuple of int
        Spatial sizes of the input (no batch or channel axis).
    kernel, stride, padding, dilation
        As for :func:`conv2d`, an int applying to every axis or one per axis.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        A kernel reaching beyond the padded input, non-positive stride or dilation.

    Examples
    --------
    >>> import sigconv.nn as nn
    >>> nn.output_shape((5, 5), kernel=3, stride=2, padding=1)
    (3, 3)
    >>> nn.output_shape(100, kernel=4, padding="same")
    (100,)
    """
    size = as_tuple(in_shape, len(in_shape) if isinstance(in_shape, (tuple, list)) else 1,
                    "in_shape", 1)
    n = len(size)
    k = as_tuple(kernel, n, "kernel", 1)
    s = as_tuple(stride, n, "stride", 1)
    d = as_tuple(dilation, n, "dilation", 1)
    return out_sizes(size, k, s, d, resolve_padding(padding, n, k, d, s))


def explain_conv(x_shape, w_shape, stride=1, padding=0, dilation=1, groups: int = 1,
                 padding_mode: PaddingMode = "zeros", *, dtype=np.float32,
                 method: Method = "auto") -> ConvPlan:
    """The plan :func:`conv1d`/``2d``/``3d`` would follow for these shapes, and why.

    Parameters
    ----------
    x_shape, w_shape : tuple of int
        Shapes of the input (batched or not) and of the weight; the number of spatial
        axes is ``len(w_shape) - 2``.
    stride, padding, dilation, groups, padding_mode, method
        As for :func:`conv2d`.
    dtype : numpy dtype
        float32 (default) or float64.

    Returns
    -------
    ConvPlan
        The method (``direct``, ``fft`` or ``oa``), its variant, the predicted seconds
        of every candidate in ``costs`` and the ``reason``.

    Examples
    --------
    >>> import sigconv.nn as nn
    >>> nn.explain_conv((8, 64, 56, 56), (64, 64, 3, 3), padding=1).method
    'direct'
    >>> nn.explain_conv((8, 64, 16384), (64, 1, 1024), groups=64).method
    'fft'
    """
    _check_method(method)
    nsp = len(w_shape) - 2
    if nsp not in (1, 2, 3):
        raise InputError(f"weight shape must have 3, 4 or 5 axes, not {tuple(w_shape)}")
    dt = np.dtype(dtype)
    x = np.broadcast_to(np.zeros((), dt), tuple(x_shape))
    w = np.broadcast_to(np.zeros((), dt), tuple(w_shape))
    float_dtype((x, "dtype"))
    if x.ndim == nsp + 1:
        x = x[None]
    geo = geometry(x, w, None, nsp, stride, padding, dilation, groups, padding_mode)
    return plan(geo, dt, method)
