"""Audio through pipes: streamed WAV and raw PCM in and out, in-process and through real
subprocess pipelines (``cat in.wav | sigconv reverb - ir.wav -o - > out.wav``)."""

from __future__ import annotations

import io
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from sigconv_cli import audio_cmds
from sigconv_cli.main import main

from sigconv import FileFormatError, InputError
from sigconv.audio import (
    OutputClosedError,
    info,
    StreamWriter,
    echo_file,
    echo_stream,
    open_stream,
    reverb_file,
    reverb_stream,
)
from sigconv.audio._levels import Quantizer
from sigconv.audio._pipes import decode_samples, encode_samples, raw_format



class Pipe(io.RawIOBase):
    """A non-seekable byte source that hands out at most ``step`` bytes a read."""

    def __init__(self, data: bytes, step: int = 777) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self):
        return True

    def readinto(self, buf):
        n = min(len(buf), self._step, len(self._data) - self._pos)
        buf[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


class Sink(io.RawIOBase):
    """A non-seekable byte sink; ``closed_after`` bytes, then a broken pipe."""

    def __init__(self, closed_after: int | None = None) -> None:
        self.data = bytearray()
        self._limit = closed_after

    def writable(self):
        return True

    def write(self, b):
        if self._limit is not None and len(self.data) + len(b) > self._limit:
            raise BrokenPipeError(32, "Broken pipe")
        self.data += bytes(b)
        return len(b)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(4)
    x = 0.2 * rng.standard_normal((6000, 2))
    ir = rng.standard_normal((900, 2)) * np.exp(-np.arange(900) / 200)[:, None] * 0.3
    for sub in ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"):
        sf.write(tmp_path / f"in_{sub}.wav", x, 8000, subtype=sub)
    sf.write(tmp_path / "in.flac", x, 8000, subtype="PCM_24")
    sf.write(tmp_path / "mono.wav", x[:, 0], 8000, subtype="FLOAT")
    sf.write(tmp_path / "ir.wav", ir, 8000, subtype="FLOAT")
    sf.write(tmp_path / "ir4.wav", np.tile(ir, 2), 8000, subtype="FLOAT")
    return tmp_path


def data_size_fields(wav: bytes) -> tuple[int, int]:
    riff = struct.unpack("<I", wav[4:8])[0]
    at = wav.index(b"data")
    return riff, struct.unpack("<I", wav[at + 4:at + 8])[0]


@pytest.mark.parametrize("sub", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "PCM_U8"])
def test_wav_stream_in_and_out_equals_file_to_file(files, sub):
    ref = reverb_file(files / f"in_{sub}.wav", files / "ir.wav", files / "ref.wav",
                      dither=False, stream=True, block_size=2048)
    sink = Sink()
    got = reverb_stream(Pipe((files / f"in_{sub}.wav").read_bytes()), files / "ir.wav",
                        sink, dither=False, block_size=2048)
    head = len(bytes(sink.data)) - got.frames * 2 * {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3,
                                                      "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}[sub]
    # streamed header: sox's "length unknown" data size, the RIFF size to match
    assert data_size_fields(bytes(sink.data)) == (0x7FFFF000 + head - 8, 0x7FFFF000)
    (files / "got.wav").write_bytes(sink.data)
    assert info(files / "got.wav").frames == 6899     # sigconv's own reader takes it too
    a, rate = sf.read(files / "got.wav", dtype="float64")      # soundfile reads it back
    b, _ = sf.read(files / "ref.wav", dtype="float64")
    assert rate == 8000 and sf.info(files / "got.wav").subtype == sub
    assert got.frames == ref.frames == 6899 and got.input.frames == 6000
    # The file render zero-pads its last block (other FFT sizes, other rounding): one
    # step of the output format at most.
    step = {"PCM_U8": 2 ** -7, "PCM_16": 2 ** -15, "PCM_24": 2 ** -23, "PCM_32": 2 ** -31,
            "FLOAT": 1e-7, "DOUBLE": 1e-15}[sub]
    np.testing.assert_allclose(a, b, rtol=0, atol=step * 1.01)


def test_seekable_output_gets_the_real_sizes_and_odd_data_is_padded(files):
    out = io.BytesIO()
    reverb_stream(files / "mono.wav", files / "ir.wav", out, subtype="PCM_U8", dither=False)
    wav = out.getvalue()
    riff, data = data_size_fields(wav)
    assert data == 6899 * 2 and riff == len(wav) - 8       # split routing: stereo out
    (files / "u8.wav").write_bytes(wav)
    assert sf.info(files / "u8.wav").frames == 6899


def test_flac_on_a_stream_is_spooled_and_equals_the_file(files):
    ref = reverb_file(files / "in.flac", files / "ir.wav", files / "ref.wav", subtype="FLOAT")
    sink = Sink()
    reverb_stream(Pipe((files / "in.flac").read_bytes()), files / "ir.wav", sink,
                  subtype="FLOAT")
    (files / "got.wav").write_bytes(sink.data)
    np.testing.assert_allclose(sf.read(files / "got.wav")[0], sf.read(files / "ref.wav")[0],
                               rtol=0, atol=1e-6)
    assert ref.frames == 6899
    assert not list(files.glob(".sigconv-stdin-*"))


@pytest.mark.parametrize("name", ["u8", "s16le", "s24le", "s32le", "f32le", "f64le"])
def test_raw_round_trip_is_exact(name):
    fmt = raw_format(name)
    bits = 8 * fmt.width
    rng = np.random.default_rng(bits)
    if name.startswith("f"):
        x = rng.standard_normal((500, 3)).astype(np.float32 if bits == 32 else np.float64)
    else:                                # integers on the grid of the format
        x = rng.integers(-2 ** (bits - 1), 2 ** (bits - 1), (500, 3)) / 2.0 ** (bits - 1)
    dtype = np.float64
    raw = encode_samples(Quantizer(fmt.subtype, dither=False)(x), fmt)
    assert len(raw) == 500 * 3 * fmt.width
    np.testing.assert_array_equal(decode_samples(raw, fmt, 3, dtype), x)
    # through reverb_stream with a dry-only mix: the output is the input, in the same format
    sink = Sink()
    r = reverb_stream(Pipe(raw), _dirac(), sink, raw_in=name, samplerate=44100, channels=3,
                      raw_out=name, wet=0.0, dither=False, tail=False)
    assert bytes(sink.data) == raw and r.frames == 500 and r.format == "RAW"


def _dirac(path=[]):  # noqa: B006 - one file for the module's tests
    if not path:
        import os
        import tempfile
        p = os.path.join(tempfile.mkdtemp(), "dirac.wav")
        sf.write(p, np.array([1.0, 0.0]), 44100, subtype="FLOAT")
        path.append(p)
    return path[0]


def test_decoding_against_integer_oracle():
    values = [0, 1, -1, 2 ** 23 - 1, -2 ** 23, 12345, -54321]
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    got = decode_samples(raw, raw_format("s24le"), 1, np.float64)[:, 0]
    assert got.tolist() == [v / 2 ** 23 for v in values]
    raw = b"".join(v.to_bytes(2, "little", signed=True) for v in (-32768, 32767, 7))
    assert decode_samples(raw, raw_format("s16le"), 1, np.float64)[:, 0].tolist() == \
        [-1.0, 32767 / 32768, 7 / 32768]
    assert decode_samples(bytes([0, 128, 255]), raw_format("u8"), 1, np.float64)[:, 0] \
        .tolist() == [-1.0, 0.0, 127 / 128]


def test_echo_stream_equals_echo_file(files):
    echo_file(files / "in_FLOAT.wav", files / "ref.wav", delay=0.05, repeats=3)
    sink = Sink()
    echo_stream(Pipe((files / "in_FLOAT.wav").read_bytes()), sink, delay=0.05, repeats=3)
    (files / "got.wav").write_bytes(sink.data)
    np.testing.assert_allclose(sf.read(files / "got.wav")[0], sf.read(files / "ref.wav")[0],
                               rtol=0, atol=1e-6)


def test_normalize_through_a_stream(files):
    reverb_file(files / "in_FLOAT.wav", files / "ir4.wav", files / "ref.wav", normalize=-3)
    sink = Sink()
    r = reverb_stream(Pipe((files / "in_FLOAT.wav").read_bytes()), files / "ir4.wav", sink,
                      normalize="-3dBFS")
    (files / "got.wav").write_bytes(sink.data)
    got, want = sf.read(files / "got.wav")[0], sf.read(files / "ref.wav")[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert r.routing == "true-stereo"
    assert np.max(np.abs(got)) == pytest.approx(10 ** (-3 / 20), rel=1e-6)


def test_broken_pipe_raises_output_closed(files):
    with pytest.raises(OutputClosedError, match="closed the pipe") as info:
        reverb_stream(Pipe((files / "in_FLOAT.wav").read_bytes()), files / "ir.wav",
                      Sink(closed_after=1000))
    assert isinstance(info.value, BrokenPipeError)


def _wav_header(tag=1, bits=16, channels=1, data=0xFFFFFFFF):
    fmt = struct.pack("<HHIIHH", tag, channels, 8000, 8000 * channels * bits // 8,
                      channels * bits // 8, bits)
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"LIST" + struct.pack("<I", 3) + b"abc\0"    # odd chunk, padded
            + b"data" + struct.pack("<I", data))


def test_wav_stream_edge_cases():
    for unknown in (0xFFFFFFFF, 0x7FFFF000, 0):             # placeholders: until the end
        r = open_stream(Pipe(_wav_header(data=unknown) + bytes(10)))
        assert r.frames is None and r.read(100, np.float32).shape == (5, 1)
    r = open_stream(Pipe(_wav_header(data=4) + bytes(10)))   # a size: read that much
    assert r.frames == 2 and r.read(100, np.float32).shape == (2, 1)
    with pytest.raises(FileFormatError, match="truncated: its header declares 8 frames"):
        open_stream(Pipe(_wav_header(data=16) + bytes(10))).read(100, np.float32)
    with pytest.raises(FileFormatError, match="ends within a frame: 1 bytes left over"):
        open_stream(Pipe(_wav_header() + bytes(9))).read(100, np.float32)
    with pytest.raises(FileFormatError, match="tag 0x0002 with 4 bits is not supported"):
        open_stream(Pipe(_wav_header(tag=2, bits=4)))
    with pytest.raises(FileFormatError, match="no 'data' chunk"):
        open_stream(Pipe(_wav_header()[:-8]))
    with pytest.raises(FileFormatError, match="input '-' is not a readable audio file"):
        open_stream(Pipe(b"hello, this is not audio at all"))


def test_stream_errors_quote_values(files):
    with pytest.raises(InputError, match="raw sample format must be one of .* not 's12le'"):
        open_stream(Pipe(b""), raw="s12le", samplerate=8000, channels=1)
    with pytest.raises(InputError, match="needs its sample rate and channel count"):
        open_stream(Pipe(b""), raw="s16le")
    with pytest.raises(InputError, match="channels must be .* not 0"):
        open_stream(Pipe(b""), raw="s16le", samplerate=8000, channels=0)
    with pytest.raises(InputError, match="samplerate must be .* not -5"):
        open_stream(Pipe(b""), raw="s16le", samplerate=-5, channels=1)
    with pytest.raises(InputError, match="only for raw input"):
        open_stream(Pipe(b""), samplerate=8000)
    with pytest.raises(InputError, match="cannot write subtype 'VORBIS' to a stream"):
        StreamWriter(Sink(), 8000, 1, "VORBIS")
    with pytest.raises(InputError, match="holds no audio frames"):
        reverb_stream(Pipe(b""), files / "ir.wav", Sink(), raw_in="f32le", samplerate=8000,
                      channels=2)
    with pytest.raises(InputError, match="NaN"):
        reverb_stream(Pipe(np.array([0.0, np.nan], "<f4").tobytes()), files / "ir.wav",
                      Sink(), raw_in="f32le", samplerate=8000, channels=1)


# ---- the command line, in process ---------------------------------------------------


@pytest.fixture
def hooked():
    """The pipe options are part of the reverb and echo parsers."""
    assert "install_pipes" in vars(audio_cmds)


def run_in_process(monkeypatch, capsys, argv, stdin: bytes = b""):
    out = io.BytesIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out))
    code = main([str(a) for a in argv])
    sys.stdout.flush()
    return code, out.getvalue(), capsys.readouterr().err


