"""The compiled FFT glue against its NumPy twin and a plain-arithmetic oracle."""

import warnings

import numpy as np
import pytest
import scipy.signal as ss

import sigconv
from sigconv.engine import _fft, _native, multiply_spectra

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


# ------------------------------------------------------------ FFT convolution glue

ENGINE_DTYPES = [np.float64, np.float32, np.complex128, np.complex64, np.int16, np.uint8,
                 np.int64, np.bool_, np.float16]
MODES = ["full", "same", "valid"]
# (x shape, h shape, axes): 1-D, kernel longer than the signal, tiny, odd, lines with one
# kernel, kernels per line, 2-D, a broadcast axis after the convolved one, 3-D
FFT_CASES = [((300,), (41,), None), ((41,), (300,), None), ((1,), (1,), None),
             ((7,), (3,), None), ((3, 257), (1, 33), [1]), ((3, 257), (3, 20), [1]),
             ((40, 33), (9, 12), None), ((97, 4), (31, 1), [0]), ((6, 7, 5), (3, 2, 4), None)]


def _draw(rng, shape, dt):
    if np.dtype(dt).kind == "b":
        return rng.random(shape) > 0.5
    if np.dtype(dt).kind in "iu":
        return rng.integers(0, 50, shape).astype(dt)
    v = rng.standard_normal(shape)
    if np.dtype(dt).kind == "c":
        v = v + 1j * rng.standard_normal(shape)
    return v.astype(dt)


def _oracle_conv(x, h, mode, axes):
    """scipy's direct sums in complex128 / float64 (its C loop), over ``axes``."""
    wide = complex if np.iscomplexobj(x) or np.iscomplexobj(h) else float
    x, h = np.asarray(x, wide), np.asarray(h, wide)
    if axes is None:
        return ss.convolve(x, h, mode, method="direct")
    (a,) = axes
    xm, hm = np.moveaxis(x, a, -1), np.moveaxis(h, a, -1)
    lead = np.broadcast_shapes(xm.shape[:-1], hm.shape[:-1])
    xb, hb = np.broadcast_to(xm, lead + xm.shape[-1:]), np.broadcast_to(hm, lead + hm.shape[-1:])
    out = np.stack([np.convolve(xb[i], hb[i], mode) for i in np.ndindex(*lead)])
    return np.moveaxis(out.reshape(lead + out.shape[-1:]), -1, a)


def _tol(dt):
    return {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 2e-4,
            np.dtype(np.complex64): 2e-4}.get(np.dtype(dt), 1e-10)


def _spy(monkeypatch, name):
    calls = []
    real = getattr(_fft, name)

    def wrapped(*args, **kw):
        calls.append(name)
        return real(*args, **kw)
    monkeypatch.setattr(_fft, name, wrapped)
    return calls


@pytest.mark.parametrize("dt", ENGINE_DTYPES)
@pytest.mark.parametrize("method", ["fft", "oa"])
def test_fft_paths_native_equal_twin_and_oracle(dt, method, monkeypatch):
    rng = np.random.default_rng(11)
    oa_native = _spy(monkeypatch, "_oa_native")
    for xs, hs, axes in FFT_CASES:
        x, h = _draw(rng, xs, dt), _draw(rng, hs, dt)
        for mode in MODES:
            try:
                want = _oracle_conv(x, h, mode, axes)
            except ValueError:
                continue                                  # 'valid' without a larger operand
            got = sigconv.convolve(x, h, mode, method=method, axes=axes)
            with _native.use_native(False):
                twin = sigconv.convolve(x, h, mode, method=method, axes=axes)
            assert got.dtype == twin.dtype and got.shape == twin.shape == want.shape
            if np.dtype(dt).kind in "biu":
                np.testing.assert_array_equal(got, twin)      # integers stay exact
                np.testing.assert_array_equal(got, np.rint(want.real).astype(got.dtype))
            else:
                scale = max(1.0, float(np.abs(want).max()))
                np.testing.assert_allclose(got, want, atol=_tol(dt) * scale, rtol=0)
                np.testing.assert_allclose(got, twin, atol=_tol(dt) * scale, rtol=0)
    if method == "oa" and np.dtype(dt).kind != "b" and dt != np.float16:
        assert oa_native                                  # the compiled overlap-add ran


@pytest.mark.parametrize("fn", [sigconv.fftconvolve, sigconv.oaconvolve])
def test_fft_paths_non_contiguous_and_threads(fn):
    rng = np.random.default_rng(12)
    base = rng.standard_normal((40, 3001))
    x = base[::3, ::-2]                              # strided, reversed
    h = rng.standard_normal((1, 64))
    assert not x.flags.c_contiguous
    one = fn(x, h, axes=[1], workers=1)
    two = fn(x, h, axes=[1], workers=2)
    np.testing.assert_array_equal(one, two)          # the threads change no bit
    np.testing.assert_array_equal(fn(np.ascontiguousarray(x), h, axes=[1], workers=1), one)
    with _native.use_native(False):
        twin = fn(x, h, axes=[1], workers=1)
    np.testing.assert_allclose(one, twin, atol=1e-11)
    np.testing.assert_allclose(one, _oracle_conv(x, h, "full", [1]), atol=1e-10)


