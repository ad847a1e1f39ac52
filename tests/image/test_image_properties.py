"""Property-based checks: shift invariance, linearity, and the oracles on random shapes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from sigconv import image as si

BORDERS = st.sampled_from(["reflect", "nearest", "wrap", "constant", "mirror"])
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def image_and_kernel(draw):
    rows, cols = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    channels = draw(st.sampled_from([0, 1, 3]))
    shape = (rows, cols) if channels == 0 else (rows, cols, channels)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(draw(st.integers(1, 7)), draw(st.integers(1, 7))))
    return rng.normal(size=shape), kernel


@SETTINGS
@given(image_and_kernel(), BORDERS, st.booleans())
def test_filter_matches_ndimage_on_any_shape(data, border, correlate):
    img, kernel = data
    k = kernel if img.ndim == 2 else kernel[..., None]
    oracle = ndimage.correlate if correlate else ndimage.convolve
    expected = oracle(img, k, mode=border, cval=0.25)
    out = si.filter(img, kernel, correlate=correlate, border=border, cval=0.25, alpha=False)
    np.testing.assert_allclose(out, expected, atol=1e-9)


@SETTINGS
@given(image_and_kernel(), st.integers(-5, 5), st.integers(-5, 5))
def test_wrap_border_commutes_with_circular_shifts(data, dy, dx):
    img, kernel = data
    shifted = np.roll(img, (dy, dx), axis=(0, 1))
    out = si.filter(shifted, kernel, border="wrap", alpha=False)
    expected = np.roll(si.filter(img, kernel, border="wrap", alpha=False), (dy, dx), axis=(0, 1))
    np.testing.assert_allclose(out, expected, atol=1e-9)


@SETTINGS
@given(image_and_kernel(), st.floats(-3, 3), BORDERS)
def test_linear_in_the_image(data, factor, border):
    img, kernel = data
    other = np.cos(img * 3)
    both = si.filter(img + factor * other, kernel, border=border, alpha=False)
    separate = (si.filter(img, kernel, border=border, alpha=False)
                + factor * si.filter(other, kernel, border=border, alpha=False))
    np.testing.assert_allclose(both, separate, atol=1e-9)


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 30), st.integers(1, 30), BORDERS)
def test_box_matches_uniform_filter_on_any_shape(size_y, size_x, rows, cols, border):
    img = np.random.default_rng(rows * 31 + cols).integers(0, 65536, (rows, cols))
    img = img.astype(np.uint16)
    expected = ndimage.uniform_filter(img.astype(np.float64), (size_y, size_x), mode=border,
                                      cval=1000)
    out = si.box(img, (size_y, size_x), border=border, cval=1000)
    assert out.dtype == np.uint16
    assert np.abs(out - expected).max() <= 0.5 + 1e-6


OPERATORS = st.sampled_from(["sobel", "prewitt", "scharr", "diff", "laplacian"])


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([0, 1, 3]), OPERATORS,
       st.sampled_from(["x", "y", "magnitude"]), BORDERS, st.integers(0, 2**32 - 1))
def test_edges_match_ndimage_on_any_shape(rows, cols, channels, operator, direction, border,
                                          seed):
    """Shifted-slice passes, strips read in place: the oracle is ndimage.correlate."""
    from sigconv.image._filters import OPERATORS as KERNELS
    if operator == "laplacian":
        direction = "magnitude"
    shape = (rows, cols) if channels == 0 else (rows, cols, channels)
    img = np.random.default_rng(seed).normal(size=shape)
    kx, ky = KERNELS[operator]

    def corr(k):
        k = np.asarray(k, float)
        return ndimage.correlate(img, k if img.ndim == 2 else k[..., None], mode=border,
                                 cval=0.5)
    if ky is None or direction == "x":
        expected = corr(kx)
    elif direction == "y":
        expected = corr(ky)
    else:
        expected = np.hypot(corr(kx), corr(ky))
    out = si.edges(img, operator, direction=direction, color="channels", scale="none",
                   border=border, cval=0.5, alpha=False)
    np.testing.assert_allclose(out, expected, atol=1e-9)


@SETTINGS
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=3),
       st.lists(st.integers(-3, 3), min_size=1, max_size=3), BORDERS, st.integers(0, 2**32 - 1))
def test_small_integer_separable_kernels_match_ndimage(column, row, border, seed):
    """Outer products of short integer vectors: every shifted-slice pattern ([1, 2, 1],
    [-1, 0, 1], [1, -2, 1], equal taps, lone taps, zeros) against the oracle."""
    kernel = np.outer(column, row).astype(float)
    img = np.random.default_rng(seed).normal(size=(9, 11, 3))
    out = si.filter(img, kernel, correlate=True, border=border, cval=0.25, alpha=False)
    expected = ndimage.correlate(img, kernel[..., None], mode=border, cval=0.25)
    np.testing.assert_allclose(out, expected, atol=1e-9)
