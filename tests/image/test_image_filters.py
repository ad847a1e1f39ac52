"""Blur, box, filter and edges against scipy.ndimage, across border modes and methods."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import ndimage

from sigconv import InputError, InputTypeError, _checks
from sigconv import image as si
from sigconv.engine import _blocks
from sigconv.image import _filters

BORDERS = ["reflect", "nearest", "wrap", "constant", "mirror"]
METHODS = ["direct", "fft", "oa"]
RNG = np.random.default_rng(2026)


def _image(shape=(23, 31, 3), dtype=np.uint8):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(0.0, 1.0, shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def _per_channel(array, kernel):
    return kernel if array.ndim == 2 else kernel[..., None]


def _lsb_error(result, reference):
    """Largest difference in units of the last place of the result's integer type."""
    return np.abs(result.astype(np.float64) - reference).max()


# --------------------------------------------------------------------------- blur


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("shape", [(23, 31), (23, 31, 3), (5, 4, 3)])
def test_gaussian_matches_ndimage_within_one_lsb(border, shape):
    img = _image(shape)
    sigma = 2.0 if shape[0] > 5 else 3.0  # kernel wider than the image in the last case
    out = si.gaussian(img, sigma, border=border, cval=40)
    assert out.dtype == np.uint8 and out.shape == img.shape
    reference = ndimage.gaussian_filter(img.astype(np.float64), (sigma, sigma, 0)[:img.ndim],
                                        mode=border, cval=40, truncate=4.0)
    assert _lsb_error(out, reference) <= 1


@pytest.mark.parametrize("sigma", [0.5, (1.0, 3.5), 0])
def test_gaussian_float_and_anisotropic(sigma):
    img = _image((30, 26), np.float64)
    out = si.gaussian(img, sigma, truncate=3.0)
    reference = ndimage.gaussian_filter(img, sigma, mode="reflect", truncate=3.0)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, reference, atol=1e-12)


def test_gaussian_16_bit_and_float32_keep_dtype():
    img16 = _image((20, 24), np.uint16)
    out = si.gaussian(img16, 1.5)
    assert out.dtype == np.uint16
    assert _lsb_error(out, ndimage.gaussian_filter(img16.astype(float), 1.5)) <= 1
    img32 = _image((20, 24), np.float32)
    out = si.gaussian(img32, 1.5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ndimage.gaussian_filter(img32.astype(float), 1.5),
                               atol=2e-6)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("size", [1, 4, 5, (3, 8)])
@pytest.mark.parametrize("method", ["auto", "direct", "fft", "oa"])
def test_box_matches_uniform_filter(border, size, method):
    img = _image((19, 27, 3))
    rows, cols = (size, size) if isinstance(size, int) else size
    out = si.box(img, size, border=border, cval=250, method=method)
    reference = ndimage.uniform_filter(img.astype(np.float64), (rows, cols, 1), mode=border,
                                       cval=250)
    assert out.dtype == np.uint8
    # window sums are exact, then rounded to nearest; the engine's float32 passes may
    # land a half-way value on either side
    assert _lsb_error(out, reference) <= (0.5 + 1e-6 if method == "auto" else 0.51)


def test_box_sums_do_not_overflow():
    # running sums of a wide image wrap around in int32, but window sums stay exact ...
    wide = np.full((101, 90_000), 255, np.uint8)  # 255 * 101 * 90_000 > 2**31
    wide[:, 0] = 0
    out = si.box(wide, (101, 3), workers=1)
    assert out[0, 0] == 85 and out[0, 1] == 170 and (out[:, 2:] == 255).all()
    # ... unless one window's sum exceeds it: 65535 * 200 * 200 > 2**31
    bright = np.full((210, 220), 65535, np.uint16)
    assert (si.box(bright, 200) == 65535).all()


@pytest.mark.parametrize("size", [(1, 100), (70, 3), 101])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_long_boxes_from_cumulative_sums(size, dtype):
    """Windows beyond 64 pixels come from cumulative sums: in uint16 for a (1, 100) box
    on 8-bit data, whose running total wraps around many times along a row."""
    img = RNG.integers(0, 256, (110, 3000)).astype(dtype)
    rows, cols = (size, size) if isinstance(size, int) else size
    out = si.box(img, size)
    reference = ndimage.uniform_filter(img.astype(np.float64), (rows, cols), mode="reflect")
    assert out.dtype == dtype
    if dtype == np.uint8:
        assert _lsb_error(out, reference) <= 0.5 + 1e-6
    else:
        np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-3)


