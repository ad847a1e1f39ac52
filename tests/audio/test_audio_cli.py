"""``sigconv reverb`` / ``sigconv echo`` through ``main([...])`` on files in tmp_path."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from sigconv_cli.main import main
from test_audio_io import BAD, _bad_files

from sigconv.audio import _levels


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(11)
    sf.write(tmp_path / "mono.wav", 0.1 * rng.standard_normal(4000), 8000, subtype="PCM_24")
    sf.write(tmp_path / "stereo.wav", 0.3 * rng.standard_normal((4000, 2)), 8000,
             subtype="FLOAT")
    sf.write(tmp_path / "three.wav", 0.3 * rng.standard_normal((4000, 3)), 8000)
    decay = np.exp(-np.arange(600) / 150)[:, None]
    sf.write(tmp_path / "ir2.wav", rng.standard_normal((600, 2)) * decay * 0.5, 8000,
             subtype="FLOAT")
    sf.write(tmp_path / "ir4.wav", rng.standard_normal((600, 4)) * decay * 0.5, 8000,
             subtype="FLOAT")
    sf.write(tmp_path / "ir_11k.wav", rng.standard_normal(330) * decay[:330, 0] * 0.5, 11025,
             subtype="FLOAT")
    return tmp_path


def leftovers(path):
    return [p.name for p in path.iterdir() if p.name.startswith(".sigconv")]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_reverb_mono_through_stereo_ir_matches_oracle(files, capsys):
    code, _, err = run(capsys, "reverb", files / "mono.wav", files / "ir2.wav", "-o",
                       files / "out.wav", "--wet", "0.5", "--dry", "0.8", "--predelay-ms", "10",
                       "--subtype", "FLOAT")
    assert code == 0, err
    assert "wrote" in err and "FLOAT" in err
    y, rate = sf.read(files / "out.wav")
    x, _ = sf.read(files / "mono.wav")
    ir, _ = sf.read(files / "ir2.wav")
    g = 1 / np.sqrt(np.sum(ir ** 2) / 2)  # energy normalisation, the default
    ref = np.zeros((4000 + 80 + 599, 2))
    for ch in range(2):
        ref[80:80 + 4599, ch] += 0.5 * g * np.convolve(x, ir[:, ch])
        ref[:4000, ch] += 0.8 * x
    assert rate == 8000 and y.shape == ref.shape
    assert np.max(np.abs(y - ref)) < 1e-5 * np.max(np.abs(ref))
    assert leftovers(files) == []


def test_reverb_true_stereo_and_subtype_kept(files, capsys):
    code, _, err = run(capsys, "reverb", files / "stereo.wav", files / "ir4.wav", "-o",
                       files / "out.wav", "--no-tail", "--ir-norm", "none", "--quiet")
    assert code == 0 and err == ""
    assert sf.info(files / "out.wav").subtype == "FLOAT"  # kept from the input
    y, _ = sf.read(files / "out.wav")
    x, _ = sf.read(files / "stereo.wav")
    ir, _ = sf.read(files / "ir4.wav")
    wet_l = np.convolve(x[:, 0], ir[:, 0]) + np.convolve(x[:, 1], ir[:, 2])
    wet_r = np.convolve(x[:, 0], ir[:, 1]) + np.convolve(x[:, 1], ir[:, 3])
    ref = x + 0.35 * np.stack([wet_l, wet_r], 1)[:4000]
    assert y.shape == (4000, 2)
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_pcm24_input_gives_pcm24_output(files, capsys):
    assert run(capsys, "reverb", files / "mono.wav", files / "ir2.wav", "-o",
               files / "o.flac")[0] == 0
    assert sf.info(files / "o.flac").subtype == "PCM_24"
    assert sf.info(files / "o.flac").format == "FLAC"


def test_stream_and_offline_commands_agree(files, capsys):
    common = ["--subtype", "FLOAT", "--quiet", "--predelay-ms", "3"]
    assert run(capsys, "reverb", files / "stereo.wav", files / "ir2.wav", "-o",
               files / "a.wav", "--no-stream", *common)[0] == 0
    assert run(capsys, "reverb", files / "stereo.wav", files / "ir2.wav", "-o",
               files / "b.wav", "--stream", "--block-size", "700", *common)[0] == 0
    a, _ = sf.read(files / "a.wav")
    b, _ = sf.read(files / "b.wav")
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-6


def test_resampled_ir_is_noted_unless_quiet(files, capsys):
    code, _, err = run(capsys, "reverb", files / "mono.wav", files / "ir_11k.wav", "-o",
                       files / "o.wav")
    assert code == 0
    assert "11025 Hz" in err and "8000 Hz" in err and "resampling" in err
    assert sf.info(files / "o.wav").frames == 4000 + 240 - 1  # 330 taps at 11025 -> 240
    code, _, err = run(capsys, "reverb", files / "mono.wav", files / "ir_11k.wav", "-o",
                       files / "q.wav", "--quiet")
    assert code == 0 and err == ""


def test_echo_command(files, capsys):
    code, _, err = run(capsys, "echo", files / "stereo.wav", "-o", files / "e.wav",
                       "--delay", "0.1", "--decay", "0.5", "--repeats", "2")
    assert code == 0, err
    y, _ = sf.read(files / "e.wav")
    x, _ = sf.read(files / "stereo.wav")
    ref = np.zeros((4000 + 1600, 2))
    for k in range(3):
        ref[800 * k:800 * k + 4000] += 0.5 ** k * x
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_clipping_is_reported_even_when_quiet(files, capsys):
    loud = files / "loud.wav"
    sf.write(loud, np.full(2000, 0.9), 8000, subtype="PCM_16")
    code, _, err = run(capsys, "reverb", loud, files / "ir2.wav", "-o", files / "o.wav",
                       "--wet", "1", "--ir-norm", "peak", "--quiet")
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "samples clipped" in lines[0]
    clipped = int(lines[0].split("warning: ")[1].split()[0])
    y, _ = sf.read(files / "o.wav", dtype="int16")
    assert clipped > 0 and np.count_nonzero(np.abs(y.astype(int)) >= 32767) >= clipped * 0.9


def test_normalize_sets_the_peak(files, capsys):
    loud = files / "loud.wav"
    sf.write(loud, np.full(2000, 0.9), 8000, subtype="PCM_16")
    for flag, target in (("--normalize", -1.0), ("--normalize=-6dBFS", -6.0)):
        out = files / f"n{-target:.0f}.wav"
        code, _, err = run(capsys, "reverb", loud, files / "ir2.wav", "-o", out, "--wet", "1",
                           "--ir-norm", "peak", flag)
        assert code == 0 and "clipped" not in err and "gain" in err
        y, _ = sf.read(out)
        assert abs(20 * np.log10(np.max(np.abs(y))) - target) < 0.01


def test_existing_output_needs_force(files, capsys):
    out = files / "o.wav"
    out.write_bytes(b"keep me")
    code, _, err = run(capsys, "echo", files / "mono.wav", "-o", out, "--delay", "0.1")
    assert code == 1 and err.startswith("sigconv: error:") and "--force" in err
    assert out.read_bytes() == b"keep me"
    assert run(capsys, "echo", files / "mono.wav", "-o", out, "--delay", "0.1",
               "--force")[0] == 0
    assert sf.info(out).frames == 4000 + 4 * 800


@pytest.mark.parametrize("which", ["input", "ir"])
def test_never_overwrites_an_input(files, capsys, which):
    before = (files / "mono.wav").read_bytes()
    args = ["reverb", files / "mono.wav", files / "ir2.wav", "-o"]
    target = files / "mono.wav" if which == "input" else files / "ir2.wav"
    code, _, err = run(capsys, *args, target, "--force")
    assert code == 1 and "refusing to overwrite an input" in err
    assert (files / "mono.wav").read_bytes() == before


@pytest.mark.parametrize("name,err_cls,match", BAD)
@pytest.mark.parametrize("role", ["input", "IR"])
def test_bad_files_give_one_line_errors_and_no_output(tmp_path, capsys, name, err_cls, match,
                                                      role):
    _bad_files(tmp_path)
    sf.write(tmp_path / "good.wav", np.linspace(-0.5, 0.5, 100), 8000)
    bad, good = tmp_path / name, tmp_path / "good.wav"
    pair = (bad, good) if role == "input" else (good, bad)
    code, out, err = run(capsys, "reverb", *pair, "-o", tmp_path / "out.wav")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sigconv: error: ")
    assert match in lines[0] and "Traceback" not in err
    assert not (tmp_path / "out.wav").exists() and leftovers(tmp_path) == []


def test_unroutable_channels_error_names_both_counts(files, capsys):
    code, _, err = run(capsys, "reverb", files / "three.wav", files / "ir2.wav", "-o",
                       files / "o.wav")
    assert code == 1 and "3-channel input" in err and "2-channel IR" in err
    assert not (files / "o.wav").exists() and leftovers(files) == []


@pytest.mark.parametrize("extra,match,status", [
    (["--subtype", "PCM_99"], "'PCM_99'", 1),
    (["--normalize", "loud"], "'loud'", 1),
    (["--ir-norm", "none", "--wet", "nan"], "nan", 2),      # usage errors: exit 2
    (["--predelay-ms", "-5"], "-5", 1),
    (["--block-size", "0", "--stream"], "'0'", 2),
    (["--block-size", "-3"], "-3", 2),
    (["--workers", "0"], "'0'", 2),
])
def test_bad_options_are_one_line_errors(files, capsys, extra, match, status):
    code, _, err = run(capsys, "reverb", files / "mono.wav", files / "ir2.wav", "-o",
                       files / "o.wav", *extra)
    assert code == status and match in err and len(err.splitlines()) == 1
    assert not (files / "o.wav").exists() and leftovers(files) == []


def test_bad_output_extension(files, capsys):
    code, _, err = run(capsys, "echo", files / "mono.wav", "-o", files / "o.xyz",
                       "--delay", "0.1")
    assert code == 1 and "'.xyz'" in err and not (files / "o.xyz").exists()
    assert ".sigconv-" not in err and str(files / "o.xyz") in err   # the user's name
    assert leftovers(files) == []


@pytest.mark.parametrize("command", [["reverb", "{d}/mono.wav", "{d}/ir2.wav"],
                                     ["reverb", "{d}/mono.wav", "{d}/ir2.wav", "--stream"],
                                     ["echo", "{d}/stereo.wav", "--delay", "0.05"]])
def test_a_failing_write_is_one_line_naming_the_output(files, capsys, monkeypatch, command):
    """libsndfile's write errors (a full disk: "System error.") are RuntimeErrors."""
    def full_disk(self, data):
        raise sf.LibsndfileError(2)

    monkeypatch.setattr(sf.SoundFile, "write", full_disk)
    out = files / "o.flac"
    code, _, err = run(capsys, *[a.format(d=files) for a in command], "-o", out)
    assert code == 1 and len(err.splitlines()) == 1
    assert f"cannot write '{out}': System error" in err and "Traceback" not in err
    assert not out.exists() and leftovers(files) == []


