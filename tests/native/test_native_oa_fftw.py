"""The compiled overlap-add that calls FFTW itself, block by block (core ``oa_fftw``), against
scipy's direct sums, the chunked loop it replaces, and the NumPy twin; its bits for 1 to 4
threads; its plans (``block_plans`` of the pyFFTW backend) and its argument checks."""

import threading
import warnings

import numpy as np
import pytest
from test_native_fft import _draw
from test_native_fft import _oracle_conv as _oracle

import sigconv
from sigconv.backends import available_backends, clear_plan_cache, get_backend
from sigconv.engine import _fft, _native

pytestmark = pytest.mark.skipif(
    not _native.loaded() or "pyfftw" not in available_backends(),
    reason="needs the compiled core and pyFFTW")

MODES = ["full", "same", "valid"]
# (x shape, h shape, axes): one long line (blocks split mid-line between pieces), lines with
# one kernel, a kernel per line, columns after the cut axis (interleaved transforms), a kernel
# per column, a two-tap kernel (one-sample tails), a kernel per line of columns
CASES = [((100_003,), (640,), None), ((40, 5000), (1, 101), [1]), ((3, 50_000), (3, 97), [1]),
         ((60_000, 3), (101, 1), [0]), ((20_000, 4), (77, 4), [0]), ((30_001,), (2,), None),
         ((2, 20_000, 3), (2, 77, 3), [1])]


@pytest.fixture
def spy(monkeypatch):
    """Count the calls of the core's oa_fftw (the block loop ran, not the chunked one)."""
    k = _native.kernels()
    calls = []
    real = k.oa_fftw

    def wrapped(*args, **kw):
        calls.append(args[3])                                  # the block length L
        return real(*args, **kw)
    monkeypatch.setattr(k, "oa_fftw", wrapped)
    return calls


@pytest.mark.parametrize("dt", [np.float64, np.float32, np.int16, np.uint8])
@pytest.mark.parametrize("mode", MODES)
def test_blocks_equal_for_any_threads_and_match_oracle(dt, mode, spy, monkeypatch):
    monkeypatch.setattr(_fft, "OA_BLOCKS_PARALLEL_MIN_POINTS", 0)     # threads even for small cases
    rng = np.random.default_rng(41)
    for xs, hs, axes in CASES:
        x, h = _draw(rng, xs, dt), _draw(rng, hs, dt)
        before = len(spy)
        one = sigconv.oaconvolve(x, h, mode, axes=axes, workers=1)
        assert len(spy) == before + 1                         # the block loop ran
        # (3 workers may get another block length from the planner: the kernel's own
        # test below runs one block length on 1 to 4 threads)
        np.testing.assert_array_equal(sigconv.oaconvolve(x, h, mode, axes=axes, workers=2), one)
        want = _oracle(x, h, mode, axes)
        scale = max(1.0, float(np.abs(want).max()))
        tol = 2e-4 if np.dtype(dt) == np.float32 else 1e-10
        assert one.shape == want.shape
        np.testing.assert_allclose(one, want, atol=tol * scale, rtol=0)
        monkeypatch.setattr(_fft, "OA_FFTW_BLOCKS", False)
        chunks = sigconv.oaconvolve(x, h, mode, axes=axes, workers=2)
        monkeypatch.setattr(_fft, "OA_FFTW_BLOCKS", True)
        with _native.use_native(False):
            twin = sigconv.oaconvolve(x, h, mode, axes=axes, workers=2)
        assert one.dtype == chunks.dtype == twin.dtype
        np.testing.assert_allclose(one, chunks, atol=tol * scale, rtol=0)
        np.testing.assert_allclose(one, twin, atol=tol * scale, rtol=0)


def test_integers_exact_through_blocks(spy):
    rng = np.random.default_rng(42)
    x = rng.integers(-300, 300, 200_000).astype(np.int16)
    h = rng.integers(-9, 9, 301).astype(np.int16)
    got = sigconv.convolve(x, h, method="oa")
    assert spy
    want = np.convolve(x.astype(np.int64), h.astype(np.int64))
    np.testing.assert_array_equal(got, want)


def test_float32_output_from_double_blocks_is_one_thread_bits(spy, monkeypatch):
    """A small float32 problem is transformed in float64 and written as float32: the tails
    cannot be added after a join without another rounding, so the loop keeps one thread."""
    monkeypatch.setattr(_fft, "OA_BLOCKS_PARALLEL_MIN_POINTS", 0)
    rng = np.random.default_rng(43)
    x, h = rng.standard_normal(3000).astype(np.float32), rng.standard_normal(41).astype(np.float32)
    one = sigconv.oaconvolve(x, h, workers=1)
    assert spy and one.dtype == np.float32
    np.testing.assert_array_equal(sigconv.oaconvolve(x, h, workers=2), one)
    np.testing.assert_allclose(one, np.convolve(x.astype(float), h.astype(float)), atol=1e-4)


def test_nonfinite_stops_the_blocks_and_auto_goes_direct(spy):
    x = np.ones(400_000)
    x[390_000] = np.nan                    # in the last piece
    h = np.ones(301)
    assert sigconv.explain(x, h).method == "oa"
    out = sigconv.convolve(x, h)           # the fill finds the NaN: direct keeps it local
    assert spy
    bad = np.flatnonzero(~np.isfinite(out))
    assert bad.min() == 390_000 and bad.max() == 390_300
    with pytest.warns(RuntimeWarning, match="overlap-add spreads"):
        spread = sigconv.oaconvolve(x, h)  # forced: spread over the block, said once
    assert np.isnan(spread[390_000]) and np.isfinite(spread[:380_000]).all()


