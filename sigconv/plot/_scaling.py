"""The O(n log n) picture: measured time against size for each method, log-log."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from .._errors import InputError, InputTypeError
from ._common import check_path, save
from ._mpl import pyplot

_STYLE = {"direct": ("direct", "tab:blue", "o"),
          "oa": ("overlap-add", "tab:green", "s"),
          "fft": ("FFT", "tab:red", "^")}


def scaling(results, path: str | os.PathLike, *, title: str | None = None) -> str:
    """Draw measured convolution times against size, log-log, and write them to ``path``.

    One panel per sweep: a line per method (direct, overlap-add, FFT), a ring on the
    point of the method ``method="auto"`` picks at each size, dotted lines where that
    choice changes, and grey guides of slope ``n**2``, ``n`` and ``n log n`` so the
    growth of each method reads at a glance.

    Parameters
    ----------
    results : Scaling or sequence of Scaling
        Sweeps from :func:`sigconv.engine.measure_scaling` (the measurement lives in
        the engine; this function only draws).
    path : str or os.PathLike
        The picture, ``.png``, ``.svg`` or ``.pdf``; written atomically.
    title : str, optional
        Title of the figure.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> from sigconv import plot
    >>> from sigconv.engine import measure_scaling
    >>> run = measure_scaling([16, 64, 256], cap=0.01)
    >>> out = plot.scaling(run, os.path.join(tempfile.mkdtemp(), "scaling.png"))
    >>> os.path.getsize(out) > 10_000
    True
    """
    check_path(path)                  # before drawing: a bad name fails fast
    return save(_figure(results, title=title), path)


def _runs(results) -> list:
    runs = list(results) if isinstance(results, Sequence) else [results]
    if not runs:
        raise InputError("no scaling results to draw")
    for r in runs:
        if not all(hasattr(r, a) for a in ("sizes", "kernel", "seconds", "chosen")):
            raise InputTypeError(f"results must be Scaling objects from "
                                 f"sigconv.engine.measure_scaling, not {type(r).__name__}")
    return runs


def _figure(results, *, title=None):
    """The Figure :func:`scaling` saves (tests look at its artists)."""
    runs = _runs(results)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(runs), figsize=(6.6 * len(runs), 5.6), squeeze=False,
                             layout="constrained")
    r0 = runs[0]
    fig.suptitle((title or "convolution time against size: direct grows as n·m, the FFT "
                  "as n log n") + f"\nmeasured on this machine: FFT backend {r0.backend}, "
                 f"{r0.workers} thread(s), {os.cpu_count()} CPU(s); best of 3 timed runs "
                 "per point", fontsize=12)
    for ax, run in zip(axes[0], runs):
        _panel(ax, run)
    return fig


def _panel(ax, run) -> None:
    n = np.asarray(run.sizes, dtype=float)
    for method, (label, colour, marker) in _STYLE.items():
        t = np.asarray(run.seconds.get(method, [math.nan] * n.size), dtype=float)
        ok = np.isfinite(t)
        if ok.any():
            ax.plot(n[ok], t[ok] * 1e3, marker=marker, color=colour, lw=1.8, ms=5,
                    label=label)
    # The planner's choice: a ring on the chosen method's point at each size.
    ringed = False
    for i, method in enumerate(run.chosen):
        t = run.seconds.get(method, [math.nan] * n.size)[i]
        if math.isfinite(t):
            ax.plot(n[i], t * 1e3, "o", ms=13, mfc="none", mec="black", mew=1.6,
                    label=None if ringed else "auto's choice (planner)")
            ringed = True
    for i in range(1, len(run.chosen)):
        if run.chosen[i] != run.chosen[i - 1]:
            x = math.sqrt(n[i - 1] * n[i])
            ax.axvline(x, color="0.3", ls=":", lw=1)
            ax.text(x, 0.98, f"auto switches\n{_STYLE[run.chosen[i - 1]][0]} → "
                    f"{_STYLE[run.chosen[i]][0]}\nat n ≈ {x:,.0f} ",
                    transform=ax.get_xaxis_transform(), fontsize=8.5, color="0.2",
                    ha="right", va="top")
    measured = np.array([v for t in run.seconds.values() for v in t], dtype=float) * 1e3
    measured = measured[np.isfinite(measured) & (measured > 0)]
    _guides(ax, run, n)
    if measured.size:
        ax.set_ylim(measured.min() / 2.5, measured.max() * 2.5)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    if run.kernel is None:
        ax.set_title("kernel as long as the signal (m = n)")
        ax.set_xlabel("n = signal length = kernel length (samples)")
    else:
        ax.set_title(f"kernel of {run.kernel} taps, signal of n samples")
        ax.set_xlabel("n = signal length (samples)")
    ax.set_ylabel("time per convolution (ms)")
    ax.grid(which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=9)


def _guides(ax, run, n: np.ndarray) -> None:
    """Grey reference slopes anchored on the largest measured point of a method:
    n**2 (or n for a fixed kernel) on direct, n log n on the FFT."""
    m = n if run.kernel is None else np.full_like(n, float(run.kernel))
    shapes = {"direct": (n * m, "∝ n²" if run.kernel is None else "∝ n"),
              "fft": (n * np.log2(n + m), "∝ n log n")}
    for (method, (shape, label)), below in zip(shapes.items(), (False, True)):
        t = np.asarray(run.seconds.get(method, []), dtype=float)
        ok = np.flatnonzero(np.isfinite(t))
        if ok.size < 2:
            continue
        last = ok[-1]
        guide = shape / shape[last] * t[last] * 1e3
        ax.plot(n, guide, "--", color="0.55", lw=1, zorder=0)
        ax.annotate(label, (n[last], guide[last]), xytext=(8, -10 if below else 10),
                    textcoords="offset points", fontsize=10, color="0.3", ha="left",
                    va="top" if below else "bottom")
