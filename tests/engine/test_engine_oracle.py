"""Every method x mode x backend x dtype against the exact naive oracle."""

import itertools
import warnings

import numpy as np
import pytest
from conftest import crop, naive, small_operand

import sigconv

METHODS = ["auto", "direct", "fft", "oa"]
MODES = ["full", "same", "valid"]
DTYPES = [np.int64, np.int16, np.uint8, np.float32, np.float64, np.complex128, np.complex64]
SHAPES_1D = [(1, 1), (1, 4), (5, 1), (7, 3), (8, 4), (3, 7), (4, 8), (32, 5), (5, 32)]
SHAPES_2D = [((1, 1), (1, 1)), ((5, 6), (3, 2)), ((4, 4), (3, 3)), ((3, 2), (5, 6)),
             ((9, 8), (1, 3)), ((6, 7), (6, 7))]


def _check(got, x, h, mode):
    want = naive(x, h, mode)
    assert got.shape == want.shape
    rt = np.result_type(x, h)
    assert got.dtype == rt
    if rt.kind in "iu":
        assert np.array_equal(got.astype(object), want)
    else:
        tol = 1e-3 if rt in (np.float32, np.complex64) else 1e-9
        np.testing.assert_allclose(got.astype(np.complex128), want.astype(np.complex128),
                                   rtol=tol, atol=tol)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_1d_against_oracle(method, mode, dtype, backend):
    rng = np.random.default_rng(1)
    for n, m in SHAPES_1D:
        x, h = small_operand(rng, n, dtype), small_operand(rng, m, dtype)
        got = sigconv.convolve(x, h, mode, method, backend=backend)
        _check(got, x, h, mode)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int32, np.float32, np.float64, np.complex128])
def test_2d_against_oracle(method, mode, dtype, backend):
    rng = np.random.default_rng(2)
    for s1, s2 in SHAPES_2D:
        x, h = small_operand(rng, s1, dtype), small_operand(rng, s2, dtype)
        got = sigconv.convolve(x, h, mode, method, backend=backend)
        _check(got, x, h, mode)


