"""Named image kernels, the Gaussian kernel, kernel files and the rank-1 test.

Every constant is a *correlation* kernel written the way it looks on screen: row 0 is
the top row, column 0 the left column, and the output pixel sits under the centre
element ``(rows // 2, cols // 2)``. Applied by correlation (as :func:`sigconv.image.edges`
does), ``SOBEL_X`` is positive where the image gets brighter to the right and
``SOBEL_Y`` positive where it gets brighter downwards. :func:`sigconv.image.filter`
convolves by default, i.e. flips the kernel first; for the symmetric presets
(``SHARPEN``, ``BOX3``, ``EDGE``) both give the same result.

The constants are read-only arrays; copy them before changing them.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from numpy.typing import ArrayLike

from .._errors import FileFormatError, InputError, InputTypeError

__all__ = [
    "BOX3",
    "DIFF_X",
    "DIFF_Y",
    "EDGE",
    "EMBOSS",
    "LAPLACIAN",
    "PRESETS",
    "PREWITT_X",
    "PREWITT_Y",
    "SCHARR_X",
    "SCHARR_Y",
    "SHARPEN",
    "SOBEL_X",
    "SOBEL_Y",
    "box_kernel",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "load_kernel",
    "separate",
]


def _const(rows) -> np.ndarray:
    array = np.array(rows, dtype=np.float64)
    array.flags.writeable = False
    return array


#: Sobel: central difference ``[-1, 0, 1]`` smoothed by ``[1, 2, 1]`` across it.
SOBEL_X = _const([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
SOBEL_Y = _const(SOBEL_X.T)
#: Prewitt: central difference smoothed by a plain 3-pixel mean across it.
PREWITT_X = _const([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]])
PREWITT_Y = _const(PREWITT_X.T)
#: Scharr: like Sobel with weights ``[3, 10, 3]``, closer to rotation invariant.
SCHARR_X = _const([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])
SCHARR_Y = _const(SCHARR_X.T)
#: 4-neighbour Laplacian (second difference in x plus in y).
LAPLACIAN = _const([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
#: Two-pixel difference of the background article: ``-1`` left of the centre, ``1`` on it,
#: so the output is ``pixel - left neighbour`` (``pixel - upper neighbour`` for DIFF_Y).
DIFF_X = _const([[-1, 1]])
DIFF_Y = _const(DIFF_X.T)
#: Presets for :func:`sigconv.image.filter`.
SHARPEN = _const([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
EMBOSS = _const([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
BOX3 = _const(np.full((3, 3), 1.0 / 9.0))
EDGE = _const([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])

#: Names accepted by ``sigconv filter --kernel``.
PRESETS: dict[str, np.ndarray] = {"sharpen": SHARPEN, "emboss": EMBOSS, "box3": BOX3,
                                  "edge": EDGE}

_KERNEL_SUFFIXES = (".txt", ".csv", ".npy")


# The longest kernel radius sigconv.image makes (Gaussian, box): 2**20 pixels, beyond
# any image's width. Any image is filtered with at most a (2 * size + 1)-tap fold of a
# kernel (see sigconv.image's filters), so a longer kernel would only cost the time and
# memory to make and fold it (a 10**9 box grew to 24 GB before).
MAX_RADIUS = 1 << 20


def gaussian_kernel1d(sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Sampled, normalised 1-D Gaussian, cut at ``truncate`` standard deviations.

    The radius is ``int(truncate * sigma + 0.5)``, as in ``scipy.ndimage.gaussian_filter``,
    so that filtering with it reproduces that function.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, ``>= 0``; 0 gives the identity kernel ``[1.0]``.
    truncate : float, optional
        Cut-off in standard deviations, ``> 0``.

    Returns
    -------
    numpy.ndarray
        float64 weights of odd length ``2 * radius + 1`` summing to 1.

    Examples
    --------
    >>> gaussian_kernel1d(1.0, truncate=1.0).round(3)
    array([0.274, 0.452, 0.274])
    """
    sigma = _check_number(sigma, "sigma", minimum=0.0)
    truncate = _check_number(truncate, "truncate", minimum=0.0, strict=True)
    if sigma == 0:
        return np.ones(1)
    reach = truncate * sigma + 0.5
    if not reach <= MAX_RADIUS:
        raise InputError(f"sigma {sigma:g} (truncate {truncate:g}) is too large: the kernel "
                         f"would reach {reach:.3g} pixels, beyond {MAX_RADIUS}")
    radius = int(reach)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def gaussian_kernel2d(sigma: float | tuple[float, float], *,
                      truncate: float = 4.0) -> np.ndarray:
    """The 2-D Gaussian kernel :func:`sigconv.image.gaussian` applies (as two 1-D passes).

    Parameters
    ----------
    sigma : float or (float, float)
        Standard deviation in pixels, one for both axes or ``(rows, columns)``.
    truncate : float, optional
        Cut-off in standard deviations (see :func:`gaussian_kernel1d`).

    Returns
    -------
    numpy.ndarray
        ``outer(column, row)`` of the two 1-D kernels: float64, odd sizes, sum 1.

    Examples
    --------
    >>> gaussian_kernel2d(1.0, truncate=1.0).round(3)
    array([[0.075, 0.124, 0.075],
           [0.124, 0.204, 0.124],
           [0.075, 0.124, 0.075]])
    """
    sy, sx = (sigma, sigma) if np.ndim(sigma) == 0 else tuple(sigma)
    return np.outer(gaussian_kernel1d(sy, truncate=truncate),
                    gaussian_kernel1d(sx, truncate=truncate))


