"""Block-streaming convolution with bounded memory.

Each call convolves a block of at most ``block_size`` frames with the whole IR
(one engine call, full mode), adds the tail carried from the previous blocks to the
first ``taps - 1`` frames of the result, hands out as many frames as came in and
carries the rest. The memory held between calls is one tail of ``taps - 1`` frames;
the memory used during a call is that of one engine call on ``block_size + taps - 1``
frames, whatever the length of the stream.

The block size trades work for memory: each block computes ``taps - 1`` frames of
tail that are added up rather than output, so a block of 8x the IR length spends
about 12 % extra (see ``default_block_size``).
"""

from __future__ import annotations

import numpy as np

from .. import Convolver
from .. import explain as _engine_explain
from .._errors import InputError
from ._effects import as_audio
from ._routing import Routing, convolve_routed, route

MIN_BLOCK = 1 << 15
MAX_BLOCK = 1 << 21


def default_block_size(taps: int, channels: int = 2, dtype=np.float32) -> int:
    """Frames per engine call when streaming through an IR of ``taps`` taps.

    Start from ``8 * taps`` rounded up to a power of two, within [2**15, 2**21] frames:
    at 8x the IR length the carried tail costs ~1/8 extra work. Then, when the engine
    would use overlap-add on such a call, round to a whole number of its blocks, so no
    call transforms a mostly empty last block. (The IR's spectrum is computed on the first
    call only: the streamer keeps a :class:`sigconv.Convolver`.) Memory grows with the block (peak RSS of
    ``sigconv reverb`` with a 3 s stereo IR, measured: 162 MB at 2 engine blocks of
    570421 frames, 208 MB at 4, and 214 MB at this default, 3 blocks of 752001).

    Parameters
    ----------
    taps : int
        IR length in frames.
    channels : int, optional
        IR channels (the engine's plan depends on them).
    dtype : dtype, optional
        Sample type of the stream.

    Returns
    -------
    int
        Frames per engine call.

    Examples
    --------
    >>> 2**14 <= default_block_size(100) <= 2**16  # 2**15, aligned to the engine's blocks
    True
    """
    want = 8 * max(int(taps), 1)
    size = int(min(max(1 << (want - 1).bit_length(), MIN_BLOCK), MAX_BLOCK))
    h = np.empty((max(int(taps), 1), channels), dtype)  # shapes only: never touched
    plan = _engine_explain(np.empty((size, channels), dtype), h, axes=0)
    if plan.method != "oa" or not plan.block or plan.block >= size * 2:
        return size
    aligned = plan.block * max(1, round(size / plan.block))
    check = _engine_explain(np.empty((aligned, channels), dtype), h, axes=0)
    return aligned if check.method == "oa" and check.block == plan.block else size


class StreamConvolver:
    """Convolve a signal that arrives block by block with a fixed impulse response.

    The concatenation of the outputs of :meth:`process` followed by :meth:`flush`
    equals the full convolution of the concatenated inputs with ``ir`` (to rounding),
    whatever the block lengths.

    Parameters
    ----------
    ir : array_like
        Impulse response, ``(taps, ir_channels)`` or 1-D; routed onto the input's
        channels like :func:`sigconv.audio.reverb` does (mono IR on all channels,
        N on N, stereo IR on mono, 4-channel true stereo on stereo).
    block_size : int, optional
        Largest number of frames handed to the engine at once (longer blocks are split);
        default :func:`default_block_size` of the IR length.
    channels : int, optional
        Input channel count; default: taken from the first block.
    workers : int, optional
        Threads for the engine's FFTs.

    Examples
    --------
    >>> sc = StreamConvolver([1.0, 0.5], block_size=2)
    >>> sc.process(np.array([1.0, 0.0, 0.0]))
    array([1. , 0.5, 0. ])
    >>> sc.flush()
    array([0.])
    """

    def __init__(self, ir, block_size: int | None = None, *, channels: int | None = None,
                 workers: int | None = None) -> None:
        self.ir, _ = as_audio(ir, "ir")
        self.taps = self.ir.shape[0]
        if block_size is None:
            block_size = default_block_size(self.taps, self.ir.shape[1], self.ir.dtype)
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
                or block_size < 1:
            raise InputError(f"block_size must be a positive integer, not {block_size!r}")
        self.block_size = int(block_size)
        self.workers = workers
        self.routing: Routing | None = None
        if channels is not None:
            self.routing = route(int(channels), self.ir.shape[1])
        self._tail: np.ndarray | None = None
        self._conv: Convolver | None = None     # the IR, its spectrum kept across blocks
        self._mono = False
        self.frames_in = 0

    @property
    def out_channels(self) -> int | None:
        """Output channel count (None until the input's channel count is known)."""
        return None if self.routing is None else self.routing.out_channels

    def process(self, block) -> np.ndarray:
        """Convolve the next block; return as many output frames as it has.

        Parameters
        ----------
        block : array_like
            ``(frames, channels)`` or 1-D, the same channel count on every call.

        Returns
        -------
        numpy.ndarray
            ``(frames, out_channels)`` (1-D for mono in and out), in the result dtype of
            the block and the IR.
        """
        x, was_1d = as_audio(block, "block") if np.size(block) else _empty(block)
        if self.routing is None:
            self.routing = route(x.shape[1], self.ir.shape[1])
            self._mono = was_1d and self.routing.out_channels == 1
        elif x.shape[1] != self.routing.in_channels:
            raise InputError(f"block has {x.shape[1]} channels, the stream has "
                             f"{self.routing.in_channels}")
        dtype = np.result_type(x.dtype, self.ir.dtype)
        h = self.ir.astype(dtype, copy=False)
        if self._conv is None or self._conv.kernel.dtype != dtype:
            self._conv = Convolver(h, "full", axes=0, workers=self.workers)
        if x.shape[0] == 0:
            out = np.empty((0, self.routing.out_channels), dtype=dtype)
            return out[:, 0] if self._mono else out
        pieces = []
        for start in range(0, x.shape[0], self.block_size):
            chunk = x[start:start + self.block_size]
            n = chunk.shape[0]
            y = convolve_routed(chunk.astype(dtype, copy=False), h, self.routing,
                                workers=self.workers, convolver=self._conv)
            if self._tail is not None:
                y[:self.taps - 1] += self._tail
            pieces.append(y[:n])  # a view: no copy when one chunk covers the block
            self._tail = y[n:].copy()
        self.frames_in += x.shape[0]
        out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return out[:, 0] if self._mono else out

    def flush(self) -> np.ndarray:
        """The last ``taps - 1`` frames (the tail) and a reset for a new stream."""
        if self.routing is None:
            raise InputError("flush() before any process(): the channel count is unknown")
        tail = self._tail
        if tail is None:
            tail = np.zeros((self.taps - 1, self.routing.out_channels), dtype=self.ir.dtype)
        self._tail = None
        self.frames_in = 0
        return tail[:, 0] if self._mono else tail


def _empty(block):
    arr = np.asarray(block, dtype=np.result_type(np.asarray(block).dtype, np.float32))
    if arr.ndim == 1:
        return arr[:, None], True
    return arr.reshape(0, arr.shape[-1] if arr.ndim == 2 else 1), False
