"""Dense 2-D image filters by FFT tiles (sigconv.engine._tiles): the compiled tile load and
store against their NumPy twins (bitwise), and the whole filter against scipy.ndimage in
float64 (the oracle), on every dtype, border mode, alpha, odd and tiny shapes, kernels
larger than the image and than a tile, and 1 vs 2 threads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from sigconv import image
from sigconv.backends import get_backend
from sigconv.engine import _blocks, _native, _tiles, filter_passes

BORDERS = ("reflect", "nearest", "wrap", "constant", "mirror")
DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
needs_core = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")


def _image(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    return (rng.standard_normal(shape) * 3).astype(dtype)


def _work(dtype):
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _top(dtype):
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


def _oracle(img, kernel, border, cval, alpha=False, convolve=False):
    """ndimage in float64, channel by channel; alpha premultiplied and divided after."""
    x = img.astype(np.float64)
    x3 = x if x.ndim == 3 else x[..., None]
    top = _top(img.dtype)
    if alpha:
        x3 = x3.copy()
        x3[..., :-1] *= x3[..., -1:] / top
    # numpy.pad extends by whole periods (ndimage's own borders do not when the kernel is
    # wider than the image), then a 'valid' correlation
    k = np.asarray(kernel, np.float64)
    if convolve:
        k = k[::-1, ::-1]
        pads = [((n - 1) // 2, n // 2) for n in k.shape]
    else:
        pads = [(n // 2, n - 1 - n // 2) for n in k.shape]
    mode = {"reflect": "symmetric", "nearest": "edge", "wrap": "wrap", "constant": "constant",
            "mirror": "reflect"}[border]
    extra = {"constant_values": cval} if border == "constant" else {}
    y = np.stack([signal.correlate(np.pad(x3[..., c], pads, mode=mode, **extra), k, "valid")
                  for c in range(x3.shape[2])], -1)
    if alpha:
        a = y[..., -1:]
        clear = 0.5 if img.dtype.kind == "u" else top * 256 * float(np.finfo(_work(img.dtype)).eps)
        y[..., :-1] *= np.divide(top, a, out=np.zeros_like(a), where=a > clear)
    return y if x.ndim == 3 else y[..., 0]


def _check(out, ref, dtype, lsb=1.0):
    dtype = np.dtype(dtype)
    assert out.dtype == dtype and out.shape == ref.shape
    if dtype.kind == "u":
        want = np.clip(np.rint(ref), 0, np.iinfo(dtype).max)
        assert np.abs(out.astype(np.float64) - want).max() <= lsb
    else:
        tol = (2e-5 if dtype == np.float32 else 1e-12) * max(1.0, np.abs(ref).max())
        np.testing.assert_allclose(out, ref, rtol=0, atol=tol)


# ----------------------------------------------------------------- compiled == twin


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("alpha", [False, True])
def test_tile_load_native_equals_twin(dtype, border, alpha):
    rng = np.random.default_rng(1)
    k = _native.kernels()
    for shape in [(1, 1, 2), (3, 5, 2), (17, 9, 3), (8, 13, 4), (6, 7, 1)]:
        if alpha and shape[2] < 2:
            continue
        src = _image(rng, shape, dtype)
        for r0, c0 in [(0, 0), (-7, -3), (-40, 25), (5, -60), (2, 3)]:
            a = np.full((shape[2], 12, 10), np.nan, _work(dtype))
            b = a.copy()
            k.tile_load(src, a, r0, c0, _native.BORDER_CODES[border], 7.25, alpha)
            _tiles._load_twin(src, b, r0, c0, border, 7.25, alpha, _top(dtype))
            np.testing.assert_array_equal(a, b)


@needs_core
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha, channels", [(False, 1), (False, 2), (False, 3), (False, 4),
                                             (False, 5), (True, 2), (True, 3), (True, 4),
                                             (True, 5)])
def test_tile_store_native_equals_twin(dtype, alpha, channels):
    rng = np.random.default_rng(2)
    k = _native.kernels()
    work = _work(dtype)
    top = _top(dtype)
    res = (rng.standard_normal((channels, 9, 11)) * 2 * top).astype(work)
    res[-1, 0, :3] = [0.0, 0.3, -1.0]             # alpha at and below the clear level
    res[0, 1, 1] = 2.5 if np.dtype(dtype).kind == "u" else res[0, 1, 1]   # a tie
    for i0, j0, r0, c0, nr, nc in [(0, 0, 0, 0, 9, 11), (3, 2, 4, 1, 5, 7), (8, 10, 0, 6, 1, 1)]:
        a = np.zeros((12, 20, channels), dtype)
        b = a.copy()
        k.tile_store(res, a, i0, j0, r0, c0, nr, nc, alpha, top, 0.5)
        _tiles._store_twin(res, b, i0, j0, r0, c0, nr, nc, alpha, top, 0.5)
        np.testing.assert_array_equal(a, b)


@needs_core
def test_tile_kernels_refuse_bad_arguments():
    k = _native.kernels()
    src = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match="float32"):
        k.tile_load(src, np.zeros((3, 4, 4), np.float64), 0, 0, 0, 0.0, False)
    with pytest.raises(ValueError, match="plane per"):
        k.tile_load(src, np.zeros((2, 4, 4), np.float32), 0, 0, 0, 0.0, False)
    with pytest.raises(ValueError, match="out of bounds"):
        k.tile_store(np.zeros((3, 4, 4), np.float32), src, 0, 0, 2, 0, 4, 4, False, 255.0, 0.5)


# ----------------------------------------------------------------- the filter


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
def test_dense_filter_matches_ndimage(native, dtype, border):
    if native and not _native.loaded():
        pytest.skip("compiled core not built")
    rng = np.random.default_rng(3)
    kernel = rng.random((31, 23))
    kernel /= kernel.sum()
    for shape in [(300, 700, 3), (40, 51), (5, 3, 2), (1, 1)]:
        img = _image(rng, shape, dtype)
        with _native.use_native(native):
            out = filter_passes(img, [kernel], border=border, cval=0.75)
        _check(out, _oracle(img, kernel, border, 0.75), dtype)


def test_dense_filter_takes_the_tile_path(monkeypatch):
    """A 31x31 filter runs dense_filter once (not the strips), and small kernels do not."""
    calls = []
    real = _tiles.dense_filter

    def spy(*args, **kwargs):
        calls.append(args[1].shape)
        return real(*args, **kwargs)
    monkeypatch.setattr(_tiles, "dense_filter", spy)
    img = np.zeros((64, 80, 3), np.uint8)
    filter_passes(img, [np.ones((31, 31)) / 961])
    filter_passes(img, [np.ones((3, 3)) / 9])
    filter_passes(img, [np.ones((31, 1)) / 31, np.ones((1, 31)) / 31])   # separable
    assert calls == [(31, 31)]


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_dense_filter_alpha_matches_premultiplied_oracle(native, dtype):
    if native and not _native.loaded():
        pytest.skip("compiled core not built")
    rng = np.random.default_rng(4)
    img = _image(rng, (90, 120, 4), dtype)
    if np.dtype(dtype).kind == "f":
        img[..., 3] = rng.random((90, 120))
    img[20:40, 30:70, 3] = 0                         # a transparent hole
    kernel = rng.random((9, 9))
    kernel /= kernel.sum()
    with _native.use_native(native):
        out = filter_passes(img, [kernel], border="reflect", alpha=True)
    ref = _oracle(img, kernel, "reflect", 0.0, alpha=True)
    if np.dtype(dtype).kind == "u":
        _check(out, ref, dtype)
    else:   # colour / alpha amplifies float32 noise where alpha is small
        ok = ref[..., 3:] > 0.05
        np.testing.assert_allclose(np.where(ok, out, 0), np.where(ok, ref, 0), atol=2e-4)


@pytest.mark.parametrize("native", [True, False])
def test_dense_filter_same_for_any_thread_count(native):
    if native and not _native.loaded():
        pytest.skip("compiled core not built")
    rng = np.random.default_rng(5)
    img = _image(rng, (700, 1100, 3), np.float32)
    kernel = rng.standard_normal((15, 21))
    with _native.use_native(native):
        one = filter_passes(img, [kernel], border="wrap", workers=1)
        two = filter_passes(img, [kernel], border="wrap", workers=2)
        three = filter_passes(img, [kernel], border="wrap", workers=3)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, three)


def test_dense_filter_convolve_and_composed_passes(monkeypatch):
    """flip=True and several dense passes (composed into one kernel, even sizes) as the
    strip path (the NumPy twin, itself checked against ndimage) places them; a kernel
    taller than the image (folded) and one taller than a tile, against ndimage."""
    rng = np.random.default_rng(6)
    img = _image(rng, (120, 90), np.float64)
    a, b = rng.random((6, 8)), rng.random((5, 4))
    for border in BORDERS:
        for flip in (False, True):
            tiled = filter_passes(img, [a, b], flip=flip, border=border, cval=-1.0)
            monkeypatch.setattr(_blocks, "_TILE_DENSE", False)
            strips = filter_passes(img, [a, b], flip=flip, border=border, cval=-1.0)
            monkeypatch.setattr(_blocks, "_TILE_DENSE", True)
            np.testing.assert_allclose(tiled, strips, rtol=0, atol=1e-11)
    c = rng.random((6, 8))
    _check(filter_passes(img, [c], flip=True, border="wrap"),
           _oracle(img, c, "wrap", 0.0, convolve=True), np.float64)
    wide = rng.random((151, 7))                     # taller than the image: folded
    _check(filter_passes(img, [wide], border="mirror"),
           _oracle(img, wide, "mirror", 0.0), np.float64)
    big = rng.random((300, 5))                      # beyond a 256-row tile
    img2 = _image(rng, (700, 64), np.float32)
    _check(filter_passes(img2, [big], border="nearest"),
           _oracle(img2, big, "nearest", 0.0), np.float32)


def test_nonfinite_images_keep_the_strip_path():
    """A NaN spreads over its whole tile in a transform: such images are not tiled, and
    the NaN stays within the kernel's reach as in ndimage."""
    img = np.zeros((200, 300), np.float32)
    img[100, 150] = np.nan
    kernel = np.ones((7, 7)) / 49
    out = filter_passes(img, [kernel], border="reflect")
    ref = ndi.correlate(img.astype(np.float64), kernel, mode="reflect")
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))


