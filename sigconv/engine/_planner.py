"""The planner: a cost model that predicts each method's time and picks the least.

The planner is pure: shapes, dtypes, mode and the backend's fast lengths in, a
:class:`Plan` out; nothing is timed during a call. The constants below are
seconds per unit of work, fitted on the development machine (2-core VM) by
``benchmarks/calibrate_model.py`` (the same code as ``sigconv calibrate``, which
stores a per-user profile that replaces this table when present).

Cost of each candidate:

* direct "lines": ``lines * (np_call + outputs * np_per_output(m))``, the
  per-output time interpolated in a measured table over kernel lengths m;
* direct "taps": ``taps * (tap_call + out_size * tap_elem)``;
* direct "ndimage": ``nd_call + computed_outputs * taps * nd_mac``;
* direct "convolve2d" (2-D float/complex only): ``c2d_call + full_outputs * taps *
  c2d_mac``, scipy.signal.convolve2d's C loop, which takes the tiny images;
* direct "native" (the compiled loop, one axis, up to ``NATIVE_MAX_TAPS`` taps):
  ``nat_call + lines * outputs * (nat_out + m * nat_mac)``, times ``nat_f4`` in single
  precision, divided by ``nat_thread_gain`` when it runs on several threads;
* direct "band": ``band_call + outputs * (band_out + (B + m - 1) * band_mac)``, with
  constants for tiles along rows (the convolved axis last) or down columns;
* fft: three transforms (``fft_nlogn * N log2 N`` each, per element of batch,
  times a measured factor that grows with N as transforms leave the caches)
  plus ``mem_elem`` per element for padding, the spectral product and the copy out;
* overlap-add along one axis with transform length L: the same per block, times
  the number of blocks, plus the kernel's transform once. L is searched over the
  backend's fast lengths; the block is ``B = L - m + 1``.

Transforms are ``float32_gain`` cheaper in single precision, ``complex_cost``
dearer for complex data, and ``thread_gain`` faster on transforms of at least
``THREAD_MIN_POINTS`` points per call when more than one worker is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .. import _profile
from ..backends._base import THREAD_MIN_POINTS, oa_chunk_blocks
from . import _exact, _native
from ._direct import (
    BAND_EXACT,
    NATIVE_THREAD_MACS,
    band_block,
    band_ok,
    band_roles,
    convolve2d_ok,
    native2d_ok,
    native_lines,
    ndimage_ok,
)
from ._fft import axis_length, compute_dtype, fft_shape
from ._validate import Problem

# Measured with sigconv.engine._calibrate.measure() (what `sigconv calibrate` and
# benchmarks/calibrate_model.py run) on the 2-core development VM, 2026-11-22,
# medians of 2-3 runs (benchmarks/calibrate_model.py); the VM was shared and noisy.
DEFAULT_CONSTANTS = {
    "np_call": 3.2e-6,      # numpy.convolve call overhead, s
    "np_mac": 1.6e-10,      # numpy.convolve per multiply-add beyond the table below, s
    "tap_call": 1.1e-5,     # Python overhead per tap of the taps loop, s
    "line_call": 9.0e-6,    # Python overhead per line of the lines loop (N-D input), s
    "tap_elem": 1.2e-9,     # per output element per tap (multiply + add), s (session 2: products
                            # formed in a small scratch, no fresh multi-MB temporary)
    "nd_call": 8.0e-5,      # ndimage variant overhead (pad, cast, call), s
    "nd_mac": 1.0e-9,       # scipy.ndimage.correlate per multiply-add, s
    "fft_call": 1.6e-5,     # per transform of an FFT convolution (plans, padding), s
                            # (session 3: one cached layout and plan trio per shape; was 3.0e-5)
    "fft_nlogn": 3.2e-10,   # per N*log2(N) of a real float64 transform of 2**10 points, s
    "fft_f14": 1.16,        # the same per N*log2(N) at 2**14 points, relative (cache)
    "fft_f18": 1.6,         # ... at 2**18 points
    "fft_f22": 2.6,         # ... at 2**22 points and beyond (out of cache)
    "mem_elem": 8.0e-10,    # per element moved (pad, product, copy out), s
    "float32_gain": 0.47,   # single / double precision transform time
    "complex_cost": 2.3,    # complex / real transform time
    "thread_gain": 1.4,     # 1 thread / all threads, large transforms
    "c2d_call": 8.0e-6,     # scipy.signal.convolve2d call (2-D direct variant), s
    "c2d_mac": 3.0e-9,      # ... per multiply-add of the full output (C loop), s
    "band_call": 1.0e-4,    # band variant overhead (BLAS threads waking, views, edge tiles), s
                            # (session 3: 65-100 us once views skip as_strided; was 2.0e-4)
    "band_out_row": 1.6e-9,   # band variant per output, tiles along rows (float32), s
    "band_mac_row": 2.3e-11,  # ... per multiply-add of the B + m - 1 per output, s
    "band_out_col": 9.0e-10,  # the same with tiles down columns, s
    "band_mac_col": 1.8e-11,
    "band_f8": 2.0,         # float64 / float32 time of the band variant (1e6 x 31: 2.2)
    # The compiled direct loop (session 12: register tiles of vector-extension types, the
    # core's persistent workers): medians of 3 runs of the calibration code
    # (sigconv.engine._calibrate.measure, "compiled direct loop") on 2026-12-05 23:45 UTC,
    # load average 1.0, AMD EPYC VM (session 6's loop: 1.5e-9 per output, 1.15e-10 per
    # multiply-add, float32 0.63):
    "nat_call": 5.8e-6,     # call overhead (checks, conversions, output array), s
    "nat_out": 4.1e-10,     # per output (float64, one thread), s
    "nat_mac": 6.1e-11,     # per multiply-add (float64, one thread), s
    "nat_f4": 0.47,         # float32 / float64 time
    "nat_thread_gain": 1.7,  # 1 thread / 2 threads on long problems (1e6 x 31 float64)
}
# numpy.convolve's time per output sample against kernel length m (float64 and
# float32), s: not linear in m, since numpy unrolls short kernels and calls a dot
# product for longer ones (slowest per tap around m = 12..31).
NP_TAPS = (2, 3, 4, 5, 8, 12, 16, 24, 31, 48, 64, 128, 301, 1000)
DEFAULT_CONSTANTS.update({
    **{f"np_f8_m{m}": t * 1e-9 for m, t in zip(NP_TAPS, (
        0.46, 0.63, 0.93, 1.5, 2.3, 19.7, 12, 19, 27.6, 16.8, 17.7, 23.1, 54.4, 155))},
    **{f"np_f4_m{m}": t * 1e-9 for m, t in zip(NP_TAPS, (
        0.71, 1.1, 0.79, 0.97, 1.7, 13.8, 17.9, 24.1, 27.7, 19.5, 17, 19.6, 30.8, 84.7))},
})

# Overlap-add is considered along an axis only where the kernel has this many taps:
# shorter kernels are the direct methods' ground (blocks of a few samples would
# spend more in per-block work than the transforms save; measured on 3x3 kernels).
OA_MIN_TAPS = 8

# The band variant is planned only for kernels up to this many taps: beyond, its
# B + m - 1 multiply-adds per output lose to overlap-add at every size measured
# (1e5 x 301: 1.2 ms against 0.8; 1e6 x 301: 9.7 against 4.9, float32).
BAND_MAX_TAPS = 128

# Below this predicted direct time, a transform must be 2x faster to be chosen.
ACCURACY_BIAS_SECONDS = 3e-4

_state: dict = {"constants": None, "generation": 0}


def constants() -> dict:
    """The cost constants in use: the user's calibration profile if present, else defaults."""
    if _state["constants"] is None:
        merged = dict(DEFAULT_CONSTANTS)
        saved = _profile.load_profile()
        if saved:
            merged.update({k: v for k, v in saved.items() if k in merged})
        _state["constants"] = merged
    return _state["constants"]


