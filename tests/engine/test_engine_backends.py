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
