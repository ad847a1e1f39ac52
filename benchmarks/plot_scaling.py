"""The O(n log n) picture with a finer, longer sweep than ``sigconv calibrate --plot``.

Times direct, overlap-add and FFT convolution (sigconv.engine.measure_scaling: best of
three runs per point) for a kernel as long as the signal and for a fixed kernel, prints
a table per sweep (ms per call, the planner's choice, the fastest measured method and
the regret = time of the choice / time of the fastest) and draws the picture.

    python benchmarks/plot_scaling.py scaling.png            # about 20-40 s
    python benchmarks/plot_scaling.py scaling.png --kernel 33 --cap 0.5
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np

import sigconv
import sigconv.plot
from sigconv.engine import measure_scaling


def table(run) -> str:
    head = "kernel = signal" if run.kernel is None else f"kernel {run.kernel} taps"
    lines = [f"### {head}", "",
             "| n | direct ms | oa ms | fft ms | auto picks | fastest | regret |",
             "|---|---|---|---|---|---|---|"]
    for i, n in enumerate(run.sizes):
        t = {m: run.seconds[m][i] for m in run.seconds}
        finite = {m: v for m, v in t.items() if math.isfinite(v)}
        best = min(finite, key=finite.get)
        chosen = run.chosen[i]
        regret = t[chosen] / finite[best] if math.isfinite(t[chosen]) else math.nan
        cells = " | ".join("-" if not math.isfinite(t[m]) else f"{t[m] * 1e3:.3g}"
                           for m in ("direct", "oa", "fft"))
        lines.append(f"| {n:,} | {cells} | {chosen} | {best} | "
                     f"{'-' if math.isnan(regret) else f'{regret:.2f}'} |")
    seen = ", ".join(f"{a} -> {b} at n ~ {x:,.0f}" for a, b, x in run.crossovers())
    lines += ["", f"fastest measured: {seen or 'one method throughout'}", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("picture", help="output picture (.png, .svg or .pdf)")
    ap.add_argument("--kernel", type=int, default=129, help="fixed kernel length (129)")
    ap.add_argument("--cap", type=float, default=0.3,
                    help="seconds per call beyond which a method is not timed further")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    sigconv.plot.check_path(args.picture)
    print(f"sigconv {sigconv.__version__}, numpy {np.__version__}, "
          f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    equal = [round(2 ** (e / 2)) for e in range(6, 35)]          # 8 .. 131072, x sqrt(2)
    fixed = [round(2 ** (e / 2)) for e in range(14, 43)]         # 128 .. 2**21
    t0 = time.perf_counter()
    runs = [measure_scaling(equal, cap=args.cap, workers=args.workers),
            measure_scaling(fixed, kernel=args.kernel, cap=args.cap, workers=args.workers)]
    print(f"swept in {time.perf_counter() - t0:.1f} s, backend {runs[0].backend}, "
          f"{runs[0].workers} thread(s)\n")
    for run in runs:
        print(table(run))
    t0 = time.perf_counter()
    sigconv.plot.scaling(runs, args.picture)
    print(f"picture {args.picture} drawn in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
