"""Audio benchmark: sigconv reverb against scipy, pedalboard and ffmpeg, as ratios.

Run from the repository root::

    python benchmarks/bench_audio.py            # library + command line, 10 min signal
    python benchmarks/bench_audio.py --long     # also the 60-minute streaming run
    python benchmarks/bench_audio.py --repeats 5 --only library

The signal is 10 minutes of stereo 48 kHz float32 noise shaped like music (-20 dBFS RMS,
pink-ish), the IR 3 seconds of stereo decaying noise. Contents do not matter to the
speed; sizes do.

Library section (one process): ``sigconv.audio.reverb`` with its defaults (energy
normalisation, dry 1.0, wet 0.35, tail kept) against ``scipy.signal.oaconvolve(axes=0)``
with ``scipy.fft.set_workers`` 1 and 2, and ``pedalboard.Convolution`` when installed.
Command-line section: whole processes timed by ``/usr/bin/time -v`` (wall time and
maximum resident set size): ``sigconv reverb in.wav ir.wav -o out.wav`` against
``ffmpeg -af afir`` on the same files. The machine is shared and noisy: every figure is
the median of ``--repeats`` runs, and ratios are taken between medians of the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.fft
import scipy.signal
import soundfile as sf

import sigconv
from sigconv import audio

RATE = 48_000
IR_SECONDS = 3.0


def make_signal(seconds: float, seed: int = 1) -> np.ndarray:
    """Stereo float32 noise, low-passed a little, at -20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((int(seconds * RATE), 2), dtype=np.float32)
    x[1:] += 0.9 * x[:-1]  # a gentle tilt towards low frequencies, cheaply
    x *= np.float32(0.1 / np.sqrt(1 + 0.81))
    return x