def test_box_float_precision_over_long_rows():
    img = _image((3, 5000), np.float64) + 1e3
    out = si.box(img, 15)
    np.testing.assert_allclose(out, ndimage.uniform_filter(img, 15), rtol=1e-12)


def test_blur_dispatches_and_requires_one_kind():
    img = _image((9, 11))
    np.testing.assert_array_equal(si.blur(img, sigma=1.2), si.gaussian(img, 1.2))
    np.testing.assert_array_equal(si.blur(img, size=3), si.box(img, 3))
    with pytest.raises(InputError, match="exactly one"):
        si.blur(img)
    with pytest.raises(InputError, match="exactly one"):
        si.blur(img, sigma=1, size=3)


# --------------------------------------------------------------------------- filter


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 5), (1, 4), (6, 1)])
def test_filter_convolve_and_correlate_match_ndimage(border, shape):
    img = _image((17, 21, 3), np.float64)
    kernel = RNG.normal(size=shape)
    k3 = kernel[..., None]
    out = si.filter(img, kernel, border=border, cval=0.7)
    np.testing.assert_allclose(out, ndimage.convolve(img, k3, mode=border, cval=0.7),
                               atol=1e-10)
    out = si.filter(img, kernel, correlate=True, border=border, cval=0.7)
    np.testing.assert_allclose(out, ndimage.correlate(img, k3, mode=border, cval=0.7),
                               atol=1e-10)


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("method", METHODS)
def test_fft_and_overlap_add_equal_direct_per_border(border, method):
    img = _image((40, 33), np.float32)
    kernel = RNG.normal(size=(9, 12))
    direct = si.filter(img, kernel, border=border, cval=-2.0, method="direct")
    other = si.filter(img, kernel, border=border, cval=-2.0, method=method)
    assert other.dtype == np.float32
    np.testing.assert_allclose(other, direct, atol=2e-4)
    reference = ndimage.convolve(img.astype(np.float64), kernel, mode=border, cval=-2.0)
    np.testing.assert_allclose(other, reference, atol=2e-4)


@pytest.mark.parametrize("border", ["reflect", "wrap", "constant"])
def test_separable_path_equals_dense_path(border, monkeypatch):
    img = _image((25, 30, 3))
    kernel = np.outer([1.0, 4.0, 6.0, 4.0, 1.0], [-1.0, 0.0, 2.0, 0.5]) / 40.0
    assert si.separate(kernel) is not None
    separable = si.filter(img, kernel, border=border, cval=9)
    monkeypatch.setattr(_filters, "_passes", lambda k: [k])  # force one dense 2-D pass
    dense = si.filter(img, kernel, border=border, cval=9)
    assert _lsb_error(separable, dense) <= 1
    reference = ndimage.convolve(img.astype(float), kernel[..., None], mode=border, cval=9)
    assert _lsb_error(separable, np.clip(reference, 0, 255)) <= 0.5 + 1e-3


def test_filter_normalize_and_integer_clipping():
    img = np.array([[0, 100, 255]] * 3, np.uint8)
    np.testing.assert_array_equal(si.filter(img, [[2.0, 2.0]], normalize=True,
                                            border="nearest"),
                                  si.filter(img, [[0.5, 0.5]], border="nearest"))
    sharp = si.filter(img, si.SHARPEN, border="nearest")
    assert sharp.dtype == np.uint8
    np.testing.assert_array_equal(sharp, [[0, 45, 255]] * 3)  # -55 clipped, not wrapped
    with pytest.raises(InputError, match="sum is 0"):
        si.filter(img, si.LAPLACIAN, normalize=True)


def test_strips_and_threads_do_not_change_the_result(monkeypatch):
    img = _image((200, 40, 4)).astype(np.float64)
    monkeypatch.setattr(_blocks, "_STRIP_SAMPLES", 1)  # strips of 4 x reach rows
    calls = []
    run = _blocks._run

    def counting_run(*args, **kwargs):
        calls.append(kwargs["workers"])
        return run(*args, **kwargs)

    monkeypatch.setattr(_blocks, "_run", counting_run)
    # the NumPy twin's strips (the compiled kernels run strips of their own)
    monkeypatch.setattr(_blocks, "_NATIVE_DTYPES", frozenset())
    for workers in (1, 2):
        gauss = si.gaussian(img, 1.0, alpha=False, workers=workers)  # reach 8: 7 strips
        np.testing.assert_allclose(gauss, ndimage.gaussian_filter(img, (1, 1, 0)), atol=1e-12)
        box = si.box(img, 5, alpha=False, workers=workers)  # reach 4: 13 strips
        np.testing.assert_allclose(box, ndimage.uniform_filter(img, (5, 5, 1)), atol=1e-12)
    assert calls == [1, 1, 2, 2]


