"""FFT backends: pyFFTW (FFTW) when it imports, scipy.fft otherwise.

pyfftw is imported at the first transform planned, not before: the default backend is
pyFFTW when the package is installed, and a build that then fails to import hands that
plan and every later one to scipy.fft (``pyfftw_error`` says why).

``get_backend(None)`` returns the default backend; ``get_backend("scipy")`` or
``get_backend("pyfftw")`` a named one. ``set_default_backend`` changes the default
for the process, ``clear_plan_cache`` drops every cached plan and buffer (and the freed
output memory kept for reuse).
"""

from __future__ import annotations

import importlib.util
import threading

import numpy as np

from .._errors import InputError
from ._base import PlanKey, default_workers
from ._cache import BLOCK_MIN_BYTES, BLOCKS, PLANS
from ._scipy import ScipyBackend

__all__ = ["PlanKey", "available_backends", "clear_plan_cache", "default_workers",
           "get_backend", "kept_output_stats", "owned_plan", "plan_cache_stats",
           "set_default_backend"]

_lock = threading.Lock()
_backends: dict[str, object] = {"scipy": ScipyBackend()}
_state = {"default": None, "pyfftw_error": None}


def _load_pyfftw(imported: bool = False):
    """The pyFFTW backend, or None (and why in ``_state``) where pyfftw is missing.

    pyfftw itself is imported on the backend's first plan, not here (it costs 0.3-0.6 s,
    and most image filters plan no transform): here it only has to be installed, unless
    ``imported``, which imports it now and catches a broken build too.
    """
    if _state["pyfftw_error"] is not None:
        return None
    if "pyfftw" not in _backends:
        if importlib.util.find_spec("pyfftw") is None:
            _state["pyfftw_error"] = "ModuleNotFoundError: No module named 'pyfftw'"
            return None
        from ._pyfftw import PyFFTWBackend
        _backends["pyfftw"] = PyFFTWBackend()
    if imported:
        from ._pyfftw import _fftw
        try:
            _fftw()
        except Exception as exc:  # noqa: BLE001 - broken FFTW build: fall back
            _broken(exc)
            return None
    return _backends["pyfftw"]


def _broken(exc: BaseException) -> None:
    """pyfftw is installed but failed to import: scipy.fft from now on."""
    _state["pyfftw_error"] = f"{type(exc).__name__}: {exc}"
    _backends.pop("pyfftw", None)


def available_backends() -> list[str]:
    """Names of the backends that work here, the default first."""
    with _lock:
        names = ["pyfftw"] if _load_pyfftw(imported=True) is not None else []
    return names + ["scipy"]


def get_backend(name=None):
    """The backend called ``name``, or the default one for ``None``; a backend object passes."""
    if name is not None and not isinstance(name, str):
        return name
    with _lock:
        if name is None:
            name = _state["default"]
            if name is None:        # pyfftw if installed (imported at its first plan)
                default = _load_pyfftw()
                return default if default is not None else _backends["scipy"]
        if name == "pyfftw":        # asked for by name: imported now, errors told now
            backend = _load_pyfftw(imported=True)
            if backend is None:
                raise InputError(f"backend 'pyfftw' is not available ({_state['pyfftw_error']})")
            return backend
        if name == "scipy":
            return _backends["scipy"]
    raise InputError(f"backend must be one of ['pyfftw', 'scipy'], not {name!r}")


def set_default_backend(name: str | None) -> None:
    """Make ``name`` the process-wide default (``None``: pyfftw if available)."""
    if name is not None:
        get_backend(name)
    with _lock:
        _state["default"] = name


def pyfftw_error() -> str | None:
    """Why pyFFTW could not be used, or None."""
    with _lock:
        _load_pyfftw(imported=True)
        return _state["pyfftw_error"]


def clear_plan_cache() -> None:
    """Drop every cached FFT plan and work buffer, and the freed output blocks kept for
    reuse (:data:`sigconv.backends._cache.BLOCKS`)."""
    PLANS.clear()
    BLOCKS.clear()


def plan_cache_stats() -> dict[str, int]:
    return PLANS.stats()


def kept_output_stats() -> dict[str, int]:
    """The freed output memory kept for reuse: blocks and bytes kept now, their bounds,
    blocks lent again so far, and ``min_bytes``, the output size from which outputs
    are lent from it (see :func:`clear_plan_cache` to free it)."""
    return {**BLOCKS.stats(), "min_bytes": BLOCK_MIN_BYTES}


def owned_plan(kind: str, shape: tuple[int, ...], dtype, *, backend=None):
    """A transform plan over the last axis whose buffers belong to the caller alone.

    Unlike the engine's plans it is not put in the shared cache: nothing else writes its
    buffers and it is never evicted, so a caller that keeps it (a real-time convolver)
    can fill ``plan.input`` in place and call ``plan.execute()`` on every block. With
    pyFFTW the transform lands in the fixed array ``plan.output`` (the same array every
    call: no memory allocated per call); with the scipy.fft fallback ``execute()``
    returns a new array per call (allocation-free execution is not possible there, as
    scipy.fft takes no ``out=``). Inverse transforms are unnormalised, as everywhere in
    the backends.

    Parameters
    ----------
    kind : {"r2c", "c2r"}
        Real to half spectrum, or back. ``shape`` is the real array's shape in both cases.
    shape : tuple of int
        Shape of the real array; the transform runs over the last axis, one per row.
    dtype : dtype
        float32 or float64 (the real side).
    backend : str, optional
        ``"pyfftw"``, ``"scipy"`` or None for the default.

    Returns
    -------
    plan
        With ``input`` (fill it in place) and ``execute()`` (returns the transform).

    Examples
    --------
    >>> import numpy as np
    >>> p = owned_plan("r2c", (1, 8), np.float64)
    >>> p.input[:] = 1.0
    >>> float(np.round(p.execute()[0, 0].real, 9))
    8.0
    """
    if kind not in ("r2c", "c2r"):
        raise InputError(f"kind must be 'r2c' or 'c2r', not {kind!r}")
    real = np.dtype(dtype)
    if real not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, not {real.name!r}")
    shape = tuple(int(n) for n in shape)
    key = PlanKey(kind, shape, real.name, (len(shape) - 1,), 1, "owned")
    plan, _ = get_backend(backend).build(key)
    return plan
