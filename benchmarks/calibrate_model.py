"""Measure the planner's cost constants here and print them beside the built-in table.

Runs ``sigconv.engine._calibrate.measure`` (the code behind ``sigconv calibrate``)
``--runs`` times and prints the median of each constant next to the default in
``sigconv/engine/_planner.py``, which was filled in from this script's output.

    python benchmarks/calibrate_model.py [--runs 3] [--backend pyfftw|scipy]
"""

import argparse
import os
import platform
import statistics

from sigconv.engine._calibrate import measure
from sigconv.engine._planner import DEFAULT_CONSTANTS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backend", default=None)
    args = ap.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    runs = [measure(args.backend, workers=os.cpu_count() or 1) for _ in range(args.runs)]
    print(f"{'constant':14s} {'median':>10s} {'default':>10s}  runs")
    for k in runs[0]:
        vals = [r[k] for r in runs]
        print(f"{k:14s} {statistics.median(vals):10.3g} {DEFAULT_CONSTANTS.get(k, 0):10.3g}  "
              + " ".join(f"{v:.3g}" for v in vals))


if __name__ == "__main__":
    main()
