"""Make the bundled audio examples: a dry plucked-string clip and three impulse responses.

Run ``python data/make_audio_data.py`` from the repository root; it rewrites, byte for
byte, the files listed in ``FILES`` (all randomness comes from fixed seeds, and the
16-bit dither of ``sigconv.audio.write`` is seeded too).

- ``pluck_dry.wav``: 5 s mono 48 kHz PCM_16. A Karplus-Strong plucked string playing an
  A-minor arpeggio and a chord, with two hand claps, then a second of silence so that
  the reverb tail can be heard.
- ``ir_room_small.wav``: 0.5 s stereo 48 kHz PCM_24. Image-source model of a 4.2 x 3.4
  x 2.7 m room (wall reflection coefficient 0.8, air absorption as a gentle low-pass),
  two omni microphones 20 cm apart.
- ``ir_hall.wav``: 2.5 s stereo 48 kHz PCM_24. Sparse early reflections over 80 ms,
  then noise decaying in octave bands with a reverberation time of 2.2 s at low
  frequencies and 0.9 s at 8 kHz; the two channels are independent (wide image).
- ``ir_plate_truestereo_44k.wav``: 0.8 s 4-channel 44.1 kHz PCM_16, a true-stereo
  plate (channels LL, LR, RL, RR); at 44.1 kHz on purpose, to show resampling.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.signal

from sigconv.audio import write

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 48_000
SPEED_OF_SOUND = 343.0
FILES = ("pluck_dry.wav", "ir_room_small.wav", "ir_hall.wav", "ir_plate_truestereo_44k.wav")


def pluck(freq: float, seconds: float, rate: int, rng: np.random.Generator,
          damping: float = 0.996) -> np.ndarray:
    """One Karplus-Strong note: a noise burst through a lossy, averaging delay loop."""
    period = rate / freq
    delay = int(period - 0.5)  # the two-tap average adds half a sample of delay
    n = int(seconds * rate)
    excite = np.zeros(n)
    burst = rng.uniform(-1, 1, delay)
    excite[:delay] = burst - burst.mean()
    denom = np.zeros(delay + 2)
    denom[0] = 1.0
    denom[delay] = denom[delay + 1] = -damping / 2
    note = scipy.signal.lfilter([1.0], denom, excite)
    fade = np.minimum(1.0, np.linspace(seconds * 4, 0, n))  # last quarter second fades
    return note * fade


def clap(rate: int, rng: np.random.Generator) -> np.ndarray:
    """A hand clap: a few band-passed noise bursts 8 ms apart, 60 ms decay."""
    n = int(0.15 * rate)
    t = np.arange(n) / rate
    env = np.zeros(n)
    for k in range(3):
        start = int(k * 0.008 * rate)
        env[start:] += np.exp(-(t[: n - start]) / (0.004 if k < 2 else 0.06))
    sos = scipy.signal.butter(2, [900, 2500], btype="bandpass", fs=rate, output="sos")
    return scipy.signal.sosfilt(sos, rng.standard_normal(n)) * env


def make_dry(rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(5 * RATE)
    a_minor = [220.0, 261.63, 329.63, 440.0, 523.25, 440.0, 329.63, 261.63]
    for i, freq in enumerate(a_minor):
        start = int((0.1 + 0.3 * i) * RATE)
        note = pluck(freq, 1.2, RATE, rng)
        out[start:start + note.size] += 0.6 * note
    for freq in (220.0, 261.63, 329.63, 440.0):  # the chord, strummed 15 ms apart
        start = int((2.7 + 0.015 * a_minor.index(freq)) * RATE)
        note = pluck(freq, 1.3, RATE, rng, damping=0.997)
        out[start:start + note.size] += 0.45 * note
    for when in (2.45, 3.3):
        c = clap(RATE, rng)
        start = int(when * RATE)
        out[start:start + c.size] += 0.8 * c / np.max(np.abs(c))
    return out / np.max(np.abs(out)) * 10 ** (-3 / 20)


def make_room(rng: np.random.Generator) -> np.ndarray:
    """Image-source IR of a shoebox room, every image up to 0.5 s, fractional delays."""
    room = np.array([4.2, 3.4, 2.7])
    source = np.array([1.1, 2.3, 1.5])
    mics = (np.array([3.0, 1.2, 1.4]), np.array([3.2, 1.2, 1.4]))
    beta, seconds = 0.8, 0.5
    n = int(seconds * RATE)
    reach = SPEED_OF_SOUND * seconds
    out = np.zeros((n, 2))
    orders = [np.arange(-int(reach // d) - 1, int(reach // d) + 2) for d in room]
    grid = np.stack(np.meshgrid(*orders, np.arange(2), np.arange(2), np.arange(2),
                                indexing="ij"), -1).reshape(-1, 6)
    cells, parity = grid[:, :3], grid[:, 3:]
    # Image position per axis: 2*q*L + (1 - 2p)*s; reflections per axis: |2q - p|.
    images = 2 * cells * room + (1 - 2 * parity) * source
    bounces = np.abs(2 * cells - parity).sum(axis=1)
    for ch, mic in enumerate(mics):
        dist = np.linalg.norm(images - mic, axis=1)
        delay = dist / SPEED_OF_SOUND * RATE
        keep = delay < n - 1
        d, amp = delay[keep], beta ** bounces[keep] / dist[keep]
        i = np.floor(d).astype(int)
        frac = d - i
        np.add.at(out[:, ch], i, amp * (1 - frac))
        np.add.at(out[:, ch], i + 1, amp * frac)
    # Air and wall absorption grow with frequency: a gentle low-pass, and a little
    # diffuse noise (scattering) under the specular reflections.
    sos = scipy.signal.butter(1, 6000, fs=RATE, output="sos")
    out = scipy.signal.sosfilt(sos, out, axis=0)
    t = np.arange(n)[:, None] / RATE
    out += 0.02 * rng.standard_normal((n, 2)) * np.exp(-t / 0.06) * (t > 0.004)
    return _finish_ir(out, fade_seconds=0.05)


def _band_decay_noise(n: int, rate: int, channels: int, rt60: dict[float, float],
                      rng: np.random.Generator) -> np.ndarray:
    """Noise split into octave bands, each decaying with its own reverberation time."""
    t = np.arange(n)[:, None] / rate
    out = np.zeros((n, channels))
    centres = sorted(rt60)
    for k, fc in enumerate(centres):
        lo, hi = fc / np.sqrt(2), min(fc * np.sqrt(2), rate / 2 * 0.95)
        if k == 0:
            sos = scipy.signal.butter(4, hi, btype="lowpass", fs=rate, output="sos")
        elif k == len(centres) - 1:
            sos = scipy.signal.butter(4, lo, btype="highpass", fs=rate, output="sos")
        else:
            sos = scipy.signal.butter(4, [lo, hi], btype="bandpass", fs=rate, output="sos")
        band = scipy.signal.sosfilt(sos, rng.standard_normal((n, channels)), axis=0)
        out += band * np.exp(-6.9078 * t / rt60[fc])  # -60 dB after rt60 seconds
    return out


def make_hall(rng: np.random.Generator) -> np.ndarray:
    n = int(2.5 * RATE)
    rt60 = {125.0: 2.2, 250.0: 2.2, 500.0: 2.0, 1000.0: 1.8, 2000.0: 1.5, 4000.0: 1.2,
            8000.0: 0.9}
    late = _band_decay_noise(n, RATE, 2, rt60, rng)
    t = np.arange(n)[:, None] / RATE
    onset = 0.025  # the diffuse field builds up after the first reflections
    late *= np.clip((t - onset) / 0.06, 0, 1)
    late /= np.max(np.abs(late))
    early = np.zeros((n, 2))
    early[int(0.004 * RATE)] = 1.0  # direct sound
    times = np.sort(rng.uniform(0.012, 0.08, 14))
    for when in times:
        early[int(when * RATE), rng.integers(0, 2)] += rng.uniform(0.2, 0.55) * np.exp(-when / 0.1)
    return _finish_ir(early + 0.5 * late, fade_seconds=0.2)


def make_plate(rng: np.random.Generator) -> np.ndarray:
    rate = 44_100
    n = int(0.8 * rate)
    rt60 = {250.0: 1.1, 1000.0: 1.0, 4000.0: 0.8, 8000.0: 0.6}
    paths = _band_decay_noise(n, rate, 4, rt60, rng)  # LL, LR, RL, RR
    paths[:, [1, 2]] *= 0.7  # crossing paths a little weaker than direct ones
    paths[0, [0, 3]] += 2.0 * np.max(np.abs(paths))  # a dry-ish direct tap on LL and RR
    return _finish_ir(paths, fade_seconds=0.1, rate=rate)


def _finish_ir(ir: np.ndarray, *, fade_seconds: float, rate: int = RATE) -> np.ndarray:
    """Fade the last ``fade_seconds`` to zero (no click at the cut) and scale to -1 dBFS."""
    n = ir.shape[0]
    fade = min(int(fade_seconds * rate), n)
    ir = ir.copy()
    ir[n - fade:] *= np.cos(np.linspace(0, np.pi / 2, fade))[:, None] ** 2
    return ir / np.max(np.abs(ir)) * 10 ** (-1 / 20)


def main() -> None:
    rng = np.random.default_rng(20261122)
    outputs = {
        "pluck_dry.wav": (make_dry(rng), RATE, "PCM_16"),
        "ir_room_small.wav": (make_room(rng), RATE, "PCM_24"),
        "ir_hall.wav": (make_hall(rng), RATE, "PCM_24"),
        "ir_plate_truestereo_44k.wav": (make_plate(rng), 44_100, "PCM_16"),
    }
    for name, (data, rate, subtype) in outputs.items():
        path = os.path.join(HERE, name)
        report = write(path, data, rate, subtype=subtype)
        size = os.path.getsize(path)
        print(f"{name}: {data.shape[0] / rate:.2f} s x {1 if data.ndim == 1 else data.shape[1]}"
              f" ch at {rate} Hz {subtype}, peak {report.peak_dbfs:+.1f} dBFS, {size} bytes")


if __name__ == "__main__":
    main()
