"""sigconv's engine against scipy.signal, in one process: 1-D and 2-D grids.

For every cell: median wall time of sigconv.convolve (auto), scipy.signal.convolve
(auto), each of sigconv's forced methods (regret = auto / best of them), and, where
sigconv uses transforms, the bare FFTW transforms that convolution needs (executes of
cached plans, nothing else). Methods predicted to take over 40x the predicted best are
not run (marked '-'); scipy's direct on such cells is never what its chooser picks.

    python benchmarks/bench_engine.py            # full grids (several minutes)
    python benchmarks/bench_engine.py --quick    # n <= 1e5, small images

Overlap-add's bare transforms are the one-block transforms the core runs (its block loop
calls FFTW itself, sigconv.engine._fft._oa_native); column 'bare batched' divides by the
chunked transforms (C blocks per execute) of the loop from Python instead, the bare
transforms of sessions up to 14, which take longer (batched 1-D plans on buffers of up to
1 MB, against one block's buffers in cache).

Column 'core off' is sigconv with its compiled core switched off (the NumPy twins of
the native kernels, ``_native.use_native(False)``), timed in the same round-robin: the
before/after of the compiled glue in one run. Each table ends with the load average.

OpenBLAS's worker threads spin for up to 2**28 cycles (about 0.1 s, not timed) after each
multi-threaded BLAS call before they sleep (OPENBLAS_THREAD_TIMEOUT, 28 by default). In the
round robin the NumPy twins' band products ('core off') come right before a sigconv call, whose two
compiled threads then share a core with the spinning one. Measured here: a 1024x1024 by
15x15 direct convolution took 22.2 ms right after a 400x400 matrix product against 11.7
ms alone, and the 2-D grid's regret fell within 1.15 in 78% of the cells (max 3.13). So the
grids run with OPENBLAS_THREAD_TIMEOUT=4 unless the environment sets it; ``--blas-spin``
keeps OpenBLAS's default. The README gives scripts the same advice.

Outputs of 32 MB or more reuse the memory of freed outputs (sigconv.backends._cache.BLOCKS),
as malloc does for smaller blocks; every timed call after the first finds such a block.
``--no-reuse`` keeps none, so each of those outputs pays its new pages again (the state of
sessions up to 13). scipy's outputs are malloc's in both cases.
"""

from __future__ import annotations

import os
import sys

if "--blas-spin" not in sys.argv:                     # read when OpenBLAS loads (numpy)
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import argparse
import math
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.signal as ss

import sigconv
from sigconv.backends import PlanKey, get_backend
from sigconv.backends._base import oa_chunk_blocks, real_of
from sigconv.backends._cache import BLOCKS
from sigconv.engine import _fft, _native
from sigconv.engine._fft import compute_dtype
from sigconv.engine._validate import prepare

SKIP_FACTOR = 40.0


def _inner(fn) -> int:
    """Calls per timed sample, so that a sample lasts at least ~5 ms."""
    t0 = time.perf_counter()
    fn()                                  # warm-up: plans, cached buffers
    first = time.perf_counter() - t0
    return max(1, int(0.005 / max(first, 1e-9)))