@pytest.mark.parametrize("method", METHODS)
def test_correlate_is_convolve_with_reversed_conjugate(method, backend):
    rng = np.random.default_rng(3)
    x = small_operand(rng, (6, 5), np.complex128)
    h = small_operand(rng, (3, 2), np.complex128)
    for mode in MODES:
        got = sigconv.correlate(x, h, mode, method, backend=backend)
        want = naive(x, np.conj(h[::-1, ::-1]), mode)
        np.testing.assert_allclose(got, want.astype(complex), atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_axes_and_broadcasting(method, backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 2))
    h = rng.standard_normal((41, 1))
    for mode in MODES:
        got = sigconv.convolve(x, h, mode, method, axes=0, backend=backend)
        want = np.stack([np.convolve(x[:, c], h[:, 0], mode) for c in range(2)], axis=1)
        np.testing.assert_allclose(got, want, atol=1e-9)
    # a stereo kernel on a stereo signal pairs the channels
    h2 = rng.standard_normal((41, 2))
    got = sigconv.convolve(x, h2, "full", method, axes=0, backend=backend)
    want = np.stack([np.convolve(x[:, c], h2[:, c]) for c in range(2)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.parametrize("method", ["fft", "oa", "direct"])
def test_long_signal_blocks(method, backend):
    """Overlap-add over many chunks, partial last block, float32 kept."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(200_003).astype(np.float32)
    h = rng.standard_normal(1001).astype(np.float32)
    want = np.convolve(x.astype(np.float64), h.astype(np.float64))
    for mode in MODES:
        got = sigconv.convolve(x, h, mode, method, backend=backend)
        assert got.dtype == np.float32
        ref = want if mode == "full" else np.convolve(x.astype(float), h.astype(float), mode)
        np.testing.assert_allclose(got, ref, atol=2e-3 * np.abs(ref).max() * 1e-2 + 1e-3)


def test_fft_style_functions_dtypes(backend):
    x, h = np.arange(10), np.arange(3)
    for fn in (sigconv.fftconvolve, sigconv.oaconvolve):
        out = fn(x, h, backend=backend)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, np.convolve(x, h), atol=1e-12)
        out32 = fn(x.astype(np.float32), h.astype(np.float32), backend=backend)
        assert out32.dtype == np.float32
        assert fn([], [1.0]).size == 0


def test_worked_examples():
    assert sigconv.convolve([1, 2, 3], [2, 3, 4]).tolist() == [2, 7, 16, 17, 12]
    m = [[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0], [0, 1, 2, 4]]
    k = [[0, 1, 2], [2, 2, 0], [1, 0, 1]]
    for method in METHODS:
        assert sigconv.convolve(m, k, "valid", method).tolist() == [[11, 14], [11, 9]]
    # the text's 1-D example of a 'valid' slide: x = 0..4 with w = (1, -1, 2)
    assert sigconv.convolve([0, 1, 2, 3, 4], [1, -1, 2], "valid").tolist() == [1, 3, 5]


@pytest.mark.parametrize("method", ["direct", "fft", "oa", "auto"])
def test_integers_beyond_float_precision_are_exact(method, backend):
    rng = np.random.default_rng(6)
    x = rng.integers(-(2**26), 2**26, 3000)
    h = rng.integers(-(2**26), 2**26, 700)
    got = sigconv.convolve(x, h, method=method, backend=backend)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.convolve(x.astype(object), h.astype(object)))


def test_integer_overflow_widens_instead_of_wrapping():
    x = np.full(4, 100, dtype=np.int8)
    with pytest.warns(RuntimeWarning, match="does not fit int8"):
        out = sigconv.convolve(x, x)
    assert out.dtype == np.int32   # 40000 does not fit int16
    assert out.tolist() == [10000, 20000, 30000, 40000, 30000, 20000, 10000]
    big = np.array([2**40], dtype=np.int64)
    with pytest.warns(RuntimeWarning):
        out = sigconv.convolve(big, big)
    assert out.dtype == object and out[0] == 2**80


def test_small_int_results_keep_their_dtype():
    x = np.array([1, 2, 3], dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sigconv.convolve(x, x)
    assert out.dtype == np.uint8 and out.tolist() == [1, 4, 10, 12, 9]


def test_nan_stays_local_with_auto(backend):
    x = np.ones(20_000)
    x[1000] = np.nan
    h = np.ones(5000)
    out = sigconv.convolve(x, h, backend=backend)
    bad = np.flatnonzero(~np.isfinite(out))
    assert bad.min() == 1000 and bad.max() == 1000 + 4999
    with pytest.warns(RuntimeWarning, match="NAN or inf"):
        forced = sigconv.convolve(x, h, method="fft", backend=backend)
    assert np.isnan(forced).all()


def test_bool_and_object_inputs():
    a = np.array([True, False, True])
    assert sigconv.convolve(a, a).tolist() == [True, False, True, False, True]
    from fractions import Fraction
    fr = np.array([Fraction(1, 2), Fraction(1, 3)], dtype=object)
    assert sigconv.convolve(fr, fr).tolist() == [Fraction(1, 4), Fraction(1, 3),
                                                 Fraction(1, 9)]
    with pytest.raises(TypeError, match="object"):
        sigconv.convolve(fr, fr, method="fft")


def test_zero_d_inputs():
    assert sigconv.convolve(np.array(3), np.array(4)) == 12
    assert sigconv.fftconvolve(np.array(3.0), np.array(4.0)) == 12.0


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.complex128])
@pytest.mark.parametrize("size", [(7, 9), (70, 90)])   # scipy's own loop, then the engine
def test_convolve2d_boundaries_match_scipy(boundary, mode, dtype, size):
    import scipy.signal as ss
    rng = np.random.default_rng(7)
    a = rng.integers(-5, 6, size).astype(dtype)
    b = rng.integers(-5, 6, (3, 4)).astype(dtype)
    for fn, ref in ((sigconv.convolve2d, ss.convolve2d),
                    (sigconv.correlate2d, ss.correlate2d)):
        got = fn(a, b, mode, boundary, fillvalue=2)
        want = ref(a, b, mode, boundary, fillvalue=2)
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_all_combinations_of_1d_sizes_match_numpy():
    rng = np.random.default_rng(8)
    for n, m in itertools.product([1, 2, 3, 10, 33, 100], repeat=2):
        x, h = rng.standard_normal(n), rng.standard_normal(m)
        for mode in MODES:
            if mode == "same" and n < m:
                continue
            np.testing.assert_allclose(sigconv.convolve(x, h, mode, "oa"),
                                       np.convolve(x, h, mode), atol=1e-10)


def test_nan_with_overlap_add(backend):
    x = np.ones(200_000)
    x[5000] = np.nan
    h = np.ones(301)
    assert sigconv.explain(x, h).method == "oa"
    out = sigconv.convolve(x, h, backend=backend)          # auto: goes direct, stays local
    bad = np.flatnonzero(~np.isfinite(out))
    assert bad.min() == 5000 and bad.max() == 5300
    with pytest.warns(RuntimeWarning, match="overlap-add spreads"):
        sigconv.oaconvolve(x, h, backend=backend)


VARIANTS = ["lines", "taps", "ndimage", "band", "convolve2d", "native"]
# (x shape, h shape, axes): 1-D, kernel longer than the signal, tiles along rows and
# down columns, one edge tile only, kernels broadcast over lines, 'same' on other axes.
VARIANT_CASES = [((40,), (7,), None), ((7,), (40,), None), ((1,), (1,), None),
                 ((100,), (33,), None), ((3, 50), (1, 9), [1]), ((50, 3), (9, 1), [0]),
                 ((2, 37, 5), (1, 26, 1), [1]), ((4, 6, 20), (1, 1, 17), None),
                 ((5, 30), (5, 4), [1]), ((1, 30), (4, 7), [1]), ((8, 9, 40), (1, 1, 9), [2]),
                 ((70, 30), (1, 5), None), ((9, 11), (3, 4), None), ((3, 4), (6, 7), None),
                 ((8, 8), (8, 8), None)]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32, np.float64, np.complex128])
def test_every_direct_variant_against_oracle(variant, mode, dtype):
    from sigconv.engine._direct import direct
    from sigconv.engine._validate import prepare

    rng = np.random.default_rng(5)
    for sx, sh, axes in VARIANT_CASES:
        x, h = small_operand(rng, sx, dtype), small_operand(rng, sh, dtype)
        if mode == "valid" and not (all(a >= b for a, b in zip(sx, sh))
                                    or all(b >= a for a, b in zip(sx, sh))):
            continue
        p, _ = prepare(x, h, mode, axes, fft_style=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # uint8 results widen
            got = direct(p, variant)
            want = naive(x, h, mode) if axes is None else sigconv.convolve(
                x, h, mode, "direct", axes)
        assert got.shape == want.shape
        if np.result_type(x, h).kind in "iu":
            assert np.array_equal(got.astype(object), want.astype(object))
        else:
            tol = 1e-3 if np.result_type(x, h) == np.float32 else 1e-9
            np.testing.assert_allclose(got.astype(np.complex128), want.astype(np.complex128),
                                       rtol=tol, atol=tol)


@pytest.mark.parametrize("core", [True, False])
def test_short_kernel_variant_is_chosen_and_keeps_nan_local(core):
    """31 taps over 2e5 samples: the compiled loop when the core is loaded, else the
    band product; either keeps a NaN within the kernel's reach."""
    from sigconv.engine import _native
    if core and not _native.loaded():
        pytest.skip("compiled core not built")
    rng = np.random.default_rng(6)
    x, h = rng.random(200_000), rng.random(31)
    with _native.use_native(core):
        plan = sigconv.explain(x, h)
        assert (plan.method, plan.variant) == ("direct", "native" if core else "band")
        np.testing.assert_allclose(sigconv.convolve(x, h), np.convolve(x, h), rtol=1e-12)
        x[1000] = np.nan
        for method in ("auto", "direct"):
            y = sigconv.convolve(x, h, method=method)
            assert np.flatnonzero(np.isnan(y)).tolist() == list(range(1000, 1031))


@pytest.mark.parametrize("variant", VARIANTS)
def test_direct_variants_on_strided_views(variant):
    from sigconv.engine._direct import direct
    from sigconv.engine._validate import prepare

    rng = np.random.default_rng(7)
    base = rng.random((80, 12, 90))
    h = rng.random((1, 1, 11))
    for x, axes in ((base[::2, ::3, 5:], [2]), (base[:, 1:, ::2], [2]),
                    (base.transpose(2, 1, 0)[:, :, :30], [2]), (base[:, :, 3:70], [2])):
        for mode in MODES:
            p, _ = prepare(x, h, mode, axes, fft_style=False)
            full = np.apply_along_axis(np.convolve, 2, x, h[0, 0])     # numpy as the oracle
            want = crop(full, x.shape, h.shape, mode)[:, :, :]
            np.testing.assert_allclose(direct(p, variant), want, rtol=1e-12, atol=1e-12)


def test_taps_loop_on_large_broadcast_operands():
    """Products formed slab by slab: operands broadcast along the first axis."""
    from sigconv.engine._direct import _taps
    from sigconv.engine._validate import prepare

    rng = np.random.default_rng(8)
    for sx, sh, axes in (((1, 40_000), (6, 5), [1]), ((6, 40_000), (1, 5), [1]),
                         ((300, 200), (3, 3), None), ((50_000,), (4,), None)):
        x, h = rng.random(sx), rng.random(sh)
        p, _ = prepare(x, h, "full", axes, fft_style=False)
        got = _taps(p.x, p.h, p)
        ref = sigconv.convolve(x, h, axes=axes, method="fft")
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def test_band_views_match_as_strided_and_stay_inside():
    from sigconv.engine._direct import _view
    a = np.arange(40.0)
    got = _view(a[3:], (5, 8), (32, 8), writeable=False)
    want = np.lib.stride_tricks.as_strided(a[3:], (5, 8), (32, 8))
    np.testing.assert_array_equal(got, want)
    assert not got.flags.writeable
    with pytest.raises((ValueError, TypeError)):
        _view(a[3:], (9, 8), (32, 8))          # would read past the end of a


def test_convolve2d_stays_exact_on_integer_valued_floats():
    """scipy's convolve2d is direct only; sigconv's keeps its exact sums on small
    problems where a transform is not much faster (scipy's gh-12686 case)."""
    from scipy import ndimage
    a = np.arange(1, 31, dtype=float).reshape(10, 3)
    b = np.arange(1, 101, dtype=float).reshape(10, 10)
    got = sigconv.convolve2d(a, b, mode="same", boundary="wrap")
    np.testing.assert_array_equal(got, ndimage.convolve(a, b, mode="wrap", origin=(-1, -1)))
