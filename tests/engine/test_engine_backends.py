"""FFT backends, the plan cache, threads, and the planner's choices."""

import threading

import numpy as np
import pytest

import sigconv
from sigconv import backends
from sigconv.backends._cache import PlanCache


def test_both_backends_agree():
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal(5000), rng.standard_normal(700)
    outs = [sigconv.fftconvolve(x, h, backend=b) for b in backends.available_backends()]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], atol=1e-9)


def test_scipy_is_the_fallback_name():
    assert "scipy" in backends.available_backends()
    assert backends.get_backend("scipy").name == "scipy"


def test_plan_cache_is_bounded_by_entries_and_bytes():
    cache = PlanCache(max_entries=3, max_bytes=1000)
    for i in range(5):
        cache.get(("k", i), lambda: (object(), 100))
    assert cache.stats()["entries"] == 3
    cache.get("big", lambda: (object(), 900))
    st = cache.stats()
    assert st["bytes"] <= 1000
    huge = cache.get("huge", lambda: ("value", 5000))   # used, not kept
    assert huge == "value" and cache.stats()["bytes"] <= 1000
    cache.clear()
    assert cache.stats()["entries"] == 0


def test_plans_are_reused():
    backends.clear_plan_cache()
    x, h = np.ones(4096), np.ones(300)
    sigconv.fftconvolve(x, h)
    n1 = backends.plan_cache_stats()["entries"]
    sigconv.fftconvolve(x, h)
    assert backends.plan_cache_stats()["entries"] == n1 > 0


@pytest.mark.parametrize("method", ["fft", "oa"])
def test_threads_get_their_own_plans(method, backend):
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(30_000) for _ in range(4)]
    h = rng.standard_normal(501)
    want = [np.convolve(x, h) for x in xs]
    got = [None] * 4

    def work(i):
        for _ in range(5):
            got[i] = sigconv.convolve(xs[i], h, method=method, backend=backend)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-8)


def test_planner_choices_on_clear_cases():
    long = np.ones(1_000_000)
    assert sigconv.explain(long, np.ones(3)).method == "direct"
    assert sigconv.explain(long, np.ones(3001)).method == "oa"
    assert sigconv.explain(np.ones(100_000), np.ones(90_000)).method == "fft"
    small = sigconv.explain(np.ones(50), np.ones(5))
    assert small.method == "direct"


def test_explain_reports_costs_and_block():
    plan = sigconv.explain(np.ones(200_000), np.ones(1001))
    assert plan.method == "oa" and plan.block > 1000
    assert plan.fft_shape[0] == plan.block + 1000
    assert {"fft", "direct:lines"} <= set(plan.costs)
    assert sigconv.choose_conv_method(np.ones(200_000), np.ones(1001)) == "oa"


def test_choose_conv_method_measure_returns_times():
    best, times = sigconv.choose_conv_method(np.ones(300), np.ones(30), measure=True)
    assert best in times and set(times) == {"direct", "fft", "oa"}


@pytest.mark.parametrize("n", [3000, 70_000])   # below and above FRESH_MIN spectra
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_fft_results_are_the_callers_own(n, dtype, backend):
    """Results never alias a plan's buffers (an in-place complex inverse included): a
    later call with the same shapes, or the caller writing into a result, changes
    nothing else."""
    rng = np.random.default_rng(3)

    def draw(size):
        v = rng.standard_normal(size)
        return v + 1j * rng.standard_normal(size) if dtype is np.complex128 else v
    x1, x2, h = draw(n), draw(n), draw(301)
    y1 = sigconv.convolve(x1, h, method="fft", backend=backend)
    keep = y1.copy()
    y2 = sigconv.convolve(x2, h, method="fft", backend=backend)
    np.testing.assert_array_equal(y1, keep)
    y2[:] = 0
    y3 = sigconv.convolve(x1, h, method="fft", backend=backend)
    np.testing.assert_allclose(y3, np.convolve(x1, h), atol=1e-9)
    assert not np.shares_memory(y1, y3)


def test_plan_execute_after_execute_fresh_uses_its_own_buffer(backend):
    """A plan pointed at a caller's array by execute_fresh writes into its own buffer
    again on the next plain execute."""
    from sigconv.backends import PlanKey, get_backend
    b = get_backend(backend)
    plan = b.plan(PlanKey("c2r", (64,), "<f8", (0,), 1, "test-fresh"))
    plan.input[...] = 1.0
    fresh = plan.execute_fresh()
    want = fresh.copy()
    plan.input[...] = 2.0
    own = plan.execute()
    np.testing.assert_array_equal(fresh, want)
    np.testing.assert_allclose(own, 2 * want)
    assert not np.shares_memory(own, fresh)


def test_aligned_empty_is_aligned():
    from sigconv.backends._base import aligned_empty
    for shape in [(1,), (7, 3), (1000,)]:
        a = aligned_empty(shape, np.complex128)
        assert a.shape == shape and a.dtype == np.complex128
        assert a.ctypes.data % 64 == 0


def _run_python(code: str, tmp_path, extra_path: str | None = None) -> str:
    import os
    import subprocess
    import sys
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    if extra_path:
        env["PYTHONPATH"] = extra_path + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pyfftw_is_imported_at_the_first_transform_only(tmp_path):
    """Image filters that plan no transform never pay pyfftw's import (0.3-0.6 s)."""
    pytest.importorskip("pyfftw")
    out = _run_python(
        "import sys, numpy as np\n"
        "from sigconv import image, backends, fftconvolve\n"
        "img = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)\n"
        "image.gaussian(img, 2); image.box(img, 5); image.edges(img)\n"
        "print('pyfftw' in sys.modules, backends.get_backend().name)\n"
        "y = fftconvolve(np.ones(5000), np.ones(3000))\n"
        "print('pyfftw' in sys.modules, abs(y.max() - 3000) < 1e-6)\n", tmp_path)
    assert out.split() == ["False", "pyfftw", "True", "True"]


