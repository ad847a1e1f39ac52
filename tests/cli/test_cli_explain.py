"""``sigconv explain`` through main([...]): the articles' examples line by line, errors."""

import os
import re
import sys

import numpy as np
import pytest
from PIL import Image
from sigconv_cli.main import main

M44 = "1,2,0,3;4,1,0,2;3,2,1,0;0,1,2,4"
K33 = "0,1,2;2,2,0;1,0,1"
PLAN = re.compile(r"planner's choice for these sizes: (direct|fft|oa)\b.*; why: \S.*")
COSTS = re.compile(r"predicted cost of each candidate: \S+ [\d.]+ (us|ms|s) \(cheapest\)")


def run(capsys, *argv):
    assert main(["explain", *argv]) == 0
    cap = capsys.readouterr()
    assert cap.err == ""
    return cap.out.splitlines()


def test_1d_full_article_example(capsys):
    out = run(capsys, "1,2,3", "2,3,4")
    assert out[:11] == [
        "convolution of x (A, 3 samples) with h (B, 3 samples), mode full",
        "x = [1 2 3]",
        "h = [2 3 4]",
        "h flipped = [4 3 2]",
        "y[n] = sum over k of x[k] * h[n-k]; products with the zero padding beyond x's ends "
        "are left out",
        "y[0] = 1*2 = 2                zero padding (2 of 3 products fall outside x)",
        "y[1] = 1*3 + 2*2 = 7          zero padding (1 of 3 products fall outside x)",
        "y[2] = 1*4 + 2*3 + 3*2 = 16   valid",
        "y[3] = 2*4 + 3*3 = 17         zero padding (1 of 3 products fall outside x)",
        "y[4] = 3*4 = 12               zero padding (2 of 3 products fall outside x)",
        "1 of 5 outputs are valid; the other 4 lean on zero padding (mode 'valid' keeps "
        "only the valid ones)",
    ]
    assert out[11] == "result = [ 2  7 16 17 12]"
    assert PLAN.fullmatch(out[12]) and out[12].startswith(
        "planner's choice for these sizes: direct")
    assert COSTS.match(out[13])
    assert len(out) == 14


def test_1d_x_w_and_valid_part(capsys):
    out = run(capsys, "0,1,2,3,4", "1,-1,2")
    assert out[3] == "h flipped = [ 2 -1  1]"
    assert out[5:12] == [
        "y[0] = 0*1 = 0                  zero padding (2 of 3 products fall outside x)",
        "y[1] = 0*(-1) + 1*1 = 1         zero padding (1 of 3 products fall outside x)",
        "y[2] = 0*2 + 1*(-1) + 2*1 = 1   valid",
        "y[3] = 1*2 + 2*(-1) + 3*1 = 3   valid",
        "y[4] = 2*2 + 3*(-1) + 4*1 = 5   valid",
        "y[5] = 3*2 + 4*(-1) = 2         zero padding (1 of 3 products fall outside x)",
        "y[6] = 4*2 = 8                  zero padding (2 of 3 products fall outside x)",
    ]
    assert out[13] == "result = [0 1 1 3 5 2 8]"
    out = run(capsys, "0,1,2,3,4", "1,-1,2", "--mode", "valid")
    assert out[4].startswith("y[n] = sum over k of x[k] * h[n+2-k];")
    assert out[5:10] == [
        "y[0] = 0*2 + 1*(-1) + 2*1 = 1   valid",
        "y[1] = 1*2 + 2*(-1) + 3*1 = 3   valid",
        "y[2] = 2*2 + 3*(-1) + 4*1 = 5   valid",
        "all 3 outputs are valid: mode 'valid' keeps only those",
        "result = [1 3 5]",
    ]


def test_2d_valid_article_example(capsys):
    out = run(capsys, M44, K33, "--mode", "valid")
    text = "\n".join(out)
    assert out[0] == "convolution of x (A, 4x4) with h (B, 3x3), mode valid"
    assert out[1:6] == ["x =", "  1 2 0 3", "  4 1 0 2", "  3 2 1 0", "  0 1 2 4"]
    i = out.index("h flipped (rows and columns reversed) =")
    assert out[i + 1:i + 4] == ["  1 0 1", "  0 2 2", "  2 1 0"]
    assert out[i + 4] == ("y[r,c] = sum over i,j of x[i,j] * h[r+2-i,c+2-j]; products with "
                          "the zero padding beyond x's ends are left out")
    j = out.index("y[0,0]: window rows 0..2, cols 0..2, valid")
    assert out[j + 1:j + 5] == [
        "    1 2 0     1 0 1",
        "    4 1 0  *  0 2 2",
        "    3 2 1     2 1 0",
        "  = 1*1 + 2*0 + 0*1 + 4*0 + 1*2 + 0*2 + 3*2 + 2*1 + 1*0 = 11",
    ]
    sums = re.findall(r"^  = .* = (\d+)$", text, re.M)
    assert sums == ["11", "14", "11", "9"]
    assert re.findall(r"^y\[(\d),(\d)\]: window rows (\S+), cols (\S+), valid$", text, re.M) \
        == [("0", "0", "0..2", "0..2"), ("0", "1", "0..2", "1..3"),
            ("1", "0", "1..3", "0..2"), ("1", "1", "1..3", "1..3")]
    k = out.index("result =")
    assert out[k + 1:k + 3] == ["  11 14", "  11  9"]
    assert PLAN.fullmatch(out[k + 3]) and COSTS.match(out[k + 4])


