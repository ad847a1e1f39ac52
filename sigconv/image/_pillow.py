"""Reading and writing images with Pillow (the only module of sigconv that imports it).

An image is a plain NumPy array; its dtype and channel count say what kind it is, so a
filter that keeps both keeps the file's mode and bit depth when written back:

=========================  ==================  ========================================
Pillow mode (on reading)   array               written as
=========================  ==================  ========================================
``1``, ``L``               (H, W) uint8        ``L`` (bilevel images come back as L)
``LA``, ``La``             (H, W, 2) uint8     ``LA``
``RGB``, ``YCbCr``, ...    (H, W, 3) uint8     ``RGB`` (CMYK, YCbCr, LAB, HSV converted)
``RGBA``, ``RGBa``, ``PA`` (H, W, 4) uint8     ``RGBA``
``P``                      RGB or RGBA         ``RGBA`` if the palette has transparency
``I;16`` (any byte order)  (H, W) uint16       ``I;16``
``I``                      (H, W) int32        ``I`` (``I;16`` for PNG when in range)
``F``                      (H, W) float32      ``F``
=========================  ==================  ========================================
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .._errors import FileFormatError, InputError, InputTypeError

__all__ = ["check_writable", "read", "write"]

# Modes converted on reading, and what they become.
_CONVERT = {"1": "L", "La": "LA", "RGBa": "RGBA", "PA": "RGBA", "CMYK": "RGB",
            "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "RGBX": "RGB", "I;16B": "I;16",
            "I;16L": "I;16", "I;16N": "I;16"}
_NATIVE = ("L", "LA", "RGB", "RGBA", "I;16", "I", "F")

# (dtype, channels) -> Pillow mode on writing; channels 0 means a 2-D array.
_WRITE_MODES = {("uint8", 0): "L", ("uint8", 2): "LA", ("uint8", 3): "RGB",
                ("uint8", 4): "RGBA", ("uint16", 0): "I;16", ("int32", 0): "I",
                ("float32", 0): "F"}


def read(path: str | os.PathLike, *, metadata: bool = False):
    """Read an image file into an array, upright (EXIF orientation applied).

    Parameters
    ----------
    path : str or os.PathLike
        Any file Pillow reads: PNG, JPEG, TIFF, BMP, WebP, GIF (first frame), ...
    metadata : bool, optional
        Also return the file's colour profile, resolution and EXIF data (the
        orientation tag dropped, as the pixels are upright), for :func:`write`.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` for one channel, ``(H, W, C)`` with C in 2, 3, 4 otherwise; dtype
        uint8, uint16 (16-bit gray), int32 (mode I) or float32 (mode F). See the
        module docstring for the full table.
    dict
        With ``metadata=True``: any of ``icc_profile`` (bytes), ``dpi`` (x, y) and
        ``exif`` (bytes).

    Raises
    ------
    FileFormatError
        The file is missing, not an image, truncated, or of a kind with no array form.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
    >>> write(path, np.arange(12, dtype=np.uint8).reshape(3, 4))
    >>> read(path).shape, read(path).dtype
    ((3, 4), dtype('uint8'))
    """
    path = os.fspath(path)
    try:
        with Image.open(path) as opened:
            opened.seek(0)  # first frame of an animation
            _refuse_deep_colour(opened, path)
            picture = ImageOps.exif_transpose(opened)
            picture.load()
    except FileFormatError:
        raise
    except FileNotFoundError:
        raise FileFormatError(f"image {path!r} does not exist") from None
    except IsADirectoryError:
        raise FileFormatError(f"image {path!r} is a directory") from None
    except UnidentifiedImageError:
        raise FileFormatError(f"{path!r} is not an image file Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise FileFormatError(f"refusing to read {path!r}: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or corrupt data raise these from the decoders.
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise FileFormatError(f"cannot read image {path!r}: {message}") from None
    array = _to_array(picture, path)
    return (array, _metadata(picture)) if metadata else array


def _refuse_deep_colour(picture: Image.Image, path: str) -> None:
    """Pillow decodes 16-bit-per-channel colour (48/64-bit PNG and TIFF) into its 8-bit
    RGB/RGBA modes, dropping the low bits; say so instead of filtering the remains."""
    if picture.mode in ("RGB", "RGBA") and any(
            ";16" in str(tile.args) for tile in getattr(picture, "tile", ())):
        raise FileFormatError(
            f"image {path!r} has 16 bits per colour channel, which Pillow can only read as "
            f"8 bits; convert it to 8-bit colour or 16-bit gray first (sigconv will not "
            f"drop the low bits silently)")


# Metadata carried from input to output, and the formats whose writers take each.
_METADATA_FORMATS = {"icc_profile": ("PNG", "JPEG", "TIFF", "WEBP"),
                     "dpi": ("PNG", "JPEG", "TIFF", "BMP"),
                     "exif": ("PNG", "JPEG", "TIFF", "WEBP")}
_ORIENTATION = 0x0112


def _metadata(picture: Image.Image) -> dict:
    kept = {}
    if picture.info.get("icc_profile"):
        kept["icc_profile"] = picture.info["icc_profile"]
    if picture.info.get("dpi"):
        kept["dpi"] = tuple(float(d) for d in picture.info["dpi"])
    exif = picture.getexif()
    exif.pop(_ORIENTATION, None)            # the pixels are upright now
    if len(exif):
        kept["exif"] = exif.tobytes()
    return kept


def _to_array(picture: Image.Image, path: str) -> np.ndarray:
    mode = picture.mode
    if mode == "P":
        has_alpha = "transparency" in picture.info or picture.palette.mode == "RGBA"
        mode = "RGBA" if has_alpha else "RGB"
    else:
        mode = _CONVERT.get(mode, mode)
    if mode not in _NATIVE:
        raise FileFormatError(f"image {path!r} has Pillow mode {picture.mode!r}, which sigconv "
                              f"does not handle")
    if mode != picture.mode:
        if mode == "I;16":  # byte-swapped 16-bit: read raw, make native
            return np.asarray(picture).astype(np.uint16)
        picture = picture.convert(mode)
    array = np.array(picture)  # a writable copy
    return array.astype(array.dtype.newbyteorder("="), copy=False)


def _format_for(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    fmt = Image.registered_extensions().get(extension)
    if fmt is None or fmt not in Image.SAVE:
        raise FileFormatError(f"cannot write images with extension {extension!r} "
                              f"(output {path!r}); use e.g. .png, .tif, .jpg, .webp, .bmp")
    return fmt


def check_writable(path: str | os.PathLike) -> str:
    """Return the Pillow format name for ``path``'s extension, or raise FileFormatError.

    Examples
    --------
    >>> check_writable("out.tif")
    'TIFF'
    """
    return _format_for(os.fspath(path))


def write(path: str | os.PathLike, image: np.ndarray, *, format: str | None = None,
          quality: int = 95, metadata: dict | None = None) -> None:
    """Write an array as an image; the mode follows the dtype and channel count.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; the format comes from its extension unless ``format`` is given.
    image : numpy.ndarray
        ``(H, W)`` uint8 / uint16 / int32 / float32, or ``(H, W, C)`` uint8 with C in
        2 (LA), 3 (RGB), 4 (RGBA). float64 gray is written as float32 (``F``).
    format : str, optional
        Pillow format name, e.g. ``"PNG"``.
    quality : int, optional
        JPEG / WebP quality (1-100).
    metadata : dict, optional
        From ``read(..., metadata=True)``: colour profile, resolution and EXIF data,
        each written where the output format holds it.

    Raises
    ------
    InputTypeError
        A dtype / channel combination no Pillow mode holds.
    FileFormatError
        The format cannot hold this mode (e.g. float to JPEG), or writing failed.

    Notes
    -----
    The file is written in place; the command line wraps this in an atomic temporary
    file + rename.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "depth.tif")
    >>> write(path, np.array([[0, 40000]], np.uint16))
    >>> read(path)
    array([[    0, 40000]], dtype=uint16)
    """
    path = os.fspath(path)
    array = np.asarray(image)
    if array.dtype == np.float64 and array.ndim == 2:
        array = array.astype(np.float32)
    channels = 0 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else -1)
    mode = _WRITE_MODES.get((array.dtype.name, channels))
    if mode is None:
        raise InputTypeError(
            f"cannot write an array of dtype {array.dtype} and shape {array.shape} as an "
            f"image; use one of {sorted(f'{d} {_shape_name(c)}' for d, c in _WRITE_MODES)}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"cannot write an empty image of shape {array.shape}")
    fmt = format or _format_for(path)
    if mode == "I" and fmt == "PNG":  # PNG has no 32-bit gray; 16-bit if it fits
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise FileFormatError(f"PNG holds at most 16-bit gray; values of {path!r} span "
                                  f"[{array.min()}, {array.max()}] (use .tif)")
        array, mode = array.astype(np.uint16), "I;16"
    picture = Image.fromarray(np.ascontiguousarray(array))
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    options.update({key: value for key, value in (metadata or {}).items()
                    if fmt in _METADATA_FORMATS.get(key, ())})
    if fmt == "WEBP" and mode in ("LA",):
        picture = picture.convert("RGBA")
    try:
        picture.save(path, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise FileFormatError(f"cannot write {path!r} as {fmt} (image mode {mode}): "
                              f"{message}") from None


def _shape_name(channels: int) -> str:
    return "(H, W)" if channels == 0 else f"(H, W, {channels})"
