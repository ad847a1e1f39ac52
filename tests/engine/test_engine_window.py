"""sigconv.engine.convolve_window against the exact naive oracle: any window of the full
convolution or correlation, every method, broadcast layouts like the nn front end's."""

import itertools

import numpy as np
import pytest
from conftest import naive_full, small_operand

from sigconv.engine import convolve_window

METHODS = ["auto", "direct", "fft", "oa"]


def _reversed_conj(h, axes):
    r = np.flip(np.asarray(h, dtype=object), axis=axes)
    return np.vectorize(lambda v: v.conjugate(), otypes=[object])(r)


def _same(got, want, dtype):
    assert got.shape == want.shape
    if np.dtype(dtype).kind in "iu":
        assert np.array_equal(got.astype(object), want)
    else:   # transforms round: to a few ulps of the largest sums (small integers here)
        tol = 1e-3 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-9
        np.testing.assert_allclose(np.asarray(got, np.complex128),
                                   np.asarray(want.astype(complex), np.complex128),
                                   rtol=tol, atol=tol)


def _windows(rng, full_shape, count=4):
    """The whole result, single samples at both ends, and random windows."""
    out = [tuple((0, f) for f in full_shape), tuple((0, 1) for f in full_shape),
           tuple((f - 1, f) for f in full_shape)]
    for _ in range(count):
        win = []
        for f in full_shape:
            s = int(rng.integers(0, f))
            win.append((s, int(rng.integers(s + 1, f + 1))))
        out.append(tuple(win))
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("shapes", [((9,), (4,)), ((4,), (9,)), ((1,), (5,)), ((40,), (7,)),
                                    ((5, 6), (3, 2)), ((6, 7), (6, 7)), ((9, 8), (1, 3))])
@pytest.mark.parametrize("corr", [False, True])
def test_window_of_the_full_result(method, dtype, shapes, corr):
    rng = np.random.default_rng(abs(hash((method, str(np.dtype(dtype)), shapes, corr))) % 2**32)
    x, h = small_operand(rng, shapes[0], dtype), small_operand(rng, shapes[1], dtype)
    axes = tuple(range(x.ndim))
    full = naive_full(x, _reversed_conj(h, axes) if corr else h)
    for win in _windows(rng, full.shape):
        got = convolve_window(x, h, win, method, correlate=corr)
        assert got.dtype == np.result_type(x, h)
        _same(got, full[tuple(slice(s, e) for s, e in win)], dtype)
        assert not np.shares_memory(got, x) and not np.shares_memory(got, h)


def _broadcast_oracle(x, h, corr):
    """Per line of the broadcast (N, G, C) layout, the exact full result along the last
    axis."""
    shape = np.broadcast_shapes(x.shape[:-1], h.shape[:-1])
    xb = np.broadcast_to(x, shape + x.shape[-1:])
    hb = np.broadcast_to(h, shape + h.shape[-1:])
    out = np.zeros(shape + (x.shape[-1] + h.shape[-1] - 1,), object)
    for i in np.ndindex(*shape):
        k = hb[i][::-1] if corr else hb[i]
        out[i] = naive_full(xb[i], k)
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [(33, 8), (64, 64), (100, 1), (7, 20), (300, 31)])
def test_window_broadcast_layouts(method, dtype, sizes):
    """x (N, G, 1, n) against h (1, G, C, m) along the last axis, as a depthwise layer
    with a channel multiplier asks; causal and 'valid' windows, strides of the result
    taken afterwards as a view."""
    n, m = sizes
    rng = np.random.default_rng(n * 1000 + m)
    x = small_operand(rng, (2, 3, 1, n), dtype)
    h = small_operand(rng, (1, 3, 2, m), dtype)
    for corr in (False, True):
        full = _broadcast_oracle(x, h, corr)
        f = n + m - 1
        wins = [(0, f), (m - 1, max(n, m)) if n >= m else (n - 1, m), (0, n),
                (f - n, f), (f // 3, f // 3 + 1)]
        for s, e in wins:
            got = convolve_window(x, h, [(s, e)], method, axes=-1, correlate=corr)
            _same(got, full[..., s:e], dtype)
            _same(got[..., ::2], full[..., s:e:2], dtype)


def test_window_large_fft_is_exact_and_independent():
    """A transform big enough to return a view of its output: values to rounding, and two
    calls give arrays of their own."""
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, (4, 2, 1, 5000)).astype(np.float64)
    h = rng.integers(-3, 4, (1, 2, 1, 300)).astype(np.float64)
    want = _broadcast_oracle(x, h, True)[..., 299:5000].astype(np.float64)
    a = convolve_window(x, h, [(299, 5000)], "fft", axes=-1, correlate=True)
    b = convolve_window(x, h, [(299, 5000)], "fft", axes=-1, correlate=True)
    np.testing.assert_allclose(a, want, rtol=0, atol=1e-8)
    assert not np.shares_memory(a, b)
    a[...] = 0
    np.testing.assert_allclose(b, want, rtol=0, atol=1e-8)


@pytest.mark.parametrize("window,msg", [
    ([(0, 3)], "one .start, stop. pair per convolved axis"),
    ([(0, 3), (0, 2), (0, 1)], "one .start, stop. pair per convolved axis"),
    ([(0, 3, 1), (0, 2)], "one .start, stop. pair per convolved axis"),
    ([(2, 2), (0, 2)], r"window \(2, 2\) on axis 0"),
    ([(-1, 2), (0, 2)], r"window \(-1, 2\) on axis 0"),
    ([(0, 7), (0, 2)], r"<= 6 \(the full"),
    ([(0, 2), (0, 9)], r"on axis 1 must satisfy 0 <= start < stop <= 5"),
    ([(0.5, 2), (0, 2)], "pair of integers"),
    (3, "pair of integers"),
])
def test_window_errors_quote_values(window, msg):
    x, h = np.ones((4, 3)), np.ones((3, 3))
    with pytest.raises(ValueError, match=msg):
        convolve_window(x, h, window)


def test_window_rejects_dask_and_bad_method():
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="dask"):
        convolve_window(da.ones(8, chunks=4), np.ones(3), [(0, 10)])
    with pytest.raises(ValueError):
        convolve_window(np.ones(8), np.ones(3), [(0, 10)], method="bogus")


def test_window_every_pair_of_a_small_case():
    """Every window of a small 1-D case, both directions, every method."""
    rng = np.random.default_rng(9)
    x, h = small_operand(rng, (6,), np.float64), small_operand(rng, (4,), np.float64)
    for corr, method in itertools.product((False, True), METHODS):
        full = naive_full(x, h[::-1] if corr else h)
        for s in range(9):
            for e in range(s + 1, 10):
                got = convolve_window(x, h, [(s, e)], method, correlate=corr)
                _same(got, full[s:e], np.float64)
