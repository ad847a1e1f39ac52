"""The picture of an image filter: before | kernel | after."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._errors import InputError, InputTypeError
from ._common import check_path, save
from ._mpl import pyplot

# Kernels up to this many rows and columns get their values written in the cells.
_TEXT_MAX = 9
# Images are averaged down in whole blocks until their larger side is at most this.
_SHOWN_MAX = 1200


def image_filter(before: ArrayLike, kernel, after: ArrayLike, path: str | os.PathLike, *,
                 title: str | None = None,
                 kernel_titles: Sequence[str] | str | None = None) -> str:
    """Draw an image before and after a filter, with the kernel between, to ``path``.

    The kernel is a heat map (a diverging colour map centred on 0 when it has both
    signs) with a colour bar, and its values written in the cells when it is at most
    9 x 9. Several kernels (Sobel x and y, say) are drawn one above the other.

    Images are drawn faithfully to their type, and each panel's subtitle says how:
    8- and 16-bit integers over their full range (0..255, 0..65535), float images as
    0 (black) .. 1 (white) when their values lie in [0, 1], else from the smallest to
    the largest finite value of the two images together (one scale for both, so
    before and after compare); other integer types likewise from their smallest to
    their largest value. Alpha is drawn over a grey checkerboard.

    Parameters
    ----------
    before, after : array_like
        ``(H, W)`` gray, ``(H, W, 2)`` gray + alpha, ``(H, W, 3)`` RGB or ``(H, W, 4)``
        RGBA images of any real dtype (as :func:`sigconv.image.read` returns); the two
        need not have the same size.
    kernel : array_like, sequence of array_like, or mapping of str to array_like
        One 1-D or 2-D kernel (nested lists are one kernel), a list or tuple of NumPy
        arrays (several kernels), or ``{title: kernel}``.
    path : str or os.PathLike
        The picture, ``.png``, ``.svg`` or ``.pdf``; written atomically.
    title : str, optional
        Title of the figure.
    kernel_titles : str or sequence of str, optional
        Titles of the kernel panels (default "kernel", or the mapping's keys).

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    InputError, InputTypeError
        Images or kernels of the wrong shape or type, a bad path.
    sigconv.MissingExtraError
        matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sigconv import image, plot
    >>> img = np.zeros((32, 32), np.uint8); img[8:24, 8:24] = 200
    >>> out = plot.image_filter(img, image.BOX3, image.filter(img, image.BOX3),
    ...                         os.path.join(tempfile.mkdtemp(), "box.png"))
    >>> os.path.getsize(out) > 5_000
    True
    """
    check_path(path)                  # before drawing: a bad name fails fast
    fig = _figure(before, kernel, after, title=title, kernel_titles=kernel_titles)
    return save(fig, path)


# --------------------------------------------------------------------------- building


def _kernels(kernel, kernel_titles) -> list[tuple[str, np.ndarray]]:
    if isinstance(kernel, Mapping):
        names, arrays = list(kernel.keys()), list(kernel.values())
    elif isinstance(kernel, (list, tuple)) and kernel and \
            all(isinstance(k, np.ndarray) for k in kernel):
        names, arrays = None, list(kernel)
    else:
        names, arrays = None, [kernel]
    if isinstance(kernel_titles, str):
        kernel_titles = [kernel_titles]
    if kernel_titles is not None:
        names = list(kernel_titles)
        if len(names) != len(arrays):
            raise InputError(f"{len(names)} kernel titles for {len(arrays)} kernels")
    if names is None:
        names = ["kernel"] if len(arrays) == 1 else [f"kernel {i + 1}" for i in
                                                     range(len(arrays))]
    out = []
    for name, k in zip(names, arrays):
        a = np.asarray(k)
        if a.dtype.kind not in "biuf":
            raise InputTypeError(f"kernel {name!r} must hold real numbers, not dtype "
                                 f"{a.dtype.name!r}")
        if a.ndim == 1:
            a = a[np.newaxis, :]
        if a.ndim != 2 or a.size == 0:
            raise InputError(f"kernel {name!r} must be a non-empty 1-D or 2-D array, "
                             f"not shape {a.shape}")
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise InputError(f"kernel {name!r} contains NaN or infinity")
        out.append((str(name), a))
    return out


def _check_image(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "buif":
        raise InputTypeError(f"{name} image must hold real numbers, not dtype "
                             f"{a.dtype.name!r}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 2, 3, 4))) or a.size == 0:
        raise InputError(f"{name} image must be (H, W) or (H, W, C) with C in 1..4, "
                         f"not shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return a


def _colour_part(a: np.ndarray) -> np.ndarray:
    return a if a.ndim == 2 or a.shape[2] == 3 else a[..., :-1] if a.shape[2] in (2, 4) \
        else a


def _scale(images: list[np.ndarray]) -> tuple[float, float, str]:
    """(black, white, words): the display range of images of one kind, and its words."""
    kinds = {a.dtype.kind for a in images}
    dtypes = {a.dtype for a in images}
    if kinds == {"b"}:
        return 0.0, 1.0, "False black, True white"
    if len(dtypes) == 1 and next(iter(dtypes)) in (np.dtype(np.uint8), np.dtype(np.uint16)):
        top = float(np.iinfo(next(iter(dtypes))).max)
        return 0.0, top, f"0..{top:.0f} as black..white"
    lo, hi = np.inf, -np.inf
    for a in images:
        c = _colour_part(a).astype(np.float64)
        c = c[np.isfinite(c)]
        if c.size:
            lo, hi = min(lo, float(c.min())), max(hi, float(c.max()))
    if not np.isfinite(lo):
        return 0.0, 1.0, "no finite values"
    if kinds <= {"f"} and lo >= 0 and hi <= 1:
        return 0.0, 1.0, "0..1 as black..white"
    if hi == lo:
        hi = lo + 1
    return lo, hi, f"scaled: {lo:.4g} black .. {hi:.4g} white"


def _display(a: np.ndarray, lo: float, hi: float,
             most: int = _SHOWN_MAX) -> tuple[np.ndarray, bool]:
    """Float RGB(A) in [0, 1] (gray as (H, W)), averaged down to at most ``most``
    pixels a side (see :func:`_shrink`), and whether it has alpha."""
    alpha = a.ndim == 3 and a.shape[2] in (2, 4)
    k = -(-max(a.shape[:2]) // most)
    work = np.float32 if k > 1 else np.float64      # a big image: half the memory
    colour = _colour_part(a).astype(work)
    opacity = None
    if alpha:
        top = 1.0 if a.dtype.kind in "fb" else float(np.iinfo(a.dtype).max) \
            if a.dtype.kind in "ui" and a.dtype.itemsize <= 2 else \
            float(max(a[..., -1].max(), 1))
        opacity = np.clip(a[..., -1].astype(work) / top, 0.0, 1.0)
    if k > 1:
        colour, opacity = _shrink(colour, opacity, k)
    colour = np.clip((colour.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    if opacity is None:
        return colour, False
    if colour.ndim == 2:
        colour = np.repeat(colour[..., None], 3, axis=2)
    return np.concatenate([colour, opacity[..., None].astype(np.float64)], axis=2), True


def _shrink(colour: np.ndarray, opacity: np.ndarray | None,
            k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Means of ``k x k`` blocks (the last partial row and column of blocks dropped).
    The panels are about 500 pixels wide, so nothing visible is lost, and a 4K image
    draws in a fraction of the time. With alpha, the colour is averaged premultiplied,
    so transparent pixels do not tint their block; NaN pixels are left out."""
    h, w = colour.shape[0] // k * k, colour.shape[1] // k * k
    if h == 0 or w == 0:
        return colour, opacity

    def blocks(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].reshape(h // k, k, w // k, k, *x.shape[2:])

    def mean(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN blocks stay NaN
            return np.nanmean(x, axis=(1, 3)) if np.isnan(x).any() else x.mean(axis=(1, 3))

    if opacity is None:
        return mean(blocks(colour)), None
    o = blocks(opacity)
    o_mean = o.mean(axis=(1, 3))
    weight = o if colour.ndim == 2 else o[..., None]
    summed = mean(blocks(colour) * weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = o_mean if colour.ndim == 2 else o_mean[..., None]
        return np.where(scale > 0, summed / scale, 0.0), o_mean


def _describe(a: np.ndarray) -> str:
    kind = "gray" if a.ndim == 2 else {2: "gray+alpha", 3: "RGB", 4: "RGBA"}[a.shape[2]]
    return f"{a.shape[1]}x{a.shape[0]} {kind} {a.dtype.name}"


def _figure(before, kernel, after, *, title=None, kernel_titles=None):
    """The Figure :func:`image_filter` saves (tests look at its artists)."""
    b = _check_image(before, "before")
    a = _check_image(after, "after")
    kernels = _kernels(kernel, kernel_titles)
    plt = pyplot()
    if b.dtype == a.dtype or (b.dtype.kind == "f" and a.dtype.kind == "f"):
        lo, hi, words = _scale([b, a])
        scales = [(lo, hi, words)] * 2
    else:
        scales = [_scale([b]), _scale([a])]
    aspect = b.shape[1] / b.shape[0]
    width_img = 4.6
    fig = plt.figure(figsize=(2 * width_img + 3.4, max(3.6, width_img / aspect + 1.2),),
                     layout="constrained")
    grid = fig.add_gridspec(1, 3, width_ratios=[width_img, 3.0, width_img])
    if title:
        fig.suptitle(title, fontsize=14, fontweight="bold")
    for column, img, label, (lo, hi, words) in ((0, b, "before", scales[0]),
                                                (2, a, "after", scales[1])):
        ax = fig.add_subplot(grid[0, column])
        shown, has_alpha = _display(img, lo, hi)
        if has_alpha:
            _checkerboard(ax, img.shape[:2])
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1,
                  interpolation="nearest" if max(img.shape[:2]) <= 400 else "antialiased",
                  extent=(-0.5, img.shape[1] - 0.5, img.shape[0] - 0.5, -0.5))
        ax.set_title(f"{label}\n{_describe(img)}, {words}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    sub = grid[0, 1].subgridspec(len(kernels), 1)
    for i, (name, k) in enumerate(kernels):
        _kernel_panel(fig, fig.add_subplot(sub[i, 0]), name, k, len(kernels))
    return fig


def _checkerboard(ax, shape: tuple[int, int]) -> None:
    """Grey squares behind a transparent image, about 12 across its shorter side."""
    h, w = shape
    cell = max(4, min(h, w) // 12)
    yy, xx = np.indices((-(-h // cell), -(-w // cell)))
    board = np.where((yy + xx) % 2, 0.85, 0.6)
    ax.imshow(board, cmap="gray", vmin=0, vmax=1, interpolation="nearest",
              extent=(-0.5, board.shape[1] * cell - 0.5, board.shape[0] * cell - 0.5, -0.5))


def _kernel_panel(fig, ax, name: str, k: np.ndarray, stacked: int = 1) -> None:
    top = float(np.abs(k).max()) or 1.0
    signed = k.min() < 0 < k.max() or k.max() <= 0
    if signed:
        cmap, vmin, vmax = "RdBu_r", -top, top
    else:
        cmap, vmin, vmax = "viridis", 0.0, top
    extent = (-0.5 - k.shape[1] // 2, k.shape[1] - 0.5 - k.shape[1] // 2,
              k.shape[0] - 0.5 - k.shape[0] // 2, -0.5 - k.shape[0] // 2)
    im = ax.imshow(k, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", extent=extent)
    note = ""
    if max(k.shape) <= _TEXT_MAX:
        texts, denominator = _cell_texts(k)
        # About 2 inches of width for the cells, and the figure's height less the
        # titles shared by the kernels stacked: the font fills a cell's width with its
        # longest text, up to 12 points; below 6 points the numbers are left out.
        height = (fig.get_figheight() - 0.8) / stacked - 0.8
        cell = 72 * min(2.0 / k.shape[1], height / k.shape[0])
        longest = max(len(t) for t in texts.flat)
        size = min(12.0, cell / (0.62 * longest + 0.6))
        if size < 6.0:
            texts = np.full(k.shape, "")
        elif denominator > 1:
            note = f", cells x 1/{denominator}"
        colours = im.cmap(im.norm(k))
        for (r, c), text in np.ndenumerate(texts):
            light = colours[r, c, :3] @ np.array([0.299, 0.587, 0.114]) > 0.55
            ax.text(c - k.shape[1] // 2, r - k.shape[0] // 2, text, ha="center",
                    va="center", fontsize=size, color="black" if light else "white")
    ax.set_title(f"{name}\n{k.shape[0]}x{k.shape[1]}, sum {k.sum():.3g}{note}", fontsize=10)
    ax.set_xlabel("column offset", fontsize=9)
    ax.set_ylabel("row offset", fontsize=9)
    ax.tick_params(labelsize=8)
    if max(k.shape) <= _TEXT_MAX:
        ax.set_xticks(np.arange(k.shape[1]) - k.shape[1] // 2)
        ax.set_yticks(np.arange(k.shape[0]) - k.shape[0] // 2)
    fig.colorbar(im, ax=ax, shrink=0.8)


def _cell_texts(k: np.ndarray) -> tuple[np.ndarray, int]:
    """The value written in each cell, and the common denominator ``d`` they are
    written over: a kernel of multiples of ``1/d`` (d up to 1024) with small whole
    numerators (a box, a binomial blur) shows the numerators, anything else 3
    significant digits (d = 1)."""
    for d in range(1, 1025):
        scaled = k * d
        if np.abs(scaled).max() > 99.5 and d > 1:
            break
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return np.vectorize(lambda v: f"{v:.0f}")(np.round(scaled) + 0.0), d
    return np.vectorize(lambda v: f"{v:.3g}")(k), 1
