"""Energy decay curve and RT60 against oracles: a naive sum, exponential-decay noise of
known RT60, and the bundled hall IR."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigconv import InputError, InputTypeError, audio

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")


def decaying_noise(rt60, rate, seconds, channels=None, seed=0):
    """White noise whose energy falls 60 dB in ``rt60`` seconds (amplitude x 10**-3)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    shape = t.shape if channels is None else (t.size, channels)
    env = 10.0 ** (-3.0 * t / rt60)
    return rng.standard_normal(shape) * (env if channels is None else env[:, None])


def naive_edc_db(h):
    h2 = np.asarray(h, dtype=float).reshape(len(h), -1)
    e = [sum(float(v) ** 2 for v in row) for row in h2]
    total = sum(e)
    out = []
    for k in range(len(e)):
        rest = sum(e[k:])
        out.append(-math.inf if rest == 0 else 10 * math.log10(rest / total))
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3), st.floats(-1e3, -1e-6)),
                min_size=1, max_size=30)
       .filter(lambda v: any(x != 0 for x in v)),
       st.integers(1, 3))
def test_decay_curve_matches_naive_sum(values, channels):
    h = np.array(values)
    h = np.stack([h * (c + 1) for c in range(channels)], 1) if channels > 1 else h
    t, db = audio.decay_curve(h, 10)
    ref = naive_edc_db(h)
    np.testing.assert_allclose(t, np.arange(len(values)) / 10)
    assert db[0] == pytest.approx(0.0, abs=1e-9)
    assert np.array_equal(np.isinf(db), np.isinf(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(db[finite], ref[finite], atol=1e-6)
    assert np.all(np.diff(db[np.isfinite(db)]) <= 1e-12)     # never rises


def test_decay_curve_int_and_float32_and_huge_values():
    _, a = audio.decay_curve(np.array([3, 4, 0], np.int16), 1)
    _, b = audio.decay_curve(np.array([3, 4, 0], np.float32) * 1e30, 1)   # squares > f32
    _, c = audio.decay_curve(np.array([3.0, 4.0, 0.0]) * 1e200, 1)         # squares > f64
    ref = np.array([0.0, 10 * math.log10(16 / 25), -math.inf])
    for db in (a, b, c):
        np.testing.assert_allclose(db, ref)


@pytest.mark.parametrize("true_rt60", [0.5, 1.2])
@pytest.mark.parametrize("fit", ["T30", "T20"])
def test_rt60_of_exponential_noise(true_rt60, fit):
    rate = 16000
    for seed in range(3):
        h = decaying_noise(true_rt60, rate, 1.5 * true_rt60, seed=seed)
        assert audio.rt60(h, rate, fit=fit) == pytest.approx(true_rt60, rel=0.03)


def test_rt60_stereo_adds_channel_energies():
    rate = 8000
    h = decaying_noise(0.8, rate, 1.5, channels=2, seed=4)
    h[:, 1] *= 0.01                 # a quiet channel hardly changes the decay
    assert audio.rt60(h, rate) == pytest.approx(0.8, rel=0.03)
    left = audio.decay_fit(h[:, 0], rate)
    both = audio.decay_fit(h, rate)
    assert both.rt60 == pytest.approx(left.rt60, rel=0.01)


def test_decay_fit_describes_its_line():
    rate = 8000
    h = decaying_noise(0.6, rate, 1.0, seed=2)
    f = audio.decay_fit(h, rate)
    t, db = audio.decay_curve(h, rate)
    assert f.fit == "T30" and (f.top_db, f.bottom_db) == (-5.0, -35.0)
    assert f.slope == pytest.approx(-60 / f.rt60)
    # the fitted span starts and ends where the curve crosses -5 and -35 dB
    assert db[int(round(f.start * rate))] <= -5 < db[int(round(f.start * rate)) - 1]
    assert db[int(round(f.end * rate))] <= -35 < db[int(round(f.end * rate)) - 1]
    # and the line stays within a dB of the curve over that span
    span = (t >= f.start) & (t <= f.end)
    assert np.max(np.abs(f.intercept + f.slope * t[span] - db[span])) < 1.0


def test_too_short_decay_is_nan_not_an_error():
    rate = 48000
    echo = audio.echo_ir(rate, delay=0.1, decay=0.7, repeats=3)   # ~-9 dB after 3 repeats
    assert math.isnan(audio.rt60(echo, rate))
    assert math.isnan(audio.rt60([1.0], rate))
    f = audio.decay_fit(echo, rate, fit="T20")
    assert math.isnan(f.rt60) and math.isnan(f.end) and math.isnan(f.slope)
    # a steeper echo decays far enough for T20
    steep = audio.echo_ir(rate, delay=0.05, decay=0.3, repeats=6)
    assert audio.rt60(steep, rate, fit="T20") > 0


def test_bundled_hall_ir_is_plausible():
    h, rate = audio.read(os.path.join(DATA, "ir_hall.wav"))
    value = audio.rt60(h, rate)
    # made with octave-band reverberation times of 1.2 .. 2.2 s (data/make_audio_data.py)
    assert 1.2 < value < 2.2


@pytest.mark.parametrize("bad, exc, words", [
    ([], InputError, "empty"),
    ([0.0, 0.0], InputError, "silent"),
    ([1.0, np.nan], InputError, "NaN"),
    (np.zeros((2, 2, 2)), InputError, "shape"),
    (["a"], InputTypeError, "dtype"),
])
def test_bad_ir(bad, exc, words):
    with pytest.raises(exc, match=words):
        audio.rt60(np.asarray(bad), 100)


@pytest.mark.parametrize("rate", [0, -1, math.inf, "x"])
def test_bad_samplerate(rate):
    with pytest.raises((InputError, InputTypeError), match="samplerate"):
        audio.decay_curve([1.0, 0.5], rate)


def test_bad_fit():
    with pytest.raises(InputError, match="'T60'"):
        audio.rt60([1.0, 0.5], 100, fit="T60")


def test_noise_floor_below_minus_60_db_hardly_moves_rt60():
    rate = 8000
    h = decaying_noise(0.6, rate, 1.0, seed=6)
    tail = np.random.default_rng(7).standard_normal(3 * rate) * 10 ** (-70 / 20)
    noisy = np.concatenate([h, np.zeros(3 * rate)]) + np.concatenate([np.zeros(h.size), tail])
    noisy[: h.size] += np.random.default_rng(8).standard_normal(h.size) * 10 ** (-70 / 20)
    assert audio.rt60(noisy, rate) == pytest.approx(audio.rt60(h, rate), rel=0.03)
