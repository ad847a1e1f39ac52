"""Reverb and echo on arrays: both are one convolution with an *effective* IR.

``reverb(x, h) = dry*x + wet*g*(x conv h)``, the wet part delayed by the pre-delay,
equals ``x conv h_eff`` with ``h_eff = dry*delta + wet*g*shift(h, predelay)`` (the dry
impulse only on the channels that pass a signal straight through; see
``Routing.dry_taps``). Building ``h_eff`` once means the offline and the streaming paths
run exactly the same arithmetic, the dry/wet mix costs no extra pass over the signal,
and echo is the same code with a sparse IR.

IR normalisation default
------------------------
``ir_norm="energy"`` (the default) scales the IR so the wet path has unit power gain
for uncorrelated (noise-like) input: the mean over output channels of the IR energy
reaching each output is 1. With it, swapping a small room for a hall leaves the
loudness of the wet signal roughly where it was, and ``wet=0.35`` means the reverb
sits about 9 dB below the dry signal whatever IR is loaded. ``"peak"`` scales the
largest tap to 1, which makes long, dense IRs much louder than short ones (a 3 s hall
comes out 20-30 dB hotter than a small room); ``"none"`` uses the IR as recorded,
whose gain is arbitrary. pedalboard's fixed -18 dB normalisation is what users
complain about when IRs change; energy normalisation is the level-preserving choice.
One gain is used for all IR channels, so the balance between them is kept.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .. import _checks
from .._errors import InputError, InputTypeError
from ._routing import Routing, convolve_routed, route

IR_NORMS = ("energy", "peak", "none")
DEFAULT_IR_NORM = "energy"
MAX_ECHO_REPEATS = 1000


def as_audio(x, name: str) -> tuple[np.ndarray, bool]:
    """``x`` as a float ``(frames, channels)`` array, and whether it was 1-D.

    float32 stays float32; other real numbers become float64.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must be real numbers, not dtype {arr.dtype.name!r}")
    if arr.dtype.kind != "f" or arr.dtype.itemsize > 8:
        arr = arr.astype(np.float64)
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    was_1d = arr.ndim == 1
    if was_1d:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name} must be (frames, channels) or 1-D, not shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    # NaN propagates through max and min, inf shows up in one of them: two passes over
    # the samples and no temporary, where isfinite(arr).all() would allocate a mask.
    if not (math.isfinite(arr.max()) and math.isfinite(arr.min())):
        raise InputError(f"{name} contains NaN or infinite samples")
    return arr, was_1d