def reset_constants(values: dict | None = None) -> None:
    """Forget cached constants (reload the profile next time), or install ``values``."""
    _state["constants"] = None if values is None else {**DEFAULT_CONSTANTS, **values}
    _state["generation"] += 1
    _plan_shapes.cache_clear()


def constants_generation() -> int:
    """A number that changes whenever :func:`reset_constants` runs (callers that memoise
    anything derived from the constants key on it)."""
    return _state["generation"]


@dataclass
class Plan:
    """What the planner decided for one convolution, and why.

    Attributes
    ----------
    method : str
        ``"direct"``, ``"fft"`` or ``"oa"``.
    variant : str or None
        For direct: ``"lines"`` (numpy.convolve per line), ``"taps"`` (a loop over the
        kernel's taps), ``"ndimage"`` (scipy.ndimage.correlate), ``"band"`` (banded
        matrix products through BLAS) or ``"convolve2d"`` (scipy.signal.convolve2d).
    axis : int or None
        For overlap-add: the axis cut into blocks.
    block : int or None
        For overlap-add: samples per block (the transform length is
        ``block + m - 1``).
    fft_shape : tuple of int or None
        Transform lengths on the convolved axes (fft), or of one block (oa).
    costs : dict
        Predicted seconds of every candidate considered (``"direct:lines"``,
        ``"direct:taps"``, ``"fft"``, ``"oa:axis=0"``...).
    backend : str
        FFT backend the transforms would use.
    workers : int
        Threads the transforms may use.
    reason : str
        Why this method (cheapest, forced, exactness, dtype...).
    """

    method: str
    variant: str | None = None
    axis: int | None = None
    block: int | None = None
    fft_shape: tuple[int, ...] | None = None
    costs: dict = field(default_factory=dict)
    backend: str = ""
    workers: int = 1
    reason: str = ""
    reason_variant: str = field(default="taps", repr=False)  # direct variant if demoted


