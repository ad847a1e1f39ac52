"""The flip-and-slide picture of a 1-D or 2-D convolution (from :func:`sigconv.steps`)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError, InputTypeError
from .._io import atomic_output
from .._steps import Index, Step, steps
from ._common import check_path
from ._mpl import pillow_writer, pyplot

_FORMATS = (".png", ".gif")
_PNG_POSITIONS = 4          # positions side by side in a .png when there are more than 5
_MAX_CELLS = 400            # 1-D: samples drawn (input, kernel hanging over both ends)
_MAX_GRID = 40              # 2-D: rows or columns drawn
_TEXT_1D = 32               # 1-D: values written beside the stems up to this many cells
_TEXT_2D = 14               # 2-D: values written in the cells up to this many per side
_MAX_FRAMES = 400           # .gif: frames (one per position)

_X, _K, _P, _Y, _HI = "tab:blue", "tab:orange", "tab:green", "0.25", "tab:red"
_WINDOW = "#fff3b0"         # the kernel's reach, shaded


def slide(in1: ArrayLike, in2: ArrayLike, path: str | os.PathLike, *,
          mode: str = "full", correlate: bool = False,
          positions: Iterable[Index] | None = None) -> str:
    """Draw the kernel sliding over the signal, as the convolution is worked by hand.

    1-D: for each position, the signal with the kernel's reach shaded, the kernel
    flipped (as given with ``correlate``) and placed there, the products that meet
    (their sum is the output), and the output so far. 2-D: the input grid with the
    window over it (the kernel's values written small in each cell, zero padding
    grey) and the output grid filled up to the cell that window makes.

    Parameters
    ----------
    in1, in2 : array_like
        Real 1-D or 2-D signal and kernel, as for :func:`sigconv.steps` (at most
        400 samples across in 1-D, 40 rows or columns across in 2-D, counting the
        kernel's overhang).
    path : str or os.PathLike
        ``.png``: a few positions side by side; ``.gif``: every position, animated
        (at most 400). Written atomically.
    mode : {'full', 'same', 'valid'}, optional
        Which outputs, as for :func:`sigconv.convolve`.
    correlate : bool, optional
        Slide the kernel as given (cross-correlation) instead of flipped.
    positions : iterable of int or tuple of int, optional
        The output positions drawn (PNG panels or GIF frames), in order. Default: all
        for a GIF, up to five spread over the output for a PNG.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    InputError
        An extension other than .png/.gif (the message names them), inputs
        :func:`sigconv.steps` refuses, inputs too large to draw, too many frames.
    InputTypeError
        Complex inputs.
    sigconv.MissingExtraError
        matplotlib is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from sigconv import plot
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = plot.slide([1, 2, 3], [2, 3, 4], os.path.join(d, "slide.png"))
    ...     os.path.getsize(out) > 0
    True
    """
    path = _check_path(path)
    gif = path.lower().endswith(".gif")
    x, h = np.asarray(in1), np.asarray(in2)
    if x.dtype.kind == "c" or h.dtype.kind == "c":
        raise InputTypeError("slide draws real data; draw the real and imaginary parts "
                             "separately")
    if x.ndim == h.ndim and x.ndim in (1, 2):
        _check_size(x.shape, h.shape)                # before listing the products
    everything = steps(x, h, mode, correlate)        # every other check on the inputs
    wanted = None if positions is None else list(positions)
    frames = (len(everything) if wanted is None else len(wanted)) if gif else 0
    if frames > _MAX_FRAMES:
        raise InputError(f"{frames} positions is more than {_MAX_FRAMES} frames; "
                         "pick some with positions=")
    out_shape = tuple(int(v) + 1 for v in np.max([_tup(s.index) for s in everything], 0))
    out = np.empty(out_shape, dtype=float)
    for s in everything:
        out[_tup(s.index)] = float(s.value)
    if wanted is None:
        shown = everything if gif else _spread(everything)
    else:
        shown = steps(x, h, mode, correlate, positions=wanted)
    if not shown:
        raise InputError("positions is empty; nothing to draw")
    order = {_tup(s.index): i for i, s in enumerate(everything)}
    k = h if correlate else h[tuple(slice(None, None, -1) for _ in range(h.ndim))]
    what = "correlation (kernel as given)" if correlate else "convolution (kernel flipped)"
    title = f"{what}, mode {mode}"
    draw = _draw_1d if x.ndim == 1 else _draw_2d
    ctx = _Context(x, k, out, order, everything, title)

    plt = pyplot()
    rows = 4 if x.ndim == 1 else 2
    cols = 1 if gif else len(shown)
    width = max(3.6, min(6.5, 0.32 * ctx.span_1d + 1.5)) if x.ndim == 1 else \
        max(3.4, 0.42 * ctx.span_2d + 1.0)
    height = 7.0 if x.ndim == 1 else 2 * (0.42 * ctx.span_2d + 0.9) + 0.6
    fig = plt.figure(figsize=(width * cols, height))
    try:
        if not gif:
            grid = _gridspec(fig, rows, cols)
            for c, s in enumerate(shown):
                draw(_axes(fig, [grid[r, c] for r in range(rows)], x.ndim), s, ctx)
            fig.suptitle(title)
            with atomic_output(path) as tmp:
                _name_errors(lambda: fig.savefig(tmp, format="png", dpi=100), path)
        else:
            _write_gif(fig, shown, draw, ctx, rows, path, title)
    finally:
        plt.close(fig)
    return path


class _Context:
    """What every panel of one picture shares (data ranges, so frames line up)."""

    def __init__(self, x, k, out, order, everything: list[Step], title: str):
        self.x, self.k, self.out, self.order, self.title = x, k, out, order, title
        origins = np.array([_tup(s.origin) for s in everything])
        lo = np.minimum(origins.min(0), 0)
        hi = np.maximum(origins.max(0) + np.array(k.shape) - 1, np.array(x.shape) - 1)
        self.lo, self.hi = lo, hi                   # input indices drawn, per axis
        self.span_1d = int(hi[0] - lo[0] + 1)
        self.span_2d = int(max(hi - lo + 1))
        finite = lambda a: a[np.isfinite(a)]        # noqa: E731
        self.xlim = _limits(finite(x.astype(float)))
        self.klim = _limits(finite(k.astype(float)))
        prods = [p[2] * p[3] for s in everything for p in s.pairs]
        self.plim = _limits(finite(np.array(prods, dtype=float)))
        self.ylim = _limits(finite(out.ravel()))


def _axes(fig, cells, ndim: int) -> list:
    """The axes of one position: 1-D signal, kernel, products (one x axis), output;
    2-D input grid, output grid."""
    first = fig.add_subplot(cells[0])
    rest = [fig.add_subplot(c, sharex=first if ndim == 1 and i < 2 else None)
            for i, c in enumerate(cells[1:])]
    return [first, *rest]


def _draw_1d(axes, s: Step, ctx: _Context) -> None:
    x, k = ctx.x, ctx.k
    n, m = x.shape[0], k.shape[0]
    lo, hi = int(ctx.lo[0]), int(ctx.hi[0])
    text = hi - lo + 1 <= _TEXT_1D
    a_x, a_k, a_p, a_y = axes
    o = s.origin
    for ax in (a_x, a_k, a_p, a_y):
        ax.xaxis.set_major_locator(pyplot().MaxNLocator(integer=True))
    for ax in (a_x, a_k, a_p):
        ax.axvspan(o - 0.5, o + m - 0.5, color=_WINDOW, zorder=0)
        ax.axhline(0, color="0.6", lw=0.8, zorder=1)
        ax.set_xlim(lo - 0.7, hi + 0.7)
    idx = np.arange(n)
    _stems(a_x, idx, x, _X, text)
    pad = [i for i in range(o, o + m) if i < 0 or i >= n]
    if pad:                                          # the zeros the kernel reaches
        a_x.plot(pad, np.zeros(len(pad)), "o", mfc="white", mec="0.55", ms=5, zorder=3)
    a_x.set_ylim(*ctx.xlim)
    a_x.set_ylabel("x", color=_X)
    a_x.set_title(f"y[{s.index}] = {_num(s.value)}" + ("  (valid)" if s.valid
                                                       else "  (uses zero padding)"),
                  fontsize=10, color=_HI)
    _stems(a_k, np.arange(o, o + m), k, _K, text)
    a_k.set_ylim(*ctx.klim)
    a_k.set_ylabel("h flipped" if ctx.title.startswith("conv") else "h", color=_K)
    if s.pairs:
        pi = np.array([p[0] for p in s.pairs])
        pv = np.array([float(p[2] * p[3]) for p in s.pairs])
        a_p.bar(pi, pv, width=0.7, color=_P, alpha=0.75, zorder=2)
        if text:
            for i, v in zip(pi, pv):
                _value_label(a_p, i, v, 3)
    a_p.set_ylim(*ctx.plim)
    a_p.set_ylabel("x * h", color=_P)
    a_p.set_xlabel("input index")
    a_p.text(0.02, 0.95, f"sum = {_num(s.value)}", transform=a_p.transAxes, va="top",
             fontsize=9, color=_HI)
    # the output so far
    done = [i for i, _ in sorted(ctx.order.items(), key=lambda kv: kv[1])
            if ctx.order[i] <= ctx.order[_tup(s.index)]]
    yi = np.array([i[0] for i in done])
    ny = ctx.out.shape[0]
    a_y.axhline(0, color="0.6", lw=0.8)
    a_y.plot(np.arange(ny), ctx.out, "o", mfc="none", mec="0.85", ms=4)   # still to come
    _stems(a_y, yi, ctx.out[yi], _Y, ny <= _TEXT_1D)
    a_y.plot([s.index], [float(s.value)], "o", color=_HI, ms=8, zorder=4)
    a_y.set_xlim(-0.7, ny - 0.3)
    a_y.set_ylim(*ctx.ylim)
    a_y.set_ylabel("y so far")
    a_y.set_xlabel("output index")


def _draw_2d(axes, s: Step, ctx: _Context) -> None:
    x, k = ctx.x, ctx.k
    (r0, c0), (r1, c1) = ctx.lo, ctx.hi
    text = max(r1 - r0, c1 - c0) + 1 <= _TEXT_2D
    a_x, a_y = axes
    o_r, o_c = s.origin
    m_r, m_c = k.shape
    # cell kinds: 0 padding, 1 input, 2 padding under the window, 3 input under the window
    kind = np.zeros((r1 - r0 + 1, c1 - c0 + 1), int)
    kind[-r0:-r0 + x.shape[0], -c0:-c0 + x.shape[1]] = 1
    kind[o_r - r0:o_r - r0 + m_r, o_c - c0:o_c - c0 + m_c] += 2
    cmap = _listed(["#e4e4e4", "white", "#ffd27f", _WINDOW])
    extent = (c0 - 0.5, c1 + 0.5, r1 + 0.5, r0 - 0.5)
    a_x.imshow(kind, cmap=cmap, vmin=-0.5, vmax=3.5, extent=extent, interpolation="nearest")
    _grid_lines(a_x, r0, r1, c0, c1)
    a_x.add_patch(_rect(o_c - 0.5, o_r - 0.5, m_c, m_r, _HI))
    a_x.add_patch(_rect(-0.5, -0.5, x.shape[1], x.shape[0], _X, lw=1.2))
    if text:
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                inside = 0 <= r < x.shape[0] and 0 <= c < x.shape[1]
                under = o_r <= r < o_r + m_r and o_c <= c < o_c + m_c
                if inside or under:      # padding cells get their 0 under the window only
                    a_x.text(c, r, _num(x[r, c]) if inside else "0", ha="center",
                             va="center", fontsize=9, color="black" if inside else "0.45")
                if under:
                    a_x.text(c + 0.42, r + 0.42, f"\u00d7{_num(k[r - o_r, c - o_c])}",
                             ha="right", va="bottom", fontsize=6.5, color=_HI)
    a_x.set_title(f"y[{s.index[0]},{s.index[1]}] = {_num(s.value)}"
                  + ("  (valid)" if s.valid else "  (zero padding)"), fontsize=10, color=_HI)
    a_x.set_xlabel("input column")
    a_x.set_ylabel("input row")
    # the output grid, filled up to this cell
    ny = ctx.out.shape
    now = ctx.order[_tup(s.index)]
    filled = np.zeros(ny, int)
    for i, n_ in ctx.order.items():
        filled[i] = 1 if n_ < now else 2 if n_ == now else 0
    a_y.imshow(filled, cmap=_listed(["white", "#cfe8cf", "#ffb3a7"]), vmin=-0.5, vmax=2.5,
               extent=(-0.5, ny[1] - 0.5, ny[0] - 0.5, -0.5), interpolation="nearest")
    _grid_lines(a_y, 0, ny[0] - 1, 0, ny[1] - 1)
    a_y.add_patch(_rect(s.index[1] - 0.5, s.index[0] - 0.5, 1, 1, _HI))
    if max(ny) <= _TEXT_2D:
        for i, n_ in ctx.order.items():
            if n_ <= now:
                a_y.text(i[1], i[0], _num(ctx.out[i]), ha="center", va="center", fontsize=9)
    a_y.set_xlim(-0.5, ny[1] - 0.5)
    a_y.set_ylim(ny[0] - 0.5, -0.5)
    a_y.set_xlabel("output column")
    a_y.set_ylabel("output row")
    a_y.set_title("y so far", fontsize=10)


def _write_gif(fig, shown, draw, ctx, rows, path, title) -> None:
    writer = pillow_writer(fps=1.5)
    grid = _gridspec(fig, rows, 1)
    axes = _axes(fig, [grid[r, 0] for r in range(rows)], ctx.x.ndim)
    fig.suptitle(title, fontsize=10)
    with atomic_output(path) as tmp:
        writer.setup(fig, tmp, dpi=90)
        for s in shown:
            for ax in axes:
                ax.cla()
            draw(axes, s, ctx)
            writer.grab_frame()
        _name_errors(writer.finish, path)


def _gridspec(fig, rows: int, cols: int):
    """Panels with fixed margins in inches (matplotlib's constrained layout would take
    half the drawing time, and its result differs little for these simple panels)."""
    w, h = fig.get_size_inches()
    return fig.add_gridspec(rows, cols, left=0.75 / w, right=1 - 0.2 / w,
                            bottom=0.5 / h, top=1 - 0.75 / h,
                            wspace=0.9 / (w / cols - 0.9), hspace=0.75 / (h / rows - 0.75))


def _check_path(path) -> str:
    """A .png or .gif path (else InputError naming them), with matplotlib present."""
    return check_path(path, _FORMATS)


def _name_errors(fn, path) -> None:
    try:
        fn()
    except OSError as exc:      # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None


def _check_size(s1, s2) -> None:
    spans = [n + 2 * (m - 1) for n, m in zip(s1, s2)]
    most = _MAX_CELLS if len(s1) == 1 else _MAX_GRID
    if max(spans) > most:
        raise InputError(f"inputs of shapes {tuple(s1)} and {tuple(s2)} are too large to "
                         f"draw ({max(spans)} cells across with the kernel's overhang; "
                         f"at most {most})")


def _spread(everything: list[Step]) -> list[Step]:
    if len(everything) <= _PNG_POSITIONS + 1:
        return everything
    picks = np.unique(np.linspace(0, len(everything) - 1, _PNG_POSITIONS).round().astype(int))
    return [everything[i] for i in picks]


def _stems(ax, idx, values, color, text: bool) -> None:
    values = np.asarray(values, dtype=float)
    if len(idx) == 0:
        return
    ax.vlines(idx, 0, values, color=color, lw=1.6, zorder=2)
    ax.plot(idx, values, "o", color=color, ms=4.5, zorder=3)
    if text:
        for i, v in zip(idx, values):
            _value_label(ax, i, v, 4)


def _value_label(ax, i, v, gap: float) -> None:
    """The value above (below, if negative) its stem or bar; labels longer than four
    characters in smaller type, so that neighbours one index apart do not run together."""
    text = _num(v)
    ax.annotate(text, (i, v), xytext=(0, gap if v >= 0 else -gap),
                textcoords="offset points", ha="center", va="bottom" if v >= 0 else "top",
                fontsize=7 if len(text) <= 4 else 5.5)


def _limits(values: np.ndarray) -> tuple[float, float]:
    """y-limits holding 0 and every value, with room for the labels."""
    if values.size == 0:
        return -1.0, 1.0
    lo, hi = min(0.0, float(values.min())), max(0.0, float(values.max()))
    if hi == lo:
        hi = lo + 1.0
    pad = 0.22 * (hi - lo)
    return lo - (pad if lo < 0 else 0.05 * (hi - lo)), hi + (pad if hi > 0 else 0.05 * (hi - lo))


def _grid_lines(ax, r0, r1, c0, c1) -> None:
    """Cell borders over rows r0..r1 and columns c0..c1, and a tick per cell."""
    ax.set_xticks(np.arange(c0, c1 + 1))
    ax.set_yticks(np.arange(r0, r1 + 1))
    ax.hlines(np.arange(r0, r1 + 2) - 0.5, c0 - 0.5, c1 + 0.5, color="0.7", lw=0.6)
    ax.vlines(np.arange(c0, c1 + 2) - 0.5, r0 - 0.5, r1 + 0.5, color="0.7", lw=0.6)
    ax.tick_params(length=0, labelsize=7)


def _rect(x, y, w, h, color, lw=2.2):
    return pyplot().Rectangle((x, y), w, h, fill=False, edgecolor=color, lw=lw, zorder=5)


def _listed(colors):
    return pyplot().matplotlib.colors.ListedColormap(colors)


def _tup(i) -> tuple[int, ...]:
    return i if isinstance(i, tuple) else (i,)


def _num(v) -> str:
    v = float(v) if not isinstance(v, (int, np.integer)) else int(v)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.3g}" if isinstance(v, float) else str(v)
