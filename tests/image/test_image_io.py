"""Reading and writing images: every mode and bit depth, orientation, errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, ImageOps

from sigconv import FileFormatError, InputTypeError
from sigconv import image as si

DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "data")
RNG = np.random.default_rng(4)


def _random(dtype, shape):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(0.5, 0.7, shape).astype(dtype)
    info = np.iinfo(dtype)
    low, high = max(info.min, -(2 ** 30)), min(info.max, 2 ** 30)
    return RNG.integers(low, high, shape, endpoint=True).astype(dtype)


LOSSLESS = [  # (dtype, shape, extension)
    (np.uint8, (7, 9), ".png"), (np.uint8, (7, 9, 2), ".png"), (np.uint8, (7, 9, 3), ".png"),
    (np.uint8, (7, 9, 4), ".png"), (np.uint16, (7, 9), ".png"), (np.uint16, (7, 9), ".tif"),
    (np.int32, (7, 9), ".tif"), (np.float32, (7, 9), ".tif"), (np.uint8, (7, 9, 3), ".tif"),
    (np.uint8, (7, 9, 4), ".tif"), (np.uint8, (7, 9), ".bmp"), (np.uint8, (7, 9, 3), ".bmp"),
    (np.uint8, (7, 9, 3), ".webp"), (np.uint8, (7, 9, 4), ".webp"),
]


@pytest.mark.parametrize("dtype, shape, ext", LOSSLESS,
                         ids=[f"{np.dtype(d).name}-{len(s)}-{e}" for d, s, e in LOSSLESS])
def test_lossless_round_trip_keeps_mode_and_depth(tmp_path, dtype, shape, ext):
    array = _random(dtype, shape)
    path = tmp_path / f"img{ext}"
    if ext == ".webp":
        Image.fromarray(array).save(path, lossless=True)
    else:
        si.write(path, array)
    back = si.read(path)
    assert back.dtype == np.dtype(dtype)
    assert back.shape == shape
    np.testing.assert_array_equal(back, array)


@pytest.mark.parametrize("ext, shape", [(".jpg", (16, 24)), (".jpg", (16, 24, 3)),
                                        (".webp", (16, 24, 3))])
def test_lossy_round_trip_keeps_mode(tmp_path, ext, shape):
    array = np.full(shape, 120, np.uint8)
    array[4:12, 6:18] = 200
    si.write(tmp_path / f"img{ext}", array)
    back = si.read(tmp_path / f"img{ext}")
    assert back.dtype == np.uint8 and back.shape == shape
    assert np.abs(back.astype(int) - array).mean() < 4


def test_int32_to_png_becomes_16_bit_when_in_range(tmp_path):
    array = np.array([[0, 1, 65535]], np.int32)
    si.write(tmp_path / "i.png", array)
    back = si.read(tmp_path / "i.png")
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, array)
    with pytest.raises(FileFormatError, match="16-bit"):
        si.write(tmp_path / "j.png", np.array([[70000]], np.int32))
    assert not (tmp_path / "j.png").exists()


def test_float64_gray_written_as_float32(tmp_path):
    si.write(tmp_path / "f.tif", np.array([[0.25, -1.5]]))
    back = si.read(tmp_path / "f.tif")
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, [[0.25, -1.5]])


def test_palette_becomes_rgb_or_rgba(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, 3:] = (200, 10, 30)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    back = si.read(tmp_path / "p.png")
    assert back.shape == (4, 6, 3)
    np.testing.assert_array_equal(back, rgb)

    picture = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)
    index_of_black = picture.getpixel((0, 0))
    picture.save(tmp_path / "pt.png", transparency=index_of_black)
    back = si.read(tmp_path / "pt.png")
    assert back.shape == (4, 6, 4)
    np.testing.assert_array_equal(back[:, :3, 3], 0)
    np.testing.assert_array_equal(back[:, 3:], np.broadcast_to([200, 10, 30, 255], (4, 3, 4)))


def test_bilevel_16_bit_big_endian_and_la_modes(tmp_path):
    bits = np.zeros((5, 8), bool)
    bits[:, 4:] = True
    Image.fromarray(bits).save(tmp_path / "b.png")
    back = si.read(tmp_path / "b.png")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, bits * 255)

    values = np.arange(40, dtype=np.uint16).reshape(5, 8) * 1500
    Image.frombytes("I;16B", (8, 5), values.astype(">u2").tobytes()).save(tmp_path / "be.tif")
    back = si.read(tmp_path / "be.tif")
    assert back.dtype == np.uint16 and back.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(back, values)


def test_gif_reads_first_frame(tmp_path):
    frames = [Image.new("L", (6, 4), 30), Image.new("L", (6, 4), 220)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    back = si.read(tmp_path / "a.gif")
    assert back.shape == (4, 6)                 # a gray palette reads as 8-bit gray
    np.testing.assert_array_equal(back, 30)


@pytest.mark.parametrize("orientation, transform", [
    (3, lambda a: np.rot90(a, 2)), (6, lambda a: np.rot90(a, -1)),
    (8, lambda a: np.rot90(a, 1)), (2, lambda a: a[:, ::-1])])
def test_exif_orientation_applied(tmp_path, orientation, transform):
    stored = np.arange(6 * 10, dtype=np.uint8).reshape(6, 10)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "o.png", exif=exif)
    np.testing.assert_array_equal(si.read(tmp_path / "o.png"), transform(stored))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_as_pillow_turns_it(tmp_path, orientation):
    stored = np.arange(6 * 10, dtype=np.uint8).reshape(6, 10)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "o.png", exif=exif)
    with Image.open(tmp_path / "o.png") as picture:
        want = np.asarray(ImageOps.exif_transpose(picture))
    np.testing.assert_array_equal(si.read(tmp_path / "o.png"), want)
    _, meta = si.read(tmp_path / "o.png", metadata=True)
    kept = Image.Exif()
    if "exif" in meta:
        kept.load(meta["exif"])
    assert 0x0112 not in kept          # the pixels are upright: no orientation passed on


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_quarter_turned_tiff_is_refused_unless_pillow_decodes_it_right(tmp_path, dtype):
    """Pillow 13 decodes 8/16-bit TIFF images with orientation 5-8 with width and
    height swapped (scrambled); float ones come out right."""
    stored = np.arange(3 * 4, dtype=dtype).reshape(3, 4)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "o.tif", exif=exif)
    if dtype == np.float32:
        np.testing.assert_array_equal(si.read(tmp_path / "o.tif"), np.rot90(stored, -1))
    else:
        with pytest.raises(FileFormatError, match="orientation 6"):
            si.read(tmp_path / "o.tif")


def test_packed_16_bit_bmp_is_read_as_8_bit_colour(tmp_path):
    """A 5-6-5 BMP ("BGR;16" to Pillow) is ordinary 8-bit colour, not 16 bits per channel."""
    import struct
    width, height = 4, 2
    pixels = [0xF800, 0x07E0, 0x001F, 0xFFFF] * height          # red, green, blue, white
    rows = b"".join(struct.pack("<4H", *pixels[r * 4:r * 4 + 4]) for r in range(height))
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 16, 3, len(rows), 2835, 2835,
                         0, 0) + struct.pack("<3I", 0xF800, 0x07E0, 0x001F)
    offset = 14 + len(header)
    (tmp_path / "565.bmp").write_bytes(b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0,
                                                            offset) + header + rows)
    img = si.read(tmp_path / "565.bmp")
    assert img.shape == (2, 4, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[0, :, 0] > 200, [True, False, False, True])
    np.testing.assert_array_equal(img[0, :, 1] > 200, [False, True, False, True])


def test_bundled_images_have_their_kinds():
    kinds = {"scene_rgb.png": (np.uint8, 3), "scene_rgba.png": (np.uint8, 4),
             "gray16.png": (np.uint16, 2), "gray_float.tif": (np.float32, 2),
             "palette.gif": (np.uint8, 3)}
    for name, (dtype, ndim_or_channels) in kinds.items():
        array = si.read(os.path.join(DATA, name))
        assert array.dtype == dtype, name
        assert (array.ndim if ndim_or_channels == 2 else array.shape[2]) == ndim_or_channels
        assert array.shape[:2] == (120, 160)


def test_read_errors_are_file_format_errors(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        si.read(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(FileFormatError, match="not an image"):
        si.read(tmp_path / "text.png")
    array = RNG.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    si.write(tmp_path / "whole.png", array)
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"cut\.png"):
        si.read(tmp_path / "cut.png")
    with pytest.raises(OSError):  # FileFormatError is an OSError too
        si.read(tmp_path)


def test_write_errors(tmp_path):
    with pytest.raises(InputTypeError, match="float32"):
        si.write(tmp_path / "x.png", np.zeros((3, 3, 3), np.float32))
    with pytest.raises(InputTypeError, match="int64"):
        si.write(tmp_path / "x.png", np.zeros((3, 3), np.int64))
    with pytest.raises(FileFormatError, match="JPEG"):
        si.write(tmp_path / "x.jpg", np.zeros((3, 3), np.float32))
    with pytest.raises(FileFormatError, match=r"'\.xyz'"):
        si.write(tmp_path / "x.xyz", np.zeros((3, 3), np.uint8))
    assert si.check_writable("a.PNG") == "PNG"


def test_cmyk_jpeg_is_read_as_rgb(tmp_path):
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red ink
    back = si.read(tmp_path / "c.jpg")
    assert back.shape == (6, 8, 3) and back.dtype == np.uint8
    assert back[..., 0].min() > 200 and back[..., 1:].max() < 60


def test_decompression_bomb_is_a_file_format_error(tmp_path, monkeypatch):
    si.write(tmp_path / "big.png", np.zeros((64, 64), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 4096 > 2 * 100 pixels
    with pytest.raises(FileFormatError, match="refusing"):
        si.read(tmp_path / "big.png")


def _png_rgb16(path, pixels):
    """A 48-bit RGB PNG written by hand (Pillow writes none): rows with filter 0."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[r].astype(">u2").tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_16_bit_colour_is_refused_not_truncated(tmp_path):
    from sigconv_cli.main import main

    source = tmp_path / "deep.png"
    _png_rgb16(source, np.arange(18, dtype=np.uint16).reshape(2, 3, 3) * 3000)
    with pytest.raises(FileFormatError, match="16 bits per colour channel"):
        si.read(source)
    assert main(["blur", str(source), "-o", str(tmp_path / "out.png"), "--sigma", "1"]) == 1
    assert not (tmp_path / "out.png").exists()


