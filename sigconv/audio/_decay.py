"""Energy decay of an impulse response and the reverberation time read from it.

The energy decay curve (EDC) is Schroeder's backward integral of the squared impulse
response: ``EDC(t) = sum of h[k]**2 for k >= t``, in dB relative to the whole energy
(0 dB at t = 0). It is smooth where the squared IR is noisy, and it falls 60 dB in the
reverberation time RT60.

RT60 is measured the way ISO 3382 describes: a least-squares line through the EDC
between -5 dB and -25 dB (T20) or -35 dB (T30), extrapolated to a 60 dB fall. An IR
whose decay never reaches the lower end of that range gives NaN (documented, not an
error: a dry or very short IR has no measurable RT60), so callers such as the plots
can print "n/a".

There is no noise-floor compensation (no Lundeby truncation): a recorded IR's noise
floor adds its power times its duration to every point of the integral, and the EDC
flattens where the decay's remaining energy falls to that. Measured here on decaying
noise of RT60 0.6 s followed by 3 s of steady noise: a floor 70 dB below the peak
sample power moves T30 by 0.2%, one 50 dB below makes it 12.7 s (the curve flattens
near -30 dB). Cut a recorded IR where its decay meets the noise before measuring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .. import _checks
from .._errors import InputError, InputTypeError

# Fit ranges: (top, bottom) of the EDC in dB.
FITS = {"T20": (-5.0, -25.0), "T30": (-5.0, -35.0)}


@dataclass(frozen=True)
class DecayFit:
    """The line fitted to an energy decay curve, and the RT60 it gives.

    Attributes
    ----------
    rt60 : float
        Seconds for a 60 dB fall along the fitted line; NaN when the curve does not
        reach ``bottom_db``.
    slope : float
        dB per second of the line (negative); NaN with ``rt60``.
    intercept : float
        The line's level at t = 0, in dB.
    start, end : float
        Times (s) where the EDC first falls to ``top_db`` and to ``bottom_db``: the
        span fitted. ``end`` is NaN when never reached.
    fit : str
        ``"T20"`` or ``"T30"``.
    top_db, bottom_db : float
        The fitted range of the curve, in dB.
    """

    rt60: float
    slope: float
    intercept: float
    start: float
    end: float
    fit: str
    top_db: float
    bottom_db: float


def check_rate(samplerate) -> float:
    """A sample rate in Hz as a positive finite float (fractional rates allowed, unlike
    :func:`sigconv.audio._files.check_samplerate`); shared with :mod:`sigconv.plot`."""
    return _checks.number(samplerate, "samplerate", ok=lambda v: v > 0,
                          want="a positive number of Hz")


def _energy(ir: ArrayLike, samplerate) -> tuple[np.ndarray, float]:
    """Squared IR summed over channels, float64, and the validated rate."""
    arr = np.asarray(ir)
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(f"ir must hold real numbers, not dtype {arr.dtype.name!r}")
    if arr.ndim not in (1, 2):
        raise InputError(f"ir must be (frames,) or (frames, channels), not shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"ir is empty (shape {arr.shape})")
    rate = check_rate(samplerate)
    a = arr.astype(np.float64)
    if not np.isfinite(a).all():
        raise InputError("ir contains NaN or infinite samples")
    peak = np.abs(a).max()
    if peak > 0:
        a /= peak                    # scaled first: squares of huge samples cannot overflow
    e = a * a
    if e.ndim == 2:
        e = e.sum(axis=1)
    return e, rate


def decay_curve(ir: ArrayLike, samplerate: float) -> tuple[np.ndarray, np.ndarray]:
    """Schroeder energy decay curve of an impulse response, in dB.

    Parameters
    ----------
    ir : array_like
        ``(frames,)`` or ``(frames, channels)``; the channels' energies are added (the
        decay of the whole sound field the IR carries).
    samplerate : float
        Sample rate in Hz (for the time axis).

    Returns
    -------
    t : numpy.ndarray
        Time of each frame in seconds, ``arange(frames) / samplerate``.
    edc_db : numpy.ndarray
        ``10 * log10(sum(e[k:]) / sum(e))`` with ``e`` the squared IR: 0 dB at the
        start, non-increasing; ``-inf`` where only zeros remain.

    Raises
    ------
    InputError
        Empty, non-finite or silent IR, or a samplerate that is not positive.

    Examples
    --------
    >>> t, db = decay_curve([1.0, 0.0, 0.1, 0.0], 4)
    >>> t
    array([0.  , 0.25, 0.5 , 0.75])
    >>> db.round(2)
    array([  0.  , -20.04, -20.04,   -inf])
    """
    e, rate = _energy(ir, samplerate)
    tail = np.cumsum(e[::-1])[::-1]     # energy from each frame to the end
    total = tail[0]
    if not total > 0:
        raise InputError("ir is silent (all samples are zero): it has no energy decay")
    tail = np.minimum(tail / total, 1.0)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(tail)
    return np.arange(e.size) / rate, db


def decay_fit(ir: ArrayLike, samplerate: float, *, fit: str = "T30") -> DecayFit:
    """Fit a line to the energy decay curve and extrapolate it to -60 dB.

    Parameters
    ----------
    ir : array_like
        ``(frames,)`` or ``(frames, channels)`` impulse response (see :func:`decay_curve`).
    samplerate : float
        Sample rate in Hz.
    fit : {'T30', 'T20'}, optional
        The fitted range of the curve: -5 to -35 dB (T30, default) or -5 to -25 dB
        (T20, for IRs with less decay range).

    Returns
    -------
    DecayFit
        ``rt60`` is NaN when the curve never falls to the range's lower end.

    Examples
    --------
    >>> rate = 1000
    >>> t = np.arange(2 * rate) / rate
    >>> ir = np.random.default_rng(0).standard_normal(t.size) * 10 ** (-3 * t / 1.0)
    >>> f = decay_fit(ir, rate)          # amplitude -60 dB after 1.0 s
    >>> round(f.rt60, 1), f.fit, f.bottom_db
    (1.0, 'T30', -35.0)
    """
    _checks.choice(fit, FITS, "fit")
    return fit_curve(*decay_curve(ir, samplerate), fit)


def fit_curve(t: np.ndarray, db: np.ndarray, fit: str) -> DecayFit:
    """:func:`decay_fit` on a curve :func:`decay_curve` already gave (``fit`` checked by
    the caller): the plot draws the curve and its fit from one computation."""
    top, bottom = FITS[fit]
    below_top = np.flatnonzero(db <= top)
    below_bottom = np.flatnonzero(db <= bottom)
    start = float(t[below_top[0]]) if below_top.size else math.nan
    if not below_bottom.size:
        return DecayFit(math.nan, math.nan, math.nan, start, math.nan, fit, top, bottom)
    i0, i1 = below_top[0], below_bottom[0]
    if i1 - i0 < 2:                 # the range falls within a sample or two: no slope
        i0 = max(0, i1 - 2)
    tt, yy = t[i0:i1 + 1], db[i0:i1 + 1]
    slope, intercept = np.polyfit(tt, yy, 1)
    rt60 = -60.0 / slope if slope < 0 else math.nan
    return DecayFit(float(rt60), float(slope), float(intercept), start, float(t[i1]), fit,
                    top, bottom)


def rt60(ir: ArrayLike, samplerate: float, *, fit: str = "T30") -> float:
    """Reverberation time of an impulse response: seconds to decay by 60 dB.

    Measured on the Schroeder energy decay curve (:func:`decay_curve`) with a line
    fitted between -5 dB and -35 dB (T30) or -25 dB (T20) and extrapolated to -60 dB.

    Parameters
    ----------
    ir : array_like
        ``(frames,)`` or ``(frames, channels)``; channel energies are added.
    samplerate : float
        Sample rate in Hz.
    fit : {'T30', 'T20'}, optional
        The fitted range (see :func:`decay_fit`).

    Returns
    -------
    float
        RT60 in seconds, or NaN when the decay is too short to measure: the energy
        curve never falls to -35 dB (T30) or -25 dB (T20), as for an echo of a few
        loud repeats or a truncated IR. Try ``fit="T20"`` then.

    Raises
    ------
    InputError
        Empty, silent or non-finite IR, unknown ``fit``, samplerate not positive.

    Examples
    --------
    >>> rate = 8000
    >>> t = np.arange(rate) / rate
    >>> ir = np.random.default_rng(1).standard_normal(rate) * np.exp(-6.9078 * t / 0.4)
    >>> round(rt60(ir, rate), 2)
    0.4
    >>> rt60([1.0, 0.5], rate)          # two taps: no 30 dB of decay to fit
    nan
    """
    return decay_fit(ir, samplerate, fit=fit).rt60
