"""The pyFFTW (FFTW) backend: planned transforms on aligned, reused buffers.

Planning: FFTW_ESTIMATE by default, which costs microseconds. Measured plans only
come from saved wisdom (``sigconv calibrate`` spends the planning time once, with a
time cap, and saves the wisdom in the user cache directory); a transform found in
the wisdom is planned with FFTW_WISDOM_ONLY, never measured on a user's call.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import threading

import numpy as np

from ._base import THREAD_MIN_POINTS, PlanKey, buffer_shapes, complex_of
from ._cache import PLANS, fresh_array

_FFTW_DTYPES = {np.dtype(np.float32), np.dtype(np.float64),
                np.dtype(np.complex64), np.dtype(np.complex128)}
_wisdom_lock = threading.Lock()
_wisdom_state = {"loaded": None}


def _fftw():
    """The ``pyfftw`` module, imported on first use, with the saved wisdom loaded.

    Importing pyfftw pulls in scipy.fftpack and more: 0.3-0.6 s here, which the image
    filters that plan no transform (blur, box, edges) would pay on every command line.
    """
    pyfftw = _import_pyfftw()
    if _wisdom_state["loaded"] is None:
        from .._profile import wisdom_path
        load_wisdom(wisdom_path(), pyfftw)
    return pyfftw


def _import_pyfftw():
    """``import pyfftw`` (deliberately late, see :func:`_fftw`) without dask and scipy.fftpack.

    pyfftw.interfaces imports dask.array whenever dask is installed, and scipy.fftpack
    (hence scipy.fft, scipy.special) whenever scipy is, for wrappers sigconv does not use:
    1.6 s of pyfftw's 3.2 s import on a loaded 2-core VM for dask; 0.23 of 0.46 s on a
    quiet one for scipy.fftpack, paid by every process that plans a transform (each
    worker of a ``--jobs`` batch too). So each of the two that is not already loaded
    (by a dask or scipy.fft user) is made to fail to import, which pyfftw expects (it
    then leaves out those wrappers; ``import pyfftw.interfaces.scipy_fft`` still works).
    """
    import sys
    if "pyfftw" in sys.modules:
        import pyfftw
        return pyfftw
    blocked = [name for name in ("dask", "scipy.fftpack") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None        # type: ignore[assignment]  # import -> ImportError
    try:
        import pyfftw
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return pyfftw


def _smooth7_sizes(limit: int) -> np.ndarray:
    vals = []
    p2 = 1
    while p2 <= limit:
        p3 = p2
        while p3 <= limit:
            p5 = p3
            while p5 <= limit:
                p7 = p5
                while p7 <= limit:
                    vals.append(p7)
                    p7 *= 7
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return np.array(sorted(vals), dtype=np.int64)


_SMOOTH = _smooth7_sizes(2**40).tolist()


class _FFTWPlan:
    __slots__ = ("_fftw", "_redirected", "from_wisdom", "input", "output")

    def __init__(self, key: PlanKey, flags: tuple[str, ...]):
        in_shape, out_shape = buffer_shapes(key.kind, key.shape, key.axes)
        base = np.dtype(key.dtype)
        cplx = complex_of(base)
        in_dtype = {"r2c": base, "c2r": cplx}.get(key.kind, cplx)
        out_dtype = {"r2c": cplx, "c2r": base}.get(key.kind, cplx)
        pyfftw = _fftw()
        self.input = pyfftw.empty_aligned(in_shape, in_dtype)
        self.output = pyfftw.empty_aligned(out_shape, out_dtype)
        self._redirected = False
        direction = "FFTW_BACKWARD" if key.kind in ("c2r", "c2ci") else "FFTW_FORWARD"
        threads = key.workers if math.prod(key.shape) >= THREAD_MIN_POINTS else 1
        self.from_wisdom = True
        try:
            self._fftw = pyfftw.FFTW(self.input, self.output, axes=key.axes,
                                     direction=direction, threads=threads,
                                     flags=("FFTW_MEASURE", "FFTW_WISDOM_ONLY",
                                            "FFTW_DESTROY_INPUT"))
        except RuntimeError:   # not in the wisdom: estimate, which is instant
            self.from_wisdom = False
            self._fftw = pyfftw.FFTW(self.input, self.output, axes=key.axes,
                                     direction=direction, threads=threads, flags=flags)

    def execute(self) -> np.ndarray:
        if self._redirected:           # execute_fresh pointed FFTW at a caller's array
            self._fftw.update_arrays(self.input, self.output)
            self._redirected = False
        self._fftw.execute()
        return self.output

    def execute_fresh(self) -> np.ndarray:
        """The transform written straight into a new array the caller may keep (saves
        copying it out of the plan's own buffer)."""
        out = fresh_array(self.output.shape, self.output.dtype, align=64)
        self._fftw.update_arrays(self.input, out)
        self._redirected = True
        self._fftw.execute()
        return out


class PyFFTWBackend:
    """FFTs through FFTW; plans and their buffers cached in the shared plan cache."""

    name = "pyfftw"
    supports_longdouble = False

    def __init__(self) -> None:
        self.flags: tuple[str, ...] = ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT")

    def next_fast_len(self, n: int, real: bool = True) -> int:
        """The smallest 7-smooth length >= ``n``; even for real transforms (``real``).

        FFTW's real transforms of odd lengths run about 3x slower per point than even
        ones (float32 and float64, 8 rows, ESTIMATE plans: 15309 = 3^7 7 took 1.36 ms
        for r2c + c2r against 0.44 ms at 15360 and 0.50 ms at 16384; 1715 took 110 us
        against 42 us at 1728), and the 7-smooth numbers between even ones are often odd."""
        n = int(n)
        if n <= 1:
            return 1
        if real:
            return 2 * _SMOOTH[bisect.bisect_left(_SMOOTH, -(-n // 2))]
        return _SMOOTH[bisect.bisect_left(_SMOOTH, n)]

    def build(self, key: PlanKey) -> tuple[_FFTWPlan, int]:
        """A new, uncached plan for ``key`` and the bytes its buffers hold."""
        if np.dtype(key.dtype) not in _FFTW_DTYPES:
            raise TypeError(f"FFTW backend cannot transform dtype {key.dtype!r}")
        try:
            _fftw()
        except Exception as exc:  # noqa: BLE001 - a broken build, found at the first plan
            from . import _broken, _lock, get_backend
            with _lock:
                _broken(exc)
            return get_backend("scipy").build(key)
        p = _FFTWPlan(key, self.flags)
        return p, p.input.nbytes + p.output.nbytes

    def plan(self, key: PlanKey) -> _FFTWPlan:
        return PLANS.get(("pyfftw", key), lambda: self.build(key))

    def describe(self) -> str:
        return f"pyFFTW {_fftw().__version__} (FFTW)"


def load_wisdom(path: str, pyfftw=None) -> bool:
    """Import FFTW wisdom saved by ``save_wisdom``; False if absent or unreadable."""
    with _wisdom_lock:
        if _wisdom_state["loaded"] == path:
            return True
        _wisdom_state["loaded"] = ""           # tried: not again on every plan
        try:
            with open(path, encoding="ascii") as fh:
                wisdom = json.load(fh)["wisdom"]
            (pyfftw or _fftw()).import_wisdom(tuple(w.encode("ascii") for w in wisdom))
        except (OSError, ValueError, KeyError, TypeError, UnicodeError):
            return False
        _wisdom_state["loaded"] = path
        return True


def save_wisdom(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        json.dump({"wisdom": [w.decode("ascii") for w in _fftw().export_wisdom()]}, fh)
    os.replace(tmp, path)
