"""The picture of an audio effect: dry and wet waveforms, their spectrograms, and the
impulse response with its energy decay curve and RT60."""

from __future__ import annotations

import math
import os

import numpy as np
from numpy.typing import ArrayLike

from .. import audio as _audio
from .._errors import InputError, InputTypeError
from ..audio._decay import check_rate, fit_curve
from ._common import check_path, save
from ._mpl import pyplot

# Spectrogram: frames at most this many (the hop grows with the signal), levels drawn
# down to this far below the loudest cell.
_MAX_FRAMES = 600
_FLOOR_DB = 90.0
# Waveforms longer than this many samples are drawn as their min/max per column.
_ENVELOPE_COLUMNS = 1500


def audio(dry: ArrayLike, wet: ArrayLike, samplerate: float, path: str | os.PathLike, *,
          ir: ArrayLike | None = None, title: str | None = None) -> str:
    """Draw what an effect did to a sound and write the picture to ``path``.

    Top row: the dry and wet waveforms on one time and level scale (so a reverb tail
    shows as the wet signal running on). Middle row: their spectrograms, on one
    colour scale in dB below the loudest cell of either. Bottom row, when ``ir`` is
    given: the impulse response (a sparse one, an echo's, as stems with their
    values), and its Schroeder energy decay curve with the T30 line fit and the
    RT60 it gives (:func:`sigconv.audio.decay_fit`; T20 when the curve falls less
    than 35 dB, "n/a" when it falls less than 25 dB).

    Multi-channel signals are drawn as their mid signal (the mean of the channels),
    which the panel titles say; the decay curve adds the energies of all IR channels.

    Parameters
    ----------
    dry, wet : array_like
        ``(frames,)`` or ``(frames, channels)`` audio, full scale 1.0, as
        :func:`sigconv.audio.read` returns.
    samplerate : float
        Rate of ``dry``, ``wet`` and ``ir`` in Hz (resample the IR first if its file
        had another rate).
    path : str or os.PathLike
        The picture, ``.png``, ``.svg`` or ``.pdf``; written atomically, overwritten
        if it exists.
    ir : array_like, optional
        The impulse response, ``(taps,)`` or ``(taps, channels)``.
    title : str, optional
        Title of the figure (default: "dry and wet").

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    InputError, InputTypeError
        Empty, non-finite or non-numeric signals, a bad sample rate or path.
    sigconv.MissingExtraError
        matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sigconv import audio as sa, plot
    >>> rate = 8000
    >>> dry = np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate) * 0.5
    >>> t = np.arange(rate // 2)
    >>> ir = np.random.default_rng(0).standard_normal(t.size) * np.exp(-t / 400)
    >>> wet = sa.reverb(dry, ir)
    >>> out = plot.audio(dry, wet, rate, os.path.join(tempfile.mkdtemp(), "wet.png"), ir=ir)
    >>> os.path.getsize(out) > 10_000
    True
    """
    check_path(path)                  # before drawing: a bad name fails fast
    fig = _figure(dry, wet, samplerate, ir=ir, title=title)
    return save(fig, path)


def audio_files(dry: str | os.PathLike, wet: str | os.PathLike, path: str | os.PathLike, *,
                ir: str | os.PathLike | ArrayLike | None = None,
                title: str | None = None) -> str:
    """:func:`audio` from files: the dry input, the rendered output and the IR.

    The files are read whole (as float32 for subtypes of 24 bits and fewer, else
    float64), so long renders need the memory for both.

    Parameters
    ----------
    dry, wet : str or os.PathLike
        Audio files at the same sample rate (any format :func:`sigconv.audio.read`
        reads).
    path : str or os.PathLike
        The picture, ``.png``, ``.svg`` or ``.pdf``; written atomically.
    ir : str, os.PathLike or array_like, optional
        An impulse response file, resampled to the dry file's rate when its own
        differs (as ``sigconv reverb`` does), or an IR array at the dry file's rate
        (``sigconv echo`` passes :func:`sigconv.audio.echo_ir`).
    title : str, optional
        Title of the figure.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sigconv import audio as sa, plot
    >>> d = tempfile.mkdtemp()
    >>> x = np.zeros(4000); x[100] = 0.5
    >>> _ = sa.write(os.path.join(d, "dry.wav"), x, 8000)
    >>> h = sa.echo_ir(8000, delay=0.05, decay=0.5, repeats=3)
    >>> _ = sa.write(os.path.join(d, "wet.wav"), sa.echo(x, 8000, delay=0.05), 8000)
    >>> out = plot.audio_files(os.path.join(d, "dry.wav"), os.path.join(d, "wet.wav"),
    ...                        os.path.join(d, "echo.png"), ir=h)
    >>> os.path.basename(out)
    'echo.png'
    """
    x, rate = _audio.read(dry, dtype=None)
    y, wet_rate = _audio.read(wet, dtype=None, what="output")
    if wet_rate != rate:
        raise InputError(f"{os.fspath(wet)!r} is at {wet_rate} Hz, {os.fspath(dry)!r} at "
                         f"{rate} Hz: the two must share one rate")
    if isinstance(ir, (str, os.PathLike)):
        h, ir_rate = _audio.read(ir, dtype=None, what="IR")
        if ir_rate != rate:
            h = _audio.resample(h, ir_rate, rate)
    else:
        h = ir
    return audio(x, y, rate, path, ir=h, title=title)


