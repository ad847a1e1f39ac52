"""The pyFFTW (FFTW) backend: planned transforms on aligned, reused buffers.

Planning: FFTW_ESTIMATE by default, which costs microseconds. Measured plans only
come from saved wisdom (``sigconv calibrate`` spends the planning time once, with a
time cap, and saves the wisdom in the user cache directory); a transform found in
the wisdom is planned with FFTW_WISDOM_ONLY, never measured on a user's call.
"""

from __future__ import annotations

import bisect
import ctypes
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


_init_lock = threading.Lock()
_init_state: dict = {"module": None}


def _fftw():
    """The ``pyfftw`` module, imported on first use, FFTW's planner made thread-safe and the
    saved wisdom loaded, once, under a lock (threads that plan their first transforms at
    the same time all wait for it).

    Importing pyfftw pulls in scipy.fftpack and more: 0.3-0.6 s here, which the image
    filters that plan no transform (blur, box, edges) would pay on every command line.
    """
    module = _init_state["module"]
    if module is not None:
        return module
    with _init_lock:
        if _init_state["module"] is None:
            pyfftw = _import_pyfftw()
            _thread_safe_planner()
            if _wisdom_state["loaded"] is None:
                from .._profile import wisdom_path
                load_wisdom(wisdom_path(), pyfftw)
            _init_state["module"] = pyfftw
    return _init_state["module"]


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

    def block_loop_error(self) -> str | None:
        """Why the compiled core cannot call FFTW itself (overlap-add block by block), or
        None when it can."""
        if _raw_fftw(np.dtype(np.float64)) is None or _raw_fftw(np.dtype(np.float32)) is None:
            return _raw_state.get("error") or "FFTW's functions were not found"
        return None

    def block_plans(self, length: int, lines: int, dtype) -> BlockPlans | None:
        """FFTW's one-block plans for compiled loops that run the transforms themselves:
        the r2c transform of ``lines`` interleaved real lines of ``length`` points (stride
        ``lines``) and its c2r inverse, cached; None where FFTW's functions cannot be
        reached (see :func:`_raw_fftw`)."""
        dt = np.dtype(dtype)
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)) or _raw_fftw(dt) is None:
            return None
        key = ("pyfftw-block", int(length), int(lines), dt.str)
        return PLANS.get(key, lambda: (BlockPlans(_raw_fftw(dt), int(length), int(lines), dt),
                                       4096))


# ---- FFTW's own functions, for the compiled core's block loops ---------------------------
# The compiled overlap-add (sigconv.engine._core.oa_fftw) runs a whole convolution without
# the GIL, so it calls FFTW itself: FFTW's new-array execute functions on plans made here,
# in the FFTW library pyFFTW loaded (resolved through pyFFTW's extension module, whose
# dependencies those libraries are). Every plan in the process holds the core's planner
# mutex (_thread_safe_planner, below): pyFFTW plans without the GIL under a lock of its own,
# the plans here are made with the GIL held, one thread each.

_FFTW_MEASURE, _FFTW_DESTROY_INPUT = 0, 1
_FFTW_ESTIMATE, _FFTW_WISDOM_ONLY = 1 << 6, 1 << 21
_raw_lock = threading.Lock()
_raw_state: dict = {}


class _RawFFTW:
    """FFTW's functions of one precision (prefix ``fftw`` or ``fftwf``), found through the
    ctypes handle ``lib`` of pyFFTW's extension module."""

    def __init__(self, lib, prefix: str) -> None:
        vp, ip, i = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int

        def fn(name, restype, *argtypes):
            f = getattr(lib, f"{prefix}_{name}")
            f.restype = restype
            f.argtypes = list(argtypes)
            return f
        many = (i, ip, i, vp, ip, i, i, vp, ip, i, i, ctypes.c_uint)
        self.plan_r2c = fn("plan_many_dft_r2c", vp, *many)
        self.plan_c2r = fn("plan_many_dft_c2r", vp, *many)
        self.destroy_address = ctypes.cast(getattr(lib, f"{prefix}_destroy_plan"), vp).value
        self.nthreads = fn("plan_with_nthreads", None, i)
        self.execute_r2c = ctypes.cast(getattr(lib, f"{prefix}_execute_dft_r2c"), vp).value
        self.execute_c2r = ctypes.cast(getattr(lib, f"{prefix}_execute_dft_c2r"), vp).value


def _pyfftw_library():
    """A ctypes handle on pyFFTW's extension module (loaded already, not loaded again), through
    which FFTW's functions resolve in the libraries pyFFTW itself uses; None where that does
    not work (Windows, or a pyFFTW without a shared-library extension)."""
    if "handle" not in _raw_state:
        import sys
        try:
            path = sys.modules["pyfftw.pyfftw"].__file__
            mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LOCAL", 0)
            # PyDLL: calls keep the GIL, so this module's planning never overlaps pyFFTW's
            # plan destruction (done with the GIL held, outside FFTW's planner hooks)
            _raw_state["handle"] = ctypes.PyDLL(path, mode=mode)
        except (OSError, KeyError, TypeError, AttributeError) as exc:
            _raw_state["handle"] = None
            _raw_state["error"] = f"{type(exc).__name__}: {exc}"
    return _raw_state["handle"]