def test_cli_in_process_stdin_to_stdout(files, hooked, monkeypatch, capsys):
    code, out, err = run_in_process(monkeypatch, capsys,
                                    ["reverb", "-", files / "ir.wav", "-o", "-"],
                                    (files / "in_PCM_24.wav").read_bytes())
    assert code == 0, err
    assert err.startswith("sigconv: wrote '-': 6899 frames x 2 ch at 8000 Hz, WAV/PCM_24")
    (files / "got.wav").write_bytes(out)
    assert main(["reverb", str(files / "in_PCM_24.wav"), str(files / "ir.wav"), "-o",
                 str(files / "ref.wav"), "--quiet"]) == 0
    np.testing.assert_array_equal(sf.read(files / "got.wav")[0], sf.read(files / "ref.wav")[0])


def test_cli_in_process_raw_to_file_and_file_to_raw(files, hooked, monkeypatch, capsys):
    x = np.random.default_rng(1).standard_normal((3000, 2)).astype("<f4") * 0.1
    code, _, err = run_in_process(
        monkeypatch, capsys, ["echo", "-", "-o", files / "e.wav", "--delay", "0.01",
                              "--raw-in", "--rate", "8000", "--channels", "2", "--quiet"],
        x.tobytes())
    assert code == 0 and err == ""
    got, rate = sf.read(files / "e.wav", dtype="float32")
    assert rate == 8000 and sf.info(files / "e.wav").subtype == "FLOAT"
    np.testing.assert_allclose(got[:80], x[:80], atol=1e-7)     # before the first echo
    code, out, err = run_in_process(
        monkeypatch, capsys, ["echo", files / "e.wav", "-o", "-", "--delay", "0.01",
                              "--raw-out", "--format", "s16le", "--no-dither", "--quiet"])
    assert code == 0 and err == ""
    assert len(out) == (3320 + 320) * 2 * 2


