"""The algebra of convolution, checked with hypothesis against exact integers."""

import numpy as np
from conftest import naive
from hypothesis import given, settings
from hypothesis import strategies as st

import sigconv
from sigconv.backends import available_backends

METHODS = st.sampled_from(["auto", "direct", "fft", "oa"])
BACKENDS = st.sampled_from(available_backends())
ints = st.lists(st.integers(-1000, 1000), min_size=1, max_size=40).map(
    lambda v: np.array(v, dtype=np.int64))
SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(ints, ints, METHODS, BACKENDS)
def test_matches_definition(x, h, method, backend):
    got = sigconv.convolve(x, h, method=method, backend=backend)
    assert got.dtype == np.int64
    assert got.tolist() == naive(x, h).tolist()


@SETTINGS
@given(ints, ints, METHODS, BACKENDS)
def test_commutative(x, h, method, backend):
    a = sigconv.convolve(x, h, method=method, backend=backend)
    b = sigconv.convolve(h, x, method=method, backend=backend)
    assert np.array_equal(a, b)


@SETTINGS
@given(ints, ints, ints, METHODS)
def test_associative(x, g, h, method):
    left = sigconv.convolve(sigconv.convolve(x, g, method=method), h, method=method)
    right = sigconv.convolve(x, sigconv.convolve(g, h, method=method), method=method)
    assert np.array_equal(left, right)


@SETTINGS
@given(ints, st.integers(-50, 50), st.integers(-50, 50), METHODS, st.data())
def test_linear(x, a, b, method, data):
    y = data.draw(st.lists(st.integers(-1000, 1000), min_size=x.size,
                           max_size=x.size).map(np.array))
    h = data.draw(ints)
    lhs = sigconv.convolve(a * x + b * y, h, method=method)
    rhs = a * sigconv.convolve(x, h, method=method) + b * sigconv.convolve(y, h, method=method)
    assert np.array_equal(lhs, rhs)


@SETTINGS
@given(ints, ints, st.integers(0, 12), METHODS)
def test_shift(x, h, k, method):
    shifted = np.concatenate([np.zeros(k, dtype=x.dtype), x])
    out = sigconv.convolve(shifted, h, method=method)
    assert np.array_equal(out[k:], sigconv.convolve(x, h, method=method))
    assert not out[:k].any()


@SETTINGS
@given(ints, st.integers(0, 6), METHODS)
def test_identity(x, k, method):
    delta = np.zeros(2 * k + 1, dtype=np.int64)
    delta[k] = 1
    assert np.array_equal(sigconv.convolve(x, delta, "full", method)[k:k + x.size], x)
    if x.size >= delta.size:
        assert np.array_equal(sigconv.convolve(x, delta, "same", method), x)


@SETTINGS
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["full", "same", "valid"]), METHODS, st.data())
def test_2d_matches_definition(r, c, kr, kc, mode, method, data):
    if mode == "valid" and not ((r >= kr and c >= kc) or (kr >= r and kc >= c)):
        return
    x = np.array(data.draw(st.lists(st.integers(-99, 99), min_size=r * c,
                                    max_size=r * c))).reshape(r, c)
    h = np.array(data.draw(st.lists(st.integers(-99, 99), min_size=kr * kc,
                                    max_size=kr * kc))).reshape(kr, kc)
    got = sigconv.convolve(x, h, mode, method)
    assert got.tolist() == naive(x, h, mode).tolist()
