"""sigconv on dask arrays: long 1-D convolutions out of core, and 2-D filters vs dask-image.

Each case runs in a subprocess of its own (peak RSS by ``resource.getrusage``, which
counts the interpreter, numpy and dask too), cases interleaved over the repeats, and
the medians and ratios are printed from the same run.

1-D: a float32 signal of N samples (chunks of 2**24), made lazily block by block by a
deterministic generator (never held whole), convolved in full with a 100,000-tap
kernel and reduced by ``.sum()``. Against the same total work done in memory chunk by
chunk: a plain loop over the same blocks calling ``sigconv.convolve`` on each, carrying
the tail into the next block. Targets: peak RSS <= 1.5 GB, time <= 1.3x the loop.

2-D: an 8192x8192 float32 dask array (chunks 2048**2): a random 31x31 kernel
(``sigconv.image.filter`` against ``dask_image.ndfilters.convolve``) and a Gaussian of
sigma 10 (``sigconv.image.gaussian`` against ``dask_image.ndfilters.gaussian_filter``),
both with the 'reflect' border, computed into memory; results compared with allclose.
The input is generated and persisted in memory before the clock starts (session 7; the
earlier runs also timed its random numbers, about 0.3 s, in both columns).
Target: >= 10x faster than dask-image.

Usage: python benchmarks/bench_dask.py [--n 1e9 1e8] [--repeats 3] [--only 1d|2d]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CHUNK = 1 << 24
TAPS = 100_000


def _block(seed_base: int, index: int, size: int):
    import numpy as np
    return np.random.default_rng([seed_base, index]).standard_normal(size, np.float32)


def _kernel():
    import numpy as np
    h = np.random.default_rng(7).standard_normal(TAPS).astype(np.float32)
    return h / np.float32(np.sqrt(TAPS))


def _sizes(n: int) -> list[int]:
    return [min(CHUNK, n - s) for s in range(0, n, CHUNK)]


def case_dask1d(n: int) -> dict:
    import dask
    import dask.array as da
    import numpy as np
    import sigconv
    sizes = _sizes(n)

    def make(block_info=None):
        i = block_info[None]["chunk-location"][0]
        return _block(1, i, sizes[i])

    x = da.map_blocks(make, chunks=(tuple(sizes),), dtype=np.float32)
    h = _kernel()
    t = time.perf_counter()
    y = sigconv.convolve(x, h)
    with dask.config.set(scheduler="threads", num_workers=2):
        total = float(y.sum(dtype=np.float64).compute())
    return {"seconds": time.perf_counter() - t, "sum": total}


def case_loop1d(n: int) -> dict:
    import numpy as np
    import sigconv
    h = _kernel()
    t = time.perf_counter()
    total, tail = 0.0, None
    for i, size in enumerate(_sizes(n)):
        y = sigconv.convolve(_block(1, i, size), h)
        if tail is not None:
            y[:tail.size] += tail
        total += float(y[:size].sum(dtype=np.float64))
        tail = y[size:]
    total += float(tail.sum(dtype=np.float64))
    return {"seconds": time.perf_counter() - t, "sum": total}


def _image_2d():
    import dask.array as da
    import numpy as np

    def make(block_info=None):
        r, c = block_info[None]["chunk-location"]
        return np.random.default_rng([2, r, c]).random((2048, 2048), np.float32)

    return da.map_blocks(make, chunks=((2048,) * 4, (2048,) * 4), dtype=np.float32)


def _kernel_2d():
    import numpy as np
    return np.random.default_rng(3).random((31, 31)).astype(np.float32) / np.float32(31 * 31)


def case_2d(which: str) -> dict:
    import dask
    import numpy as np
    # The image is generated and held in memory before the clock starts (both libraries
    # then time their filter alone, not the random numbers of the input).
    with dask.config.set(scheduler="threads", num_workers=2):
        x = _image_2d().persist()
    if which.startswith("sigconv"):
        from sigconv import image
        run = {"sigconv-k31": lambda: image.filter(x, _kernel_2d()),
               "sigconv-g10": lambda: image.gaussian(x, 10.0)}[which]
    else:
        from dask_image import ndfilters
        run = {"daskimage-k31": lambda: ndfilters.convolve(x, _kernel_2d(), mode="reflect"),
               "daskimage-g10": lambda: ndfilters.gaussian_filter(x, 10.0, mode="reflect")
               }[which]
    t = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=2):
        out = run().compute()
    seconds = time.perf_counter() - t
    path = f"/tmp/sigconv_bench_dask_{which}.npy"
    np.save(path, out)
    return {"seconds": seconds, "path": path}


def _child(case: str, arg: str) -> dict:
    result = {"dask1d": lambda: case_dask1d(int(float(arg))),
              "loop1d": lambda: case_loop1d(int(float(arg))),
              "2d": lambda: case_2d(arg)}[case]()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run(case: str, arg: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case, arg],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", nargs="+", default=["1e8", "1e9"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--repeats-large", type=int, default=1,
                    help="repeats for N >= 5e8 (each case takes minutes)")
    ap.add_argument("--only", choices=["1d", "2d"])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.only in (None, "1d"):
        print(f"\n## 1-D: float32 signal, chunks 2**24, {TAPS}-tap kernel, full, .sum()")
        print("N      | case                       | median s | runs s            | peak RSS MB"
              " | sum")
        for n in args.n:
            reps = args.repeats if float(n) < 5e8 else args.repeats_large
            res = {"dask1d": [], "loop1d": []}
            for _ in range(reps):
                for case in res:
                    res[case].append(_run(case, n))
            med = {}
            for case, label in (("dask1d", "sigconv.convolve on dask"),
                                ("loop1d", "in-memory loop over chunks")):
                secs = [r["seconds"] for r in res[case]]
                med[case] = statistics.median(secs)
                print(f"{n:6} | {label:26} | {med[case]:8.2f} | "
                      f"{' '.join(f'{s:.2f}' for s in secs):17} | "
                      f"{max(r['peak_rss_mb'] for r in res[case]):11.0f} | "
                      f"{res[case][0]['sum']:.6g}")
            a, b = res["dask1d"][0]["sum"], res["loop1d"][0]["sum"]
            print(f"{n:6} | ratio dask / loop: {med['dask1d'] / med['loop1d']:.2f}x "
                  f"(target <= 1.3); peak RSS target <= 1536 MB; sums differ by "
                  f"{abs(a - b) / max(abs(b), 1):.1e} (relative)")
    if args.only in (None, "2d"):
        import numpy as np
        print("\n## 2-D: 8192x8192 float32, chunks 2048x2048, border 'reflect', computed "
              "into memory")
        print("filter          | sigconv med s (runs) | dask-image med s (runs) | speed-up "
              "| max |diff| | allclose")
        for label, ours, theirs in (("31x31 random", "sigconv-k31", "daskimage-k31"),
                                    ("Gaussian s=10", "sigconv-g10", "daskimage-g10")):
            reps = max(1, args.repeats)
            r_ours, r_theirs = [], []
            for k in range(reps):
                r_ours.append(_run("2d", ours))
                if k < 2 or "g10" in theirs:     # the direct 31x31 takes a minute a run
                    r_theirs.append(_run("2d", theirs))
            m_ours = statistics.median(r["seconds"] for r in r_ours)
            m_theirs = statistics.median(r["seconds"] for r in r_theirs)
            a, b = np.load(r_ours[0]["path"]), np.load(r_theirs[0]["path"])
            diff = float(np.max(np.abs(a.astype(np.float64) - b)))
            close = bool(np.allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(b).max())))
            runs_ours = " ".join(f"{r['seconds']:.2f}" for r in r_ours)
            runs_theirs = " ".join(f"{r['seconds']:.2f}" for r in r_theirs)
            print(f"{label:15} | {m_ours:6.2f} ({runs_ours}) | {m_theirs:6.2f} "
                  f"({runs_theirs}) | {m_theirs / m_ours:6.1f}x | {diff:.1e} | {close}")
            for r in r_ours + r_theirs:
                os.unlink(r["path"]) if os.path.exists(r["path"]) else None
        print("target: >= 10x faster than dask-image; allclose rtol 1e-4, atol 1e-5 * max")
    return 0


if __name__ == "__main__":
    sys.exit(main())
