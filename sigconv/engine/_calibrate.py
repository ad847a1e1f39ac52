"""Measure the planner's cost constants on this machine (``sigconv calibrate``).

Each constant is timed on the primitive it stands for (numpy.convolve, one tap of
the taps loop, one transform through the backend's cached plans, one pass of the
spectral product), as the median of several repeats. Optionally FFTW wisdom is
measured for the transform lengths the planner uses most, under a time cap.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..backends import PlanKey, get_backend, pyfftw_error
from ..backends._base import THREAD_MIN_POINTS
from . import _native
from ._direct import _taps
from ._validate import prepare


def _median_time(fn, repeat: int = 7, min_time: float = 0.02, best: bool = False) -> float:
    """Median (or with ``best``, least) seconds per call of ``fn`` over ``repeat`` runs,
    each looping ``fn`` until it lasts ``min_time``."""
    fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or number >= 1 << 16:
            break
        number *= 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return min(times) if best else statistics.median(times)


def _fft_exec_time(backend, n: int, dtype: str, workers: int, kind: str = "r2c",
                   batch: int = 1) -> float:
    plan = backend.plan(PlanKey(kind, (batch, n), dtype, (1,), workers, "calibrate"))
    plan.input[...] = 1
    return _median_time(plan.execute)


def measure(backend=None, workers: int = 2, progress=None) -> dict[str, float]:
    """Time the primitives and return the cost constants (seconds per unit)."""
    b = get_backend(backend)
    rng = np.random.default_rng(0)
    say = progress or (lambda msg: None)
    c: dict[str, float] = {}

    say("numpy.convolve")
    small_x, small_h = rng.random(16), rng.random(3)
    c["np_call"] = _median_time(lambda: np.convolve(small_x, small_h))
    from ._planner import NP_TAPS
    for dt, key in ((np.float64, "np_f8_m"), (np.float32, "np_f4_m")):
        big_x = rng.random(100_000).astype(dt)
        for m in NP_TAPS:
            h = rng.random(m).astype(dt)
            t = _median_time(lambda h=h, big_x=big_x: np.convolve(big_x, h), repeat=3)
            c[f"{key}{m}"] = max(t - c["np_call"], 1e-12) / (big_x.size + m - 1)
    c["np_mac"] = c["np_f8_m1000"] / 1000

    say("taps loop")
    img, k = rng.random((512, 512)), rng.random((3, 3))
    p, _ = prepare(img, k, "full", None, fft_style=False)
    t_big = _median_time(lambda: _taps(p.x, p.h, p))
    tiny, tk = rng.random((4, 4)), rng.random((3, 3))
    q, _ = prepare(tiny, tk, "full", None, fft_style=False)
    t_small = _median_time(lambda: _taps(q.x, q.h, q))
    c["tap_call"] = t_small / 9
    c["tap_elem"] = max(t_big / 9 - c["tap_call"], 1e-9) / (514 * 514)

    say("scipy.ndimage")
    from ._direct import _ndimage
    r, _ = prepare(rng.random((256, 256)), rng.random((9, 9)), "same", None, fft_style=False)
    t_nd = _median_time(lambda: _ndimage(r))
    c["nd_call"] = _median_time(lambda: _ndimage(q))
    c["nd_mac"] = max(t_nd - c["nd_call"], 1e-9) / (256 * 256 * 81)

    say("scipy.signal.convolve2d")
    from ._direct import _convolve2d
    c2, _ = prepare(rng.random((4, 4)), rng.random((2, 2)), "full", None, fft_style=False)
    c["c2d_call"] = _median_time(lambda: _convolve2d(c2))
    c3, _ = prepare(rng.random((128, 128)), rng.random((5, 5)), "full", None, fft_style=False)
    c["c2d_mac"] = max(_median_time(lambda: _convolve2d(c3)) - c["c2d_call"], 1e-9) / (
        132 * 132 * 25)

    say("banded matrix products")
    # float32, per output and per multiply-add, with tiles along rows (the convolved
    # axis last) and down columns (an axis with contiguous lines after it)
    from ._direct import _band, band_block
    for form, xs, hs, ax in (("row", (200_000,), (1,), 0), ("col", (2, 1000, 768), (1, 1, 1), 1)):
        per_out = {}
        for m in (9, 129):
            shape_h = list(hs)
            shape_h[ax] = m
            bp, _ = prepare(rng.random(xs).astype(np.float32),
                            rng.random(shape_h).astype(np.float32), "valid", [ax],
                            fft_style=False)
            per_out[m] = _median_time(lambda bp=bp: _band(bp), repeat=5) / math.prod(bp.out_shape)
        k9, k129 = band_block(9) + 8, band_block(129) + 128
        c[f"band_mac_{form}"] = max(per_out[129] - per_out[9], 1e-13) / (k129 - k9)
        c[f"band_out_{form}"] = max(per_out[9] - k9 * c[f"band_mac_{form}"], 1e-11)
    bp, _ = prepare(rng.random(200_000), rng.random(31), "full", None, fft_style=False)
    bq, _ = prepare(bp.x.astype(np.float32), bp.h.astype(np.float32), "full", None,
                    fft_style=False)
    c["band_f8"] = _median_time(lambda: _band(bp)) / _median_time(lambda: _band(bq))
    # fixed cost: a problem small enough for it to dominate (BLAS threads waking up,
    # views, the edge tiles)
    tiny, _ = prepare(rng.random(1000), rng.random(8), "full", None, fft_style=False)
    c["band_call"] = _median_time(lambda: _band(tiny))

    k = _native.kernels()
    if k is not None:
        say("compiled direct loop")
        # one thread, float64: per output and per multiply-add from kernels of 8 and 64
        # taps over 2**17 samples; the call overhead from a tiny problem through the
        # engine's wrapper (conversions, output array)
        from ._direct import _native_direct
        sig = rng.random(1 << 17)
        per_out = {}
        for m in (8, 64):
            dp, _ = prepare(sig, rng.random(m), "full", None, fft_style=False)
            per_out[m] = _median_time(lambda dp=dp: _native_direct(k, dp, 1), repeat=5) / (
                sig.size + m - 1)
        c["nat_mac"] = max(per_out[64] - per_out[8], 1e-13) / 56
        c["nat_out"] = max(per_out[8] - 8 * c["nat_mac"], 1e-12)
        dt, _ = prepare(small_x, small_h, "full", None, fft_style=False)
        c["nat_call"] = _median_time(lambda: _native_direct(k, dt, 1))
        d4, _ = prepare(sig.astype(np.float32), rng.random(31).astype(np.float32), "full",
                        None, fft_style=False)
        d8, _ = prepare(sig, rng.random(31), "full", None, fft_style=False)
        c["nat_f4"] = _median_time(lambda: _native_direct(k, d4, 1)) / _median_time(
            lambda: _native_direct(k, d8, 1))
        if workers > 1:
            big, _ = prepare(rng.random(1 << 20), rng.random(31), "full", None,
                             fft_style=False)
            c["nat_thread_gain"] = max(1.0, _median_time(lambda: _native_direct(k, big, 1))
                                       / _median_time(lambda: _native_direct(k, big, workers)))

    say("transforms")
    # per-transform overhead: a whole tiny FFT convolution (three transforms, plan
    # look-ups, padding, product) divided by three
    from ._api import convolve
    c["fft_call"] = _median_time(
        lambda: convolve(small_x, small_h, method="fft", backend=b, workers=1)) / 3
    # per N log2 N at 2**10 points (batched to 2**20 points per call), and the
    # growth of that cost with the transform length (caches)
    per = {}
    for e in (10, 14, 18, 22):
        batch = max(1, (1 << 20) >> e)
        per[e] = _fft_exec_time(b, 1 << e, "<f8", 1, batch=batch) / (batch * (1 << e) * e)
    c["fft_nlogn"] = per[10]
    for e in (14, 18, 22):
        c[f"fft_f{e}"] = per[e] / per[10]
    n = 1 << 18
    t1 = _fft_exec_time(b, n, "<f8", 1)
    c["float32_gain"] = _fft_exec_time(b, n, "<f4", 1) / t1
    c["complex_cost"] = _fft_exec_time(b, n, "<c16", 1, "c2c") / t1
    if workers > 1:
        nb = 1 << 21
        c["thread_gain"] = max(1.0, _fft_exec_time(b, nb, "<f8", 1)
                               / _fft_exec_time(b, nb, "<f8", workers))

    say("memory passes")
    X = (rng.random(n) + 1j * rng.random(n))
    H = X.copy()
    Y = np.empty_like(X)
    if k is not None:     # the pass the engine runs: the compiled product
        c["mem_elem"] = _median_time(lambda: k.cmul_scaled_to(Y, X, H, 0.5, 1)) / n
    else:
        c["mem_elem"] = _median_time(lambda: np.multiply(X, H, out=Y)) / n
    return c


class WisdomJob(NamedTuple):
    """One real transform pair (r2c and c2r) to measure, as the engine plans it."""
    label: str
    shape: tuple[int, ...]      # of the real array
    dtype: str
    axes: tuple[int, ...]
    threads: int


def wisdom_jobs(backend, workers: int) -> list[WisdomJob]:
    """The transforms ``sigconv calibrate`` measures, most useful first."""
    from ._fft import row_chunk_size
    from ._tiles import MIN_TILE
    jobs = []
    # The tiles of dense image filters (sigconv.engine._tiles), planned as they run: one
    # thread, channels batched over axis 0. Measured plans of (3, 256, 512) float32 tiles
    # took 1.61 ms for both transforms against 1.98 ms estimated (416 ms to plan).
    for channels in (1, 3, 4):
        for dt in ("float32", "float64"):
            shape = (channels,) + tuple(backend.next_fast_len(n) for n in MIN_TILE)
            jobs.append(WisdomJob(f"{dt} image tiles {shape}", shape, dt, (1, 2), 1))
    # The row chunks of large batches of 1-D transforms (sigconv.engine._fft._fft_rows:
    # depthwise and long causal layers of sigconv.nn, many channels): C rows of n on one
    # thread. Measured plans of (8, 16384) float32 rows made a depthwise 1024-tap layer
    # on (8, 64, 16384) 19.7 ms against 22.6 estimated (0.25 s to plan the pair).
    for e in range(9, 18):
        for n in sorted({2 ** e, backend.next_fast_len(int(2 ** (e + 0.5)))}):
            for dt in ("float32", "float64"):
                rows = row_chunk_size(n * np.dtype(dt).itemsize)
                jobs.append(WisdomJob(f"{dt} row chunks ({rows}, {n})", (rows, n), dt,
                                      (1,), 1))
    # Single transforms of common lengths.
    for n in sorted({backend.next_fast_len(int(2 ** e)) for e in np.arange(6, 21, 0.5)}):
        for dt in ("float64", "float32"):
            jobs.append(WisdomJob(f"{dt} n={n}", (n,), dt, (0,),
                                  workers if n >= THREAD_MIN_POINTS else 1))
    return jobs


def measure_wisdom(jobs, seconds: float, progress=None) -> int:
    """FFTW_MEASURE each job's pair of transforms until ``seconds`` have passed (each
    plan capped at 5 s); return how many transforms were planned. The plans land in
    FFTW's process-wide wisdom."""
    import pyfftw
    say = progress or (lambda msg: None)
    deadline = time.monotonic() + seconds
    made = 0
    for job in jobs:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        say(f"FFTW plan {job.label}")
        a = pyfftw.empty_aligned(job.shape, job.dtype)
        half = list(job.shape)
        half[job.axes[-1]] = half[job.axes[-1]] // 2 + 1
        out = pyfftw.empty_aligned(tuple(half), np.result_type(job.dtype, np.complex64))
        for src, dst, direction in ((a, out, "FFTW_FORWARD"), (out, a, "FFTW_BACKWARD")):
            pyfftw.FFTW(src, dst, axes=job.axes, direction=direction, threads=job.threads,
                        flags=("FFTW_MEASURE", "FFTW_DESTROY_INPUT"),
                        planning_timelimit=min(left, 5.0))
        made += 2
    return made


