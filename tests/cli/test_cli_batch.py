"""Many files in one command (``-o`` a directory, ``--jobs``), through ``main([...])``
and, for the worker processes and signals, as a real ``sigconv`` subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from sigconv_cli import _batch, image_cmds
from sigconv_cli.main import main

from sigconv import image as si
from sigconv._io import atomic_output

RNG = np.random.default_rng(5)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


def same_audio(a, b):
    """Sample for sample, with the same format, subtype and rate. (Not byte for byte:
    libsndfile stamps float WAVs' PEAK chunk with the time of writing.)"""
    ia, ib = sf.info(a), sf.info(b)
    assert (ia.format, ia.subtype, ia.samplerate, ia.channels, ia.frames) == \
        (ib.format, ib.subtype, ib.samplerate, ib.channels, ib.frames)
    np.testing.assert_array_equal(sf.read(a)[0], sf.read(b)[0])


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("sigconv: error: ")]


@pytest.fixture
def sounds(tmp_path):
    """Three inputs of different kinds (mono PCM_24 WAV, stereo FLOAT WAV, stereo FLAC),
    an IR, and a truncated WAV whose header promises more frames than it holds."""
    src = tmp_path / "src"
    src.mkdir()
    sf.write(src / "a.wav", 0.05 * RNG.standard_normal(3000), 8000, subtype="PCM_24")
    sf.write(src / "b.wav", 0.05 * RNG.standard_normal((2500, 2)), 8000, subtype="FLOAT")
    sf.write(src / "c.flac", 0.05 * RNG.standard_normal((2000, 2)), 8000)
    decay = np.exp(-np.arange(400) / 100)[:, None]
    sf.write(src / "hall.wav", 0.5 * RNG.standard_normal((400, 2)) * decay, 8000,
             subtype="FLOAT")
    sf.write(src / "whole.wav", 0.2 * RNG.standard_normal(3000), 8000)
    (src / "broken.wav").write_bytes((src / "whole.wav").read_bytes()[:2000])
    os.unlink(src / "whole.wav")
    return src


@pytest.fixture
def pictures(tmp_path):
    src = tmp_path / "pics"
    src.mkdir()
    si.write(src / "p1.png", RNG.integers(0, 256, (24, 31, 3), dtype=np.uint8))
    si.write(src / "p2.png", RNG.integers(0, 65536, (17, 20), dtype=np.uint16))
    si.write(src / "p3.png", RNG.integers(0, 256, (20, 22, 4), dtype=np.uint8))
    (src / "broken.png").write_bytes((src / "p1.png").read_bytes()[:300])
    np.savetxt(src / "k.csv", [[0, 1, 0], [1, -3, 2], [0, 1, 0]], delimiter=",")
    return src


AUDIO = {"reverb": (["--wet", "0.5", "--predelay-ms", "3"], True),
         "echo": (["--delay", "0.05", "--repeats", "3"], False)}


@pytest.mark.parametrize("command", sorted(AUDIO))
def test_audio_batch_equals_single_file_runs(sounds, tmp_path, capsys, command):
    options, takes_ir = AUDIO[command]
    inputs = [sounds / "a.wav", sounds / "b.wav", sounds / "c.flac"]
    ir = [sounds / "hall.wav"] if takes_ir else []
    out = tmp_path / "wet" / "deeper"                     # created, parents too
    code, err = run(capsys, command, *inputs, *ir, "-o", out, *options)
    assert code == 0, err
    assert err.splitlines() == ["sigconv: 3 written, 0 failed"]
    assert listing(out) == ["a.wav", "b.wav", "c.flac"]    # the IR is not an input
    for path in inputs:
        single = tmp_path / f"single{path.suffix}"
        assert run(capsys, command, path, *ir, "-o", single, *options, "--force")[0] == 0
        same_audio(out / path.name, single)
        assert sf.info(out / path.name).subtype == sf.info(path).subtype


IMAGE = {"blur": ["--sigma", "1.5"], "box": ["--box", "3", "--border", "wrap"],
         "edges": ["--operator", "sobel"], "filter": ["--kernel", "{k}", "--correlate"]}


