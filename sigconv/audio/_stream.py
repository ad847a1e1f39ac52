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

from dataclasses import dataclass

import numpy as np

from .. import Convolver
from .. import explain as _engine_explain
from .._errors import InputError
from ._effects import as_audio
from ._partitioned import PartitionedConvolver, _cost, plan_partitions
from ._routing import Routing, convolve_routed, route

MIN_BLOCK = 1 << 15
MAX_BLOCK = 1 << 21

# Throughput model of plan_stream, fitted on `python benchmarks/bench_stream.py
# --throughput` (60 s of stereo float32 at 48 kHz through IRs of 0.1 to 10 s, loaded
# 2-core VM, 2026-12-04; the table is in benchmarks/stream_results.txt):
# - whole-IR streaming costs the engine's predicted time of one block call times a
#   factor the engine's model leaves out for blocks of this size (their memory traffic):
#   measured / predicted was 0.9 at 67k-frame blocks, 1.8 at 132k and 3.1-4.9 from 264k
#   to 2.1M frames, so the factor is clip(block / WHOLE_FACTOR_FROM, 1, WHOLE_FACTOR_MAX);
# - partitioned streaming (uniform partitions of B, one thread) costs its cost model
#   (sigconv.audio._partitioned: FFTs, multiply-adds, calls) times PARTITIONED_FACTOR
#   (measured / modelled 1.4-2.7, median 2.0: copies and cache misses the model leaves
#   out), for the B among PARTITIONED_BLOCKS that the model finds cheapest. B = 4096 is
#   not offered: it was never the fastest measured, and the model underrates its
#   per-block overhead (it picked it for a 12000-tap IR where whole blocks were 2x faster).
# On a loaded machine the measured winners were: whole blocks up to 12000 taps (0.25 s
# at 48 kHz), partitions from 24000 taps on (1.3-2x faster at 0.5-10 s). On a quiet one
# (second run, load < 1 at its end) whole blocks, which use both cores' FFT threads where
# partitions use one, caught up: the planner's pick was 1.09x slower than whole blocks at
# 3 s and 1.82x at 10 s, equal at 0.5 and 5 s. The model has no load input (the planner
# is pure); partitions also halve the peak memory (105 against 204 MB, 3 s IR). Beyond
# PARTITIONED_MAX_TAPS whole blocks are kept whatever the model says: at 10 s they were
# 1.82x faster on the quiet machine and 1.39x slower under load (the smaller worst case).
PARTITIONED_MAX_TAPS = 262144
WHOLE_FACTOR_FROM = 65536
WHOLE_FACTOR_MAX = 4.0
PARTITIONED_FACTOR = 2.0
PARTITIONED_BLOCKS = (8192, 16384, 32768, 65536)
# Frames a delegating StreamConvolver hands to its PartitionedConvolver per read.
PARTITIONED_READ = 1 << 18


@dataclass(frozen=True)
class StreamPlan:
    """How to stream through an IR for throughput (files), with the predicted costs.

    Attributes
    ----------
    method : {"whole", "partitioned"}
        Whole-IR engine calls on large blocks, or a uniformly partitioned convolver.
    block_size : int
        Frames per engine call (whole) or the partition size ``B`` (partitioned).
    costs : dict
        Predicted nanoseconds per frame of each candidate (``"whole"``,
        ``"partitioned:B"``).
    """

    method: str
    block_size: int
    costs: dict


