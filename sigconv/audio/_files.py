"""Reading and writing audio files with soundfile, with errors that name the file.

Only this module imports soundfile (``_render`` streams through its helpers).
Every failure becomes a :class:`~sigconv.FileFormatError` or
:class:`~sigconv.InputError` whose one-line message quotes the path or value.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from .. import _checks
from .._errors import FileFormatError, InputError, InputTypeError
from ._levels import FLOAT_SUBTYPES, LevelReport, Quantizer

# Output format from the file extension.
EXTENSION_FORMATS = {
    ".wav": "WAV", ".wave": "WAV", ".rf64": "RF64", ".w64": "W64", ".flac": "FLAC",
    ".ogg": "OGG", ".oga": "OGG", ".aif": "AIFF", ".aiff": "AIFF", ".aifc": "AIFF",
    ".caf": "CAF", ".au": "AU",
}
_WAV_FAMILY = frozenset({"WAV", "WAVEX", "RF64"})
_HIGH_RES = frozenset({"PCM_24", "PCM_32", "FLOAT", "DOUBLE"})
# A plain RIFF WAV cannot hold more than 4 GiB of samples; above this, write RF64.
_WAV_LIMIT_BYTES = 2**32 - 2**20
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                 "FLOAT": 4, "DOUBLE": 8}


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, from its header.

    Attributes
    ----------
    path : str
    frames, samplerate, channels : int
    format, subtype : str
        libsndfile names, e.g. ``"WAV"`` and ``"PCM_16"``.
    """

    path: str
    frames: int
    samplerate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate


def work_dtype(subtype: str) -> np.dtype:
    """The float dtype that holds samples of ``subtype`` without loss (float32 up to 24 bits)."""
    return np.dtype(np.float64 if subtype in ("PCM_32", "DOUBLE") else np.float32)