def test_pyfftw_is_imported_without_scipy_fft(tmp_path):
    """pyfftw.interfaces imports scipy.fftpack (scipy.fft, scipy.special: ~0.2 s) for
    wrappers sigconv does not use; sigconv's transforms leave it out, and the wrappers
    can still be imported by name afterwards."""
    pytest.importorskip("pyfftw")
    pytest.importorskip("scipy.fft")
    out = _run_python(
        "import sys, numpy as np\n"
        "from sigconv import backends, fftconvolve\n"
        "y = fftconvolve(np.ones(5000), np.ones(3000))\n"
        "print(backends.get_backend().name, abs(y.max() - 3000) < 1e-6,\n"
        "      'scipy.fft' in sys.modules, 'scipy.fftpack' in sys.modules)\n"
        "import pyfftw.interfaces.scipy_fft as f\n"
        "print(np.allclose(f.rfft(np.ones(8)), np.fft.rfft(np.ones(8))))\n", tmp_path)
    assert out.split() == ["pyfftw", "True", "False", "False", "True"]


def _broken_pyfftw(tmp_path) -> str:
    """A directory to put first on sys.path, holding a pyfftw that fails to import."""
    fake = tmp_path / "fake" / "pyfftw"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('libfftw3 missing (test)')\n")
    return str(fake.parent)


def test_a_broken_pyfftw_falls_back_to_scipy_at_its_first_plan(tmp_path):
    """An installed pyfftw that fails to import is found out at the first plan: that
    transform and every later one go through scipy.fft, and ``info`` says why."""
    out = _run_python(
        "import numpy as np\n"
        "from sigconv import backends, fftconvolve\n"
        "y = fftconvolve(np.ones(5000), np.ones(3000))\n"
        "print(abs(y.max() - 3000) < 1e-6, backends.get_backend().name)\n"
        "print(backends.available_backends(), backends.pyfftw_error())\n",
        tmp_path, extra_path=_broken_pyfftw(tmp_path))
    first, second = out.splitlines()
    assert first == "True scipy"
    assert second.startswith("['scipy'] ImportError: libfftw3 missing (test)")


def test_a_missing_pyfftw_means_scipy(tmp_path):
    out = _run_python(
        "import sys; sys.modules['pyfftw'] = None\n"
        "import numpy as np\n"
        "from sigconv import backends, fftconvolve\n"
        "y = fftconvolve(np.ones(5000), np.ones(3000))\n"
        "print(abs(y.max() - 3000) < 1e-6, backends.get_backend().name,\n"
        "      backends.available_backends())\n", tmp_path)
    assert out.split() == ["True", "scipy", "['scipy']"]


def test_a_broken_pyfftw_leaves_calibrate_and_explain_on_scipy(tmp_path):
    out = _run_python(
        "import numpy as np, sigconv\n"
        "from sigconv.engine import _calibrate\n"
        "print(_calibrate.plan_wisdom(None, workers=1, seconds=0.1))\n"
        "print(sigconv.explain(np.ones(5000), np.ones(3000), method='fft').backend)\n",
        tmp_path, extra_path=_broken_pyfftw(tmp_path))
    assert out.split() == ["0", "scipy"]


def _smooth7(n: int) -> bool:
    for f in (2, 3, 5, 7):
        while n % f == 0:
            n //= f
    return n == 1


def test_pyfftw_real_lengths_are_even_and_smooth():
    """FFTW's real transforms of odd lengths run about 3x slower per point: real lengths
    are the smallest even 7-smooth numbers, complex ones may be odd."""
    b = backends.get_backend("pyfftw")
    for n in list(range(2, 400)) + [1701, 3085, 12096, 15300, 15309, 10**6 + 3000]:
        r, c = b.next_fast_len(n, True), b.next_fast_len(n, False)
        assert r >= n and r % 2 == 0 and _smooth7(r), (n, r)
        assert c >= n and _smooth7(c), (n, c)
        # the smallest such: no even 7-smooth number in [n, r)
        assert not any(_smooth7(k) for k in range(n + (n % 2), r, 2)), (n, r)
        assert not any(_smooth7(k) for k in range(n, c)), (n, c)
    assert b.next_fast_len(1, True) == 1
    assert b.next_fast_len(15309, False) == 15309       # 3^7 * 7, fine for complex
    # the planner's overlap-add blocks then transform even lengths (was 15309 here)
    x, h = np.zeros(10**6, np.float32), np.zeros(3001, np.float32)
    plan = sigconv.explain(x, h, method="oa", backend="pyfftw")
    assert (plan.block + 3000) % 2 == 0


def test_overlap_add_blocks_stay_near_ten_kernels():
    """Blocks beyond about 10x the kernel save little arithmetic and leave the cache."""
    for n, m in ((10**7, 30001), (10**7, 3001), (10**6, 301)):
        plan = sigconv.explain(np.zeros(n), np.zeros(m), method="oa", backend="pyfftw")
        L = plan.block + m - 1
        assert L % 2 == 0 and L <= max(12.5 * m, 1 << 16), (n, m, L)