def test_input_is_not_modified():
    img = _image((12, 12, 4), np.float32)
    copy = img.copy()
    si.gaussian(img, 1.0)
    si.filter(img, [[1.0]])
    si.edges(img)
    np.testing.assert_array_equal(img, copy)
    assert si.filter(img, [[1.0]]) is not img


# --------------------------------------------------------------------------- alpha


def test_alpha_premultiplied_blur_does_not_bleed_hidden_colour():
    # Opaque red on the left, fully transparent *green* on the right.
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[:, :5] = (255, 0, 0, 255)
    rgba[:, 5:] = (0, 255, 0, 0)
    out = si.box(rgba, 3)
    visible = out[..., 3] > 0
    assert visible[:, 5].all()  # alpha itself is blurred
    np.testing.assert_array_equal(out[..., 3][:, 4:6], [[170, 85]] * 8)
    np.testing.assert_array_equal(out[visible][:, 1], 0)  # no green anywhere visible
    np.testing.assert_array_equal(out[visible][:, 0], 255)
    np.testing.assert_array_equal(out[~visible][:, :3], 0)


def test_alpha_matches_premultiplied_oracle():
    rgba = _image((15, 18, 4)).astype(np.float64)
    rgba[..., 3] = RNG.integers(0, 256, (15, 18))
    a = rgba[..., 3:] / 255.0
    def blur(x):
        return ndimage.gaussian_filter(x, (1.3, 1.3, 0))

    alpha = blur(rgba[..., 3:])
    colour = blur(rgba[..., :3] * a) / np.where(alpha > 0, alpha / 255.0, 1)
    out = si.gaussian(rgba.astype(np.uint8), 1.3)
    assert _lsb_error(out[..., 3:], alpha) <= 1
    assert _lsb_error(out[..., :3], colour) <= 1


def test_la_images_and_explicit_alpha_flag():
    la = _image((10, 12, 2))
    out = si.gaussian(la, 1.0)
    rgba_like = si.gaussian(np.dstack([la[..., :1]] * 3 + [la[..., 1:]]), 1.0)
    np.testing.assert_array_equal(out[..., 0], rgba_like[..., 0])
    plain = si.gaussian(la, 1.0, alpha=False)  # two independent channels
    reference = ndimage.gaussian_filter(la.astype(float), (1, 1, 0))
    assert _lsb_error(plain, reference) <= 1
    with pytest.raises(InputError, match="alpha=True"):
        si.gaussian(_image((4, 4)), 1.0, alpha=True)


# --------------------------------------------------------------------------- article


def test_article_3x3_box_blur_averages_the_neighbourhood():
    # colah, "Understanding Convolutions": a kernel of 1/9 on a 3x3 box blurs the image.
    img = np.array([[0, 0, 0, 0, 0],
                    [0, 9, 9, 9, 0],
                    [0, 9, 18, 9, 0],
                    [0, 9, 9, 9, 0],
                    [0, 0, 0, 0, 0]], np.float64)
    expected_centre = (9 * 8 + 18) / 9
    expected_corner = (9 + 9 + 9 + 18) / 9  # pixel (1, 1): 4 non-zero neighbours
    for out in (si.filter(img, si.BOX3, border="constant"), si.box(img, 3, border="constant")):
        assert out[2, 2] == pytest.approx(expected_centre)
        assert out[1, 1] == pytest.approx(expected_corner)
        assert out[0, 0] == pytest.approx(1.0)
    np.testing.assert_array_equal(si.BOX3, np.full((3, 3), 1 / 9))


def test_article_minus_one_one_edge_detector():
    # The article's 5x5 kernel: -1 and 1 on two adjacent pixels, the 1 at the centre.
    article = np.zeros((5, 5))
    article[2, 1], article[2, 2] = -1, 1
    img = np.array([[10, 10, 10, 50, 50, 50]] * 4, np.float64)
    slid = si.filter(img, article, correlate=True, border="nearest")
    # similar neighbours give zero; the step gives the difference across it
    np.testing.assert_array_equal(slid, [[0, 0, 0, 40, 0, 0]] * 4)
    np.testing.assert_array_equal(si.edges(img, "diff", direction="x", scale="none",
                                           border="nearest"), slid)
    vertical = si.edges(img.T.copy(), "diff", direction="y", scale="none", border="nearest")
    np.testing.assert_array_equal(vertical, slid.T)


# --------------------------------------------------------------------------- edges


