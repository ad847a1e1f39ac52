"""The compiled image kernels (src/native/image.cpp) against exact or float64 oracles.

Oracles: scipy.ndimage in float64 for the linear filters (same border modes), window sums of
the image padded by numpy.pad in int64 for the exact integer box, a float64 NumPy model of the
alpha premultiplication. Tolerances: integer results exact where the kernel is exact (box sums)
and within 1 where float32 accumulation may round a .5 case the other way (Gaussian, alpha);
float results within a few float32/float64 ulps of the sum of |terms|.
"""

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from sigconv.engine import _native
from sigconv.image import kernels as K

pytestmark = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")

MODES = ["reflect", "nearest", "wrap", "constant", "mirror"]
PAD = {"reflect": "symmetric", "nearest": "edge", "wrap": "wrap", "constant": "constant",
       "mirror": "reflect"}
DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SHAPES = [(1, 1, 1), (1, 9, 3), (8, 1, 1), (5, 3, 2), (17, 23, 3), (12, 40, 4)]
LUMA = np.array([0.299, 0.587, 0.114])


def k():
    return _native.kernels()


def acc(dt):
    return np.dtype(np.float64 if np.dtype(dt) == np.float64 else np.float32)


def top(dt):
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dt), 1.0)


def image(rng, shape, dt):
    if np.dtype(dt).kind == "u":
        return rng.integers(0, np.iinfo(dt).max + 1, shape).astype(dt)
    return (rng.standard_normal(shape) * 100).astype(dt)


def round_clip(x, dt):
    dt = np.dtype(dt)
    if dt.kind == "f":
        return x.astype(dt)
    return np.clip(np.rint(x), 0, np.iinfo(dt).max).astype(dt)


def close(out, ref, bound, dt):
    """Float: |out - ref| <= bound; integer: within 1 of the rounded reference."""
    if np.dtype(dt).kind == "f":
        assert np.all(np.abs(out.astype(np.float64) - ref) <= bound), np.abs(out - ref).max()
    else:
        diff = np.abs(out.astype(np.int64) - round_clip(ref, dt).astype(np.int64))
        assert diff.max(initial=0) <= 1


def premultiplied(x, has_alpha):
    f = x.astype(np.float64)
    if has_alpha:
        f[..., :-1] *= f[..., -1:] / top(x.dtype)
    return f


def unpremultiplied(f, dt, has_alpha):
    if has_alpha:
        a = f[..., -1:]
        clear = 0.5 if np.dtype(dt).kind == "u" else 256 * np.finfo(acc(dt)).eps
        f = f.copy()
        f[..., :-1] *= np.where(a > clear, top(dt) / np.where(a > clear, a, 1), 0)
    return f


# ------------------------------------------------------------------ separable FIR


