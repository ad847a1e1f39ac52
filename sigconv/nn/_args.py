"""Argument checks and output sizes of the convolution layers.

Everything a method needs is gathered into a :class:`Geometry`: the batch and
channel counts, the groups, and per spatial axis the kernel size, stride,
dilation, padding before/after and the output size. The checks follow PyTorch's
rules (and quote the offending values); the one dtype policy lives in
:func:`float_dtype`.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

from .._checks import choice, positive_int
from .._errors import InputError, InputTypeError

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Geometry(NamedTuple):
    """Shapes and options of one convolution, checked."""
    batch: int                      # N
    c_in: int
    c_out: int
    groups: int
    in_size: tuple[int, ...]        # spatial sizes of the input
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]   # (before, after) per spatial axis
    padding_mode: str
    out_size: tuple[int, ...]

    @property
    def nsp(self) -> int:
        return len(self.in_size)

    @property
    def padded(self) -> tuple[int, ...]:
        return tuple(n + a + b for n, (a, b) in zip(self.in_size, self.pads))

    @property
    def reach(self) -> tuple[int, ...]:
        """Extent of the dilated kernel, ``(k - 1) * d + 1``."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))

    @property
    def cg(self) -> int:            # input channels per group
        return self.c_in // self.groups

    @property
    def cog(self) -> int:           # output channels per group
        return self.c_out // self.groups

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)


def _int(v, name: str) -> int:
    if isinstance(v, (bool, np.bool_)):
        raise InputTypeError(f"{name} must be an integer, not {v!r}")
    try:
        return operator.index(v)
    except TypeError:
        raise InputTypeError(f"{name} must be an integer or a tuple of integers, "
                             f"not {v!r}") from None


def as_tuple(v, n: int, name: str, low: int) -> tuple[int, ...]:
    """``v`` (an int or a sequence of ``n`` ints, each >= ``low``) as an n-tuple."""
    if isinstance(v, (list, tuple, np.ndarray)):
        items = tuple(_int(e, name) for e in v)
        if len(items) != n:
            raise InputError(f"{name} must be an integer or a tuple of {n} integers, "
                             f"not {v!r}")
    else:
        items = (_int(v, name),) * n
    for e in items:
        if e < low:
            raise InputError(f"{name} must be {'positive' if low else 'non-negative'}, "
                             f"not {v!r}")
    return items


