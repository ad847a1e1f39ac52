"""``sigconv info|convolve|calibrate`` through main([...]) in tmp_path."""

import numpy as np
import pytest

from sigconv_cli.main import main


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backend:" in out and "threads:" in out and "calibration profile:" in out
    assert "BLAS" in out
    assert "freed outputs of 32 MB or more kept for reuse: up to 4 blocks" in out
    from sigconv.backends import get_backend
    from sigconv.engine import native_info
    if get_backend().name == "pyfftw" and native_info()["loaded"]:
        assert "overlap-add: the native core calls FFTW block by block" in out


@pytest.mark.parametrize("ext", [".npy", ".csv", ".txt"])
def test_convolve_files_round_trip(tmp_path, ext):
    a, b = tmp_path / "a.txt", tmp_path / "b.csv"
    a.write_text("1 2 3\n")
    b.write_text("2,3,4\n")
    out = tmp_path / f"out{ext}"
    assert main(["convolve", str(a), str(b), "-o", str(out), "--quiet"]) == 0
    got = np.load(out) if ext == ".npy" else np.loadtxt(out, delimiter="," if ext == ".csv"
                                                        else None)
    assert got.tolist() == [2, 7, 16, 17, 12]


def test_convolve_2d_valid_npy(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0],
                                          [0, 1, 2, 4]]))
    np.save(tmp_path / "k.npy", np.array([[0, 1, 2], [2, 2, 0], [1, 0, 1]]))
    out = tmp_path / "o.npy"
    assert main(["convolve", str(tmp_path / "m.npy"), str(tmp_path / "k.npy"), "-o", str(out),
                 "--mode", "valid", "--method", "fft", "--quiet"]) == 0
    assert np.load(out).tolist() == [[11, 14], [11, 9]]