@pytest.mark.parametrize("variant", sorted(IMAGE))
def test_image_batch_equals_single_file_runs(pictures, tmp_path, capsys, variant):
    command = "blur" if variant == "box" else variant
    options = [o.replace("{k}", str(pictures / "k.csv")) for o in IMAGE[variant]]
    inputs = [pictures / f"p{i}.png" for i in (1, 2, 3)]
    out = tmp_path / "out"
    out.mkdir()                                         # an existing, empty directory
    code, err = run(capsys, command, *inputs, "-o", out, *options, "--quiet")
    assert code == 0 and err == ""
    assert listing(out) == ["p1.png", "p2.png", "p3.png"]  # the kernel file is not one
    for path in inputs:
        single = tmp_path / "single.png"
        assert run(capsys, command, path, "-o", single, *options, "--force")[0] == 0
        assert (out / path.name).read_bytes() == single.read_bytes()


def test_broken_audio_file_in_the_middle(sounds, tmp_path, capsys):
    out = tmp_path / "wet"
    code, err = run(capsys, "reverb", sounds / "a.wav", sounds / "broken.wav",
                    sounds / "b.wav", sounds / "hall.wav", "-o", f"{out}/")
    assert code == 1
    lines = err.splitlines()
    assert lines[-1] == "sigconv: 2 written, 1 failed"
    (bad,) = error_lines(err)
    assert bad.startswith(f"sigconv: error: {sounds / 'broken.wav'}: ")
    assert "truncated" in bad
    assert listing(out) == ["a.wav", "b.wav"]            # nothing, not even a temp file
    assert "Traceback" not in err


def test_broken_images_in_a_two_process_batch(pictures, tmp_path, capsys):
    """--jobs 2 in-process: worker processes, failures and warnings routed back."""
    out = tmp_path / "out"
    missing = pictures / "missing.png"
    code, err = run(capsys, "blur", pictures / "p1.png", pictures / "broken.png", missing,
                    pictures / "p2.png", "-o", out, "--sigma", "1", "--jobs", "2",
                    "--workers", "1")
    assert code == 1
    errors = error_lines(err)
    assert len(errors) == 2 and err.splitlines()[-1] == "sigconv: 2 written, 2 failed"
    assert any(e.startswith(f"sigconv: error: {pictures / 'broken.png'}: ") for e in errors)
    assert any(e.startswith(f"sigconv: error: {missing}: ") and "does not exist" in e
               for e in errors)
    assert listing(out) == ["p1.png", "p2.png"]
    single = tmp_path / "single.png"
    assert run(capsys, "blur", pictures / "p2.png", "-o", single, "--sigma", "1",
               "--workers", "1")[0] == 0
    assert (out / "p2.png").read_bytes() == single.read_bytes()


class KilledWork(image_cmds.ImageWork):
    """Dies by SIGKILL (as the out-of-memory killer does) half-way through writing any
    input whose name starts with 'kill'; otherwise the usual work."""

    def __call__(self, args, say, progress=False):
        if os.path.basename(args.input).startswith("kill"):
            with atomic_output(args.output, suffix=_batch.temp_suffix(args.output)):
                os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(args, say, progress)