def resolve_padding(padding, n: int, kernel, dilation, stride) -> tuple[tuple[int, int], ...]:
    """(before, after) per spatial axis for ``padding``: an int, a tuple of n ints
    (symmetric), a tuple of n (before, after) pairs, 'same' or 'valid'.

    'same' pads ``d * (k - 1)`` in total, the odd one after (PyTorch's rule for even
    kernels), and is refused with stride > 1 as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise InputError(f"padding='same' is not supported for strided "
                                 f"convolutions (stride={tuple(stride)!r})")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in total)
        raise InputError(f"padding must be an integer, a tuple, 'same' or 'valid', "
                         f"not {padding!r}")
    if isinstance(padding, (list, tuple)) and len(padding) == n \
            and all(isinstance(e, (list, tuple)) for e in padding):
        pads = []
        for e in padding:
            if len(e) != 2:
                raise InputError(f"padding pairs must be (before, after), not {padding!r}")
            a, b = _int(e[0], "padding"), _int(e[1], "padding")
            if a < 0 or b < 0:
                raise InputError(f"padding must be non-negative, not {padding!r}")
            pads.append((a, b))
        return tuple(pads)
    return tuple((p, p) for p in as_tuple(padding, n, "padding", 0))


def check_padding_mode(mode) -> str:
    return choice(mode, PADDING_MODES, "padding_mode", ordered=True)


def out_sizes(in_size, kernel, stride, dilation, pads) -> tuple[int, ...]:
    """Output sizes ``(n + before + after - d*(k-1) - 1) // s + 1``; refuses kernels
    larger than the padded input."""
    out = []
    for n, k, s, d, (a, b) in zip(in_size, kernel, stride, dilation, pads):
        padded, reach = n + a + b, d * (k - 1) + 1
        if reach > padded:
            raise InputError(
                f"kernel larger than the padded input: kernel size {tuple(kernel)} with "
                f"dilation {tuple(dilation)} reaches {reach} samples, the padded input "
                f"has {padded} (input {tuple(in_size)}, padding {tuple(pads)})")
        out.append((padded - reach) // s + 1)
    return tuple(out)


def float_dtype(*arrays_and_names) -> np.dtype:
    """The one dtype policy: float32 or float64, the same for every operand.

    Integer (and every other non-float) data are refused rather than computed in a
    silently different precision, and mixed float dtypes are refused as PyTorch does.
    """
    dtype = None
    first = None
    for arr, name in arrays_and_names:
        if arr is None:
            continue
        dt = arr.dtype
        if dt not in FLOAT_DTYPES:
            raise InputTypeError(f"{name} must be float32 or float64, not dtype {dt.name!r} "
                                 f"(convert it with .astype(np.float32) first)")
        if dtype is None:
            dtype, first = dt, name
        elif dt != dtype:
            raise InputTypeError(f"{name} has dtype {dt.name!r} but {first} has "
                                 f"{dtype.name!r}: convert one of them")
    return dtype


def as_array(a, name: str) -> np.ndarray:
    if a is None:
        return None
    arr = np.asarray(a)
    if arr.dtype.kind not in "biufc":
        raise InputTypeError(f"{name} must be a numeric array, not dtype {arr.dtype.name!r}")
    return arr


def geometry(x: np.ndarray, w: np.ndarray, bias, nsp: int, stride, padding, dilation,
             groups, padding_mode) -> Geometry:
    """Check a batched input ``x`` (N, C_in, *spatial), a weight ``w`` (C_out, C_in/groups,
    *kernel) and ``bias`` (C_out,) against the options; the checked :class:`Geometry`."""
    if x.ndim != nsp + 2:
        raise InputError(f"input must be {nsp + 1}-d (unbatched) or {nsp + 2}-d (batched) "
                         f"for conv{nsp}d, got shape {x.shape}")
    if w.ndim != nsp + 2:
        raise InputError(f"weight must be {nsp + 2}-d (C_out, C_in/groups, "
                         f"{'kernel' if nsp == 1 else '*kernel'}) for conv{nsp}d, "
                         f"got shape {w.shape}")
    g = positive_int(groups, "groups")
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    if c_in % g:
        raise InputError(f"input channels ({c_in}) not divisible by groups ({g})")
    if c_out % g:
        raise InputError(f"output channels ({c_out}, weight shape {w.shape}) not divisible "
                         f"by groups ({g})")
    if w.shape[1] * g != c_in:
        raise InputError(f"weight shape {w.shape} expects {w.shape[1] * g} input channels "
                         f"(weight.shape[1] * groups = {w.shape[1]} * {g}), the input has "
                         f"{c_in} (shape {x.shape})")
    if bias is not None and bias.shape != (c_out,):
        raise InputError(f"bias must have shape ({c_out},), one value per output channel, "
                         f"not {bias.shape}")
    if 0 in x.shape or 0 in w.shape:
        raise InputError(f"empty input or weight: shapes {x.shape} and {w.shape}")
    kernel = tuple(w.shape[2:])
    s = as_tuple(stride, nsp, "stride", 1)
    d = as_tuple(dilation, nsp, "dilation", 1)
    mode = check_padding_mode(padding_mode)
    pads = resolve_padding(padding, nsp, kernel, d, s)
    in_size = tuple(x.shape[2:])
    if mode != "zeros":
        for size, (a, b) in zip(in_size, pads):
            limit = size - 1 if mode == "reflect" else size
            if mode != "replicate" and max(a, b) > limit:
                raise InputError(
                    f"padding_mode {mode!r} needs padding {'<' if mode == 'reflect' else '<='}"
                    f" the input size on each axis: padding {tuple(pads)} for input size "
                    f"{in_size}")
    out = out_sizes(in_size, kernel, s, d, pads)
    return Geometry(n, c_in, c_out, g, in_size, kernel, s, d, pads, mode, out)