def plan_stream(taps: int, channels: int = 2, dtype=np.float32, *,
                ir_channels: int | None = None) -> StreamPlan:
    """Choose between whole-IR and partitioned streaming by predicted throughput.

    Pure: sizes in, a plan out (see the constants above for where the model comes from).
    IRs longer than ``PARTITIONED_MAX_TAPS`` always get whole-IR blocks.

    Parameters
    ----------
    taps : int
        IR length in frames.
    channels : int, optional
        Convolved columns (output channels).
    dtype : dtype, optional
        float32 or float64.
    ir_channels : int, optional
        IR channels (default ``channels``), for the engine's plan of a whole-IR block.

    Returns
    -------
    StreamPlan

    Examples
    --------
    >>> plan_stream(4800).method              # 0.1 s at 48 kHz: big engine blocks win
    'whole'
    >>> plan_stream(144000).method            # 3 s: partitions win
    'partitioned'
    """
    taps = max(int(taps), 1)
    dtype = np.dtype(dtype)
    ir_ch = channels if ir_channels is None else ir_channels
    whole_block = default_block_size(taps, ir_ch, dtype)
    cols = max(channels, ir_ch)            # the engine's columns (true stereo: 4)
    plan = _engine_explain(np.empty((whole_block, cols), dtype),
                           np.empty((taps, cols), dtype), axes=0)
    factor = min(max(whole_block / WHOLE_FACTOR_FROM, 1.0), WHOLE_FACTOR_MAX)
    # (no costs: a trivial engine case, e.g. a one-tap IR, where whole blocks win anyway)
    engine = min(plan.costs.values()) if plan.costs else 0.0
    costs = {"whole": engine * 1e9 / whole_block * factor}
    cdtype = np.result_type(dtype, np.complex64)
    for B in PARTITIONED_BLOCKS:
        stages = plan_partitions(taps, B, "uniform")
        costs[f"partitioned:{B}"] = (_cost(stages, B, channels, cdtype)[1] / B
                                     * PARTITIONED_FACTOR)
    eligible = costs if taps <= PARTITIONED_MAX_TAPS else {"whole": costs["whole"]}
    best = min(eligible, key=eligible.get)
    if best == "whole":
        return StreamPlan("whole", whole_block, costs)
    return StreamPlan("partitioned", int(best.split(":")[1]), costs)


def default_block_size(taps: int, channels: int = 2, dtype=np.float32) -> int:
    """Frames per engine call when streaming through an IR of ``taps`` taps.

    Start from ``8 * taps`` rounded up to a power of two, within [2**15, 2**21] frames:
    at 8x the IR length the carried tail costs ~1/8 extra work. Then, when the engine
    would use overlap-add on such a call, round to a whole number of its blocks, so no
    call transforms a mostly empty last block. (The IR's spectrum is computed on the first
    call only: the streamer keeps a :class:`sigconv.Convolver`.) Memory grows with the
    block (peak RSS of ``sigconv reverb`` with a 3 s stereo IR, measured: 162 MB at 2
    engine blocks of 570421 frames, 208 MB at 4, and 214 MB at this default, 3 blocks of 752001).

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
        Largest number of frames handed to the engine at once (longer blocks are split).
        Default: :func:`plan_stream` picks whole-IR engine calls on blocks of
        :func:`default_block_size` frames, or, where it predicts more throughput (IRs of
        about 0.5 to 5 s at 48 kHz), a uniformly partitioned
        :class:`PartitionedConvolver` that this object delegates to (``method``).
    channels : int, optional
        Input channel count; default: taken from the first block.
    workers : int, optional
        Threads for the engine's FFTs.

    Attributes
    ----------
    method : {"whole", "partitioned"}
        How the blocks are convolved (always ``"whole"`` with an explicit ``block_size``).

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
        self.method = "whole"
        self._partition = 0
        self._pc: PartitionedConvolver | None = None
        if block_size is None:
            out_ch = route(int(channels), self.ir.shape[1]).out_channels \
                if channels is not None else self.ir.shape[1]
            plan = plan_stream(self.taps, out_ch, self.ir.dtype, ir_channels=self.ir.shape[1])
            if plan.method == "partitioned":
                self.method, self._partition = "partitioned", plan.block_size
                block_size = PARTITIONED_READ
            else:
                block_size = plan.block_size
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
        if self.method == "partitioned" and x.shape[0]:
            if self._pc is None:
                self._pc = PartitionedConvolver(
                    self.ir, self._partition, "uniform", channels=x.shape[1], dtype=dtype,
                    wet=1.0, dry=0.0, ir_norm="none")
            self.frames_in += x.shape[0]
            y = self._pc.process(x)              # x is 2-D here: so is y
            return y[:, 0] if self._mono else y
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
        if self._pc is not None:
            self.frames_in = 0
            tail = self._pc.flush()
            return tail[:, 0] if self._mono else tail
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
