"""Every examples/*.py runs (all at once, each in its own directory) and prints what it
should; the pictures it promises are written and readable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

# script: (lines its output must contain, pictures it writes (GIF: frame count))
EXPECTED = {
    "dice_sum.py": ([
        "sum of two dice: P(total)", "   2: 1/36", "   3: 1/18", "   7: 1/6", "   8: 5/36",
        "  12: 1/36", "total probability: 1", "most likely total: 7",
        "  -3: 0.0250", "  -1: 0.2250", "  +0: 0.3000", "  +3: 0.0250",
    ], {"dice_sum.png": 1}),
    "first_convolution.py": ([
        "y[0] = 1*2 = 2", "y[1] = 1*3 + 2*2 = 7", "y[2] = 1*4 + 2*3 + 3*2 = 16   (valid)",
        "y[3] = 2*4 + 3*3 = 17", "y[4] = 3*4 = 12",
        "convolve([1, 2, 3], [2, 3, 4]) = [2, 7, 16, 17, 12]",
    ], {"first_convolution.png": 1}),
    "valid_2d.py": ([
        "y[0,0]: window rows 0..2, cols 0..2 -> 11", "y[0,1]: window rows 0..2, cols 1..3 -> 14",
        "y[1,0]: window rows 1..3, cols 0..2 -> 11", "y[1,1]: window rows 1..3, cols 1..3 -> 9",
        "[[11 14]", " [11  9]]", "same as convolve2d: True",
    ], {"valid_2d.png": 1}),
    "valid_part.py": ([
        "full:  [0, 1, 1, 3, 5, 2, 8]", "valid: [1, 3, 5]",
        "positions where the flipped kernel is wholly inside x: [2, 3, 4]",
    ], {"valid_part.png": 1, "valid_part.gif": 7}),
    "echo.py": ([
        "kernel: 2001 taps, spikes at samples [0, 2000] with gains [1.0, 0.5]",
        "wet has 6800 samples (dry 4800 + kernel 2001 - 1)",
        "first copy equals the dry sound: True",
        "second copy is half the dry sound, 2000 samples later: True",
    ], {"echo.png": 1}),
    "blur_and_edges.py": ([
        "image: 120x160 gray, from (120, 160, 3) uint8",
    ], {"box_blur.png": 1, "edge.png": 1}),
    "conv_vs_corr.py": ([
        " [ 0  5 10 15  0  0]]", " [ 0 15 10  5  0  0]]",
        "layer output, convolution, summed over channels:  [4, 8, 14, 18, 4, 3]",
        "layer output, correlation, summed over channels:  [0, 14, 10, 4, 0, -1]",
        "correlate(x, h) == convolve(x, h flipped): True",
    ], {"channel0_convolve.png": 1, "channel0_correlate.png": 1}),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every example at once (they are mostly imports and drawing), then wait."""
    procs = {}
    for script in EXAMPLES:
        base = tmp_path_factory.mktemp(script.stem)
        (base / "cwd").mkdir()
        (base / "out").mkdir()
        procs[script.name] = (base, subprocess.Popen(
            [sys.executable, str(script), str(base / "out")], cwd=base / "cwd",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    done = {}
    for name, (base, proc) in procs.items():
        out, err = proc.communicate(timeout=600)
        done[name] = (proc.returncode, out, err, base)
    return done


def test_our_examples_are_there():
    assert set(EXPECTED) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("script", [p.name for p in EXAMPLES])
def test_example_runs(runs, script):
    code, out, err, base = runs[script]
    assert code == 0, f"{script} failed:\n{err}"
    if script not in EXPECTED:
        return                       # another session's example: it must run, that is all
    lines, pictures = EXPECTED[script]
    printed = out.splitlines()
    for line in lines:
        assert line in printed, f"{script}: {line!r} not printed; got:\n{out}"
    assert sorted(os.listdir(base / "out")) == sorted(pictures)
    assert os.listdir(base / "cwd") == []           # nothing else written anywhere
    for name, frames in pictures.items():
        with Image.open(base / "out" / name) as im:
            assert im.format == name.rsplit(".", 1)[1].upper()
            assert im.size[0] >= 300 and im.size[1] >= 300
            assert getattr(im, "n_frames", 1) == frames
        assert f"wrote {base / 'out' / name}" in printed


def test_blur_and_edges_numbers(runs):
    """The script's own checks: the blur is the 3x3 mean, the edge the difference."""
    out = runs["blur_and_edges.py"][1]
    blur = next(line for line in out.splitlines() if line.startswith("box blur at"))
    a, b = (float(part.rsplit(" ", 1)[1].rstrip(";")) for part in blur.split("; "))
    assert a == pytest.approx(b, abs=1e-6)
    edge = next(line for line in out.splitlines() if line.startswith("edge at"))
    a, b = (float(part.rsplit(" ", 1)[1].rstrip(";")) for part in edge.split("; "))
    assert a == pytest.approx(b, abs=1e-6)
