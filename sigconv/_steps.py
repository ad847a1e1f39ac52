"""A convolution taken apart: which samples meet at each output position.

:func:`steps` lists, for every output of ``sigconv.convolve`` (or ``correlate``), the
input and kernel samples multiplied there and the value the engine computed. It is a
teaching and checking aid: it builds Python tuples for every product, so its cost is
the number of products, about ``n * m`` for 1-D inputs of n and m samples (a few
hundred bytes each), and it refuses to list more than ``limit`` of them.

It reads the engine through its public functions only; the output values come from one
``convolve``/``correlate`` call, so they are exactly what the library returns.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

import numpy as np
from numpy.typing import ArrayLike

from ._errors import InputError
from .engine import convolve as _convolve
from .engine import correlate as _correlate

_MODES = ("full", "same", "valid")
#: Default cap on the number of products :func:`steps` lists (about 30 MB of tuples).
DEFAULT_LIMIT = 200_000

Index = Union[int, tuple[int, ...]]
Number = Union[bool, int, float, complex]


@dataclass(frozen=True)
class Step:
    """One output position of a convolution and the products summed there.

    Attributes
    ----------
    index : int or tuple of int
        Position in the output (as returned by ``convolve``/``correlate`` with the
        same mode); an int for 1-D inputs, a tuple for 2-D.
    pairs : tuple of (input index, kernel index, input value, kernel value)
        The samples that meet at this output, in C order of the input index. Indices
        are into ``in1`` and ``in2`` as given (the kernel is not flipped in its
        indices). The kernel value is ``in2[kernel index]``, conjugated when
        correlating complex data, so that ``value`` is the sum of
        ``input value * kernel value`` over the pairs. Values are Python numbers.
    value : int, float, complex or bool
        The output at ``index``, taken from the engine's result.
    valid : bool
        True when no product falls on zero padding: along every axis the shorter of
        the two operands lies wholly within the longer (mode ``'valid'`` keeps
        exactly these positions).
    origin : int or tuple of int
        Index into ``in1`` under the first cell of the placed kernel window (the
        flipped kernel for a convolution, the kernel as given for a correlation);
        negative or beyond the input where the window hangs over zero padding. The
        window covers ``in2.shape`` cells from here.
    """

    index: Index
    pairs: tuple[tuple[Index, Index, Number, Number], ...]
    value: Number
    valid: bool
    origin: Index


def steps(in1: ArrayLike, in2: ArrayLike, mode: Literal["full", "same", "valid"] = "full",
          correlate: bool = False, *, positions: Iterable[Index] | None = None,
          limit: int | None = DEFAULT_LIMIT) -> list[Step]:
    """Every output position of a 1-D or 2-D convolution with the products summed there.

    Parameters
    ----------
    in1 : array_like
        The signal, 1-D or 2-D, numeric.
    in2 : array_like
        The kernel, same number of dimensions as ``in1``.
    mode : {'full', 'same', 'valid'}, optional
        Which outputs, by the rules of :func:`sigconv.convolve` (and
        ``scipy.signal.convolve``): 'same' is centred on ``in1``; 'valid' keeps the
        positions where the shorter operand lies wholly within the longer, whichever
        of the two is larger.
    correlate : bool, optional
        Cross-correlate (slide ``in2`` as given, conjugated if complex) as
        :func:`sigconv.correlate` does, instead of convolving (``in2`` flipped).
    positions : iterable of int or tuple of int, optional
        Only these output indices, in the order given (negative indices count from
        the end, as in NumPy). Default: every output, in the output's C order.
    limit : int or None, optional
        Refuse (``ValueError``) to list more than this many products in total;
        None for no cap. Listing costs a few hundred bytes per product.

    Returns
    -------
    list of Step
        One :class:`Step` per output position.

    Raises
    ------
    ValueError
        Inputs that are not 1-D or 2-D, of different dimensionality, empty, of
        incompatible shapes for the mode; an unknown mode; a position outside the
        output; more products than ``limit``.
    TypeError
        Non-numeric inputs.

    Examples
    --------
    >>> import sigconv
    >>> s = sigconv.steps([1, 2, 3], [2, 3, 4])
    >>> [step.value for step in s]
    [2, 7, 16, 17, 12]
    >>> s[2].pairs       # (input index, kernel index, input value, kernel value)
    ((0, 2, 1, 4), (1, 1, 2, 3), (2, 0, 3, 2))
    >>> [step.valid for step in s]
    [False, False, True, False, False]
    >>> [st.value for st in sigconv.steps([1, 2, 3], [2, 3, 4], "valid", correlate=True)]
    [20]
    """
    if not isinstance(mode, str) or mode not in _MODES:
        raise InputError(f"mode must be one of {list(_MODES)}, not {mode!r}")
    x, h = np.asarray(in1), np.asarray(in2)
    for name, a in (("in1", x), ("in2", h)):
        if a.ndim not in (1, 2):
            raise InputError(f"steps lists 1-D and 2-D convolutions only; {name} is "
                             f"{a.ndim}-d (shape {a.shape})")
        if a.size == 0:
            raise InputError(f"{name} is empty (shape {a.shape}); nothing to convolve")
    if x.ndim != h.ndim:
        raise InputError(f"in1 and in2 should have the same dimensionality, "
                         f"got {x.ndim}-d and {h.ndim}-d")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise InputError(f"limit must be a whole number >= 0 or None, not {limit!r}")
    n_shape, m_shape = x.shape, h.shape
    _check_valid_shapes(n_shape, m_shape, mode)

    # per axis: first kept index of the full result, and the output length
    start, length = [], []
    for n, m in zip(n_shape, m_shape):
        full = n + m - 1
        if mode == "full":
            s, e = 0, full
        elif mode == "same":
            s = (full - n) // 2
            e = s + n
        else:
            s, e = min(n, m) - 1, max(n, m)
        start.append(s)
        length.append(e - s)
    out_shape = tuple(length)

    if positions is None:
        wanted = list(np.ndindex(*out_shape))
        count = math.prod(_overlaps(s, ln, n, m)
                          for s, ln, n, m in zip(start, length, n_shape, m_shape))
    else:
        wanted = [_position(p, out_shape) for p in positions]
        count = sum(math.prod(_overlap(o + s, n, m)[2]
                              for o, s, n, m in zip(w, start, n_shape, m_shape))
                    for w in wanted)
    if limit is not None and count > limit:
        raise InputError(f"steps would list {count} products for output shape "
                         f"{out_shape}, more than limit={limit}; ask for a few positions= "
                         f"or raise the limit (each product costs a few hundred bytes)")

    engine = _correlate if correlate else _convolve
    out = np.asarray(engine(x, h, mode))
    if out.shape != out_shape:   # pragma: no cover - the crop rules above mirror the engine's
        raise AssertionError(f"steps' output shape {out_shape} differs from the engine's "
                             f"{out.shape}")
    kernel_values = np.conj(h) if correlate and h.dtype.kind == "c" else h
    xs, ks = x.tolist(), kernel_values.tolist()     # Python numbers, fast to index
    result = []
    for w in wanted:
        spans = []          # per axis: (first input index, last + 1, origin, full index)
        valid = True
        for o, s, n, m in zip(w, start, n_shape, m_shape):
            f = o + s                         # index into the full result
            lo, hi, cnt = _overlap(f, n, m)
            spans.append((lo, hi, f - m + 1, f))
            valid = valid and cnt == min(n, m)
        # convolution: x[i] meets h[f - i]; correlation: x[i] meets h[i - origin]
        if x.ndim == 1:
            lo, hi, origin, f = spans[0]
            js = [i - origin if correlate else f - i for i in range(lo, hi)]
            pairs = tuple((i, j, xs[i], ks[j]) for i, j in zip(range(lo, hi), js))
            index = w[0]
        else:
            (lo0, hi0, or0, f0), (lo1, hi1, or1, f1) = spans
            pairs = []
            for i0 in range(lo0, hi0):
                j0 = i0 - or0 if correlate else f0 - i0
                xrow, krow = xs[i0], ks[j0]
                for i1 in range(lo1, hi1):
                    j1 = i1 - or1 if correlate else f1 - i1
                    pairs.append(((i0, i1), (j0, j1), xrow[i1], krow[j1]))
            pairs, index, origin = tuple(pairs), w, (or0, or1)
        result.append(Step(index=index, pairs=pairs, value=_py(out[w]), valid=valid,
                           origin=origin))
    return result


def _overlap(f: int, n: int, m: int) -> tuple[int, int, int]:
    """Input indices [lo, hi) meeting the kernel at full-result index f, and their count."""
    lo, hi = max(0, f - m + 1), min(n, f + 1)
    return lo, hi, max(0, hi - lo)


def _overlaps(start: int, length: int, n: int, m: int) -> int:
    """Products met along one axis, summed over the outputs start..start+length-1 of
    the full result (vectorised: the outputs may be many)."""
    f = np.arange(start, start + length, dtype=np.int64)
    return int((np.minimum(n, f + 1) - np.maximum(0, f - m + 1)).sum())


def _check_valid_shapes(s1: Sequence[int], s2: Sequence[int], mode: str) -> None:
    """'valid' needs one operand at least as large as the other on every axis where
    neither has size 1 (scipy's rule; the larger may be either)."""
    if mode != "valid":
        return
    axes = [a for a in range(len(s1)) if s1[a] != 1 and s2[a] != 1]
    if not (all(s1[a] >= s2[a] for a in axes) or all(s2[a] >= s1[a] for a in axes)):
        raise InputError("For 'valid' mode, one must be at least as large as the other in "
                         f"every dimension; got shapes {tuple(s1)} and {tuple(s2)}")


def _position(p, out_shape: tuple[int, ...]) -> tuple[int, ...]:
    """An output index (int in 1-D, tuple in 2-D) as a tuple of non-negative ints."""
    try:
        items = (operator.index(p),) if np.ndim(p) == 0 else tuple(map(operator.index, p))
    except TypeError:
        raise InputError(f"positions must hold output indices (ints, or tuples of ints "
                         f"in 2-D), not {p!r}") from None
    if len(items) != len(out_shape) or not all(-n <= i < n for i, n in zip(items, out_shape)):
        raise InputError(f"position {p!r} is outside the output of shape {out_shape}")
    return tuple(i % n for i, n in zip(items, out_shape))


def _py(v):
    """A NumPy scalar as the Python number it holds (object elements are already)."""
    return v.item() if isinstance(v, np.generic) else v