def test_unsigned_32_bit_tiff_that_pillow_would_wrap_is_refused(tmp_path):
    def unsigned(values, name):
        Image.fromarray(np.array(values, np.int32)).save(tmp_path / name)
        data = (tmp_path / name).read_bytes()
        signed = b"\x53\x01\x03\x00\x01\x00\x00\x00\x02\x00"    # SampleFormat = 2 (int)
        assert data.count(signed) == 1
        (tmp_path / name).write_bytes(data.replace(signed, signed[:8] + b"\x01\x00"))
        return tmp_path / name

    with pytest.raises(FileFormatError, match="unsigned 32-bit"):
        si.read(unsigned([[1, 2], [3, 4000000000 - 2**32]], "big.tif"))   # 4e9 as stored
    np.testing.assert_array_equal(si.read(unsigned([[1, 2], [3, 4]], "small.tif")),
                                  [[1, 2], [3, 4]])


@pytest.mark.parametrize("source", [".tif", ".png", ".jpg"])
def test_camera_exif_is_carried_over_without_the_source_files_layout(tmp_path, source):
    picture = Image.fromarray(np.zeros((4, 5), np.uint8))
    exif = picture.getexif()
    exif[0x010F], exif[0x0110] = "CamMaker", "CamModel"
    picture.save(tmp_path / f"in{source}", exif=exif.tobytes())
    pixels, meta = si.read(tmp_path / f"in{source}", metadata=True)
    for out in ("o.png", "o.tif", "o.jpg"):
        si.write(tmp_path / out, pixels, metadata=meta)
        with Image.open(tmp_path / out) as written:
            tags = dict(written.getexif())
        assert tags.get(0x010F) == "CamMaker" and tags.get(0x0110) == "CamModel"
        if out != "o.tif":                      # a TIFF's own layout tags are its own
            assert not set(tags) & {256, 257, 273, 279}


def test_palette_images_are_read_by_the_colours_their_pixels_use(tmp_path):
    index = np.array([[0, 1], [1, 0]], np.uint8)
    def palette_png(name, colours, transparency=None):
        picture = Image.fromarray(index, mode="P")
        picture.putpalette([c for colour in colours for c in colour])
        if transparency is not None:
            picture.info["transparency"] = transparency
        picture.save(tmp_path / name, **({"transparency": transparency}
                                         if transparency is not None else {}))
        return si.read(tmp_path / name)
    gray = palette_png("g.png", [(10, 10, 10), (200, 200, 200), (255, 0, 0)])
    assert gray.shape == (2, 2) and gray[0, 1] == 200          # red unused: still gray
    colour = palette_png("c.png", [(10, 10, 10), (200, 0, 0)])
    assert colour.shape == (2, 2, 3)
    unused = palette_png("u.png", [(10, 10, 10), (200, 0, 0), (0, 0, 0)], transparency=2)
    assert unused.shape == (2, 2, 3)                            # nobody is transparent
    seen = palette_png("t.png", [(10, 10, 10), (200, 0, 0)], transparency=1)
    assert seen.shape == (2, 2, 4) and seen[0, 1, 3] == 0