@pytest.mark.parametrize("operator, kx, ky", [("sobel", si.SOBEL_X, si.SOBEL_Y),
                                              ("prewitt", si.PREWITT_X, si.PREWITT_Y),
                                              ("scharr", si.SCHARR_X, si.SCHARR_Y)])
@pytest.mark.parametrize("border", ["reflect", "wrap", "constant"])
def test_gradient_operators_match_ndimage_correlate(operator, kx, ky, border):
    img = _image((16, 20), np.float64)
    gx = ndimage.correlate(img, kx, mode=border, cval=0.3)
    gy = ndimage.correlate(img, ky, mode=border, cval=0.3)
    opts = {"scale": "none", "border": border, "cval": 0.3}
    np.testing.assert_allclose(si.edges(img, operator, direction="x", **opts), gx, atol=1e-10)
    np.testing.assert_allclose(si.edges(img, operator, direction="y", **opts), gy, atol=1e-10)
    np.testing.assert_allclose(si.edges(img, operator, **opts), np.hypot(gx, gy), atol=1e-10)
    if operator == "sobel" and border != "constant":  # sign convention of ndimage.sobel
        # (ndimage.sobel pads again between its two 1-D passes, so differs for constant)
        np.testing.assert_allclose(gx, ndimage.sobel(img, axis=1, mode=border, cval=0.3))


def test_sobel_x_is_positive_where_brighter_to_the_right():
    ramp = np.tile(np.arange(8, dtype=np.float32), (5, 1))
    assert (si.edges(ramp, direction="x", scale="none", border="nearest")[:, 1:-1] > 0).all()
    assert (si.edges(ramp.T, direction="y", scale="none", border="nearest")[1:-1] > 0).all()


def test_laplacian_and_stretch_scaling():
    img = np.zeros((9, 9), np.uint8)
    img[4, 4] = 10
    out = si.edges(img, "laplacian")
    assert out.dtype == np.uint8
    assert out[4, 4] == 255 and out[3, 4] == round(255 / 4) and out[0, 0] == 0
    flat = si.edges(np.full((6, 6), 77, np.uint16))
    assert flat.dtype == np.uint16 and not flat.any()
    stretched = si.edges(_image((10, 10), np.float32))
    assert stretched.max() == pytest.approx(1.0) and stretched.min() >= 0
    with pytest.raises(InputError, match="direction"):
        si.edges(img, "laplacian", direction="x")


def test_edges_on_colour_luminance_or_channels():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[:, 6:, 0] = 200  # a vertical red step ...
    rgb[5:, :, 2] = 200  # ... and a horizontal blue one: luma weighs them 0.299 : 0.114
    lum = si.edges(rgb, border="nearest")
    assert lum.shape == rgb.shape and lum.dtype == np.uint8
    np.testing.assert_array_equal(lum[..., 0], lum[..., 1])  # grey edges
    gray = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]
    expected = np.rint(si.edges(gray, border="nearest") * 255)  # float: stretched to 1.0
    assert np.abs(lum[..., 0] - expected).max() <= 1
    # away from the corner, the two edges' strengths keep the luma weights' ratio
    assert int(lum[1, 6, 0]) / int(lum[5, 1, 0]) == pytest.approx(0.299 / 0.114, rel=0.03)
    per = si.edges(rgb, color="channels", border="nearest")
    assert per[..., 0].max() == 255 and per[..., 2].max() == 255 and not per[..., 1].any()


