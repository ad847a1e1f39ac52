"""The layers' planner: direct (matrix products or taps) against the engine's transforms.

Pure: a :class:`~sigconv.nn._args.Geometry` and a dtype in, a :class:`ConvPlan` out.

* ``direct:gemm`` costs the fill of the stacked-taps buffer (``fill_elem`` per element
  copied), the matrix products (``gemm_mac`` per multiply-add, ``gemm_call`` per
  product; products with few output rows run below speed: ``gemm_small_rows``), and a
  pass over the output;
* ``direct:taps`` (one input channel per group) costs ``taps_elem`` per output and tap
  (a multiply into a scratch and an add) plus ``taps_call`` per tap;
* ``fft`` and ``oa`` are the engine's own predictions (:func:`sigconv.explain`) for
  the correlation the layer becomes (see ``_spectral``), scaled by the measured ratio
  of real to predicted time for such batches (``engine_nd``, ``engine_1d``), plus a
  pass per element summed over the input channels when there are several per group.

Backward passes are planned with the forward plan's method: their products and
transforms are the forward ones with the roles exchanged (about twice the work).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ..engine import explain
from . import _direct, _spectral
from ._args import Geometry

# Measured on the 2-core development VM (AMD EPYC, AVX2, OpenBLAS 0.3.31 through
# numpy 2.4) by `python benchmarks/bench_nn.py --model`, two runs on 2026-12-04 at
# 17:05 UTC (medians of 5 samples each; load average 2.7 from other sessions' tests,
# the two runs within 15% of each other). Products, fills and the taps loop run as the
# layers run them (images split over two threads, BLAS on one thread each).
CONSTANTS = {
    "gemm_mac": 2.9e-11,     # s per multiply-add of the split products (float32, K = 576)
    "gemm_call": 1.4e-6,     # s per matmul call (per chunk of images and group)
    "gemm_small_rows": 16,   # products with r < this many output rows run r/this of speed
    "fill_elem": 4.6e-10,    # s per element copied into the stacked-taps buffer
    "out_elem": 8.4e-10,     # s per output element (crop, bias)
    "taps_elem": 1.2e-9,     # s per output per tap of the taps loop (float32, 3x3)
    "taps_call": 3.9e-6,     # s per tap and block of channels of the taps loop (17:10)
    "sum_elem": 2.8e-10,     # s per element summed over input channels after transforms
    "f64": 2.0,              # float64 / float32 time of the direct variants
    # measured / engine-predicted time of the layers' transforms (the engine's table
    # dates from 2026-11-22, on a quieter machine, and does not model batches of small
    # multi-axis transforms): depthwise 7x7 and 31x31 on (8, 128, 56, 56) gave 5.5 and
    # 5.1 at 17:06 UTC, 3.2 and 2.6 at 17:09; 1-D depthwise (8, 64, 16384) x 1024 and
    # (4, 64, 8192) x 8192 gave 2.1 and 2.2, then 2.1 and 2.4.
    "engine_nd": 4.0,
    "engine_1d": 2.2,
}


@dataclass
class ConvPlan:
    """What the layers' planner decided for one convolution, and why.

    Attributes
    ----------
    method : str
        ``"direct"``, ``"fft"`` or ``"oa"``.
    variant : str or None
        For direct: ``"gemm"`` (taps stacked into one BLAS product per image and
        group) or ``"taps"`` (a broadcast multiply-add per tap, one input channel per
        group).
    layout : str or None
        For gemm: ``"windows"``, the windows of the outputs the stride keeps gathered
        by the engine (im2col, :func:`sigconv.engine.gather_windows`).
    costs : dict
        Predicted seconds of each candidate (``"direct:gemm"``, ``"direct:taps"``,
        ``"fft"``, ``"oa"``).
    reason : str
        Why this method.
    engine_shapes : tuple
        Shapes of the two engine operands and the engine mode a transform would use.
    fft_shape : tuple of int or None
        Transform lengths (fft), or of one block (oa), from the engine's plan.
    block : int or None
        For overlap-add: samples per block.
    axis : int or None
        For overlap-add: the engine axis cut into blocks.
    out_shape : tuple of int
        Shape of the output, (N, C_out, *out).
    """

    method: str
    variant: str | None = None
    layout: str | None = None
    costs: dict = field(default_factory=dict)
    reason: str = ""
    engine_shapes: tuple = ()
    fft_shape: tuple | None = None
    block: int | None = None
    axis: int | None = None
    out_shape: tuple = ()


def direct_costs(geo: Geometry, dtype: np.dtype) -> dict:
    c = CONSTANTS
    scale = c["f64"] if dtype.itemsize == 8 else 1.0
    out = geo.batch * geo.c_out * math.prod(geo.out_size)
    costs = {}
    nb = _direct.chunk(geo, dtype.itemsize)
    chunks = -(-geo.batch // nb)
    cols = out // geo.c_out
    macs = cols * geo.c_out * geo.cg * geo.taps
    slow = max(1.0, c["gemm_small_rows"] / geo.cog)
    costs["direct:gemm"] = scale * (
        chunks * geo.groups * c["gemm_call"] + macs * c["gemm_mac"] * slow
        + cols * geo.c_in * geo.taps * c["fill_elem"] + out * c["out_elem"])
    if geo.cg == 1:
        per_channel = geo.cog * math.prod(geo.out_size) * dtype.itemsize
        blocks = geo.batch * -(-geo.c_in // max(1, _direct.TAPS_BLOCK_BYTES // per_channel))
        costs["direct:taps"] = scale * geo.taps * (blocks * c["taps_call"]
                                                   + out * c["taps_elem"])
    return costs


def _engine_cost(geo: Geometry, dtype: np.dtype, method: str):
    sx, sw, mode = _spectral.engine_shapes(geo)
    x = np.broadcast_to(np.zeros((), dtype), sx)
    w = np.broadcast_to(np.zeros((), dtype), sw)
    axes = tuple(range(-geo.nsp, 0))
    p = explain(x, w, mode, method, axes, workers=_spectral._workers(geo))
    cost = p.costs.get("fft") if method == "fft" else min(
        (v for k, v in p.costs.items() if k.startswith("oa")), default=None)
    if cost is None:
        return None, p
    cost *= CONSTANTS["engine_nd" if geo.nsp > 1 else "engine_1d"]
    if geo.cg > 1:
        full = math.prod(n + r - 1 for n, r in zip(sx[-geo.nsp:], geo.reach))
        cost += geo.batch * geo.c_out * geo.cg * full * CONSTANTS["sum_elem"]
    return cost, p


def plan(geo: Geometry, dtype: np.dtype, method: str = "auto") -> ConvPlan:
    """The :class:`ConvPlan` for ``geo`` (``method``: 'auto', 'direct', 'fft' or 'oa');
    memoised (the planner is pure), each caller gets its own copy."""
    p = _plan(geo, np.dtype(dtype), method)
    return dataclasses.replace(p, costs=dict(p.costs))


@functools.lru_cache(maxsize=256)
def _plan(geo: Geometry, dtype: np.dtype, method: str) -> ConvPlan:
    costs = direct_costs(geo, dtype)
    out_shape = (geo.batch, geo.c_out) + geo.out_size
    shapes = _spectral.engine_shapes(geo)
    engine_plans = {}
    if method in ("auto", "fft", "oa"):
        for m in (("fft", "oa") if method == "auto" else (method,)):
            if m == "oa" and method == "auto" and max(geo.reach) < 8:
                continue          # the engine's own rule: overlap-add needs 8+ taps
            cost, p = _engine_cost(geo, dtype, m)
            if m == "oa" and method == "auto" and p.block is not None and p.axis is not None \
                    and p.block >= max(shapes[0][p.axis], shapes[1][p.axis]):
                continue          # a single block: the FFT's work, the block loop's overheads
            if cost is not None:
                costs[m] = cost
                engine_plans[m] = p
    direct_best = min((k for k in costs if k.startswith("direct")), key=costs.get)
    if method == "auto":
        choice = min(costs, key=costs.get)
        reason = "cheapest predicted"
    elif method == "direct":
        choice, reason = direct_best, "forced"
    else:
        choice, reason = method, "forced"
    if choice.startswith("direct"):
        variant = choice.split(":")[1]
        return ConvPlan("direct", variant, "windows" if variant == "gemm" else None, costs,
                        reason, shapes, out_shape=out_shape)
    ep = engine_plans.get(choice)
    return ConvPlan(choice, None, None, costs, reason, shapes,
                    fft_shape=ep.fft_shape if ep is not None else None,
                    block=ep.block if ep is not None else None,
                    axis=ep.axis if ep is not None else None, out_shape=out_shape)