def _sample(fn, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner


def timeit(fn, budget: float = 0.6, max_rep: int = 7) -> float:
    """Median of repeated samples after a warm-up call."""
    inner = _inner(fn)
    first = _sample(fn, inner)
    reps = max(3, min(max_rep, int(budget / max(first, 1e-9))))
    return statistics.median([first] + [_sample(fn, inner) for _ in range(reps - 1)])


def timeit_many(fns: dict, budget: float = 1.5, max_rep: int = 7) -> dict:
    """Medians of samples taken round-robin (A B C A B C ...), so that the machine's
    drifts and bursts hit every contender alike."""
    inner = {k: _inner(f) for k, f in fns.items()}
    first = {k: _sample(f, inner[k]) for k, f in fns.items()}
    reps = max(3, min(max_rep, int(budget / max(sum(first.values()), 1e-9))))
    samples = {k: [v] for k, v in first.items()}
    for _ in range(reps - 1):
        for k, f in fns.items():
            samples[k].append(_sample(f, inner[k]))
    return {k: statistics.median(v) for k, v in samples.items()}


def bare_transforms(x, h, plan, workers, blocks: bool = True) -> float | None:
    """Time of the transforms alone, with the plans the engine uses, timed alone."""
    fn = bare_fn(x, h, plan, workers, blocks)
    return None if fn is None else timeit(fn)


def bare_fn(x, h, plan, workers, blocks: bool = True):
    """The transforms alone, with the plans the engine uses (None without transforms).
    ``blocks``: overlap-add's one-block transforms where the engine runs its block loop in
    the core (else, or with False, the chunks of C blocks of the loop from Python)."""
    if plan.method not in ("fft", "oa"):
        return None
    b = get_backend(plan.backend)
    p, _ = prepare(x, h, "full", None, fft_style=False)
    if plan.method == "fft":
        lens = plan.fft_shape
        cdt, cplx = compute_dtype(p, math.prod(lens))
        shape = tuple(lens)
        axes = tuple(range(len(lens)))
        kind_f, kind_i = ("c2c", "c2ci") if cplx else ("r2c", "c2r")
        dt = cdt.str if cplx else real_of(cdt).str
        fx = b.plan(PlanKey(kind_f, shape, dt, axes, workers, "fx"))
        fh = b.plan(PlanKey(kind_f, shape, dt, axes, workers, "fh"))
        inv = b.plan(PlanKey(kind_i, shape, dt, axes, workers, "fy"))
        for q in (fx, fh, inv):
            q.input[...] = 0
        return lambda: (fx.execute(), fh.execute(), inv.execute())
    # overlap-add along the (single) axis: chunks of C blocks of length L
    n, m = max(x.shape[0], h.shape[0]), min(x.shape[0], h.shape[0])
    L = plan.block + m - 1
    nb = -(-n // plan.block)
    cdt, cplx = compute_dtype(p, L * nb)
    k = _native.kernels()
    block_plans = getattr(b, "block_plans", None)
    bp = block_plans(L, 1, real_of(cdt)) if (blocks and block_plans is not None
                                             and k is not None and not cplx
                                             and x.ndim == 1) else None
    if bp is not None:
        # the engine runs the whole overlap-add in the core, one block at a time with FFTW's
        # one-block plans (sigconv.engine._fft._oa_native): those transforms, nb of each
        t = workers if nb * L >= _fft.OA_BLOCKS_PARALLEL_MIN_POINTS else 1
        single = real_of(cdt) == np.float32
        return lambda: k.oa_fftw_transforms(bp.addresses, L, 1, nb, single, t)
    C = oa_chunk_blocks(nb, L * cdt.itemsize)
    dt = real_of(cdt).str
    fh = b.plan(PlanKey("r2c", (1, L), dt, (1,), workers, "oh"))
    chunks = -(-nb // C)
    rdt = np.result_type(x, h)
    threads = min(workers, chunks)
    if threads > 1 and _native.loaded() and real_of(cdt) == rdt \
            and nb * L >= _fft.OA_PARALLEL_MIN_POINTS:
        # the engine runs the chunks side by side, one-thread plans on each thread
        # (sigconv.engine._fft._oa_side_by_side): the same transforms, the same way
        trios = [(b.plan(PlanKey("r2c", (C, L), dt, (1,), 1, f"ox{t}")),
                  b.plan(PlanKey("c2r", (C, L), dt, (1,), 1, f"oy{t}"))) for t in range(threads)]
        for fx, inv in trios:
            fx.input[...] = 0
            inv.input[...] = 0
        fh.input[...] = 0

        def run_side():
            fh.execute()
            it = iter(range(chunks))

            def work(t):
                fx, inv = trios[t]
                for _ in it:
                    fx.execute()
                    inv.execute()
            _fft._on_threads(work, threads)
        return run_side
    fx = b.plan(PlanKey("r2c", (C, L), dt, (1,), workers, "ox"))
    inv = b.plan(PlanKey("c2r", (C, L), dt, (1,), workers, "oy"))
    for q in (fx, fh, inv):
        q.input[...] = 0

    def run():
        fh.execute()
        for _ in range(chunks):
            fx.execute()
            inv.execute()
    return run


def cell(x, h, workers):
    plan = sigconv.explain(x, h)
    best_pred = min(plan.costs.values()) if plan.costs else 0.0
    def core_off():
        with _native.use_native(False):
            return sigconv.convolve(x, h)
    fns = {"sigconv": lambda: sigconv.convolve(x, h), "scipy": lambda: ss.convolve(x, h),
           "off": core_off}
    for m in ("direct", "fft", "oa"):
        pred = min((v for k, v in plan.costs.items() if k.split(":")[0] == m), default=None)
        if pred is not None and best_pred and pred > SKIP_FACTOR * best_pred and pred > 0.5:
            continue
        fns[m] = lambda m=m: sigconv.convolve(x, h, method=m)
    times = timeit_many(fns)
    row = {"plan": plan, "sigconv": times.pop("sigconv"), "scipy": times.pop("scipy"),
           "off": times.pop("off")}
    forced = times
    row["forced"] = forced
    row["regret"] = row["sigconv"] / min(list(forced.values()) + [row["sigconv"]])
    bf = bare_fn(x, h, plan, workers)
    row["bare"] = None if bf is None else timeit(bf)
    # the same ratio with sigconv and the bare transforms timed in pairs (A B A B ...), so
    # that both run in the same state of the caches: in the round robin above sigconv runs
    # right after the other contenders (scipy, the NumPy twins), the bare transforms alone
    row["bare_pair"] = None
    if bf is not None:
        pair = timeit_many({"s": lambda: sigconv.convolve(x, h), "b": bf})
        row["bare_pair"] = pair["s"] / pair["b"]
    # the chunked transforms (C blocks per execute) of the loop from Python: the bare
    # transforms of sessions up to 14, and of the core switched off
    row["bare_batched"] = row["bare"]
    if plan.method == "oa" and bf is not None:
        row["bare_batched"] = bare_transforms(x, h, plan, workers, blocks=False)
    with _native.use_native(False):
        plan_off = sigconv.explain(x, h)
    row["bare_off"] = bare_transforms(x, h, plan_off, workers, blocks=False) if (
        plan_off.method, plan_off.block) != (plan.method, plan.block) else row["bare_batched"]
    return row


def fmt(t):
    if t is None:
        return "-"
    return f"{t * 1e3:.3g}" if t < 10 else f"{t * 1e3:.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-2d", action="store_true")
    ap.add_argument("--skip-1d", action="store_true")
    ap.add_argument("--blas-spin", action="store_true",
                    help="keep OpenBLAS's default spin-wait after each BLAS call")
    ap.add_argument("--no-reuse", action="store_true",
                    help="keep no freed output memory for reuse (every output of 32 MB "
                         "or more in new pages, as before session 14)")
    args = ap.parse_args(argv)
    if args.no_reuse:
        BLOCKS.max_blocks = 0
    workers = os.cpu_count() or 1
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"# python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, sigconv {sigconv.__version__} "
          f"({get_backend().describe()}), workers={workers}")
    print("# times in ms (medians); speedup = scipy / sigconv; regret = sigconv auto / "
          "best forced method; bare = sigconv / bare transforms")
    rng = np.random.default_rng(0)
    ns = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6, 10**7]
    ms = [3, 31, 301, 3001, 30001, 300001]
    speedups, regrets, bares, pairs, batched = [], [], [], [], []
    off_speedups, off_bares = [], []
    print(f"# load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'default')}; "
          f"freed outputs kept for reuse: {'no' if args.no_reuse else 'yes'}")
    if not args.skip_1d:
        print("\n| dtype | n | m | sigconv | scipy | speedup | method | direct | fft | oa "
              "| regret | bare ratio | bare paired | bare batched | core off | speedup off "
              "| bare off |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for dt in (np.float64, np.float32):
            for n in ns:
                x = rng.standard_normal(n).astype(dt)
                for m in ms:
                    if m > n:
                        continue
                    h = rng.standard_normal(m).astype(dt)
                    r = cell(x, h, workers)
                    sp = r["scipy"] / r["sigconv"]
                    speedups.append(sp)
                    regrets.append(r["regret"])
                    br = r["sigconv"] / r["bare"] if r["bare"] else None
                    if br:
                        bares.append(br)
                    bp = r["bare_pair"]
                    if bp:
                        pairs.append(bp)
                    bb = r["sigconv"] / r["bare_batched"] if r["bare_batched"] else None
                    if bb:
                        batched.append(bb)
                    off_speedups.append(r["scipy"] / r["off"])
                    bo = r["off"] / r["bare_off"] if r["bare_off"] else None
                    if bo:
                        off_bares.append(bo)
                    f = r["forced"]
                    pl = r["plan"]
                    meth = pl.method + (f"/{pl.variant}" if pl.variant else "") + \
                        (f" B={pl.block}" if pl.block else "")
                    print(f"| {np.dtype(dt).name} | {n:.0e} | {m} | {fmt(r['sigconv'])} | "
                          f"{fmt(r['scipy'])} | {sp:.2f} | {meth} | {fmt(f.get('direct'))} | "
                          f"{fmt(f.get('fft'))} | {fmt(f.get('oa'))} | {r['regret']:.2f} | "
                          f"{'-' if br is None else f'{br:.2f}'} | "
                          f"{'-' if bp is None else f'{bp:.2f}'} | "
                          f"{'-' if bb is None else f'{bb:.2f}'} | {fmt(r['off'])} | "
                          f"{r['scipy'] / r['off']:.2f} | {'-' if bo is None else f'{bo:.2f}'} |",
                          flush=True)
        g = math.exp(statistics.fmean(math.log(s) for s in speedups))
        print(f"\n1-D grid: geometric-mean speedup over scipy {g:.2f}x; slowest cell "
              f"{min(speedups):.2f}x; regret <= 1.15 in "
              f"{100 * sum(r <= 1.15 for r in regrets) / len(regrets):.0f}% of cells "
              f"(max {max(regrets):.2f}); transform cells: sigconv/bare median "
              f"{statistics.median(bares) if bares else float('nan'):.2f}, max "
              f"{max(bares) if bares else float('nan'):.2f} (over {len(bares)} cells, "
              f"{sum(b <= 1.2 for b in bares)} within 1.2x)")
        if pairs:
            print(f"transform cells timed in pairs with their bare transforms: sigconv/bare "
                  f"median {statistics.median(pairs):.2f}, max {max(pairs):.2f} "
                  f"({sum(b <= 1.2 for b in pairs)} of {len(pairs)} within 1.2x)")
        if batched:
            print(f"the same against the chunked transforms (C blocks per execute, the bare "
                  f"transforms up to session 14): median {statistics.median(batched):.2f}, "
                  f"max {max(batched):.2f} ({sum(b <= 1.2 for b in batched)} of "
                  f"{len(batched)} within 1.2x)")
        go = math.exp(statistics.fmean(math.log(s) for s in off_speedups))
        print(f"core off, same run: geometric-mean speedup {go:.2f}x; slowest "
              f"{min(off_speedups):.2f}x; sigconv/bare median "
              f"{statistics.median(off_bares) if off_bares else float('nan'):.2f}, max "
              f"{max(off_bares) if off_bares else float('nan'):.2f}; load average now "
              f"{os.getloadavg()[0]:.2f}")
    if not args.skip_2d:
        sizes = [256, 1024] if args.quick else [256, 1024, 4096]
        print("\n| image | kernel | sigconv | scipy | speedup | method | regret | core off |")
        print("|---|---|---|---|---|---|---|---|")
        regrets2 = []
        sp2 = []
        for s in sizes:
            img = rng.standard_normal((s, s))
            for k in (3, 15, 63):
                ker = rng.standard_normal((k, k))
                r = cell(img, ker, workers)
                sp = r["scipy"] / r["sigconv"]
                sp2.append(sp)
                regrets2.append(r["regret"])
                pl = r["plan"]
                print(f"| {s}x{s} | {k}x{k} | {fmt(r['sigconv'])} | {fmt(r['scipy'])} | "
                      f"{sp:.2f} | {pl.method}{'/' + pl.variant if pl.variant else ''} | "
                      f"{r['regret']:.2f} | {fmt(r['off'])} |", flush=True)
        g = math.exp(statistics.fmean(math.log(s) for s in sp2))
        print(f"\n2-D grid: geometric-mean speedup over scipy {g:.2f}x; slowest "
              f"{min(sp2):.2f}x; regret <= 1.15 in "
              f"{100 * sum(r <= 1.15 for r in regrets2) / len(regrets2):.0f}% of cells (max "
              f"{max(regrets2):.2f}); load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
