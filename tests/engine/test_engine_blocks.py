"""The engine's image blocks: native kernels against their NumPy twins and an oracle.

Every public block function (separable_filter, filter_passes, box_filter, edge_response)
runs with the compiled core (when it has the kernel) and with ``use_native(False)``, on
every image dtype, border mode, alpha on/off, tiny and odd shapes (1x1, 1xN, kernels
wider than the image), non-contiguous inputs, NaN/inf and 1 vs 2 workers. The oracle is
scipy.ndimage in float64 (correlate1d, uniform_filter, correlate).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sigconv import InputError, InputTypeError
from sigconv import engine as E
from sigconv import image as si
from sigconv.engine import _native

RNG = np.random.default_rng(7)
BORDERS = ["reflect", "nearest", "wrap", "constant", "mirror"]
DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
SOBEL = [[np.array([[1.0], [2.0], [1.0]]), np.array([[-1.0, 0.0, 1.0]])],
         [np.array([[-1.0], [0.0], [1.0]]), np.array([[1.0, 2.0, 1.0]])]]
LUMA = [0.299, 0.587, 0.114]


def _has(name: str) -> bool:
    return getattr(_native.kernels(), name, None) is not None


def _image(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return RNG.random(shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)


def _both(fn):
    """(compiled, twin) results of ``fn()``."""
    native = fn()
    with _native.use_native(False):
        twin = fn()
    return native, twin


def _agree(a: np.ndarray, b: np.ndarray, *, lsb: int = 0) -> None:
    """Same shape and dtype; integers within ``lsb``, floats to their precision."""
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype.kind in "ui":
        assert np.abs(a.astype(np.int64) - b.astype(np.int64)).max(initial=0) <= lsb
    else:
        tol = 2e-5 if a.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.nanmax(
            np.abs(b), initial=0.0)), equal_nan=True)


def _oracle_round(x: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max)


def _within_half_lsb(got: np.ndarray, want: np.ndarray) -> None:
    """Integers: rounded from the exact value (0.5 + float32 noise); floats close."""
    want = _oracle_round(want, got.dtype)
    if got.dtype.kind in "ui":
        assert np.abs(got - want).max(initial=0) <= 0.5 + 2e-3 * max(1, np.abs(want).max())\
            / 255
    else:
        tol = 1e-5 if got.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


# ------------------------------------------------------------------ separable


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
def test_separable_native_equals_twin_and_ndimage(dtype, border):
    taps_y = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    taps_x = np.array([0.05, 0.25, 0.4, 0.3])             # even: origin len // 2
    for shape in [(1, 1), (1, 9), (9, 1), (3, 2, 3), (14, 11, 3), (10, 12)]:
        img = _image(shape, dtype)
        native, twin = _both(lambda img=img: E.separable_filter(
            img, taps_y, taps_x, border=border, cval=3.0))
        _agree(native, twin, lsb=1)
        ref = img.astype(np.float64)
        if border == "constant":
            mode_kwargs = {"mode": "constant", "cval": 3.0}
        else:
            mode_kwargs = {"mode": border}
        ref = ndimage.correlate1d(ref, taps_y, axis=0, **mode_kwargs)
        ref = ndimage.correlate1d(ref, taps_x, axis=1, **mode_kwargs)
        _within_half_lsb(native, ref)
        _within_half_lsb(twin, ref)


@pytest.mark.parametrize("border", BORDERS)
def test_kernels_wider_than_the_image(border):
    taps = si.gaussian_kernel1d(6.0)                      # 49 taps on 1..5 pixels
    for shape, dtype in [((1, 1), np.uint8), ((1, 5), np.float32), ((4, 3, 3), np.uint16),
                         ((2, 5), np.float64)]:
        img = _image(shape, dtype)
        native, twin = _both(lambda img=img: E.separable_filter(img, taps, taps,
                                                                border=border, cval=1.0))
        _agree(native, twin, lsb=1)
        kw = {"mode": border, "cval": 1.0}
        ref = ndimage.correlate1d(ndimage.correlate1d(img.astype(float), taps, 0, **kw),
                                  taps, 1, **kw)
        _within_half_lsb(twin, ref)
        _within_half_lsb(native, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_separable_with_alpha(dtype):
    img = _image((12, 9, 4), dtype)
    img[2:5, 3:7, 3] = 0                                   # transparent patch
    for border in BORDERS:
        native, twin = _both(lambda border=border: E.separable_filter(
            img, [0.25, 0.5, 0.25], [0.2, 0.6, 0.2], border=border, alpha=True))
        _agree(native, twin, lsb=1)


def test_filter_passes_flip_matches_ndimage_convolve():
    img = _image((11, 13, 3), np.float64)
    col, row = np.array([[1.0], [3.0]]), np.array([[2.0, -1.0, 0.5, 4.0]])
    native, twin = _both(lambda: E.filter_passes(img, [col, row], flip=True, border="mirror"))
    _agree(native, twin)
    ref = ndimage.convolve(img, (col @ row)[..., None], mode="mirror")
    np.testing.assert_allclose(native, ref, atol=1e-12)
    dense = RNG.random((4, 5))                             # a dense kernel: the engine
    got = E.filter_passes(img[..., 0], [dense], border="wrap")
    np.testing.assert_allclose(got, ndimage.correlate(img[..., 0], dense, mode="wrap"),
                               atol=1e-12)


# ------------------------------------------------------------------ box


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
def test_box_native_equals_twin_and_ndimage(dtype, border):
    for shape, size in [((1, 1), 3), ((1, 8), (1, 5)), ((7, 1), (4, 1)), ((13, 10), 5),
                        ((9, 12, 3), (2, 7)), ((6, 5, 2), 15)]:
        img = _image(shape, dtype)
        native, twin = _both(lambda img=img, size=size: E.box_filter(img, size, border=border,
                                                                      cval=2.0))
        sy, sx = (size, size) if np.isscalar(size) else size
        wide = sy > 2 * shape[0] + 1 or sx > 2 * shape[1] + 1
        # exact integer sums both ways, except windows wider than the image (the twin
        # folds float passes there) -> 1 LSB
        _agree(native, twin, lsb=1 if wide else 0)
        ref = ndimage.uniform_filter(img.astype(float), (sy, sx, 1)[:img.ndim], mode=border,
                                     cval=2.0)
        _within_half_lsb(native, ref)


def test_box_with_alpha_and_fractional_cval():
    img = _image((10, 11, 4), np.uint8)
    img[..., 3] = np.where(RNG.random((10, 11)) < 0.3, 0, img[..., 3])
    native, twin = _both(lambda: E.box_filter(img, 3, alpha=True, border="wrap"))
    _agree(native, twin, lsb=1)
    native, twin = _both(lambda: E.box_filter(img[..., 0], 3, border="constant", cval=0.5))
    _agree(native, twin, lsb=1)


# ------------------------------------------------------------------ edges


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("border", BORDERS)
def test_edges_native_equals_twin_and_ndimage(dtype, border):
    img = _image((9, 14, 3), dtype)
    for ops, mix, cast in [(SOBEL, None, True), (SOBEL, LUMA, False), (SOBEL[:1], None, False),
                           ([[si.LAPLACIAN]], LUMA, True)]:
        native, twin = _both(lambda ops=ops, mix=mix, cast=cast: E.edge_response(
            img, ops, mix=mix, border=border, cval=0.25, cast=cast))
        _agree(native, twin, lsb=1)
        work = img.astype(float)
        if mix is not None:
            work = (work @ np.array(mix))[..., None]
        responses = []
        for op in ops:
            k = np.ones((1, 1))
            for p in op:
                k = np.asarray(p, float) if k.shape == (1, 1) else k @ np.asarray(p, float)
            responses.append(np.stack([ndimage.correlate(work[..., c], k, mode=border,
                                                         cval=0.25)
                                       for c in range(work.shape[2])], axis=2))
        ref = np.sqrt(sum(r * r for r in responses)) if len(ops) == 2 else responses[0]
        if cast:
            _within_half_lsb(native, ref)
        else:
            tol = 1e-4 if native.dtype == np.float32 else 1e-9
            np.testing.assert_allclose(native, ref, rtol=tol, atol=tol * max(1, img.max()))


def test_edges_tiny_shapes_and_alpha():
    for shape in [(1, 1), (1, 6), (5, 1), (2, 2, 4)]:
        img = _image(shape, np.uint8)
        alpha = len(shape) == 3
        for ops in (SOBEL, SOBEL[1:]):
            native, twin = _both(lambda img=img, ops=ops, alpha=alpha: E.edge_response(
                img, ops, border="reflect", alpha=alpha, cast=False))
            _agree(native, twin)


# ------------------------------------------------------------------ common


@pytest.mark.parametrize("call", [
    lambda x, w: E.separable_filter(x, [1, 2, 1], [0.5, 0.5], border="nearest", workers=w),
    lambda x, w: E.box_filter(x, (3, 4), border="reflect", workers=w),
    lambda x, w: E.edge_response(x, SOBEL, workers=w, cast=False),
    lambda x, w: E.filter_passes(x, [np.ones((2, 1)), np.ones((1, 2))], flip=True, workers=w),
])
def test_non_contiguous_nan_inf_and_threads(call):
    base = _image((60, 50, 3), np.float32)
    strided = base[::2, ::-1]                              # not contiguous
    assert not strided.flags.c_contiguous
    for use in (True, False):
        with _native.use_native(use):
            one, two = call(strided, 1), call(strided, 2)
            np.testing.assert_array_equal(one, two)        # workers do not change a bit
            np.testing.assert_array_equal(call(np.ascontiguousarray(strided), 1), one)
    native, twin = _both(lambda: call(strided, 2))
    _agree(native, twin)
    bad = np.ascontiguousarray(strided)
    bad[10, 10, 0], bad[20, 5, 1] = np.nan, np.inf
    native, twin = _both(lambda: call(bad, 2))
    np.testing.assert_array_equal(np.isnan(native), np.isnan(twin))
    assert not np.isfinite(native[9:12, 9:12, 0]).all()   # reached its neighbours
    far = np.ones(native.shape[:2], bool)
    far[5:16, 5:16] = far[15:26, 0:11] = False            # a NaN/inf stays within reach
    assert np.isfinite(native[far]).all() and np.isfinite(twin[far]).all()
    ints = _image((31, 17, 3), np.uint16)[:, ::3]
    native, twin = _both(lambda: call(ints, 2))
    _agree(native, twin, lsb=1)


@pytest.mark.parametrize("fn", [si.gaussian, si.box, si.edges])
def test_front_end_bool_images_native_and_twin(fn):
    img = RNG.random((15, 12)) < 0.4
    arg = {si.gaussian: (1.5,), si.box: (3,), si.edges: ("sobel",)}[fn]
    native, twin = _both(lambda: fn(img, *arg))
    assert native.dtype == np.bool_
    np.testing.assert_array_equal(native, twin)


def test_pad_and_errors():
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for border in BORDERS:
        np.testing.assert_array_equal(E.pad(img, ((2, 1), (3, 0)), border, 7), np.pad(
            img, ((2, 1), (3, 0)), mode=E.BORDERS[border], **(
                {"constant_values": 7} if border == "constant" else {})))
    assert E.pad(img, ((1, 0), (0, 0)), "constant", -1.5).dtype == np.float64
    with pytest.raises(InputError, match="border must be one of"):
        E.box_filter(img, 3, border="edge")
    with pytest.raises(InputTypeError, match="cval must be a number"):
        E.separable_filter(img, [1], [1], cval="grey")
    with pytest.raises(InputError, match="cval must be finite"):
        E.box_filter(img, 3, border="constant", cval=np.inf)
    with pytest.raises(InputError, match="workers must be a positive integer"):
        E.edge_response(img, SOBEL, workers=0)
    with pytest.raises(InputError, match="alpha=True needs"):
        E.box_filter(img, 3, alpha=True)
    with pytest.raises(InputError, match="same square"):
        E.edge_response(img, [SOBEL[0], [np.ones((5, 5))]])
    with pytest.raises(InputError, match="mix must hold"):
        E.edge_response(np.zeros((4, 4, 3)), SOBEL, mix=[1.0, 2.0])
    with pytest.raises(InputError, match="taps_y"):
        E.separable_filter(img, [], [1.0])
    with pytest.raises(InputError, match="size must be >= 1"):
        E.box_filter(img, (0, 3))


@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_finite_peak_and_scale_to_dtype_native_equal_twin(src):
    x = (RNG.standard_normal((37, 29, 2)) * 300).astype(src)
    x[3, 4, 1], x[20, 2, 0], x[5, 5, 0] = np.nan, np.inf, -np.inf
    native, twin = _both(lambda: E.finite_peak(x, workers=2))
    finite = np.abs(x[np.isfinite(x)]).max()
    assert native == twin == float(finite)
    assert E.finite_peak(np.full((3, 3), np.nan, src)) == 0.0
    for dtype in DTYPES:
        for absolute in (True, False):
            native, twin = _both(lambda dtype=dtype, absolute=absolute: E.scale_to_dtype(
                x[:, ::2], 0.37, dtype, absolute=absolute, workers=2))
            _agree(native, twin)
            want = (np.abs(x[:, ::2]) if absolute else x[:, ::2]) * src(0.37)
            if np.dtype(dtype).kind == "u":
                info = np.iinfo(dtype)
                want = np.clip(np.rint(np.nan_to_num(want, nan=0.0)), info.min, info.max)
                np.testing.assert_array_equal(native[np.isfinite(x[:, ::2])],
                                              want[np.isfinite(x[:, ::2])])
    with pytest.raises(InputTypeError, match="float array"):
        E.finite_peak(np.ones(3, np.uint8))


def test_unpickled_images_take_the_compiled_path():
    """A dask worker's blocks arrive pickled, with an equal but distinct dtype object."""
    import pickle
    for dtype in DTYPES:
        img = pickle.loads(pickle.dumps(_image((6, 7, 3), dtype)))
        assert img.dtype == dtype
        for call in (lambda x: E.separable_filter(x, [1, 2, 1], [1, 1]),
                     lambda x: E.box_filter(x, 3),
                     lambda x: E.edge_response(x, SOBEL, mix=LUMA, cast=False)):
            native, twin = _both(lambda call=call, img=img: call(img))
            _agree(native, twin, lsb=1)
        if np.dtype(dtype).kind == "f":
            assert E.finite_peak(img) == np.abs(img).max()
            assert E.scale_to_dtype(img, 2.0, np.uint8).dtype == np.uint8