def plan_wisdom(backend=None, workers: int = 2, seconds: float = 60.0, progress=None) -> int:
    """Measure FFTW plans (with a time cap) for the transforms sigconv runs most; save
    the wisdom; return how many were made."""
    if backend is None and pyfftw_error() is not None:   # imports pyfftw if installed
        return 0                                          # absent or broken: nothing to plan
    b = get_backend(backend)
    if b.name != "pyfftw":
        return 0

    from .._profile import wisdom_path
    from ..backends._pyfftw import save_wisdom

    made = measure_wisdom(wisdom_jobs(b, workers), seconds, progress)
    save_wisdom(wisdom_path())
    return made


# --------------------------------------------------------------------------- scaling

#: Methods the scaling sweep times, in the order they are drawn.
SCALING_METHODS = ("direct", "oa", "fft")


@dataclass(frozen=True)
class Scaling:
    """Measured time of each method against the signal length (``measure_scaling``).

    Attributes
    ----------
    sizes : tuple of int
        Signal lengths ``n``.
    kernel : int or None
        Kernel length, or None when the kernel is as long as the signal (the classic
        picture: direct costs ``n**2``, the FFT ``n log n``).
    seconds : dict of str to tuple of float
        Least seconds per call (best of three runs) of ``convolve(..., method=m)``
        for each method ``m`` and size; NaN where not measured (a method dropped once
        a call took longer than the sweep's cap).
    chosen : tuple of str
        The method ``method="auto"`` picks for each size (:func:`sigconv.explain`).
    predicted : dict of str to tuple of float
        The planner's predicted seconds of each method (the cheapest variant of it).
    backend : str
        FFT backend the transforms used.
    workers : int
        Threads the transforms used.
    """

    sizes: tuple[int, ...]
    kernel: int | None
    seconds: dict[str, tuple[float, ...]]
    chosen: tuple[str, ...]
    predicted: dict[str, tuple[float, ...]]
    backend: str
    workers: int

    def crossovers(self) -> list[tuple[str, str, float]]:
        """Where the fastest measured method changes for good: ``(before, after, n)``,
        ``n`` the geometric mean of the two sizes around the change. A change counts
        when the new method stays fastest at the next size too (or is the last size),
        so one noisy point does not make two crossovers."""
        best = []
        for i in range(len(self.sizes)):
            times = {m: t[i] for m, t in self.seconds.items() if math.isfinite(t[i])}
            best.append(min(times, key=times.get) if times else None)
        out = []
        current, last = best[0], 0
        for i in range(1, len(best)):
            b = best[i]
            if b is None or b == current:
                last = i if b is not None else last
                continue
            if i + 1 < len(best) and best[i + 1] != b:
                continue
            if current is not None:
                out.append((current, b, math.sqrt(self.sizes[last] * self.sizes[i])))
            current, last = b, i
        return out