def test_edges_keep_alpha_and_ignore_hidden_colour():
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 1] = 255
    rgba[:, 4:, 1] = 0  # a green/black step ...
    rgba[..., 3] = 0  # ... fully transparent, so invisible
    rgba[2, 2, 3] = 7
    out = si.edges(rgba, border="nearest")
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    assert out[..., :3].max() == 255  # only the visible dot has edges ...
    assert not out[6:, :, :3].any()  # ... far from it there are none


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: si.gaussian(np.zeros((4, 4)), -1), InputError, "sigma"),
    (lambda: si.gaussian(np.zeros((4, 4)), "wide"), InputTypeError, "'wide'"),
    (lambda: si.gaussian(np.zeros((4, 4)), 1, border="edge"), InputError, "'edge'"),
    (lambda: si.gaussian(np.zeros((4, 4)), 1, method="fast"), InputError, "'fast'"),
    (lambda: si.box(np.zeros((4, 4)), 0), InputError, "size"),
    (lambda: si.box(np.zeros((4, 4)), 2.5), InputTypeError, "2.5"),
    (lambda: si.box(np.zeros((4, 4)), 3, workers=0), InputError, "workers"),
    (lambda: si.box(np.zeros((4, 4, 3, 2)), 3), InputError, "shape"),
    (lambda: si.box(np.zeros((0, 4)), 3), InputError, "empty"),
    (lambda: si.box(np.zeros((4, 4), complex), 3), InputTypeError, "complex"),
    (lambda: si.box(np.zeros((4, 4)), 3, cval="x"), InputTypeError, "cval"),
    (lambda: si.filter(np.zeros((4, 4)), np.zeros((2, 2, 2))), InputError, "3-D"),
    (lambda: si.filter(np.zeros((4, 4)), [[np.nan]]), InputError, "NaN"),
    (lambda: si.edges(np.zeros((4, 4)), "canny"), InputError, "'canny'"),
    (lambda: si.edges(np.zeros((4, 4)), scale="auto"), InputError, "'auto'"),
])
def test_bad_arguments_raise_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_addition_chains_are_valid_and_short():
    from sigconv.engine._blocks import addition_chain
    known_shortest = {1: 0, 2: 1, 3: 2, 5: 3, 7: 4, 15: 5, 31: 7}   # steps (OEIS A003313)
    for n in range(1, 32):
        chain = addition_chain(n)
        assert chain[0] == 1 and chain[-1] == n and list(chain) == sorted(set(chain))
        for k, term in enumerate(chain[1:], 1):
            assert any(term - a in chain[:k] for a in chain[:k])
        if n in known_shortest:
            assert len(chain) - 1 == known_shortest[n]


@pytest.mark.parametrize("axis", [0, 1])
def test_window_sums_of_every_width_match_a_naive_sum(axis):
    from sigconv.engine._blocks import _window_sums
    img = RNG.integers(0, 256, (40, 45, 3)).astype(np.uint8)
    for n in range(1, 41):
        got = _window_sums(img, n, axis, np.dtype(np.uint16))
        length = img.shape[axis] - n + 1
        want = sum(np.take(img.astype(np.int64), np.arange(k, k + length), axis=axis)
                   for k in range(n))
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got, want)


def test_scratch_lends_reuses_and_takes_back_only_its_own():
    from sigconv.engine._blocks import _Scratch
    scratch = _Scratch()
    a = scratch.take((3, 4), np.uint16)
    b = scratch.take((5,), np.float64)
    assert a.shape == (3, 4) and a.dtype == np.uint16 and b.dtype == np.float64
    assert not np.shares_memory(a, b)
    # big buffers (mmap'ed, page-aligned by malloc) start at different offsets within
    # a page, so a pass never reads and writes at addresses 4096 bytes apart
    pages = [scratch.take((1 << 20,), np.uint8) for _ in range(4)]
    assert len({p.ctypes.data % 4096 for p in pages}) == 4
    for p in pages:
        scratch.give(p)
    a[...] = 7
    scratch.give(a)
    scratch.give(np.zeros(3))              # not lent: ignored
    c = scratch.take((2, 2), np.int32)     # fits in a's buffer (the smallest): reused
    assert np.shares_memory(c, a) and not np.shares_memory(c, b)
    d = scratch.take((100,), np.uint8)     # nothing free fits: a new buffer
    assert not any(np.shares_memory(d, x) for x in (b, c))
    copied = scratch.copy(np.arange(6, dtype=np.uint8).reshape(2, 3), np.int64)
    assert copied.dtype == np.int64 and copied.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_idle_scratch_keeps_a_bounded_amount():
    from sigconv.engine._blocks import _Scratch
    scratch = _Scratch()
    small = [scratch.take((1000,), np.uint8) for _ in range(3)]
    big = scratch.take((_Scratch.KEEP_BYTES,), np.uint8)
    left_lent = scratch.take((10,), np.uint8)       # never given back
    for x in small + [big]:
        scratch.give(x)
    _Scratch.put_back([scratch])
    try:
        assert sorted(b.size for b in scratch._free) == [1000, 1000, 1000]
        assert not scratch._lent and left_lent.size == 10
    finally:
        _Scratch._idle.clear()


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("n", [1, 2, 5, 15, 31, 40])
def test_window_sums_in_scratch_equal_fresh_arrays(axis, n):
    """Partial sums given back and reused along the chain, the input owned or not,
    across dtypes, give the same sums as new arrays every time."""
    from sigconv.engine._blocks import _Scratch, _window_sums
    scratch = _Scratch()
    for dtype, acc in [(np.uint8, np.uint16), (np.float32, np.float32),
                       (np.uint16, np.int32), (np.uint8, np.uint16)]:
        img = _image((50, 47, 3), dtype)
        want = _window_sums(img, n, axis, np.dtype(acc))
        got = _window_sums(img, n, axis, np.dtype(acc), scratch)
        assert got.dtype == acc
        np.testing.assert_array_equal(got, want)
        scratch.give(got)
        owned = scratch.copy(img, acc)
        got = _window_sums(owned, n, axis, np.dtype(acc), scratch, owned=True)
        np.testing.assert_array_equal(got, want)
        scratch.give(got)
        assert not scratch._lent             # everything lent came back


