"""sigconv's engine on dask arrays against the in-memory engine (the oracle here: the
numpy path is itself tested against exact naive sums in tests/engine).

Integer (and bool) results must be equal exactly; float results may differ by the
rounding of transforms of other lengths (each block is planned on its own), so they
are compared with a tolerance scaled to the problem: the error of an FFT convolution
is about eps * log2(N) * |x|_2 |h|_2 per output, below ``tol * sum|x| * max|h|`` with
tol = 1e-9 for 64-bit and 1e-4 for 32-bit floats (the bound every output value obeys).
"""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")

import sigconv  # noqa: E402
from sigconv import _dask  # noqa: E402

FUNCS = {"convolve": sigconv.convolve, "correlate": sigconv.correlate,
         "fftconvolve": sigconv.fftconvolve, "oaconvolve": sigconv.oaconvolve}
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.complex128, np.bool_]


@st.composite
def chunking(draw, n):
    """Random uneven chunks summing to n (often smaller than the kernel)."""
    sizes, left = [], n
    while left:
        c = draw(st.integers(1, max(1, min(left, draw(st.sampled_from([1, 3, 8, n]))))))
        sizes.append(c)
        left -= c
    return tuple(sizes)


def _data(rng, shape, dtype):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-40, 41, shape).astype(dtype)
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _check(got, want, x, h):
    """got: dask result; want: in-memory result."""
    assert isinstance(got, da.Array)
    out = got.compute()
    assert out.shape == want.shape
    assert out.dtype == want.dtype, (out.dtype, want.dtype)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(out, want)
    else:
        tol = 1e-4 if want.dtype in (np.float32, np.complex64) else 1e-9
        scale = float(np.abs(x).sum()) * float(np.abs(h).max(initial=0)) + 1e-300
        assert float(np.abs(out - want).max(initial=0)) <= tol * scale


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_1d_any_chunking_matches_memory(data):
    n = data.draw(st.integers(1, 60), label="n")
    m = data.draw(st.integers(1, 70), label="m")       # kernels longer than chunks and than n
    chunks = data.draw(chunking(n), label="chunks")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    name = data.draw(st.sampled_from(sorted(FUNCS)), label="func")
    mode = data.draw(st.sampled_from(["full", "same", "valid"]), label="mode")
    which = data.draw(st.sampled_from(["in1", "in2", "both"]), label="dask operand")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, h = _data(rng, n, dtype), _data(rng, m, dtype)
    fn = FUNCS[name]
    if name in ("fftconvolve", "oaconvolve") and dtype == np.bool_:
        x, h = x.astype(np.int64), h.astype(np.int64)
    a1 = da.from_array(x, chunks=chunks) if which != "in2" else x
    a2 = da.from_array(h, chunks=max(1, m // 2)) if which != "in1" else h
    try:
        want = fn(x, h, mode)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc)[:30])):
            fn(a1, a2, mode)
        return
    _check(fn(a1, a2, mode), want, x, h)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_2d_axes_and_broadcast_match_memory(data):
    shape = (data.draw(st.integers(1, 14)), data.draw(st.integers(1, 14)))
    axes = data.draw(st.sampled_from([None, 0, 1, (0, 1), (-1,)]), label="axes")
    conv = {0, 1} if axes is None else {a % 2 for a in np.atleast_1d(axes)}
    kshape = tuple(data.draw(st.integers(1, 9)) if a in conv else
                   data.draw(st.sampled_from([1, shape[a]])) for a in (0, 1))
    chunks = tuple(data.draw(chunking(s)) for s in shape)
    dtype = data.draw(st.sampled_from([np.float64, np.int64, np.float32]), label="dtype")
    name = data.draw(st.sampled_from(sorted(FUNCS)), label="func")
    mode = data.draw(st.sampled_from(["full", "same", "valid"]), label="mode")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x, h = _data(rng, shape, dtype), _data(rng, kshape, dtype)
    fn = FUNCS[name]
    try:
        want = fn(x, h, mode, axes=axes)
    except ValueError:
        with pytest.raises(ValueError):
            fn(da.from_array(x, chunks=chunks), h, mode, axes=axes)
        return
    _check(fn(da.from_array(x, chunks=chunks), h, mode, axes=axes), want, x, h)
    # the dask operand second (convolution commutes; the window follows the user's order)
    _check(fn(h, da.from_array(x, chunks=chunks), mode, axes=axes),
           fn(h, x, mode, axes=axes), x, h)


@pytest.mark.parametrize("method", ["auto", "direct", "fft", "oa"])
def test_methods_and_long_kernel_over_small_chunks(method):
    rng = np.random.default_rng(5)
    x = rng.integers(-1000, 1000, 500)
    h = rng.integers(-1000, 1000, 230)                  # longer than 20 chunks
    got = sigconv.convolve(da.from_array(x, chunks=11), h, "full", method=method)
    assert got.chunks[0][:45] == (11,) * 45             # the input's chunks, then the tail
    assert sum(got.chunks[0]) == 729
    _check(got, sigconv.convolve(x, h, method=method), x, h)