def test_usage_errors_exit_2(files, capsys):
    assert run(capsys, "reverb", files / "mono.wav", files / "ir2.wav")[0] == 2  # no -o
    assert run(capsys, "echo", files / "mono.wav", "-o", files / "o.wav")[0] == 2  # no --delay
    assert run(capsys, "reverb", files / "mono.wav", files / "ir2.wav", "-o", files / "o.wav",
               "--ir-norm", "rms")[0] == 2
    assert not (files / "o.wav").exists()


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_interrupt_leaves_no_file(files, capsys, monkeypatch, stream):
    calls = {"n": 0}
    real = _levels.Quantizer.__call__

    def interrupted(self, block):
        calls["n"] += 1
        if calls["n"] == 2 or stream == "--no-stream":
            raise KeyboardInterrupt
        return real(self, block)

    monkeypatch.setattr(_levels.Quantizer, "__call__", interrupted)
    code, _, err = run(capsys, "reverb", files / "stereo.wav", files / "ir2.wav", "-o",
                       files / "o.wav", stream, "--block-size", "1000")
    assert code == 130 and "interrupted" in err
    assert not (files / "o.wav").exists() and leftovers(files) == []
    assert sorted(os.listdir(files)) == sorted(
        ["mono.wav", "stereo.wav", "three.wav", "ir2.wav", "ir4.wav", "ir_11k.wav"])


DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "data")


@pytest.mark.parametrize("ir,channels,routing", [
    ("ir_room_small.wav", 2, "split"), ("ir_hall.wav", 2, "split"),
    ("ir_plate_truestereo_44k.wav", 2, "true-stereo"),
])
def test_bundled_data_main_job(tmp_path, capsys, ir, channels, routing):
    dry = os.path.join(DATA, "pluck_dry.wav")
    code, _, err = run(capsys, "reverb", dry, os.path.join(DATA, ir), "-o", tmp_path / "o.wav")
    assert code == 0, err
    got = sf.info(tmp_path / "o.wav")
    assert got.channels == channels and got.samplerate == 48000 and got.subtype == "PCM_16"
    assert ("resampling" in err) == ir.endswith("_44k.wav")
    assert "clipped" not in err  # the defaults keep the bundled example below full scale


def test_progress_bar_option_runs(tmp_path, capsys):
    from sigconv.audio import reverb_file

    sf.write(tmp_path / "x.wav", np.zeros(1000), 8000)
    sf.write(tmp_path / "h.wav", np.ones(10), 8000)
    report = reverb_file(tmp_path / "x.wav", tmp_path / "h.wav", tmp_path / "o.wav",
                         progress=True, stream=True, block_size=256)
    assert report.streamed and report.routing == "shared" and report.frames == 1009
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_nan_in_float_input_is_an_error(tmp_path, capsys, stream):
    x = np.zeros((3000, 2), np.float32)
    x[2500, 1] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    sf.write(tmp_path / "h.wav", np.ones(5), 8000)
    code, _, err = run(capsys, "reverb", tmp_path / "nan.wav", tmp_path / "h.wav", "-o",
                       tmp_path / "o.wav", stream, "--block-size", "1000")
    assert code == 1 and "NaN" in err and "nan.wav" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o.wav").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("src_ext,src_subtype,out_ext,want", [
    (".ogg", "VORBIS", ".wav", ("WAV", "PCM_16")),
    (".flac", "PCM_24", ".aiff", ("AIFF", "PCM_24")),
    (".aiff", "PCM_16", ".ogg", ("OGG", "VORBIS")),
    (".wav", "FLOAT", ".flac", ("FLAC", "PCM_24")),
])
def test_formats_in_and_out(tmp_path, capsys, src_ext, src_subtype, out_ext, want):
    t = np.arange(8000) / 8000
    sf.write(tmp_path / f"x{src_ext}", 0.3 * np.sin(2 * np.pi * 440 * t), 8000,
             subtype=src_subtype)
    sf.write(tmp_path / "h.wav", np.exp(-np.arange(400) / 80), 8000, subtype="FLOAT")
    code, _, err = run(capsys, "reverb", tmp_path / f"x{src_ext}", tmp_path / "h.wav", "-o",
                       tmp_path / f"o{out_ext}")
    assert code == 0, err
    got = sf.info(tmp_path / f"o{out_ext}")
    assert (got.format, got.subtype) == want
    assert abs(got.frames - (8000 + 399)) <= (0 if out_ext != ".ogg" else 1024)


