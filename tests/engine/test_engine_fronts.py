"""The engine's kept fronts: repeated calls with the same shapes, dtypes and options skip
the checks and the planning (sigconv.engine._api._front). Every call is compared with an
oracle (numpy.convolve line by line, in double precision or exact integers) and, bit for
bit, with the same call on the slow path (no front kept)."""

import warnings

import numpy as np
import pytest
import scipy.signal as ss

import sigconv
from sigconv.backends import available_backends, set_default_backend
from sigconv.engine import _api, _native, _planner

MODES = ("full", "same", "valid")


@pytest.fixture(autouse=True)
def _fresh_fronts():
    _api.clear_fronts()
    yield
    _api.clear_fronts()


def _oracle(x, h, mode, axes=None):
    """Direct convolution in double (complex) precision, scipy's direct loop."""
    wide = np.complex128 if np.result_type(x, h).kind == "c" else np.float64
    xa, ha = x.astype(wide), h.astype(wide)
    if axes is None:
        return ss.convolve(xa, ha, mode, method="direct")
    (a,) = axes
    xm, hm = np.moveaxis(xa, a, -1), np.moveaxis(ha, a, -1)
    lead = np.broadcast_shapes(xm.shape[:-1], hm.shape[:-1])
    xb = np.broadcast_to(xm, lead + xm.shape[-1:])
    hb = np.broadcast_to(hm, lead + hm.shape[-1:])
    out = np.stack([np.convolve(xb[i], hb[i], mode) for i in np.ndindex(*lead)])
    return np.moveaxis(out.reshape(lead + out.shape[-1:]), -1, a)


def _slow(monkeypatch, fn, *args, **kw):
    """``fn(*args, **kw)`` with no front kept or used (the path every call took before)."""
    with monkeypatch.context() as m:
        m.setattr(_api, "_front", lambda *a, **k: None)
        return fn(*args, **kw)


def _check(monkeypatch, x, h, mode="full", method="auto", axes=None, **kw):
    """convolve(x, h, ...) twice through the fronts equals the slow path bit for bit and
    the oracle to rounding; returns the result."""
    got = sigconv.convolve(x, h, mode, method, axes, **kw)
    again = sigconv.convolve(x, h, mode, method, axes, **kw)
    slow = _slow(monkeypatch, sigconv.convolve, x, h, mode, method, axes, **kw)
    for y in (got, again):
        assert y.dtype == slow.dtype and y.shape == slow.shape
        assert y.tobytes() == slow.tobytes()
    want = _oracle(x, h, mode, None if axes is None else list(np.atleast_1d(axes)))
    assert got.shape == want.shape
    tol = 2e-3 if got.dtype in (np.float32, np.complex64, np.float16) else 1e-9
    scale = np.abs(x).max() * np.abs(h).sum() if x.size else 1.0
    np.testing.assert_allclose(got, want, atol=tol * scale, rtol=0)
    return got


@pytest.mark.parametrize("method", ["auto", "fft", "oa", "direct"])
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.complex128])
def test_new_values_same_shapes(method, dt, monkeypatch):
    rng = np.random.default_rng(0)
    for n, m in ((10_000, 301), (10_000, 3001), (50_000, 301), (600, 40)):
        for _ in range(3):                       # same layout, new values each time
            x = rng.standard_normal(n).astype(dt)
            h = rng.standard_normal(m).astype(dt)
            if np.dtype(dt).kind == "c":
                x = x + 1j * rng.standard_normal(n)
            _check(monkeypatch, x, h, "full", method)
    assert len(_api._fronts) >= 3       # (600 x 40 with method auto: numpy.convolve)


