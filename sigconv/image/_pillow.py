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
``P``                      L, RGB or RGBA      by the colours used: RGBA if any pixel is
                                               transparent, else L if all are gray
``I;16`` (any byte order)  (H, W) uint16       ``I;16``
``I``                      (H, W) int32        ``I`` (``I;16`` for PNG when in range;
                                               a 16-bit PGM reads as uint16)
``F``                      (H, W) float32      ``F``
=========================  ==================  ========================================
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

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

# The formats sigconv writes, and the modes each holds without losing what the mode
# is (its bit depth, its alpha, its size). Pillow would write more (ICO and ICNS resize
# the image, GIF turns 16-bit gray into a white palette image, WebP and BMP drop what
# they cannot hold), silently; these are refused instead. JPEG, lossy WebP and GIF
# (256 colours) still lose detail, as their users expect. WebP stores gray as RGB.
_HOLDS = {"PNG": ("L", "LA", "RGB", "RGBA", "I;16", "I"),   # I: as 16-bit when in range
          "TIFF": ("L", "LA", "RGB", "RGBA", "I;16", "I", "F"),
          "JPEG": ("L", "RGB"), "BMP": ("L", "RGB"), "GIF": ("L", "RGB"),
          "WEBP": ("L", "LA", "RGB", "RGBA"), "PPM": ("L", "RGB", "I;16")}
# Netpbm: Pillow writes a graymap or a pixmap whatever the extension says; keep each
# extension to its own kind (.pbm is bilevel and .pfm float: not written).
_EXTENSION_HOLDS = {".pgm": ("L", "I;16"), ".ppm": ("RGB",), ".pnm": ("L", "RGB", "I;16")}
_REFUSED_EXTENSIONS = (".pbm", ".pfm")
_MODE_NAMES = {"L": "8-bit gray", "LA": "8-bit gray with alpha", "RGB": "8-bit RGB",
               "RGBA": "8-bit RGB with alpha", "I;16": "16-bit gray",
               "I": "32-bit integer gray", "F": "32-bit float gray"}


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
            _refuse_turned_tiff(opened, path)
            opened.load()   # TIFF: Pillow turns it upright here and drops the tag
            orientation = opened.getexif().get(_ORIENTATION, 1)
            array = _to_array(opened, path)
            kept = _metadata(opened) if metadata else None
            unsigned_32 = opened.format == "TIFF" and _unsigned_32(opened.tag_v2)
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
    if unsigned_32 and array.dtype == np.int32 and array.size and array.min() < 0:
        raise FileFormatError(f"image {path!r} holds unsigned 32-bit samples, which Pillow "
                              f"reads as signed ones (values above 2**31 - 1 wrap); "
                              f"convert it to 16-bit or float first")
    array = _upright(array, orientation)
    return (array, kept) if metadata else array


def _unsigned_32(tags) -> bool:
    """TIFF tags say unsigned 32-bit integer samples (SampleFormat 1, 32 bits)."""
    def first(value):
        return value[0] if isinstance(value, tuple) and value else value
    return first(tags.get(339, 1)) == 1 and first(tags.get(258)) == 32


def _refuse_turned_tiff(picture: Image.Image, path: str) -> None:
    """Pillow 13 turns TIFF images upright as it loads them, and for orientations 5-8
    (a quarter turn) it decodes 8/16-bit ones with width and height swapped: a
    scrambled image of the wrong shape. Refuse those; float ones come out right."""
    if picture.format == "TIFF" and picture.mode != "F" and \
            picture.tag_v2.get(_ORIENTATION) in (5, 6, 7, 8):
        raise FileFormatError(
            f"image {path!r} is a TIFF with EXIF orientation "
            f"{picture.tag_v2.get(_ORIENTATION)} (a quarter turn), which Pillow decodes "
            f"scrambled for mode {picture.mode}; turn it upright with another tool first")