def test_2d_full_padding_window(capsys):
    out = run(capsys, M44, K33)
    j = out.index("y[0,0]: window rows -2..0, cols -2..0, zero padding "
                  "(8 of 9 products fall outside x)")
    assert out[j + 1:j + 5] == ["    . . .     1 0 1", "    . . .  *  0 2 2",
                                "    . . 1     2 1 0", "  = 1*0 = 0"]
    assert "... 30 output windows omitted (inputs too large to list) ..." in out
    assert "4 of 36 outputs are valid; the other 32 lean on zero padding (mode 'valid' " \
           "keeps only the valid ones)" in out


def test_correlate(capsys):
    out = run(capsys, "0,1,2,3,4", "1,-1,2", "--correlate")
    assert out[0].startswith("cross-correlation of x")
    assert out[3] == "h as slid (not flipped: correlation) = [ 1 -1  2]"
    assert out[4].startswith("y[n] = sum over k of x[n-2+k] * h[k];")
    assert out[7] == "y[2] = 0*1 + 1*(-1) + 2*2 = 3   valid"
    assert "result = [ 0  2  3  5  7 -1  4]" in out
    out = run(capsys, M44, K33, "--mode", "valid", "--correlate")
    assert re.findall(r"^  = .* = (\d+)$", "\n".join(out), re.M) == ["16", "10", "13", "15"]
    # complex: the kernel is conjugated
    out = run(capsys, "1,2", "1j,2", "--correlate")
    assert "y[1] = 1*(0-1j) + 2*(2-0j) = 4-1j   valid" in out


def test_floats_compact_and_same(capsys):
    out = run(capsys, "0.5,1.25,2", "0.1,1", "--mode", "same")
    assert out[1] == "x = [0.5 1.25 2]"
    assert out[5:8] == ["y[0] = 0.5*0.1 = 0.05             zero padding (1 of 2 products fall "
                        "outside x)",
                        "y[1] = 0.5*1 + 1.25*0.1 = 0.625   valid",
                        "y[2] = 1.25*1 + 2*0.1 = 1.45      valid"]


def test_large_input_summarised(tmp_path, capsys):
    np.savetxt(tmp_path / "x.csv", np.arange(1, 101)[None], fmt="%d", delimiter=",")
    out = run(capsys, str(tmp_path / "x.csv"), "1,0,-1")
    steps = [line for line in out if re.match(r"y\[\d", line)]
    assert [s.split(" =")[0] for s in steps] == [f"y[{i}]" for i in
                                                 [*range(10), 97, 98, 99, 100, 101]]
    assert "... 87 positions omitted (inputs too long to list) ..." in out
    assert out[1] == "x = [  1   2   3   4   5 ...  96  97  98  99 100]"
    assert any(line.startswith("result = [   1    2    2") and "..." in line for line in out)
    # a kernel so long that each output has too many products to list
    np.save(tmp_path / "a.npy", np.ones(10**5))
    out = run(capsys, str(tmp_path / "a.npy"), str(tmp_path / "a.npy"), "--mode", "same")
    assert "(each output sums up to 100000 products: too many to list; only the result " \
           "follows)" in out
    assert not any(re.match(r"y\[\d", line) for line in out)
    # 2-D windows too large to draw: their sums only
    np.save(tmp_path / "g.npy", np.arange(400).reshape(20, 20))
    np.save(tmp_path / "k.npy", np.ones((12, 12), int))
    out = run(capsys, str(tmp_path / "g.npy"), str(tmp_path / "k.npy"), "--mode", "valid")
    i = out.index("y[0,0]: window rows 0..11, cols 0..11, valid")
    assert out[i + 1:i + 3] == ["    (a 12x12 window: too large to draw)",
                                "  = 0*1 + 1*1 + 2*1 + 3*1 + ... + 230*1 + 231*1 "
                                "(144 products) = 16632"]
    assert "... 75 output windows omitted (inputs too large to list) ..." in out
    # many products in one output: the ends and a count
    out = run(capsys, ",".join(["1"] * 30), ",".join(["2"] * 20), "--mode", "valid")
    assert re.fullmatch(r"y\[0\] = 1\*2 \+ 1\*2 \+ 1\*2 \+ 1\*2 \+ \.\.\. \+ 1\*2 \+ 1\*2 "
                        r"\(20 products\) = 40 +valid", out[5])


