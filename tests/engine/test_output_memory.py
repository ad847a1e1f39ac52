"""Freed output memory kept for reuse (sigconv.backends._cache.BLOCKS): a block comes back
only when every array and view on it is gone, and is lent again only for a similar size."""

import gc
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import sigconv
from sigconv import backends
from sigconv.backends._cache import BLOCK_MIN_BYTES, BLOCKS, BlockStore, fresh_array

MB = 1 << 20


def test_a_freed_block_is_lent_again_for_the_same_size():
    store = BlockStore()
    a, used = store.take((1000,), np.float64)
    assert not used and a.shape == (1000,) and a.dtype == np.float64
    assert a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % 64 == 0
    addr = a.ctypes.data
    del a
    b, used = store.take((1000,), np.float64)
    assert used and b.ctypes.data == addr and store.stats()["reused"] == 1


def test_a_block_stays_lent_while_a_view_lives():
    store = BlockStore()
    a, _ = store.take((100, 10), np.float32)
    a[...] = 7
    view = a[3:, ::2].T
    del a
    gc.collect()
    assert store.stats()["blocks"] == 0               # the view still holds the block
    b, used = store.take((100, 10), np.float32)
    assert not used and not np.shares_memory(b, view)
    b[...] = -1
    assert np.all(view == 7)
    del view
    assert store.stats()["blocks"] == 1


@pytest.mark.parametrize("shape, dtype", [((10, 3), np.complex128), ((7,), np.int16),
                                          ((2, 3, 4), np.complex64), ((0,), np.float64)])
def test_any_shape_and_dtype(shape, dtype):
    store = BlockStore()
    a, _ = store.take(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
    a[...] = 1
    assert np.all(a == 1)


def test_sizes_only_within_a_quarter_are_matched():
    store = BlockStore()
    a, _ = store.take((1000,), np.uint8)
    del a
    _small, used = store.take((500,), np.uint8)        # would waste half the block
    assert not used
    _big, used = store.take((1300,), np.uint8)         # does not fit
    assert not used
    _fits, used = store.take((900,), np.uint8)
    assert used


def test_bounded_in_blocks_and_bytes():
    store = BlockStore(max_bytes=10_000, max_blocks=2)
    arrays = [store.take((1000,), np.uint8)[0] for _ in range(4)]
    del arrays
    st = store.stats()
    assert st["blocks"] == 2 and st["bytes"] <= 10_000
    huge = store.take((20_000,), np.uint8)[0]
    del huge                                          # over max_bytes: freed, not kept
    assert store.stats()["bytes"] <= 10_000
    store.clear()
    assert store.stats()["blocks"] == 0


def test_threads_never_share_a_live_block():
    store = BlockStore(max_blocks=3)
    errors = []

    def work(t):
        for i in range(200):
            a, _ = store.take((256,), np.int64)
            a[...] = t * 1000 + i
            b, _ = store.take((256,), np.int64)
            b[...] = -1
            if not np.all(a == t * 1000 + i) or np.shares_memory(a, b):
                errors.append((t, i))
            del a, b

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and store.stats()["blocks"] <= 3


def test_fresh_array_leases_only_large_outputs():
    small = fresh_array((10,), np.float64)
    assert not isinstance(small.base, np.ndarray) or small.base.dtype == np.uint8
    calls = []

    def populate(a):
        calls.append(a.nbytes)

    big = fresh_array((BLOCK_MIN_BYTES // 8,), np.float64, populate=populate)
    assert type(big.base).__name__ == "_Lease" and len(calls) == 1
    del big
    again = fresh_array((BLOCK_MIN_BYTES // 8,), np.float64, populate=populate)
    assert len(calls) == 1                            # reused memory is not populated again
    del again


@pytest.mark.parametrize("method, m", [("direct", 15), ("oa", 301), ("fft", 301)])
@pytest.mark.parametrize("workers", [1, 2])
def test_engine_outputs_reuse_freed_memory_safely(method, m, workers):
    """Outputs over BLOCK_MIN_BYTES: a kept result is never written by a later call, a
    freed one is reused, and every result is the convolution."""
    backends.clear_plan_cache()
    rng = np.random.default_rng(m)
    n = BLOCK_MIN_BYTES // 8 + 1000
    x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
    h = rng.standard_normal(m)
    ref1 = np.convolve(x1, h)
    ref2 = np.convolve(x2, h)
    r1 = sigconv.convolve(x1, h, method=method, workers=workers)
    assert r1.nbytes >= BLOCK_MIN_BYTES
    view = r1[5:-5]
    del r1
    r2 = sigconv.convolve(x2, h, method=method, workers=workers)   # the view holds r1's block
    assert not np.shares_memory(r2, view)
    np.testing.assert_allclose(view, ref1[5:-5], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(r2, ref2, rtol=1e-9, atol=1e-9)
    before = BLOCKS.stats()["reused"]
    del view, r2
    r3 = sigconv.convolve(x1, h, method=method, workers=workers)
    assert BLOCKS.stats()["reused"] > before
    np.testing.assert_allclose(r3, ref1, rtol=1e-9, atol=1e-9)
    del r3
    assert backends.kept_output_stats()["blocks"] >= 1
    backends.clear_plan_cache()
    assert BLOCKS.stats()["blocks"] == 0
    assert backends.kept_output_stats()["min_bytes"] == BLOCK_MIN_BYTES


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_new_locks():
    """A lock held by another thread at the fork would never be released in the child."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with BLOCKS._lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads
            pid = os.fork()
        if pid == 0:                                  # the child: would block forever
            try:
                a, _ = BLOCKS.take((10,), np.float64)
                BLOCKS.stats()
                os._exit(0 if a.shape == (10,) else 1)
            except BaseException:                     # noqa: BLE001
                os._exit(2)
        deadline = time.monotonic() + 20
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the forked child blocked on the store's lock")
            time.sleep(0.01)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        t.join()
