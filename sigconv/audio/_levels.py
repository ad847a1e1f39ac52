"""Levels: peak measurement, normalisation gain, TPDF dither and counted clipping.

Everything that turns floating-point audio into the numbers a file stores goes through
:class:`Quantizer`, so the offline writer and the streaming writer agree sample for
sample. Integer subtypes are quantised here rather than by libsndfile, because
libsndfile's float-to-integer conversion does not clip by default (a sample above full
scale wraps round to the other rail) and would do so silently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .._errors import InputError

# Bits of the integer PCM subtypes; samples of these are quantised by us (see module doc).
PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
# Subtypes that store floating point: values above full scale are kept, not clipped.
FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
# Integer subtypes that get TPDF dither by default (16 bits or fewer: at 24 bits and more
# the rounding error is already below any converter's noise floor).
DITHER_MAX_BITS = 16

_DBFS = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:dbfs|db)?\s*$", re.IGNORECASE)


def parse_dbfs(text: str | float) -> float:
    """A level in dBFS from ``-1``, ``"-1"``, ``"-1dB"`` or ``"-1dBFS"``.

    Parameters
    ----------
    text : str or float
        The level; must be finite and at most +6 dBFS.

    Returns
    -------
    float
        The level in dBFS.

    Examples
    --------
    >>> parse_dbfs("-1dBFS")
    -1.0
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _DBFS.match(str(text))
        if match is None:
            raise InputError(f"level must look like '-1dBFS' or '-0.5', not {text!r}")
        value = float(match.group(1))
    if not math.isfinite(value) or value > 6.0:
        raise InputError(f"target level must be finite and at most +6 dBFS, not {text!r}")
    return value


def peak_of(block: np.ndarray) -> float:
    """Largest absolute sample value of ``block`` (0.0 for an empty block), without a temporary."""
    if block.size == 0:
        return 0.0
    return float(max(block.max(), -block.min()))


def to_dbfs(peak: float) -> float:
    """``20 log10(peak)``, ``-inf`` for silence."""
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def normalize_gain(peak: float, target_dbfs: float, subtype: str | None = None,
                   dither: bool | None = None) -> float:
    """The gain that brings ``peak`` to ``target_dbfs`` (1.0 for silence). For an integer
    ``subtype`` the target is capped at the largest level it holds without clipping,
    dither included: 0 dBFS is 32768 in 16 bits, one step above the top code 32767."""
    if peak <= 0 or not math.isfinite(peak):
        return 1.0
    level = 10.0 ** (target_dbfs / 20.0)
    bits = PCM_BITS.get(subtype) if subtype is not None else None
    if bits is not None:
        if dither is None:
            dither = bits <= DITHER_MAX_BITS
        scale = 2.0 ** (bits - 1)
        level = min(level, (scale - (2.0 if dither else 1.0)) / scale)
    return level / peak


@dataclass(frozen=True)
class LevelReport:
    """What happened to the levels when audio was written.

    Attributes
    ----------
    peak : float
        Largest absolute sample value written, before quantisation (1.0 is full scale).
    clipped : int
        Number of samples (frames x channels) clipped to full scale; always 0 for
        floating-point subtypes, which keep values above full scale.
    subtype : str
        The subtype written.
    dithered : bool
        Whether TPDF dither was added before rounding.
    gain : float
        Gain applied before writing (1.0 unless normalising).
    """

    peak: float
    clipped: int
    subtype: str
    dithered: bool
    gain: float = 1.0

    @property
    def peak_dbfs(self) -> float:
        """The peak in dBFS (``-inf`` for silence)."""
        return to_dbfs(self.peak)


class Quantizer:
    """Convert float blocks to what a file of ``subtype`` stores, counting clipped samples.

    Integer PCM subtypes are scaled by ``2**(bits-1)`` (the scale libsndfile reads them
    with, so a read-write round trip without dither is exact), optionally dithered with
    TPDF noise of +-1 LSB, rounded, clipped and returned as ``int32`` at full 32-bit scale
    (libsndfile keeps the top ``bits`` bits exactly). Float subtypes pass through. Other
    codecs (A-law, u-law, ADPCM, Vorbis, ...) get float samples clipped to [-1, 1].

    Parameters
    ----------
    subtype : str
        The libsndfile subtype of the output.
    dither : bool or None, optional
        Add TPDF dither before rounding; None (default) dithers integer subtypes of
        16 bits or fewer.
    gain : float, optional
        Gain applied to every block first.
    seed : int, optional
        Seed of the dither noise, so output files are reproducible.
    """

    def __init__(self, subtype: str, *, dither: bool | None = None, gain: float = 1.0,
                 seed: int = 0) -> None:
        self.subtype = subtype
        self.bits = PCM_BITS.get(subtype)
        if dither is None:
            dither = self.bits is not None and self.bits <= DITHER_MAX_BITS
        self.dither = bool(dither) and self.bits is not None
        self.gain = float(gain)
        self.peak = 0.0
        self.clipped = 0
        self._rng = np.random.default_rng(seed)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The samples to hand to ``SoundFile.write`` for ``block`` (frames, channels)."""
        if self.gain != 1.0:
            block = block * np.asarray(self.gain, dtype=block.dtype)
        self.peak = max(self.peak, peak_of(block))
        if self.subtype in FLOAT_SUBTYPES:
            return block
        if self.bits is None:  # lossy or companded codecs: clip to full scale, counting
            over = np.count_nonzero(np.abs(block) > 1.0)
            if over:
                self.clipped += int(over)
                block = np.clip(block, -1.0, 1.0)
            return block
        return self._to_int(block)

    def _to_int(self, block: np.ndarray) -> np.ndarray:
        scale = float(2 ** (self.bits - 1))
        # float32 holds 24-bit integers exactly; 32-bit output needs float64 arithmetic.
        work = np.float64 if self.bits > 24 else np.result_type(block.dtype, np.float32)
        y = np.multiply(block, scale, dtype=work)
        if self.dither:  # TPDF: the sum of two independent uniform(-0.5, 0.5) LSB
            noise = self._rng.random(y.shape, dtype=np.float32 if work == np.float32 else None)
            noise -= self._rng.random(y.shape, dtype=noise.dtype)
            y += noise
        np.rint(y, out=y)
        lo, hi = -scale, scale - 1.0
        over = np.count_nonzero(y > hi) + np.count_nonzero(y < lo)
        if over:
            self.clipped += int(over)
            np.clip(y, lo, hi, out=y)
        q = y.astype(np.int32)
        if self.bits < 32:
            q <<= 32 - self.bits
        return q

    def report(self) -> LevelReport:
        """The levels seen so far."""
        return LevelReport(peak=self.peak, clipped=self.clipped, subtype=self.subtype,
                           dithered=self.dither, gain=self.gain)
