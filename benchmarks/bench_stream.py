"""Real-time streaming benchmark: time per block against the block's real-time budget.

Run from the repository root::

    python benchmarks/bench_stream.py                 # 3000 blocks per block size
    python benchmarks/bench_stream.py --blocks 500 --sizes 256
    python benchmarks/bench_stream.py --throughput     # also the table behind plan_stream

A 3 s stereo IR at 48 kHz (the IR of ``bench_audio.py``) and a stereo float32 signal
fed block by block, for blocks of 64, 128, 256 and 1024 frames, to:

- ``sigconv.audio.PartitionedConvolver`` with ``partitions="auto"`` and ``"uniform"``
  (``process(x, out=)``: no allocation per call),
- ``sigconv.audio.StreamConvolver`` at the same block size (whole-IR streaming),
- ``pedalboard.Convolution`` fed block by block (``process(..., reset=False)``), when
  installed (pedalboard 0.9 wraps JUCE's ``dsp::Convolution``).

The contenders take turns of 256 blocks (the first 4 of a turn, which refill the cache
after the other contenders ran, not counted), so the machine's load drifts over all of
them alike. For each: the median time per block as a percentage of the block's duration
(``B / 48000`` s), the 99th percentile and its ratio to the median, both as wall time
and as the thread's CPU time (``time.thread_time``: a block preempted by another
process counts its wall time, not its CPU time, so CPU p99 shows the convolver's own
spikes on a shared machine), and the speed-up of the partitioned convolver over the
others. "phase p99/med" is for the partitioned convolver alone: the per-block CPU time
is grouped by the block's position in the longest stage period (where the large FFTs
fall), the median taken within each position, and the largest of those medians divided
by the overall median: the schedule's own spike, free of noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_audio import RATE, make_ir  # noqa: E402

import sigconv  # noqa: E402
from sigconv.audio import PartitionedConvolver, StreamConvolver  # noqa: E402


# Contenders take turns of CHUNK blocks (a real-time thread runs one convolver, whose
# buffers stay in cache from block to block: interleaving every block with the
# StreamConvolver, which sweeps megabytes, measured the partitioned one 2.4x slower);
# the first SETTLE blocks of a turn refill the cache and are not counted.
CHUNK = 256
SETTLE = 4


class _Contender:
    def __init__(self, name: str, step) -> None:
        self.name, self.step = name, step
        self.wall: list[int] = []
        self.cpu: list[int] = []


def _pedalboard(ir: np.ndarray, block: int):
    try:
        import pedalboard
    except ImportError:
        return None
    conv = pedalboard.Convolution(np.ascontiguousarray(ir.T), mix=1.0, sample_rate=RATE)

    def step(x):          # x is (frames, channels); pedalboard takes (channels, frames)
        return conv.process(x.T, RATE, buffer_size=block, reset=False)
    return step


def run(sizes, blocks: int, warm: int = 200) -> list[str]:
    ir = make_ir()
    rng = np.random.default_rng(3)
    lines = []
    for B in sizes:
        x = (0.1 * rng.standard_normal((B * 64, 2))).astype(np.float32)
        contenders = []
        stages = {}
        for scheme in ("auto", "uniform"):
            pc = PartitionedConvolver(ir, B, scheme, channels=2, dtype=np.float32)
            stages[scheme] = pc.stages
            out = np.empty((B, 2), np.float32)
            contenders.append(_Contender(f"Partitioned {scheme}",
                                         lambda xb, pc=pc, out=out: pc.process(xb, out=out)))
        sc = StreamConvolver(ir, B, channels=2)
        contenders.append(_Contender("StreamConvolver", sc.process))
        pb = _pedalboard(ir, B)
        if pb is not None:
            contenders.append(_Contender("pedalboard Convolution", pb))
        n_blocks = blocks if B <= 256 else max(blocks // 3, 300)
        for c in contenders:
            for i in range(warm):
                c.step(x[(i % 64) * B:(i % 64 + 1) * B])
        done = 0
        while done < n_blocks:        # turns of CHUNK blocks, the first SETTLE not counted
            count = min(CHUNK, n_blocks - done)
            for c in contenders:
                for i in range(done - SETTLE, done + count):
                    xb = x[(i % 64) * B:(i % 64 + 1) * B]
                    w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
                    c.step(xb)
                    c1, w1 = time.thread_time_ns(), time.perf_counter_ns()
                    if i >= done:
                        c.wall.append(w1 - w0)
                        c.cpu.append(c1 - c0)
            done += count
        budget = B / RATE * 1e9
        auto = contenders[0]
        med_auto = np.median(auto.wall)
        lines.append(f"\nblock {B} frames ({budget / 1e6:.3f} ms real time), {n_blocks} "
                     f"blocks, load average {os.getloadavg()[0]:.2f}; auto scheme: "
                     + ", ".join(f"{s.count}x{s.size}" for s in stages["auto"]))
        lines.append(f"{'contender':<26}{'median us':>10}{'% RT':>8}{'p99 us':>9}"
                     f"{'p99/med':>8}{'CPU med':>9}{'CPU p99':>9}{'CPUp99/med':>11}"
                     f"{'auto x faster':>14}")
        for c in contenders:
            wall, cpu = np.array(c.wall) / 1e3, np.array(c.cpu) / 1e3
            med, p99 = np.median(wall), np.percentile(wall, 99)
            cmed, cp99 = np.median(cpu), np.percentile(cpu, 99)
            lines.append(f"{c.name:<26}{med:>10.1f}{med * 1e3 / budget * 100:>7.2f}%"
                         f"{p99:>9.1f}{p99 / med:>8.2f}{cmed:>9.1f}{cp99:>9.1f}"
                         f"{cp99 / cmed:>11.2f}{med * 1e3 / med_auto:>14.1f}")
        period = max(s.size for s in stages["auto"]) // B
        if period > 1:
            cpu = np.array(auto.cpu[:len(auto.cpu) // period * period]).reshape(-1, period)
            phase = np.median(cpu, axis=0)
            lines.append(f"auto schedule over its {period}-block period: per-position CPU "
                         f"median {phase.min() / 1e3:.1f}-{phase.max() / 1e3:.1f} us, "
                         f"phase max/med {phase.max() / np.median(auto.cpu):.2f}")
        print("\n".join(lines[-(len(contenders) + 3 if period > 1 else
                                  len(contenders) + 2):]), flush=True)
    return lines


def throughput(seconds: float, tap_list) -> list[str]:
    """Files, not live audio: ns per frame of whole-IR streaming (StreamConvolver at
    default_block_size) and of uniform partitions at each B of PARTITIONED_BLOCKS, measured
    (best of 2) beside plan_stream's prediction; the planner's pick and its regret (its
    pick's measured time over the fastest measured)."""
    from bench_audio import make_signal

    from sigconv.audio import default_block_size, plan_stream
    from sigconv.audio._stream import PARTITIONED_BLOCKS

    x = make_signal(seconds)
    n = x.shape[0]
    rng = np.random.default_rng(0)
    lines = [f"\nthroughput: {seconds:g} s of stereo float32 at {RATE} Hz, ns per frame "
             f"measured (predicted by plan_stream), best of 2; load average "
             f"{os.getloadavg()[0]:.2f}"]
    lines.append(f"{'IR taps':>8} {'whole':>14}" + "".join(f"{'B=' + str(b):>14}"
                                                          for b in PARTITIONED_BLOCKS)
                 + "  planner pick / regret")
    print(lines[-2] + "\n" + lines[-1], flush=True)
    for taps in tap_list:
        ir = (0.1 * rng.standard_normal((taps, 2))
              * np.exp(-6.9 * np.arange(taps) / taps)[:, None]).astype(np.float32)
        plan = plan_stream(taps, 2, np.float32)
        measured = {}
        for _ in range(2):
            size = default_block_size(taps, 2, np.float32)
            sc = StreamConvolver(ir, size, channels=2)
            t0 = time.perf_counter()
            for i in range(0, n, size):
                sc.process(x[i:i + size])
            sc.flush()
            measured.setdefault("whole", []).append((time.perf_counter() - t0) / n * 1e9)
            for B in PARTITIONED_BLOCKS:
                pc = PartitionedConvolver(ir, B, "uniform", channels=2, dtype=np.float32,
                                          wet=1, dry=0, ir_norm="none")
                out = np.empty((B, 2), np.float32)
                t0 = time.perf_counter()
                for i in range(0, n - B + 1, B):
                    pc.process(x[i:i + B], out=out)
                measured.setdefault(f"partitioned:{B}", []).append(
                    (time.perf_counter() - t0) / (n // B * B) * 1e9)
        best = {k: min(v) for k, v in measured.items()}
        pick = "whole" if plan.method == "whole" else f"partitioned:{plan.block_size}"
        fastest = min(best, key=best.get)
        cells = "".join(f"{best[k]:>7.1f} ({plan.costs[k]:>4.0f})" for k in
                        ["whole", *(f"partitioned:{b}" for b in PARTITIONED_BLOCKS)])
        lines.append(f"{taps:>8} {cells}  {pick} / {best[pick] / best[fastest]:.2f}"
                     f" (fastest {fastest})")
        print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 1024])
    ap.add_argument("--blocks", type=int, default=3000)
    ap.add_argument("--out", default=None, help="also append the table to this file")
    ap.add_argument("--throughput", action="store_true",
                    help="also the file-throughput table behind sigconv.audio.plan_stream")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="signal length of the throughput table (default 60 s)")
    ap.add_argument("--taps", type=int, nargs="+",
                    default=[4800, 12000, 24000, 48000, 144000, 240000, 480000])
    args = ap.parse_args(argv)
    head = (f"bench_stream: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}, sigconv {sigconv.__version__}, FFT "
            f"{sigconv.backends.get_backend().describe()}; 3 s stereo IR at {RATE} Hz, "
            f"float32")
    print(head, flush=True)
    lines = [head, *run(args.sizes, args.blocks)]
    if args.throughput:
        lines += throughput(args.seconds, args.taps)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