def test_image_filter_dense_kernel_rgb_uint8_matches_ndimage():
    rng = np.random.default_rng(7)
    img = _image(rng, (130, 170, 3), np.uint8)
    kernel = rng.random((31, 31))
    kernel /= kernel.sum()
    for border in BORDERS:
        out = image.filter(img, kernel, border=border)
        _check(out, _oracle(img, kernel, border, 0.0, convolve=True), np.uint8)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), kh=st.integers(2, 12),
       kw=st.integers(2, 12), channels=st.integers(1, 4),
       border=st.sampled_from(BORDERS), seed=st.integers(0, 2**16))
def test_dense_filter_any_shape(h, w, kh, kw, channels, border, seed):
    rng = np.random.default_rng(seed)
    img = _image(rng, (h, w, channels), np.float64)
    kernel = rng.standard_normal((kh, kw))
    if kernel.size < _blocks._TILE_MIN_TAPS:
        kernel = np.pad(kernel, ((0, 0), (0, 13)))[:, :kw + 13]
    out = filter_passes(img, [kernel], border=border, cval=2.0)
    _check(out, _oracle(img, kernel, border, 2.0), np.float64)


def test_tile_shape_grows_with_the_kernel():
    b = get_backend(None)
    assert _tiles.tile_shape((31, 31), (2160, 3840), b) == (256, 512)
    th, tw = _tiles.tile_shape((101, 201), (5000, 5000), b)
    assert th >= 800 and tw >= 1600
    assert _tiles.tile_shape((5, 5), (10, 20), b) == (
        b.next_fast_len(14, True), b.next_fast_len(24, True))
