"""``--plot`` of reverb, echo, blur, edges, filter and calibrate through ``main([...])``."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

import sigconv.plot
from sigconv import image
from sigconv_cli.main import main

RATE = 8000


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    sf.write(tmp_path / "dry.wav", 0.2 * rng.standard_normal(2000), RATE, subtype="FLOAT")
    t = np.arange(2400) / RATE
    ir = rng.standard_normal((2400, 2)) * (10 ** (-3 * t / 0.2))[:, None] * 0.3
    sf.write(tmp_path / "ir.wav", ir, RATE, subtype="FLOAT")
    img = np.zeros((24, 32, 3), np.uint8)
    img[6:18, 8:24] = (200, 120, 40)
    image.write(tmp_path / "in.png", img)
    np.savetxt(tmp_path / "k.csv", [[0, 1, 0], [1, 2, 1], [0, 1, 0]], delimiter=",")
    return tmp_path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def names(path):
    return sorted(p.name for p in path.iterdir())


def png_ok(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 600 and pixels.std() > 20
    return pixels


def test_reverb_plot(files, capsys):
    code, _, err = run(capsys, "reverb", files / "dry.wav", files / "ir.wav", "-o",
                       files / "wet.wav", "--plot", files / "wet.png")
    assert code == 0, err
    assert f"drew '{files / 'wet.png'}'" in err
    png_ok(files / "wet.png")
    assert names(files) == ["dry.wav", "in.png", "ir.wav", "k.csv", "wet.png", "wet.wav"]


def test_reverb_plot_shows_the_ir_file(files, capsys, monkeypatch):
    seen = {}
    monkeypatch.setattr(sigconv.plot, "audio_files",
                        lambda *a, **k: seen.update(args=a, kwargs=k))
    code, _, err = run(capsys, "reverb", files / "dry.wav", files / "ir.wav", "-o",
                       files / "wet.wav", "--plot", files / "wet.png", "--wet", "0.5")
    assert code == 0, err
    assert seen["args"] == (str(files / "dry.wav"), str(files / "wet.wav"),
                            str(files / "wet.png"))
    assert seen["kwargs"]["ir"] == str(files / "ir.wav")
    assert "dry.wav through ir.wav (dry 1, wet 0.5)" in seen["kwargs"]["title"]


def test_echo_plot_draws_the_echo_ir(files, capsys, monkeypatch):
    seen = {}
    real = sigconv.plot.audio_files
    monkeypatch.setattr(sigconv.plot, "audio_files",
                        lambda *a, **k: (seen.update(k), real(*a, **k))[1])
    code, _, err = run(capsys, "echo", files / "dry.wav", "-o", files / "e.wav", "--delay",
                       "0.01", "--decay", "0.5", "--repeats", "3", "--plot", files / "e.svg")
    assert code == 0, err
    expected = np.zeros(241)
    expected[::80] = [1, 0.5, 0.25, 0.125]
    np.testing.assert_array_equal(seen["ir"], expected)
    with open(files / "e.svg", "rb") as f:
        assert f.read(5) == b"<?xml"


@pytest.mark.parametrize("command, title", [
    (["blur", "--sigma", "1"], "Gaussian, sigma 1"),
    (["blur", "--box", "3"], "box 3x3 (mean)"),
    (["edges"], "Sobel x (correlated)"),
    (["edges", "--operator", "laplacian"], "Laplacian"),
    (["filter", "--kernel", "sharpen"], "sharpen\n(convolved: slid flipped)"),
])
def test_image_plots(files, capsys, monkeypatch, command, title):
    seen = {}
    real = sigconv.plot.image_filter
    monkeypatch.setattr(sigconv.plot, "image_filter",
                        lambda *a, **k: (seen.update(args=a, kwargs=k), real(*a, **k))[1])
    code, _, err = run(capsys, command[0], files / "in.png", "-o", files / "out.png",
                       *command[1:], "--plot", files / "p.png")
    assert code == 0, err
    png_ok(files / "p.png")
    before, kernel, after, _path = seen["args"]
    np.testing.assert_array_equal(before, image.read(files / "in.png"))
    np.testing.assert_array_equal(after, image.read(files / "out.png"))
    kt = seen["kwargs"]["kernel_titles"]
    assert title in (list(kernel) if kt is None else [kt])


def test_plotted_kernels_are_the_ones_applied(files, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(sigconv.plot, "image_filter", lambda *a, **k: seen.append(a[1]))
    for argv in (["blur", "--sigma", "1.5"], ["blur", "--box", "4"],
                 ["edges", "--direction", "y"],
                 ["filter", "--kernel", str(files / "k.csv"), "--normalize"]):
        assert run(capsys, argv[0], files / "in.png", "-o", files / "o.png", *argv[1:],
                   "--plot", files / "p.png", "--force")[0] == 0
    g1 = image.gaussian_kernel1d(1.5)
    np.testing.assert_allclose(seen[0], np.outer(g1, g1))
    np.testing.assert_allclose(seen[1], np.full((4, 4), 1 / 16))
    assert next(iter(seen[2].values())) is image.SOBEL_Y
    np.testing.assert_allclose(seen[3], np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]]) / 6)


def test_calibrate_plot_only(tmp_path, capsys, monkeypatch):
    from sigconv import engine

    real = engine.measure_scaling
    monkeypatch.setattr(engine, "measure_scaling",
                        lambda kernel=None, **k: real([8, 64] if kernel is None else
                                                      [256, 1024], kernel=kernel, **k))
    code, out, err = run(capsys, "calibrate", "--plot-only", "--plot", tmp_path / "s.png",
                         "--workers", "1")
    assert code == 0, err
    png_ok(tmp_path / "s.png")
    assert "scaling (kernel = signal)" in out and "scaling (kernel 129 taps)" in out
    assert "profile saved" not in out


def test_calibrate_plot_after_measuring(tmp_path, capsys, monkeypatch):
    from sigconv import _profile, engine
    from sigconv.engine import _calibrate, _planner

    monkeypatch.setattr(_profile, "cache_dir", lambda: str(tmp_path))
    monkeypatch.setattr(_calibrate, "measure", lambda **k: dict(_planner.constants()))
    real = engine.measure_scaling
    monkeypatch.setattr(engine, "measure_scaling",
                        lambda kernel=None, **k: real([8, 16], kernel=kernel, **k))
    code, out, err = run(capsys, "calibrate", "--seconds", "0", "--plot", tmp_path / "s.pdf")
    _planner.reset_constants()
    assert code == 0, err
    assert "profile saved" in out and out.index("profile saved") < out.index("scaling (")
    with open(tmp_path / "s.pdf", "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_plot_only_needs_plot(capsys):
    code, _, err = run(capsys, "calibrate", "--plot-only")
    assert code == 2 and "--plot-only needs --plot" in err


# ------------------------------------------------------------------ refused before work

def _commands(files):
    return {
        "reverb": ["reverb", files / "dry.wav", files / "ir.wav", "-o", files / "w.wav"],
        "echo": ["echo", files / "dry.wav", "-o", files / "w.wav", "--delay", "0.01"],
        "blur": ["blur", files / "in.png", "-o", files / "o.png", "--sigma", "1"],
        "edges": ["edges", files / "in.png", "-o", files / "o.png"],
        "filter": ["filter", files / "in.png", "-o", files / "o.png", "--kernel",
                   files / "k.csv"],
        "calibrate": ["calibrate", "--plot-only"],
    }


COMMANDS = ["reverb", "echo", "blur", "edges", "filter", "calibrate"]


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_extension_is_a_usage_error(files, capsys, command):
    before = names(files)
    code, _, err = run(capsys, *_commands(files)[command], "--plot", files / "p.jpg")
    assert code == 2
    assert err.count("\n") == 1 and "sigconv: error: --plot" in err
    assert "'.jpg'" in err and ".png, .svg or .pdf" in err
    assert names(files) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_plot_paths_refused_before_any_work(files, capsys, command):
    before = names(files)
    argv = _commands(files)[command]
    (files / "old.png").write_bytes(b"old")
    cases = [(files / "nodir" / "p.png", "does not exist"),
             (files / "old.png", "exists (use --force")]
    if command != "calibrate":
        cases.append((argv[1], "same file as input"))
        cases.append((argv[argv.index("-o") + 1], "output file too"))
    if command == "reverb":
        cases.append((files / "ir.wav", "same file as input"))
    for plot, words in cases:
        code, _, err = run(capsys, *argv, "--plot", plot)
        if str(plot).endswith(".wav"):     # an audio input or output: not a picture name
            words, status = "unsupported picture type '.wav'", 2
        else:
            status = 1
        assert code == status and err.count("\n") == 1 and words in err, (plot, err)
        assert names(files) == sorted(before + ["old.png"])
        assert (files / "old.png").read_bytes() == b"old"


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_matplotlib_refused_before_any_work(files, capsys, monkeypatch, command):
    before = names(files)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, *_commands(files)[command], "--plot", files / "p.png")
    assert code == 1 and err.count("\n") == 1
    assert "matplotlib" in err and "sigconv[plot]" in err
    assert names(files) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_unwritable_directory(files, capsys):
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run(capsys, *_commands(files)["blur"], "--plot", ro / "p.png")
    finally:
        ro.chmod(0o700)
    assert code == 1 and "not writable" in err
    assert not (files / "o.png").exists()


def test_existing_plot_overwritten_with_force(files, capsys):
    (files / "p.png").write_bytes(b"old")
    code, _, err = run(capsys, *_commands(files)["edges"], "--plot", files / "p.png",
                       "--force")
    assert code == 0, err
    png_ok(files / "p.png")


@pytest.mark.parametrize("command", ["reverb", "blur"])
def test_plot_failure_keeps_the_output_and_says_so(files, capsys, monkeypatch, command):
    def boom(*args, **kwargs):
        raise RuntimeError("no room\nfor the legend")

    monkeypatch.setattr(sigconv.plot, "audio_files", boom)
    monkeypatch.setattr(sigconv.plot, "image_filter", boom)
    argv = _commands(files)[command]
    code, _, err = run(capsys, *argv, "--plot", files / "p.png")
    output = argv[argv.index("-o") + 1]
    assert code == 1
    assert err.splitlines()[-1] == (f"sigconv: error: '{output}' was written, but the picture "
                                    f"'{files / 'p.png'}' was not: no room for the legend")
    assert os.path.exists(output) and not (files / "p.png").exists()
    assert not [p for p in os.listdir(files) if p.startswith(".sigconv")]


def test_kernel_too_large_to_draw_refused_first(files, capsys):
    code, _, err = run(capsys, "blur", files / "in.png", "-o", files / "o.png", "--sigma",
                       "1000", "--plot", files / "p.png")
    assert code == 2 and "up to 2049 pixels wide" in err
    assert not (files / "o.png").exists()


def test_cli_formats_are_the_library_ones():
    from sigconv_cli import _plot

    assert _plot._FORMATS == sigconv.plot.FORMATS
