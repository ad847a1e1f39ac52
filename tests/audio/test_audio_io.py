"""read / write / info: formats, subtypes, dither, clipping, and clean errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from sigconv import FileFormatError, InputError, InputTypeError
from sigconv.audio import info, parse_dbfs, read, write
from sigconv.audio._files import output_format
from sigconv.audio._levels import Quantizer


def riff(tag: int, data: bytes = b"\0" * 200, bits: int = 16, rate: int = 8000) -> bytes:
    """A minimal RIFF/WAVE file with format tag ``tag``."""
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * bits // 8, bits // 8, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
            + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("ext,subtype", [
    (".wav", "PCM_16"), (".wav", "PCM_24"), (".wav", "PCM_32"), (".wav", "FLOAT"),
    (".flac", "PCM_24"), (".aiff", "PCM_16"), (".rf64", "PCM_24"),
])
def test_roundtrip_exact_without_dither(tmp_path, ext, subtype):
    bits = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(subtype)
    rng = np.random.default_rng(0)
    if bits:  # values on the grid of the subtype survive exactly
        x = rng.integers(-2 ** (bits - 1), 2 ** (bits - 1), (500, 2)) / 2.0 ** (bits - 1)
    else:
        x = rng.uniform(-3, 3, (500, 2)).astype(np.float32).astype(np.float64)
    path = tmp_path / f"x{ext}"
    report = write(path, x, 44100, subtype=subtype, dither=False)
    y, rate = read(path)
    assert rate == 44100 and report.subtype == subtype and report.clipped == 0
    np.testing.assert_array_equal(y, x)
    assert info(path).subtype == subtype


def test_ogg_vorbis_roundtrip_is_close(tmp_path):
    t = np.arange(48000) / 48000
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    write(tmp_path / "x.ogg", x, 48000)
    y, rate = read(tmp_path / "x.ogg")
    assert rate == 48000 and info(tmp_path / "x.ogg").subtype == "VORBIS"
    assert abs(np.sqrt(np.mean(y[:46000] ** 2)) - 0.5 / np.sqrt(2)) < 0.01


def test_read_dtype_and_layout(tmp_path):
    sf.write(tmp_path / "m.wav", np.zeros(10), 8000, subtype="PCM_24")
    y, _ = read(tmp_path / "m.wav", dtype=None)
    assert y.shape == (10,) and y.dtype == np.float32
    y, _ = read(tmp_path / "m.wav", always_2d=True)
    assert y.shape == (10, 1) and y.dtype == np.float64
    with pytest.raises(InputTypeError, match="int16"):
        read(tmp_path / "m.wav", dtype="int16")


def test_16_bit_output_is_dithered_tpdf(tmp_path):
    x = np.full(100000, 0.3 / 32768)  # 0.3 LSB: rounds to zero without dither
    plain = write(tmp_path / "a.wav", x, 8000, subtype="PCM_16", dither=False)
    dithered = write(tmp_path / "b.wav", x, 8000, subtype="PCM_16")
    a, _ = sf.read(tmp_path / "a.wav", dtype="int16")
    b, _ = sf.read(tmp_path / "b.wav", dtype="int16")
    assert not plain.dithered and dithered.dithered
    assert np.all(a == 0)
    assert set(np.unique(b)) <= {-1, 0, 1, 2}          # TPDF spans +-1 LSB
    assert abs(b.mean() - 0.3) < 0.01                  # and keeps the level on average
    # TPDF makes the error power 1/4 LSB^2 (dither 1/6 + rounding 1/12) whatever the level:
    assert abs(b.var() - 0.25) < 0.01
    write(tmp_path / "d.wav", x / 0.3 * 0.7, 8000, subtype="PCM_16")
    d, _ = sf.read(tmp_path / "d.wav", dtype="int16")
    assert abs(d.mean() - 0.7) < 0.01 and abs(d.var() - 0.25) < 0.01
    again = write(tmp_path / "c.wav", x, 8000, subtype="PCM_16")  # seeded: reproducible
    assert again == dithered
    assert (tmp_path / "b.wav").read_bytes() == (tmp_path / "c.wav").read_bytes()


def test_24_bit_and_float_output_not_dithered_by_default():
    assert not Quantizer("PCM_24").dither
    assert not Quantizer("FLOAT").dither
    assert Quantizer("PCM_U8").dither


@pytest.mark.parametrize("subtype,clipped,readback", [
    ("PCM_16", 3, [0.5, 32767 / 32768, -1.0, 1 - 1 / 32768]),
    ("PCM_24", 3, [0.5, 1 - 2 ** -23, -1.0, 1 - 2 ** -23]),
    ("FLOAT", 0, [0.5, 1.5, -2.0, 1.0]),
])
def test_clipping_counted_never_wrapped(tmp_path, subtype, clipped, readback):
    x = np.array([0.5, 1.5, -2.0, 1.0])
    report = write(tmp_path / "c.wav", x, 8000, subtype=subtype, dither=False)
    assert report.clipped == clipped
    assert report.peak == 2.0 and abs(report.peak_dbfs - 6.0206) < 1e-3
    y, _ = read(tmp_path / "c.wav")
    np.testing.assert_allclose(y, readback, rtol=0, atol=1e-9)


def test_lossy_codec_clips_to_full_scale_and_counts(tmp_path):
    report = write(tmp_path / "c.wav", np.array([0.5, 1.5, -2.0]), 8000, subtype="ULAW")
    assert report.clipped == 2


@pytest.mark.parametrize("path,kwargs,match", [
    ("x.mp4", {}, "'.mp4'"),
    ("x.wav", {"subtype": "PCM_99"}, "'PCM_99'"),
    ("x.ogg", {"subtype": "PCM_24"}, "'PCM_24'"),
    ("x.wav", {"format": "NOPE"}, "'NOPE'"),
])
def test_bad_output_format_or_subtype(tmp_path, path, kwargs, match):
    with pytest.raises(InputError, match=match):
        write(tmp_path / path, np.zeros(10), 8000, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_output_subtype_follows_input_when_possible():
    assert output_format("o.wav", 2, 10, like="PCM_24", like_format="WAV") == ("WAV", "PCM_24")
    assert output_format("o.flac", 2, 10, like="FLOAT") == ("FLAC", "PCM_24")  # FLAC: no float
    assert output_format("o.flac", 2, 10, like="ULAW") == ("FLAC", "PCM_16")
    assert output_format("o.wav", 2, 10, like="PCM_16", like_format="WAVEX")[0] == "WAVEX"
    assert output_format("o.wav", 6, 10)[0] == "WAVEX"           # channel mask for > 2
    assert output_format("o.wav", 2, 2**30, like="FLOAT")[0] == "RF64"  # past 4 GiB


def test_write_rejects_integer_and_bad_shapes(tmp_path):
    with pytest.raises(InputTypeError, match="int16"):
        write(tmp_path / "x.wav", np.zeros(4, np.int16), 8000)
    with pytest.raises(InputError, match="shape"):
        write(tmp_path / "x.wav", np.zeros((2, 2, 2)), 8000)
    with pytest.raises(InputError, match="44100.5"):
        write(tmp_path / "x.wav", np.zeros(4), 44100.5)


def _bad_files(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(1000), 8000)
    whole = (tmp_path / "ok.wav").read_bytes()
    (tmp_path / "text.wav").write_text("this is not audio\n")
    (tmp_path / "truncated.wav").write_bytes(whole[:1000])
    (tmp_path / "header_only.wav").write_bytes(whole[:30])
    (tmp_path / "codec.wav").write_bytes(riff(0x1234))
    sf.write(tmp_path / "empty.wav", np.zeros((0, 2)), 8000)
    sf.write(tmp_path / "ok.flac", np.random.default_rng(0).uniform(-.5, .5, 100000), 8000)
    flac = (tmp_path / "ok.flac").read_bytes()
    (tmp_path / "truncated.flac").write_bytes(flac[:len(flac) // 2])
    (tmp_path / "dir.wav").mkdir()


BAD = [  # (file, error class, text the one-line message must contain)
    ("missing.wav", FileFormatError, "does not exist"),
    ("dir.wav", FileFormatError, "directory"),
    ("text.wav", FileFormatError, "not a readable audio file"),
    ("truncated.wav", FileFormatError, "truncated"),
    ("header_only.wav", FileFormatError, "not a readable audio file"),
    ("codec.wav", FileFormatError, "not a readable audio file"),
    ("empty.wav", InputError, "no audio frames"),
    ("truncated.flac", FileFormatError, "truncated.flac"),
]


@pytest.mark.parametrize("name,err,match", BAD)
def test_bad_input_files(tmp_path, name, err, match):
    _bad_files(tmp_path)
    with pytest.raises(err, match=match) as excinfo:
        read(tmp_path / name)
    assert name in str(excinfo.value) and "\n" not in str(excinfo.value)


@pytest.mark.parametrize("text,value", [("-1dBFS", -1.0), ("-0.5", -0.5), (-3, -3.0),
                                        (" -6 dB ", -6.0), ("0", 0.0)])
def test_parse_dbfs(text, value):
    assert parse_dbfs(text) == value


@pytest.mark.parametrize("text", ["loud", "-1 dBu", "12", "nan", ""])
def test_parse_dbfs_rejects(text):
    with pytest.raises(InputError, match=repr(text).strip("'")[:3] or "level"):
        parse_dbfs(text)


def test_info_reports_the_header(tmp_path):
    sf.write(tmp_path / "x.flac", np.zeros((4410, 2)), 44100, subtype="PCM_24")
    got = info(tmp_path / "x.flac")
    assert (got.frames, got.channels, got.samplerate, got.format, got.subtype) == (
        4410, 2, 44100, "FLAC", "PCM_24")
    assert got.duration == 0.1


def test_wavex_input_keeps_wavex_output(tmp_path):
    from sigconv.audio import reverb_file

    sf.write(tmp_path / "x.wav", np.full((100, 2), 0.1), 8000, format="WAVEX",
             subtype="PCM_24")
    sf.write(tmp_path / "h.wav", np.ones(3), 8000)
    assert info(tmp_path / "x.wav").format == "WAVEX"
    report = reverb_file(tmp_path / "x.wav", tmp_path / "h.wav", tmp_path / "o.wav")
    assert (report.format, report.subtype) == ("WAVEX", "PCM_24")
    assert sf.info(tmp_path / "o.wav").format == "WAVEX"


@pytest.mark.parametrize("ext, fmt", [("wav", "WAV"), ("rf64", "RF64"), ("w64", "W64"),
                                      ("aiff", "AIFF"), ("au", "AU")])
def test_every_format_with_a_declared_length_refuses_a_cut_off_file(tmp_path, ext, fmt):
    """libsndfile silently returns the frames present; the header says how many there
    should be (RF64 in its ds64 chunk, W64 in GUID chunks, AIFF in SSND, AU up front)."""
    x = np.random.default_rng(2).standard_normal((20000, 2)) * 0.1
    path = tmp_path / f"x.{ext}"
    sf.write(path, x, 8000, format=fmt, subtype="PCM_16")
    assert read(path)[0].shape == (20000, 2)                # whole: fine
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(FileFormatError, match="truncated"):
        read(path)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_32", "FLOAT"])
def test_non_finite_samples_are_refused_not_written(tmp_path, subtype):
    with pytest.raises(InputError, match="NaN or inf"):
        write(tmp_path / "x.wav", np.array([0.5, np.nan, -0.25, np.inf]), 8000,
              subtype=subtype, dither=False)
    assert not (tmp_path / "x.wav").exists()


def test_ogg_beyond_255_channels_is_refused_before_libvorbis_crashes(tmp_path):
    with pytest.raises(InputError, match="255 channels"):
        write(tmp_path / "x.ogg", np.zeros((10, 256)), 8000)
    assert not (tmp_path / "x.ogg").exists()
