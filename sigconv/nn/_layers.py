"""Layer objects holding a weight and a bias, for scripts that train by hand."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .._checks import positive_int
from .._errors import InputError
from . import _functional as F
from ._args import FLOAT_DTYPES, as_tuple, check_padding_mode, resolve_padding


class _ConvNd:
    _nsp = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", *, dtype=np.float32, seed=None, rng=None,
                 method: str = "auto"):
        n = self._nsp
        c_in = positive_int(in_channels, "in_channels")
        c_out = positive_int(out_channels, "out_channels")
        g = positive_int(groups, "groups")
        if c_in % g or c_out % g:
            raise InputError(f"in_channels ({c_in}) and out_channels ({c_out}) must both be "
                             f"divisible by groups ({g})")
        dt = np.dtype(dtype)
        if dt not in FLOAT_DTYPES:
            raise InputError(f"dtype must be float32 or float64, not {dt.name!r}")
        self.kernel_size = as_tuple(kernel_size, n, "kernel_size", 1)
        # the option checks of the functional form, now rather than at the first call
        resolve_padding(padding, n, self.kernel_size, as_tuple(dilation, n, "dilation", 1),
                        as_tuple(stride, n, "stride", 1))
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.padding_mode = g, check_padding_mode(padding_mode)
        self.in_channels, self.out_channels = c_in, c_out
        self.method = F._check_method(method)
        if rng is None:
            rng = np.random.default_rng(seed)
        elif seed is not None:
            raise InputError("give seed or rng, not both")
        # PyTorch's default: kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
        # 1/sqrt(fan_in)) for the weight, and the same bound for the bias.
        fan_in = c_in // g * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = rng.uniform(-bound, bound, (c_out, c_in // g) + self.kernel_size
                                  ).astype(dt)
        self.bias = rng.uniform(-bound, bound, c_out).astype(dt) if bias else None
        self.grad_weight: np.ndarray | None = None
        self.grad_bias: np.ndarray | None = None
        self._input: np.ndarray | None = None

    def _options(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode, method=self.method)

    def forward(self, x: ArrayLike) -> np.ndarray:
        """The layer's output for ``x``; ``x`` is kept (not copied) for :meth:`backward`."""
        fn = (F.conv1d, F.conv2d, F.conv3d)[self._nsp - 1]
        y = fn(x, self.weight, self.bias, **self._options())
        self._input = np.asarray(x)
        return y

    __call__ = forward

    def backward(self, grad_y: ArrayLike) -> np.ndarray:
        """The gradient with respect to the last input; stores ``grad_weight`` and
        ``grad_bias`` (replacing earlier ones)."""
        if self._input is None:
            raise InputError("backward() needs a forward() first")
        fn = (F.conv1d_backward, F.conv2d_backward, F.conv3d_backward)[self._nsp - 1]
        gx, gw, gb = fn(grad_y, self._input, self.weight, bias=self.bias is not None,
                        **self._options())
        self.grad_weight, self.grad_bias = gw, gb
        return gx

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, padding_mode={self.padding_mode!r})")


_LAYER_DOC = """A {n}-D convolution layer: :func:`conv{n}d` with its own weight and bias.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of int
    stride, padding, dilation, groups, padding_mode
        As for :func:`conv{n}d`.
    bias : bool
        Whether the layer adds a learnt bias per output channel.
    dtype : float32 (default) or float64, keyword-only
    seed, rng : keyword-only
        Seed or ``numpy.random.Generator`` of the initial weights, drawn like PyTorch's
        default: uniform in ``+-1/sqrt(fan_in)``, ``fan_in = in_channels / groups *
        prod(kernel_size)``, for the weight and for the bias.
    method : keyword-only
        As for :func:`conv{n}d`.

    Attributes
    ----------
    weight : numpy.ndarray
        ``(out_channels, in_channels / groups, *kernel_size)``.
    bias : numpy.ndarray or None
        ``(out_channels,)``.
    grad_weight, grad_bias : numpy.ndarray or None
        Set by :meth:`backward`.

    Examples
    --------
    >>> import numpy as np, sigconv.nn as nn
    >>> layer = nn.Conv{n}d(3, 2, 3, padding=1, seed=0)
    >>> x = np.ones((4, 3) + (5,) * {n}, np.float32)
    >>> y = layer(x)
    >>> y.shape, y.dtype
    ((4, 2{tail}), dtype('float32'))
    >>> gx = layer.backward(np.ones_like(y))
    >>> gx.shape == x.shape, layer.grad_weight.shape, layer.grad_bias.shape
    (True, (2, 3{ktail}), (2,))
"""


class Conv1d(_ConvNd):
    _nsp = 1


class Conv2d(_ConvNd):
    _nsp = 2


class Conv3d(_ConvNd):
    _nsp = 3


for _n, _cls in ((1, Conv1d), (2, Conv2d), (3, Conv3d)):
    _cls.__doc__ = _LAYER_DOC.format(n=_n, tail=", 5" * _n, ktail=", 3" * _n)