def _upright(array: np.ndarray, orientation) -> np.ndarray:
    """``array`` turned as EXIF ``orientation`` (1-8) says, by NumPy on the pixels (the
    same as Pillow's exif_transpose, without a round trip through a Pillow image)."""
    turned = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1],
              4: lambda a: a[::-1], 5: lambda a: a.swapaxes(0, 1),
              6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
              8: lambda a: np.rot90(a, 1)}.get(orientation)
    return array if turned is None else np.ascontiguousarray(turned(array))


def _refuse_deep_colour(picture: Image.Image, path: str) -> None:
    """Pillow decodes 16-bit-per-channel colour (48/64-bit PNG and TIFF) into its 8-bit
    RGB/RGBA modes, dropping the low bits; say so instead of filtering the remains.
    (Packed 16-bit pixels such as BMP's 5-6-5 "BGR;16" are 8-bit colour: fine.)"""
    def deep(tile) -> bool:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = next((a for a in args if isinstance(a, str)), "")
        return raw.split(";")[0] in ("RGB", "RGBA", "RGBX", "RGBa") and ";16" in raw

    if picture.mode in ("RGB", "RGBA") and any(
            deep(tile) for tile in getattr(picture, "tile", ())):
        raise FileFormatError(
            f"image {path!r} has 16 bits per colour channel, which Pillow can only read as "
            f"8 bits; convert it to 8-bit colour or 16-bit gray first (sigconv will not "
            f"drop the low bits silently)")


# Metadata carried from input to output, and the formats whose writers take each.
_METADATA_FORMATS = {"icc_profile": ("PNG", "JPEG", "TIFF", "WEBP"),
                     "dpi": ("PNG", "JPEG", "TIFF", "BMP"),
                     "exif": ("PNG", "JPEG", "TIFF", "WEBP")}
_ORIENTATION = 0x0112
# TIFF tags of the file's own layout (size, samples, compression, strips and tiles,
# colour map): meaningless, or wrong, in the EXIF data of another file.
_TIFF_LAYOUT = (256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323,
                324, 325, 338, 339, 340, 341, 530, 531, 532)


def _metadata(picture: Image.Image) -> dict:
    kept = {}
    if picture.info.get("icc_profile"):
        kept["icc_profile"] = picture.info["icc_profile"]
    if picture.info.get("dpi"):
        kept["dpi"] = tuple(float(d) for d in picture.info["dpi"])
    exif = picture.getexif()
    exif.pop(_ORIENTATION, None)            # the pixels are upright now
    if picture.format == "TIFF":            # a TIFF's EXIF is its whole first IFD:
        for tag in _TIFF_LAYOUT:            # drop what describes that file's layout
            exif.pop(tag, None)
    if len(exif):
        kept["exif"] = exif.tobytes()
    return kept


def _to_array(picture: Image.Image, path: str) -> np.ndarray:
    mode = picture.mode
    if mode == "P":
        return _palette_array(picture)
    if mode == "I" and picture.format == "PPM":
        return np.asarray(picture).astype(np.uint16)    # 16-bit PGM: maxval <= 65535
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


def _palette_array(picture: Image.Image) -> np.ndarray:
    """A palette image by the colours its pixels use: RGBA if any pixel is less than
    opaque, else 8-bit gray if every used colour is gray (R = G = B; so gray written to
    GIF comes back gray), else RGB. A transparency entry no pixel uses adds no alpha."""
    rgba = np.array(picture.convert("RGBA"))
    if rgba[..., 3].min() < 255:
        return rgba
    if (rgba[..., :3] == rgba[..., :1]).all():
        return rgba[..., 0].copy()
    return np.ascontiguousarray(rgba[..., :3])


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def _format_for(path: str) -> str:
    extension = _extension(path)
    fmt = Image.registered_extensions().get(extension)
    if fmt not in _HOLDS or fmt not in Image.SAVE or extension in _REFUSED_EXTENSIONS:
        known = sorted(e for e, f in Image.registered_extensions().items()
                       if f in _HOLDS and e not in _REFUSED_EXTENSIONS)
        raise FileFormatError(f"cannot write images with extension {extension!r} "
                              f"(output {path!r}); sigconv writes {', '.join(known)}")
    return fmt