def _size_factor(c: dict, n_points: int) -> float:
    """How much dearer per N*log2(N) a transform of ``n_points`` is than a small one:
    piecewise linear in log2(N) through the measured 2**10, 14, 18, 22 points."""
    e = math.log2(n_points)
    grid = ((10.0, 1.0), (14.0, c["fft_f14"]), (18.0, c["fft_f18"]), (22.0, c["fft_f22"]))
    if e <= grid[0][0]:
        return 1.0
    for (e0, f0), (e1, f1) in itertools.pairwise(grid):
        if e <= e1:
            return f0 + (f1 - f0) * (e - e0) / (e1 - e0)
    return grid[-1][1]


def _fft_time(c: dict, n_points: int, batch: int, real: bool, single: bool,
              workers: int, calls: int = 1) -> float:
    if n_points <= 1:
        return c["fft_call"] * calls
    t = c["fft_nlogn"] * batch * n_points * math.log2(n_points) * _size_factor(c, n_points)
    if not real:
        t *= c["complex_cost"]
    if single:
        t *= c["float32_gain"]
    if workers > 1 and n_points * batch / calls >= THREAD_MIN_POINTS:
        t /= c["thread_gain"]
    return t + c["fft_call"] * calls


def np_per_output(c: dict, m: int, single: bool) -> float:
    """numpy.convolve seconds per output for a kernel of m taps (table, interpolated)."""
    key = "np_f4_m" if single else "np_f8_m"
    if m <= NP_TAPS[0]:
        return c[f"{key}{NP_TAPS[0]}"]
    for m0, m1 in itertools.pairwise(NP_TAPS):
        if m <= m1:
            t0, t1 = c[f"{key}{m0}"], c[f"{key}{m1}"]
            return t0 + (t1 - t0) * (m - m0) / (m1 - m0)
    top = c[f"{key}{NP_TAPS[-1]}"]
    return top * m / NP_TAPS[-1]


def _broadcast_batch(p: Problem) -> int:
    """Lines of the output: the broadcast sizes of the axes not convolved."""
    return math.prod(max(i, j) for k, (i, j) in enumerate(zip(p.x.shape, p.h.shape))
                     if k not in p.axes)


def _batch(shape, axes) -> int:
    return math.prod(d for a, d in enumerate(shape) if a not in axes)