def test_dtype_mode_and_axes_changes_take_their_own_front(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2000))
    h = rng.standard_normal((1, 301))
    for dt in (np.float64, np.float32, np.complex64, np.float64):
        xd, hd = x.astype(dt), h.astype(dt)
        for mode in MODES:
            _check(monkeypatch, xd, hd, mode, "fft")             # axes=None: both axes
            for axes in ((1,), [1], 1, -1):                       # one axis, four spellings
                y = sigconv.convolve(xd, hd, mode, "auto", axes)
                want = _oracle(xd, hd, mode, (1,))
                assert y.dtype == np.dtype(dt)
                np.testing.assert_allclose(y, want, atol=1e-3 * np.abs(want).max())
                assert y.tobytes() == _slow(monkeypatch, sigconv.convolve, xd, hd, mode,
                                            "auto", axes).tobytes()
    # a float16 kernel after float64 ones of the same shape: float16 out, as before
    y = sigconv.convolve(x.astype(np.float16), h.astype(np.float16), "same", "fft", 1)
    assert y.dtype == np.float16


def test_strides_are_part_of_the_layout(monkeypatch):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((300, 400))
    h = rng.standard_normal((9, 31))
    for x in (base, np.asfortranarray(base), base.T.copy().T, base[::-1], base[:, ::2][:, :200]):
        for method in ("fft", "oa", "auto"):
            _check(monkeypatch, np.ascontiguousarray(x) if x.shape != base.shape else x, h,
                   "same", method)