def _mode_of(array: np.ndarray) -> str:
    """The Pillow mode ``array`` is written as (float64 gray as float32's ``F``)."""
    channels = 0 if array.ndim == 2 else (array.shape[2] if array.ndim == 3 else -1)
    name = "float32" if array.dtype == np.float64 and channels == 0 else array.dtype.name
    mode = _WRITE_MODES.get((name, channels))
    if mode is None:
        raise InputTypeError(
            f"cannot write an array of dtype {array.dtype} and shape {array.shape} as an "
            f"image; use one of {sorted(f'{d} {_shape_name(c)}' for d, c in _WRITE_MODES)}")
    return mode


def check_writable(path: str | os.PathLike, like: np.ndarray | None = None) -> str:
    """Return the Pillow format name for ``path``'s extension, or raise FileFormatError:
    for an extension sigconv does not write, or, given ``like`` (an image array), for
    a format that cannot hold that kind of image (16-bit gray in JPEG, say).

    Examples
    --------
    >>> check_writable("out.tif")
    'TIFF'
    >>> check_writable("out.jpg", like=np.zeros((2, 2), np.uint16))
    Traceback (most recent call last):
    ...
    sigconv._errors.FileFormatError: JPEG cannot hold 16-bit gray (output 'out.jpg'); write .png or .tif
    """
    path = os.fspath(path)
    fmt = _format_for(path)
    if like is not None:
        like = np.asarray(like)
        _check_holds(fmt, _mode_of(like), like, path)
    return fmt


def _check_holds(fmt: str, mode: str, array: np.ndarray, path: str) -> None:
    """FileFormatError unless ``fmt`` (at ``path``'s extension) holds ``array``, of
    ``mode``. PNG writes 32-bit integer gray as 16-bit: values 0..65535 only."""
    holds = _EXTENSION_HOLDS.get(_extension(path), _HOLDS.get(fmt))
    if holds is not None and mode not in holds:
        better = " or ".join(ext for ext, f in ((".png", "PNG"), (".tif", "TIFF"))
                             if mode in _HOLDS[f])
        raise FileFormatError(f"{fmt} cannot hold {_MODE_NAMES[mode]} (output {path!r}); "
                              f"write {better}")
    if mode == "I" and fmt == "PNG" and array.size and (array.min() < 0 or
                                                         array.max() > 65535):
        raise FileFormatError(f"PNG holds at most 16-bit gray; values of {path!r} span "
                              f"[{array.min()}, {array.max()}] (use .tif)")


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
    mode = _mode_of(array)
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"cannot write an empty image of shape {array.shape}")
    fmt = format or _format_for(path)
    _check_holds(fmt, mode, array, path)
    if mode == "F":
        array = array.astype(np.float32, copy=False)
    if mode == "I" and fmt == "PNG":  # PNG has no 32-bit gray; 16-bit (checked in range)
        array, mode = array.astype(np.uint16), "I;16"
    picture = Image.fromarray(np.ascontiguousarray(array))
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    options.update({key: value for key, value in (metadata or {}).items()
                    if fmt in _METADATA_FORMATS.get(key, ())})
    if fmt == "WEBP" and mode in ("L", "LA"):   # WebP has no gray: stored as colour
        picture = picture.convert({"L": "RGB", "LA": "RGBA"}[mode])
    try:
        picture.save(path, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise FileFormatError(f"cannot write {path!r} as {fmt} (image mode {mode}): "
                              f"{message}") from None


def _shape_name(channels: int) -> str:
    return "(H, W)" if channels == 0 else f"(H, W, {channels})"
