"""Low-latency convolution: partitioned overlap-save with frequency-domain delay lines.

Design
------
The effective IR (wet/dry, pre-delay and normalisation applied as :func:`reverb` does)
is cut into partitions. A *stage* holds ``K`` partitions of ``L`` taps each, starting at
tap ``s``. Its input is cut into blocks of ``L`` frames; each block's window (the
previous block and this one, ``2L`` frames) is transformed once (a real FFT of ``2L``)
and the spectrum goes into the stage's frequency-domain delay line (FDL): a circular
``(K, a, b, F)`` array, ``F = L + 1`` bins, the newest spectrum at ``head``. Output
block ``m`` is the inverse FFT of ``sum_j H_j X_{m-j}`` (overlap-save: its second half).

The FDL never shifts: the IR spectra are stored twice in reversed order (``P``, ``2K``
rows) so that for any ``head`` the rows ``P[o:o + K]`` line up with the FDL slots
``0..K-1``; a group of partitions is one or two contiguous slot ranges, and its
multiply-accumulate is one ``np.multiply(..., out=)`` and one ``np.add.reduce(...,
out=)`` per range (measured fastest here: ``einsum`` with ``out=`` was 3-5x slower on
complex data, a Python loop over partitions 1.3-8x slower).

Stage 0 (partitions of the block size ``B``) runs on every ``process`` call, whatever
its length: the current, partly filled window is transformed, multiplied by the first
partition and added to the sum of partitions ``1..K-1`` over the past blocks, which is
computed once when a block completes. So the output of a call depends on its own input:
no latency beyond the block.

Later stages (``"auto"``) have partitions ``L = B * 2**n``. A stage's block of input
completes at a block boundary of stage 0; its work (one FFT of ``2L``, its ``K``
multiply-adds, one inverse FFT) is spread over the next ``R = L / B`` block boundaries,
the FFT on the first, the inverse on the last and the multiply-adds in between, and the
result is added into an output ring that stage 0 reads (and clears) frame by frame.
The result of input block ``m`` is ready at boundary ``(m + 2) L - B`` and is needed at
output time ``m L + s``: so a stage may start at tap ``s >= 2L - B``; stage 0 covers the
taps before that. Each stage's blocks are offset by a multiple of ``B`` so that the
large FFTs of different stages do not fall on the same boundary.

Every buffer (windows, FDLs, accumulators, ring, FFT inputs and outputs) is allocated
when the convolver is built. With pyFFTW the transforms write into fixed arrays, so a
``process`` call with ``out=`` allocates nothing; with the scipy.fft fallback every
transform returns a new array (scipy.fft has no ``out=``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import _checks
from .._errors import InputError, InputTypeError
from ..backends import owned_plan
from ._effects import (
    DEFAULT_IR_NORM,
    IR_NORMS,
    _check_level,
    as_audio,
    predelay_to_frames,
    prepare_reverb,
)
from ._routing import Routing

PARTITIONS = ("auto", "uniform")
MAX_BLOCK_SIZE = 1 << 16
DEFAULT_CROSSFADE = 1024

# Cost model of the "auto" scheme, in nanoseconds, measured with owned pyFFTW plans and
# numpy 2.4 on this project's 2-core test machine (scratch runs for bench_stream.py):
# a stereo real FFT of N points costs about FFT_NS * N log2 N per channel (0.15 ns up to
# N = 8192, 0.22 ns beyond, out of cache; best of 5); a complex64 multiply plus sum per
# element MAC_NS (0.9 ns; complex128 1.9 ns); each numpy or FFTW call CALL_NS. Whole
# runs of PartitionedConvolver took 1.4-2.7x (median 2.0x) what this model predicts
# (copies, cache misses): it ranks schemes, sigconv.audio.plan_stream scales it.
_FFT_NS_SMALL, _FFT_NS_LARGE, _FFT_LARGE_FROM = 0.15, 0.22, 16384
_MAC_NS = {np.dtype(np.complex64): 0.9, np.dtype(np.complex128): 1.9}
_CALL_NS = 1500.0
# Stage sizes tried by "auto": L = B * 2**n for these n, one to three stages after stage 0.
_STAGE_SHIFTS = (2, 3, 4, 5, 6)


@dataclass(frozen=True)
class PartitionStage:
    """One stage of a partition scheme: ``count`` partitions of ``size`` taps from ``start``."""

    size: int
    count: int
    start: int


def plan_partitions(taps: int, block_size: int, partitions: str = "auto", *,
                    channels: int = 2, dtype=np.float32) -> tuple[PartitionStage, ...]:
    """The partition scheme for an IR of ``taps`` taps and blocks of ``block_size``.

    ``"uniform"``: one stage of ``block_size`` partitions. ``"auto"``: stage 0 of
    ``block_size`` partitions up to ``2L - B`` rounded up, then one to three stages of
    larger partitions (``L = B * 2**n``), chosen by a cost model to minimise the work of
    the busiest block (the mean work breaks ties); uniform when nothing beats it.

    Parameters
    ----------
    taps : int
        Length of the (effective) IR.
    block_size : int
        Frames per block ``B``.
    partitions : {"auto", "uniform"}, optional
    channels : int, optional
        Convolved columns (the cost grows with them).
    dtype : dtype, optional
        float32 or float64.

    Returns
    -------
    tuple of PartitionStage
        Stages in order; the first has ``size == block_size`` and ``start == 0``.

    Examples
    --------
    >>> plan_partitions(1000, 256, "uniform")
    (PartitionStage(size=256, count=4, start=0),)
    >>> [s.size for s in plan_partitions(144000, 256)]
    [256, 2048]
    """
    _checks.choice(partitions, PARTITIONS, "partitions", ordered=True)
    B = int(block_size)
    uniform = (PartitionStage(B, max(1, -(-int(taps) // B)), 0),)
    if partitions == "uniform":
        return uniform
    cdtype = np.result_type(np.dtype(dtype), np.complex64)
    best = (_cost(uniform, B, channels, cdtype), uniform)
    for n1 in _STAGE_SHIFTS:
        for more in ((), *((n2,) for n2 in range(n1 + 1, n1 + 4)),
                     *((n2, n3) for n2 in range(n1 + 1, n1 + 4) for n3 in range(n2 + 1, n2 + 4))):
            stages = _scheme(int(taps), B, (n1, *more))
            if stages is not None:
                best = min(best, (_cost(stages, B, channels, cdtype), stages),
                           key=lambda c: c[0])
    return best[1]


def _scheme(taps: int, B: int, shifts: tuple[int, ...]) -> tuple[PartitionStage, ...] | None:
    """Stages of sizes B, B*2**shifts[0], ...; None when a stage would be empty."""
    sizes = [B << n for n in shifts]
    stages = []
    start, size = 0, B
    for nxt in sizes:
        end = 2 * nxt - B              # the next stage may start here (see module notes)
        count = -(-(end - start) // size)
        if start + count * size >= taps:
            return None                # the IR ends before the next stage is needed
        stages.append(PartitionStage(size, count, start))
        start += count * size
        size = nxt
    stages.append(PartitionStage(size, -(-(taps - start) // size), start))
    return tuple(stages)


def _fft_ns(n: int, columns: int) -> float:
    per = _FFT_NS_SMALL if n < _FFT_LARGE_FROM else _FFT_NS_LARGE
    return columns * n * math.log2(n) * per + _CALL_NS


def _cost(stages, B: int, channels: int, cdtype) -> tuple[float, float]:
    """(work of the busiest block, mean work per block) in ns, from the cost model."""
    mac = _MAC_NS[np.dtype(cdtype)]
    base = stages[0]
    every = 2 * _fft_ns(2 * B, channels) + 6 * _CALL_NS
    every += mac * max(base.count - 1, 0) * channels * (B + 1) + 2 * _CALL_NS
    peak = mean = every
    for st in stages[1:]:
        R = st.size // B
        fft = _fft_ns(2 * st.size, channels)
        mac_all = mac * st.count * channels * (st.size + 1)
        mean += (2 * fft + mac_all) / R + 3 * _CALL_NS
        peak += fft + mac_all / R + 4 * _CALL_NS    # stages' spikes are offset: one counts
    return peak, mean


def _transform(kind: str, shape: tuple[int, int], dtype, backend):
    """(input, output, run) of an owned real transform over the last axis."""
    plan = owned_plan(kind, shape, dtype, backend=backend)
    out = getattr(plan, "output", None)
    if out is not None:
        return plan.input, out, plan.execute
    out_shape = (shape[0], shape[1] // 2 + 1) if kind == "r2c" else shape
    out = np.empty(out_shape, np.result_type(dtype, np.complex64) if kind == "r2c" else dtype)
    return plan.input, out, lambda: np.copyto(out, plan.execute())


class _FDL:
    """A circular frequency-domain delay line and the IR spectra it is multiplied with."""

    def __init__(self, spectra: np.ndarray, x_shape: tuple[int, int]) -> None:
        K, F = spectra.shape[0], spectra.shape[-1]
        self.K = K
        a = max(x_shape[0], spectra.shape[1])
        b = max(x_shape[1], spectra.shape[2])
        # Both operands are stored broadcast out to (a, b): numpy multiplies contiguous
        # same-shape arrays without a buffer, where a broadcasting or strided ufunc call
        # allocates its iterator's buffers (measured with tracemalloc: 35-350 kB a call).
        # P[p] = H[(K - 1 - p) % K]: rows o..o+K-1 line up with slots 0..K-1 for o = K-1-head.
        self.P = np.ascontiguousarray(np.broadcast_to(
            spectra[(K - 1 - np.arange(2 * K)) % K], (2 * K, a, b, F)))
        self.X = np.zeros((K, a, b, F), spectra.dtype)
        self.tmp = np.empty((K, a, b, F), spectra.dtype)
        self.tmp_flat = self.tmp.reshape(K * a, b, F)
        self.part = np.empty((b, F), spectra.dtype)
        self.a = a
        self.head = K - 1

    def reset(self) -> None:
        self.X[:] = 0
        self.head = self.K - 1

    def push(self, spectrum: np.ndarray) -> None:
        self.head = (self.head + 1) % self.K
        np.copyto(self.X[self.head], spectrum)      # broadcast along the IR's output axis

    def mac(self, acc: np.ndarray, j0: int, j1: int) -> None:
        """acc += sum over partitions j0 <= j < j1 of H_j X_(newest - j)."""
        if j1 <= j0:
            return
        K, head = self.K, self.head
        o = K - 1 - head
        lo, hi = (head - j1 + 1) % K, (head - j0) % K
        ranges = ((lo, hi + 1),) if lo <= hi else ((lo, K), (0, hi + 1))
        for r0, r1 in ranges:
            n = r1 - r0
            np.multiply(self.P[o + r0:o + r1], self.X[r0:r1], out=self.tmp[:n])
            np.add.reduce(self.tmp_flat[:n * self.a], axis=0, out=self.part)
            np.add(acc, self.part, out=acc)


def _spectra(h: np.ndarray, size: int, count: int, h_shape, cdtype, backend) -> np.ndarray:
    """Spectra of ``count`` partitions of ``size`` taps of ``h`` (taps, ir_channels), each
    zero-padded to ``2 size``, scaled by ``1/(2 size)`` (the inverse FFT is unnormalised),
    as ``(count, a_h, b_h, size + 1)``."""
    ch = h.shape[1]
    inp, out, run = _transform("r2c", (ch, 2 * size), np.float64, backend)
    spec = np.empty((count, *h_shape, size + 1), cdtype)
    for j in range(count):
        seg = h[j * size:(j + 1) * size]
        inp[:] = 0
        inp[:, :seg.shape[0]] = seg.T
        run()
        spec[j] = (out / (2 * size)).reshape(*h_shape, size + 1)
    return spec


class _Stage:
    """A stage of partitions larger than the block, its work spread over its period."""

    def __init__(self, h, st: PartitionStage, B: int, offset: int, layout, dtype, cdtype,
                 backend) -> None:
        cols, x_shape, h_shape = layout
        L, K = st.size, st.count
        self.L, self.B, self.R, self.start, self.offset = L, B, L // B, st.start, offset
        self.fdl = _FDL(_spectra(h[st.start:st.start + K * L], L, K, h_shape, cdtype,
                                 backend), x_shape)
        kin = len(cols)
        self.win = np.zeros((kin, 2 * L), dtype)
        self.fin, self.fout, self.frun = _transform("r2c", (kin, 2 * L), dtype, backend)
        self.fspec = self.fout.reshape(*x_shape, L + 1)
        self.iin, self.iout, self.irun = _transform("c2r", (self.fdl.part.shape[0], 2 * L),
                                                    dtype, backend)
        self.acc = np.zeros((self.fdl.part.shape[0], L + 1), cdtype)
        # Partition groups per boundary: FFT on phase 0, inverse on phase R - 1, the
        # multiply-adds spread so that every phase does about the same work.
        R = self.R
        weights = np.ones(R)
        if R > 2:
            fft_share = (2 * L * math.log2(2 * L) * _FFT_NS_SMALL) / max(
                (L + 1) * _MAC_NS[np.dtype(cdtype)], 1e-9)   # an FFT in partitions
            weights[0] = weights[-1] = max(0.0, 1.0 - fft_share / max(K / R, 1e-9))
        edges = np.round(np.concatenate([[0], np.cumsum(weights)]) / weights.sum() * K)
        self.groups = [(int(edges[p]), int(edges[p + 1])) for p in range(R)]
        self.reset()

    def reset(self) -> None:
        self.win[:] = 0
        self.fdl.reset()
        self.fill = self.offset     # frames of this block already "in": zeros before time 0
        self.phase = -1
        self.out_time = 0

    def boundary(self, block: np.ndarray, now: int, ring: np.ndarray) -> None:
        """Take the stage-0 block that ended at time ``now``; do this boundary's work."""
        L, B = self.L, self.B
        self.win[:, L + self.fill:L + self.fill + B] = block
        self.fill += B
        if self.fill == L:                        # a block of this stage is complete
            np.copyto(self.fin, self.win)
            self.frun()
            self.fdl.push(self.fspec)
            _shift(self.win, L)
            self.fill = 0
            self.phase = 0
            self.out_time = now - L + self.start
            self.acc[:] = 0
        if self.phase < 0:
            return
        j0, j1 = self.groups[self.phase]
        self.fdl.mac(self.acc, j0, j1)
        if self.phase == self.R - 1:
            np.copyto(self.iin, self.acc)
            self.irun()
            _ring_add(ring, self.out_time, self.iout[:, L:])
            self.phase = -1
        else:
            self.phase += 1