# --------------------------------------------------------------------------- building


def _signal(x: ArrayLike, name: str) -> tuple[np.ndarray, str]:
    """The 1-D signal drawn for ``x`` and a note saying what it is."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must hold real numbers, not dtype {arr.dtype.name!r}")
    if arr.ndim not in (1, 2) or arr.size == 0:
        raise InputError(f"{name} must be a non-empty (frames,) or (frames, channels) array, "
                         f"not shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or infinite samples")
    if arr.ndim == 1 or arr.shape[1] == 1:
        return arr.reshape(-1), "mono"
    return arr.mean(axis=1), f"mid of {arr.shape[1]} channels"


def _figure(dry, wet, samplerate, *, ir=None, title=None):
    """The Figure :func:`audio` saves (tests look at its artists)."""
    rate = check_rate(samplerate)
    d, d_note = _signal(dry, "dry")
    w, w_note = _signal(wet, "wet")
    h = None
    if ir is not None:
        h, h_note = _signal(ir, "ir")
        t_edc, edc = _audio.decay_curve(ir, rate)  # validates and refuses a silent IR
        fit = fit_curve(t_edc, edc, "T30")         # as decay_fit, on the curve drawn
        if not math.isfinite(fit.rt60):           # less than 35 dB of decay: try T20
            fit = fit_curve(t_edc, edc, "T20")
    plt = pyplot()
    rows = 3 if h is not None else 2
    fig = plt.figure(figsize=(12, 3.1 * rows + 0.6), layout="constrained")
    grid = fig.add_gridspec(rows, 3, width_ratios=[1, 1, 0.04])
    fig.suptitle(title or "dry and wet", fontsize=14, fontweight="bold")

    # Waveforms on one time and level scale.
    span = max(d.size, w.size) / rate
    top = max(np.abs(d).max(), np.abs(w).max(), 1e-12) * 1.05
    ax_d = fig.add_subplot(grid[0, 0])
    ax_w = fig.add_subplot(grid[0, 1], sharex=ax_d, sharey=ax_d)
    for ax, x, label, note, colour in ((ax_d, d, "dry", d_note, "tab:blue"),
                                       (ax_w, w, "wet", w_note, "tab:orange")):
        _waveform(ax, x, rate, colour, label=label if ax is ax_w else None)
        ax.set_title(f"{label} waveform ({note}, {x.size / rate:.2f} s)")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude (full scale 1)")
        ax.grid(alpha=0.3)
    # The dry signal drawn over the wet one: what the effect added shows in orange.
    _waveform(ax_w, d, rate, "0.55", label="dry, drawn over it")
    ax_w.legend(loc="lower right", fontsize=9)
    ax_d.set_xlim(0, span)
    ax_d.set_ylim(-top, top)
    if w.size > d.size:
        ax_w.axvline(d.size / rate, color="0.3", ls=":", lw=1)
        ax_w.annotate("end of dry", (d.size / rate, top * 0.92), xytext=(4, 0),
                      textcoords="offset points", fontsize=9, color="0.3", va="top")

    # Spectrograms on one colour scale.
    specs = [_spectrogram(x, rate) for x in (d, w)]
    ref = max(s[2].max() for s in specs)
    ax_sd = fig.add_subplot(grid[1, 0], sharex=ax_d)
    ax_sw = fig.add_subplot(grid[1, 1], sharex=ax_d, sharey=ax_sd)
    mesh = None
    for ax, (t, f, power), label in ((ax_sd, specs[0], "dry"), (ax_sw, specs[1], "wet")):
        with np.errstate(divide="ignore"):
            level = 10 * np.log10(power / ref) if ref > 0 else np.full_like(power, -_FLOOR_DB)
        level = np.maximum(level, -_FLOOR_DB)
        mesh = ax.pcolormesh(t, f[1:], level[1:], shading="nearest", cmap="magma",
                             vmin=-_FLOOR_DB, vmax=0, rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(max(f[1], 20.0), f[-1])
        ax.set_title(f"{label} spectrogram")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
    bar = fig.colorbar(mesh, cax=fig.add_subplot(grid[1, 2]))
    bar.set_label("dB below loudest")

    if h is not None:
        ax_h = fig.add_subplot(grid[2, 0])
        nonzero = np.flatnonzero(h)
        if nonzero.size <= 64 and nonzero.size <= h.size // 20:   # sparse: an echo's taps
            ax_h.vlines(nonzero / rate, 0, h[nonzero], color="tab:green", lw=1.5)
            ax_h.plot(nonzero / rate, h[nonzero], "o", color="tab:green", ms=6)
            ax_h.axhline(0, color="0.5", lw=0.8)
            for i in nonzero[:12]:
                ax_h.annotate(f"{h[i]:.3g}", (i / rate, h[i]), xytext=(5, 3),
                              textcoords="offset points", fontsize=9)
        else:
            _waveform(ax_h, h, rate, "tab:green")
        ax_h.set_xlim(-0.02 * h.size / rate, 1.02 * h.size / rate)
        ax_h.set_title(f"impulse response ({h_note}, {h.size / rate:.2f} s)")
        ax_h.set_xlabel("time (s)")
        ax_h.set_ylabel("amplitude")
        ax_h.grid(alpha=0.3)
        ax_e = fig.add_subplot(grid[2, 1])
        _decay(ax_e, t_edc, edc, fit, h.size / rate)
    return fig


def _waveform(ax, x: np.ndarray, rate: float, colour: str, label: str | None = None) -> None:
    """A waveform; long ones as the min/max envelope of each column (what a line of
    every sample would show, without drawing millions of points)."""
    n = x.size
    if n <= 4 * _ENVELOPE_COLUMNS:
        ax.plot(np.arange(n) / rate, x, color=colour, lw=0.8, label=label)
        return
    per = -(-n // _ENVELOPE_COLUMNS)
    padded = np.concatenate([x, np.full(per * _ENVELOPE_COLUMNS - n, x[-1])])
    cols = padded.reshape(_ENVELOPE_COLUMNS, per)
    t = (np.arange(_ENVELOPE_COLUMNS) * per + per / 2) / rate
    ax.fill_between(t, cols.min(axis=1), cols.max(axis=1), color=colour, lw=0.4,
                    edgecolor=colour, label=label)


def _spectrogram(x: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (frame centres, s), frequencies (Hz) and power (frequency x time), from a
    Hann-windowed short-time FFT of about 40 ms frames."""
    nfft = int(2 ** max(6, round(math.log2(rate * 0.04))))
    if x.size < nfft:
        x = np.concatenate([x, np.zeros(nfft - x.size)])
    hop = max(nfft // 4, -(-(x.size - nfft) // _MAX_FRAMES))
    count = 1 + (x.size - nfft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[::hop][:count]
    window = np.hanning(nfft)
    power = np.abs(np.fft.rfft(frames * window, axis=1)).T ** 2
    t = (np.arange(count) * hop + nfft / 2) / rate
    f = np.fft.rfftfreq(nfft, 1 / rate)
    if count == 1:                  # one frame: give it a width, from 0 to its end
        t = np.array([0.0, nfft / rate])
        power = np.repeat(power, 2, axis=1)
    return t, f, power


def _decay(ax, t: np.ndarray, edc: np.ndarray, fit, length: float) -> None:
    """Energy decay curve, the fitted line to -60 dB, and the RT60 written on it."""
    finite = np.isfinite(edc)
    bottom = max(-100.0, min(-65.0, float(edc[finite].min()) - 5))
    ax.plot(t[finite], edc[finite], color="tab:green", lw=1.6, label="energy decay (Schroeder)")
    if math.isfinite(fit.rt60):
        span = (t >= fit.start) & (t <= fit.end)
        ax.plot(t[span], edc[span], color="tab:red", lw=3.5, alpha=0.5,
                label=f"{fit.fit} fit range ({fit.top_db:g} to {fit.bottom_db:g} dB)")
        t_line = np.array([0.0, fit.rt60 + fit.intercept / -fit.slope])
        ax.plot(t_line, fit.intercept + fit.slope * t_line, "--", color="tab:red", lw=1.2,
                label=f"line fit, {fit.slope:.1f} dB/s")
        ax.axhline(-60, color="0.4", lw=0.8, ls=":")
        text = f"RT60 ≈ {fit.rt60:.2f} s ({fit.fit})"
        x_end = max(length, t_line[-1] * 1.05)
    else:
        text = f"RT60: n/a (decay shorter than {-fit.bottom_db:g} dB)"
        x_end = length
    ax.text(0.97, 0.95 if math.isfinite(fit.rt60) else 0.5, text, transform=ax.transAxes,
            ha="right", va="top", fontsize=13,
            fontweight="bold", bbox=dict(boxstyle="round", fc="white", ec="tab:red"))
    ax.set_xlim(0, x_end)
    ax.set_ylim(bottom, 3)
    ax.set_title("energy decay curve of the impulse response")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("level (dB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)