def test_box_keeps_its_scratch_between_calls_of_any_kind(monkeypatch):
    """Buffers kept from one call are reused by the next, whatever its dtype or shape
    (the NumPy twin's buffers: the compiled box keeps none)."""
    from sigconv.engine._blocks import _Scratch
    monkeypatch.setattr(_blocks, "_NATIVE_DTYPES", frozenset())
    for shape, dtype in [((300, 200, 3), np.uint8), ((310, 190), np.float32),
                         ((290, 210, 3), np.uint16), ((300, 200, 3), np.uint8),
                         ((120, 80), np.float64)]:
        img = _image(shape, dtype)
        size = (15, 15, 1)[:len(shape)]
        reference = ndimage.uniform_filter(img.astype(float), size, mode="reflect")
        for workers in (1, 2):
            out = si.box(img, 15, workers=workers)
            if np.dtype(dtype).kind == "f":
                np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)
            else:
                assert _lsb_error(out, reference) <= 0.5 + 1e-6
    assert 1 <= len(_Scratch._idle) <= _checks.cpus()


@pytest.mark.parametrize("shape", [(1200, 700), (1100, 500, 3), (900, 400, 4)])
def test_box_over_many_strips_in_threads(shape):
    """Several strips, two threads, results written straight into the output."""
    img = RNG.integers(0, 256, shape).astype(np.uint8)
    ndim3 = len(shape) == 3
    out = si.box(img, 15, workers=2)
    if ndim3 and shape[2] == 4:     # alpha: colour premultiplied; compare alpha alone
        reference = ndimage.uniform_filter(img[..., 3].astype(float), 15, mode="reflect")
        assert _lsb_error(out[..., 3], reference) <= 0.5 + 1e-6
        return
    reference = ndimage.uniform_filter(img.astype(float), (15, 15, 1)[:len(shape)],
                                       mode="reflect")
    assert _lsb_error(out, reference) <= 0.5 + 1e-6
    f32 = img.astype(np.float32) / 255
    np.testing.assert_allclose(si.box(f32, 15, workers=2), ndimage.uniform_filter(
        f32.astype(float), (15, 15, 1)[:len(shape)], mode="reflect"), atol=2e-6)


@pytest.mark.parametrize("taps", [[0.5, 1, 0.5], [-2, 0, 2], [1, -2, 1], [3, 3, 3], [0, 1, 0],
                                  [-1, 1, 0], [0, -1, 1], [0.3, 1, 0.3], [0.2, -0.7, 1.9],
                                  [1, 1], [-1, 1], [2], [0, 0, 0]])
@pytest.mark.parametrize("axis", [0, 1])
def test_shift_passes_match_a_naive_correlation(taps, axis):
    from sigconv.engine._blocks import _shift_pass
    x = RNG.standard_normal((9, 11, 3)).astype(np.float32)
    taps = np.array(taps, dtype=float)
    y, scale = _shift_pass(x, taps, axis)
    length = x.shape[axis] - taps.size + 1
    want = sum(t * np.take(x.astype(float), np.arange(k, k + length), axis=axis)
               for k, t in enumerate(taps))
    np.testing.assert_allclose(scale * y.astype(float), want, atol=1e-5)


@pytest.mark.parametrize("operator", ["sobel", "prewitt", "scharr", "diff"])
@pytest.mark.parametrize("color", ["channels", "luminance"])
def test_edges_over_many_strips_match_ndimage(operator, color):
    """Strips read in place and written straight into the output, two threads."""
    img = RNG.random((1500, 400, 3)).astype(np.float32)
    got = si.edges(img, operator, color=color, scale="none", workers=2)
    work = img.astype(float)
    if color == "luminance":
        work = (work @ np.array([0.299, 0.587, 0.114]))[..., None]
    from sigconv.image._filters import OPERATORS
    kx, ky = OPERATORS[operator]
    gx = np.stack([ndimage.correlate(work[..., c], np.asarray(kx, float), mode="reflect")
                   for c in range(work.shape[2])], axis=2)
    gy = np.stack([ndimage.correlate(work[..., c], np.asarray(ky, float), mode="reflect")
                   for c in range(work.shape[2])], axis=2)
    want = np.broadcast_to(np.hypot(gx, gy), img.shape)
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_nan_in_a_float_image_stays_within_the_kernels_reach():
    """The image is checked once for NaN/inf; with one, the engine keeps it local (the
    band variant would spread it over a whole tile)."""
    img = RNG.random((60, 400)).astype(np.float32)
    img[30, 200] = np.nan
    out = si.gaussian(img, 2.0)           # radius 8
    bad = np.argwhere(np.isnan(out))
    assert bad.size
    assert bad[:, 0].min() >= 22 and bad[:, 0].max() <= 38
    assert bad[:, 1].min() >= 192 and bad[:, 1].max() <= 208