def test_standard_input_as_the_ir_is_refused_clearly(files, capsys):
    # '-' as INPUT is a pipe (tests/audio/test_audio_pipes.py); the IR must be a file
    code, _, err = run(capsys, "reverb", files / "mono.wav", "-", "-o", files / "o.wav")
    assert code in (1, 2) and "'-'" in err and len(err.splitlines()) == 1
    assert not (files / "o.wav").exists()


def test_input_errors_are_not_reported_as_write_errors(files, capsys):
    code, _, err = run(capsys, "reverb", files / "missing.wav", files / "ir2.wav", "-o",
                       files / "o.wav")
    assert code == 1 and "missing.wav" in err and "cannot write" not in err


@pytest.mark.parametrize("extra", [[], ["--stream", "--block-size", "1000"]])
@pytest.mark.parametrize("dither", ["--dither", "--no-dither"])
def test_normalize_to_full_scale_does_not_clip_integer_output(files, capsys, extra, dither):
    out = files / "o.wav"
    code, _, err = run(capsys, "reverb", files / "mono.wav", files / "ir2.wav", "-o", out,
                       "--normalize=0", "--subtype", "PCM_16", dither, *extra)
    assert code == 0 and "clipped" not in err
    peak = np.abs(sf.read(out, dtype="int16")[0].astype(np.int32)).max()
    assert 32700 < peak <= 32767
