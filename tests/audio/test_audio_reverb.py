"""reverb / echo / routing / resampling on arrays, against a numpy.convolve oracle."""

from __future__ import annotations

import numpy as np
import pytest

from sigconv import InputError, InputTypeError
from sigconv.audio import echo, echo_ir, resample, reverb, route

# (input column, IR column, output column) paths of each routing, and the dry paths.
PATHS = {
    ("shared", 3): [(c, 0, c) for c in range(3)],
    ("matched", 2): [(0, 0, 0), (1, 1, 1)],
    ("matched", 3): [(c, c, c) for c in range(3)],
    ("split", 1): [(0, 0, 0), (0, 1, 1)],
    ("true-stereo", 2): [(0, 0, 0), (0, 1, 1), (1, 2, 0), (1, 3, 1)],
    ("true-stereo", 1): [(0, 0, 0), (0, 1, 1), (0, 2, 0), (0, 3, 1)],
}
DRY = {
    ("shared", 3): [(0, 0), (1, 1), (2, 2)],
    ("matched", 2): [(0, 0), (1, 1)],
    ("matched", 3): [(0, 0), (1, 1), (2, 2)],
    ("split", 1): [(0, 0), (0, 1)],
    ("true-stereo", 2): [(0, 0), (1, 1)],
    ("true-stereo", 1): [(0, 0), (0, 1)],
}
CASES = [  # (kind, input channels, IR channels, output channels)
    ("shared", 3, 1, 3), ("matched", 2, 2, 2), ("matched", 3, 3, 3), ("split", 1, 2, 2),
    ("true-stereo", 2, 4, 2), ("true-stereo", 1, 4, 2),
]


def oracle(x, ir, kind, *, wet, dry, pre, norm, out_channels):
    """dry*x + wet*g*(x conv ir) delayed by ``pre``, one numpy.convolve per path."""
    n, m = x.shape[0], ir.shape[0]
    if norm == "energy":   # mean over outputs of the IR energy reaching each output
        reaching = np.zeros(out_channels)
        for _, k, o in PATHS[(kind, x.shape[1])]:
            reaching[o] += np.sum(ir[:, k].astype(np.float64) ** 2)
        g = 1 / np.sqrt(reaching.mean())
    elif norm == "peak":
        g = 1 / np.max(np.abs(ir))
    else:
        g = 1.0
    out = np.zeros((n + pre + m - 1, out_channels))
    for i, k, o in PATHS[(kind, x.shape[1])]:
        out[pre:pre + n + m - 1, o] += wet * g * np.convolve(x[:, i], ir[:, k])
    for i, o in DRY[(kind, x.shape[1])]:
        out[:n, o] += dry * x[:, i]
    return out


def close(a, b, rel):
    scale = max(np.max(np.abs(b)), 1e-300)
    assert a.shape == b.shape
    np.testing.assert_array_less(np.max(np.abs(a - b)) / scale, rel)


@pytest.mark.parametrize("kind,cin,cir,cout", CASES)
@pytest.mark.parametrize("norm", ["energy", "peak", "none"])
@pytest.mark.parametrize("n,m", [(1, 1), (7, 40), (2000, 301), (4097, 64)])
def test_reverb_matches_oracle_per_routing(kind, cin, cir, cout, norm, n, m):
    rng = np.random.default_rng(n * 31 + m)
    x = rng.standard_normal((n, cin))
    ir = rng.standard_normal((m, cir)) * np.exp(-np.arange(m) / (m / 3 + 1))[:, None]
    assert route(cin, cir).kind == kind
    y = reverb(x, ir, samplerate=1000, wet=0.7, dry=0.9, predelay_ms=5, ir_norm=norm)
    ref = oracle(x, ir, kind, wet=0.7, dry=0.9, pre=5, norm=norm, out_channels=cout)
    assert y.dtype == np.float64
    close(y, ref, 1e-10)


@pytest.mark.parametrize("kind,cin,cir,cout", CASES)
def test_reverb_float32_stays_float32(kind, cin, cir, cout):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3000, cin)).astype(np.float32)
    ir = rng.standard_normal((500, cir)).astype(np.float32)
    y = reverb(x, ir)
    assert y.dtype == np.float32
    ref = oracle(x.astype(np.float64), ir.astype(np.float64), kind, wet=0.35, dry=1.0,
                 pre=0, norm="energy", out_channels=cout)
    close(y, ref, 1e-5)


def test_mono_1d_in_mono_ir_gives_1d():
    y = reverb(np.array([1.0, 2.0]), np.array([1.0, 0.5]), wet=1, dry=0, ir_norm="none")
    assert y.ndim == 1
    np.testing.assert_allclose(y, [1.0, 2.5, 1.0], atol=1e-12)


def test_mono_1d_with_stereo_ir_gives_stereo():
    y = reverb(np.ones(4), np.ones((2, 2)), ir_norm="none", wet=1, dry=0)
    assert y.shape == (5, 2)


def test_no_tail_keeps_input_length_and_prefix():
    rng = np.random.default_rng(2)
    x, ir = rng.standard_normal((500, 2)), rng.standard_normal((200, 2))
    full = reverb(x, ir, samplerate=8000, predelay_ms=3)
    cut = reverb(x, ir, samplerate=8000, predelay_ms=3, tail=False)
    assert full.shape == (500 + 24 + 199, 2)
    assert cut.shape == (500, 2)
    np.testing.assert_allclose(cut, full[:500], rtol=0, atol=1e-12)


