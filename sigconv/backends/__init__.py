"""FFT backends: pyFFTW (FFTW) when it imports, scipy.fft otherwise.

``get_backend(None)`` returns the default backend; ``get_backend("scipy")`` or
``get_backend("pyfftw")`` a named one. ``set_default_backend`` changes the default
for the process, ``clear_plan_cache`` drops every cached plan and buffer.
"""

from __future__ import annotations

import threading

from .._errors import InputError
from ._base import PlanKey, default_workers
from ._cache import PLANS
from ._scipy import ScipyBackend

__all__ = ["PlanKey", "available_backends", "clear_plan_cache", "default_workers",
           "get_backend", "plan_cache_stats", "set_default_backend"]

_lock = threading.Lock()
_backends: dict[str, object] = {"scipy": ScipyBackend()}
_state = {"default": None, "pyfftw_error": None}


def _load_pyfftw():
    if "pyfftw" in _backends:
        return _backends["pyfftw"]
    if _state["pyfftw_error"] is not None:
        return None
    try:
        from ._pyfftw import PyFFTWBackend, load_wisdom
    except Exception as exc:  # noqa: BLE001 - absent or broken FFTW build: fall back
        _state["pyfftw_error"] = f"{type(exc).__name__}: {exc}"
        return None
    backend = PyFFTWBackend()
    from .._profile import wisdom_path
    load_wisdom(wisdom_path())
    _backends["pyfftw"] = backend
    return backend


def available_backends() -> list[str]:
    """Names of the backends that work here, the default first."""
    with _lock:
        names = ["pyfftw"] if _load_pyfftw() is not None else []
    return names + ["scipy"]


def get_backend(name=None):
    """The backend called ``name``, or the default one for ``None``; a backend object passes."""
    if name is not None and not isinstance(name, str):
        return name
    with _lock:
        if name is None:
            name = _state["default"]
            if name is None:
                name = "pyfftw" if _load_pyfftw() is not None else "scipy"
        if name == "pyfftw":
            backend = _load_pyfftw()
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
        _load_pyfftw()
        return _state["pyfftw_error"]


def clear_plan_cache() -> None:
    """Drop every cached FFT plan and work buffer."""
    PLANS.clear()


def plan_cache_stats() -> dict[str, int]:
    return PLANS.stats()
