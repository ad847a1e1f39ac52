"""sigconv.Convolver: one kernel, many inputs, the kernel's spectrum reused."""

import numpy as np
import pytest

import sigconv


@pytest.mark.parametrize("method", ["auto", "direct", "fft", "oa"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolver_equals_convolve(method, mode, backend):
    rng = np.random.default_rng(0)
    h = rng.standard_normal((301, 2))
    conv = sigconv.Convolver(h, mode, method, axes=0, backend=backend)
    for n in (5000, 40_000, 40_000, 700):
        x = rng.standard_normal((n, 2))
        if mode == "valid" and n < 301:
            continue
        want = sigconv.convolve(x, h, mode, method, axes=0, backend=backend)
        np.testing.assert_allclose(conv(x), want, atol=1e-9)


def test_convolver_keeps_the_spectrum_and_a_copy_of_the_kernel():
    h = np.ones(1001)
    conv = sigconv.Convolver(h, method="oa")
    x = np.random.default_rng(1).standard_normal(100_000)
    first = conv(x)
    assert len(conv._spectra) == 1
    h[:] = 0                       # the caller's array changes; the Convolver's does not
    np.testing.assert_allclose(conv(x), first)
    assert not conv.kernel.flags.writeable


def test_convolver_integer_results_stay_exact():
    rng = np.random.default_rng(2)
    h = rng.integers(-100, 100, 2000)
    conv = sigconv.Convolver(h)
    for _ in range(2):
        x = rng.integers(-100, 100, 50_000)
        assert np.array_equal(conv(x), np.convolve(x, h))
