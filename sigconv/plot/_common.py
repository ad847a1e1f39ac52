"""What every picture shares: the formats written, the path check, the atomic save."""

from __future__ import annotations

import os

from .._errors import InputError, InputTypeError
from .._io import atomic_output
from ._mpl import pyplot

#: Extensions the picture functions write (matplotlib's vector and raster backends).
FORMATS = (".png", ".svg", ".pdf")


def check_path(path: str | os.PathLike, formats: tuple[str, ...] = FORMATS) -> str:
    """Check a picture's path before any work: a known extension and matplotlib present.

    Nothing is written; whether the directory is writable or the file exists is the
    caller's business (the command line uses :func:`sigconv._io.check_output_path`).

    Parameters
    ----------
    path : str or os.PathLike
        Where the picture will go.
    formats : tuple of str, optional
        The extensions accepted (lower case, with the dot).

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    InputError
        The extension is not one of ``formats``; the message names them.
    sigconv.MissingExtraError
        matplotlib is not installed (``pip install 'sigconv[plot]'``).

    Examples
    --------
    >>> check_path("wet.png")
    'wet.png'
    >>> try:
    ...     check_path("wet.jpg")
    ... except ValueError as exc:
    ...     print(exc)
    plot 'wet.jpg': unsupported picture type '.jpg' (use .png, .svg or .pdf)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"path must be a file name, not {path!r}")
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in formats:
        allowed = ", ".join(formats[:-1]) + f" or {formats[-1]}" if len(formats) > 1 \
            else formats[0]
        raise InputError(f"plot {path!r}: unsupported picture type {ext or '(none)'!r} "
                         f"(use {allowed})")
    pyplot()        # raises MissingExtraError, naming the extra, when matplotlib is absent
    return path


def save(fig, path: str | os.PathLike, *, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` atomically (temporary file, then rename) and close it."""
    path = check_path(path)
    plt = pyplot()
    try:
        with atomic_output(path) as tmp:
            try:
                fig.savefig(tmp, format=os.path.splitext(path)[1][1:].lower(), dpi=dpi)
            except OSError as exc:      # name the file asked for, not the temporary one
                raise OSError(exc.errno, exc.strerror, path) from None
    finally:
        plt.close(fig)
    return path