def open_input(path: str | os.PathLike, *, what: str = "input") -> sf.SoundFile:
    """Open ``path`` for reading after checking it exists, decodes, is whole and not empty."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileFormatError(f"{what} {path!r} does not exist")
    if os.path.isdir(path):
        raise FileFormatError(f"{what} {path!r} is a directory, not an audio file")
    try:
        handle = sf.SoundFile(path)
    except sf.LibsndfileError as exc:
        raise FileFormatError(f"{what} {path!r} is not a readable audio file "
                              f"({_reason(exc)})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as exc:
        raise FileFormatError(f"{what} {path!r} is not a readable audio file ({exc})") from None
    try:
        _check_declared_length(path, handle.format, what)
        if handle.frames <= 0:
            raise InputError(f"{what} {path!r} holds no audio frames")
    except BaseException:
        handle.close()
        raise
    return handle


def info(path: str | os.PathLike, *, what: str = "input") -> AudioInfo:
    """Header information of an audio file.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str, optional
        How error messages name the file (``"input"``, ``"IR"``).

    Returns
    -------
    AudioInfo

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.flac")
    >>> _ = write(path, np.zeros((4410, 2)), 44100, subtype="PCM_24")
    >>> got = info(path)
    >>> got.channels, got.samplerate, got.subtype, got.duration
    (2, 44100, 'PCM_24', 0.1)
    """
    with open_input(path, what=what) as handle:
        return _info_of(handle, os.fspath(path))


def _info_of(handle: sf.SoundFile, path: str) -> AudioInfo:
    return AudioInfo(path=path, frames=int(handle.frames), samplerate=int(handle.samplerate),
                     channels=int(handle.channels), format=handle.format,
                     subtype=handle.subtype)


def read(path: str | os.PathLike, *, dtype: str | np.dtype | None = "float64",
         always_2d: bool = False, what: str = "input") -> tuple[np.ndarray, int]:
    """Read a whole audio file as floating point.

    Parameters
    ----------
    path : str or path-like
        WAV (incl. WAVEX, RF64), FLAC, OGG/Vorbis, AIFF, or any format libsndfile reads.
    dtype : {"float64", "float32"} or None, optional
        Sample type; None picks float32 for subtypes of 24 bits or fewer, else float64.
        Full scale is 1.0.
    always_2d : bool, optional
        Return ``(frames, 1)`` for mono instead of a 1-D array.
    what : str, optional
        How error messages name the file.

    Returns
    -------
    data : numpy.ndarray
        ``(frames, channels)``, or 1-D for mono unless ``always_2d``.
    samplerate : int

    Raises
    ------
    FileFormatError
        Missing, not audio, truncated or undecodable.
    InputError
        The file holds no frames.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.wav")
    >>> _ = write(path, np.array([[0.5, -0.25]]), 8000, subtype="PCM_16", dither=False)
    >>> read(path)
    (array([[ 0.5 , -0.25]]), 8000)
    """
    with open_input(path, what=what) as handle:
        if dtype is None:
            dtype = work_dtype(handle.subtype)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise InputTypeError(f"dtype must be float32 or float64, not {dtype.name!r}")
        data = read_block(handle, handle.frames, dtype, path, what=what)
        rate, frames = int(handle.samplerate), int(handle.frames)
    if data.shape[0] != frames:
        raise FileFormatError(f"{what} {os.fspath(path)!r} is truncated: header promises "
                              f"{frames} frames, {data.shape[0]} could be read")
    if not always_2d and data.shape[1] == 1:
        data = data[:, 0]
    return data, rate


def read_block(handle: sf.SoundFile, frames: int, dtype, path, *, out=None,
               what: str = "input") -> np.ndarray:
    """Up to ``frames`` frames from an open file as ``(frames, channels)``."""
    try:
        if out is not None:
            return handle.read(frames, dtype=dtype.name, always_2d=True, out=out[:frames])
        return handle.read(frames, dtype=dtype.name, always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise FileFormatError(f"{what} {os.fspath(path)!r} could not be decoded "
                              f"({_reason(exc)})") from None


def write(path: str | os.PathLike, data, samplerate: int, *, subtype: str | None = None,
          format: str | None = None, dither: bool | None = None,
          seed: int = 0) -> LevelReport:
    """Write audio, quantising integer subtypes with dither and counted clipping.

    Float subtypes keep every value (nothing above full scale is clipped); integer
    subtypes are rounded (with TPDF dither at 16 bits or fewer) and values beyond full
    scale are clipped, never wrapped, and counted in the returned report.

    Parameters
    ----------
    path : str or path-like
        Output file; its extension gives the format unless ``format`` is given.
    data : array_like
        Floating-point samples, ``(frames, channels)`` or 1-D mono; full scale is 1.0.
    samplerate : int
        Sample rate in Hz.
    subtype : str, optional
        libsndfile subtype such as ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``; default: the
        format's default (``"PCM_16"`` for WAV and FLAC, ``"VORBIS"`` for OGG).
    format : str, optional
        libsndfile major format such as ``"WAV"`` or ``"FLAC"``.
    dither : bool, optional
        TPDF dither before rounding; default: for integer subtypes of 16 bits or fewer.
    seed : int, optional
        Seed of the dither noise.

    Returns
    -------
    LevelReport
        Peak, clipped-sample count, subtype and whether dither was used.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "loud.wav")
    >>> write(path, np.array([0.5, 1.5, -2.0]), 8000, subtype="PCM_16").clipped
    2
    """
    data = np.asarray(data)
    if data.dtype.kind != "f":
        raise InputTypeError(f"audio data must be floating point (full scale 1.0), not "
                             f"{data.dtype.name!r}; divide integer samples by their full scale")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] < 1:
        raise InputError(f"audio data must be (frames, channels) or 1-D, not shape {data.shape}")
    rate = check_samplerate(samplerate)
    if not np.isfinite(data).all():   # would be written as garbage (or silence), peak 0
        raise InputError(f"cannot write {os.fspath(path)!r}: the audio holds NaN or inf "
                         f"samples")
    fmt, sub = output_format(path, data.shape[1], data.shape[0], format=format, subtype=subtype)
    quantize = Quantizer(sub, dither=dither, seed=seed)
    with open_output(path, rate, data.shape[1], fmt, sub) as handle:
        handle.write(quantize(data))
    return quantize.report()


def check_samplerate(samplerate) -> int:
    """A positive integral sample rate, as int."""
    return int(_checks.number(samplerate, "samplerate", ok=lambda v: v > 0 and v.is_integer(),
                              want="a positive whole number of Hz"))


def output_format(path, channels: int, frames: int, *, format: str | None = None,
                  subtype: str | None = None, like: str | None = None,
                  like_format: str | None = None) -> tuple[str, str]:
    """(format, subtype) for writing ``path``.

    The format comes from ``format`` or the extension (a ``.wav`` keeps the input's
    WAVEX/RF64 flavour, and becomes RF64 past 4 GiB); the subtype from ``subtype``, else
    the input's (``like``) when the format can hold it, else PCM_24 for a high-resolution
    input when the format has it, else the format's default.
    """
    path = os.fspath(path)
    if format is None:
        ext = os.path.splitext(path)[1].lower()
        format = EXTENSION_FORMATS.get(ext)
        if format is None:
            raise InputError(f"cannot tell the output format from the extension {ext!r} of "
                             f"{path!r}; use one of {sorted(EXTENSION_FORMATS)}")
        if format == "WAV" and like_format in _WAV_FAMILY:
            format = like_format
    format = format.upper()
    if format not in sf.available_formats():
        raise InputError(f"unknown audio format {format!r}")
    if format == "OGG" and channels > 255:   # libvorbis crashes the process beyond that
        raise InputError(f"OGG/Vorbis holds at most 255 channels, not {channels} "
                         f"({path!r}); use .wav, .w64 or .rf64")
    if subtype is not None:
        sub = subtype.upper()
        if sub not in sf.available_subtypes():
            raise InputError(f"unknown subtype {subtype!r}; known: "
                             f"{sorted(sf.available_subtypes(format))}")
        if not sf.check_format(format, sub):
            raise InputError(f"format {format} cannot hold subtype {subtype!r}; it takes "
                             f"{sorted(sf.available_subtypes(format))}")
    elif like is not None and sf.check_format(format, like):
        sub = like
    elif like in _HIGH_RES and sf.check_format(format, "PCM_24"):
        sub = "PCM_24"  # e.g. float WAV -> FLAC: keep as much resolution as FLAC holds
    else:
        sub = sf.default_subtype(format)
    if format in ("WAV", "WAVEX"):
        size = frames * channels * _SAMPLE_BYTES.get(sub, 4)
        if size > _WAV_LIMIT_BYTES:
            format = "RF64"
    if format == "WAV" and channels > 2 and sf.check_format("WAVEX", sub):
        format = "WAVEX"  # a channel mask for more than two channels
    return format, sub


@contextlib.contextmanager
def open_output(path, samplerate: int, channels: int, format: str,
                subtype: str) -> Iterator[sf.SoundFile]:
    """Open ``path`` for writing (a context manager), translating libsndfile errors:
    opening it, and writing or closing it (a full disk) in the ``with`` body."""
    try:
        handle = sf.SoundFile(os.fspath(path), "w", samplerate=samplerate, channels=channels,
                              format=format, subtype=subtype)
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise FileFormatError(f"cannot write {os.fspath(path)!r} as {format}/{subtype} "
                              f"({_reason(exc)})") from None
    try:
        with handle:
            yield handle
    except sf.LibsndfileError as exc:
        raise FileFormatError(f"cannot write {os.fspath(path)!r}: {_reason(exc)}") from None


def is_float_subtype(subtype: str) -> bool:
    return subtype in FLOAT_SUBTYPES


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "error_string", None) or str(exc)
    return " ".join(str(text).split()).rstrip(".")


def _check_declared_length(path: str, fmt: str, what: str) -> None:
    """Refuse a file whose header declares more audio bytes than the file holds.

    libsndfile reads such a file without complaint, silently returning fewer frames
    than the header declares; a cut-off download should be an error instead. Checked
    for the formats whose headers state the data size: WAV/WAVEX and RF64 (RIFF
    chunks; RF64's size in its ds64 chunk), W64 (GUID chunks), AIFF/AIFC (the SSND
    chunk) and AU (the header's data size).
    """
    parse = {"WAV": _riff_data, "WAVEX": _riff_data, "RF64": _riff_data, "W64": _w64_data,
             "AIFF": _aiff_data, "AU": _au_data}.get(fmt)
    if parse is None:
        return
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        found = parse(fh, size)
    if found is not None:
        start, declared = found
        if start + declared > size:
            raise FileFormatError(
                f"{what} {path!r} is truncated: its header declares {declared} bytes of "
                f"audio, the file holds {max(size - start, 0)}")


def _chunks(fh, size: int, start: int, head: int, endian: str, pad: bool):
    """(id, body start, body length) of the chunks from ``start``: ``head``-byte headers
    (4-byte id, then a 4-byte length in ``endian`` order), bodies padded to even."""
    pos = start
    while pos + head <= size:
        fh.seek(pos)
        chunk = fh.read(head)
        if len(chunk) < head:
            return
        length = struct.unpack(endian + "I", chunk[4:8])[0]
        yield chunk[:4], pos + head, length
        pos += head + length + (length & 1 if pad else 0)


def _riff_data(fh, size: int):
    head = fh.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    ds64 = None
    for cid, body, length in _chunks(fh, size, 12, 8, "<", True):
        if cid == b"ds64" and length >= 16:
            fh.seek(body + 8)
            ds64 = struct.unpack("<Q", fh.read(8))[0]        # the data chunk's size
        elif cid == b"data":
            if length == 0xFFFFFFFF:
                length = ds64 if head[:4] == b"RF64" else None
            # 0, an unknown length and sox's 0x7FFFF000 (MS_UNSPEC, also what sigconv
            # writes to a pipe) mark a stream whose writer did not know the length.
            return None if not length or length == 0x7FFFF000 else (body, length)
    return None


def _w64_data(fh, size: int):
    if fh.read(4) != b"riff":
        return None
    pos = 40                                   # riff GUID + size + wave GUID
    while pos + 24 <= size:
        fh.seek(pos)
        chunk = fh.read(24)
        length = struct.unpack("<Q", chunk[16:24])[0]  # header included
        if chunk[:4] == b"data":
            return (pos + 24, length - 24) if length > 24 else None
        if length < 24:
            return None
        pos += length + (-length % 8)
    return None


def _aiff_data(fh, size: int):
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    for cid, body, length in _chunks(fh, size, 12, 8, ">", True):
        if cid == b"SSND":
            return (body, length) if length else None
    return None


def _au_data(fh, size: int):
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b".snd":
        return None
    offset, length = struct.unpack(">II", head[4:12])
    return None if length in (0, 0xFFFFFFFF) else (offset, length)