def test_finite_check_counts_the_constant_border():
    from sigconv.engine._blocks import _finite
    img = np.ones((4, 4), np.float32)
    assert _finite(img, "reflect", np.nan)
    assert not _finite(img, "constant", np.nan)
    assert not _finite(img, "constant", "grey")          # not a number: not trusted
    assert _finite(np.ones((4, 4), np.uint8), "constant", 3)
    img[1, 1] = np.inf
    assert not _finite(img, "reflect", 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_strips_run_with_one_blas_thread_whatever_the_workers(workers):
    from threadpoolctl import threadpool_info
    seen = []

    def op(block):
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return block[1:-1, 1:-1]

    img = _image((40, 30), np.float32)
    out = _blocks._run(img, [(1, 1), (1, 1)], op, border="reflect", cval=0.0, alpha=None,
                        workers=workers, planar=False)
    np.testing.assert_array_equal(out, img)
    assert seen and set(seen) == {1}


# ------------------------------------------------------- found by the session-4 audit


@pytest.mark.parametrize("call", [lambda x: si.box(x, 2, method="fft"),
                                  lambda x: si.box(x, 9, method="oa"),
                                  lambda x: si.gaussian(x, 6, method="fft")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_transparent_pixels_get_colour_zero_whatever_the_method(call, dtype):
    """Transforms leave rounding noise where the blurred alpha should be 0; dividing
    the premultiplied colour by it made colours of -5025..22068 (float32)."""
    top = 1.0 if np.dtype(dtype).kind == "f" else 255
    img = np.zeros((64, 90, 4), dtype)
    img[:, :20, :3] = (RNG.random((64, 20, 3)) * top).astype(dtype)
    img[:, :20, 3] = (RNG.uniform(0.2, 1.0, (64, 20)) * top).astype(dtype)
    out = call(img)
    far = out[:, 60:]                       # beyond every kernel's reach: alpha is 0
    assert np.abs(far[..., 3].astype(float)).max() <= 1e-4 * top
    assert (far[..., :3] == 0).all()
    assert out[..., :3].min() >= 0 and out[..., :3].max() <= top * (1 + 1e-4)


@pytest.mark.parametrize("size", [33, 40, 101])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_stays_in_the_reach_of_wide_float_boxes(size, bad):
    x = np.ones((120, 130), np.float32)
    x[10, 10] = bad
    out = si.box(x, size)
    reach = size // 2 + 11        # rows/columns 0 .. 10 + size // 2 (even sizes too)
    hit = ~np.isfinite(out)
    assert hit[:reach, :reach].all() and hit.sum() == reach ** 2


def test_wide_float_boxes_keep_small_values_after_large_ones():
    x = 1 + RNG.random((4, 400))
    x[:, :50] = 1e12
    out = si.box(x, (1, 33))
    exact = np.array([row[200 - 16:200 + 17].mean() for row in x])
    np.testing.assert_allclose(out[:, 200], exact, rtol=1e-13)


def test_stretched_edges_ignore_a_nan_pixel_for_the_scale():
    x = np.zeros((50, 50), np.float32)
    x[:, 25:] = 1
    x[5, 5] = np.nan
    out = si.edges(x)
    assert out[40, 25] == pytest.approx(1.0)
    assert (~np.isfinite(out)).sum() == 8   # the 3x3 neighbourhood of the NaN, less itself


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_64_bit_images_clip_instead_of_wrapping(dtype):
    info = np.iinfo(dtype)
    for value in (info.max, info.min):
        a = np.full((6, 6), value, dtype)
        for out in (si.filter(a, [[1]]), si.gaussian(a, 1), si.box(a, 3)):
            assert out.dtype == dtype
            # the float64 nearest to the limit on the inside: 2**63 - 1024 for int64
            assert abs(int(out[2, 2]) - int(value)) <= 2048


def test_float32_box_of_huge_values_does_not_overflow():
    for value, size in ((3e38, 3), (1e38, 5), (-3e38, 31)):
        out = si.box(np.full((40, 40), value, np.float32), size)
        np.testing.assert_allclose(out, value, rtol=1e-5)


def test_small_images_do_not_depend_on_workers():
    img = RNG.random((600, 300)).astype(np.float32)
    ref = si.gaussian(img, 3, workers=1)
    for workers in (2, 3, 5):
        np.testing.assert_array_equal(si.gaussian(img, 3, workers=workers), ref)
    rgb = RNG.integers(0, 256, (300, 200, 3)).astype(np.uint8)
    k = RNG.random((7, 7))
    np.testing.assert_array_equal(si.filter(rgb, k, workers=1), si.filter(rgb, k, workers=4))


def test_boolean_images_stay_boolean():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    for out in (si.gaussian(mask, 1), si.box(mask, 3), si.filter(mask, np.ones((3, 3)) / 9),
                si.edges(mask), si.blur(mask, size=3)):
        assert out.dtype == bool and out.shape == mask.shape
    assert si.box(mask, 3)[10, 10] and not si.box(mask, 3)[0, 0]
    assert (si.box(mask, 3) == (ndimage.uniform_filter(mask * 1.0, 3) >= 0.5)).all()
    # an outside value of True: the window sums must not overflow (0/255 inside)
    empty = np.zeros((10, 10), bool)
    assert si.box(empty, 200, border="constant", cval=True).all()
    assert not si.box(empty, 200, border="constant", cval=0.4).any()


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 1), (4, 6, 3)])
def test_kernels_far_wider_than_the_image_are_folded(border, shape):
    """Taps beyond the image's reach are summed into the offsets reading the same
    pixels, so the padding stays within the image's size. The oracles are ndimage's
    1-D filters (its N-D ``correlate`` disagrees with its own ``correlate1d`` in
    'reflect' mode once a kernel is more than twice the image)."""
    img = RNG.random(shape)
    axes2 = (0, 1)
    for sigma in (4.0, 60.0):
        want = img
        for a in axes2:
            want = ndimage.gaussian_filter1d(want, sigma, axis=a, mode=border, cval=0.3,
                                             truncate=4)
        np.testing.assert_allclose(si.gaussian(img, sigma, border=border, cval=0.3), want,
                                   atol=1e-12)
    for size in (9, 40, 301):
        want = img
        for a in axes2:
            want = ndimage.uniform_filter1d(want, size, axis=a, mode=border, cval=0.3)
        np.testing.assert_allclose(si.box(img, size, border=border, cval=0.3), want,
                                   atol=1e-12)
    for taps, axis in ((37, 1), (38, 0)):
        k = RNG.random(taps)
        kernel = k[None, :] if axis == 1 else k[:, None]
        for correlate, oracle in ((False, ndimage.convolve1d), (True, ndimage.correlate1d)):
            got = si.filter(img, kernel, correlate=correlate, border=border, cval=0.3)
            np.testing.assert_allclose(got, oracle(img, k, axis=axis, mode=border, cval=0.3),
                                       atol=1e-12)