class NeighbourLostWork(image_cmds.ImageWork):
    """'slow*' inputs are written, then their worker dawdles before returning; a 'kill*'
    input waits until such an output exists and then dies by SIGKILL: the pool breaks
    with the finished neighbour's result still in flight."""

    def __call__(self, args, say, progress=False):
        name = os.path.basename(args.input)
        if name.startswith("kill"):
            slow = os.path.join(os.path.dirname(args.output), "slow.png")
            end = time.monotonic() + 20
            while not os.path.exists(slow) and time.monotonic() < end:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        out = super().__call__(args, say, progress)
        if name.startswith("slow"):
            time.sleep(1.0)
        return out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_finished_neighbour_of_a_killed_worker_is_counted_written(pictures, tmp_path,
                                                                    capsys, monkeypatch):
    """The file whose worker survived is run again alone and counted once, written; the
    culprit fails; the summary matches the directory."""
    monkeypatch.setattr(image_cmds, "ImageWork", NeighbourLostWork)
    (pictures / "kill.png").write_bytes((pictures / "p1.png").read_bytes())
    (pictures / "slow.png").write_bytes((pictures / "p2.png").read_bytes())
    out = tmp_path / "out"
    code, err = run(capsys, "blur", pictures / "slow.png", pictures / "kill.png",
                    pictures / "p3.png", "-o", out, "--sigma", "1", "--jobs", "2")
    assert code == 1
    errors = error_lines(err)
    assert errors == [f"sigconv: error: {pictures / 'kill.png'}: its worker process died "
                      "(killed, or out of memory?)"]
    assert listing(out) == ["p3.png", "slow.png"]
    assert err.splitlines()[-1] == "sigconv: 2 written, 1 failed"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_worker_fails_its_files_and_the_rest_go_on(pictures, tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.setattr(image_cmds, "ImageWork", KilledWork)
    (pictures / "kill.png").write_bytes((pictures / "p1.png").read_bytes())
    out = tmp_path / "out"
    names = ["p1.png", "kill.png", "p2.png", "p3.png"]
    code, err = run(capsys, "blur", *(pictures / n for n in names), "-o", out, "--sigma",
                    "1", "--jobs", "2")
    assert code == 1
    errors = error_lines(err)
    assert f"sigconv: error: {pictures / 'kill.png'}: its worker process died (killed, or " \
           "out of memory?)" in errors
    written = listing(out)
    assert "kill.png" not in written and "p3.png" in written    # a new pool for the rest
    assert err.splitlines()[-1] == f"sigconv: {len(written)} written, {len(errors)} failed"
    assert len(written) + len(errors) == 4
    for name in written:
        assert np.array_equal(si.read(out / name).shape, si.read(pictures / name).shape)


def test_clipping_warning_names_its_file_even_when_quiet(tmp_path, capsys):
    sf.write(tmp_path / "loud.wav", np.full(500, 0.9), 8000, subtype="PCM_16")
    sf.write(tmp_path / "soft.wav", np.full(500, 0.1), 8000, subtype="PCM_16")
    code, err = run(capsys, "echo", tmp_path / "loud.wav", tmp_path / "soft.wav", "-o",
                    tmp_path / "out", "--delay", "0.01", "--decay", "1", "--quiet")
    assert code == 0
    (line,) = err.splitlines()
    assert line.startswith(f"sigconv: warning: {tmp_path / 'loud.wav'}: ")
    assert "clipped" in line


@pytest.mark.parametrize("quiet", [False, True])
def test_one_bar_over_the_files_on_a_terminal(pictures, tmp_path, capsys, monkeypatch,
                                               quiet):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, err = run(capsys, "blur", pictures / "p1.png", pictures / "p2.png", "-o",
                    tmp_path / "out", "--sigma", "1", *(["--quiet"] if quiet else []))
    assert code == 0
    if quiet:
        assert err == ""
    else:
        assert "0/2" in err and "file/s" in err         # tqdm's counter, over files
        assert "Gaussian" not in err                      # per-file notes left out
        assert err.splitlines()[-1].endswith("sigconv: 2 written, 0 failed")


def test_name_collisions_are_refused_before_any_work(pictures, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "p1.png").write_bytes((pictures / "p2.png").read_bytes())
    out = tmp_path / "out"
    code, err = run(capsys, "edges", pictures / "p1.png", other / "p1.png", "-o", out)
    assert code == 1 and err.count("\n") == 1
    assert str(pictures / "p1.png") in err and str(other / "p1.png") in err
    assert not out.exists()                               # not even the directory
    code, err = run(capsys, "edges", pictures / "p1.png", pictures / "p1.png", "-o", out)
    assert code == 1 and "given twice" in err and not out.exists()


def test_existing_outputs_need_force(pictures, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "p2.png").write_bytes(b"old")
    (out / "p3.png").write_bytes(b"old")
    args = ["blur", pictures / "p1.png", pictures / "p2.png", pictures / "p3.png", "-o", out,
            "--box", "2"]
    code, err = run(capsys, *args)
    assert code == 1 and err.count("\n") == 1
    assert "2 outputs exist" in err and "--force" in err
    assert listing(out) == ["p2.png", "p3.png"]           # p1 not written either
    assert (out / "p2.png").read_bytes() == b"old"
    assert run(capsys, *args, "--force")[0] == 0
    assert listing(out) == ["p1.png", "p2.png", "p3.png"]
    assert si.read(out / "p2.png").dtype == np.uint16


def test_an_output_is_never_an_input(pictures, capsys, monkeypatch):
    monkeypatch.chdir(pictures)
    before = {p: (pictures / p).read_bytes() for p in ("p1.png", "p2.png")}
    for output in (".", "./"):
        code, err = run(capsys, "blur", "p1.png", "p2.png", "-o", output, "--sigma", "1",
                        "--force")
        assert code == 1 and "input" in err and err.count("\n") == 1
    # the kernel file is protected too
    code, err = run(capsys, "filter", "p1.png", "k.csv", "-o", ".", "--kernel", "k.csv",
                    "--force")
    assert code == 1 and "input" in err
    assert {p: (pictures / p).read_bytes() for p in before} == before


def test_output_directory_rules(pictures, sounds, tmp_path, capsys):
    # one input and -o ending with '/': a batch of one, into a new directory
    code, err = run(capsys, "blur", pictures / "p1.png", "-o", f"{tmp_path / 'one'}/",
                    "--sigma", "1")
    assert code == 0 and listing(tmp_path / "one") == ["p1.png"]
    assert err.splitlines()[-1] == "sigconv: 1 written, 0 failed"
    # one input and an existing directory without '/': refused as before
    code, err = run(capsys, "blur", pictures / "p1.png", "-o", tmp_path / "one", "--sigma",
                    "1", "--force")
    assert code == 1 and "is a directory" in err
    # several inputs and -o an existing file
    (tmp_path / "file.wav").write_bytes(b"x")
    code, err = run(capsys, "echo", sounds / "a.wav", sounds / "b.wav", "-o",
                    tmp_path / "file.wav", "--delay", "0.1")
    assert code == 1 and "not a directory" in err
    # an input that is a directory
    code, err = run(capsys, "blur", pictures, pictures / "p1.png", "-o", tmp_path / "d",
                    "--sigma", "1")
    assert code == 1 and "is a directory" in err and not (tmp_path / "d").exists()


def test_a_bad_ir_fails_the_batch_up_front(sounds, tmp_path, capsys):
    out = tmp_path / "wet"
    code, err = run(capsys, "reverb", sounds / "a.wav", sounds / "b.wav",
                    sounds / "broken.wav", "-o", out)     # the last file is the IR
    assert code == 1 and err.count("\n") == 1 and "IR" in err
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["blur", "a.png", "b.png", "-o", "out", "--sigma", "1", "--jobs", "0"],
    ["blur", "a.png", "b.png", "-o", "out", "--sigma", "1", "--jobs", "-2"],
    ["reverb", "a.wav", "b.wav", "ir.wav", "-o", "out", "--jobs", "two"],
    ["edges", "a.png", "b.png", "-o", "out", "--plot", "p.png"],
    ["echo", "a.wav", "-o", "out/", "--delay", "0.1", "--plot", "p.png"],
    ["reverb", "a.wav", "-o", "out/"],                                  # no IR
])
def test_usage_errors(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, *argv)
    assert code == 2 and err.startswith("sigconv: error: ") and err.count("\n") == 1
    assert listing(tmp_path) == []