def sep_oracle(x, wy, wx, mode, cval, has_alpha):
    """Pad once (as the NumPy path does: a constant border is cval before both passes, not
    after the first as in two ndimage calls), premultiply, correlate, crop, unpremultiply."""
    f = premultiplied(x, has_alpha)
    r = max(len(wy), len(wx)) + 2
    if mode == "constant":
        cpx = np.full(x.shape[-1], float(cval))
        if has_alpha:
            cpx[:-1] *= cval / top(x.dtype)
        pad = np.empty((f.shape[0] + 2 * r, f.shape[1] + 2 * r, f.shape[2]))
        pad[...] = cpx
        pad[r:-r, r:-r] = f
    else:
        pad = np.pad(f, ((r, r), (r, r), (0, 0)), mode=PAD[mode])
    out = ndi.correlate1d(ndi.correlate1d(pad, wy, axis=0, mode="constant"), wx, axis=1,
                          mode="constant")[r:-r, r:-r]
    return unpremultiplied(out, x.dtype, has_alpha)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_sep_filter_matches_ndimage(dt, mode):
    rng = np.random.default_rng(1)
    code = _native.BORDER_CODES[mode]
    for shape in SHAPES:
        x = image(rng, shape, dt)
        for wy, wx in [(K.gaussian_kernel1d(1.5), K.gaussian_kernel1d(0.7)),
                       (K.gaussian_kernel1d(6.0), np.array([1.0])),      # wider than the image
                       (np.array([0.25, 0.5, -0.125]), np.array([1.0, -2.0, 0.5, 0.25]))]:
            for outdt in {np.dtype(dt), acc(dt)}:
                out = np.empty(shape, outdt)
                k().sep_filter(x, out, wy, wx, code, 3.0, False, 2)
                ref = sep_oracle(x, wy, wx, mode, 3.0, False)
                scale = np.abs(x).max() * np.abs(wy).sum() * np.abs(wx).sum()
                bound = scale * 64 * np.finfo(acc(dt)).eps
                close(out, ref, bound, outdt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_sep_filter_alpha(dt, mode):
    rng = np.random.default_rng(2)
    x = image(rng, (9, 14, 4), dt)
    if np.dtype(dt).kind == "f":
        x[..., -1] = rng.random((9, 14)).astype(dt)
    x[2:4, 3:6, -1] = 0                     # transparent: their colour must not bleed
    w = K.gaussian_kernel1d(1.2)
    out = np.empty(x.shape, dt)
    k().sep_filter(x, out, w, w, _native.BORDER_CODES[mode], 0.5 * top(dt), True, 2)
    ref = sep_oracle(x, w, w, mode, 0.5 * top(dt), True)
    close(out, ref, np.abs(ref).max() * 1e-4 + 1e-9, dt)


def test_sep_filter_nan_inf_and_threads():
    rng = np.random.default_rng(3)
    x = rng.random((40, 33, 3)).astype(np.float32)
    x[10, 5, 1] = np.nan
    x[30, 20, 0] = np.inf
    w = K.gaussian_kernel1d(2.0)
    outs = []
    for threads in (1, 2, 3):
        out = np.empty_like(x)
        k().sep_filter(x, out, w, w, 0, 0.0, False, threads)
        outs.append(out)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0], equal_nan=True)
    ref = sep_oracle(x, w, w, "reflect", 0.0, False)
    assert np.array_equal(np.isnan(outs[0]), np.isnan(ref))
    fin = np.isfinite(ref)
    assert np.allclose(outs[0][fin], ref[fin], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ box


def window_sums(x, ny, nx, mode, cval):
    """Exact sums over ndimage's windows (start n // 2 before the pixel), int64 or float64."""
    pads = ((ny // 2, ny - 1 - ny // 2), (nx // 2, nx - 1 - nx // 2), (0, 0))
    work = np.int64 if x.dtype.kind == "u" and float(cval).is_integer() else np.float64
    kw = {"constant_values": cval} if mode == "constant" else {}
    p = np.pad(x.astype(work), pads, mode=PAD[mode], **kw)
    c = np.zeros((p.shape[0] + 1, p.shape[1] + 1, p.shape[2]), work)
    c[1:, 1:] = p.cumsum(0).cumsum(1)
    h, w = x.shape[:2]
    return c[ny:ny + h, nx:nx + w] - c[:h, nx:nx + w] - c[ny:ny + h, :w] + c[:h, :w]


@pytest.mark.parametrize("dt", [np.uint8, np.uint16])
@pytest.mark.parametrize("mode", MODES)
def test_box_integer_exact(dt, mode):
    rng = np.random.default_rng(4)
    code = _native.BORDER_CODES[mode]
    for shape in SHAPES:
        x = image(rng, shape, dt)
        for ny, nx in [(1, 1), (3, 3), (15, 4), (2, 7), (2 * shape[0] + 3, 2 * shape[1] + 5)]:
            s = window_sums(x, ny, nx, mode, 7)
            area = ny * nx
            out = np.empty(shape, dt)
            k().box_filter(x, out, ny, nx, code, 7.0, False, 2)
            np.testing.assert_array_equal(out, ((s + area // 2) // area).astype(dt))
            f = np.empty(shape, np.float32)
            k().box_filter(x, f, ny, nx, code, 7.0, False, 2)
            np.testing.assert_array_equal(f, (s / area).astype(np.float32))


def test_box_uint16_huge_window_is_exact():
    x = np.full((3, 2, 1), 65535, np.uint16)
    out = np.empty_like(x)
    k().box_filter(x, out, 301, 501, 1, 0.0, False, 1)   # sums beyond 2^32: 64-bit sums
    assert (out == 65535).all()


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_box_float_path(dt, mode):
    """Floats, and integers with alpha or a non-integer cval (float sums, as NumPy does)."""
    rng = np.random.default_rng(5)
    code = _native.BORDER_CODES[mode]
    for shape in SHAPES:
        x = image(rng, shape, dt)
        for ny, nx in [(3, 3), (15, 4), (2, 7), (2 * shape[0] + 3, 1)]:
            cval = 2.5
            out = np.empty(shape, acc(dt))
            k().box_filter(x, out, ny, nx, code, cval, False, 2)
            ref = window_sums(x, ny, nx, mode, cval) / (ny * nx)
            close(out, ref, float(np.abs(x).max()) * (ny + nx + 4) * np.finfo(acc(dt)).eps, acc(dt))
        if shape[2] >= 2:
            out = np.empty(shape, dt)
            k().box_filter(x, out, 3, 5, code, 0.5 * top(dt), True, 2)
            f = premultiplied(x, True)
            pre = np.concatenate([np.full(shape[2] - 1, 0.25 * top(dt)), [0.5 * top(dt)]])
            if mode == "constant":
                p = np.empty((shape[0] + 4, shape[1] + 6, shape[2]))
                p[...] = pre
                p[2:-2, 3:-3] = f
                ref = ndi.uniform_filter(p, (3, 5, 1), mode="constant")[2:-2, 3:-3]
            else:
                ref = ndi.uniform_filter(f, (3, 5, 1), mode=mode)
            ref = unpremultiplied(ref, dt, True)
            close(out, ref, np.abs(ref).max() * 1e-4 + 1e-9, dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_box_nan_inf_stay_in_their_windows_and_big_values_do_not_erase_small(dt):
    x = np.ones((30, 40, 1), dt)
    x[3, 4] = np.nan
    x[20, 30] = np.inf
    x[12, 0] = np.finfo(dt).max / 2           # summed unscaled this would overflow
    out = np.empty_like(x)
    k().box_filter(x, out, 5, 7, 0, 0.0, False, 2)
    nan = window_sums(np.isnan(x).astype(np.uint8), 5, 7, "reflect", 0) > 0
    inf = window_sums(np.isinf(x).astype(np.uint8), 5, 7, "reflect", 0) > 0
    big = window_sums((x == x[12, 0]).astype(np.uint8), 5, 7, "reflect", 0) > 0
    assert np.array_equal(np.isnan(out), nan)
    assert np.array_equal(np.isinf(out), inf & ~nan)
    rest = ~(nan | inf | big)
    assert np.allclose(out[rest], 1.0, rtol=32 * np.finfo(dt).eps, atol=0)
    assert np.all(np.isfinite(out[big & ~nan & ~inf]))


@pytest.mark.parametrize("mode", MODES)
def test_box_float32_gray_eight_rows_at_once_equals_row_by_row(mode):
    """One-channel float32 runs its row pass eight rows at a time (transposed, on AVX2);
    a two-channel image holding the same values twice runs block_row row by row. Per
    element the same additions in the same order: bitwise equal, NaN and inf included."""
    rng = np.random.default_rng(11)
    code = _native.BORDER_CODES[mode]
    for h, w in [(8, 8), (9, 7), (17, 33), (40, 3), (64, 129), (31, 250)]:
        x = (rng.standard_normal((h, w, 1)) * 50).astype(np.float32)
        x[h // 2, w // 3] = np.nan
        x[h // 3, w // 2] = np.inf
        two = np.concatenate([x, x], axis=2)
        for ny, nx in [(1, 1), (3, 3), (15, 15), (2, 9), (7, 2 * w + 3)]:
            for threads in (1, 2, 3):
                one, ref = np.empty_like(x), np.empty_like(two)
                k().box_filter(x, one, ny, nx, code, 1.25, False, threads)
                k().box_filter(two, ref, ny, nx, code, 1.25, False, 1)
                np.testing.assert_array_equal(one[..., 0], ref[..., 0])
                np.testing.assert_array_equal(ref[..., 0], ref[..., 1])


# ------------------------------------------------------------------ 3x3 operators

OPS = [(K.SOBEL_X, K.SOBEL_Y), (K.PREWITT_X, K.PREWITT_Y), (K.SCHARR_X, K.SCHARR_Y),
       (K.LAPLACIAN, None), (np.array([[0, 0, 0], [-1, 1, 0], [0, 0, 0]], float), None)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", MODES)
def test_edges_match_ndimage(dt, mode):
    rng = np.random.default_rng(6)
    code = _native.BORDER_CODES[mode]
    for shape in [(1, 1, 1), (1, 7, 3), (6, 1, 4), (11, 13, 3), (9, 20, 4)]:
        x = image(rng, shape, dt)
        for has_alpha in ([False, True] if shape[2] >= 2 else [False]):
            nc = shape[2] - has_alpha
            for use_luma in ([False, True] if nc == 3 else [False]):
                for kx, ky in OPS:
                    f = premultiplied(x, has_alpha)[..., :nc]
                    cpx = np.full(nc, 9.0) * (9.0 / top(dt) if has_alpha else 1.0)
                    if use_luma:
                        f = (f @ LUMA)[..., None]
                        cpx = np.array([cpx @ LUMA])
                    pad = np.pad(f, ((1, 1), (1, 1), (0, 0)), mode=PAD[mode]) if \
                        mode != "constant" else np.pad(f - cpx, ((1, 1), (1, 1), (0, 0))) + cpx
                    gx = ndi.correlate(pad, kx[..., None], mode="constant")[1:-1, 1:-1]
                    ref = np.hypot(gx, ndi.correlate(pad, ky[..., None], mode="constant")[
                        1:-1, 1:-1]) if ky is not None else gx
                    for outdt in {np.dtype(dt), acc(dt)}:
                        out = np.empty(ref.shape, outdt)
                        k().edges3x3(x, out, kx, ky, code, 9.0, has_alpha,
                                     LUMA if use_luma else None, 2)
                        bound = np.abs(f).max() * 64 * np.finfo(acc(dt)).eps + 1e-30
                        close(out, ref, bound, outdt)


def test_edges_zero_taps_do_not_spread_nan_and_threads_agree():
    x = np.zeros((20, 25, 1), np.float32)
    x[8, 8] = np.nan
    outs = []
    for threads in (1, 2, 3):
        out = np.empty_like(x)
        k().edges3x3(x, out, K.SOBEL_X, None, 0, 0.0, False, None, threads)
        outs.append(out)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0], equal_nan=True)
    nan = np.argwhere(np.isnan(outs[0][..., 0]))
    # Sobel x has zeros in its middle column: (8, 8) itself and nothing above/below it alone
    assert {tuple(p) for p in nan} == {(r, c) for r in (7, 8, 9) for c in (7, 9)}


# ------------------------------------------------------------------ standalone steps


@pytest.mark.parametrize("src_dt", [np.float32, np.float64])
@pytest.mark.parametrize("dst_dt", DTYPES)
def test_convert_rounds_half_even_and_clips(src_dt, dst_dt):
    x = np.array([-3.5, -0.5, 0.5, 1.5, 2.5, 254.5, 255.5, 300, 65534.5, 70000, 1e10, -1e10,
                  0.25, np.nan], src_dt)
    for absolute in (False, True):
        out = np.empty(x.shape, dst_dt)
        k().convert(x, out, 1.0, absolute, 2)
        y = np.abs(x) if absolute else x
        if np.dtype(dst_dt).kind == "f":
            np.testing.assert_array_equal(out, y.astype(dst_dt))
        else:
            ok = ~np.isnan(y)
            np.testing.assert_array_equal(out[ok], round_clip(y[ok], dst_dt))
            assert out[~ok].tolist() == [0]
    big = np.random.default_rng(7).standard_normal((3, 50_000)).astype(src_dt) * 100
    out = np.empty(big.shape, np.uint8)
    k().convert(big, out, 0.37, True, 2)
    np.testing.assert_array_equal(out, round_clip(np.abs(big) * src_dt(0.37), np.uint8))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_finite_peak(dt):
    x = np.random.default_rng(8).standard_normal((300, 500)).astype(dt)
    assert k().finite_peak(x, 2) == float(np.abs(x).max())
    x[5, 5], x[6, 6], x[7, 7] = np.nan, np.inf, -np.inf
    x[100, 100] = -1e3
    assert k().finite_peak(x, 1) == 1e3 == k().finite_peak(x, 2)
    assert k().finite_peak(np.full(4, np.nan, dt), 2) == 0.0


@pytest.mark.parametrize("dt", DTYPES)
def test_premultiply_unpremultiply(dt):
    rng = np.random.default_rng(9)
    x = image(rng, (7, 9, 4), dt)
    if np.dtype(dt).kind == "f":
        x[..., -1] = rng.random((7, 9))
    x[0, :3, -1] = 0
    pre = np.empty(x.shape, acc(dt))
    k().premultiply(x, pre, 2)
    a = acc(dt)
    expect = x.astype(a)
    expect[..., :-1] *= a.type(1 / top(dt)) * expect[..., -1:]
    np.testing.assert_array_equal(pre, expect)
    back = np.empty(x.shape, dt)
    clear = 0.5 if np.dtype(dt).kind == "u" else 256 * np.finfo(a).eps
    k().unpremultiply(pre, back, top(dt), clear, 2)
    ref = unpremultiplied(pre.astype(np.float64), dt, True)
    close(back, ref, np.abs(ref).max() * 1e-5, dt)
    assert (back[0, :3, :-1] == 0).all()


# ------------------------------------------------------------------ properties and errors


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(1, 4),
       ny=st.integers(1, 30), nx=st.integers(1, 30), mode=st.sampled_from(MODES),
       threads=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_box_and_sep_any_shape_exact_and_thread_independent(h, w, c, ny, nx, mode, threads,
                                                           seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (h, w, c)).astype(np.uint8)
    code = _native.BORDER_CODES[mode]
    out1, out2 = np.empty_like(x), np.empty_like(x)
    k().box_filter(x, out1, ny, nx, code, 5.0, False, 1)
    k().box_filter(x, out2, ny, nx, code, 5.0, False, threads)
    area = ny * nx
    np.testing.assert_array_equal(out1, (window_sums(x, ny, nx, mode, 5) + area // 2) // area)
    np.testing.assert_array_equal(out1, out2)
    f = x.astype(np.float32) * np.float32(0.37)
    g1, g2 = np.empty_like(f), np.empty_like(f)
    for fn, args in (("box_filter", (ny, nx)),
                     ("sep_filter", (K.gaussian_kernel1d(ny / 6), K.gaussian_kernel1d(nx / 6)))):
        getattr(k(), fn)(f, g1, *args, code, 5.0, c >= 2, 1)
        getattr(k(), fn)(f, g2, *args, code, 5.0, c >= 2, threads)
        np.testing.assert_array_equal(g1, g2)


def test_errors():
    x = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="dimensions"):
        k().box_filter(x[..., 0], x[..., 0].copy(), 3, 3, 0, 0.0, False, 1)
    with pytest.raises(TypeError, match="int32"):
        k().box_filter(x.astype(np.int32), x.astype(np.int32), 3, 3, 0, 0.0, False, 1)
    with pytest.raises(TypeError, match="dst must be uint8 or float32"):
        k().box_filter(x, np.zeros(x.shape, np.float64), 3, 3, 0, 0.0, False, 1)
    with pytest.raises(ValueError, match="shape"):
        k().sep_filter(x, np.zeros((4, 5, 3), np.uint8), [1.0], [1.0], 0, 0.0, False, 1)
    with pytest.raises(ValueError, match="border"):
        k().sep_filter(x, x.copy(), [1.0], [1.0], 7, 0.0, False, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        k().sep_filter(np.zeros((4, 8, 3), np.uint8)[:, ::2], x.copy(), [1.0], [1.0], 0, 0.0,
                       False, 1)
    with pytest.raises(ValueError, match="alpha"):
        k().box_filter(x[..., :1].copy(), x[..., :1].copy(), 3, 3, 0, 0.0, True, 1)
    with pytest.raises(ValueError, match="luma"):
        k().edges3x3(x, np.zeros((4, 4, 1), np.float32), K.SOBEL_X, None, 0, 0.0, False,
                     np.ones(2), 1)
    with pytest.raises(ValueError, match="read-only"):
        ro = x.copy()
        ro.flags.writeable = False
        k().box_filter(x, ro, 3, 3, 0, 0.0, False, 1)


def test_sep_filter_zero_taps_do_not_spread_nan():
    x = np.zeros((9, 11, 1), np.float32)
    x[4, 5] = np.nan
    out = np.empty_like(x)
    k().sep_filter(x, out, np.array([1.0]), np.array([-1.0, 0.0, 1.0]), 0, 0.0, False, 2)
    assert {tuple(p) for p in np.argwhere(np.isnan(out[..., 0]))} == {(4, 4), (4, 6)}
    k().sep_filter(x, out, np.array([0.0, 1.0]), np.array([0.5, 0.0, 0.0, 2.0]), 0, 0.0, False, 2)
    assert {tuple(p) for p in np.argwhere(np.isnan(out[..., 0]))} == {(4, 4), (4, 7)}
    k().sep_filter(x, out, np.zeros(3), np.array([1.0]), 0, 0.0, False, 2)
    assert (out == 0).all()


def test_dtype_compared_by_value_and_byte_order_checked():
    import pickle
    x = pickle.loads(pickle.dumps(np.arange(12, dtype=np.uint8).reshape(2, 2, 3)))
    out = pickle.loads(pickle.dumps(np.zeros((2, 2, 3), np.uint8)))
    k().box_filter(x, out, 1, 1, 0, 0.0, False, 1)          # an unpickled dtype instance
    np.testing.assert_array_equal(out, x)
    swapped = np.zeros((2, 2, 1), np.dtype(np.float32).newbyteorder())
    with pytest.raises(TypeError):
        k().box_filter(swapped, np.zeros((2, 2, 1), np.float32), 1, 1, 0, 0.0, False, 1)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sep_filter_rows_copied_on_aliased_strides(dt):
    """Rows whose stride is a multiple of 2 KB are copied into a padded tile instead of read
    in place (cache-set aliasing); the result is bitwise the in-place one: the same image
    viewed with one column more (read in place) gives the same columns."""
    rng = np.random.default_rng(11)
    width = 2048 // np.dtype(dt).itemsize          # 2 KB rows: copied
    wide = image(rng, (70, width + 1, 1), dt)
    ty = np.ascontiguousarray(K.gaussian_kernel1d(4.0), np.float64)
    tx = np.array([1.0])                            # vertical only: columns independent
    src = np.ascontiguousarray(wide[:, :width])
    out = np.empty_like(src)
    k().sep_filter(src, out, ty, tx, 0, 0.0, False, 2)
    ref_out = np.empty_like(wide)
    k().sep_filter(wide, ref_out, ty, tx, 0, 0.0, False, 2)
    np.testing.assert_array_equal(out, ref_out[:, :width])
    ref = ndi.correlate1d(src[..., 0].astype(np.float64), ty, axis=0, mode="reflect")
    assert np.abs(out[..., 0] - ref).max() <= 1e-4 * np.abs(ref).max()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("taps", [[0.5, 0.0, 0.5], [0.0, 0.25, 0.5, 0.25, 0.0],
                                  [0.1, 0.2, 0.4, 0.2, 0.1]])
def test_sep_filter_vertical_pairs_against_ordered_sum(dt, taps):
    """Dense symmetric vertical taps run two output rows at a time (fir_sym_pairs); each output
    must be the pairwise sum in tap order, bitwise: wc x[r] + w1 (x[r-1] + x[r+1]) + ...,
    evaluated here in the accumulator's dtype; odd and even heights, 1-3 threads."""
    rng = np.random.default_rng(12)
    w = np.array(taps)
    R = len(w) // 2
    for H, W in [(1, 40), (2, 33), (7, 41), (16, 64), (33, 70)]:
        x = rng.standard_normal((H, W, 1)).astype(dt)
        pad = np.pad(x[..., 0], ((R, R), (0, 0)), mode="symmetric")
        wa = w.astype(dt)
        ref = wa[R] * pad[R:R + H] if wa[R] != 0 else np.zeros((H, W), dt)
        for m in range(1, R + 1):
            if wa[R + m] != 0:
                ref = ref + wa[R + m] * (pad[R - m:R - m + H] + pad[R + m:R + m + H])
        for threads in (1, 2, 3):
            out = np.empty_like(x)
            k().sep_filter(x, out, w, np.array([1.0]), 0, 0.0, False, threads)
            if len(w) <= 2 * H + 1:               # (longer taps are folded first)
                np.testing.assert_array_equal(out[..., 0], ref)
