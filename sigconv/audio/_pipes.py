"""Audio through pipes: WAV and headerless PCM read from and written to byte streams.

What streams, what does not
---------------------------
- **WAV in** (RIFF, RF64, WAVE_FORMAT_EXTENSIBLE; 8/16/24/32-bit PCM, 32/64-bit float)
  is parsed here and read block by block from any binary stream, seekable or not. A
  data size of ``0x7FFFF000`` (sox's "length unknown" mark, which we write too),
  ``0xFFFFFFFF`` or ``0`` (other writers' placeholders when they cannot seek back) means
  "until the end of the stream".
- **Other formats in** (FLAC, OGG, AIFF, ...): libsndfile 1.2 cannot decode them from a
  non-seekable stream (FLAC through a pipe fails with "flac decoder lost sync", checked),
  so the stream is first copied to a temporary file (disk, not memory) and read from
  there: memory stays bounded but nothing comes out before the input has ended.
- **Raw PCM** (``s16le``, ``s24le``, ``s32le``, ``f32le``, ``f64le``, ``u8``) in and out,
  with the rate and channel count given by the caller.
- **WAV out** to a stream is written as sox writes it to a pipe: a data size of
  ``0x7FFFF000`` (sox's ``MS_UNSPEC``: sox and libsndfile, hence soundfile, read such a
  file to its end, the latter checked here; a size of 0 would make libsndfile read no
  frames). When the stream can seek (``> out.wav``), the real sizes are written at the
  end.

A reader that goes away while we write (``... -o - | head -c 100``) raises
:class:`sigconv.OutputClosedError` (a ``BrokenPipeError``), which the command line turns
into a quiet exit with status 141.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass

import numpy as np

from .._errors import FileFormatError, InputError, OutputClosedError
from ._effects import DEFAULT_IR_NORM, as_audio, echo_ir
from ._files import (
    AudioInfo,
    check_samplerate,
    open_input,
    open_output,
    output_format,
    read_block,
    work_dtype,
)
from ._levels import PCM_BITS, Quantizer, normalize_gain, parse_dbfs, peak_of
from ._render import RenderReport, _as2d, _check_block_size, _reverb_ir
from ._routing import Routing, route
from ._stream import StreamConvolver


@dataclass(frozen=True)
class RawFormat:
    """A headerless sample format: its name, bytes per sample and libsndfile subtype."""

    name: str
    width: int
    subtype: str


RAW_FORMATS = {f.name: f for f in (
    RawFormat("u8", 1, "PCM_U8"), RawFormat("s16le", 2, "PCM_16"),
    RawFormat("s24le", 3, "PCM_24"), RawFormat("s32le", 4, "PCM_32"),
    RawFormat("f32le", 4, "FLOAT"), RawFormat("f64le", 8, "DOUBLE"))}
_BY_SUBTYPE = {f.subtype: f for f in RAW_FORMATS.values()}
# WAV format tags
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_UNKNOWN_SIZE = 0x7FFFF000          # sox's MS_UNSPEC: "length not known" on a pipe
_PLACEHOLDERS = (0, 0xFFFFFFFF, _UNKNOWN_SIZE)
# The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* GUIDs of WAVE_FORMAT_EXTENSIBLE.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
# Bytes read from a stream at a time when skipping or spooling.
_COPY_BYTES = 1 << 20


def raw_format(name: str) -> RawFormat:
    """The :class:`RawFormat` called ``name`` (``"s16le"``, ``"f32le"``, ...).

    Examples
    --------
    >>> raw_format("s24le").subtype
    'PCM_24'
    """
    fmt = RAW_FORMATS.get(str(name).lower())
    if fmt is None:
        raise InputError(f"raw sample format must be one of {sorted(RAW_FORMATS)}, "
                         f"not {name!r}")
    return fmt


def _read_exact(stream, count: int) -> bytes:
    """Up to ``count`` bytes; fewer only at the end of the stream (pipes read short)."""
    chunks, left = [], count
    while left > 0:
        got = stream.read(left)
        if not got:
            break
        chunks.append(got)
        left -= len(got)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_samples(raw: bytes, fmt: RawFormat, channels: int, dtype) -> np.ndarray:
    """Little-endian samples of ``fmt`` as floats, full scale 1.0, ``(frames, channels)``.

    The scales are libsndfile's (``2**(bits-1)``), so a WAV read here equals the same file
    read with :func:`sigconv.audio.read`.

    Examples
    --------
    >>> decode_samples(bytes([0, 0, 64, 0, 0, 192]), raw_format("s24le"), 1, np.float64)
    array([[ 0.5],
           [-0.5]])
    """
    frames = len(raw) // (fmt.width * channels)
    raw = raw[:frames * fmt.width * channels]
    if fmt.name == "s24le":
        wide = np.zeros((frames * channels, 4), np.uint8)
        wide[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        data = wide.view("<i4")[:, 0] * np.asarray(2.0 ** -31, dtype)
    elif fmt.name == "u8":
        data = (np.frombuffer(raw, np.uint8).astype(dtype) - 128) / np.asarray(128, dtype)
    elif fmt.name in ("s16le", "s32le"):
        ints = np.frombuffer(raw, "<i2" if fmt.width == 2 else "<i4")
        data = ints * np.asarray(2.0 ** -(8 * fmt.width - 1), dtype)
    else:
        data = np.frombuffer(raw, "<f4" if fmt.width == 4 else "<f8").astype(dtype)
    return data.astype(dtype, copy=False).reshape(frames, channels)


def encode_samples(q: np.ndarray, fmt: RawFormat) -> bytes:
    """What :class:`~sigconv.audio._levels.Quantizer` made of a block, as ``fmt`` bytes."""
    if fmt.subtype in ("FLOAT", "DOUBLE"):
        return np.ascontiguousarray(q, "<f4" if fmt.width == 4 else "<f8").tobytes()
    if q.dtype.kind == "f":          # a Quantizer passes only float subtypes as floats
        raise InputError(f"cannot encode floats as {fmt.name!r}")
    if fmt.name == "s24le":
        return np.ascontiguousarray(q, "<i4").view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
    if fmt.name == "u8":
        return ((q >> 24) + 128).astype(np.uint8).tobytes()
    if fmt.name == "s16le":
        return (q >> 16).astype("<i2").tobytes()
    return np.ascontiguousarray(q, "<i4").tobytes()


class StreamReader:
    """Audio read block by block from a stream or a file.

    Attributes
    ----------
    samplerate, channels : int
    format, subtype : str
        ``"WAV"``/``"RAW"``/libsndfile's name, and the libsndfile subtype.
    frames : int or None
        Frames announced by the header, None when unknown (streamed WAV, raw PCM).
    name : str
        How messages name the source (``"-"`` for standard input).
    """

    samplerate: int
    channels: int
    format: str
    subtype: str
    frames: int | None
    name: str

    def read(self, frames: int, dtype) -> np.ndarray:
        """Up to ``frames`` frames ``(n, channels)``; fewer only at the end."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the reader holds (not the stream it was given)."""

    def info(self, frames: int) -> AudioInfo:
        return AudioInfo(path=self.name, frames=frames, samplerate=self.samplerate,
                         channels=self.channels, format=self.format, subtype=self.subtype)


