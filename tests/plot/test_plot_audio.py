"""sigconv.plot.audio: the figure's artists, its numbers against oracles, the file."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from PIL import Image

from sigconv import InputError, InputTypeError, MissingExtraError, audio, plot
from sigconv.plot import _audio

RATE = 8000


def decaying_noise(rt60, seconds, channels=None, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    env = 10.0 ** (-3.0 * t / rt60)
    return rng.standard_normal(t.shape if channels is None else (t.size, channels)) * \
        (env if channels is None else env[:, None])


@pytest.fixture(scope="module")
def signals():
    t = np.arange(RATE // 2) / RATE
    dry = 0.5 * np.sin(2 * np.pi * 440 * t) * (t < 0.3)
    ir = decaying_noise(0.5, 0.8, channels=2)
    wet = audio.reverb(dry, ir)
    return dry, wet, ir


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def titles(fig):
    return [ax.get_title() for ax in fig.axes]


def axis(fig, title):
    """The axes whose title starts with ``title``."""
    (found,) = [ax for ax in fig.axes if ax.get_title().startswith(title)]
    return found


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_figure_panels_and_labels(signals):
    dry, wet, ir = signals
    fig = _audio._figure(dry, wet, RATE, ir=ir, title="my title")
    assert fig._suptitle.get_text() == "my title"
    assert len(fig.axes) == 7            # 2 waveforms, 2 spectrograms, IR, decay, colour bar
    t = titles(fig)
    assert t[0].startswith("dry waveform (mono") and t[1].startswith("wet waveform (mid of 2")
    assert t[2] == "dry spectrogram" and t[3] == "wet spectrogram"
    panels = [axis(fig, p) for p in ("dry waveform", "wet waveform", "dry spectrogram",
                                     "wet spectrogram", "impulse response (mid of 2 channels",
                                     "energy decay curve of the impulse response")]
    for ax in panels:
        assert ax.get_xlabel() == "time (s)" and ax.get_ylabel()
    assert panels[2].get_yscale() == "log" and panels[2].get_ylabel() == "frequency (Hz)"
    (bar,) = [ax for ax in fig.axes if ax not in panels]
    assert bar.get_ylabel() == "dB below loudest"
    # dry and wet share one time axis and one level scale
    assert panels[0].get_xlim() == panels[1].get_xlim()
    assert panels[0].get_ylim() == panels[1].get_ylim()
    assert panels[0].get_xlim()[1] == pytest.approx(wet.shape[0] / RATE)


def test_rt60_printed_is_the_measured_one(signals):
    dry, wet, ir = signals
    fig = _audio._figure(dry, wet, RATE, ir=ir)
    decay = axis(fig, "energy decay")
    expected = audio.rt60(ir, RATE)
    assert expected == pytest.approx(0.5, rel=0.05)       # the oracle: made with RT60 0.5 s
    assert f"RT60 ≈ {expected:.2f} s (T30)" in texts(decay)
    # the curve drawn is the decay curve, the dashed line reaches -60 dB at RT60
    _t, db = audio.decay_curve(ir, RATE)
    curve = decay.lines[0]
    np.testing.assert_allclose(curve.get_ydata(), db[np.isfinite(db)])
    line = next(ln for ln in decay.lines if ln.get_linestyle() == "--")
    fit = audio.decay_fit(ir, RATE)
    _x, y = line.get_data()
    assert y[0] == pytest.approx(fit.intercept) and y[-1] == pytest.approx(-60.0)


def test_short_decay_falls_back_to_t20_then_na():
    x = np.zeros(2000)
    x[0] = 1
    ir20 = audio.echo_ir(RATE, delay=0.05, decay=0.5, repeats=4)   # ~25 dB of decay
    fig = _audio._figure(x, audio.echo(x, RATE, delay=0.05), RATE, ir=ir20)
    assert any("(T20)" in s for s in texts(axis(fig, "energy decay")))
    ir_na = audio.echo_ir(RATE, delay=0.05, decay=0.8, repeats=2)
    fig = _audio._figure(x, x, RATE, ir=ir_na)
    assert any(s.startswith("RT60: n/a") for s in texts(axis(fig, "energy decay")))
    # sparse IRs are stems with their values written
    values = texts(axis(fig, "impulse response"))
    assert values == ["1", "0.8", "0.64"]


def test_without_ir_two_rows():
    x = np.random.default_rng(0).standard_normal((3000, 3))
    fig = _audio._figure(x, x, RATE)
    assert len(fig.axes) == 5
    assert "mid of 3 channels" in fig.axes[0].get_title()


def test_spectrogram_peak_at_the_sine_frequency():
    t = np.arange(RATE) / RATE
    for f0 in (250.0, 1000.0, 3000.0):
        times, freqs, power = _audio._spectrogram(np.sin(2 * np.pi * f0 * t), RATE)
        peak = freqs[np.argmax(power.mean(axis=1))]
        assert abs(peak - f0) <= freqs[1]                # within one bin
        assert times[0] > 0 and times[-1] < 1.0 and np.all(np.diff(times) > 0)


def test_envelope_is_min_and_max_of_each_column():
    import matplotlib.pyplot as plt

    x = np.random.default_rng(3).standard_normal(_audio._ENVELOPE_COLUMNS * 7)
    _fig, ax = plt.subplots()
    _audio._waveform(ax, x, RATE, "k")
    poly = ax.collections[0].get_paths()[0].vertices[:, 1]
    cols = x.reshape(_audio._ENVELOPE_COLUMNS, 7)
    assert np.isclose(poly.max(), cols.max()) and np.isclose(poly.min(), cols.min())
    assert set(np.round(cols.max(axis=1), 12)) <= set(np.round(poly, 12))


def test_writes_a_png(tmp_path, signals):
    dry, wet, ir = signals
    out = plot.audio(dry, wet, RATE, tmp_path / "wet.png", ir=ir)
    assert out == str(tmp_path / "wet.png")
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (1320, 1089)
        pixels = np.asarray(im.convert("RGB"))
    assert (pixels[0, 0] == 255).all()                  # white margin
    assert pixels.std() > 30                            # not blank
    assert [p.name for p in tmp_path.iterdir()] == ["wet.png"]


@pytest.mark.parametrize("ext", [".svg", ".pdf"])
def test_vector_formats(tmp_path, ext):
    x = np.zeros(800)
    x[10] = 1
    out = plot.audio(x, x, RATE, tmp_path / f"p{ext}")
    with open(out, "rb") as f:
        head = f.read(5)
    assert head in (b"<?xml", b"%PDF-")


@pytest.mark.parametrize("args, exc, words", [
    ((np.zeros(0), np.ones(4), RATE), InputError, "dry"),
    ((np.ones(4), np.array([1.0, np.nan]), RATE), InputError, "NaN"),
    ((np.ones((2, 2, 2)), np.ones(4), RATE), InputError, "shape"),
    ((np.array(["a"]), np.ones(4), RATE), InputTypeError, "dtype"),
    ((np.ones(4), np.ones(4), 0), InputError, "samplerate"),
    ((np.ones(4), np.ones(4), "fast"), InputTypeError, "samplerate"),
])
def test_bad_input_writes_nothing(tmp_path, args, exc, words):
    with pytest.raises(exc, match=words):
        plot.audio(*args, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_silent_ir_and_bad_extension(tmp_path):
    x = np.ones(100)
    with pytest.raises(InputError, match="silent"):
        plot.audio(x, x, RATE, tmp_path / "x.png", ir=np.zeros(10))
    with pytest.raises(InputError, match=r"'\.jpg'.*\.png, \.svg or \.pdf"):
        plot.audio(x, x, RATE, tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"sigconv\[plot\]"):
        plot.audio(np.ones(10), np.ones(10), RATE, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_audio_files_resamples_the_ir(tmp_path):
    x = np.zeros(4000)
    x[5] = 0.5
    audio.write(tmp_path / "dry.wav", x, RATE, subtype="FLOAT")
    ir = decaying_noise(0.3, 0.6) * 0.3
    audio.write(tmp_path / "ir.wav", audio.resample(ir, RATE, 16000), 16000, subtype="FLOAT")
    audio.write(tmp_path / "wet.wav", audio.reverb(x, ir), RATE, subtype="FLOAT")
    seen = {}
    real = _audio.audio

    def spy(dry, wet, rate, path, *, ir=None, title=None):
        seen.update(rate=rate, ir=ir, dry=dry)
        return real(dry, wet, rate, path, ir=ir, title=title)

    import unittest.mock
    with unittest.mock.patch.object(_audio, "audio", spy):
        plot.audio_files(tmp_path / "dry.wav", tmp_path / "wet.wav", tmp_path / "p.png",
                         ir=tmp_path / "ir.wav")
    assert seen["rate"] == RATE and abs(seen["ir"].shape[0] - ir.shape[0]) <= 1
    assert audio.rt60(seen["ir"], RATE) == pytest.approx(0.3, rel=0.05)
    assert os.path.getsize(tmp_path / "p.png") > 10_000
    audio.write(tmp_path / "other.wav", x, 16000)
    with pytest.raises(InputError, match="rate"):
        plot.audio_files(tmp_path / "dry.wav", tmp_path / "other.wav", tmp_path / "q.png")
    assert not (tmp_path / "q.png").exists()
    assert not math.isnan(audio.rt60(ir, RATE))
