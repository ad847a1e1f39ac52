"""sigconv.nn forward passes against the naive oracle, every method and option."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nn_oracle import conv_naive

from sigconv import nn
from sigconv.engine import _native
from sigconv.nn import _args, _direct, _pad

FUNCS = {1: nn.conv1d, 2: nn.conv2d, 3: nn.conv3d}
MODES = ["zeros", "reflect", "replicate", "circular"]
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, nsp=None):
    """A random layer small enough for the oracle, with every option drawn."""
    nsp = draw(st.sampled_from([1, 2, 3])) if nsp is None else nsp
    groups = draw(st.sampled_from([1, 2, 3]))
    cg = draw(st.integers(1, 2))
    cog = draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    mode = draw(st.sampled_from(MODES))
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(max(2, r - 2), max(2, r - 2) + (5 if nsp < 3 else 2)))
                 for r in reach)
    kind = draw(st.sampled_from(["int", "tuple", "pairs", "same", "valid"]))
    limit = [n - 1 if mode == "reflect" else n for n in size]
    if kind == "same":
        stride = (1,) * nsp
        padding = "same"
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                for k, d in zip(kernel, dilation)]
    elif kind == "valid":
        padding, pads = "valid", [(0, 0)] * nsp
    elif kind == "int":
        p = draw(st.integers(0, min(min(limit), 2)))
        padding, pads = p, [(p, p)] * nsp
    elif kind == "tuple":
        padding = tuple(draw(st.integers(0, min(lim, 2))) for lim in limit)
        pads = [(p, p) for p in padding]
    else:
        padding = tuple((draw(st.integers(0, min(lim, 2))), draw(st.integers(0, min(lim, 2))))
                        for lim in limit)
        pads = list(padding)
    if mode != "zeros" and any(max(a, b) > lim for (a, b), lim in zip(pads, limit)):
        mode = "replicate"
    # the kernel must fit the padded input
    if any(n + a + b < r for n, (a, b), r in zip(size, pads, reach)):
        size = tuple(max(n, r) for n, r in zip(size, reach))
        if mode == "reflect" and any(max(a, b) >= n for n, (a, b) in zip(size, pads)):
            mode = "zeros"
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, groups * cg) + size)
    w = rng.standard_normal((groups * cog, cg) + kernel)
    b = rng.standard_normal(groups * cog) if draw(st.booleans()) else None
    opts = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
            "padding_mode": mode}
    return nsp, x, w, b, opts


@pytest.mark.parametrize("method", ["auto", "direct", "fft", "oa"])
@SETTINGS
@given(prob=problems())
def test_forward_matches_oracle(method, prob):
    nsp, x, w, b, opts = prob
    y = FUNCS[nsp](x, w, b, **opts, method=method)
    ref = conv_naive(x, w, b, **opts)
    assert y.shape == ref.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("native", [True, False])
@SETTINGS
@given(prob=problems())
def test_every_direct_variant(native, prob):
    """gemm, and taps where there is one input channel per group, whatever the planner
    would pick; the window gather compiled and its NumPy twin."""
    with _native.use_native(native):
        check_direct_variants(prob)


def check_direct_variants(prob):
    nsp, x, w, b, opts = prob
    geo = _args.geometry(x, w, None, nsp, opts["stride"], opts["padding"], opts["dilation"],
                         opts["groups"], opts["padding_mode"])
    ref = conv_naive(x, w, None, **opts)
    xp = _pad.pad(x, geo.pads, geo.padding_mode)
    np.testing.assert_allclose(_direct.gemm_forward(x, w, geo), ref, rtol=1e-9, atol=1e-9)
    if geo.cg == 1:
        np.testing.assert_allclose(_direct.taps_forward(xp, w, geo), ref, rtol=1e-9,
                                   atol=1e-9)
    old, chunk = _direct.THREAD_MIN_MACS, _direct.COLS_CHUNK_BYTES
    try:                              # images split over the thread pool
        _direct.THREAD_MIN_MACS = 0
        np.testing.assert_allclose(_direct.gemm_forward(x, w, geo), ref, rtol=1e-9,
                                   atol=1e-9)
        if geo.cg == 1:
            np.testing.assert_allclose(_direct.taps_forward(xp, w, geo), ref, rtol=1e-9,
                                       atol=1e-9)
        r = np.random.default_rng(0).standard_normal(ref.shape)
        _direct.THREAD_MIN_MACS = old
        one = _direct.gemm_backward(x, w, r, geo)
        _direct.THREAD_MIN_MACS = 0
        split = _direct.gemm_backward(x, w, r, geo)
        for a, b in zip(one, split):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
        _direct.COLS_CHUNK_BYTES = 1      # one image, one band of output rows at a time
        np.testing.assert_allclose(_direct.gemm_forward(x, w, geo), ref, rtol=1e-9,
                                   atol=1e-9)
        banded = _direct.gemm_backward(x, w, r, geo)
        for a, b in zip(one, banded):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    finally:
        _direct.THREAD_MIN_MACS = old
        _direct.COLS_CHUNK_BYTES = chunk


def test_padding_matches_the_oracle_rules():
    """pad() and its index maps against the oracle's per-mode rules."""
    from nn_oracle import pad_naive
    x = np.arange(2 * 5 * 4, dtype=float).reshape(1, 2, 5, 4)
    for mode in MODES:
        for pads in ([(2, 1), (3, 0)], [(0, 4), (1, 1)]):
            if mode == "reflect":
                pads = [(min(a, n - 1), min(b, n - 1)) for (a, b), n in zip(pads, (5, 4))]
            if mode == "circular":
                pads = [(min(a, n), min(b, n)) for (a, b), n in zip(pads, (5, 4))]
            np.testing.assert_array_equal(_pad.pad(x, pads, mode), pad_naive(x, pads, mode))


