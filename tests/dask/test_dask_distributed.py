"""The same results on a real dask.distributed cluster: two worker processes on
loopback (graphs, kernels and per-block functions pickled and run elsewhere)."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import sigconv  # noqa: E402
from sigconv import image  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=50)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def test_cluster_has_two_worker_processes(client):
    info = client.scheduler_info()
    assert len(info["workers"]) == 2
    pids = client.run(lambda: __import__("os").getpid())
    assert len(set(pids.values())) == 2


def test_long_kernel_exact_integers(client):
    rng = np.random.default_rng(11)
    x = rng.integers(-500, 500, 1200)
    h = rng.integers(-500, 500, 300)                       # longer than a chunk
    got = sigconv.convolve(da.from_array(x, chunks=128), h, "same")
    out = client.compute(got).result()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, sigconv.convolve(x, h, "same"))


def test_float_axes_and_fftconvolve(client):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((20, 600)).astype(np.float32)
    h = rng.standard_normal((1, 301)).astype(np.float32)
    got = sigconv.fftconvolve(da.from_array(x, chunks=(20, 128)), h, "full", axes=1)
    out = client.compute(got).result()
    want = sigconv.fftconvolve(x, h, "full", axes=1)
    assert out.dtype == want.dtype == np.float32
    scale = float(np.abs(x).sum(axis=1).max() * np.abs(h).max())
    assert float(np.abs(out - want).max()) <= 1e-4 * scale


def test_image_wrap_and_stretched_edges(client):
    rng = np.random.default_rng(13)
    img = rng.integers(0, 256, (40, 50, 4)).astype(np.uint8)
    d = da.from_array(img, chunks=(15, 20, 4))
    out = client.compute(image.gaussian(d, 3.0, border="wrap")).result()
    np.testing.assert_array_equal(out, image.gaussian(img, 3.0, border="wrap"))
    out = client.compute(image.edges(d, border="mirror")).result()
    np.testing.assert_array_equal(out, image.edges(img, border="mirror"))
