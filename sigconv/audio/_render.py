"""File to file: read, convolve (whole or streamed), level, write.

Used by the ``sigconv reverb`` and ``sigconv echo`` commands, and usable directly.
These functions write to the path they are given; the command line hands them a
temporary path from :func:`sigconv._io.atomic_output` and renames it on success.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import _checks
from .._errors import FileFormatError
from ._effects import DEFAULT_IR_NORM, as_audio, echo_ir, prepare_reverb
from ._files import (
    AudioInfo,
    _info_of,
    open_input,
    open_output,
    output_format,
    read_block,
    work_dtype,
)
from ._levels import LevelReport, Quantizer, normalize_gain, parse_dbfs, peak_of
from ._routing import Routing, convolve_routed, route
from ._stream import StreamConvolver

# Inputs of more samples (frames x output channels) than this are streamed by default:
# 2**22 samples is 44 s of stereo at 48 kHz, 16 MB as float32.
STREAM_THRESHOLD = 1 << 22
# Frames per pass when re-reading the float spill file of a normalised stream.
_SPILL_BLOCK = 1 << 18


@dataclass(frozen=True)
class RenderReport:
    """What a file render did.

    Attributes
    ----------
    input : AudioInfo
        The input file's header.
    frames, channels, samplerate : int
        Shape and rate of the output.
    format, subtype : str
        Output format and subtype.
    routing : str
        Channel routing used (see :func:`sigconv.audio.route`).
    streamed : bool
        Whether the input was processed block by block.
    ir_resampled_from : int or None
        The IR's original rate when it was resampled to the input's.
    levels : LevelReport
        Peak, clipped samples, dither and normalisation gain.
    """

    input: AudioInfo
    frames: int
    channels: int
    samplerate: int
    format: str
    subtype: str
    routing: str
    streamed: bool
    ir_resampled_from: int | None
    levels: LevelReport


def reverb_file(input: str | os.PathLike, ir: str | os.PathLike, output: str | os.PathLike,
                *, wet: float = 0.35, dry: float = 1.0, predelay_ms: float = 0.0,
                ir_norm: str = DEFAULT_IR_NORM, tail: bool = True,
                normalize: float | str | None = None, subtype: str | None = None,
                format: str | None = None, dither: bool | None = None,
                stream: bool | None = None, block_size: int | None = None,
                progress: bool = False, notify: Callable[[str], None] | None = None,
                workers: int | None = None) -> RenderReport:
    """Convolution reverb from file to file.

    Parameters
    ----------
    input, ir : str or path-like
        The dry recording and the impulse response (any format libsndfile reads). An IR
        at another sample rate is resampled to the input's, and ``notify`` is told.
    output : str or path-like
        Written directly (callers wanting atomic output pass a temporary path). Format
        from the extension, subtype from ``subtype`` else the input's.
    wet, dry, predelay_ms, ir_norm, tail
        As for :func:`sigconv.audio.reverb`.
    normalize : float or str, optional
        Scale the output so its peak is this many dBFS (e.g. ``-1`` or ``"-1dBFS"``).
    subtype, format : str, optional
        Output subtype and major format (libsndfile names).
    dither : bool, optional
        TPDF dither; default for integer subtypes of 16 bits or fewer.
    stream : bool, optional
        Process block by block; default for inputs above ``STREAM_THRESHOLD`` samples.
        Streaming with ``normalize`` spills float samples to a temporary file beside
        ``output`` and makes a second pass.
    block_size : int, optional
        Frames per streamed block (default from the IR length).
    progress : bool, optional
        Show a progress bar on stderr when the work lasts longer than a second.
    notify : callable, optional
        Called with one-line notes (e.g. about resampling).
    workers : int, optional
        Threads for the engine's FFTs.

    Returns
    -------
    RenderReport

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sigconv.audio import write
    >>> d = tempfile.mkdtemp()
    >>> _ = write(os.path.join(d, "dry.wav"), np.eye(1, 100)[0] * 0.5, 8000)
    >>> _ = write(os.path.join(d, "ir.wav"), np.ones((10, 2)) * 0.1, 8000, subtype="FLOAT")
    >>> r = reverb_file(os.path.join(d, "dry.wav"), os.path.join(d, "ir.wav"),
    ...                 os.path.join(d, "wet.flac"))
    >>> r.frames, r.channels, r.routing, r.subtype, r.levels.clipped
    (109, 2, 'split', 'PCM_16', 0)
    """
    target = None if normalize is None else parse_dbfs(normalize)
    with open_input(input) as src, open_input(ir, what="IR") as ir_src:
        src_info = _info_of(src, os.fspath(input))
        h_eff, routing, dtype, resampled = _reverb_ir(
            ir_src, os.fspath(ir), src_info.subtype, src_info.samplerate, src_info.channels,
            notify=notify, wet=wet, dry=dry, predelay_ms=predelay_ms, ir_norm=ir_norm)
    return _render(input, output, h_eff, routing, dtype=dtype, tail=tail, target=target,
                   subtype=subtype, format=format, dither=dither, stream=stream,
                   block_size=block_size, progress=progress, workers=workers,
                   resampled=resampled, label="reverb")


def echo_file(input: str | os.PathLike, output: str | os.PathLike, *, delay: float,
              decay: float = 0.5, repeats: int = 4, tail: bool = True,
              normalize: float | str | None = None, subtype: str | None = None,
              format: str | None = None, dither: bool | None = None,
              stream: bool | None = None, block_size: int | None = None,
              progress: bool = False, workers: int | None = None) -> RenderReport:
    """Echo from file to file; options as for :func:`sigconv.audio.echo` and
    :func:`reverb_file`.

    Returns
    -------
    RenderReport
    """
    target = None if normalize is None else parse_dbfs(normalize)
    with open_input(input) as src:
        info = _info_of(src, os.fspath(input))
    dtype = work_dtype(info.subtype)
    h = echo_ir(info.samplerate, delay=delay, decay=decay, repeats=repeats, dtype=dtype)
    return _render(input, output, h[:, None], route(info.channels, 1), dtype=dtype, tail=tail,
                   target=target, subtype=subtype, format=format, dither=dither,
                   stream=stream, block_size=block_size, progress=progress, workers=workers,
                   resampled=None, label="echo")


def _reverb_ir(ir_src, ir_path: str, subtype: str, samplerate: int, channels: int, *,
               notify, **options) -> tuple[np.ndarray, Routing, np.dtype, int | None]:
    """The effective IR of an open IR file for an input of ``subtype``, ``samplerate`` and
    ``channels``: ``(h_eff, routing, dtype, resampled_from)``, the IR resampled to the
    input's rate (``notify`` told) and ``options`` (wet, dry, ...) applied as by
    :func:`prepare_reverb`. Shared by the file and the stream renderers."""
    ir_info = _info_of(ir_src, ir_path)
    dtype = np.result_type(work_dtype(subtype), work_dtype(ir_info.subtype))
    h = _read_all(ir_src, ir_info, dtype, what="IR")
    resampled = None
    if ir_info.samplerate != samplerate:
        resampled = ir_info.samplerate
        if notify is not None:
            notify(f"IR {ir_info.path!r} is at {ir_info.samplerate} Hz; resampling it to "
                   f"the input's {samplerate} Hz")
    h_eff, routing = prepare_reverb(channels, h, samplerate=samplerate,
                                    ir_samplerate=ir_info.samplerate, dtype=dtype, **options)
    return h_eff, routing, dtype, resampled


def _check_block_size(block_size) -> None:
    if block_size is not None:
        _checks.positive_int(block_size, "block_size")


def _read_all(handle, info: AudioInfo, dtype, *, what: str) -> np.ndarray:
    data = read_block(handle, info.frames, np.dtype(dtype), info.path, what=what)
    if data.shape[0] != info.frames:
        raise FileFormatError(f"{what} {info.path!r} is truncated: header promises "
                              f"{info.frames} frames, {data.shape[0]} could be read")
    return data


def _render(input, output, h: np.ndarray, routing: Routing, *, dtype, tail: bool,
            target: float | None, subtype, format, dither, stream, block_size, progress,
            workers, resampled, label: str) -> RenderReport:
    _check_block_size(block_size)
    with open_input(input) as src:
        info = _info_of(src, os.fspath(input))
        n, taps = info.frames, h.shape[0]
        frames = n + taps - 1 if tail else n
        channels = routing.out_channels
        fmt, sub = output_format(output, channels, frames, format=format, subtype=subtype,
                                 like=info.subtype, like_format=info.format)
        if stream is None:
            stream = n * max(channels, routing.ir_channels) > STREAM_THRESHOLD
        bar = _progress(progress, (2 if target is not None and stream else 1) * frames, label)
        try:
            if not stream:
                x = _read_all(src, info, dtype, what="input")
                as_audio(x, f"input {info.path!r}")  # refuses NaN and infinite samples
                y = convolve_routed(x, h, routing, workers=workers)
                y = y if tail else y[:n]
                gain = 1.0 if target is None else normalize_gain(peak_of(y), target, sub,
                                                                  dither)
                quantize = Quantizer(sub, dither=dither, gain=gain)
                with open_output(output, info.samplerate, channels, fmt, sub) as dst:
                    dst.write(quantize(y))
                bar.update(frames)
            else:
                blocks = _stream_blocks(src, info, h, routing, dtype, tail, block_size,
                                        workers)
                if target is None:
                    quantize = Quantizer(sub, dither=dither)
                    _write_blocks(output, info.samplerate, channels, fmt, sub, blocks,
                                  quantize, bar)
                else:
                    quantize = _two_pass(output, info.samplerate, channels, fmt, sub, blocks,
                                         frames, dtype, target, dither, bar)
        finally:
            bar.close()
    return RenderReport(input=info, frames=frames, channels=channels,
                        samplerate=info.samplerate, format=fmt, subtype=sub,
                        routing=routing.kind, streamed=bool(stream), ir_resampled_from=resampled,
                        levels=quantize.report())


def _stream_blocks(src, info: AudioInfo, h, routing: Routing, dtype, tail: bool,
                   block_size: int | None, workers) -> Iterator[np.ndarray]:
    """Output blocks of the streamed convolution, the tail last (when kept).

    The next block is read by a helper thread while the current one is convolved
    (libsndfile releases the GIL). The last, short block is zero-padded to the full
    block size when there were earlier blocks, so every engine call has the same shape
    and reuses the same plans and buffers; its extra output is the start of the tail.
    """
    # block_size None: StreamConvolver's planner picks whole-IR engine calls or partitions
    # (sigconv.audio.plan_stream), whichever it predicts faster for this IR.
    conv = StreamConvolver(h, block_size, channels=routing.in_channels, workers=workers)
    size, n, taps = conv.block_size, info.frames, h.shape[0]

    def read(count: int) -> np.ndarray:
        x = read_block(src, count, np.dtype(dtype), info.path)
        if x.shape[0] < count:
            raise FileFormatError(f"input {info.path!r} is truncated: header promises "
                                  f"{n} frames, fewer could be read")
        as_audio(x, f"input {info.path!r}")  # refuses NaN and infinite samples
        return x

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sigconv-read") as pool:
        pending = pool.submit(read, min(size, n))
        done = 0
        try:
            while pending is not None:
                x = pending.result()
                done += x.shape[0]
                pending = pool.submit(read, min(size, n - done)) if done < n else None
                r = x.shape[0]
                if r == size or done == r:  # a full block, or the only block
                    yield _as2d(conv.process(x))
                    continue
                padded = np.zeros((size, x.shape[1]), dtype=x.dtype)
                padded[:r] = x
                y = _as2d(conv.process(padded))
                yield y[:r]
                if tail:
                    yield np.concatenate([y[r:], _as2d(conv.flush())])[:taps - 1]
                return
        finally:
            if pending is not None:  # stopped early: let the read finish before closing
                pending.cancel()
                with contextlib.suppress(BaseException):
                    pending.result()
    if tail:
        yield _as2d(conv.flush())


def _write_blocks(output, rate, channels, fmt, sub, blocks, quantize: Quantizer, bar) -> None:
    """Quantise and write ``blocks`` on a helper thread, overlapping the computation of the
    next block (one block in flight, so the quantiser sees the blocks in order)."""
    with open_output(output, rate, channels, fmt, sub) as dst, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sigconv-write") as pool:
        pending = None
        try:
            for y in blocks:
                if pending is not None:
                    pending.result()
                pending = pool.submit(lambda block: dst.write(quantize(block)), y)
                bar.update(y.shape[0])
            if pending is not None:
                pending.result()
                pending = None
        finally:
            if pending is not None:  # an error or Ctrl-C: finish the write, then close
                with contextlib.suppress(BaseException):
                    pending.result()


def _two_pass(output, rate, channels, fmt, sub, blocks, frames, dtype, target, dither,
              bar) -> Quantizer:
    """Stream into a float spill file beside ``output`` while measuring the peak, then
    scale, quantise and write. The spill file is unlinked on close, error or not."""
    directory = os.path.dirname(os.path.abspath(output))
    itemsize = np.dtype(dtype).itemsize
    peak = 0.0
    with tempfile.TemporaryFile(dir=directory, prefix=".sigconv-spill-") as spill:
        for y in blocks:
            peak = max(peak, peak_of(y))
            spill.write(np.ascontiguousarray(y, dtype=dtype).tobytes())
            bar.update(y.shape[0])
        spill.seek(0)
        quantize = Quantizer(sub, dither=dither, gain=normalize_gain(peak, target, sub, dither))
        with open_output(output, rate, channels, fmt, sub) as dst:
            left = frames
            while left:
                count = min(_SPILL_BLOCK, left)
                raw = spill.read(count * channels * itemsize)
                y = np.frombuffer(raw, dtype=dtype).reshape(count, channels)
                dst.write(quantize(y))
                bar.update(count)
                left -= count
    return quantize


def _as2d(y: np.ndarray) -> np.ndarray:
    return y[:, None] if y.ndim == 1 else y


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(enabled: bool, total: int, label: str):
    """A tqdm bar on stderr that appears only after a second of work, or a no-op."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, desc=label, unit="frame", unit_scale=True, delay=1.0,
                file=sys.stderr, leave=False, dynamic_ncols=True)