def _error(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sigconv: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_missing_input(tmp_path, capsys):
    (tmp_path / "a.npy").write_bytes(b"")
    assert main(["convolve", str(tmp_path / "nope.csv"), str(tmp_path / "a.npy"),
                 "-o", str(tmp_path / "o.npy")]) == 1
    assert "nope.csv" in _error(capsys)
    assert not (tmp_path / "o.npy").exists()


def test_garbage_input(tmp_path, capsys):
    (tmp_path / "a.csv").write_text("1,2,x\n")
    (tmp_path / "b.csv").write_text("1\n")
    assert main(["convolve", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
                 "-o", str(tmp_path / "o.csv")]) == 1
    assert "a.csv" in _error(capsys)
    assert not (tmp_path / "o.csv").exists()


def test_existing_output_needs_force_and_input_is_never_overwritten(tmp_path, capsys):
    a = tmp_path / "a.csv"
    a.write_text("1,2\n")
    out = tmp_path / "o.csv"
    out.write_text("keep\n")
    assert main(["convolve", str(a), str(a), "-o", str(out)]) == 1
    assert "--force" in _error(capsys) and out.read_text() == "keep\n"
    assert main(["convolve", str(a), str(a), "-o", str(a), "--force"]) == 1
    assert "input" in _error(capsys) and a.read_text() == "1,2\n"
    assert main(["convolve", str(a), str(a), "-o", str(out), "--force", "--quiet"]) == 0
    assert np.loadtxt(out, delimiter=",").tolist() == [1, 4, 4]


def test_bad_mode_is_a_usage_error(tmp_path, capsys):
    assert main(["convolve", "a.csv", "b.csv", "-o", "o.csv", "--mode", "wide"]) == 2
    assert "wide" in _error(capsys)


def test_valid_shape_error_is_clean(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.ones((2, 3)))
    np.save(tmp_path / "b.npy", np.ones((3, 2)))
    assert main(["convolve", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-o",
                 str(tmp_path / "o.npy"), "--mode", "valid"]) == 1
    assert "valid" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy"]


def test_calibrate_writes_profile(tmp_path, monkeypatch, capsys):
    from sigconv import _profile
    from sigconv.engine import _planner

    monkeypatch.setattr(_profile, "cache_dir", lambda: str(tmp_path))
    assert main(["calibrate", "--seconds", "0", "--quiet"]) == 0
    assert (tmp_path / "profile.json").exists()
    saved = _profile.load_profile()
    assert saved["np_mac"] > 0 and saved["fft_nlogn"] > 0
    _planner.reset_constants()
    assert _planner.constants()["np_mac"] == saved["np_mac"]
    monkeypatch.undo()
    _planner.reset_constants()


def test_calibrate_saves_fftw_wisdom_that_reloads(tmp_path, monkeypatch):
    pytest.importorskip("pyfftw")
    from sigconv import _profile
    from sigconv.backends._pyfftw import _wisdom_state, load_wisdom
    from sigconv.engine import _calibrate

    monkeypatch.setattr(_profile, "cache_dir", lambda: str(tmp_path))
    made = _calibrate.plan_wisdom("pyfftw", workers=1, seconds=1.0)
    assert made >= 2
    path = tmp_path / "fftw-wisdom.json"
    assert path.exists()
    monkeypatch.setitem(_wisdom_state, "loaded", None)
    assert load_wisdom(str(path))
    (tmp_path / "bad.json").write_text("not json")
    assert not load_wisdom(str(tmp_path / "bad.json"))


def test_integers_beyond_int64_are_written_exactly_or_refused(tmp_path, capsys):
    (tmp_path / "b1.txt").write_text("123456789012345\n")
    (tmp_path / "b2.txt").write_text("987654321098765 1\n")
    args = ["convolve", str(tmp_path / "b1.txt"), str(tmp_path / "b2.txt"), "--quiet"]
    assert main([*args, "-o", str(tmp_path / "o.csv")]) == 0
    assert (tmp_path / "o.csv").read_text().split() == [
        str(123456789012345 * 987654321098765), "123456789012345"]
    assert main([*args, "-o", str(tmp_path / "o.npy")]) == 1
    assert "write .csv or .txt" in _error(capsys)
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("output, message", [("-", "standard output"),
                                             (".", "is a directory")])
def test_convolve_output_checks_come_first(tmp_path, capsys, monkeypatch, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("1 2 3\n")
    assert main(["convolve", "a.txt", "a.txt", "-o", output]) == 1
    assert message in _error(capsys)


@pytest.mark.parametrize("option", [["--workers", "-1"], ["--workers", "0"],
                                    ["--seconds", "nan"], ["--seconds", "-1"]])
def test_calibrate_refuses_bad_values_as_usage_errors(capsys, option):
    assert main(["calibrate", *option]) == 2
    assert capsys.readouterr().err.startswith("sigconv: error: ")


def test_calibrate_measures_the_row_chunk_plans_the_engine_then_uses():
    """`sigconv calibrate` plans the (rows, n) one-thread transforms of the engine's row
    chunks (nn's depthwise layers): the engine's plan for such a chunk then comes from
    the wisdom, not from FFTW_ESTIMATE."""
    pyfftw = pytest.importorskip("pyfftw")
    from sigconv.backends import get_backend

    b = get_backend("pyfftw")
    b.describe()                        # loads any saved wisdom first, then ...
    saved = pyfftw.export_wisdom()
    pyfftw.forget_wisdom()              # ... starts from none
    try:
        _check_row_chunk_wisdom(b)
    finally:
        pyfftw.forget_wisdom()
        pyfftw.import_wisdom(saved)


def _check_row_chunk_wisdom(b):
    from sigconv.backends import PlanKey
    from sigconv.engine import _calibrate
    from sigconv.engine._fft import row_chunk_size

    jobs = [j for j in _calibrate.wisdom_jobs(b, workers=2) if "row chunks" in j.label]
    n = 512
    rows = row_chunk_size(n * 8)
    job = next(j for j in jobs if j.shape == (rows, n) and j.dtype == "float64")
    assert job.axes == (1,) and job.threads == 1
    key = PlanKey("r2c", (rows, n), "float64", (1,), 1, "test-row-chunks")
    assert not b.build(key)[0].from_wisdom
    assert _calibrate.measure_wisdom([job], seconds=30.0) == 2
    plan = b.build(key)[0]
    assert plan.from_wisdom
    assert b.build(key._replace(kind="c2r"))[0].from_wisdom
    # and it transforms correctly
    rng = np.random.default_rng(0)
    plan.input[...] = rng.standard_normal((rows, n))
    ref = np.fft.rfft(plan.input, axis=1)
    np.testing.assert_allclose(plan.execute(), ref, rtol=1e-12, atol=1e-9)