def test_interrupt_stops_the_batch_and_says_how_far(pictures, tmp_path, capsys, monkeypatch):
    from sigconv_cli import image_cmds

    calls = []
    real = image_cmds.ImageWork.__call__

    def interrupted_second_time(self, args, say, progress=False):
        calls.append(args.input)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, args, say, progress)

    monkeypatch.setattr(image_cmds.ImageWork, "__call__", interrupted_second_time)
    out = tmp_path / "out"
    code, err = run(capsys, "blur", *(pictures / f"p{i}.png" for i in (1, 2, 3)), "-o", out,
                    "--sigma", "1")
    assert code == 130
    assert err.splitlines()[-2:] == ["sigconv: stopped: 1 written, 0 failed, 2 not done",
                                     "sigconv: error: interrupted"]
    assert listing(out) == ["p1.png"]


def _wav_files(directory, count, frames):
    directory.mkdir()
    x = 0.1 * RNG.standard_normal((frames, 2)).astype(np.float32)
    for i in range(count):
        sf.write(directory / f"f{i}.wav", np.roll(x, 97 * i, axis=0), 8000, subtype="FLOAT")


def test_subprocess_two_jobs(sounds, tmp_path):
    """The installed command, two worker processes, a broken file among good ones."""
    src = tmp_path / "many"
    _wav_files(src, 4, 4000)
    inputs = sorted(str(p) for p in src.iterdir())
    inputs.insert(2, str(sounds / "broken.wav"))
    out = tmp_path / "wet"
    proc = subprocess.run([sys.executable, "-m", "sigconv_cli", "reverb", *inputs,
                           str(sounds / "hall.wav"), "-o", str(out), "--jobs", "2",
                           "--workers", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1] == "sigconv: 4 written, 1 failed"
    assert [line for line in lines if line.startswith("sigconv: error: ")] == [
        line for line in lines if line.startswith(f"sigconv: error: {sounds / 'broken.wav'}: ")]
    assert listing(out) == [f"f{i}.wav" for i in range(4)]
    single = tmp_path / "single.wav"
    assert main(["reverb", inputs[-1], str(sounds / "hall.wav"), "-o", str(single),
                 "--workers", "1", "--quiet"]) == 0
    same_audio(out / "f3.wav", single)


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32",
                    reason="POSIX signals")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the group"])