def direct_costs(p: Problem, c: dict, workers: int = 1) -> dict:
    costs = {}
    axes = p.axes
    out_size = math.prod(p.out_shape)
    itemsize_factor = 1.0 if p.result_dtype.itemsize <= 8 else 2.0
    if len(axes) == 1:
        (a,) = axes
        n, m = p.x.shape[a], p.h.shape[a]
        lines = math.prod(max(i, j) for k, (i, j) in enumerate(zip(p.x.shape, p.h.shape))
                          if k != a)
        outs = max(n, m) - min(n, m) + 1 if p.mode == "valid" else n + m - 1
        dt = p.result_dtype
        single = dt.itemsize == (8 if dt.kind == "c" else 4)
        per = np_per_output(c, min(n, m), single) * (4.0 if dt.kind == "c" else 1.0)
        loop = c["line_call"] * lines if lines > 1 else 0.0
        costs["direct:lines"] = loop + lines * (c["np_call"] + outs * per * itemsize_factor)
    taps = min(math.prod(p.x.shape[a] for a in axes), math.prod(p.h.shape[a] for a in axes))
    width = max(0.5, p.result_dtype.itemsize / 8)     # memory-bound: bytes per element
    costs["direct:taps"] = taps * (c["tap_call"] + out_size * c["tap_elem"] * width)
    if ndimage_ok(p):
        computed = math.prod(max(e - s_, p.x.shape[a], p.h.shape[a]) if a in axes else e - s_
                             for a, (s_, e) in enumerate(zip(p.start, p.stop)))
        # ndimage sums in double: single precision pays the conversions (measured 2x)
        single = p.result_dtype.itemsize == (8 if p.result_dtype.kind == "c" else 4)
        costs["direct:ndimage"] = c["nd_call"] + computed * taps * c["nd_mac"] * (
            2.0 if p.result_dtype.kind == "c" else 1.0) * (2.0 if single else 1.0)
    if convolve2d_ok(p):
        full = math.prod(p.x.shape[a] + p.h.shape[a] - 1 for a in axes)
        costs["direct:convolve2d"] = c["c2d_call"] + full * taps * c["c2d_mac"] * (
            2.0 if p.result_dtype.kind == "c" else 1.0)
    lines = native_lines(p) if _native.kernels() is not None else None
    if lines is not None and (p.result_dtype.kind not in "biu"
                              or _exact.dtype_bound(p) <= BAND_EXACT):
        (a,) = axes
        costs["direct:native"] = _native_cost(p, c, out_size, min(p.x.shape[a], p.h.shape[a]),
                                              workers)
    if _native.kernels() is not None and native2d_ok(p) and (
            p.result_dtype.kind not in "biu" or _exact.dtype_bound(p) <= BAND_EXACT):
        costs["direct:native2d"] = _native_cost(p, c, out_size, min(p.x.size, p.h.size),
                                                workers)
    m = band_roles(p)[1].shape[axes[0]] if band_ok(p) else 0
    if 0 < m <= BAND_MAX_TAPS and (p.result_dtype.kind not in "biu"
                                   or _exact.dtype_bound(p) <= BAND_EXACT):
        (a,) = axes
        inner = math.prod(p.out_shape[a + 1:])
        form = "row" if inner == 1 else "col"
        dt = p.result_dtype
        # Products only a few columns wide (an interleaved colour axis after the
        # convolved one) run far below speed: 5.6 ns per output with 3 columns
        # against 1.4-1.9 from 8 columns on (float32, 9 taps).
        scale = (4.0 if dt.kind == "c" else 1.0) * (max(1.0, 10 / inner) if inner > 1 else 1.0) * (
            c["band_f8"] if dt.itemsize == (16 if dt.kind == "c" else 8) or dt.kind in "biu"
            else 1.0)
        K = band_block(m) + m - 1
        # Outputs beyond the caches cost more each: 1e7 x 31 took 8.5 ns per output
        # against 4.4 at 1e6 (float32).
        big = 1.0 + 0.3 * max(0.0, math.log2(out_size / 2**21))
        costs["direct:band"] = c["band_call"] + out_size * scale * big * (
            c[f"band_out_{form}"] + K * c[f"band_mac_{form}"])
    return costs


