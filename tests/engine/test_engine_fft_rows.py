"""The FFT method in chunks of rows (engine/_fft.py _fft_rows) against the exact oracle and
the whole-batch path: chunk sizes that divide h's rows and that are multiples of them (a
short last chunk), 1-D and 2-D transforms, real and complex, windows, 1 and 2 threads."""

import numpy as np
import pytest
from conftest import naive_full

import sigconv
from sigconv.backends import get_backend
from sigconv.engine import _fft, _native, convolve_window

pytestmark = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunk every batch of at least 4 rows, about ``row_bytes`` of input per chunk."""
    def set_(row_bytes):
        monkeypatch.setattr(_fft, "ROW_CHUNK_MIN_BYTES", 0)
        monkeypatch.setattr(_fft, "ROW_CHUNK_BYTES", row_bytes)
    pytest.importorskip("pyfftw")
    return set_


def _ints(rng, shape, dt):
    v = rng.integers(-4, 5, shape)
    if np.dtype(dt).kind == "c":
        v = v + 1j * rng.integers(-4, 5, shape)
    return v.astype(dt)


def _oracle(x, h, nconv=1, corr=False):
    """Exact full result over the last ``nconv`` axes, per line of the broadcast leading
    axes (object integers)."""
    lead = x.ndim - nconv
    shape = np.broadcast_shapes(x.shape[:lead], h.shape[:lead])
    xb = np.broadcast_to(x, shape + x.shape[lead:])
    hb = np.broadcast_to(h, shape + h.shape[lead:])
    out = np.zeros(shape + tuple(a + b - 1 for a, b in zip(x.shape[lead:], h.shape[lead:])),
                   object)
    for i in np.ndindex(*shape):
        k = hb[i]
        if corr:
            k = np.conj(k[(slice(None, None, -1),) * k.ndim])
        out[i] = naive_full(xb[i], k)
    return out


def _close(got, want, dt):
    tol = 2e-3 if np.dtype(dt) in (np.float32, np.complex64) else 1e-9
    np.testing.assert_allclose(np.asarray(got, np.complex128),
                               np.asarray(want.astype(complex), np.complex128),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("row_bytes", [1, 200, 1000, 10**4])
@pytest.mark.parametrize("threads", [1, 2])
def test_rows_1d_against_oracle_and_whole(dt, row_bytes, threads, small_chunks):
    """x (5, 6, 1, n) with h (1, 6, 1, m): h has 6 rows, chunks of 1, 2 or 3 rows (divisors)
    or of 6, 12, ... (multiples, the last one short: 30 rows)."""
    rng = np.random.default_rng(int(row_bytes) + threads)
    x, h = _ints(rng, (5, 6, 1, 40), dt), _ints(rng, (1, 6, 1, 7), dt)
    whole = sigconv.fftconvolve(x, h, "full", axes=-1, workers=threads)
    small_chunks(row_bytes)
    lay = _fft._fft_layout(x.shape, h.shape, x.dtype, h.dtype, (3,), (0,) * 4,
                           (5, 6, 1, 46), (48,), threads, False)
    plan = _fft._row_chunks(_problem(x, h), lay, get_backend("pyfftw"), _native.kernels())
    # chunks of 1 row, a few rows, 6k rows; 10 kB (24-48 rows) may be more than half the
    # batch, which is then transformed whole
    assert plan is not None or row_bytes == 10**4
    assert plan is None or (plan.rows == 30 and (6 % plan.size == 0 or plan.size % 6 == 0))
    for mode in ("full", "same", "valid"):
        got = sigconv.fftconvolve(x, h, mode, axes=-1, workers=threads)
        full = _oracle(x, h)
        s = {"full": 0, "same": 3, "valid": 6}[mode]
        e = {"full": 46, "same": 43, "valid": 40}[mode]
        _close(got, full[..., s:e], dt)
        assert got.flags.c_contiguous and got.dtype == np.result_type(x, h)
    _close(sigconv.fftconvolve(x, h, "full", axes=-1, workers=threads), whole, dt)
    for win in ((0, 46), (6, 40), (13, 14), (45, 46)):
        got = convolve_window(x, h, [win], "fft", axes=-1, correlate=True, workers=threads)
        _close(got, _oracle(x, h, 1, corr=True)[..., win[0]:win[1]], dt)


def _problem(x, h):
    from sigconv.engine._validate import prepare
    p, _ = prepare(x, h, "full", (-1,), fft_style=True)
    return p


@pytest.mark.parametrize("threads", [1, 2])
def test_rows_2d_transforms(threads, small_chunks):
    """Rows that are 2-D transforms: x (3, 4, 9, 7) with h (1, 4, 3, 2) over the last two
    axes, chunks of 1, 2 and 4 images."""
    rng = np.random.default_rng(7)
    x, h = _ints(rng, (3, 4, 9, 7), np.float64), _ints(rng, (1, 4, 3, 2), np.float64)
    full = _oracle(x, h, 2)
    for row_bytes in (1, 1500, 3000, 10**5):
        small_chunks(row_bytes)
        for mode, sl in (("full", (slice(None), slice(None))),
                         ("valid", (slice(2, 9), slice(1, 7)))):
            got = sigconv.fftconvolve(x, h, mode, axes=(-2, -1), workers=threads)
            _close(got, full[(Ellipsis,) + sl], np.float64)


def test_rows_not_used_where_they_do_not_apply(small_chunks):
    """Broadcast x, strided x, a crop of the batch axes, transformed axes not last, too
    few rows: the whole-batch path, same values."""
    small_chunks(1)
    rng = np.random.default_rng(3)
    k, b = _native.kernels(), get_backend("pyfftw")
    x = _ints(rng, (4, 3, 20), np.float64)
    cases = [(x[:, :, ::2], _ints(rng, (1, 3, 5), np.float64)),       # strided
             (x[:1], _ints(rng, (4, 3, 5), np.float64))]              # x broadcast
    for xx, hh in cases:
        p = _problem(xx, hh)
        lay = _fft._fft_layout(p.x.shape, p.h.shape, p.x.dtype, p.h.dtype, p.axes, p.start,
                               p.stop, tuple(_fft.fft_shape(p, b)), 1, False)
        got = sigconv.fftconvolve(xx, hh, axes=-1)
        _close(got, _oracle(np.ascontiguousarray(xx), hh), np.float64)
        if xx.base is not None and not xx.flags.c_contiguous:
            assert _fft._row_chunks(p, lay, b, k) is None
    # 'same' crops x's broadcast axis 1 of a (1, 3)-row h against a 1-row x: not chunked
    xs, hs = _ints(rng, (8, 1, 20), np.float64), _ints(rng, (1, 3, 5), np.float64)
    got = sigconv.convolve(xs, hs, "same", "fft", axes=-1)
    want = np.array([[np.convolve(xs[i, 0], hs[0, 1], "same")] for i in range(8)])
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_rows_with_a_kept_spectrum_and_nan(small_chunks):
    """A Convolver's stored kernel spectrum serves the chunks too; a NaN stays in its row,
    as in the whole-batch path (it spreads over that row's transform only)."""
    small_chunks(200)
    rng = np.random.default_rng(5)
    h = _ints(rng, (1, 6, 9), np.float64)
    conv = sigconv.Convolver(h, "full", "fft", axes=-1)
    for _ in range(2):
        x = _ints(rng, (4, 6, 50), np.float64)
        _close(conv(x), _oracle(x, h), np.float64)
    want = _oracle(x, h)
    x[2, 3, 10] = np.nan
    got = sigconv.fftconvolve(x, h, axes=-1)
    bad = np.isnan(got).any(axis=-1)
    assert bad[2, 3] and bad.sum() == 1
    got[2, 3] = 0
    want[2, 3] = 0
    _close(got, want, np.float64)
