"""sigconv.image filters on dask images against the same filters in memory.

Integer and boolean images must come out identical (same dtype, every pixel); float
images equal to rounding: each block is filtered on its own region, which the engine
may plan differently (another method or block length) from the in-memory strips, so
float results are compared with rtol 1e-5 (float32) / 1e-12 (float64) plus the same
relative to the image's largest value.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import sigconv  # noqa: E402
from sigconv import image  # noqa: E402

BORDERS = sorted(image.BORDERS)
CHUNKINGS = [(6, 8), (9, (5, 20, 6))]       # smaller than the kernels' reach; uneven


def _image(dtype, channels, seed=0):
    rng = np.random.default_rng(seed)
    shape = (23, 31) + ((channels,) if channels else ())
    if dtype == np.bool_:
        return rng.random(shape) < 0.4
    if np.dtype(dtype).kind in "ui":
        return rng.integers(0, np.iinfo(dtype).max // 2, shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def _same(got, want):
    assert isinstance(got, da.Array)
    out = got.compute()
    assert out.dtype == want.dtype and out.shape == want.shape
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(out, want)
    else:
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, want, rtol=rtol,
                                   atol=rtol * float(np.abs(want).max(initial=0)))


FILTERS = {
    "gaussian": lambda im, b: image.gaussian(im, (1.5, 3.0), border=b, cval=7),
    "gaussian-wide": lambda im, b: image.gaussian(im, 12.0, border=b),   # wider than the image
    "box": lambda im, b: image.box(im, (4, 5), border=b, cval=3),
    "blur-size": lambda im, b: image.blur(im, size=3, border=b),   # box by its front door
    "filter": lambda im, b: image.filter(im, np.arange(12.0).reshape(3, 4) - 5, border=b),
    "filter-correlate": lambda im, b: image.filter(im, image.SHARPEN, correlate=True, border=b),
    "edges": lambda im, b: image.edges(im, border=b),
    "edges-x-none": lambda im, b: image.edges(im, "scharr", direction="x", scale="none",
                                             border=b),
    "laplacian-channels": lambda im, b: image.edges(im, "laplacian", color="channels",
                                                   border=b),
}


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("name", sorted(FILTERS))
def test_rgb_uint8_every_border(name, border):
    img = _image(np.uint8, 3)
    chunks = CHUNKINGS[(sorted(FILTERS).index(name) + BORDERS.index(border)) % 2]
    _same(FILTERS[name](da.from_array(img, chunks=chunks + (1,)), border),
          FILTERS[name](img, border))


@pytest.mark.parametrize("dtype,channels", [(np.float32, 0), (np.float64, 4),
                                            (np.uint16, 2), (np.uint8, 4), (np.bool_, 0)])
@pytest.mark.parametrize("name", ["gaussian", "box", "filter", "edges", "edges-x-none"])
def test_dtypes_channels_alpha(dtype, channels, name):
    img = _image(dtype, channels, seed=3)
    border = "wrap" if channels % 2 == 0 else "mirror"
    _same(FILTERS[name](da.from_array(img, chunks=(8, 11) + ((channels,) if channels else ())),
                        border),
          FILTERS[name](img, border))


def test_output_keeps_chunks_and_is_lazy():
    calls = []

    def make(block):
        if block.size:               # not dask's own meta probe
            calls.append(1)
        return block

    pixels = _image(np.uint8, 3)
    img = da.from_array(pixels, chunks=(9, 10, 3)).map_blocks(make, dtype=np.uint8)
    out = image.gaussian(img, 2.0)
    assert out.chunks == img.chunks and out.dtype == np.uint8
    assert calls == []                  # nothing read until computed
    np.testing.assert_array_equal(out.compute(), image.gaussian(pixels, 2.0))
    assert calls


def test_options_checked_before_computing():
    img = da.from_array(_image(np.uint8, 0), chunks=8)
    with pytest.raises(sigconv.InputError, match="'sideways'"):
        image.gaussian(img, 1.0, border="sideways")
    with pytest.raises(sigconv.InputError, match="'nope'"):
        image.edges(img, "nope")
    with pytest.raises(sigconv.InputError, match="sum is 0"):
        image.filter(img, [[1, -1]], normalize=True)
    with pytest.raises(sigconv.InputError, match="compute_chunk_sizes"):
        image.gaussian(img[img[:, 0] > 0], 1.0)
    with pytest.raises(sigconv.InputError, match=r"\(H, W\) or \(H, W, C\)"):
        image.box(da.ones((2, 3, 4, 5), chunks=2), 3)


def test_edges_stretch_uses_the_global_peak():
    # the strongest edge is in one block only: every block is scaled by it
    img = np.zeros((20, 20), np.uint8)
    img[:, 10:] = 40
    img[15:, 15:] = 250
    got = image.edges(da.from_array(img, chunks=5)).compute()
    np.testing.assert_array_equal(got, image.edges(img))
    assert got.max() == 255 and got[2, 9] < 255
