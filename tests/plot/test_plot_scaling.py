"""engine.measure_scaling (the timings) and plot.scaling (the picture of them)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import sigconv
from sigconv import InputError, InputTypeError, plot
from sigconv.engine import Scaling, measure_scaling
from sigconv.plot import _scaling

NAN = math.nan


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def made_up(kernel=None):
    """A sweep with known numbers: direct fastest up to 64, then the FFT."""
    sizes = (16, 32, 64, 128, 256)
    return Scaling(sizes=sizes, kernel=kernel,
                   seconds={"direct": (1e-5, 2e-5, 4e-5, 3e-4, NAN),
                            "oa": (5e-5, 6e-5, 8e-5, 1.2e-4, 3e-4),
                            "fft": (3e-5, 4e-5, 5e-5, 1e-4, 2e-4)},
                   chosen=("direct", "direct", "direct", "fft", "fft"),
                   predicted={m: (NAN,) * 5 for m in ("direct", "oa", "fft")},
                   backend="scipy", workers=1)


def test_measure_scaling_small_sweep():
    s = measure_scaling([8, 64, 512], cap=1.0, workers=1)
    assert s.sizes == (8, 64, 512) and s.kernel is None and s.workers == 1
    assert set(s.seconds) == {"direct", "oa", "fft"}
    for times in s.seconds.values():
        assert len(times) == 3 and all(t > 0 and math.isfinite(t) for t in times)
    # the choice marked is the planner's, for the same sizes
    for n, chosen in zip(s.sizes, s.chosen):
        x = np.ones(n)
        assert chosen == sigconv.explain(x, x, workers=1).method
    for times in s.predicted.values():
        assert len(times) == 3


def test_measure_scaling_drops_a_method_past_the_cap():
    s = measure_scaling([16, 32, 64], kernel=4, cap=1e-9)
    for times in s.seconds.values():          # every call is longer than 1 ns
        assert times[0] > 0 and math.isnan(times[1]) and math.isnan(times[2])
    assert s.kernel == 4


@pytest.mark.parametrize("kwargs, words", [
    ({"sizes": [0, 4]}, "sizes"),
    ({"sizes": []}, "sizes"),
    ({"kernel": 0}, "kernel"),
    ({"kernel": 2.5}, "kernel"),
    ({"cap": -1}, "cap"),
])
def test_measure_scaling_bad_values(kwargs, words):
    with pytest.raises(InputError, match=words):
        measure_scaling(**kwargs)


def test_crossovers_ignore_one_noisy_point():
    assert made_up().crossovers() == [("direct", "fft", pytest.approx(math.sqrt(64 * 128)))]
    noisy = Scaling((1, 2, 4, 8, 16, 32), None,
                    {"direct": (1, 1, 1, 5, 5, 5), "fft": (2, 2, 0.5, 4, 4, 4),
                     "oa": (3, 3, 3, 3, 3, 3)}, ("direct",) * 6, {}, "x", 1)
    assert noisy.crossovers() == [("direct", "oa", 4.0)]


def test_figure_lines_rings_and_switch():
    fig = _scaling._figure([made_up(), made_up(kernel=129)], title="t")
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "time per convolution (ms)"
    assert "kernel length" in ax.get_xlabel()
    assert "129 taps" in fig.axes[1].get_title()
    lines = {ln.get_label(): ln for ln in ax.lines}
    x, y = lines["direct"].get_data()
    np.testing.assert_allclose(x, [16, 32, 64, 128])               # NaN left out
    np.testing.assert_allclose(y, [1e-2, 2e-2, 4e-2, 3e-1])        # in ms
    np.testing.assert_allclose(lines["FFT"].get_ydata(), [3e-2, 4e-2, 5e-2, 1e-1, 2e-1])
    # one ring per size, on the chosen method's point
    rings = [ln for ln in ax.lines if ln.get_markersize() == 13]
    np.testing.assert_allclose([(r.get_xdata()[0], r.get_ydata()[0]) for r in rings],
                               [(16, 1e-2), (32, 2e-2), (64, 4e-2), (128, 1e-1), (256, 2e-1)])
    assert "auto's choice (planner)" in [t.get_text() for t in ax.get_legend().get_texts()]
    switch = [t.get_text() for t in ax.texts if t.get_text().startswith("auto switches")]
    assert switch == ["auto switches\ndirect → FFT\nat n ≈ 91 "]
    guides = [t.get_text() for t in ax.texts if t.get_text().startswith("∝")]
    assert guides == ["∝ n²", "∝ n log n"]
    assert [t.get_text() for t in fig.axes[1].texts if t.get_text().startswith("∝")] == \
        ["∝ n", "∝ n log n"]


def test_writes_a_png(tmp_path):
    out = plot.scaling(made_up(), tmp_path / "s.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > 600
        assert np.asarray(im.convert("L")).std() > 20
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_bad_results(tmp_path):
    with pytest.raises(InputTypeError, match="Scaling"):
        plot.scaling([1, 2], tmp_path / "s.png")
    with pytest.raises(InputError, match="no scaling"):
        plot.scaling([], tmp_path / "s.png")
    assert list(tmp_path.iterdir()) == []