@pytest.mark.parametrize("method", ["fft", "oa"])
def test_fft_paths_nan_inf_like_twin(method):
    rng = np.random.default_rng(13)
    x, h = rng.standard_normal(5000), rng.standard_normal(101)
    x[1234], x[4000] = np.nan, np.inf
    fn = sigconv.fftconvolve if method == "fft" else sigconv.oaconvolve
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NaN spreads: said once
        got = fn(x, h)
        with _native.use_native(False):
            twin = fn(x, h)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(twin))
    assert np.isnan(got).any()


def test_pad_fill_casts_and_zeros_every_supported_dtype():
    k = _native.kernels()
    rng = np.random.default_rng(14)
    for src_dt in [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32,
                   np.uint64, np.int64, np.float32, np.float64, np.complex64, np.complex128]:
        for dst_dt in [np.float32, np.float64, np.complex64, np.complex128]:
            if np.dtype(src_dt).kind == "c" and np.dtype(dst_dt).kind != "c":
                continue
            for ss_, ds in (((5,), (9,)), ((3, 4), (5, 7)), ((2, 3, 4), (3, 3, 6)),
                            ((1, 1), (1, 1)), ((3, 40000), (4, 40003))):
                src = _draw(rng, ss_, src_dt)
                dst = np.full(ds, 7, dst_dt)
                k.pad_fill(dst, src, 2)
                want = np.zeros(ds, dst_dt)
                want[tuple(slice(0, d) for d in ss_)] = src
                np.testing.assert_array_equal(dst, want)
    with pytest.raises(ValueError, match="unsupported"):
        k.pad_fill(np.zeros(4), np.zeros(2, np.complex128), 1)
    with pytest.raises(ValueError, match="larger"):
        k.pad_fill(np.zeros(2), np.zeros(4), 1)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128])
def test_pad_fill_same_dtype_at_any_page_offset(dt):
    """The same-dtype copy (a plain loop, not memcpy: see copy_plain) is exact wherever the
    source and destination start within a page, odd lengths and unaligned starts included."""
    k = _native.kernels()
    rng = np.random.default_rng(15)
    item = np.dtype(dt).itemsize
    rows, n, width = 3, 4099, 4103
    src_raw = np.empty(rows * n * item + 8192, np.uint8)
    dst_raw = np.empty(rows * width * item + 8192, np.uint8)
    base_s = -src_raw.ctypes.data % 4096
    base_d = -dst_raw.ctypes.data % 4096
    for so in (0, item, 16, 48):
        src = src_raw[base_s + so:base_s + so + rows * n * item].view(dt).reshape(rows, n)
        src[...] = _draw(rng, (rows, n), dt)
        for delta in (0, item, 16, 32, 64, 4096 - item):
            off = base_d + (so + delta) % 4096
            dst = dst_raw[off:off + rows * width * item].view(dt).reshape(rows, width)
            dst[...] = 7
            for threads in (1, 2):
                k.pad_fill(dst, src, threads)
                want = np.zeros((rows, width), dt)
                want[:, :n] = src
                np.testing.assert_array_equal(dst, want)