class _PCMStream(StreamReader):
    """Raw PCM, or the data chunk of a WAV, from a byte stream."""

    def __init__(self, stream, fmt: RawFormat, samplerate: int, channels: int, *,
                 name: str, data_bytes: int | None, container: str) -> None:
        self._stream, self._fmt = stream, fmt
        self.samplerate, self.channels = samplerate, channels
        self.format, self.subtype, self.name = container, fmt.subtype, name
        self._frame_bytes = fmt.width * channels
        self._left = data_bytes
        self.frames = None if data_bytes is None else data_bytes // self._frame_bytes
        self.owns = False

    def close(self) -> None:
        if self.owns:
            self._stream.close()

    def read(self, frames: int, dtype) -> np.ndarray:
        want = frames * self._frame_bytes
        if self._left is not None:
            want = min(want, self._left)
        try:
            raw = _read_exact(self._stream, want)
        except OSError as exc:
            raise FileFormatError(f"input {self.name!r} could not be read "
                                  f"({exc.strerror or exc})") from None
        if self._left is not None:
            self._left -= len(raw)
            if len(raw) < want:
                raise FileFormatError(f"input {self.name!r} is truncated: its header "
                                      f"declares {self.frames} frames, the stream ended "
                                      "before them")
        if len(raw) % self._frame_bytes:
            raise FileFormatError(f"input {self.name!r} ends within a frame: "
                                  f"{len(raw) % self._frame_bytes} bytes left over "
                                  f"({self.channels} channels of {self._fmt.name})")
        return decode_samples(raw, self._fmt, self.channels, np.dtype(dtype))


