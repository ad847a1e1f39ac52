"""Pictures of convolutions, with matplotlib (the optional extra ``sigconv[plot]``).

Every function here reads public results (arrays, :class:`sigconv.Plan`,
:func:`sigconv.steps`) and writes one picture file; nothing in the library imports
this package, and matplotlib is imported by :mod:`sigconv.plot._mpl` alone, at the
first picture drawn. Without matplotlib, drawing raises
:class:`sigconv.MissingExtraError` naming the extra to install.

Functions (each in its own private module, loaded when first used):

- :func:`slide`: the flip-and-slide picture of a 1-D or 2-D convolution;
  ``.png`` shows a few positions side by side, ``.gif`` animates every one.
- :func:`audio`: dry and wet waveforms, their spectrograms, the impulse response
  and its energy decay curve with the RT60 estimate; :func:`audio_files` draws
  the same from audio files (what ``sigconv reverb --plot`` and ``echo --plot`` do).
- :func:`image_filter`: before | kernel | after.
- :func:`scaling`: measured time against size for each method, log-log, with the
  planner's choice marked (the timings come from
  :func:`sigconv.engine.measure_scaling`).
- :func:`check_path`: whether a picture can be written there (extension in
  :data:`FORMATS`, matplotlib installed), checked before any work.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "slide": "_slide",
    "audio": "_audio",
    "audio_files": "_audio",
    "FORMATS": "_common",
    "check_path": "_common",
    "image_filter": "_image",
    "scaling": "_scaling",
}

__all__ = ["FORMATS", "audio", "audio_files", "check_path", "image_filter", "scaling", "slide"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'sigconv.plot' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