@pytest.mark.parametrize("argv,message", [
    (["reverb", "in_FLOAT.wav", "-", "-o", "-"], "the IR cannot be '-'"),
    (["reverb", "-", "ir.wav", "-o", "-", "--raw-in"], "--raw-in needs --rate and --channels"),
    (["reverb", "-", "ir.wav", "-o", "-", "--rate", "8000"], "--rate and --channels describe"),
    (["reverb", "-", "ir.wav", "-o", "-", "--plot", "p.png"], "--plot needs files"),
    (["reverb", "-", "ir.wav", "-o", "-", "--subtype", "ULAW"], "not 'ULAW'"),
    (["echo", "-", "-o", "-", "--delay", "1", "--format", "s16le"], "--format is the sample"),
])
def test_cli_usage_errors_exit_2_in_one_line(files, hooked, monkeypatch, capsys, argv,
                                             message):
    monkeypatch.chdir(files)
    code, out, err = run_in_process(monkeypatch, capsys, argv)
    assert code == 2 and out == b""
    assert err.count("\n") == 1 and err.startswith("sigconv: error: ") and message in err


def test_cli_bad_stream_is_one_line_exit_1(files, hooked, monkeypatch, capsys):
    code, out, err = run_in_process(monkeypatch, capsys,
                                    ["reverb", "-", files / "ir.wav", "-o", "-"], b"RIFF")
    assert code == 1 and err.count("\n") == 1 and "'-'" in err


