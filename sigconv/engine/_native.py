"""The one importer of the compiled core, ``sigconv.engine._core`` (built from ``src/native``).

Engine modules ask ``kernels()`` for the module and fall back to their NumPy twin when it
returns None: the core failed to import (a warning, once), the environment says
``SIGCONV_NATIVE=0``, or a test holds ``use_native(False)``. Every native kernel has a NumPy
twin beside its caller, and the tests compare the two.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backends._cache import fresh_array

BORDER_CODES = {"reflect": 0, "nearest": 1, "wrap": 2, "constant": 3, "mirror": 4}

_core: Any = None
_error: str | None = None
try:
    from . import _core  # type: ignore[attr-defined,no-redef]
except ImportError as exc:  # a source tree that was not built, or a broken build
    _error = f"{type(exc).__name__}: {exc}"

if _core is not None:      # FFTW's planner lock lives in the core (see backends._pyfftw)
    from ..backends._pyfftw import register_planner_hooks
    register_planner_hooks(*_core.fftw_planner_hooks(), _core.fftw_destroy_locked)

_local = threading.local()
_env_off = os.environ.get("SIGCONV_NATIVE", "1").strip().lower() in ("0", "off", "no", "false")
_warned = False


def _warn_once() -> None:
    global _warned
    if not _warned and not _env_off:
        _warned = True
        warnings.warn(f"sigconv's compiled core is not loaded ({_error}); using the slower "
                      "NumPy path. Reinstall with a C++ compiler: pip install -e .",
                      RuntimeWarning, stacklevel=3)


def kernels() -> Any:
    """The compiled module, or None when the NumPy path must run (see the module docstring)."""
    if _core is None:
        _warn_once()
        return None
    if _env_off or not getattr(_local, "on", True):
        return None
    return _core


@contextlib.contextmanager
def use_native(on: bool) -> Iterator[None]:
    """Within the block, this thread's engine calls use the compiled core only if ``on``."""
    before = getattr(_local, "on", True)
    _local.on = bool(on)
    try:
        yield
    finally:
        _local.on = before


# Arrays at least this large are populated by ``empty`` (a few pages cost nothing to fault).
POPULATE_MIN_BYTES = 1 << 20


def empty(shape, dtype) -> np.ndarray:
    """A new output array (``fresh_array``: a freed block reused when it is large) with its
    pages mapped now, for an output that threads of the compiled core fill: faulting 25 MB
    of fresh pages from two writing threads cost 25 ms more than mapping them first (see
    ``populate`` in src/native/memory.cpp)."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    populate = getattr(kernels(), "populate", None) if nbytes >= POPULATE_MIN_BYTES else None
    return fresh_array(shape, dtype, populate=populate)   # (populate absent from old builds)


# A native pass over fewer than this many elements per thread runs on one thread. The
# passes are bound by memory, which a second thread barely speeds up, and starting one
# costs 0.1-0.6 ms on this shared 2-core VM under load (measured: 65536 complex products
# 66 us on one thread, 175 us on two; an overlap-add fill of 1 MB 0.7 ms on two; the
# finiteness check of 1e7 float64 2.5 ms on one, 1.9 ms on two).
NATIVE_THREAD_MIN = 1 << 21


def native_threads(elements: int, workers: int) -> int:
    """Threads for a native pass over ``elements`` elements, at most ``workers``."""
    return max(1, min(int(workers), elements // NATIVE_THREAD_MIN))


def loaded() -> bool:
    """Whether the compiled core imported (whatever the switches say)."""
    return _core is not None


def info() -> dict[str, Any]:
    """Facts about the compiled core for ``sigconv info``."""
    if _core is None:
        return {"loaded": False, "error": _error}
    simd = _core.baseline
    if _core.clones:
        simd += ", AVX2 clones " + ("in use" if _core.cpu_has_avx2() else "(CPU lacks AVX2)")
    return {"loaded": True, "enabled": not _env_off, "version": _core.version, "simd": simd,
            "threads": _core.hardware_threads(), "path": getattr(_core, "__file__", "?")}