def test_huge_kernels_on_small_images_cost_no_more_than_the_image():
    img = RNG.integers(0, 256, (10, 12, 3)).astype(np.uint8)
    # sigma 3000: a 24001-tap kernel, padded to 24010 x 24012 pixels before (4.3 GB)
    want = ndimage.gaussian_filter1d(ndimage.gaussian_filter1d(
        img.astype(float), 3000, axis=0), 3000, axis=1)
    assert _lsb_error(si.gaussian(img, 3000), want) <= 0.5 + 1e-6
    want = ndimage.uniform_filter1d(ndimage.uniform_filter1d(
        img.astype(float), 20001, axis=0), 20001, axis=1)
    assert _lsb_error(si.box(img, 20001), want) <= 0.5 + 1e-6
    with pytest.raises(InputError, match="too large"):
        si.gaussian(img, 1e308)


def test_non_finite_outside_value_for_integer_images_is_refused():
    img = _image((10, 10), np.uint8)
    with pytest.raises(InputError, match="cval must be finite"):
        si.box(img, 3, border="constant", cval=np.nan)
    out = si.box(img.astype(np.float32), 3, border="constant", cval=np.nan)
    assert np.isnan(out[0, 0]) and np.isfinite(out[5, 5])   # NaN padding: float images


def test_results_do_not_depend_on_the_cpus_either(monkeypatch):
    img = RNG.random((300, 400)).astype(np.float32)
    k = np.arange(35.0).reshape(5, 7) / 600
    results = []
    for cpus in ({0}, set(range(16))):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, c=cpus: c)
        results.append([si.gaussian(img, 3), si.filter(img, k, workers=1)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