class _SoundFileReader(StreamReader):
    def __init__(self, handle, name: str, spool=None) -> None:
        self._handle, self._spool, self.name = handle, spool, name
        self.samplerate, self.channels = int(handle.samplerate), int(handle.channels)
        self.format, self.subtype = handle.format, handle.subtype
        self.frames = int(handle.frames)

    def read(self, frames: int, dtype) -> np.ndarray:
        return read_block(self._handle, frames, np.dtype(dtype), self.name)

    def close(self) -> None:
        self._handle.close()
        if self._spool is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._spool)


def open_stream(source, *, raw: str | None = None, samplerate: int | None = None,
                channels: int | None = None, name: str = "-") -> StreamReader:
    """A :class:`StreamReader` over ``source``: a binary stream (``sys.stdin.buffer``) or a
    path.

    Parameters
    ----------
    source : binary file object or path-like
        A stream is read forward only (a pipe is fine); a path is opened with soundfile.
    raw : str, optional
        Headerless PCM of this sample format (see :data:`RAW_FORMATS`); then
        ``samplerate`` and ``channels`` are required.
    samplerate, channels : int, optional
        Of raw input.
    name : str, optional
        How messages name a stream.

    Returns
    -------
    StreamReader

    Examples
    --------
    >>> import io
    >>> r = open_stream(io.BytesIO(bytes(8)), raw="s16le", samplerate=8000, channels=2)
    >>> r.read(10, np.float32).shape
    (2, 2)
    """
    if raw is not None:
        fmt = raw_format(raw)
        if samplerate is None or channels is None:
            raise InputError("raw input needs its sample rate and channel count")
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) \
                or not 1 <= channels <= 1024:
            raise InputError(f"channels must be a whole number from 1 to 1024, "
                             f"not {channels!r}")
        rate = check_samplerate(samplerate)
        reader = _PCMStream(_as_stream(source), fmt, rate, int(channels),
                            name=_name(source, name), data_bytes=None, container="RAW")
        reader.owns = not hasattr(source, "read")      # a file we opened: we close it
        return reader
    if samplerate is not None or channels is not None:
        raise InputError("a sample rate or channel count is given only for raw input")
    if not hasattr(source, "read"):
        path = os.fspath(source)
        return _SoundFileReader(open_input(path), path)
    head = _read_exact(source, 12)
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return _open_wav(source, head, name)
    return _spooled(source, head, name)


def _name(source, name: str) -> str:
    return name if hasattr(source, "read") else os.fspath(source)


def _as_stream(source):
    if hasattr(source, "read"):
        return source
    path = os.fspath(source)
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the reader
    except OSError as exc:
        raise FileFormatError(f"input {path!r} cannot be opened ({exc.strerror})") from None


def _open_wav(stream, head: bytes, name: str) -> StreamReader:
    rf64 = head[:4] == b"RF64"
    fmt = None
    ds64 = None
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            raise FileFormatError(f"input {name!r} is not a readable WAV stream (no 'data' "
                                  "chunk before the end)")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"data":
            if fmt is None:
                raise FileFormatError(f"input {name!r} is not a readable WAV stream (the "
                                      "'data' chunk comes before 'fmt ')")
            raw_fmt, rate, ch = fmt
            if rf64 and size == 0xFFFFFFFF and ds64 is not None:
                size = ds64
            known = None if size in _PLACEHOLDERS else size
            return _PCMStream(stream, raw_fmt, rate, ch, name=name, data_bytes=known,
                              container="RF64" if rf64 else "WAV")
        body = _read_exact(stream, size + (size & 1))
        if len(body) < size:
            raise FileFormatError(f"input {name!r} is truncated within its {cid!r} chunk")
        if cid == b"fmt ":
            fmt = _parse_fmt(body, name)
        elif cid == b"ds64" and size >= 16:
            ds64 = struct.unpack("<Q", body[8:16])[0]


def _parse_fmt(body: bytes, name: str) -> tuple[RawFormat, int, int]:
    if len(body) < 16:
        raise FileFormatError(f"input {name!r} has a short 'fmt ' chunk ({len(body)} bytes)")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 40 and body[26:40] == _GUID_TAIL:
        tag = struct.unpack("<H", body[24:26])[0]
    kind = {(_PCM, 8): "u8", (_PCM, 16): "s16le", (_PCM, 24): "s24le", (_PCM, 32): "s32le",
            (_FLOAT, 32): "f32le", (_FLOAT, 64): "f64le"}.get((tag, bits))
    if kind is None:
        raise FileFormatError(f"input {name!r}: WAV sample format tag {tag:#06x} with {bits} "
                              "bits is not supported on a stream (PCM 8/16/24/32 and float "
                              "32/64 are)")
    if channels < 1 or rate < 1:
        raise FileFormatError(f"input {name!r}: its WAV header says {channels} channels at "
                              f"{rate} Hz")
    return RAW_FORMATS[kind], rate, channels


