"""``sigconv blur | edges | filter`` run in-process through ``main([...])``."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from scipy import ndimage
from sigconv_cli.main import main

from sigconv import image as si

RNG = np.random.default_rng(11)


@pytest.fixture
def rgb(tmp_path):
    path = tmp_path / "in.png"
    si.write(path, RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    return path


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_blur_gaussian_writes_same_kind(rgb, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert main(["blur", str(rgb), "-o", str(out), "--sigma", "1.5"]) == 0
    result = si.read(out)
    source = si.read(rgb)
    assert result.dtype == np.uint8 and result.shape == source.shape
    reference = ndimage.gaussian_filter(source.astype(float), (1.5, 1.5, 0), truncate=4)
    assert np.abs(result - reference).max() <= 1
    assert "Gaussian" in capsys.readouterr().err
    assert _files(tmp_path) == ["in.png", "out.png"]  # no temporary left


def test_blur_box_border_constant_and_quiet(rgb, tmp_path, capsys):
    out = tmp_path / "box.png"
    assert main(["blur", str(rgb), "-o", str(out), "--box", "3", "--border", "constant",
                 "--cval", "255", "--quiet"]) == 0
    reference = ndimage.uniform_filter(si.read(rgb).astype(float), (3, 3, 1),
                                       mode="constant", cval=255)
    assert np.abs(si.read(out) - reference).max() <= 0.5 + 1e-6
    assert capsys.readouterr().err == ""


def test_sixteen_bit_and_float_files_keep_depth(tmp_path):
    gray16 = tmp_path / "g.png"
    si.write(gray16, RNG.integers(0, 65536, (12, 14), dtype=np.uint16))
    assert main(["blur", str(gray16), "-o", str(tmp_path / "g2.png"), "--sigma", "1",
                 "--quiet"]) == 0
    assert si.read(tmp_path / "g2.png").dtype == np.uint16
    gray_f = tmp_path / "f.tif"
    si.write(gray_f, RNG.normal(size=(12, 14)).astype(np.float32))
    assert main(["edges", str(gray_f), "-o", str(tmp_path / "e.tif"), "--quiet"]) == 0
    edges = si.read(tmp_path / "e.tif")
    assert edges.dtype == np.float32 and edges.max() == pytest.approx(1.0)


def test_edges_options(rgb, tmp_path):
    out = tmp_path / "e.png"
    assert main(["edges", str(rgb), "-o", str(out), "--operator", "diff", "--direction", "y",
                 "--color", "channels", "--scale", "none", "--quiet"]) == 0
    expected = si.edges(si.read(rgb), "diff", direction="y", color="channels", scale="none")
    np.testing.assert_array_equal(si.read(out), expected)


@pytest.mark.parametrize("kind", ["preset", "txt", "csv", "npy"])
def test_filter_kernels_from_presets_and_files(rgb, tmp_path, kind):
    kernel = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    if kind == "preset":
        spec, kernel = "emboss", si.EMBOSS
    elif kind == "npy":
        spec = str(tmp_path / "k.npy")
        np.save(spec, kernel)
    else:
        spec = str(tmp_path / f"k.{kind}")
        np.savetxt(spec, kernel, delimiter="," if kind == "csv" else " ")
    out = tmp_path / "f.png"
    assert main(["filter", str(rgb), "-o", str(out), "--kernel", spec, "--normalize",
                 "--quiet"]) == 0
    expected = si.filter(si.read(rgb), kernel, normalize=True)
    np.testing.assert_array_equal(si.read(out), expected)
    assert main(["filter", str(rgb), "-o", str(out), "--kernel", spec, "--correlate",
                 "--force", "--quiet"]) == 0
    np.testing.assert_array_equal(si.read(out), si.filter(si.read(rgb), kernel,
                                                          correlate=True))


def test_existing_output_needs_force_and_input_is_never_overwritten(rgb, tmp_path, capsys):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert main(["blur", str(rgb), "-o", str(out), "--sigma", "1"]) == 1
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    before = rgb.read_bytes()
    assert main(["blur", str(rgb), "-o", str(rgb), "--sigma", "1", "--force"]) == 1
    assert "input" in capsys.readouterr().err
    assert rgb.read_bytes() == before


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["blur", str(d / "missing.png"), "--sigma", "1"], "does not exist"),
    (lambda d: ["blur", str(d / "text.png"), "--sigma", "1"], "not an image"),
    (lambda d: ["filter", str(d / "in.png"), "--kernel", "blurry"], "neither a preset"),
    (lambda d: ["filter", str(d / "in.png"), "--kernel", str(d / "bad.csv")], "bad.csv"),
    (lambda d: ["filter", str(d / "in.png"), "--kernel", "edge", "--normalize"], "sum is 0"),
    (lambda d: ["edges", str(d / "float.tif"), "-o", str(d / "o.jpg")], "JPEG"),
    (lambda d: ["blur", str(d / "g16.png"), "-o", str(d / "o.webp"), "--sigma", "1"],
     "WEBP cannot hold 16-bit gray (output '"),
    (lambda d: ["blur", str(d / "g16.png"), "-o", str(d / "o.gif"), "--sigma", "1"], "GIF"),
    (lambda d: ["blur", str(d / "float.tif"), "-o", str(d / "o.webp"), "--sigma", "1"],
     "write .tif"),
    (lambda d: ["blur", str(d / "rgba.png"), "-o", str(d / "o.bmp"), "--sigma", "1"],
     "BMP cannot hold 8-bit RGB with alpha"),
    (lambda d: ["blur", str(d / "rgba.png"), "-o", str(d / "o.ppm"), "--sigma", "1"], "PPM"),
    (lambda d: ["blur", str(d / "in.png"), "-o", str(d / "o.ico"), "--sigma", "1"], "'.ico'"),
    (lambda d: ["blur", str(d / "in.png"), "-o", str(d / "o.pdf"), "--sigma", "1"], "'.pdf'"),
    (lambda d: ["blur", str(d / "in.png"), "-o", str(d), "--sigma", "1"], "is a directory"),
    (lambda d: ["blur", "-", "--sigma", "1"], "standard input"),
    (lambda d: ["blur", str(d / "in.png"), "-o", "-", "--sigma", "1"], "standard output"),
    (lambda d: ["blur", str(d / "in.png"), "--sigma", "1e308"], "too large"),
    (lambda d: ["filter", str(d / "in.png"), "--kernel", str(d / "empty.txt")], "empty.txt"),
], ids=["missing", "not-image", "unknown-kernel", "bad-kernel-file", "zero-sum",
        "float-to-jpeg", "16-bit-to-webp", "16-bit-to-gif", "float-to-webp", "rgba-to-bmp",
        "rgba-to-ppm", "ico", "pdf", "output-directory", "stdin", "stdout", "huge-sigma",
        "empty-kernel-file"])
def test_bad_inputs_give_one_line_error_and_no_file(tmp_path, capsys, rgb, make_args, message):
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "bad.csv").write_text("1,2\nx,y\n")
    (tmp_path / "empty.txt").write_text("# nothing here\n")
    si.write(tmp_path / "float.tif", np.zeros((4, 4), np.float32))
    si.write(tmp_path / "g16.png", np.full((4, 4), 40000, np.uint16))
    si.write(tmp_path / "rgba.png", np.full((4, 4, 4), 128, np.uint8))
    args = make_args(tmp_path)
    if "-o" not in args:
        args += ["-o", str(tmp_path / "o.png")]
    before = _files(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("sigconv: error: ") and err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize("args", [
    ["blur", "in.png", "-o", "o.png"],                               # neither --sigma nor --box
    ["blur", "in.png", "-o", "o.png", "--sigma", "1", "--box", "3"],
    ["blur", "in.png", "-o", "o.png", "--box", "0"],
    ["blur", "in.png", "-o", "o.png", "--sigma", "-2"],
    ["blur", "in.png", "-o", "o.png", "--sigma", "1", "--border", "edge"],
    ["edges", "in.png", "-o", "o.png", "--operator", "canny"],
    ["filter", "in.png", "-o", "o.png"],                             # no --kernel
    ["blur", "in.png", "-o", "o.png", "--box", "3", "--border", "constant", "--cval", "nan"],
    ["edges", "in.png", "-o", "o.png", "--operator", "laplacian", "--direction", "x"],
])
def test_usage_errors_exit_2(tmp_path, capsys, args):
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("sigconv: error: ")


def test_unwritable_extension_fails_before_any_work(rgb, tmp_path, capsys):
    assert main(["blur", str(rgb), "-o", str(tmp_path / "o.xyz"), "--sigma", "1"]) == 1
    assert "'.xyz'" in capsys.readouterr().err
    assert _files(tmp_path) == ["in.png"]


def test_failed_write_leaves_no_file(rgb, tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(si, "write", explode)
    assert main(["blur", str(rgb), "-o", str(tmp_path / "o.png"), "--sigma", "1"]) == 130
    assert _files(tmp_path) == ["in.png"]


DATA = pathlib.Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize("name", ["scene_rgb.png", "scene_rgba.png", "gray16.png",
                                  "gray_float.tif", "palette.gif"])
@pytest.mark.parametrize("command", [["blur", "--sigma", "1.5"], ["blur", "--box", "4"],
                                     ["edges"], ["filter", "--kernel", "sharpen"]])
def test_every_bundled_image_kind_keeps_its_kind(tmp_path, name, command):
    source = DATA / name
    out = tmp_path / f"out{source.suffix}"
    assert main([command[0], str(source), "-o", str(out), "--quiet", *command[1:]]) == 0
    before, after = si.read(source), si.read(out)
    if name.endswith(".gif") and command == ["edges"]:
        # a luminance edge map is gray: a GIF's gray palette reads back as 8-bit gray
        assert after.dtype == before.dtype and after.shape == before.shape[:2]
        return
    assert after.dtype == before.dtype and after.shape == before.shape


def test_gray_written_to_gif_reads_back_gray(tmp_path):
    gray = np.arange(40, dtype=np.uint8).reshape(5, 8) * 6
    si.write(tmp_path / "g.png", gray)
    assert main(["blur", str(tmp_path / "g.png"), "-o", str(tmp_path / "g.gif"),
                 "--sigma", "0", "--quiet"]) == 0
    np.testing.assert_array_equal(si.read(tmp_path / "g.gif"), gray)
    colour = np.dstack([gray, gray[::-1], gray])
    si.write(tmp_path / "c.gif", colour)
    assert si.read(tmp_path / "c.gif").shape == (5, 8, 3)


def test_16_bit_pgm_round_trips_through_the_command_line(tmp_path):
    deep = (np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000)
    si.write(tmp_path / "d.pgm", deep)
    assert si.read(tmp_path / "d.pgm").dtype == np.uint16
    assert main(["blur", str(tmp_path / "d.pgm"), "-o", str(tmp_path / "e.pgm"),
                 "--sigma", "0", "--quiet"]) == 0
    np.testing.assert_array_equal(si.read(tmp_path / "e.pgm"), deep)
    for ext in (".pbm", ".pfm"):
        assert main(["blur", str(tmp_path / "d.pgm"), "-o", str(tmp_path / f"f{ext}"),
                     "--sigma", "0", "--quiet"]) == 1
    assert main(["blur", str(tmp_path / "d.pgm"), "-o", str(tmp_path / "f.ppm"),
                 "--sigma", "0", "--quiet"]) == 1          # .ppm is colour: .pgm or .pnm


def test_png_range_of_32_bit_gray_is_checked_before_filtering(tmp_path, capsys):
    si.write(tmp_path / "i.tif", np.array([[-5, 70000], [1, 2]], np.int32))
    assert main(["blur", str(tmp_path / "i.tif"), "-o", str(tmp_path / "o.png"),
                 "--sigma", "0"]) == 1
    err = capsys.readouterr().err
    assert f"'{tmp_path / 'o.png'}'" in err and ".sigconv-" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.tif"]


def test_write_errors_name_the_output_not_the_temporary_file(rgb, tmp_path, capsys,
                                                             monkeypatch):
    from sigconv import FileFormatError

    def failing(path, *args, **kwargs):
        raise FileFormatError(f"cannot write {str(path)!r}: disk full")

    monkeypatch.setattr(si, "write", failing)
    out = tmp_path / "o.png"
    assert main(["blur", str(rgb), "-o", str(out), "--sigma", "1"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write '{out}': disk full" in err and ".sigconv-" not in err


def test_workers_option_gives_the_same_image(tmp_path):
    import numpy as np
    from PIL import Image
    from sigconv_cli.main import main

    src = tmp_path / "in.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(src)
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}.png"
        assert main(["blur", str(src), "-o", str(out), "--sigma", "1.5", "--workers", workers,
                     "--quiet"]) == 0
        outs.append(np.asarray(Image.open(out)))
    assert np.array_equal(outs[0], outs[1])
    assert main(["edges", str(src), "-o", str(tmp_path / "e.png"), "--workers", "0"]) == 2


@pytest.mark.parametrize("ext", ["jpg", "png", "webp"])
def test_colour_profile_resolution_and_exif_are_kept(tmp_path, ext):
    from PIL import Image, ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6          # stored rotated: sigconv turns the pixels upright
    exif[0x010F] = "sigconv test camera"
    source = tmp_path / f"in.{ext}"
    Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(
        source, icc_profile=profile, exif=exif.tobytes(), dpi=(300, 300))
    out = tmp_path / f"out.{ext}"
    assert main(["blur", str(source), "-o", str(out), "--sigma", "1", "--quiet"]) == 0
    with Image.open(out) as written:
        assert written.size == (20, 30)                      # upright
        assert written.info.get("icc_profile") == profile
        kept = written.getexif()
        assert kept.get(0x010F) == "sigconv test camera"
        assert 0x0112 not in kept                            # no second rotation
        if ext != "webp":                                     # WebP has no resolution field
            assert round(written.info["dpi"][0]) == 300


@pytest.mark.parametrize("ext, kinds", [
    (".png", ["L", "LA", "RGB", "RGBA", "I;16"]), (".tif", ["L", "RGBA", "I;16", "F"]),
    (".jpg", ["L", "RGB"]), (".bmp", ["L", "RGB"]), (".gif", ["L", "RGB"]),
    (".webp", ["RGB", "RGBA"]), (".ppm", ["RGB"]), (".pgm", ["L", "I;16"]),
])
def test_each_format_writes_the_kinds_it_holds(tmp_path, ext, kinds):
    arrays = {"L": np.full((6, 5), 100, np.uint8), "LA": np.full((6, 5, 2), 100, np.uint8),
              "RGB": np.full((6, 5, 3), 100, np.uint8),
              "RGBA": np.full((6, 5, 4), 100, np.uint8),
              "I;16": np.full((6, 5), 40000, np.uint16), "F": np.full((6, 5), 0.25, np.float32)}
    for kind in kinds:
        src = tmp_path / f"{kind.replace(';', '')}.tif"
        si.write(src, arrays[kind])
        out = tmp_path / f"out_{kind.replace(';', '')}{ext}"
        assert main(["blur", str(src), "-o", str(out), "--sigma", "1", "--quiet"]) == 0
        back = si.read(out)
        assert back.shape[:2] == (6, 5)
        if ext in (".png", ".tif", ".pgm") or kind in ("L",) and ext != ".gif":
            np.testing.assert_allclose(back.astype(float), arrays[kind].astype(float), atol=2)


@pytest.mark.parametrize("signals", [1, 5])
def test_sigterm_during_the_write_leaves_no_temporary_file(tmp_path, signals):
    """SIGTERM (timeout, kill, CI cancelling) cleans up like Ctrl-C does; more of them
    in a burst still give one line."""
    import signal
    import subprocess
    import sys
    import time
    src = tmp_path / "big.tif"
    si.write(src, np.random.default_rng(0).random((2000, 2000)).astype(np.float32))
    code = ("import sys, time; from sigconv_cli.main import main; from sigconv import image\n"
            "real = image.write\n"
            "def slow(*a, **k):\n"
            "    print('writing', flush=True); real(*a, **k); time.sleep(30)\n"
            "image.write = slow\n"
            f"sys.exit(main(['blur', {str(src)!r}, '-o', {str(tmp_path / 'out.tif')!r},"
            " '--sigma', '1']))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    for _ in range(signals):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.002)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip() == "sigconv: error: terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.tif"]


def test_library_warnings_become_one_line_and_quiet_hides_them(tmp_path, capsys, rgb,
                                                                monkeypatch):
    import warnings

    from sigconv import image as image_module

    real = image_module.read

    def noisy(*args, **kwargs):
        warnings.warn("a long\nwarning", RuntimeWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(image_module, "read", noisy)
    out = tmp_path / "o.png"
    assert main(["blur", str(rgb), "-o", str(out), "--sigma", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "sigconv: warning: a long warning" in err
    assert main(["blur", str(rgb), "-o", str(out), "--sigma", "1", "--force", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_help_of_each_image_command_names_only_its_options(capsys):
    for command, absent in (("edges", "--box"), ("filter", "--box"), ("blur", "progress")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert absent not in capsys.readouterr().out


def test_interrupt_before_any_work_is_one_line(monkeypatch, capsys):
    import sigconv_cli.main as cli_main

    def interrupted(argv):
        raise KeyboardInterrupt          # e.g. Ctrl-C while NumPy is being imported

    monkeypatch.setattr(cli_main, "_main", interrupted)
    assert cli_main.main(["info"]) == 130
    assert capsys.readouterr().err == "sigconv: error: interrupted\n"


def test_absurd_box_sizes_are_refused_at_once(tmp_path, capsys):
    si.write(tmp_path / "s.png", np.zeros((12, 17), np.uint8))
    assert main(["blur", str(tmp_path / "s.png"), "-o", str(tmp_path / "o.png"),
                 "--box", "1000000000"]) == 1
    assert "too large" in capsys.readouterr().err