def resample(x, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample audio along its first axis with a polyphase filter.

    Uses :func:`scipy.signal.resample_poly` with the exact rational ratio (e.g.
    44100 -> 48000 is up 160, down 147), which applies a Kaiser-windowed anti-aliasing
    filter.

    Parameters
    ----------
    x : array_like
        ``(frames, channels)`` or 1-D.
    orig_rate, target_rate : int
        Sample rates in Hz.

    Returns
    -------
    numpy.ndarray
        The resampled signal, same dtype family and channel layout.

    Examples
    --------
    >>> resample(np.ones(441), 44100, 48000).shape
    (480,)
    """
    arr = np.asarray(x)
    for name, rate in (("orig_rate", orig_rate), ("target_rate", target_rate)):
        _checks.number(rate, name, ok=lambda v: v > 0 and v.is_integer(),
                       want="a positive whole number of Hz")
    ratio = Fraction(int(target_rate), int(orig_rate))
    if ratio == 1:
        return arr.copy()
    from scipy.signal import resample_poly  # imported here: scipy.signal takes ~1 s to load

    y = resample_poly(arr, ratio.numerator, ratio.denominator, axis=0)
    return y.astype(np.result_type(arr.dtype, np.float32), copy=False)


def ir_gain(ir: np.ndarray, routing: Routing, norm: str) -> float:
    """The gain ``ir_norm`` applies to ``ir`` (see the module notes on the default)."""
    _checks.choice(norm, IR_NORMS, "ir_norm", ordered=True)
    if norm == "none":
        return 1.0
    level = (math.sqrt(routing.output_energy(ir)) if norm == "energy"
             else float(np.max(np.abs(ir))))
    if level == 0.0:
        raise InputError("the IR is silent (all samples are zero); it cannot be normalised "
                         "(use ir_norm='none' to get silence)")
    return 1.0 / level


def effective_ir(ir: np.ndarray, routing: Routing, *, wet: float, dry: float,
                 predelay_frames: int, norm: str, dtype: np.dtype) -> np.ndarray:
    """``dry*delta + wet*gain*shift(ir, predelay)``, ``(predelay + taps, ir_channels)``."""
    gain = ir_gain(ir, routing, norm)
    h = np.zeros((predelay_frames + ir.shape[0], ir.shape[1]), dtype=dtype)
    np.multiply(ir, wet * gain, out=h[predelay_frames:], casting="unsafe")
    if dry:
        h[0, routing.dry_taps()] += dry
    return h


def _check_level(value, name: str) -> float:
    return _checks.number(value, name, ok=lambda v: abs(v) <= 100.0,
                          want="finite and within [-100, 100]")


def predelay_to_frames(predelay_ms, samplerate) -> int:
    """Pre-delay in whole frames (rounded), validated."""
    ms = _checks.number(predelay_ms, "predelay_ms", ok=lambda v: 0 <= v <= 10_000,
                        want="between 0 and 10000")
    if ms == 0:
        return 0
    if samplerate is None:
        raise InputError("a pre-delay needs the samplerate")
    return round(ms * 1e-3 * samplerate)


def prepare_reverb(x_channels: int, ir, *, samplerate=None, ir_samplerate=None,
                   wet=0.35, dry=1.0, predelay_ms=0.0, ir_norm=DEFAULT_IR_NORM,
                   dtype=np.float64) -> tuple[np.ndarray, Routing]:
    """Validate the options and build the effective IR for an ``x_channels`` signal."""
    h, _ = as_audio(ir, "ir")
    wet = _check_level(wet, "wet")
    dry = _check_level(dry, "dry")
    if samplerate is not None and ir_samplerate is not None and ir_samplerate != samplerate:
        h = resample(h, ir_samplerate, samplerate)
    routing = route(x_channels, h.shape[1])
    pre = predelay_to_frames(predelay_ms, samplerate)
    return effective_ir(h, routing, wet=wet, dry=dry, predelay_frames=pre, norm=ir_norm,
                        dtype=dtype), routing


def reverb(x, ir, *, samplerate: int | None = None, ir_samplerate: int | None = None,
           wet: float = 0.35, dry: float = 1.0, predelay_ms: float = 0.0,
           ir_norm: str = DEFAULT_IR_NORM, tail: bool = True,
           workers: int | None = None) -> np.ndarray:
    """Convolution reverb: ``dry*x + wet*(x conv IR)``, the wet part after a pre-delay.

    Parameters
    ----------
    x : array_like
        The dry signal, ``(frames, channels)`` or 1-D mono. float32 stays float32.
    ir : array_like
        Impulse response, ``(taps, ir_channels)`` or 1-D. Routing by channel counts: a
        mono IR on every channel; an N-channel IR on an N-channel input channel by
        channel; a stereo IR on a mono input gives stereo; a 4-channel IR on a stereo
        (or mono, fed to both sides) input is true stereo with channels LL, LR, RL, RR.
        Anything else raises.
    samplerate, ir_samplerate : int, optional
        Rates of ``x`` and ``ir``; when both are given and differ the IR is resampled
        to ``samplerate``. ``samplerate`` is needed for a pre-delay.
    wet, dry : float, optional
        Gains of the reverberated and the direct signal (defaults 0.35 and 1.0).
    predelay_ms : float, optional
        Delay of the wet signal in milliseconds (rounded to whole frames).
    ir_norm : {"energy", "peak", "none"}, optional
        IR normalisation. The default, ``"energy"``, gives the wet path unit power gain
        for noise-like input so changing IRs does not jump the volume (see
        ``sigconv.audio._effects`` for the reasoning); ``"peak"`` scales the largest tap
        to 1; ``"none"`` uses the IR as is.
    tail : bool, optional
        Keep the reverb tail (default): the output has ``frames + predelay + taps - 1``
        frames. False cuts it to the input length.
    workers : int, optional
        Threads for the engine's FFTs.

    Returns
    -------
    numpy.ndarray
        ``(out_frames, out_channels)``; 1-D when ``x`` was 1-D and the output is mono.
        float32 if both inputs are float32, else float64. Values are not clipped.

    Examples
    --------
    >>> reverb([1.0, 0.0, 0.0], [0.0, 1.0], wet=0.5, ir_norm="none")
    array([1. , 0.5, 0. , 0. ])
    """
    xs, x_1d = as_audio(x, "x")
    ir_arr = np.asarray(ir)
    dtype = np.result_type(xs.dtype, ir_arr.dtype if ir_arr.dtype.kind == "f" else np.float64)
    h, routing = prepare_reverb(xs.shape[1], ir_arr, samplerate=samplerate,
                                ir_samplerate=ir_samplerate, wet=wet, dry=dry,
                                predelay_ms=predelay_ms, ir_norm=ir_norm, dtype=dtype)
    return _finish(convolve_routed(xs.astype(dtype, copy=False), h, routing, workers=workers),
                   xs.shape[0], tail, x_1d)


def echo_ir(samplerate: int, *, delay: float, decay: float = 0.5, repeats: int = 4,
            dtype=np.float64) -> np.ndarray:
    """The sparse IR of an echo: 1 at time 0, ``decay**k`` at ``k*delay``, k = 1..repeats.

    Parameters
    ----------
    samplerate : int
        Sample rate in Hz.
    delay : float
        Seconds between repeats; at least one frame.
    decay : float, optional
        Gain of each repeat relative to the previous one, in [0, 1].
    repeats : int, optional
        Number of echoes after the direct sound (1 to 1000).
    dtype : dtype, optional
        float32 or float64.

    Returns
    -------
    numpy.ndarray
        1-D, ``repeats*round(delay*samplerate) + 1`` taps.

    Examples
    --------
    >>> echo_ir(4, delay=0.5, decay=0.5, repeats=2)
    array([1.  , 0.  , 0.5 , 0.  , 0.25])
    """
    try:
        delay, decay = float(delay), float(decay)
    except (TypeError, ValueError):
        raise InputTypeError(f"delay and decay must be numbers, not {delay!r}, {decay!r}") from None
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise InputTypeError(f"repeats must be an integer, not {repeats!r}")
    if not 1 <= repeats <= MAX_ECHO_REPEATS:
        raise InputError(f"repeats must be between 1 and {MAX_ECHO_REPEATS}, not {repeats!r}")
    if not math.isfinite(decay) or not 0.0 <= decay <= 1.0:
        raise InputError(f"decay must be between 0 and 1, not {decay!r}")
    step = round(delay * samplerate) if math.isfinite(delay) else 0
    if not math.isfinite(delay) or delay <= 0 or step < 1 or delay > 60:
        raise InputError(f"delay must be between one frame (1/{samplerate} s) and 60 s, "
                         f"not {delay!r}")
    h = np.zeros(repeats * step + 1, dtype=dtype)
    h[::step] = decay ** np.arange(repeats + 1)
    return h


def echo(x, samplerate: int, *, delay: float, decay: float = 0.5, repeats: int = 4,
         tail: bool = True, workers: int | None = None) -> np.ndarray:
    """Echo: the signal plus ``repeats`` copies, each ``delay`` s later and ``decay`` softer.

    The sparse IR from :func:`echo_ir` goes through the same engine as reverb (two
    spikes make an echo), applied to every channel.

    Parameters
    ----------
    x : array_like
        ``(frames, channels)`` or 1-D mono.
    samplerate : int
        Sample rate of ``x`` in Hz.
    delay, decay, repeats
        See :func:`echo_ir`.
    tail : bool, optional
        Keep the last echoes past the input's end (default); False cuts to the input length.
    workers : int, optional
        Threads for the engine's FFTs.

    Returns
    -------
    numpy.ndarray
        Same layout and float dtype as ``x``; ``frames + repeats*delay`` frames with tail.

    Examples
    --------
    >>> echo([1.0, 0.0], 2, delay=0.5, decay=0.5, repeats=2)
    array([1.  , 0.5 , 0.25, 0.  ])
    """
    xs, x_1d = as_audio(x, "x")
    h = echo_ir(samplerate, delay=delay, decay=decay, repeats=repeats, dtype=xs.dtype)
    routing = route(xs.shape[1], 1)
    return _finish(convolve_routed(xs, h[:, None], routing, workers=workers),
                   xs.shape[0], tail, x_1d)


def _finish(y: np.ndarray, frames: int, tail: bool, x_1d: bool) -> np.ndarray:
    if not tail:
        y = y[:frames]
    if x_1d and y.shape[1] == 1:
        y = y[:, 0]
    return y
