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


VARIANTS = st.sampled_from(["lines", "taps", "ndimage", "band", "native"])
MODES = st.sampled_from(["full", "same", "valid"])


@SETTINGS
@given(ints, ints, VARIANTS, MODES)
def test_every_direct_variant_is_exact(x, h, variant, mode):
    """Each direct variant (the band's matrix products included) against the definition;
    integers stay exact whichever loop sums them."""
    from conftest import crop

    from sigconv.engine._direct import direct
    from sigconv.engine._validate import prepare

    if mode == "valid" and len(x) < len(h):
        x, h = h, x
    p, _ = prepare(x, h, mode, None, fft_style=False)
    got = direct(p, variant)
    assert got.dtype == np.int64
    assert got.tolist() == crop(naive(x, h), x.shape, h.shape, mode).tolist()


@SETTINGS
@given(ints, ints, st.integers(0, 30), VARIANTS)
def test_every_direct_variant_commutes_with_shifts(x, h, shift, variant):
    """Delaying the signal delays the output: x shifted by k samples gives y shifted by k."""
    from sigconv.engine._direct import direct
    from sigconv.engine._validate import prepare

    delayed = np.concatenate([np.zeros(shift, np.int64), x])
    p, _ = prepare(delayed, h, "full", None, fft_style=False)
    q, _ = prepare(x, h, "full", None, fft_style=False)
    assert direct(p, variant).tolist() == [0] * shift + direct(q, variant).tolist()