def test_signal_stops_workers_and_leaves_no_temporary_file(tmp_path, how):
    src = tmp_path / "many"
    _wav_files(src, 6, 400_000)
    ir = tmp_path / "ir.wav"
    sf.write(ir, 0.1 * RNG.standard_normal((20_000, 2)), 8000, subtype="FLOAT")
    out = tmp_path / "wet"
    proc = subprocess.Popen([sys.executable, "-m", "sigconv_cli", "reverb",
                             *sorted(str(p) for p in src.iterdir()), str(ir), "-o", str(out),
                             "--jobs", "2"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not (out.exists() and any(p.name.startswith(".sigconv") for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "no file was started"
        time.sleep(0.01)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:                        # Ctrl-C in a terminal: the parent and its workers
        os.killpg(proc.pid, signal.SIGINT)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == (143 if how == "SIGTERM" else 130), err
    lines = err.splitlines()
    assert lines[-1] == ("sigconv: error: terminated" if how == "SIGTERM"
                         else "sigconv: error: interrupted")
    assert lines[-2].startswith("sigconv: stopped: ")
    assert "Traceback" not in err
    assert not [p for p in out.iterdir() if p.name.startswith(".sigconv")]
    for done in out.iterdir():                            # whatever was written is whole
        assert sf.info(done).frames == 400_000 + 20_000 - 1


@pytest.mark.parametrize("argv, jobs", [
    (["a.wav", "--jobs", "2"], 2), (["--jobs=3", "a.wav"], 3), (["a.wav"], 1),
    (["--jobs", "2", "--jobs", "1"], 1), (["--jobs", "x"], 1), (["--jobs"], 1),
    (["--", "--jobs", "2"], 1), (["-o", "--jobs", "--jobs=4"], 4)])
def test_jobs_seen_before_parsing(argv, jobs):
    assert _batch._jobs_in(argv) == jobs


def test_early_fork_server_only_for_batches_of_several_jobs(monkeypatch):
    started = []
    monkeypatch.setattr("multiprocessing.forkserver.ensure_running",
                        lambda: started.append(True))
    for argv in (["reverb", "a.wav", "b.wav", "ir.wav", "-o", "d/"],
                 ["reverb", "a.wav", "--jobs", "1"], ["convolve", "--jobs", "2"],
                 ["calibrate"], []):
        assert not _batch.start_early(argv)
    assert not started


@pytest.mark.skipif(sys.platform == "win32", reason="no fork server")
def test_early_fork_server_preloads_the_work(tmp_path):
    """Started before the command imports anything heavy, the fork server imports the
    command's modules and pyFFTW itself: each worker, a fork of it, starts with them
    loaded (and no thread but its own); this process's environment is left as it was."""
    (tmp_path / "probe.py").write_text(
        "import sys, threading\n"
        "def loaded(names):\n"
        "    return [n in sys.modules for n in names], threading.active_count()\n")
    code = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "os.environ.pop('OMP_NUM_THREADS', None)\n"
        "from sigconv_cli import _batch\n"
        "assert 'numpy' not in sys.modules and 'sigconv' not in sys.modules\n"
        "print(_batch.start_early(['reverb', 'a.wav', 'b.wav', 'ir.wav', '-o', 'd/',\n"
        "                          '--jobs', '2']), 'OMP_NUM_THREADS' in os.environ)\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "import probe\n"
        "with ProcessPoolExecutor(1, mp_context=_batch._context()) as pool:\n"
        "    print(pool.submit(probe.loaded, ['sigconv_cli.audio_cmds', 'sigconv.audio',\n"
        "                                     'pyfftw', 'scipy.fft']).result())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True False", "([True, True, True, False], 1)"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_batch_process_reuses_freed_memory(tmp_path):
    """After keep_freed_memory, arrays of a few MB freed by one file and allocated again
    by the next land on pages already mapped: no page faults (before: thousands)."""
    code = (
        "import resource, sys, numpy as np\n"
        "from sigconv_cli import _batch\n"
        "def faults():\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(10):\n"
        "        a = np.ones(1 << 20); b = np.ones(1 << 20); del a, b\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before\n"
        "first = faults()\n"
        "if not _batch.keep_freed_memory():\n"
        "    print('not glibc'); sys.exit()\n"
        "faults()\n"
        "print(first, faults())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.strip() == "not glibc":
        pytest.skip("not glibc")
    first, after = map(int, proc.stdout.split())
    assert first > 2 * 2048 and after < 100, (first, after)     # 8 MB: 2048 pages