# ---- real pipelines ----------------------------------------------------------------


def sigconv_cmd(*args):
    return [sys.executable, "-m", "sigconv_cli", *map(str, args)]


def test_pipeline_cat_to_sigconv_to_file_equals_file_to_file(files):
    ref = files / "ref.wav"
    subprocess.run(sigconv_cmd("reverb", files / "in_PCM_24.wav", files / "ir.wav", "-o", ref,
                               "--quiet"), check=True)
    out = files / "out.wav"
    with open(out, "wb") as fh:
        cat = subprocess.Popen(["cat", str(files / "in_PCM_24.wav")], stdout=subprocess.PIPE)
        proc = subprocess.run(sigconv_cmd("reverb", "-", files / "ir.wav", "-o", "-"),
                              stdin=cat.stdout, stdout=fh, stderr=subprocess.PIPE)
        cat.stdout.close()
        cat.wait()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().startswith("sigconv: wrote '-'")     # messages on stderr
    assert data_size_fields(out.read_bytes())[1] == 6899 * 2 * 3     # seekable: real size
    np.testing.assert_array_equal(sf.read(out)[0], sf.read(ref)[0])


def test_pipeline_raw_round_trip(files):
    x = np.random.default_rng(2).standard_normal((4000, 2)).astype("<f4") * 0.1
    proc = subprocess.run(sigconv_cmd("reverb", "-", files / "ir.wav", "-o", "-", "--raw-in",
                                      "--raw-out", "--rate", "8000", "--channels", "2",
                                      "--format", "f32le", "--wet", "0", "--no-tail",
                                      "--quiet"),
                          input=x.tobytes(), capture_output=True)
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout == x.tobytes()


