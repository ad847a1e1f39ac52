"""The compiled FFT glue against its NumPy twin and a plain-arithmetic oracle."""

import numpy as np
import pytest

from sigconv.engine import _native, multiply_spectra

pytestmark = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")

CDTYPES = [np.complex64, np.complex128]


def _rand(rng, shape, dt):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


def _oracle(x, h, scale):
    """Products as (ar br - ai bi, ar bi + ai br) times scale, one rounding per operation
    (NumPy's elementwise real operations never fuse)."""
    hb = np.broadcast_to(h, x.shape)
    rdt = x.real.dtype
    ar, ai, br, bi = x.real, x.imag, hb.real, hb.imag
    re = ar * br - ai * bi
    im = ar * bi + ai * br
    s = rdt.type(scale)
    out = np.empty_like(x)
    out.real, out.imag = re * s, im * s
    return out


def _close(a, b, x, h):
    """a == b up to a few ulps of |x| |h| (NumPy's complex product may fuse), NaN alike."""
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = np.isfinite(a) & np.isfinite(b)
    assert np.array_equal(a[~ok & ~np.isnan(a)], b[~ok & ~np.isnan(b)])
    a, b = np.where(ok, a, 0), np.where(ok, b, 0)
    eps = np.finfo(a.real.dtype).eps
    bound = 4 * eps * np.abs(x) * np.abs(np.broadcast_to(h, x.shape)) + np.finfo(
        a.real.dtype).tiny
    assert np.all(np.abs(a - b)[ok] <= (bound * 8)[ok])


@pytest.mark.parametrize("dt", CDTYPES)
@pytest.mark.parametrize("xshape,hshape", [((7,), (7,)), ((5, 33), (33,)), ((2, 3, 17), (3, 17)),
                                           ((2, 3, 9), (3, 9)), ((4, 1), (1, 1)),
                                           ((3, 1000), (1, 1000))])
@pytest.mark.parametrize("scale", [1.0, 0.125, 1 / 3])
def test_cmul_native_matches_oracle_and_twin(dt, xshape, hshape, scale):
    rng = np.random.default_rng(sum(xshape) + len(hshape))
    x, h = _rand(rng, xshape, dt), _rand(rng, hshape, dt)
    a = multiply_spectra(x.copy(), h, scale=scale)
    assert a.dtype == dt and a.shape == xshape
    # native: exactly the unfused arithmetic
    np.testing.assert_array_equal(a, _oracle(x, h, scale))
    with _native.use_native(False):
        b = multiply_spectra(x.copy(), h, scale=scale)
    _close(a, b, x, h)


@pytest.mark.parametrize("dt", CDTYPES)
def test_cmul_in_place_and_threads(dt):
    rng = np.random.default_rng(1)
    x, h = _rand(rng, (2, 2, 70001), dt), _rand(rng, (2, 70001), dt)   # 2 threads' worth
    y = x.copy()
    assert multiply_spectra(y, h, scale=0.5, workers=2) is y
    one = x.copy()
    _native.kernels().cmul_scaled(one, h, 0.5, 1)
    many = x.copy()
    _native.kernels().cmul_scaled(many, h, 0.5, 7)
    np.testing.assert_array_equal(y, one)
    np.testing.assert_array_equal(many, one)
    np.testing.assert_array_equal(one, _oracle(x, h, 0.5))


@pytest.mark.parametrize("dt", CDTYPES)
def test_cmul_nan_inf(dt):
    rng = np.random.default_rng(2)
    x, h = _rand(rng, (3, 50), dt), _rand(rng, (50,), dt)
    x[0, 1] = np.nan
    x[1, 2] = complex(np.inf, 1.0)
    x[2, 3] = complex(0.0, -np.inf)
    h[4] = complex(1.0, np.nan)
    h[5] = np.inf
    a = multiply_spectra(x.copy(), h, scale=0.25)
    np.testing.assert_array_equal(a, _oracle(x, h, 0.25))   # NaN == NaN here
    with _native.use_native(False):
        b = multiply_spectra(x.copy(), h, scale=0.25)
    _close(a, b, x, h)
    assert np.isnan(a[0, 1]) and np.isnan(a[:, 4]).all()


def test_cmul_converts_h_and_keeps_x_dtype():
    x = np.full((2, 3), 1 + 1j, np.complex64)
    out = multiply_spectra(x, np.array([2j, 1, 1], np.complex128))
    assert out.dtype == np.complex64
    np.testing.assert_array_equal(out, [[-2 + 2j, 1 + 1j, 1 + 1j]] * 2)


@pytest.mark.parametrize("x,h,exc,msg", [
    (np.ones(4), np.ones(4, complex), TypeError, "complex64 or complex128"),
    (np.ones(4, np.complex256) if hasattr(np, "complex256") else [1j], np.ones(4, complex),
     TypeError, "complex64 or complex128"),
    (np.ones(4, complex), np.ones(4), TypeError, "h must be complex"),
    (np.ones((4, 6), complex)[:, ::2], np.ones(3, complex), ValueError, "C-contiguous"),
    (np.ones((4, 6), complex), np.ones(5, complex), ValueError, r"shape \(5,\)"),
    (np.ones((4, 6), complex), np.ones((3, 6), complex), ValueError, r"shape \(3, 6\)"),
    (np.ones(6, complex), np.ones((2, 6), complex), ValueError, "trailing"),
    (np.ones((6, 4), complex), np.ones((3, 4), complex), ValueError, r"\(6, 4\)"),
])
def test_cmul_errors_quote_values(x, h, exc, msg):
    with pytest.raises(exc, match=msg):
        multiply_spectra(x, h)


def test_cmul_errors_scale_workers_readonly():
    x = np.ones(3, complex)
    with pytest.raises(TypeError, match="1j"):
        multiply_spectra(x, x.copy(), scale=1j)
    with pytest.raises(ValueError, match="0"):
        multiply_spectra(x, x.copy(), workers=0)
    ro = np.ones(3, complex)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        multiply_spectra(ro, x)
    np.testing.assert_array_equal(x, 1)   # untouched by the failed calls