def box_kernel(size: int | tuple[int, int]) -> np.ndarray:
    """The ``size x size`` mean kernel :func:`sigconv.image.box` applies (by window sums).

    Parameters
    ----------
    size : int or (int, int)
        Window size in pixels, one for both axes or ``(rows, columns)``.

    Returns
    -------
    numpy.ndarray
        float64, every weight ``1 / (rows * columns)``.

    Examples
    --------
    >>> box_kernel((1, 4))
    array([[0.25, 0.25, 0.25, 0.25]])
    """
    rows, cols = (size, size) if np.ndim(size) == 0 else tuple(size)
    for n in (rows, cols):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or \
                not 1 <= n <= 2 * MAX_RADIUS + 1:
            raise InputError(f"box size must be a whole number from 1 to "
                             f"{2 * MAX_RADIUS + 1}, not {size!r}")
    return np.full((int(rows), int(cols)), 1.0 / (int(rows) * int(cols)))


def separate(kernel: ArrayLike, *, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray] | None:
    """Split a rank-1 2-D kernel into a column and a row factor.

    Parameters
    ----------
    kernel : array_like
        2-D real kernel.
    rtol : float, optional
        Largest acceptable error of ``outer(column, row)``, relative to ``max(abs(kernel))``.

    Returns
    -------
    (column, row) or None
        1-D factors with ``numpy.outer(column, row) ≈ kernel``, or None when the kernel
        is not (numerically) rank 1.

    Examples
    --------
    >>> col, row = separate(SOBEL_X)
    >>> bool(np.allclose(np.outer(col, row), SOBEL_X))
    True
    >>> separate(LAPLACIAN) is None
    True
    """
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2:
        raise InputError(f"kernel must be 2-D, not {k.ndim}-D")
    peak = np.abs(k).max(initial=0.0)
    if peak == 0:
        return np.zeros(k.shape[0]), np.zeros(k.shape[1])
    # Pivot on the largest element: for a rank-1 kernel k = outer(c, r), every row is a
    # multiple of row i and every column of column j, so k[:, j] * k[i, :] / k[i, j]
    # rebuilds it -- exactly, in binary floating point, for kernels such as Sobel's.
    i, j = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    row = k[i, :].copy()
    column = k[:, j] / k[i, j]
    if np.abs(np.outer(column, row) - k).max() > rtol * peak:
        return None
    return column, row


def load_kernel(path: str | os.PathLike) -> np.ndarray:
    """Read a kernel from a text (``.txt``, whitespace), CSV (``.csv``) or ``.npy`` file.

    A single row or column gives a ``(1, n)`` or ``(n, 1)`` kernel.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    numpy.ndarray
        2-D float64 kernel, finite and non-empty.

    Raises
    ------
    FileFormatError
        Unknown suffix, unreadable file or non-numeric content.
    InputError
        Empty, non-finite or more than 2-D kernel.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "k.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("1, 2, 1\\n")
    >>> load_kernel(path)
    array([[1., 2., 1.]])
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _KERNEL_SUFFIXES:
        raise FileFormatError(f"kernel file {path!r} must end in one of {list(_KERNEL_SUFFIXES)}")
    if not os.path.isfile(path):
        raise FileFormatError(f"kernel file {path!r} does not exist")
    try:
        if suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        else:
            delimiter = "," if suffix == ".csv" else None
            with warnings.catch_warnings():     # an empty file: refused below, in one line
                warnings.simplefilter("ignore", UserWarning)
                data = np.loadtxt(path, delimiter=delimiter, dtype=np.float64, ndmin=2,
                                  comments="#")
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"cannot read kernel file {path!r}: {' '.join(str(exc).split())}") \
            from exc
    return as_kernel(data, f"kernel file {path!r}")


def as_kernel(kernel: ArrayLike, name: str = "kernel") -> np.ndarray:
    """Validate a kernel: real numbers, 1-D or 2-D, non-empty, finite; return 2-D float64."""
    array = np.asarray(kernel)
    if array.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must hold real numbers, not dtype {array.dtype}")
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise InputError(f"{name} must be 1-D or 2-D, not {array.ndim}-D (shape {array.shape})")
    if array.size == 0:
        raise InputError(f"{name} is empty (shape {array.shape})")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"{name} contains NaN or infinity")
    return array


def _check_number(value, name: str, *, minimum: float, strict: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number, not {value!r}") from None
    if not np.isfinite(number) or number < minimum or (strict and number == minimum):
        relation = ">" if strict else ">="
        raise InputError(f"{name} must be finite and {relation} {minimum:g}, not {value!r}")
    return number
