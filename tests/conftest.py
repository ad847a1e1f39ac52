import numpy as np
import pytest

from sigconv import backends

BACKENDS = backends.available_backends()

# The scipy-suite plugin swaps scipy.signal's functions for sigconv's when imported; it
# only runs in the subprocesses of test_scipy_suite.py, never in this process (doctest
# collection would import it, and later comparisons against scipy would compare sigconv
# with itself).
collect_ignore = ["scipy_suite"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def small_operand(rng, shape, dtype):
    """Random small integers (-9..9, 0..9 unsigned; complex parts alike) in ``dtype``: exact
    in every method, so results compare with the naive oracle bit for bit."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rng.integers(-9, 10, shape) + 1j * rng.integers(-9, 10, shape)).astype(dt)
    lo = 0 if dt.kind == "u" else -9
    return rng.integers(lo, 10, shape).astype(dt)


def naive_full(x, h):
    """Exact full convolution by the definition, in Python integers/objects."""
    x = np.asarray(x, dtype=object)
    h = np.asarray(h, dtype=object)
    out = np.zeros(tuple(i + j - 1 for i, j in zip(x.shape, h.shape)), dtype=object)
    for i in np.ndindex(*x.shape):
        for j in np.ndindex(*h.shape):
            out[tuple(a + b for a, b in zip(i, j))] += x[i] * h[j]
    return out


def crop(full, s1, s2, mode):
    """The 'same'/'valid' part of a full result, by scipy.signal's rules."""
    if mode == "full":
        return full
    if mode == "same":
        start = [(f - n) // 2 for f, n in zip(full.shape, s1)]
        return full[tuple(slice(a, a + n) for a, n in zip(start, s1))]
    size = [max(a, b) - min(a, b) + 1 for a, b in zip(s1, s2)]
    start = [min(a, b) - 1 for a, b in zip(s1, s2)]
    return full[tuple(slice(a, a + n) for a, n in zip(start, size))]


def naive(x, h, mode="full"):
    return crop(naive_full(x, h), np.shape(x), np.shape(h), mode)