def measure_scaling(sizes=None, *, kernel: int | None = None, cap: float = 0.05,
                    backend: str | None = None, workers: int | None = None,
                    progress=None) -> Scaling:
    """Time direct, overlap-add and FFT convolution against the signal length.

    Each point is the best of three timed runs (each long enough to time, looped
    when a call is short; the least time is the one least disturbed by other work on
    the machine) of ``sigconv.convolve(x, h, "full", method)`` on random
    float64 data. A method is dropped from the larger sizes once one call took
    longer than ``cap`` seconds, so the sweep stays short (a few seconds with the
    defaults) while showing each method's growth.

    Parameters
    ----------
    sizes : sequence of int, optional
        Signal lengths; default ``2**3 .. 2**16`` (kernel None) or ``2**8 .. 2**20``
        (fixed kernel), a factor 2 apart.
    kernel : int, optional
        Kernel length; None (default) makes it equal to the signal's.
    cap : float, optional
        Seconds per call beyond which a method is not timed at larger sizes.
    backend : str, optional
        FFT backend, default the current one.
    workers : int, optional
        FFT threads (default all cores).
    progress : callable, optional
        Called with a short note per size.

    Returns
    -------
    Scaling

    Examples
    --------
    >>> s = measure_scaling([16, 64], kernel=8, cap=0.01)
    >>> s.sizes, s.kernel, sorted(s.seconds), len(s.chosen)
    ((16, 64), 8, ['direct', 'fft', 'oa'], 2)
    >>> all(t > 0 for t in s.seconds["fft"])
    True
    """
    from .._errors import InputError
    from ._api import convolve, explain

    if sizes is None:
        sizes = [1 << e for e in (range(3, 17) if kernel is None else range(8, 21))]
    sizes = tuple(int(n) for n in sizes)
    if not sizes or any(n < 1 for n in sizes):
        raise InputError(f"sizes must be positive whole numbers, not {sizes!r}")
    if kernel is not None and (isinstance(kernel, bool) or int(kernel) != kernel
                               or kernel < 1):
        raise InputError(f"kernel must be a positive whole number or None, not {kernel!r}")
    if not (isinstance(cap, (int, float)) and cap > 0 and math.isfinite(cap)):
        raise InputError(f"cap must be a positive number of seconds, not {cap!r}")
    say = progress or (lambda msg: None)
    b = get_backend(backend)
    from ..backends import default_workers
    w = default_workers() if workers is None else int(workers)
    rng = np.random.default_rng(0)
    seconds = {m: [] for m in SCALING_METHODS}
    predicted = {m: [] for m in SCALING_METHODS}
    chosen = []
    dropped: set[str] = set()
    for n in sizes:
        m = n if kernel is None else int(kernel)
        say(f"scaling n={n} kernel={m}")
        x, h = rng.standard_normal(n), rng.standard_normal(m)
        plan = explain(x, h, "full", backend=b.name, workers=w)
        chosen.append(plan.method)
        for method in SCALING_METHODS:
            costs = [v for k, v in plan.costs.items() if k.split(":")[0] == method]
            predicted[method].append(min(costs) if costs else math.nan)
            if method in dropped:
                seconds[method].append(math.nan)
                continue
            t = _median_time(lambda method=method: convolve(x, h, "full", method,
                                                             backend=b.name, workers=w),
                             repeat=3, min_time=min(0.005, cap), best=True)
            seconds[method].append(t)
            if t > cap:
                dropped.add(method)
    return Scaling(sizes=sizes, kernel=None if kernel is None else int(kernel),
                   seconds={k: tuple(v) for k, v in seconds.items()}, chosen=tuple(chosen),
                   predicted={k: tuple(v) for k, v in predicted.items()}, backend=b.name,
                   workers=w)
