"""What the engine needs from an FFT library, and the helpers both backends share.

A backend hands out *plans*. A plan owns an input buffer (``plan.input``) that the
engine fills in place (zero padding included), and ``plan.execute()`` returns the
transform, possibly in a buffer the plan reuses on its next call;
``plan.execute_fresh()`` returns it in a new array the caller keeps. Inverse plans are
unnormalised (the engine folds 1/N into the spectral product, saving one pass).

Plan kinds: ``"r2c"`` (real -> half spectrum over ``axes``, last axis halved),
``"c2r"`` (its inverse; ``shape`` is the *real* shape), ``"c2c"`` forward and
``"c2ci"`` inverse.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

_CPUS = os.cpu_count() or 1

# A transform call smaller than this many points runs on one thread: below about
# 1e6 points FFTW's threads gain nothing here, and when another process holds a
# core a thread waiting for it costs a scheduler quantum (measured: ~16 ms).
THREAD_MIN_POINTS = 1 << 20

# Overlap-add processes blocks in chunks of about this many bytes of transform
# buffer, small enough that fill, transform, product, inverse and accumulation find the
# chunk still in the caches (session 6, with the compiled glue: 1 MB against 8 MB,
# float64 1e6 x 301 60 against 80 ms, float32 17 against 32 ms, 1e7 x 301 278 against
# 412 ms, load average 6; the transforms of a chunk then run on one thread). Session 13,
# with chunks side by side on two threads (each thread its own four buffers), 512 KB
# against 1 MB, planner included, medians: float64 1e6 x 301 2.3 against 3.7 ms, 1e6 x
# 3001 3.4 against 4.5 ms, 1e7 x 301 27.5 against 36.7 ms, float32 1e7 x 301 22.1
# against 26.5 ms; 1e5 x 3001 float32 0.70 against 0.62 ms (the one cell that lost more
# than noise).
OA_CHUNK_BYTES = 1 << 19


def oa_chunk_blocks(blocks: int, block_bytes: int) -> int:
    """Blocks per overlap-add chunk: at most OA_CHUNK_BYTES of buffer, and balanced so the
    last chunk is not mostly empty (every chunk transforms the plan's full batch)."""
    most = max(1, min(blocks, OA_CHUNK_BYTES // max(1, block_bytes)))
    chunks = -(-blocks // most)
    return -(-blocks // chunks)


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype, align: int = 64) -> np.ndarray:
    """An uninitialised array whose data start on an ``align``-byte boundary (FFTW's
    SIMD plans need the alignment of the buffers they were planned on)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    raw = np.empty(nbytes + align, np.uint8)
    off = -raw.ctypes.data % align
    return raw[off:off + nbytes].view(dtype).reshape(shape)


def default_workers() -> int:
    """Threads used by default: every core."""
    return _CPUS


def spectrum_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the half spectrum of a real array of ``shape`` transformed over ``axes``."""
    out = list(shape)
    out[axes[-1]] = shape[axes[-1]] // 2 + 1
    return tuple(out)


def buffer_shapes(kind: str, shape: tuple[int, ...], axes: tuple[int, ...]):
    """(input shape, output shape) of a plan; ``shape`` is always the real/full shape."""
    if kind == "r2c":
        return shape, spectrum_shape(shape, axes)
    if kind == "c2r":
        return spectrum_shape(shape, axes), shape
    return shape, shape


def complex_of(dtype: np.dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def real_of(dtype: np.dtype) -> np.dtype:
    return np.empty(0, dtype).real.dtype


class PlanKey(NamedTuple):   # a tuple: cheap to hash on every call
    kind: str
    shape: tuple[int, ...]
    dtype: str         # the real dtype for r2c/c2r, the complex dtype for c2c
    axes: tuple[int, ...]
    workers: int
    slot: str          # separate buffers for operands used at the same time