def _native_cost(p: Problem, c: dict, out_size: int, taps: int, workers: int) -> float:
    """Predicted time of the compiled direct loops (1-D lines or 2-D): per output and per
    multiply-add, float32 cheaper, threads beyond ``2 * NATIVE_THREAD_MACS``."""
    t = out_size * (c["nat_out"] + taps * c["nat_mac"])
    if p.result_dtype in (np.float32, np.float16):
        t *= c["nat_f4"]
    if workers > 1 and out_size * taps >= 2 * NATIVE_THREAD_MACS:
        t /= c["nat_thread_gain"]
    return c["nat_call"] + t


def fft_cost(p: Problem, c: dict, backend, workers: int) -> tuple[float, tuple[int, ...]]:
    cdt, cplx = compute_dtype(p)
    single = cdt.itemsize == (8 if cplx else 4)
    lens = fft_shape(p, backend)
    npts = math.prod(lens)
    bx, bh = _batch(p.x.shape, p.axes), _batch(p.h.shape, p.axes)
    bo = _broadcast_batch(p)
    t = (_fft_time(c, npts, bx, not cplx, single, workers)
         + _fft_time(c, npts, bh, not cplx, single, workers)
         + _fft_time(c, npts, bo, not cplx, single, workers))
    moved = npts * (bx + bh + 2 * bo) + math.prod(p.out_shape)
    t += moved * c["mem_elem"] * (0.5 if single else 1.0)
    return t, lens