def test_article_example_5x5x3_two_filters_stride_2_pad_1():
    """The background article's layer: a 5x5x3 input, two 3x3x3 filters, stride 2,
    padding 1 and a bias give a 3x3x2 output ((5 - 3 + 2) / 2 + 1 = 3). The article
    gives no numbers, so small integers make every product exact."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (1, 3, 5, 5)).astype(np.float64)
    w = rng.integers(-1, 2, (2, 3, 3, 3)).astype(np.float64)
    b = np.array([1.0, 0.0])
    ref = conv_naive(x, w, b, stride=2, padding=1)
    assert nn.output_shape((5, 5), kernel=3, stride=2, padding=1) == (3, 3)
    for method in ("direct", "fft", "auto"):
        y = nn.conv2d(x, w, b, stride=2, padding=1, method=method)
        assert y.shape == (1, 2, 3, 3)
        np.testing.assert_allclose(y, ref, atol=1e-12)
        assert np.array_equal(np.rint(y), ref)
    # one output by hand: the centre of filter 0 sees the input's 3x3 block at rows
    # and columns 1..3 (padded 2..4), all channels
    centre = np.sum(x[0, :, 1:4, 1:4] * w[0]) + b[0]
    assert nn.conv2d(x, w, b, stride=2, padding=1)[0, 0, 1, 1] == centre


def test_float32_stays_float32_and_unbatched_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 9, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    ref = conv_naive(x[None], w, b, padding=1)[0]
    for method in ("direct", "fft", "oa"):
        y = nn.conv2d(x, w, b, padding=1, method=method)
        assert y.dtype == np.float32 and y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_long_depthwise_kernels_by_transforms():
    """The long-kernel case the transforms are for: depthwise 1-D, causal padding."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 300))
    w = rng.standard_normal((3, 1, 120))
    ref = conv_naive(x, w, padding=[(119, 0)], groups=3)
    for method in ("auto", "fft", "oa", "direct"):
        y = nn.conv1d(x, w, padding=[(119, 0)], groups=3, method=method)
        np.testing.assert_allclose(y, ref, rtol=1e-9, atol=1e-9)
    assert nn.explain_conv(x.shape, w.shape, padding=[(119, 0)], groups=3).method != "direct"


@pytest.mark.parametrize("size,kernel,stride,padding,dilation,want", [
    ((5, 5), 3, 2, 1, 1, (3, 3)),
    ((32,), 5, 1, "same", 1, (32,)),
    ((32,), 4, 1, "same", 3, (32,)),
    ((10, 11, 12), (3, 1, 2), (1, 2, 3), "valid", (2, 1, 1), (6, 6, 4)),
    ((7,), 3, 3, ((2, 0),), 1, (3,)),
])
def test_output_shape(size, kernel, stride, padding, dilation, want):
    assert nn.output_shape(size, kernel=kernel, stride=stride, padding=padding,
                           dilation=dilation) == want
    x = np.zeros((1, 1) + size)
    w = np.zeros((1, 1) + _args.as_tuple(kernel, len(size), "k", 1))
    y = FUNCS[len(size)](x, w, stride=stride, padding=padding, dilation=dilation)
    assert y.shape[2:] == want
