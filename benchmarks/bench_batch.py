"""Batch benchmark: ``sigconv reverb`` over many files, ``--jobs 2`` against ``--jobs 1``.

Run from the repository root::

    python benchmarks/bench_batch.py                     # 50 files of 10 s (the target)
    python benchmarks/bench_batch.py --seconds 10 40     # also 50 files of 40 s
    python benchmarks/bench_batch.py --files 20 --repeats 5

Each workload is ``--files`` WAV files of ``--seconds`` seconds, stereo 48 kHz PCM_16
(noise tilted towards low frequencies, -20 dBFS RMS; each file a different rotation of
it), written to a temporary directory, and the impulse response ``data/ir_hall.wav``
(2.5 s, stereo, 48 kHz). Each run is a whole process timed from outside (wall time)::

    python -m sigconv_cli reverb f00.wav ... f49.wav ir_hall.wav -o out/ --jobs J --force --quiet

with J = 1 and J = 2 taking turns, ``--repeats`` times each; the table gives every run,
the median, the ratio of the medians (the target: >= 1.7x for 50 files of 10 s) and the
median CPU time of all the command's processes (Linux: this script adopts the workers as
a child subreaper, so their time is counted). The
machine is shared and noisy: the load average is printed before and after, and a control
shows how much two processes can get from it at that moment: the same CPU-bound loop
(NumPy FFTs, single-threaded) done as 2N iterations by one process against N by each of
two processes at once. With two free cores its ratio is about 2; the batch ratio cannot
exceed it. The outputs of the two settings are compared sample for sample at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

RATE = 48_000
HERE = os.path.dirname(os.path.abspath(__file__))
IR = os.path.join(HERE, os.pardir, "data", "ir_hall.wav")


def make_files(directory: str, count: int, seconds: float) -> list[str]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((int(seconds * RATE), 2), dtype=np.float32)
    x[1:] += 0.9 * x[:-1]
    x *= np.float32(0.1 / np.sqrt(1 + 0.81))
    paths = []
    for i in range(count):
        path = os.path.join(directory, f"f{i:02d}.wav")
        sf.write(path, np.roll(x, 4801 * i, axis=0), RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux prctl PR_SET_CHILD_SUBREAPER), so that the CPU
    time of the worker processes, children of multiprocessing's fork server, which
    outlives the command by a moment, is counted in this process's RUSAGE_CHILDREN."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap() -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def run(inputs: list[str], out: str, jobs: int) -> tuple[float, float]:
    """Wall time and CPU time (user + system, all processes) of one command."""
    argv = [sys.executable, "-m", "sigconv_cli", "reverb", *inputs, IR, "-o", out,
            "--jobs", str(jobs), "--force", "--quiet"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"sigconv failed ({proc.returncode}): {proc.stderr.strip()}")
    reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


_LOOP = ("import sys, time, numpy as np\n"
         "x = np.random.default_rng(0).standard_normal(1 << 15)\n"
         "t = time.perf_counter()\n"
         "for _ in range(int(sys.argv[1])): np.fft.rfft(x)\n")


def control(iterations: int = 4000) -> float:
    """Wall time of 2N loop iterations in one process over N in each of two at once."""
    def start(n: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _LOOP, str(n)])

    t0 = time.perf_counter()
    start(2 * iterations).wait()
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    pair = [start(iterations), start(iterations)]
    for p in pair:
        p.wait()
    two = time.perf_counter() - t0
    return one / two


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import sigconv
    subreaper = become_subreaper()
    print(f"# bench_batch: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, sigconv {sigconv.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# IR {os.path.relpath(IR)} ({sf.info(IR).frames} frames x "
          f"{sf.info(IR).channels} ch at {sf.info(IR).samplerate} Hz); each run is a whole "
          "process: python -m sigconv_cli reverb FILES IR -o out/ --jobs J --force --quiet")
    print("# CPU s: user + system time of all the command's processes (workers included"
          f"{'' if subreaper else ': NOT counted here, no PR_SET_CHILD_SUBREAPER'}), median")
    print(f"{'workload':<26} {'jobs':>4}  {'runs (s)':<20} {'median':>7}  {'ratio':>6}  "
          f"{'CPU s':>6}  load (1/5/15 min) before -> after; control: 2 processes / 1")
    for seconds in args.seconds:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            inputs = make_files(tmp, args.files, seconds)
            outs = {j: os.path.join(tmp, f"out{j}") for j in (1, 2)}
            before = load()
            controls = [control()]
            times: dict[int, list[float]] = {1: [], 2: []}
            cpus: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeats):
                for jobs in (1, 2):
                    wall, cpu = run(inputs, outs[jobs], jobs)
                    times[jobs].append(wall)
                    cpus[jobs].append(cpu)
            controls.append(control())
            after = load()
            medians = {j: statistics.median(t) for j, t in times.items()}
            name = f"{args.files} x {seconds:g} s stereo 48k"
            for jobs in (1, 2):
                runs = " ".join(f"{t:.2f}" for t in times[jobs])
                ratio = f"{medians[1] / medians[2]:.2f}x" if jobs == 2 else ""
                print(f"{name:<26} {jobs:>4}  {runs:<20} {medians[jobs]:>7.2f}  {ratio:>6}  "
                      f"{statistics.median(cpus[jobs]):>6.2f}  {before} -> {after}; "
                      f"{' then '.join(f'{c:.2f}x' for c in controls)}", flush=True)
            for path in inputs:
                a = sf.read(os.path.join(outs[1], os.path.basename(path)), dtype="int16")[0]
                b = sf.read(os.path.join(outs[2], os.path.basename(path)), dtype="int16")[0]
                if not np.array_equal(a, b):
                    print(f"# MISMATCH between --jobs 1 and 2 in {os.path.basename(path)}")
                    return 1
            print(f"# {name}: the {args.files} outputs of --jobs 1 and --jobs 2 are equal, "
                  "sample for sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