def oa_cost(p: Problem, c: dict, backend, workers: int, axis: int):
    """Best (cost, block, L) of overlap-add cutting ``axis`` into blocks."""
    cdt, cplx = compute_dtype(p)
    single = cdt.itemsize == (8 if cplx else 4)
    n, m = p.x.shape[axis], p.h.shape[axis]
    if n < m:
        n, m = m, n
    others = [a for a in p.axes if a != axis]
    other_pts = math.prod(axis_length(p, a, backend, cplx) for a in others)
    bo = _broadcast_batch(p)
    best = None
    # The walk goes over fast lengths of any parity, 25% apart; a real transform takes the
    # next even one (the backend's real length: odd real lengths are slow with FFTW).
    walk = backend.next_fast_len(max(2 * m - 1, 16), False)
    top = backend.next_fast_len(n + m - 1, not cplx)
    while True:
        L = backend.next_fast_len(walk, not cplx)
        B = L - m + 1
        nb = -(-n // B)
        pts = L * other_pts
        row_bytes = pts * bo * cdt.itemsize
        per_chunk = oa_chunk_blocks(nb, row_bytes)
        chunks = -(-nb // per_chunk)
        done = chunks * per_chunk         # blocks transformed, the last chunk's padding too
        t = 2 * _fft_time(c, pts, done * bo, not cplx, single, workers, calls=chunks)
        t += _fft_time(c, pts, 1, not cplx, single, workers)
        t += (nb * pts * bo * 3 + n * bo) * c["mem_elem"] * (0.5 if single else 1.0)
        t += chunks * 12 * c["tap_call"]          # Python bookkeeping per chunk
        if best is None or t < best[0]:
            best = (t, B, L)
        # Blocks beyond about 10x the kernel save little arithmetic (the kept share B / L
        # is already 90%) and leave the cache: the model preferred 1,152,000-point blocks
        # for 1e7 x 30001 float64, which took 165 ms against 102 ms with 235,298.
        if L >= top or (L >= 10 * m and L >= 1 << 15):
            break
        walk = backend.next_fast_len(int(walk * 1.25) + 1, False)
    return best


def make_plan(p: Problem, method: str, backend, workers: int,
              transform_gain: float = 1.0) -> Plan:
    """The plan for ``p``: memoised on shapes, dtypes and options (the planner is pure),
    then checked against the data where integer exactness depends on it. With method
    'auto', a transform is taken only when predicted ``transform_gain`` times faster
    than the best direct variant (scipy's 2-D functions, always direct, use 4)."""
    key = (p.x.shape, p.h.shape, p.x.dtype.str, p.h.dtype.str, p.axes, p.start, p.stop,
           p.mode, p.result_dtype.str, method, backend, workers, transform_gain,
           id(constants()), _native.kernels() is not None)
    plan = _plan_shapes(key)        # shared: callers copy before changing it
    exact_ints = p.x.dtype.kind in "biu" and p.h.dtype.kind in "biu"
    if plan.method in ("fft", "oa") and exact_ints \
            and not _exact.fft_is_exact(p, math.prod(plan.fft_shape)):
        return dataclasses.replace(
            plan, method="direct", axis=None, block=None, fft_shape=None,
            variant=plan.reason_variant,
            reason="integer inputs too large for an exact FFT result")
    return plan


@functools.lru_cache(maxsize=512)
def _plan_shapes(key) -> Plan:
    (sx, sh, dx, dh, axes, start, stop, mode, rdt, method, backend, workers, gain, _, _n) = key
    fake = Problem(np.broadcast_to(np.zeros((), dx), sx), np.broadcast_to(np.zeros((), dh), sh),
                   axes, start, stop, np.dtype(rdt), mode)
    return _decide(fake, method, backend, workers, gain)


def _decide(p: Problem, method: str, backend, workers: int,
            transform_gain: float = 1.0) -> Plan:
    c = constants()
    kind = np.result_type(p.x.dtype, p.h.dtype).kind
    plan = Plan(method="direct", backend=backend.name, workers=workers)
    if not p.axes:
        plan.variant, plan.reason = "taps", "no axis needs convolving (sizes of 1 broadcast)"
        return plan
    if kind in "bO":
        if method in ("fft", "oa") and kind == "O":
            raise TypeError(f"method {method!r} cannot convolve object arrays; "
                            "use method='direct'")
        if kind == "O" or method in ("auto", "direct"):
            plan.costs = direct_costs(p, c)
            plan.variant = "lines" if "direct:lines" in plan.costs and kind == "b" else "taps"
            plan.reason = "object dtype" if kind == "O" else "bool dtype"
            return plan
    costs = direct_costs(p, c, workers)
    variant = min(costs, key=costs.get).split(":")[1]
    plan.reason_variant = variant
    if method == "direct":
        plan.variant, plan.costs, plan.reason = variant, costs, "forced"
        return plan
    # Tiny problems: a transform cannot win and planning further costs more than it saves.
    if method == "auto" and min(costs.values()) < 2e-5:
        plan.variant, plan.costs, plan.reason = variant, costs, "small: direct is cheapest"
        return plan
    fft_t, lens = fft_cost(p, c, backend, workers)
    costs["fft"] = fft_t
    oa_best = None
    if method != "fft":
        for a in p.axes:
            short = min(p.x.shape[a], p.h.shape[a])
            if method == "oa" or (max(p.x.shape[a], p.h.shape[a]) >= 2 * short
                                  and short >= OA_MIN_TAPS):
                t, B, L = oa_cost(p, c, backend, workers, a)
                costs[f"oa:axis={a}"] = t
                if oa_best is None or t < oa_best[0]:
                    oa_best = (t, a, B, L)
    plan.costs = costs
    if method == "auto":
        choice = min(costs, key=costs.get)
        method = choice.split(":")[0]
        if method == "oa" and oa_best[0] >= fft_t * 0.97:   # near tie: one big transform
            method = "fft"
        plan.reason = "cheapest predicted"
        direct_t = min(v for k, v in costs.items() if k.startswith("direct"))
        if method != "direct" and direct_t < ACCURACY_BIAS_SECONDS \
                and costs[choice] > 0.5 * direct_t:
            # Direct sums are exact for small integers and far more accurate for
            # values of mixed magnitude; on small problems a transform must be at
            # least twice as fast to be worth that.
            method = "direct"
            plan.reason = "small problem: direct for accuracy (transform < 2x faster)"
        elif method != "direct" and transform_gain * costs[choice] >= direct_t:
            method = "direct"
            plan.reason = f"direct preferred (transform < {transform_gain:g}x faster)"
    else:
        plan.reason = "forced"
    if method == "direct":
        plan.variant = variant
    elif method == "fft":
        plan.method, plan.fft_shape = "fft", lens
    else:
        _, a, B, L = oa_best
        plan.method, plan.axis, plan.block, plan.fft_shape = "oa", a, B, (L,)
    return plan
