"""The compiled direct loop (``_core.direct_conv``) against NumPy and exact oracles."""

import numpy as np
import pytest
from conftest import naive

import sigconv
from sigconv.engine import _native
from sigconv.engine._direct import NATIVE_MAX_TAPS, direct, native_ok
from sigconv.engine._validate import prepare

pytestmark = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")

MODES = ["full", "same", "valid"]
# (x shape, h shape, axes): odd, tiny, kernel longer than the signal, shorter than a tile,
# longer than a tile, the longest kernel, lines with one kernel, a kernel per line
CASES = [((7,), (3,), None), ((1,), (1,), None), ((5,), (9,), None), ((31,), (4,), None),
         ((200,), (17,), None), ((333,), (NATIVE_MAX_TAPS,), None),
         ((3, 150), (1, 12), [1]), ((4, 90), (4, 5), [1]), ((1, 70), (3, 6), [1])]


def _draw(rng, shape, dt):
    if np.dtype(dt).kind in "iu":
        return rng.integers(-40 if np.dtype(dt).kind == "i" else 0, 40, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def _run(x, h, mode, axes, variant="native", workers=2):
    p, _ = prepare(x, h, mode, axes, fft_style=False)
    return direct(p, variant, workers)


@pytest.mark.filterwarnings("ignore:exact integer result spans")
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int16, np.uint8, np.int32])
def test_native_direct_matches_oracles(dt):
    rng = np.random.default_rng(21)
    for xs, hs, axes in CASES:
        x, h = _draw(rng, xs, dt), _draw(rng, hs, dt)
        for mode in MODES:
            try:
                p, _ = prepare(x, h, mode, axes, fft_style=False)
            except ValueError:
                continue
            # (1,) * (1,) has nothing to convolve; 'same' crops x's single line out of h's 3
            assert native_ok(p) or not p.axes or (mode == "same" and x.shape[0] < h.shape[0])
            got = _run(x, h, mode, axes)
            lines = _run(x, h, mode, axes, "lines")
            with _native.use_native(False):
                twin = _run(x, h, mode, axes)       # falls back to numpy.convolve
            assert got.dtype == lines.dtype == twin.dtype      # (uint8 sums widen, said once)
            if np.dtype(dt).kind in "iu":
                if axes is None:                      # exact, by Python integers
                    np.testing.assert_array_equal(got, naive(x, h, mode).astype(got.dtype))
                np.testing.assert_array_equal(got, lines)
                np.testing.assert_array_equal(got, twin)
            else:
                tol = 1e-5 if dt == np.float32 else 1e-13
                scale = max(1.0, float(np.abs(lines).max()))
                np.testing.assert_allclose(got, lines, atol=tol * scale, rtol=0)
                np.testing.assert_allclose(got, twin, atol=tol * scale, rtol=0)


def test_native_direct_threads_noncontiguous_nan_inf():
    rng = np.random.default_rng(22)
    base = rng.standard_normal((6, 9000))
    x = base[::2, ::-3]                                     # strided, reversed
    h = rng.standard_normal((1, 29))
    one = _run(x, h, "same", [1], workers=1)
    two = _run(x, h, "same", [1], workers=2)
    np.testing.assert_array_equal(one, two)                 # threads change no bit
    np.testing.assert_array_equal(_run(np.ascontiguousarray(x), h, "same", [1], workers=1), one)
    np.testing.assert_allclose(one, _run(x, h, "same", [1], "lines"), atol=1e-12)
    y = base[0].copy()
    y[100], y[5000] = np.nan, np.inf
    out = _run(y, h[0], "full", None)
    nan = np.flatnonzero(np.isnan(out))
    assert set(range(100, 129)) <= set(nan) and np.isinf(out[5000:5029]).any()
    assert np.isfinite(out[:100]).all() and np.isfinite(out[129:5000]).all()  # local only


def test_convolve_picks_it_and_keeps_dtypes():
    rng = np.random.default_rng(23)
    x32 = rng.standard_normal(50_000).astype(np.float32)
    h32 = rng.standard_normal(24).astype(np.float32)
    y = sigconv.convolve(x32, h32)                     # the 1-D shortcut
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np.convolve(x32.astype(float), h32.astype(float)),
                               atol=1e-4)
    lines = rng.standard_normal((4, 20_000))
    plan = sigconv.explain(lines, rng.standard_normal((1, 16)), axes=[1])
    assert (plan.method, plan.variant) == ("direct", "native")
    xi = rng.integers(-1000, 1000, 30_000).astype(np.int32)
    hi = rng.integers(-1000, 1000, 40).astype(np.int32)
    got = sigconv.convolve(xi, hi, "same")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.convolve(xi.astype(np.int64), hi, "same"))
    with _native.use_native(False):
        np.testing.assert_array_equal(sigconv.convolve(xi, hi, "same"), got)


