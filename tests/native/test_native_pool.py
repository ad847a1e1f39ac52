"""The compiled core's persistent worker threads (src/native/pool.cpp): results independent of
the thread count and of which thread ran which piece, callers from several Python threads at
once, and a forked child that starts its own workers."""

import multiprocessing
import threading

import numpy as np
import pytest

from sigconv.engine import _native

pytestmark = pytest.mark.skipif(not _native.loaded(), reason="compiled core not built")


def _core():
    k = _native.kernels()
    assert k is not None
    return k


def _direct(x, h, threads):
    out = np.empty((x.shape[0], x.shape[1] + h.shape[1] - 1), x.dtype)
    _core().direct_conv(out, x, h, 0, threads)
    return out


def _naive(x, h):
    """Full convolution of each line, every output summed over its taps in ascending order
    (the compiled loop's order), in the data's own precision."""
    n, m = x.shape[1], h.shape[1]
    out = np.zeros((x.shape[0], n + m - 1), x.dtype)
    for i in range(m):
        out[:, i:i + n] += h[:, i:i + 1] * x
    return out


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_thread_counts_and_pieces_change_no_bit(dt):
    rng = np.random.default_rng(5)
    # a long line (many runs of tiles, shared out 8 pieces per thread) and many short ones
    for xs, m in (((1, 100_003), 7), ((9, 1_001), 3), ((2, 5_000), 64)):
        x = rng.standard_normal(xs).astype(dt)
        h = rng.standard_normal((1, m)).astype(dt)
        one = _direct(x, h, 1)
        np.testing.assert_array_equal(one, _naive(x, h))
        for threads in (2, 3, 5):
            np.testing.assert_array_equal(_direct(x, h, threads), one)
    img = rng.standard_normal((301, 257)).astype(dt)
    k = rng.standard_normal((5, 7)).astype(dt)
    outs = []
    for threads in (1, 2, 4):
        o = np.empty((305, 263), dt)
        _core().direct_conv2d(o, img, k, 0, 0, threads)
        outs.append(o)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_workers_persist_between_calls():
    x = np.random.default_rng(1).standard_normal((1, 50_000))
    h = np.ones((1, 5))
    _direct(x, h, 2)
    started = _core().pool_workers()
    assert started >= 1
    for _ in range(20):
        _direct(x, h, 2)
    assert _core().pool_workers() == started      # no new thread per call


def test_callers_from_several_python_threads():
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((1, 40_000 + 17 * i)) for i in range(6)]
    h = rng.standard_normal((1, 9))
    want = [_direct(x, h, 1) for x in data]
    errors = []

    def work(i):
        try:
            for _ in range(15):
                np.testing.assert_array_equal(_direct(data[i], h, 2), want[i])
        except AssertionError as e:     # reported below, from the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(data))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a caller never returned"
    assert not errors, errors[0]


def _child(q):
    x = np.arange(30_000, dtype=np.float64).reshape(1, -1) % 7
    h = np.array([[1.0, -2.0, 1.0]])
    q.put(float(_direct(x, h, 2).sum()))


def test_forked_child_starts_its_own_workers():
    x = np.arange(30_000, dtype=np.float64).reshape(1, -1) % 7
    h = np.array([[1.0, -2.0, 1.0]])
    want = float(_direct(x, h, 2).sum())          # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(timeout=60)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung in the thread pool")
    assert p.exitcode == 0
    assert q.get(timeout=5) == want