# FFTW's planner is not thread-safe, and the OpenMP build of FFTW in pyFFTW's wheels makes
# fftw_make_planner_thread_safe a no-op. The compiled core has a planner mutex and two hook
# functions for it (sigconv.engine._native hands their addresses over with
# register_planner_hooks when it loads the core); they are installed in each precision at
# pyfftw's import, before any plan, so that every plan made in the process holds the mutex.
_hooks: dict = {}


def register_planner_hooks(lock: int, unlock: int, destroy_locked) -> None:
    """Addresses of the core's planner hook functions, and its ``destroy_locked(destroy
    address, plans)``; called by the engine when the core loads, before any plan."""
    _hooks.update(lock=lock, unlock=unlock, destroy_locked=destroy_locked)


def _thread_safe_planner() -> None:
    """Install the planner hooks (double, single, long double) right after pyfftw's import.
    Without them (no core, or no handle on FFTW's functions) pyFFTW's own planning lock is
    all there is, and the core's block loop is not used (``_raw_state["safe"]``)."""
    lib = _pyfftw_library()
    safe = set()
    if lib is not None and _hooks:
        for prefix in ("fftw", "fftwf", "fftwl"):
            try:
                fn = getattr(lib, f"{prefix}_set_planner_hooks")
            except AttributeError:
                continue
            fn.restype, fn.argtypes = None, [ctypes.c_void_p, ctypes.c_void_p]
            fn(_hooks["lock"], _hooks["unlock"])
            safe.add(prefix)
        if not {"fftw", "fftwf"} <= safe:
            _raw_state["error"] = "FFTW has no planner hooks (3.3.5 or later needed)"
    elif lib is not None:
        _raw_state["error"] = "the compiled core is not loaded"
    _raw_state["safe"] = safe


def _after_fork_in_child() -> None:
    """New locks in a forked child: a lock another thread of the parent held at the fork
    would never be released there (the core's planner mutex is renewed by the core)."""
    global _init_lock, _raw_lock
    _init_lock = threading.Lock()
    _raw_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _raw_fftw(dtype: np.dtype) -> _RawFFTW | None:
    """FFTW's functions for float32 or float64 transforms, or None where they cannot be
    reached (see :func:`_pyfftw_library` and :func:`_thread_safe_planner`); the reason is
    kept in ``_raw_state["error"]``."""
    prefix = "fftwf" if dtype == np.dtype(np.float32) else "fftw"
    if prefix in _raw_state:                  # found (or not) before: no lock per call
        return _raw_state[prefix]
    _fftw()
    with _raw_lock:
        if prefix not in _raw_state:
            lib = _pyfftw_library()
            _raw_state[prefix] = None
            if lib is not None and prefix in _raw_state.get("safe", ()):
                try:
                    _raw_state[prefix] = _RawFFTW(lib, prefix)
                except AttributeError as exc:
                    _raw_state["error"] = f"{type(exc).__name__}: {exc}"
        return _raw_state[prefix]


class BlockPlans:
    """FFTW's r2c plan of one block (``length`` points of ``lines`` interleaved real lines)
    and its c2r inverse, both out of place on 64-byte aligned buffers; destroyed with the
    object. ``addresses``: (forward, inverse, execute_r2c, execute_c2r) for the compiled
    core. ``from_wisdom``: both measured plans from saved wisdom (else estimated)."""

    __slots__ = ("_raw", "addresses", "forward", "from_wisdom", "inverse", "length", "lines")

    def __init__(self, raw: _RawFFTW, length: int, lines: int, real: np.dtype) -> None:
        self._raw, self.length, self.lines = raw, length, lines
        self.forward = self.inverse = None
        pyfftw = _fftw()
        F = length // 2 + 1
        buf = pyfftw.empty_aligned(length * lines, real, n=64)
        spec = pyfftw.empty_aligned(F * lines, np.result_type(real, np.complex64), n=64)
        n = (ctypes.c_int * 1)(length)
        args_f = (1, n, lines, buf.ctypes.data, None, lines, 1, spec.ctypes.data, None, lines, 1)
        args_i = (1, n, lines, spec.ctypes.data, None, lines, 1, buf.ctypes.data, None, lines, 1)
        self.from_wisdom = True
        # (the GIL stays held through each planner call: pyFFTW destroys plans with it)
        for flags in (_FFTW_MEASURE | _FFTW_WISDOM_ONLY | _FFTW_DESTROY_INPUT,
                      _FFTW_ESTIMATE | _FFTW_DESTROY_INPUT):
            raw.nthreads(1)
            if not self.forward:
                self.forward = raw.plan_r2c(*args_f, flags)
            if not self.inverse:
                self.inverse = raw.plan_c2r(*args_i, flags)
            if self.forward and self.inverse:
                break
            self.from_wisdom = False
        if not (self.forward and self.inverse):
            raise RuntimeError(f"FFTW could not plan {length}-point blocks of {lines} lines")
        self.addresses = (self.forward, self.inverse, raw.execute_r2c, raw.execute_c2r)

    def __del__(self) -> None:
        try:
            _hooks["destroy_locked"](self._raw.destroy_address,
                                     (self.forward or 0, self.inverse or 0))
        except Exception:  # noqa: BLE001, S110 - interpreter shutting down
            pass


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
