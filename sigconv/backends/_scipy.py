"""The scipy.fft (pocketfft) backend: always available, the fallback for pyFFTW."""

from __future__ import annotations

import importlib

import numpy as np

from ._base import PlanKey, buffer_shapes, complex_of
from ._cache import PLANS


class _ScipyPlan:
    __slots__ = ("_run", "input")

    def __init__(self, key: PlanKey):
        in_shape, _ = buffer_shapes(key.kind, key.shape, key.axes)
        in_dtype = complex_of(key.dtype) if key.kind == "c2r" else np.dtype(key.dtype)
        self.input = np.empty(in_shape, in_dtype)
        sp_fft = importlib.import_module("scipy.fft")   # lazily: 0.4 s unused with pyFFTW
        axes, w, shape = key.axes, key.workers, key.shape
        s = [shape[a] for a in axes]
        if key.kind == "r2c":
            self._run = lambda x: sp_fft.rfftn(x, axes=axes, workers=w, overwrite_x=True)
        elif key.kind == "c2r":
            self._run = lambda x: sp_fft.irfftn(x, s=s, axes=axes, workers=w,
                                                norm="forward", overwrite_x=True)
        elif key.kind == "c2c":
            self._run = lambda x: sp_fft.fftn(x, axes=axes, workers=w, overwrite_x=True)
        else:
            self._run = lambda x: sp_fft.ifftn(x, axes=axes, workers=w,
                                               norm="forward", overwrite_x=True)

    def execute(self) -> np.ndarray:
        return self._run(self.input)

    def execute_fresh(self) -> np.ndarray:
        """The transform in an array the caller may keep (not the input buffer, which an
        in-place complex transform may hand back)."""
        out = self._run(self.input)
        return out.copy() if np.may_share_memory(out, self.input) else out


class ScipyBackend:
    """FFTs through ``scipy.fft``; plans here are just cached input buffers."""

    name = "scipy"
    supports_longdouble = True

    def next_fast_len(self, n: int, real: bool = True) -> int:
        return importlib.import_module("scipy.fft").next_fast_len(int(n), real=real)

    def build(self, key: PlanKey) -> tuple[_ScipyPlan, int]:
        """A new, uncached plan for ``key`` and the bytes its buffer holds."""
        p = _ScipyPlan(key)
        return p, p.input.nbytes

    def plan(self, key: PlanKey) -> _ScipyPlan:
        return PLANS.get(("scipy", key), lambda: self.build(key))

    def describe(self) -> str:
        return f"scipy.fft (pocketfft) from scipy {__import__('scipy').__version__}"