def test_integer_dtype_widened_by_bound_with_warning():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, 300).astype(np.uint8)
    h = rng.integers(0, 256, 9).astype(np.uint8)
    with pytest.warns(RuntimeWarning, match="does not fit uint8"):
        got = sigconv.convolve(da.from_array(x, chunks=17), h)
    with pytest.warns(RuntimeWarning):
        want = sigconv.convolve(x, h)
    assert got.dtype == np.uint32 and want.dtype == np.uint32
    np.testing.assert_array_equal(got.compute(), want)


def test_integer_dtype_kept_when_data_bound_fits():
    x = np.arange(100, dtype=np.int16) % 7
    h = np.array([1, -2, 3], np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sigconv.convolve(da.from_array(x, chunks=9), h, "same")
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got.compute(), sigconv.convolve(x, h, "same"))


def test_lazy_until_computed():
    calls = []

    def make(block):
        if block.size:               # not dask's own meta probe
            calls.append(1)
        return block

    x = da.map_blocks(make, da.ones(100, chunks=10, dtype=np.float32), dtype=np.float32)
    y = sigconv.convolve(x, np.ones(5, np.float32))
    assert calls == [] and y.dtype == np.float32 and y.shape == (104,)
    assert float(y.sum().compute()) == pytest.approx(500.0)
    assert len(calls) == 10


def test_both_dask_the_smaller_computed_and_limit(monkeypatch):
    x = da.arange(50.0, chunks=7)
    h = da.from_array(np.array([1.0, 2.0, -1.0]), chunks=1)
    np.testing.assert_allclose(sigconv.convolve(h, x, "same").compute(),
                               sigconv.convolve([1.0, 2.0, -1.0], np.arange(50.0), "same"))
    monkeypatch.setattr(_dask, "KERNEL_MEMORY_LIMIT", 16)
    with pytest.raises(sigconv.InputError, match=r"in2 of shape \(3,\).*larger than"):
        sigconv.convolve(x, h)


def test_errors_quote_the_value():
    x = da.ones((10,), chunks=3)
    with pytest.raises(sigconv.InputError, match="'nope'"):
        sigconv.convolve(x, np.ones(3), mode="nope")
    with pytest.raises(sigconv.InputError, match="'magic'"):
        sigconv.convolve(x, np.ones(3), method="magic")
    with pytest.raises(ValueError, match="same dimensionality"):
        sigconv.convolve(x, np.ones((3, 3)))
    with pytest.raises(TypeError, match="numeric"):
        sigconv.convolve(da.from_array(np.array(["a", "b"]), chunks=1), np.ones(1))
    with pytest.raises(ValueError, match="axes"):
        sigconv.convolve(x, np.ones(3), axes=2)
    unknown = x[x > 0]                                 # chunk sizes unknown until computed
    with pytest.raises(sigconv.InputError, match="compute_chunk_sizes"):
        sigconv.convolve(unknown, np.ones(3))


def test_convolver_and_correlate_complex():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(40) + 1j * rng.standard_normal(40)
    h = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    conv = sigconv.Convolver(h, mode="same")
    _check(conv(da.from_array(x, chunks=6)), conv(x), x, h)
    _check(sigconv.correlate(x, da.from_array(h, chunks=4), "valid"),
           sigconv.correlate(x, h, "valid"), x, h)


def test_numpy_callers_never_import_dask():
    code = ("import sys, numpy as np, sigconv, sigconv.image\n"
            "sigconv.convolve(np.ones(10), np.ones(3)); sigconv.correlate([1, 2], [3])\n"
            "sigconv.fftconvolve(np.ones((4, 4)), np.ones((2, 2)))\n"
            "sigconv.image.gaussian(np.ones((8, 8), np.uint8), 1.0)\n"
            "sigconv.image.edges(np.ones((8, 8, 3), np.uint8))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'dask'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_2d_functions_every_boundary(name, mode):
    rng = np.random.default_rng(4)
    fn = getattr(sigconv, name)
    x = rng.integers(-9, 10, (11, 7))
    small, wide = rng.integers(-3, 4, (4, 3)), rng.integers(-3, 4, (13, 9))  # wide: > x
    cases = [("fill", 0, small, 0), ("fill", 3, wide, 1), ("wrap", 0, wide, 0),
             ("symm", 0, small, 1), ("wrap", 0, small, 1), ("symm", 0, wide, 0)]
    for boundary, fill, h, which in cases:
        args = (h, x) if mode == "valid" and h is wide else (x, h)
        want = fn(*args, mode, boundary, fill)
        a1, a2 = args
        if which == 0:
            a1 = da.from_array(a1, chunks=(3, 4))
        else:
            a2 = da.from_array(a2, chunks=2)
        _check(fn(a1, a2, mode, boundary, fill), want, x, h)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_kernel_broadcasts_a_length_one_axis(mode):
    rng = np.random.default_rng(6)
    x, h = rng.standard_normal((1, 30)), rng.standard_normal((5, 7))   # axis 0: 1 vs 5
    dx = da.from_array(x, chunks=(1, 8))
    _check(sigconv.convolve(dx, h, mode, axes=1), sigconv.convolve(x, h, mode, axes=1), x, h)
    _check(sigconv.fftconvolve(h, dx, mode, axes=1), sigconv.fftconvolve(h, x, mode, axes=1),
           x, h)