@pytest.mark.parametrize("method", ["fft", "oa", "auto"])
def test_nan_after_finite_inputs_of_the_same_layout(method, monkeypatch):
    rng = np.random.default_rng(3)
    n, m = (10_000, 301) if method != "oa" else (100_000, 301)
    x = rng.standard_normal(n)
    h = rng.standard_normal(m)
    _check(monkeypatch, x, h, "full", method)           # keeps the front
    x = rng.standard_normal(n)
    x[n // 2] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = sigconv.convolve(x, h, "full", method)
    with warnings.catch_warnings(record=True) as caught_slow:
        warnings.simplefilter("always")
        slow = _slow(monkeypatch, sigconv.convolve, x, h, "full", method)
    assert y.tobytes() == slow.tobytes()
    assert [str(w.message) for w in caught] == [str(w.message) for w in caught_slow]
    if method == "auto":
        # the NaN stays within the kernel's reach, as a direct sum puts it
        bad = np.flatnonzero(~np.isfinite(y))
        assert bad.min() == n // 2 and bad.max() == n // 2 + m - 1
        assert not caught
    else:
        assert caught and all(issubclass(w.category, RuntimeWarning) for w in caught)
        assert caught[0].filename == __file__        # the warning points at the caller
    x[n // 2] = 0.5                                     # finite again: the fast plan
    _check(monkeypatch, x, h, "full", method)


def test_integers_stay_exact_with_values_that_change_the_plan(monkeypatch):
    rng = np.random.default_rng(4)
    h = rng.integers(-100, 100, 3001)
    small = rng.integers(-100, 100, 20_000)
    np.testing.assert_array_equal(sigconv.convolve(small, h), np.convolve(small, h))
    # the same layout with values too large for an exact FFT: direct, still exact
    big = rng.integers(-2**40, 2**40, 20_000)
    want = np.convolve(big.astype(object), h.astype(object))
    got = sigconv.convolve(big, h)
    assert got.dtype == np.int64 and list(got) == list(want)
    np.testing.assert_array_equal(sigconv.convolve(small, h), np.convolve(small, h))


def test_use_native_toggles(monkeypatch):
    rng = np.random.default_rng(5)
    for method in ("fft", "oa"):
        x = rng.standard_normal((4, 20_000)).astype(np.float32)
        h = rng.standard_normal((1, 301)).astype(np.float32)
        on = _check(monkeypatch, x, h, "same", method, axes=1)
        with _native.use_native(False):
            off = _check(monkeypatch, x, h, "same", method, axes=1)
        again = sigconv.convolve(x, h, "same", method, 1)
        assert again.tobytes() == on.tobytes()
        np.testing.assert_allclose(on, off, atol=1e-4 * np.abs(on).max())


@pytest.mark.parametrize("method", ["fft", "oa"])
def test_backend_switch(method, monkeypatch):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(30_000)
    h = rng.standard_normal(301)
    results = {}
    for name in available_backends() + [None]:
        results[name] = _check(monkeypatch, x, h, "full", method, backend=name)
    try:
        for name in available_backends():
            set_default_backend(name)
            y = sigconv.convolve(x, h, "full", method)
            assert y.tobytes() == results[name].tobytes()
            assert sigconv.explain(x, h, method=method).backend == name
    finally:
        set_default_backend(None)
    assert sigconv.convolve(x, h, "full", method).tobytes() == results[None].tobytes()


def test_workers_change(monkeypatch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(40_000)
    h = rng.standard_normal(3001)
    for workers in (1, 2, None, 1):
        _check(monkeypatch, x, h, "same", "fft", workers=workers)
        _check(monkeypatch, x, h, "same", "oa", workers=workers)


def test_reset_constants_replans(monkeypatch):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(10_000)
    h = rng.standard_normal(301)
    assert sigconv.explain(x, h).method in ("fft", "oa")
    _check(monkeypatch, x, h)
    try:
        # transforms made absurdly dear: the same layout must now go direct
        _planner.reset_constants({"fft_nlogn": 1.0, "fft_call": 1.0})
        assert sigconv.explain(x, h).method == "direct"
        calls = []
        real = _api.direct

        def spy(*a, **k):
            calls.append(a[1])
            return real(*a, **k)
        monkeypatch.setattr(_api, "direct", spy)
        _check(monkeypatch, x, h)
        assert calls
    finally:
        _planner.reset_constants()
    assert sigconv.explain(x, h).method in ("fft", "oa")


def test_convolver_and_fft_style_functions(monkeypatch):
    rng = np.random.default_rng(9)
    h = rng.standard_normal(301)
    conv = sigconv.Convolver(h, "same", "fft")
    for _ in range(3):
        x = rng.standard_normal(10_000)
        y = conv(x)
        np.testing.assert_allclose(y, np.convolve(x, h, "same"), atol=1e-9 * 301)
        assert y.tobytes() == _slow(monkeypatch, conv, x).tobytes()
    xi = rng.integers(-5, 5, 10_000)
    for fn in (sigconv.fftconvolve, sigconv.oaconvolve):
        for _ in range(2):
            y = fn(xi, h)
            assert y.dtype == np.float64
            np.testing.assert_allclose(y, np.convolve(xi, h), atol=1e-9 * 301 * 5)
            assert y.tobytes() == _slow(monkeypatch, fn, xi, h).tobytes()


def test_bad_input_after_a_kept_front_raises_as_before():
    x = np.ones(1000)
    h = np.ones(31)
    sigconv.convolve(x, h, "full", "fft", 0, workers=1)        # a front for this layout
    cases = [
        {"mode": "fulll"}, {"method": "ffft"}, {"axes": 1.0}, {"axes": (0, 0)},
        {"axes": 5}, {"workers": 0}, {"workers": -1}, {"backend": "nope"},
        {"axes": [0.0]},
    ]
    for kw in cases:
        args = {"mode": "full", "method": "fft", "axes": 0, "workers": 1, **kw}
        with pytest.raises((ValueError, TypeError)) as fast:
            sigconv.convolve(x, h, args["mode"], args["method"], args["axes"],
                             workers=args["workers"], backend=args.get("backend"))
        _api.clear_fronts()
        with pytest.raises((ValueError, TypeError)) as cold:
            sigconv.convolve(x, h, args["mode"], args["method"], args["axes"],
                             workers=args["workers"], backend=args.get("backend"))
        assert type(fast.value) is type(cold.value) and str(fast.value) == str(cold.value)
        sigconv.convolve(x, h, "full", "fft", 0, workers=1)
    # bad operands of a kept layout's shapes
    with pytest.raises(TypeError, match="numeric"):
        sigconv.convolve(np.array(["a"] * 1000), h, "full", "fft", 0, workers=1)
    with pytest.raises(ValueError, match="dimensionality"):
        sigconv.convolve(x[None], h, "full", "fft", 0, workers=1)


def test_fronts_are_bounded():
    rng = np.random.default_rng(10)
    h = rng.standard_normal(31)
    for n in range(100, 100 + _api.FRONT_MAX_ENTRIES + 20):
        sigconv.convolve(rng.standard_normal(n), h, method="fft")
    assert len(_api._fronts) == _api.FRONT_MAX_ENTRIES
