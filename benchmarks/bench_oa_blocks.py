"""Overlap-add's block loop in the compiled core against the chunked loop from Python.

With pyFFTW, sigconv runs a real overlap-add along one axis as one call into the core
(``sigconv.engine._core.oa_fftw``), which calls FFTW's execute functions itself, block by
block; ``sigconv.engine._fft.OA_FFTW_BLOCKS = False`` keeps the loop of sessions up to 14
(chunks of C blocks: a fill, a batched FFTW execute, the product, the inverse, the
accumulation, each a call from Python). Both run in one process, timed in pairs (A B A B
...), medians; the ratio is blocks / chunks.

    python benchmarks/bench_oa_blocks.py            # 1e5-1e7 samples, 301-300001 taps
    python benchmarks/bench_oa_blocks.py --quick    # 1e5-1e6 samples
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import sigconv
from sigconv.engine import _fft


def paired(fa, fb, reps: int) -> tuple[float, float]:
    fa()
    fb()
    a, b = [], []
    for _ in range(reps):
        t = time.perf_counter()
        fa()
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        fb()
        b.append(time.perf_counter() - t)
    return statistics.median(a) * 1e3, statistics.median(b) * 1e3


def run(x, h, blocks: bool):
    _fft.OA_FFTW_BLOCKS = blocks
    try:
        return sigconv.convolve(x, h)
    finally:
        _fft.OA_FFTW_BLOCKS = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    ns = [10**5, 10**6] if args.quick else [10**5, 10**6, 10**7]
    rng = np.random.default_rng(0)
    print("| dtype | n | m | block | blocks (ms) | chunks (ms) | blocks / chunks |")
    print("|---|---|---|---|---|---|---|")
    ratios = []
    for dt in (np.float64, np.float32):
        for n in ns:
            x = rng.standard_normal(n).astype(dt)
            for m in (301, 3001, 30001, 300001):
                if m * 10 > n:
                    continue
                h = rng.standard_normal(m).astype(dt)
                plan = sigconv.explain(x, h)
                if plan.method != "oa":
                    continue
                a, b = paired(lambda x=x, h=h: run(x, h, True),
                              lambda x=x, h=h: run(x, h, False),
                              15 if n <= 10**6 else 7)
                ratios.append(a / b)
                print(f"| {np.dtype(dt).name} | {n:.0e} | {m} | {plan.block} | {a:.3f} | "
                      f"{b:.3f} | {a / b:.2f} |", flush=True)
    print(f"\nblocks / chunks: median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} cells")


if __name__ == "__main__":
    main()