def _direct_call(n=5000, m=64, L=256, check=True, x=None, threads=2):
    b = get_backend("pyfftw")
    B = L - m + 1
    bp = b.block_plans(L, 1, np.float64)
    rng = np.random.default_rng(44)
    x = rng.standard_normal(n) if x is None else x
    h = rng.standard_normal(m)
    H = np.fft.rfft(h, L).reshape(1, -1, 1)
    out = np.full((1, n + m - 1, 1), np.nan)
    ok = _native.kernels().oa_fftw(out, x.reshape(1, n, 1), H, L, B, 0, 0, False, 1.0 / L,
                                    bp.addresses, threads, check)
    return ok, out.ravel(), np.convolve(x, h), bp


def test_oa_fftw_same_bits_on_1_to_4_threads():
    """One block length, 24 blocks split in 4 pieces per thread: the tails of the pieces'
    last blocks added after the join give the one-thread bits."""
    ok, one, want, _ = _direct_call()
    for threads in (1, 2, 3, 4):
        ok, got, _, _ = _direct_call(threads=threads)
        assert ok
        np.testing.assert_array_equal(got, one)
    np.testing.assert_allclose(one, want, atol=1e-11)


def test_oa_fftw_direct_call_and_finite_flag():
    ok, got, want, _ = _direct_call()
    assert ok
    np.testing.assert_allclose(got, want, atol=1e-11)
    x = np.random.default_rng(45).standard_normal(5000)
    x[4000] = np.inf
    assert _direct_call(x=x)[0] is False                 # checked: stops, says so
    ok, got, _, _ = _direct_call(x=x, check=False)       # unchecked: runs, inf spreads
    assert ok and not np.isfinite(got[4000]) and np.isfinite(got[:3000]).all()


def test_oa_fftw_rejects_bad_arguments():
    k = _native.kernels()
    bp = get_backend("pyfftw").block_plans(256, 1, np.float64)
    x = np.zeros((1, 1000, 1))
    H = np.zeros((1, 129, 1), np.complex128)
    out = np.zeros((1, 1063, 1))
    good = {"out": out, "x": x, "H": H, "L": 256, "B": 193, "s": 0, "w0": 0, "per_line": False,
            "scale": 1.0, "plans": bp.addresses, "threads": 1, "check_finite": True}
    assert k.oa_fftw(**good)
    bad = [({"plans": (0,) + bp.addresses[1:]}, "null"),
           ({"plans": bp.addresses[:3]}, "plans must be"),
           ({"H": np.zeros((1, 100, 1), np.complex128)}, "shapes do not match"),
           ({"B": 100}, "shapes do not match"),                      # tail longer than a block
           ({"H": H.astype(np.complex64)}, "out must be"),
           ({"H": H.real.copy()}, "H must be complex"),
           ({"out": out.astype(np.complex128)}, "out must be"),
           ({"x": x.astype(np.complex128)}, "unsupported source dtype"),
           ({"out": out[:, ::2]}, "C-contiguous")]
    for change, msg in bad:
        with pytest.raises(ValueError, match=msg):
            k.oa_fftw(**{**good, **change})


def test_block_plans_cached_and_only_for_real_floats():
    b = get_backend("pyfftw")
    p = b.block_plans(1000, 2, np.float32)
    assert p is b.block_plans(1000, 2, np.float32)
    assert all(isinstance(a, int) and a for a in p.addresses)
    assert p.length == 1000 and p.lines == 2
    for dt in (np.complex128, np.float16, np.int32):
        assert b.block_plans(1000, 1, dt) is None
    clear_plan_cache()
    assert b.block_plans(1000, 2, np.float32) is not p
    assert not hasattr(get_backend("scipy"), "block_plans")


def test_scipy_backend_keeps_the_chunked_loop(spy):
    rng = np.random.default_rng(46)
    x, h = rng.standard_normal(100_000), rng.standard_normal(301)
    got = sigconv.oaconvolve(x, h, backend="scipy")
    assert not spy
    np.testing.assert_allclose(got, np.convolve(x, h), atol=1e-10)


def test_plans_made_from_many_threads_while_pyfftw_plans():
    """New block plans from four threads at once, beside new pyFFTW plans (FFTW's planner
    made thread-safe): every result equal to the one of a quiet process."""
    rng = np.random.default_rng(47)
    jobs = [(rng.standard_normal(50_000 + 997 * i), rng.standard_normal(100 + 37 * i))
            for i in range(8)]
    clear_plan_cache()
    want = [np.convolve(x, h) for x, h in jobs]
    got = [None] * len(jobs)
    errors = []

    def work(i):
        try:
            x, h = jobs[i]
            got[i] = sigconv.oaconvolve(x, h, workers=1) if i % 2 else \
                sigconv.fftconvolve(x, h, workers=1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-9)


FIRST_USE_FROM_THREADS = """
import threading, numpy as np, sigconv
rng = np.random.default_rng(48)
jobs = [(rng.standard_normal(40_000 + 991 * i), rng.standard_normal(90 + 31 * i))
        for i in range(8)]
out = [None] * 8
def work(i):
    x, h = jobs[i]
    out[i] = (sigconv.oaconvolve if i % 2 else sigconv.fftconvolve)(x, h, workers=1)
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
assert all(np.allclose(o, np.convolve(*j)) for o, j in zip(out, jobs))
print("ok")
"""


def test_first_use_from_many_threads_in_a_new_process():
    """Eight threads convolving at once in a new process: pyfftw imported once, every plan
    (pyFFTW's and the core's) under the planner mutex. Before the hooks this crashed (FFTW's
    planner hash table corrupted) in 7 of 12 runs."""
    import subprocess
    import sys
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", FIRST_USE_FROM_THREADS],
                             check=False, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
