"""The window gather (im2col) and its adjoint: native == NumPy twin == a naive loop."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigconv.engine import _native, gather_windows, scatter_windows


def oracle_index(shape, kernel, stride, dilation, pads):
    """Per (tap, position): the input index tuple it reads, or None (padding)."""
    out = [(n + a + b - (k - 1) * d - 1) // s + 1
           for n, k, s, d, (a, b) in zip(shape, kernel, stride, dilation, pads)]
    table = []
    for tap in itertools.product(*(range(k) for k in kernel)):
        row = []
        for pos in itertools.product(*(range(o) for o in out)):
            idx = tuple(p * s + t * d - a for p, t, s, d, (a, _) in
                        zip(pos, tap, stride, dilation, pads))
            row.append(idx if all(0 <= i < n for i, n in zip(idx, shape)) else None)
        table.append(row)
    return table, out


def oracle_gather(x, kernel, stride, dilation, pads, images, positions):
    table, _ = oracle_index(x.shape[2:], kernel, stride, dilation, pads)
    (n0, n1), (p0, p1) = images, positions
    cols = np.zeros((n1 - n0, x.shape[1], len(table), p1 - p0), x.dtype)
    for n in range(n0, n1):
        for c in range(x.shape[1]):
            for t, row in enumerate(table):
                for p in range(p0, p1):
                    if row[p] is not None:
                        cols[n - n0, c, t, p - p0] = x[(n, c) + row[p]]
    return cols


def oracle_scatter(cols, shape, kernel, stride, dilation, pads, images, positions, base):
    table, _ = oracle_index(shape[2:], kernel, stride, dilation, pads)
    (n0, n1), (p0, p1) = images, positions
    x = base.copy()
    for n in range(n0, n1):
        for c in range(shape[1]):
            for t, row in enumerate(table):        # taps in kernel order, as documented
                for p in range(p0, p1):
                    if row[p] is not None:
                        x[(n, c) + row[p]] += cols[n - n0, c, t, p - p0]
    return x


@st.composite
def problems(draw):
    nsp = draw(st.integers(1, 3))
    size = tuple(draw(st.integers(1, 7 if nsp < 3 else 4)) for _ in range(nsp))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nsp))
    # every axis must fit the dilated kernel into the padded input
    pads = tuple((a, max(b, (k - 1) * d + 1 - n - a)) for n, k, d, (a, b) in
                 zip(size, kernel, dilation, pads))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    out = [(m + a + b - (k - 1) * d - 1) // s + 1 for m, k, s, d, (a, b) in
           zip(size, kernel, stride, dilation, pads)]
    total = math.prod(out)
    p0 = draw(st.integers(0, total))
    p1 = draw(st.integers(p0, total))
    n0 = draw(st.integers(0, n))
    n1 = draw(st.integers(n0, n))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return (n, c) + size, kernel, stride, dilation, pads, (n0, n1), (p0, p1), dtype


def both(fn, *args, **kw):
    nat = fn(*args, **kw)
    with _native.use_native(False):
        twin = fn(*args, **kw)
    return nat, twin


def same_bits(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)) or np.array_equal(
        a, b, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**31 - 1))
def test_gather_native_twin_oracle(prob, seed):
    shape, k, s, d, pads, images, positions, dt = prob
    x = np.random.default_rng(seed).standard_normal(shape).astype(dt)
    opts = dict(stride=s, dilation=d, padding=pads, images=images, positions=positions)
    nat, twin = both(gather_windows, x, k, **opts, workers=2)
    want = oracle_gather(x, k, s, d, pads, images, positions)
    same_bits(nat, want)
    same_bits(twin, want)


@settings(max_examples=150, deadline=None)
@given(problems(), st.integers(0, 2**31 - 1))
def test_scatter_native_twin_oracle(prob, seed):
    shape, k, s, d, pads, images, positions, dt = prob
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dt)
    cols = gather_windows(x, k, s, d, pads, images=images, positions=positions)
    cols = rng.standard_normal(cols.shape).astype(dt)
    base = rng.standard_normal(shape).astype(dt)
    opts = dict(stride=s, dilation=d, padding=pads, images=images, positions=positions)
    nat = scatter_windows(cols, shape, k, **opts, out=base.copy(), workers=2)
    with _native.use_native(False):
        twin = scatter_windows(cols, shape, k, **opts, out=base.copy())
    want = oracle_scatter(cols, shape, k, s, d, pads, images, positions, base)
    same_bits(nat, want)
    same_bits(twin, want)


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(0, 2**31 - 1))
def test_scatter_is_the_adjoint(prob, seed):
    shape, k, s, d, pads, images, positions, _ = prob
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    g = gather_windows(x, k, s, d, pads, images=images, positions=positions)
    cols = rng.standard_normal(g.shape)
    back = scatter_windows(cols, shape, k, s, d, pads, images=images, positions=positions)
    assert math.isclose(float(np.sum(g * cols)), float(np.sum(x * back)),
                        rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_threads_do_not_change_bits_and_noncontiguous_input(dt):
    rng = np.random.default_rng(3)
    big = rng.standard_normal((5, 7, 19, 23)).astype(dt)
    x = big[::2, 1::2, ::-1, 1:]                       # strided, reversed, offset
    opts = dict(stride=(2, 3), dilation=(1, 2), padding=((2, 1), (0, 3)))
    one = gather_windows(x, (3, 4), **opts, workers=1)
    two = gather_windows(x, (3, 4), **opts, workers=2)
    with _native.use_native(False):
        twin = gather_windows(x, (3, 4), **opts)
    same_bits(one, two)
    same_bits(one, twin)
    cols = rng.standard_normal(one.shape).astype(dt)[..., ::-1]    # non-contiguous cols
    s1 = scatter_windows(cols, x.shape, (3, 4), **opts, workers=1)
    s2 = scatter_windows(cols, x.shape, (3, 4), **opts, workers=2)
    with _native.use_native(False):
        st_ = scatter_windows(cols, x.shape, (3, 4), **opts)
    same_bits(s1, s2)
    same_bits(s1, st_)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_nan_and_inf_go_where_they_are_read(dt):
    x = np.zeros((1, 1, 6, 6), dt)
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 5, 5] = np.inf
    nat, twin = both(gather_windows, x, (3, 3), stride=2, padding=1)
    same_bits(nat, twin)
    # row 2 is under output row 1 only, column 3 under output columns 1 and 2
    assert np.isnan(nat).sum() == 2 and np.isinf(nat).sum() == 1
    cols = np.ones_like(nat)
    cols[0, 0, 4, 0] = np.nan         # the centre tap of output (0, 0) reads x[0, 0]
    a, b = both(scatter_windows, cols, x.shape, (3, 3), stride=2, padding=1)
    same_bits(a, b)
    assert np.isnan(a).sum() == 1 and np.isnan(a[0, 0, 0, 0])


def test_out_arrays_are_filled_in_place():
    x = np.random.default_rng(0).standard_normal((2, 3, 9)).astype(np.float32)
    out = np.full((1, 3, 3, 4), 7, np.float32)
    got = gather_windows(x, 3, images=(1, 2), positions=(2, 6), out=out)
    assert got is out
    same_bits(out, oracle_gather(x, (3,), (1,), (1,), ((0, 0),), (1, 2), (2, 6)))
    acc = np.ones(x.shape, np.float32)
    assert scatter_windows(out, x.shape, 3, images=(1, 2), positions=(2, 6), out=acc) is acc


@pytest.mark.parametrize("call, match", [
    (lambda x: gather_windows(x.astype(np.int32), 3), "float32 or float64"),
    (lambda x: gather_windows(x, 0), "kernel must be positive"),
    (lambda x: gather_windows(x, 3, stride=0), "stride must be positive, not 0"),
    (lambda x: gather_windows(x, 3, dilation=(1, 2)), r"dilation must be an integer or 1"),
    (lambda x: gather_windows(x, 3, padding=-1), "padding must be non-negative, not -1"),
    (lambda x: gather_windows(x, 9), "reaches beyond the padded input"),
    (lambda x: gather_windows(x, (3, 3)), r"matching the kernel \(3, 3\)"),
    (lambda x: gather_windows(x, 3, positions=(2, 99)), r"within 0..6, not \(2, 99\)"),
    (lambda x: gather_windows(x, 3, images=(1, 0)), r"images must be a range"),
    (lambda x: gather_windows(x, 3, workers=0), "workers must be a positive integer, not 0"),
    (lambda x: gather_windows(x, 3, out=np.empty((2, 2, 3, 6), np.float32)),
     "out must be a writeable C-contiguous float64 array of shape"),
    (lambda x: scatter_windows(np.ones((2, 2, 3, 5)), x.shape, 3), r"cols must have shape "
                                                                  r"\(2, 2, 3, 6\)"),
])
def test_errors_quote_the_values(call, match):
    x = np.ones((2, 2, 8))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)