def _error(capsys):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sigconv: error: "), cap.err
    assert cap.out == ""
    return lines[0]


@pytest.mark.parametrize("a,b,code,match", [
    ("1,2,x", "1", 2, "'x' is not a number"),
    ("1,,2", "1", 2, "two separators in a row"),
    ("1,2;3", "1", 2, "rows have different lengths (2, 1 values)"),
    ("", "1", 2, "A is empty"),
    ("1,2", " ", 2, "B is empty"),
    ("1;;2", "1", 2, "row 2 is empty"),
    ("1,nan", "1", 2, "'nan' is not a finite number"),
    ("foo.wav", "1", 2, "neither numbers"),
    ("1,2", "1;2", 1, "A is 1-d and B is 2-d"),
    ("1,2", "nope.csv", 1, "nope.csv"),
])
def test_bad_inputs(capsys, a, b, code, match):
    assert main(["explain", a, b]) == code
    assert match in _error(capsys)


def test_bad_3d_and_valid_shapes(tmp_path, capsys):
    np.save(tmp_path / "c.npy", np.ones((2, 2, 2)))
    assert main(["explain", str(tmp_path / "c.npy"), "1"]) == 1
    assert "3-d" in _error(capsys)
    assert main(["explain", "1,2,3;4,5,6", "1,2;3,4;5,6", "--mode", "valid"]) == 1
    assert "valid" in _error(capsys)
    assert main(["explain", "1,2", "1", "--mode", "middle"]) == 2
    assert "middle" in _error(capsys)


@pytest.mark.parametrize("name,code,match", [
    ("slide.jpg", 2, "unsupported picture type '.jpg' (use .png or .gif)"),
    ("slide", 2, "'(none)'"),
    ("missing/slide.png", 1, "does not exist"),
])
def test_bad_plot_path(tmp_path, capsys, name, code, match):
    target = tmp_path / name
    assert main(["explain", "1,2,3", "2,3,4", "--plot", str(target)]) == code
    assert match in _error(capsys)
    assert os.listdir(tmp_path) == []


def test_plot_exists_needs_force(tmp_path, capsys):
    target = tmp_path / "s.png"
    target.write_bytes(b"keep")
    assert main(["explain", "1,2,3", "2,3,4", "--plot", str(target)]) == 1
    assert "--force" in _error(capsys)
    assert target.read_bytes() == b"keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_plot_unwritable_dir(tmp_path, capsys):
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    assert main(["explain", "1,2,3", "2,3,4", "--plot", str(d / "s.png")]) == 1
    assert "not writable" in _error(capsys)


def test_plot_unwritable_dir_checked(tmp_path, capsys, monkeypatch):
    # as root the permission bits do not stop a write, so check the refusal by os.access
    d = tmp_path / "ro"
    d.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == str(d)
                        else real(p, mode))
    assert main(["explain", "1,2,3", "2,3,4", "--plot", str(d / "s.png")]) == 1
    assert "not writable" in _error(capsys)
    assert os.listdir(d) == []


def test_plot_bad_input_writes_nothing(tmp_path, capsys):
    assert main(["explain", "1,2;3", "1", "--plot", str(tmp_path / "s.png")]) == 2
    _error(capsys)
    assert main(["explain", "1,2,3", "1+2j", "--plot", str(tmp_path / "s.gif")]) == 1
    assert "real" in _error(capsys)
    assert os.listdir(tmp_path) == []


def test_plot_png(tmp_path, capsys):
    target = tmp_path / "slide.png"
    out = run(capsys, "1,2,3", "2,3,4", "--plot", str(target))
    assert out[-1] == f"picture written to {target}"
    with Image.open(target) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w > 4 * h / 2 and h >= 500       # five positions side by side
        assert len(im.getcolors(1 << 16)) > 50  # drawn, not blank
    assert os.listdir(tmp_path) == ["slide.png"]


def test_plot_gif_frames(tmp_path, capsys):
    target = tmp_path / "slide.gif"
    run(capsys, M44, K33, "--mode", "valid", "--plot", str(target))
    with Image.open(target) as im:
        assert im.format == "GIF" and im.n_frames == 4   # one frame per output position
        assert im.size[0] > 200 and im.size[1] > 400
    assert os.listdir(tmp_path) == ["slide.gif"]


def test_plot_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # import matplotlib fails
    assert main(["explain", "1,2,3", "2,3,4", "--plot", str(tmp_path / "s.png")]) == 1
    line = _error(capsys)
    assert "matplotlib" in line and "sigconv[plot]" in line
    assert os.listdir(tmp_path) == []
    # without --plot explain needs no matplotlib
    assert main(["explain", "1,2,3", "2,3,4"]) == 0
    assert "result = [ 2  7 16 17 12]" in capsys.readouterr().out