def test_direct_conv_checks_its_arguments():
    k = _native.kernels()
    out = np.empty((1, 10))
    with pytest.raises(ValueError, match="share one dtype"):
        k.direct_conv(out, np.ones((1, 8), np.float32), np.ones((1, 3)), 0, 1)
    with pytest.raises(ValueError, match="window"):
        k.direct_conv(np.empty((1, 12)), np.ones((1, 8)), np.ones((1, 3)), 0, 1)
    with pytest.raises(ValueError, match="broadcast"):
        k.direct_conv(np.empty((2, 10)), np.ones((3, 8)), np.ones((1, 3)), 0, 1)


# ----------------------------------------------------------------- the 2-D loop

CASES_2D = [((7, 9), (3, 3)), ((1, 1), (1, 1)), ((5, 4), (6, 2)), ((2, 40), (3, 33)),
            ((64, 70), (5, 7)), ((33, 100), (16, 16)), ((3, 3), (9, 11))]


def _exact_2d(x, h):
    """The full 2-D convolution by the definition, in Python integers or float64 sums."""
    n0, n1 = x.shape
    m0, m1 = h.shape
    out = np.zeros((n0 + m0 - 1, n1 + m1 - 1), object if x.dtype.kind in "iu" else np.float64)
    for i in range(m0):
        for j in range(m1):
            tap = int(h[i, j]) if x.dtype.kind in "iu" else float(h[i, j])
            part = x.astype(object) if x.dtype.kind in "iu" else x.astype(np.float64)
            out[i:i + n0, j:j + n1] += tap * part
    return out


@pytest.mark.filterwarnings("ignore:exact integer result spans")
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int16, np.uint8])
def test_native_direct2d_matches_definition(dt):
    from sigconv.engine._direct import native2d_ok
    rng = np.random.default_rng(22)
    for xs, hs in CASES_2D:
        x, h = _draw(rng, xs, dt), _draw(rng, hs, dt)
        full = _exact_2d(x, h)
        for mode in MODES:
            try:
                p, _ = prepare(x, h, mode, None, fft_style=False)
            except ValueError:              # 'valid' with neither operand the larger
                continue
            if p is None or not p.axes:                  # (1, 1) * (1, 1): nothing to convolve
                continue
            assert native2d_ok(p)
            got = direct(p, "native2d", 2)
            want = full[tuple(slice(s, e) for s, e in zip(p.start, p.stop))]
            if np.dtype(dt).kind in "iu":
                np.testing.assert_array_equal(got.astype(object), want)   # exact
            else:
                tol = (1e-5 if dt == np.float32 else 1e-12) * max(1.0, np.abs(want).max()) \
                    * h.size
                np.testing.assert_allclose(got, want, rtol=0, atol=tol)
            assert got.dtype == p.result_dtype or np.dtype(dt).kind in "iu"


def test_native_direct2d_threads_and_strided_inputs():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((300, 411))[:, ::2]           # strided view
    h = rng.standard_normal((7, 5)).T                      # transposed: not contiguous
    p, _ = prepare(x, h, "same", None, fft_style=False)
    one, two, four = (direct(p, "native2d", w) for w in (1, 2, 4))
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, four)
    from scipy import signal
    np.testing.assert_allclose(one, signal.convolve2d(x, h, "same"), rtol=0, atol=1e-10)


def test_native_direct2d_planned_and_equal_to_twin():
    rng = np.random.default_rng(24)
    x, h = rng.standard_normal((512, 512)), rng.standard_normal((3, 3))
    plan = sigconv.explain(x, h)
    assert (plan.method, plan.variant) == ("direct", "native2d")
    got = sigconv.convolve(x, h, "same")
    with _native.use_native(False):
        assert sigconv.explain(x, h).variant != "native2d"
        twin = sigconv.convolve(x, h, "same")
    np.testing.assert_allclose(got, twin, rtol=0, atol=1e-12)
    nan = x.copy()
    nan[100, 100] = np.nan
    y = sigconv.convolve(nan, h, "same")
    assert np.isnan(y).sum() == 9                      # NaN stays within the kernel's reach
    with pytest.raises(ValueError, match="window outside"):
        _native.kernels().direct_conv2d(np.zeros((3, 3)), np.zeros((2, 2)), np.zeros((1, 1)),
                                        0, 1, 1)
