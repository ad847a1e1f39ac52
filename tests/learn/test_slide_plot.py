"""sigconv.plot.slide: files written, sizes, frames, pixels and artists, errors."""

import os
import sys

import numpy as np
import pytest
from PIL import Image

import sigconv
from sigconv import plot
from sigconv.plot._mpl import pyplot

M44 = [[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0], [0, 1, 2, 4]]
K33 = [[0, 1, 2], [2, 2, 0], [1, 0, 1]]
WINDOW = (0xFF, 0xF3, 0xB0)            # the shade of the kernel's reach


@pytest.fixture
def figures(monkeypatch):
    """The figures slide draws, kept open for inspection."""
    plt = pyplot()
    kept = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        real_close(fig)


def _count(img, rgb, tol=6):
    a = np.asarray(img.convert("RGB")).astype(int)
    return int((np.abs(a - np.array(rgb)).max(-1) <= tol).sum())


def test_png_1d_panels_and_pixels(tmp_path, figures):
    path = tmp_path / "s.png"
    assert plot.slide([1, 2, 3], [2, 3, 4], path) == str(path)
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert h == 700 and w >= 5 * 300              # 5 positions side by side, 100 dpi
        assert _count(im, WINDOW) > 5000                # the shaded windows are there
        # the window shade appears in each of the five columns
        cols = np.asarray(im.convert("RGB")).astype(int)
        shaded = (np.abs(cols - WINDOW).max(-1) <= 6).any(0)
        assert all(shaded[i * w // 5:(i + 1) * w // 5].any() for i in range(5))
    (fig,) = figures
    assert len(fig.axes) == 20                          # 4 rows x 5 positions
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["y[0] = 2  (uses zero padding)", "y[1] = 7  (uses zero padding)",
                      "y[2] = 16  (valid)", "y[3] = 17  (uses zero padding)",
                      "y[4] = 12  (uses zero padding)"]
    sums = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_text().startswith("sum")]
    assert sums == ["sum = 2", "sum = 7", "sum = 16", "sum = 17", "sum = 12"]
    # the products panel of y[2]: bars 1*4, 2*3, 3*2 at input indices 0, 1, 2
    (bars,) = fig.axes[2 * 4 + 2].containers
    assert [(round(b.get_x() + b.get_width() / 2), b.get_height()) for b in bars] == \
        [(0, 4.0), (1, 6.0), (2, 6.0)]
    assert fig._suptitle.get_text() == "convolution (kernel flipped), mode full"


def test_png_2d_valid(tmp_path, figures):
    path = tmp_path / "s.png"
    plot.slide(M44, K33, path, mode="valid")
    with Image.open(path) as im:
        w, h = im.size
        assert w > 4 * 250 and h > 400
        assert _count(im, WINDOW) > 4 * 1000            # a 3x3 window shaded per position
    (fig,) = figures
    assert len(fig.axes) == 8
    titles = [fig.axes[i].get_title() for i in range(0, 8, 2)]
    assert titles == ["y[0,0] = 11  (valid)", "y[0,1] = 14  (valid)", "y[1,0] = 11  (valid)",
                      "y[1,1] = 9  (valid)"]
    # the output grid of the last position holds every value
    last = sorted(t.get_text() for t in fig.axes[7].texts)
    assert last == ["11", "11", "14", "9"]
    # the kernel's values written in the window of y[0,0]: the flipped kernel
    small = [t.get_text() for t in fig.axes[0].texts if t.get_text().startswith("\u00d7")]
    assert small == ["\u00d7" + v for v in "101022210"]


def test_correlate_kernel_not_flipped(tmp_path, figures):
    plot.slide(M44, K33, tmp_path / "c.png", mode="valid", correlate=True)
    (fig,) = figures
    small = [t.get_text()[1:] for t in fig.axes[0].texts if t.get_text().startswith("\u00d7")]
    assert small == list("012220101")
    assert fig.axes[0].get_title() == f"y[0,0] = {sigconv.correlate(M44, K33, 'valid')[0, 0]}" \
        "  (valid)"


def test_gif_every_position(tmp_path):
    path = tmp_path / "s.gif"
    plot.slide([0, 1, 2], [1, -1], path)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 4
        assert im.info.get("loop") == 0
        frames = []
        for i in (0, 3):
            im.seek(i)
            frames.append(im.convert("RGB"))
        assert frames[0].size == frames[1].size and frames[0].size[1] > 400
        assert np.any(np.asarray(frames[0]) != np.asarray(frames[1]))   # the window moved


def test_gif_positions_2d(tmp_path):
    path = tmp_path / "s.gif"
    plot.slide(M44, K33, path, mode="same", positions=[(0, 0), (1, 1), (-1, -1)])
    with Image.open(path) as im:
        assert im.n_frames == 3


def test_floats_and_positions_png(tmp_path, figures):
    x = np.sin(np.arange(60) / 5.0)
    plot.slide(x, np.ones(5) / 5, tmp_path / "f.png", mode="same", positions=[0, 30])
    (fig,) = figures
    assert len(fig.axes) == 8
    assert fig.axes[0].get_title().startswith("y[0] = ")
    value = sigconv.convolve(x, np.ones(5) / 5, "same")[30]
    assert fig.axes[4].get_title() == f"y[30] = {value:.3g}  (valid)"


@pytest.mark.parametrize("args,kwargs,exc,match", [
    (([1, 2], [1], "s.jpg"), {}, ValueError, r"'\.jpg' \(use \.png or \.gif\)"),
    (([1, 2], [1], "s.svg"), {}, ValueError, r"use \.png or \.gif"),
    (([1, 2], [1j], "s.png"), {}, TypeError, "real"),
    ((np.ones(300), np.ones(60), "s.png"), {}, ValueError, "too large to draw"),
    ((np.ones((30, 30)), np.ones((9, 9)), "s.png"), {}, ValueError, "too large to draw"),
    ((np.ones((2, 2, 2)), np.ones((1, 1, 1)), "s.png"), {}, ValueError, "3-d"),
    (([1, 2], [1], "s.png"), {"mode": "middle"}, ValueError, "middle"),
    (([1, 2], [1], "s.png"), {"positions": [5]}, ValueError, "outside"),
    (([1, 2], [1], "s.png"), {"positions": []}, ValueError, "empty"),
    ((np.ones((20, 20)), np.ones((10, 10)), "s.gif"), {}, ValueError, "841 positions.*400 "
                                                                        "frames"),
])
def test_errors_write_nothing(tmp_path, args, kwargs, exc, match):
    *data, name = args
    with pytest.raises(exc, match=match):
        plot.slide(*data, tmp_path / name, **kwargs)
    assert os.listdir(tmp_path) == []


def test_missing_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(sigconv.MissingExtraError, match=r"sigconv\[plot\]"):
        plot.slide([1, 2], [1], tmp_path / "s.png")
    assert os.listdir(tmp_path) == []
