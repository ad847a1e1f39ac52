"""sigconv.plot.image_filter: panels, kernel cells, dtype-faithful display, the file."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from sigconv import InputError, InputTypeError, image, plot
from sigconv.plot import _image

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def panel(fig, title):
    (found,) = [ax for ax in fig.axes if ax.get_title().startswith(title)]
    return found


def cells(ax):
    return [t.get_text() for t in ax.texts]


def test_sobel_pair_panels_and_cell_values():
    img = np.zeros((20, 30), np.uint8)
    img[:, 15:] = 255
    fig = _image._figure(img, {"Sobel x": image.SOBEL_X, "Sobel y": image.SOBEL_Y},
                         image.edges(img), title="edges")
    assert fig._suptitle.get_text() == "edges"
    assert len(fig.axes) == 6          # before, after, two kernels and their colour bars
    kx = panel(fig, "Sobel x")
    assert cells(kx) == ["-1", "0", "1", "-2", "0", "2", "-1", "0", "1"]   # row by row
    assert cells(panel(fig, "Sobel y")) == ["-1", "-2", "-1", "0", "0", "0", "1", "2", "1"]
    assert "3x3, sum 0" in kx.get_title()
    # a diverging map centred on zero for a signed kernel
    im = kx.images[0]
    assert im.get_cmap().name == "RdBu_r" and im.get_clim() == (-2.0, 2.0)
    assert kx.get_xlabel() == "column offset" and kx.get_ylabel() == "row offset"
    assert list(kx.get_xticks()) == [-1, 0, 1]
    before, after = panel(fig, "before"), panel(fig, "after")
    assert "30x20 gray uint8, 0..255 as black..white" in before.get_title()
    np.testing.assert_allclose(before.images[0].get_array(), img / 255)
    assert "gray uint8" in after.get_title() and len(after.images) == 1


def test_box_written_as_numerators_and_big_kernels_without_numbers():
    img = np.zeros((10, 10), np.float32)
    fig = _image._figure(img, image.box_kernel(5), img)
    k = panel(fig, "kernel")
    assert cells(k) == ["1"] * 25 and "cells x 1/25" in k.get_title()
    assert k.images[0].get_cmap().name == "viridis"
    fig = _image._figure(img, image.gaussian_kernel2d(2.0), img)
    k = panel(fig, "kernel")
    assert cells(k) == [] and "17x17, sum 1" in k.get_title()


def test_cell_texts():
    texts, d = _image._cell_texts(np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16)
    assert d == 16 and texts.tolist() == [["1", "2", "1"], ["2", "4", "2"], ["1", "2", "1"]]
    texts, d = _image._cell_texts(np.array([[0.3333, -1.25]]))
    assert d == 1 and texts.tolist() == [["0.333", "-1.25"]]
    texts, d = _image._cell_texts(np.array([[300.0, -2.0]]))
    assert d == 1 and texts.tolist() == [["300", "-2"]]


def test_sequence_of_arrays_is_several_kernels_nested_lists_one():
    img = np.zeros((8, 8))
    fig = _image._figure(img, [image.DIFF_X, image.DIFF_Y], img)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes
            if ax.get_title().startswith("kernel")] == ["kernel 1", "kernel 2"]
    fig = _image._figure(img, [[1, 2], [3, 4]], img, kernel_titles="mine")
    assert "2x2, sum 10" in panel(fig, "mine").get_title()
    fig = _image._figure(img, [1, -1], img)          # 1-D: a row
    assert "1x2" in panel(fig, "kernel").get_title()


@pytest.mark.parametrize("dtype, values, words, shown", [
    (np.uint16, [0, 65535, 32768], "0..65535", [0, 1, 32768 / 65535]),
    (np.float32, [0.0, 1.0, 0.25], "0..1 as black..white", [0, 1, 0.25]),
    (np.float64, [-0.5, 1.5, 0.5], "scaled: -0.5 black .. 1.5 white", [0, 1, 0.5]),
    (np.int32, [-10, 30, 10], "scaled: -10 black .. 30 white", [0, 1, 0.5]),
    (np.bool_, [False, True, True], "False black, True white", [0, 1, 1]),
])
def test_gray_displayed_faithfully(dtype, values, words, shown):
    img = np.array([values], dtype=dtype)
    fig = _image._figure(img, [[1.0]], img)
    before = panel(fig, "before")
    assert words in before.get_title()
    np.testing.assert_allclose(before.images[0].get_array(), [shown], atol=1e-12)


def test_float_before_and_after_share_one_scale():
    before = np.array([[0.0, 2.0]])
    after = np.array([[0.5, 1.0]])
    fig = _image._figure(before, [[1.0]], after)
    np.testing.assert_allclose(panel(fig, "after").images[0].get_array(), [[0.25, 0.5]])


def test_rgb_and_rgba_over_a_checkerboard():
    rgba = np.zeros((24, 24, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = np.linspace(0, 255, 24).astype(np.uint8)[None, :]
    fig = _image._figure(rgba, image.BOX3, rgba)
    before = panel(fig, "before")
    assert "24x24 RGBA uint8" in before.get_title()
    assert len(before.images) == 2                 # checkerboard, then the image
    shown = before.images[1].get_array()
    assert shown.shape == (24, 24, 4)
    np.testing.assert_allclose(shown[0, :, 3], rgba[0, :, 3] / 255)
    np.testing.assert_allclose(shown[..., 0], 1.0)
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 2] = 128
    fig = _image._figure(rgb, image.BOX3, rgb)
    np.testing.assert_allclose(panel(fig, "before").images[0].get_array()[..., 2], 128 / 255)


def test_writes_a_png(tmp_path):
    img = image.read(os.path.join(DATA, "scene_rgb.png"))
    out = plot.image_filter(img, image.SHARPEN, image.filter(img, image.SHARPEN),
                            tmp_path / "f.png", title="sharpen")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 1000
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 30 and (pixels[-1, 0] == 255).all()
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]


@pytest.mark.parametrize("before, kernel, exc, words", [
    (np.zeros((3, 3, 5)), [[1.0]], InputError, "C in 1..4"),
    (np.zeros(0), [[1.0]], InputError, "shape"),
    (np.array([["a"]]), [[1.0]], InputTypeError, "dtype"),
    (np.zeros((3, 3)), [[np.nan]], InputError, "NaN"),
    (np.zeros((3, 3)), np.zeros((2, 2, 2)), InputError, "1-D or 2-D"),
    (np.zeros((3, 3)), np.array([]), InputError, "non-empty"),
])
def test_bad_input_writes_nothing(tmp_path, before, kernel, exc, words):
    with pytest.raises(exc, match=words):
        plot.image_filter(before, kernel, np.zeros((3, 3)), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_kernel_titles_must_match(tmp_path):
    with pytest.raises(InputError, match="2 kernel titles for 1 kernels"):
        plot.image_filter(np.zeros((3, 3)), [[1.0]], np.zeros((3, 3)), tmp_path / "x.png",
                          kernel_titles=["a", "b"])


def test_big_images_are_averaged_down_in_blocks():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (9, 13, 4)).astype(np.uint8)
    img[0:3, 0:3, 3] = 0                                   # a transparent block
    shown, alpha = _image._display(img, 0.0, 255.0, most=4)   # k = ceil(13 / 4) = 4
    assert alpha and shown.shape == (2, 3, 4)
    for r in range(2):
        for c in range(3):
            block = img[4 * r:4 * r + 4, 4 * c:4 * c + 4].astype(float)
            o = block[..., 3] / 255
            assert shown[r, c, 3] == pytest.approx(o.mean(), abs=1e-6)
            want = (block[..., :3] / 255 * o[..., None]).sum(axis=(0, 1)) / o.sum()
            np.testing.assert_allclose(shown[r, c, :3], want, atol=1e-6)
    gray = np.arange(36, dtype=np.float32).reshape(6, 6)
    gray[0, 0] = np.nan
    shown, _ = _image._display(gray, 0.0, 35.0, most=3)
    assert shown.shape == (3, 3)
    assert shown[0, 0] == pytest.approx(np.mean([1, 6, 7]) / 35)   # NaN left out
    assert shown[2, 2] == pytest.approx(np.mean([28, 29, 34, 35]) / 35)