def make_ir(seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(IR_SECONDS * RATE)
    decay = np.exp(-6.9 * np.arange(n) / n)[:, None]  # -60 dB at the end
    ir = rng.standard_normal((n, 2)) * decay
    return (ir / np.max(np.abs(ir)) * 0.9).astype(np.float32)


def round_robin(contenders: list[tuple[str, object]], repeats: int) -> list[tuple[str, float]]:
    """Median wall time of each contender, run in turns (A B C A B C ...) so that the
    machine's load drifts over all of them alike."""
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for _ in range(repeats):
        for name, fn in contenders:
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            del out
    return [(name, statistics.median(times[name])) for name, _ in contenders]


def _scipy_oa(x, ir, workers):
    def run():
        with scipy.fft.set_workers(workers):
            return scipy.signal.oaconvolve(x, ir, axes=0)
    return run


def library(repeats: int, seconds: float) -> list[tuple[str, float]]:
    x, ir = make_signal(seconds), make_ir()
    contenders = [
        ("sigconv.audio.reverb (defaults, workers=2)", lambda: audio.reverb(x, ir, workers=2)),
        ("sigconv.audio.reverb (defaults, workers=1)", lambda: audio.reverb(x, ir, workers=1)),
        ("scipy.signal.oaconvolve(axes=0), workers=1", _scipy_oa(x, ir, 1)),
        ("scipy.signal.oaconvolve(axes=0), workers=2", _scipy_oa(x, ir, 2)),
    ]
    tmp = tempfile.mkdtemp(prefix="bench_audio_ir_")
    try:
        try:
            import pedalboard
        except ImportError:
            print("pedalboard not installed: skipped", file=sys.stderr)
        else:
            path = os.path.join(tmp, "ir.wav")
            sf.write(path, ir, RATE, subtype="FLOAT")
            board = pedalboard.Pedalboard([pedalboard.Convolution(path, mix=1.0)])
            contenders.append(("pedalboard.Convolution (mix=1)", lambda: board(x, RATE)))
        for _, fn in contenders:  # warm up: plans, wisdom, page cache
            fn()
        return round_robin(contenders, repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_TIME_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_TIME_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")


_TIME_CPU = re.compile(r"(?:User|System) time \(seconds\): ([\d.]+)")


def run_timed(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, peak RSS MB, user+system CPU s) of one whole process, from /usr/bin/time -v."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr[-2000:]}")
    h, m, s = _TIME_WALL.search(proc.stderr).groups()
    wall = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(_TIME_RSS.search(proc.stderr).group(1)) / 1024
    cpu = sum(float(v) for v in _TIME_CPU.findall(proc.stderr))
    return wall, rss, cpu


def write_inputs(directory: str, seconds: float) -> tuple[str, str]:
    src, irp = os.path.join(directory, f"in_{seconds:.0f}s.wav"), os.path.join(directory, "ir.wav")
    if not os.path.exists(irp):
        sf.write(irp, make_ir(), RATE, subtype="FLOAT")
    if not os.path.exists(src):
        block = int(60 * RATE)
        with sf.SoundFile(src, "w", RATE, 2, subtype="FLOAT",
                          format="RF64" if seconds > 3000 else "WAV") as fh:
            for k, start in enumerate(range(0, int(seconds * RATE), block)):
                fh.write(make_signal(min(block, int(seconds * RATE) - start) / RATE, seed=k))
    return src, irp


def command_line(repeats: int, seconds: float, directory: str, extra: list[str]):
    src, irp = write_inputs(directory, seconds)
    out = os.path.join(directory, "out.wav")
    sigconv_cmd = [os.path.join(os.path.dirname(sys.executable), "sigconv"), "reverb", src, irp,
                   "-o", out, "--force", "--quiet", *extra]
    ffmpeg_cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", src,
                  "-i", irp, "-filter_complex", "[0:a][1:a]afir[out]", "-map", "[out]",
                  "-c:a", "pcm_f32le", os.path.join(directory, "out_ffmpeg.wav")]
    cmds = [("sigconv reverb", sigconv_cmd)]
    if shutil.which("ffmpeg") is None:
        print("ffmpeg not found: skipped", file=sys.stderr)
    else:
        cmds.append(("ffmpeg -af afir", ffmpeg_cmd))
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in cmds}
    for _ in range(repeats):  # in turns, as in the library section
        for name, cmd in cmds:
            runs[name].append(run_timed(cmd))
    results = {name: tuple(statistics.median(r[k] for r in rs) for k in range(3))
               for name, rs in runs.items()}
    return results


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    ffmpeg = "absent"
    if shutil.which("ffmpeg"):
        first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True,
                               check=False).stdout
        ffmpeg = first.split()[2] if first else "?"
    try:
        import pedalboard
        pb = pedalboard.__version__
    except ImportError:
        pb = "absent"
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}, scipy {scipy.__version__}, sigconv {sigconv.__version__} "
            f"(backend {sigconv.backends.get_backend().__class__.__name__}), pedalboard {pb}, "
            f"ffmpeg {ffmpeg}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--only", choices=("library", "cli"), default=None)
    parser.add_argument("--long", action="store_true",
                        help="also peak RSS of a 60-minute file in streaming mode")
    parser.add_argument("--dir", default=None, help="where to put the WAV files (default: a "
                        "temporary directory, removed afterwards)")
    args = parser.parse_args(argv)
    import sigconv.backends  # noqa: F401  (for machine())
    print(f"machine: {machine()}")
    seconds = args.minutes * 60
    print(f"signal: {args.minutes:g} min stereo {RATE} Hz float32; IR {IR_SECONDS:g} s stereo; "
          f"medians of {args.repeats}\n")
    if args.only in (None, "library"):
        rows = library(args.repeats, seconds)
        base = rows[0][1]
        print(f"{'library call':<48} {'median s':>9} {'x realtime':>10} {'sigconv/peer':>13}")
        for name, t in rows:
            print(f"{name:<48} {t:9.2f} {seconds / t:10.0f} {base / t:13.2f}")
        print()
    if args.only in (None, "cli"):
        directory = args.dir or tempfile.mkdtemp(prefix="bench_audio_")
        try:
            res = command_line(args.repeats, seconds, directory, [])
            base_w, base_r, base_c = res["sigconv reverb"]
            print(f"{'whole process, wav -> wav':<34} {'wall s':>7} {'CPU s':>6} "
                  f"{'peak RSS MB':>12} {'sigconv/peer wall':>18} {'sigconv/peer CPU':>17} "
                  f"{'sigconv/peer RSS':>17}")
            for name, (wall, rss, cpu) in res.items():
                print(f"{name:<34} {wall:7.2f} {cpu:6.2f} {rss:12.0f} {base_w / wall:18.2f} "
                      f"{base_c / cpu:17.2f} {base_r / rss:17.2f}")
            if args.long:
                wall, rss, cpu = command_line(1, 3600, directory, [])["sigconv reverb"]
                print(f"{'sigconv reverb, 60 min, streamed':<34} {wall:7.2f} {cpu:6.2f} "
                      f"{rss:12.0f}")
        finally:
            if args.dir is None:
                shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