def test_pipeline_closed_reader_exits_141_quietly(files):
    big = files / "big.wav"
    sf.write(big, np.zeros((200_000, 2), np.float32), 8000, subtype="FLOAT")
    with open(big, "rb") as src:
        proc = subprocess.Popen(sigconv_cmd("reverb", "-", files / "ir.wav", "-o", "-",
                                            "--block-size", "4096"),
                                stdin=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert len(proc.stdout.read(100)) == 100
        proc.stdout.close()                 # the reader goes away (like `| head -c 100`)
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 141
    assert err == b""


def test_installed_command_takes_pipes(files):
    proc = subprocess.run([sys.executable, "-m", "sigconv_cli", "reverb", "-",
                           str(files / "ir.wav"), "-o", "-", "--quiet"],
                          input=(files / "in_FLOAT.wav").read_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout[:4] == b"RIFF"


def test_raw_files_in_and_out_by_path(files):
    x = np.random.default_rng(3).integers(-2 ** 15, 2 ** 15, (700, 2)).astype("<i2")
    (files / "in.raw").write_bytes(x.tobytes())
    r = reverb_stream(files / "in.raw", _dirac(), files / "out.raw", raw_in="s16le",
                      samplerate=44100, channels=2, raw_out="s16le", wet=0.0, tail=False,
                      dither=False)
    assert (files / "out.raw").read_bytes() == x.tobytes() and r.input.path.endswith("in.raw")
    with pytest.raises(FileFormatError, match="missing.raw' cannot be opened"):
        open_stream(files / "missing.raw", raw="s16le", samplerate=8000, channels=1)


def test_raw_in_to_standard_output_writes_raw_unless_a_wav_subtype_is_asked(files):
    # the command line: ... --raw-in --rate 48000 --channels 2 --format f32le > out.raw
    x = np.random.default_rng(5).uniform(-0.5, 0.5, (600, 2)).astype("<f4")
    common = ["echo", "-", "-o", "-", "--raw-in", "--rate", "8000", "--channels", "2",
              "--format", "f32le", "--delay", "0.01", "--no-tail", "--quiet"]
    raw = subprocess.run(sigconv_cmd(*common), input=x.tobytes(), capture_output=True)
    assert raw.returncode == 0, raw.stderr
    assert len(raw.stdout) == x.nbytes and raw.stdout[:4] != b"RIFF"
    wav = subprocess.run(sigconv_cmd(*common, "--subtype", "FLOAT"), input=x.tobytes(),
                         capture_output=True)
    assert wav.returncode == 0, wav.stderr
    assert wav.stdout[:4] == b"RIFF"
    y_raw = np.frombuffer(raw.stdout, "<f4").reshape(-1, 2)
    y_wav, rate = sf.read(io.BytesIO(wav.stdout), dtype="float32")
    assert rate == 8000 and np.array_equal(y_raw, y_wav)