def _spooled(stream, head: bytes, name: str) -> StreamReader:
    """Copy a non-WAV stream to a temporary file and open that with soundfile."""
    fd, path = tempfile.mkstemp(prefix=".sigconv-stdin-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            shutil.copyfileobj(stream, out, _COPY_BYTES)
        handle = open_input(path)
    except FileFormatError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise FileFormatError(str(exc).replace(repr(path), repr(name))) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    reader = _SoundFileReader(handle, name, spool=path)
    return reader


class StreamWriter:
    """Quantised audio written to a binary stream as streamed WAV or raw PCM.

    Parameters
    ----------
    stream : binary file object
        Written forward only; a broken pipe raises :class:`sigconv.OutputClosedError`.
    samplerate, channels : int
    subtype : str
        ``PCM_U8``, ``PCM_16``, ``PCM_24``, ``PCM_32``, ``FLOAT`` or ``DOUBLE``.
    raw : bool, optional
        Headerless samples instead of WAV.
    name : str, optional
        How messages name the stream.

    Examples
    --------
    >>> import io
    >>> buf = io.BytesIO()
    >>> w = StreamWriter(buf, 8000, 1, "PCM_16")
    >>> w.write(Quantizer("PCM_16", dither=False)(np.array([[0.5]])))
    >>> w.close()
    >>> len(buf.getvalue()), buf.getvalue()[-2:]
    (46, b'\\x00@')
    """

    def __init__(self, stream, samplerate: int, channels: int, subtype: str, *,
                 raw: bool = False, name: str = "-") -> None:
        fmt = _BY_SUBTYPE.get(subtype)
        if fmt is None:
            raise InputError(f"cannot write subtype {subtype!r} to a stream; use one of "
                             f"{sorted(_BY_SUBTYPE)}")
        self.stream, self.fmt, self.raw, self.name = stream, fmt, raw, name
        self.channels, self.samplerate = channels, samplerate
        self.data_bytes = 0
        self._start = None
        if not raw:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if stream.seekable():
                    self._start = stream.tell()
            self._send(self._header(_UNKNOWN_SIZE + len(self._header(0, 0)) - 8,
                                    _UNKNOWN_SIZE))

    def _header(self, riff: int, data: int) -> bytes:
        fmt, ch = self.fmt, self.channels
        tag = _FLOAT if fmt.subtype in ("FLOAT", "DOUBLE") else _PCM
        bits = 8 * fmt.width
        align = ch * fmt.width
        base = struct.pack("<HHIIHH", tag, ch, self.samplerate, self.samplerate * align,
                           align, bits)
        if ch > 2 or bits > 16 and tag == _PCM:    # WAVE_FORMAT_EXTENSIBLE, as libsndfile
            base = struct.pack("<HHIIHH", _EXTENSIBLE, ch, self.samplerate,
                               self.samplerate * align, align, bits)
            base += struct.pack("<HHIH", 22, bits, 0, tag) + _GUID_TAIL
        return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt "
                + struct.pack("<I", len(base)) + base + b"data" + struct.pack("<I", data))

    def _send(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except BrokenPipeError:
            raise OutputClosedError(f"output {self.name!r}: the reader closed the "
                                    "pipe") from None

    def write(self, q: np.ndarray) -> None:
        """Write a block as returned by a :class:`Quantizer` of this subtype."""
        data = encode_samples(q, self.fmt)
        self._send(data)
        self.data_bytes += len(data)

    def close(self) -> None:
        """Flush; a seekable stream gets the real sizes in its header (a pipe keeps
        sox's 0x7FFFF000)."""
        try:
            if not self.raw and self._start is not None:
                end = self.stream.tell()
                size = self.data_bytes
                if size + len(self._header(0, 0)) - 8 < 0xFFFFFFFF:
                    self.stream.seek(self._start)
                    self.stream.write(self._header(size + len(self._header(0, 0)) - 8
                                                   + (size & 1), size))
                    self.stream.seek(end)
                if size & 1:
                    self.stream.write(b"\0")
            self.stream.flush()
        except BrokenPipeError:
            raise OutputClosedError(f"output {self.name!r}: the reader closed the "
                                    "pipe") from None


def reverb_stream(input, ir, output, *, raw_in: str | None = None,
                  samplerate: int | None = None, channels: int | None = None,
                  raw_out: str | None = None, wet: float = 0.35, dry: float = 1.0,
                  predelay_ms: float = 0.0, ir_norm: str = DEFAULT_IR_NORM, tail: bool = True,
                  normalize: float | str | None = None, subtype: str | None = None,
                  dither: bool | None = None, block_size: int | None = None,
                  notify=None, workers: int | None = None,
                  input_name: str = "-", output_name: str = "-") -> RenderReport:
    """Convolution reverb from a stream (or file) to a stream (or file), block by block.

    Parameters
    ----------
    input : binary file object or path-like
        WAV (streamed), raw PCM (``raw_in``) or any format soundfile reads (a non-WAV
        stream is first copied to a temporary file, see the module notes).
    ir : path-like
        The impulse response file (never a stream).
    output : binary file object or path-like
        A stream gets streamed WAV, or raw PCM of ``raw_out``; a path is written by
        soundfile in the format of its extension (or raw with ``raw_out``).
    raw_in, samplerate, channels
        Headerless input: its sample format, rate and channel count.
    raw_out : str, optional
        Headerless output of this sample format.
    wet, dry, predelay_ms, ir_norm, tail, normalize, subtype, dither, block_size, notify, workers
        As for :func:`sigconv.audio.reverb_file`. With ``normalize`` the output is spilled
        to a temporary float file and written in a second pass.
    input_name, output_name : str, optional
        How messages and the report name streams.

    Returns
    -------
    RenderReport
        ``input.frames`` is the number of frames read.

    Examples
    --------
    >>> import io, os, tempfile
    >>> from sigconv.audio import write
    >>> d = tempfile.mkdtemp()
    >>> _ = write(os.path.join(d, "ir.wav"), np.array([1.0, 0.5]), 8000, subtype="FLOAT")
    >>> src = io.BytesIO(np.array([0.5, 0, 0], "<f4").tobytes())
    >>> out = io.BytesIO()
    >>> r = reverb_stream(src, os.path.join(d, "ir.wav"), out, raw_in="f32le",
    ...                   samplerate=8000, channels=1, raw_out="f32le", wet=1, dry=0,
    ...                   ir_norm="none")
    >>> np.frombuffer(out.getvalue(), "<f4")
    array([0.5 , 0.25, 0.  , 0.  ], dtype=float32)
    """
    target = None if normalize is None else parse_dbfs(normalize)
    with open_input(ir, what="IR") as ir_src:
        reader = open_stream(input, raw=raw_in, samplerate=samplerate, channels=channels,
                             name=input_name)
        try:
            h_eff, routing, dtype, resampled = _reverb_ir(
                ir_src, os.fspath(ir), reader.subtype, reader.samplerate, reader.channels,
                notify=notify, wet=wet, dry=dry, predelay_ms=predelay_ms, ir_norm=ir_norm)
            return _render_stream(reader, output, h_eff, routing, dtype=dtype, tail=tail,
                                  target=target, subtype=subtype, dither=dither,
                                  raw_out=raw_out, block_size=block_size, workers=workers,
                                  resampled=resampled, output_name=output_name)
        finally:
            reader.close()


def echo_stream(input, output, *, delay: float, decay: float = 0.5, repeats: int = 4,
                raw_in: str | None = None, samplerate: int | None = None,
                channels: int | None = None, raw_out: str | None = None, tail: bool = True,
                normalize: float | str | None = None, subtype: str | None = None,
                dither: bool | None = None, block_size: int | None = None,
                workers: int | None = None, input_name: str = "-",
                output_name: str = "-") -> RenderReport:
    """Echo from a stream (or file) to a stream (or file); options as for
    :func:`reverb_stream` and :func:`sigconv.audio.echo`.

    Returns
    -------
    RenderReport
    """
    target = None if normalize is None else parse_dbfs(normalize)
    reader = open_stream(input, raw=raw_in, samplerate=samplerate, channels=channels,
                         name=input_name)
    try:
        dtype = work_dtype(reader.subtype)
        h = echo_ir(reader.samplerate, delay=delay, decay=decay, repeats=repeats, dtype=dtype)
        return _render_stream(reader, output, h[:, None], route(reader.channels, 1),
                              dtype=dtype, tail=tail, target=target, subtype=subtype,
                              dither=dither, raw_out=raw_out, block_size=block_size,
                              workers=workers, resampled=None, output_name=output_name)
    finally:
        reader.close()


def _render_stream(reader: StreamReader, output, h, routing: Routing, *, dtype, tail, target,
                   subtype, dither, raw_out, block_size, workers, resampled,
                   output_name) -> RenderReport:
    _check_block_size(block_size)
    channels = routing.out_channels
    fmt_name, sub = _output_kind(output, channels, reader, subtype, raw_out)
    # block_size None: whole-IR engine calls or partitions, as plan_stream predicts faster
    conv = StreamConvolver(h, block_size, channels=routing.in_channels, workers=workers)
    block_size = conv.block_size
    counts = {"in": 0, "out": 0}

    def blocks():
        while True:
            x = reader.read(block_size, dtype)
            if x.shape[0]:
                as_audio(x, f"input {reader.name!r}")   # refuses NaN and infinite samples
                counts["in"] += x.shape[0]
                yield _as2d(conv.process(x))
            if x.shape[0] < block_size:
                break
        if counts["in"] == 0:
            raise InputError(f"input {reader.name!r} holds no audio frames")
        if tail:
            yield _as2d(conv.flush())

    if target is None:
        quantize = Quantizer(sub, dither=dither)
        with _sink(output, reader.samplerate, channels, fmt_name, sub, raw_out,
                   output_name) as write:
            for y in blocks():
                write(quantize(y))
                counts["out"] += y.shape[0]
    else:
        with tempfile.TemporaryFile(prefix=".sigconv-spill-") as spill:
            peak = 0.0
            for y in blocks():
                peak = max(peak, peak_of(y))
                spill.write(np.ascontiguousarray(y, dtype=dtype).tobytes())
                counts["out"] += y.shape[0]
            spill.seek(0)
            quantize = Quantizer(sub, dither=dither,
                                 gain=normalize_gain(peak, target, sub, dither))
            step = 1 << 16
            with _sink(output, reader.samplerate, channels, fmt_name, sub, raw_out,
                       output_name) as write:
                while True:
                    raw = spill.read(step * channels * np.dtype(dtype).itemsize)
                    if not raw:
                        break
                    write(quantize(np.frombuffer(raw, dtype=dtype).reshape(-1, channels)))
    return RenderReport(input=reader.info(counts["in"]), frames=counts["out"],
                        channels=channels, samplerate=reader.samplerate, format=fmt_name,
                        subtype=sub, routing=routing.kind, streamed=True,
                        ir_resampled_from=resampled, levels=quantize.report())


def _output_kind(output, channels: int, reader: StreamReader, subtype, raw_out):
    """(format, subtype) of the output."""
    like = subtype.upper() if subtype is not None else None
    if raw_out is not None:
        fmt = raw_format(raw_out)
        if like is not None and like != fmt.subtype:
            raise InputError(f"subtype {subtype!r} contradicts the raw format {raw_out!r} "
                             f"({fmt.subtype})")
        return "RAW", fmt.subtype
    if hasattr(output, "write"):
        if like is None:     # the input's subtype, else 16-bit (PCM_S8) or float (codecs)
            like = reader.subtype if reader.subtype in _BY_SUBTYPE else (
                "PCM_16" if reader.subtype in PCM_BITS else "FLOAT")
        if like not in _BY_SUBTYPE:
            raise InputError(f"cannot write subtype {subtype!r} to a stream; use one of "
                             f"{sorted(_BY_SUBTYPE)}")
        return "WAV", like
    return output_format(output, channels, 0, subtype=subtype, like=reader.subtype,
                         like_format=reader.format if reader.format != "RAW" else None)


@contextlib.contextmanager
def _sink(output, rate, channels, fmt_name, sub, raw_out, name):
    """A ``write(quantised block)`` function for a stream or a path."""
    if hasattr(output, "write"):
        writer = StreamWriter(output, rate, channels, sub, raw=raw_out is not None, name=name)
        yield writer.write
        writer.close()
    elif raw_out is not None:
        fmt = raw_format(raw_out)
        with open(os.fspath(output), "wb") as fh:
            yield lambda q: fh.write(encode_samples(q, fmt))
    else:
        with open_output(output, rate, channels, fmt_name, sub) as dst:
            yield dst.write