def test_oa_glue_against_numpy_blocks():
    """oa_fill and oa_add on their own: blocks, zero padding, tails carried across
    chunks, the kept window and columns, float32 output from float64 blocks."""
    k = _native.kernels()
    rng = np.random.default_rng(15)
    G, n, Ws, W, B, L = 2, 23, 3, 5, 4, 7
    src = rng.standard_normal((G, n, Ws))
    nb = -(-n // B)
    full = np.zeros((G, nb * B + L - B, W))
    blocks = np.zeros((G, nb, L, W))
    for b in range(nb):
        part = src[:, b * B:(b + 1) * B]
        blocks[:, b, :part.shape[1], :Ws] = part
    for C in (1, 2, 3, nb):
        buf = np.full((G, C, L, W), 9.0)
        for k0 in range(0, nb, C):
            k.oa_fill(buf, src, k0, B, 2)
            c = min(C, nb - k0)
            np.testing.assert_array_equal(buf[:, :c], blocks[:, k0:k0 + c])
            assert not buf[:, c:].any()
    Y = rng.standard_normal((G, nb, L, W))
    for b in range(nb):
        full[:, b * B:b * B + L] += Y[:, b]
    for C in (1, 2, nb):
        for s, e, w0, wo in ((0, full.shape[1], 0, W), (3, 17, 1, 3), (5, 6, 4, 1)):
            for odt in (np.float64, np.float32):
                out = np.full((G, e - s, wo), np.nan, odt)
                carry = np.empty((G, L - B, W))
                for k0 in range(0, nb, C):
                    c = min(C, nb - k0)
                    chunk = np.zeros((G, C, L, W))
                    chunk[:, :c] = Y[:, k0:k0 + c]
                    k.oa_add(out, chunk, carry, c, k0, B, s, w0, k0 + c == nb, 2)
                want = full[:, s:e, w0:w0 + wo].astype(odt)
                np.testing.assert_allclose(out, want, rtol=1e-6 if odt == np.float32 else 1e-15)


@pytest.mark.parametrize("mode", MODES)
def test_oa_many_chunks_native_equal_twin(mode, monkeypatch):
    """Tails carried from chunk to chunk, and 'same'/'valid' windows cut across them."""
    import sigconv.backends._base as base
    monkeypatch.setattr(base, "OA_CHUNK_BYTES", 4096)
    monkeypatch.setattr(_fft, "OA_FFTW_BLOCKS", False)       # the chunked loop
    rng = np.random.default_rng(16)
    x, h = rng.standard_normal((2, 20_000)), rng.standard_normal((1, 101))
    got = sigconv.oaconvolve(x, h, mode, axes=[1])
    with _native.use_native(False):
        twin = sigconv.oaconvolve(x, h, mode, axes=[1])
    np.testing.assert_allclose(got, twin, atol=1e-11)
    np.testing.assert_allclose(got, _oracle_conv(x, h, mode, [1]), atol=1e-10)


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("mode", MODES)
def test_oa_chunks_side_by_side_equal_one_worker(dt, mode, monkeypatch):
    """Chunks on two threads (one-thread plans each, the first tails added at the end) give
    the bits of one worker, for lines, columns and a second transformed axis."""
    import sigconv.backends._base as base
    monkeypatch.setattr(base, "OA_CHUNK_BYTES", 8192)          # many chunks
    monkeypatch.setattr(_fft, "OA_PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(_fft, "OA_FFTW_BLOCKS", False)         # the chunked loop
    side = _spy(monkeypatch, "_oa_side_by_side")
    rng = np.random.default_rng(17)
    for xs, hs, axes in (((2, 60_000), (1, 101), [1]), ((60_000, 3), (101, 1), [0]),
                         ((20_000, 9), (77, 5), None), ((100_003,), (640,), None)):
        x, h = _draw(rng, xs, dt), _draw(rng, hs, dt)
        one = sigconv.oaconvolve(x, h, mode, axes=axes, workers=1)
        two = sigconv.oaconvolve(x, h, mode, axes=axes, workers=2)
        np.testing.assert_array_equal(two, one)
        want = _oracle_conv(x, h, mode, axes)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(two, want, atol=_tol(dt) * scale, rtol=0)
    assert len(side) >= 3       # (a float32 case may plan a single block, or double precision)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_all_finite_native_against_isfinite(dt, threads):
    """The compiled finiteness check (no BLAS) against numpy.isfinite: NaN, +-inf in any
    position (first, last, inside a vector, past the vector loop, an imaginary part),
    the largest finite value, empty and tiny arrays."""
    k = _native.kernels()
    rng = np.random.default_rng(21)
    for n in (0, 1, 15, 16, 17, 100_003, 70_000):
        a = rng.standard_normal(n).astype(dt) if np.dtype(dt).kind == "f" else _rand(rng, n, dt)
        assert k.all_finite(a, threads) is True
        if n == 0:
            continue
        real = np.dtype(dt).char.lower()
        top = a.copy()
        top[n // 2] = np.finfo(real).max
        assert k.all_finite(top, threads) is bool(np.isfinite(top).all())
        for bad in (np.nan, np.inf, -np.inf):
            for pos in {0, n - 1, n // 2, min(n - 1, 16)}:
                b = a.copy()
                b[pos] = bad
                assert k.all_finite(b, threads) is False
                if np.dtype(dt).kind == "c":
                    b = a.copy()
                    b[pos] = complex(1.0, bad)
                    assert k.all_finite(b, threads) is False
    with pytest.raises(ValueError, match="C-contiguous"):
        k.all_finite(np.ones((4, 4), dt)[:, ::2], 1)
    with pytest.raises(ValueError, match="dtype"):
        k.all_finite(np.ones(4, np.int32), 1)


def test_all_finite_engine_native_equals_twin():
    """sigconv.engine._direct.all_finite with the core and with its NumPy twin agree."""
    from sigconv.engine._direct import all_finite
    rng = np.random.default_rng(22)
    cases = [rng.standard_normal((50, 40)), rng.standard_normal(5000).astype(np.float32),
             _rand(rng, 999, np.complex64), rng.standard_normal((6, 9))[:, ::2],
             np.arange(10)]
    for a in cases:
        for bad in (None, np.nan, np.inf):
            if bad is not None and a.dtype.kind not in "fc":
                continue                    # (integers hold no NaN or inf)
            b = a.copy()
            if bad is not None:
                b.flat[b.size // 3] = bad
            got = all_finite(b)
            with _native.use_native(False):
                assert all_finite(b) is got
            assert got is bool(np.isfinite(b).all())


def test_oa_fill_reports_nonfinite_values():
    """oa_fill returns whether the values it copied were finite (the engine's overlap-add
    checks its long operand that way): only the chunk holding the NaN says False."""
    k = _native.kernels()
    for dt in (np.float32, np.float64, np.complex128, np.int16):
        src = np.ones((1, 40, 1), dt)
        buf = np.empty((1, 2, 8, 1), np.complex128 if dt == np.complex128 else np.float64)
        assert [k.oa_fill(buf, src, k0, 5, 2) for k0 in range(0, 8, 2)] == [True] * 4
        if np.dtype(dt).kind in "fc":
            src[0, 27, 0] = np.inf               # block 5: the chunk of blocks 4 and 5
            assert [k.oa_fill(buf, src, k0, 5, 2) for k0 in range(0, 8, 2)] == [
                True, True, False, True]


@pytest.mark.parametrize("workers", [1, 2])
def test_oa_nonfinite_found_by_the_fill(workers, monkeypatch):
    """A NaN in the long operand, found by the block fill (sequential chunks and chunks
    side by side): auto goes direct and keeps the NaN local, as with the NumPy twin;
    forced overlap-add warns and spreads it over its block."""
    monkeypatch.setattr(_fft, "OA_PARALLEL_MIN_POINTS", 0)
    x = np.ones(300_000)
    x[250_000] = np.nan                  # in a late chunk
    h = np.ones(301)
    assert sigconv.explain(x, h, workers=workers).method == "oa"
    out = sigconv.convolve(x, h, workers=workers)
    bad = np.flatnonzero(~np.isfinite(out))
    assert bad.min() == 250_000 and bad.max() == 250_300
    with _native.use_native(False):
        np.testing.assert_array_equal(out, sigconv.convolve(x, h, workers=workers))
    with pytest.warns(RuntimeWarning, match="overlap-add spreads"):
        spread = sigconv.oaconvolve(x, h, workers=workers)
    assert np.isnan(spread[250_000]) and np.isfinite(spread[:200_000]).all()
    # a NaN in the kernel is found before any block is filled
    h2 = h.copy()
    h2[5] = np.nan
    out2 = sigconv.convolve(x[:200_000], h2, workers=workers)
    with _native.use_native(False):
        twin = sigconv.convolve(x[:200_000], h2, workers=workers)
    np.testing.assert_array_equal(out2, twin)
    # direct: the NaN tap reaches outputs 5 .. n + 4 only
    assert np.isfinite(out2[:5]).all() and np.isnan(out2[5:200_005]).all()
    assert np.isfinite(out2[200_005:]).all()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
def test_oa_one_kernel_per_line(workers, dt, mode, monkeypatch):
    """Overlap-add with one kernel per line (a stereo impulse response for a stereo
    signal) runs the compiled path, many chunks, sequential and side by side: equal to the
    NumPy twin and to scipy's line-by-line convolution; the kernel spectrum is per line."""
    from sigconv.backends import _base as base
    monkeypatch.setattr(base, "OA_CHUNK_BYTES", 8192)
    monkeypatch.setattr(_fft, "OA_PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(_fft, "OA_FFTW_BLOCKS", False)         # the chunked loop
    rng = np.random.default_rng(31)
    x = rng.standard_normal((5000, 3)).astype(dt)
    h = rng.standard_normal((97, 3)).astype(dt)
    called = []
    real = _fft._product
    monkeypatch.setattr(_fft, "_product", lambda *a: (called.append(a[6]), real(*a))[1])
    got = sigconv.convolve(x, h, mode, "oa", axes=0, workers=workers)
    assert called and all(called)                       # the per-line compiled product
    with _native.use_native(False):
        twin = sigconv.convolve(x, h, mode, "oa", axes=0, workers=workers)
    want = np.stack([ss.convolve(x[:, c].astype(np.float64), h[:, c].astype(np.float64),
                                 mode, "direct") for c in range(3)], axis=1)
    tol = 2e-4 if dt == np.float32 else 1e-10
    scale = np.abs(want).max()
    assert got.dtype == dt and got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=tol * scale)
    np.testing.assert_allclose(got, twin, atol=tol * scale)