def test_energy_norm_makes_wet_level_independent_of_ir_scale():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20000, 2))
    short = rng.standard_normal((100, 2))
    long_ = 40 * rng.standard_normal((3000, 2)) * np.exp(-np.arange(3000) / 800)[:, None]
    rms = [np.sqrt(np.mean(reverb(x, h, wet=1, dry=0) ** 2)) for h in (short, long_)]
    # unit power gain for noise: both wet signals have about the input's RMS of 1
    np.testing.assert_allclose(rms, [1.0, 1.0], rtol=0.1)


def test_wet_zero_is_dry_only():
    x = np.random.default_rng(4).standard_normal((300, 2))
    y = reverb(x, np.ones((50, 2)), wet=0.0, tail=False)
    np.testing.assert_allclose(y, x, atol=1e-12)


def test_ir_resampled_when_rates_differ():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(1000)
    ir = rng.standard_normal(441)
    y = reverb(x, ir, samplerate=48000, ir_samplerate=44100, ir_norm="none", wet=1, dry=0)
    assert y.shape == (1000 + 480 - 1,)
    ref = np.convolve(x, resample(ir, 44100, 48000))
    close(y, ref, 1e-10)


def test_resample_keeps_a_tone_frequency():
    t = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 1000 * t), 44100, 48000)
    assert y.shape == (48000,)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second
    assert resample(np.ones((10, 2), np.float32), 8000, 16000).dtype == np.float32


def test_echo_is_sparse_ir_convolution():
    x = np.random.default_rng(6).standard_normal((1000, 2))
    y = echo(x, 100, delay=0.25, decay=0.5, repeats=3)
    ref = np.zeros((1000 + 75, 2))
    for k in range(4):
        ref[25 * k:25 * k + 1000] += 0.5 ** k * x
    close(y, ref, 1e-12)
    assert echo(x, 100, delay=0.25, tail=False).shape == (1000, 2)


def test_echo_ir_taps():
    h = echo_ir(1000, delay=0.01, decay=0.25, repeats=2)
    assert h.shape == (21,)
    assert np.flatnonzero(h).tolist() == [0, 10, 20]
    np.testing.assert_allclose(h[[0, 10, 20]], [1, 0.25, 0.0625])


@pytest.mark.parametrize("kwargs,match", [
    ({"delay": 0}, "delay"), ({"delay": -1}, "delay"), ({"delay": 1e-6}, "delay"),
    ({"delay": 0.1, "decay": 1.5}, "decay"), ({"delay": 0.1, "decay": float("nan")}, "decay"),
    ({"delay": 0.1, "repeats": 0}, "repeats"), ({"delay": 0.1, "repeats": 10**6}, "repeats"),
])
def test_echo_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        echo_ir(1000, **kwargs)


def test_echo_repeats_must_be_integer():
    with pytest.raises(InputTypeError, match="2.5"):
        echo_ir(1000, delay=0.1, repeats=2.5)


@pytest.mark.parametrize("cin,cir", [(3, 2), (2, 3), (4, 2), (3, 4), (1, 3)])
def test_unroutable_channel_counts_name_both(cin, cir):
    with pytest.raises(InputError, match=f"{cin}-channel input through a {cir}-channel IR"):
        reverb(np.zeros((10, cin)), np.ones((3, cir)))


@pytest.mark.parametrize("x,ir,err,match", [
    (np.zeros((0, 2)), np.ones(3), InputError, "empty"),
    (np.zeros(10), np.ones(0), InputError, "empty"),
    (np.zeros((2, 3, 4)), np.ones(3), InputError, "shape"),
    (np.zeros(10, complex), np.ones(3), InputTypeError, "complex"),
    (np.array([1.0, np.nan]), np.ones(3), InputError, "NaN"),
    (np.ones(10), np.zeros(3), InputError, "silent"),
])
def test_bad_arrays(x, ir, err, match):
    with pytest.raises(err, match=match):
        reverb(x, ir)


@pytest.mark.parametrize("kwargs,match", [
    ({"ir_norm": "rms"}, "'rms'"), ({"wet": "loud"}, "'loud'"),
    ({"predelay_ms": -1}, "-1"), ({"predelay_ms": 5}, "samplerate"),
    ({"dry": float("inf")}, "inf"),
])
def test_bad_options_quote_the_value(kwargs, match):
    with pytest.raises((InputError, InputTypeError), match=match):
        reverb(np.ones(10), np.ones(3), **kwargs)


@pytest.mark.parametrize("channels", [2, 6])
def test_a_mono_ir_on_many_channels_has_unit_wet_power(channels):
    """A shared mono IR reaches every output whole: energy normalisation must not divide
    its energy among the outputs (a stereo input came out 3 dB too wet)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40000, channels))
    h = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 500)
    wet = reverb(x, h[:, None], wet=1, dry=0)
    same = reverb(x, np.repeat(h[:, None], channels, axis=1), wet=1, dry=0)
    np.testing.assert_allclose(wet, same, rtol=1e-12, atol=1e-12)
    gain_db = 10 * np.log10(np.mean(wet ** 2) / np.mean(x ** 2))
    assert abs(gain_db) < 0.5          # the bug: +3.0 dB for 2 channels, +7.8 for 6