def _shift(win: np.ndarray, n: int) -> None:
    """win[:, :n] = win[:, n:], row by row: on the 2-D views numpy would see a possible
    overlap and copy through a temporary; rows' halves are disjoint."""
    for row in win:
        np.copyto(row[:n], row[n:])


def _ring_add(ring: np.ndarray, time: int, data: np.ndarray) -> None:
    S, n = ring.shape[1], data.shape[1]
    i = time % S
    first = min(n, S - i)
    for r, d in zip(ring, data, strict=True):    # row by row: 1-D ufunc calls allocate nothing
        np.add(r[i:i + first], d[:first], out=r[i:i + first])
        if first < n:
            np.add(r[:n - first], d[first:], out=r[:n - first])


class _Core:
    """The partitioned convolution of gathered input columns with one effective IR."""

    def __init__(self, h: np.ndarray, routing: Routing, B: int, partitions: str, dtype,
                 backend) -> None:
        layout = routing.spectral_layout()
        cols, x_shape, h_shape = layout
        cdtype = np.result_type(dtype, np.complex64)
        self.cols, self.B, self.dtype = cols, B, np.dtype(dtype)
        kout = routing.out_channels
        self.stages = plan_partitions(h.shape[0], B, partitions, channels=max(len(cols), kout),
                                      dtype=dtype)
        base = self.stages[0]
        spec0 = _spectra(h[:base.count * B], B, base.count, h_shape, cdtype, backend)
        self.h0 = spec0[0]
        self.fdl = _FDL(spec0[1:], x_shape) if base.count > 1 else None
        kin = len(cols)
        self.win = np.zeros((kin, 2 * B), dtype)
        self.fin, self.fout, self.frun = _transform("r2c", (kin, 2 * B), dtype, backend)
        self.fspec = self.fout.reshape(*x_shape, B + 1)
        self.iin, self.iout, self.irun = _transform("c2r", (kout, 2 * B), dtype, backend)
        a = max(x_shape[0], h_shape[0])
        self.h0 = np.ascontiguousarray(np.broadcast_to(self.h0, (a, kout, B + 1)))
        self.xcur = np.empty((a, kout, B + 1), cdtype)   # the spectrum broadcast out
        self.cur = np.empty((a, kout, B + 1), cdtype)
        self.acc = np.zeros((kout, B + 1), cdtype)
        self.y = np.empty((kout, B), dtype)
        self.upper = []
        offset = 0
        for st in self.stages[1:]:
            self.upper.append(_Stage(h, st, B, offset % st.size, layout, dtype, cdtype,
                                     backend))
            # the next stage's blocks end half a period of this one later
            offset += max(B, (st.size // 2) // B * B)
        ring = max((st.start + 2 * st.size for st in self.stages[1:]), default=0)
        self.ring = np.zeros((kout, ring + 2 * B if ring else 0), dtype)
        self.reset()

    def reset(self) -> None:
        self.win[:] = 0
        self.acc[:] = 0
        self.ring[:] = 0
        if self.fdl is not None:
            self.fdl.reset()
        for st in self.upper:
            st.reset()
        self.pos = 0
        self.time = 0

    def feed(self, x: np.ndarray, start: int, n: int) -> np.ndarray:
        """Convolve frames ``x[start:start + n]`` (``n <= B - pos``); the output columns,
        ``(out_channels, n)``, a view valid until the next call."""
        B, pos = self.B, self.pos
        for c, src in enumerate(self.cols):
            np.copyto(self.win[c, B + pos:B + pos + n], x[start:start + n, src],
                      casting="same_kind")
        np.copyto(self.fin, self.win)
        self.frun()
        np.copyto(self.xcur, self.fspec)
        np.multiply(self.h0, self.xcur, out=self.cur)
        np.add.reduce(self.cur, axis=0, out=self.iin)
        np.add(self.iin, self.acc, out=self.iin)
        self.irun()
        y = self.y[:, :n]
        if self.ring.shape[1]:
            S = self.ring.shape[1]
            i = self.time % S
            first = min(n, S - i)
            for yr, zr, rr in zip(y, self.iout, self.ring, strict=True):  # 1-D calls: no buffers
                np.add(zr[B + pos:B + pos + first], rr[i:i + first], out=yr[:first])
                rr[i:i + first] = 0
                if first < n:
                    np.add(zr[B + pos + first:B + pos + n], rr[:n - first], out=yr[first:])
                    rr[:n - first] = 0
        else:
            np.copyto(y, self.iout[:, B + pos:B + pos + n])
        self.pos += n
        self.time += n
        if self.pos == B:
            self._boundary()
        return y

    def _boundary(self) -> None:
        B = self.B
        if self.fdl is not None:
            self.fdl.push(self.fspec)        # the spectrum of the now complete window
        block = self.win[:, B:]
        for st in self.upper:
            st.boundary(block, self.time, self.ring)
        _shift(self.win, B)
        self.win[:, B:] = 0
        self.pos = 0
        self.acc[:] = 0
        if self.fdl is not None:
            self.fdl.mac(self.acc, 0, self.fdl.K)


class PartitionedConvolver:
    """Real-time convolution reverb: block in, the same frames out, no added latency.

    A uniformly partitioned overlap-save convolver with a frequency-domain delay line
    (block ``B``, FFT of ``2B``), optionally followed by stages of larger partitions whose
    work is spread over the blocks of their period (``partitions="auto"``); see the notes
    of ``sigconv.audio._partitioned``. Routing, wet/dry, pre-delay and IR normalisation
    are those of :func:`sigconv.audio.reverb`, and the outputs of :meth:`process` followed
    by :meth:`flush` equal ``reverb(x, ir, ...)`` of the concatenated input (to rounding:
    1e-6 relative in float64, 1e-5 in float32) whatever the block lengths.

    Parameters
    ----------
    ir : array_like
        Impulse response, ``(taps, ir_channels)`` or 1-D; routed as by ``reverb``.
    block_size : int, optional
        Largest number of frames per partition step ``B`` (default 256); ``process``
        accepts any number of frames and works in steps of at most ``B``.
    partitions : {"auto", "uniform"}, optional
        ``"auto"`` (default): small partitions at the head of the IR, larger ones
        further on, chosen by a cost model; ``"uniform"``: every partition ``B`` taps.
    channels : int, optional
        Input channel count; default: from the first block (then the first
        :meth:`process` call builds the buffers).
    dtype : {"float32", "float64"}, optional
        Working precision; default: float32 if both the IR and the first block are
        float32, else float64 (as ``reverb``).
    samplerate, ir_samplerate, wet, dry, predelay_ms, ir_norm
        As for :func:`sigconv.audio.reverb` (defaults 0.35 wet, 1.0 dry, energy
        normalisation). Use ``wet=1, dry=0, ir_norm="none"`` for a plain convolution.
    backend : str, optional
        FFT backend (``"pyfftw"``; ``"scipy"`` works but allocates per call).

    Attributes
    ----------
    latency : int
        Frames of delay beyond the block itself: always 0.
    stages : tuple of PartitionStage
        The partition scheme in use (None until the buffers are built).

    Examples
    --------
    >>> pc = PartitionedConvolver([1.0, 0.5], block_size=2, wet=1, dry=0, ir_norm="none")
    >>> pc.process(np.array([1.0, 0.0, 0.0]))
    array([1. , 0.5, 0. ])
    >>> pc.flush()
    array([0.])
    >>> pc.latency
    0
    """

    def __init__(self, ir, block_size: int = 256,
                 partitions: Literal["auto", "uniform"] = "auto", *,
                 channels: int | None = None, dtype=None, samplerate: int | None = None,
                 ir_samplerate: int | None = None, wet: float = 0.35, dry: float = 1.0,
                 predelay_ms: float = 0.0, ir_norm: str = DEFAULT_IR_NORM,
                 backend: str | None = None) -> None:
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
                or not 1 <= block_size <= MAX_BLOCK_SIZE:
            raise InputError(f"block_size must be an integer from 1 to {MAX_BLOCK_SIZE}, "
                             f"not {block_size!r}")
        _checks.choice(partitions, PARTITIONS, "partitions", ordered=True)
        _checks.choice(ir_norm, IR_NORMS, "ir_norm", ordered=True)
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.float32, np.float64):
                raise InputTypeError(f"dtype must be float32 or float64, not {dtype.name!r}")
        self.block_size = int(block_size)
        self.partitions = partitions
        self._opts = {"samplerate": samplerate, "ir_samplerate": ir_samplerate,
                      "wet": _check_level(wet, "wet"), "dry": _check_level(dry, "dry"),
                      "predelay_ms": predelay_ms, "ir_norm": ir_norm}
        predelay_to_frames(predelay_ms, samplerate)      # validated now, used when built
        self._ir, _ = as_audio(ir, "ir")
        self._dtype = dtype
        self._backend = backend
        self.routing: Routing | None = None
        self._core: _Core | None = None
        self._next: _Core | None = None      # the new IR's core during a crossfade
        self._ramp = np.empty(0)
        self._faded = 0
        self._mono = False
        self._history = None
        self._hist_pos = 0
        self.taps = 0
        if channels is not None:
            self._build(_checks.positive_int(channels, "channels"), self._dtype or self._ir.dtype)

    latency = 0
    """Frames of delay beyond the block itself (none: each call's output includes the
    response to that call's input)."""

    @property
    def stages(self) -> tuple[PartitionStage, ...] | None:
        """The partition scheme in use, or None before the buffers are built."""
        return None if self._core is None else self._core.stages

    @property
    def out_channels(self) -> int | None:
        """Output channel count (None until the input's channel count is known)."""
        return None if self.routing is None else self.routing.out_channels

    @property
    def dtype(self) -> np.dtype | None:
        """Working and output dtype (None until the buffers are built)."""
        return None if self._core is None else self._core.dtype

    def _effective(self, ir: np.ndarray, channels: int, dtype) -> tuple[np.ndarray, Routing]:
        return prepare_reverb(channels, ir, dtype=np.float64, **self._opts)

    def _build(self, channels: int, dtype) -> None:
        dtype = np.dtype(dtype)
        h, self.routing = self._effective(self._ir, channels, dtype)
        self._core = _Core(h, self.routing, self.block_size, self.partitions, dtype,
                           self._backend)
        self.taps = h.shape[0]
        # Input kept for a new IR (set_ir): as long as this IR, in whole blocks.
        B = self.block_size
        self._history = np.zeros((-(-self.taps // B) * B, channels), dtype)
        self._hist_pos = 0
        self._hist_frames = 0

    def process(self, block, out: np.ndarray | None = None) -> np.ndarray:
        """Convolve the next block; return as many output frames as it has.

        Parameters
        ----------
        block : array_like
            ``(frames, channels)`` or 1-D; the same channel count on every call. Any
            number of frames (split internally into steps of at most ``block_size``).
        out : numpy.ndarray, optional
            Where to write the result, ``(frames, out_channels)`` (1-D for mono in and
            out) of the working dtype. With ``out`` and pyFFTW nothing is allocated.

        Returns
        -------
        numpy.ndarray
            ``out``, or a new array of that shape.
        """
        x = block if isinstance(block, np.ndarray) else np.asarray(block)
        if x.dtype.kind not in "biuf":
            raise InputTypeError(f"block must be real numbers, not dtype {x.dtype.name!r}")
        was_1d = x.ndim == 1
        if was_1d:
            x = x[:, None]
        if x.ndim != 2:
            raise InputError(f"block must be (frames, channels) or 1-D, not shape {x.shape}")
        if self._core is None:
            if x.shape[1] == 0:
                raise InputError(f"block has no channels (shape {x.shape})")
            dtype = self._dtype or np.result_type(
                x.dtype if x.dtype.kind == "f" and x.dtype.itemsize <= 8 else np.float64,
                self._ir.dtype)
            self._build(x.shape[1], dtype)
            self._mono = was_1d and self.routing.out_channels == 1
        elif x.shape[1] != self.routing.in_channels:
            raise InputError(f"block has {x.shape[1]} channels, the stream has "
                             f"{self.routing.in_channels}")
        n = x.shape[0]
        if n and not (math.isfinite(x.max()) and math.isfinite(x.min())):
            raise InputError("block contains NaN or infinite samples")
        kout = self.routing.out_channels
        if out is None:
            y = np.empty((n, kout), self._core.dtype)
            result = y[:, 0] if self._mono else y
        else:
            result = out
            if not isinstance(out, np.ndarray) or out.dtype != self._core.dtype:
                raise InputTypeError(f"out must be a numpy array of {self._core.dtype.name}, "
                                     f"not {getattr(out, 'dtype', type(out).__name__)!s}")
            want = (n,) if self._mono else (n, kout)
            if out.shape != want and not (out.shape == (n, 1) and want == (n,)):
                raise InputError(f"out must have shape {want}, not {out.shape}")
            y = out[:, None] if out.ndim == 1 else out
        self._run(x, y, n)
        return result

    def _run(self, x: np.ndarray, y: np.ndarray, n: int) -> None:
        core, nxt, B = self._core, self._next, self.block_size
        done = 0
        while done < n:
            step = min(n - done, B - core.pos)
            if nxt is not None:
                step = min(step, B - nxt.pos, self._ramp.shape[0] - self._faded)
            a = core.feed(x, done, step)
            if nxt is None:
                np.copyto(y[done:done + step], a.T)
            else:
                b = nxt.feed(x, done, step)
                ramp = self._ramp[self._faded:self._faded + step]
                for ar, br in zip(a, b, strict=True):         # 1-D calls: no buffers
                    np.subtract(br, ar, out=br)
                    np.multiply(br, ramp, out=br)
                    np.add(ar, br, out=br)
                np.copyto(y[done:done + step], b.T)
                self._faded += step
                if self._faded == self._ramp.shape[0]:
                    self._core, core, self._next, nxt = nxt, nxt, None, None
                    self.taps = self._next_taps
            self._remember(x, done, step)
            done += step

    def _remember(self, x: np.ndarray, start: int, n: int) -> None:
        hist = self._history
        size = hist.shape[0]
        i = self._hist_pos
        first = min(n, size - i)
        np.copyto(hist[i:i + first], x[start:start + first], casting="same_kind")
        if first < n:
            np.copyto(hist[:n - first], x[start + first:start + n], casting="same_kind")
        self._hist_pos = (i + n) % size
        self._hist_frames = min(self._hist_frames + n, size)

    def flush(self) -> np.ndarray:
        """The reverb tail (``taps - 1`` frames of the effective IR), then a reset.

        After ``flush`` the convolver starts a new stream (same IR and channels).
        """
        if self._core is None:
            raise InputError("flush() before any process(): the channel count is unknown")
        n = self.taps - 1
        zeros = np.zeros((min(max(n, 1), self.block_size), self.routing.in_channels),
                         self._core.dtype)
        tail = np.empty((n, self.routing.out_channels), self._core.dtype)
        done = 0
        while done < n:
            step = min(n - done, zeros.shape[0])
            self._run(zeros, tail[done:done + step], step)
            done += step
        if self._next is not None:     # a crossfade still running: finish it at once
            self._core, self._next = self._next, None
            self.taps = self._next_taps
        self._core.reset()
        self._history[:] = 0
        self._hist_pos = self._hist_frames = 0
        return tail[:, 0] if self._mono else tail

    def set_ir(self, ir, *, crossfade: int = DEFAULT_CROSSFADE,
               ir_samplerate: int | None = None) -> None:
        """Replace the IR between two blocks, crossfading to it over ``crossfade`` frames.

        The new IR gets the options given at construction (wet/dry, pre-delay,
        normalisation; its own ``ir_samplerate`` if given). It is primed with the input
        kept so far (as many frames as the old effective IR is long), so its output is
        at once that of a convolver that had it from the start, provided the new
        effective IR is no longer than the old one (a longer one misses the input older
        than that). During the crossfade the output is ``(1 - g) * old + g * new`` with
        ``g`` rising linearly from ``1/crossfade`` to 1; both IRs run meanwhile.

        Parameters
        ----------
        ir : array_like
            The new impulse response; the same routing must give the same output
            channel count.
        crossfade : int, optional
            Frames of the linear crossfade (default 1024, 21 ms at 48 kHz); 0 switches at
            once (and clicks).
        ir_samplerate : int, optional
            Rate of the new IR, if it differs from the one given at construction.
        """
        if isinstance(crossfade, bool) or not isinstance(crossfade, (int, np.integer)) \
                or crossfade < 0:
            raise InputError(f"crossfade must be a whole number of frames >= 0, "
                             f"not {crossfade!r}")
        new_ir, _ = as_audio(ir, "ir")
        if self._core is None:
            self._ir = new_ir
            if ir_samplerate is not None:
                self._opts["ir_samplerate"] = ir_samplerate
            return
        if self._next is not None:               # finish the running crossfade first
            self._core, self._next = self._next, None
            self.taps = self._next_taps
        opts = dict(self._opts)
        if ir_samplerate is not None:
            opts["ir_samplerate"] = ir_samplerate
        channels = self.routing.in_channels
        h, routing = prepare_reverb(channels, new_ir, dtype=np.float64, **opts)
        if routing.out_channels != self.routing.out_channels:
            raise InputError(f"the new IR ({new_ir.shape[1]} channels) gives "
                             f"{routing.out_channels} output channels, the stream has "
                             f"{self.routing.out_channels}")
        core = _Core(h, routing, self.block_size, self.partitions, self._core.dtype,
                     self._backend)
        hist, have = self._history, self._hist_frames
        past = np.roll(hist, -self._hist_pos, axis=0)[hist.shape[0] - have:]
        done = 0
        while done < have:
            step = min(have - done, self.block_size - core.pos)
            core.feed(past, done, step)
            done += step
        self._ir, self._opts, self.routing = new_ir, opts, routing
        if h.shape[0] > self._history.shape[0]:
            grown = np.zeros((-(-h.shape[0] // self.block_size) * self.block_size, channels),
                             self._core.dtype)
            grown[grown.shape[0] - have:] = past
            self._history, self._hist_pos = grown, 0
        self._next_taps = h.shape[0]
        if crossfade == 0:
            self._core = core
            self.taps = h.shape[0]
            return
        self.taps = max(self.taps, h.shape[0])   # the tail of both, until the fade ends
        self._next = core
        self._ramp = (np.arange(1, crossfade + 1, dtype=np.float64) / crossfade).astype(
            self._core.dtype)
        self._faded = 0
