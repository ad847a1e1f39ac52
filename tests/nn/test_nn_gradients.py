"""Gradients against central finite differences (float64), for every option and method."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from nn_oracle import conv_naive
from test_nn_oracle import problems

from sigconv import nn
from sigconv.nn import _args, _direct, _pad

BACKWARD = {1: nn.conv1d_backward, 2: nn.conv2d_backward, 3: nn.conv3d_backward}


def finite_differences(f, a, eps=1e-3):
    """d f / d a for scalar f, by central differences, one element at a time."""
    g = np.zeros_like(a)
    for i in np.ndindex(*a.shape):
        old = a[i]
        a[i] = old + eps
        up = f()
        a[i] = old - eps
        down = f()
        a[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def check_gradients(nsp, x, w, b, opts, gx, gw, gb, r):
    """Compare against differences of the oracle's loss sum(y * r)."""
    x, w = x.copy(), w.copy()
    b = np.zeros(w.shape[0]) if b is None else b.copy()

    def loss():
        return float(np.sum(conv_naive(x, w, b, **opts) * r))
    np.testing.assert_allclose(gx, finite_differences(loss, x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gw, finite_differences(loss, w), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(gb, finite_differences(loss, b), rtol=1e-6, atol=1e-6)


CASES = [
    # nsp, x shape, w shape, options
    (1, (2, 4, 9), (6, 2, 3), {"stride": 2, "padding": 2, "dilation": 1, "groups": 2,
                               "padding_mode": "reflect"}),
    (1, (1, 3, 8), (6, 1, 4), {"stride": 1, "padding": "same", "dilation": 2, "groups": 3,
                               "padding_mode": "circular"}),
    (2, (2, 2, 6, 5), (3, 2, 3, 2), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2),
                                     "groups": 1, "padding_mode": "replicate"}),
    (2, (1, 4, 5, 6), (4, 1, 3, 3), {"stride": 1, "padding": 1, "dilation": 1, "groups": 4,
                                     "padding_mode": "zeros"}),
    (2, (1, 2, 5, 5), (2, 1, 2, 2), {"stride": 3, "padding": ((1, 0), (0, 2)), "dilation": 2,
                                     "groups": 2, "padding_mode": "circular"}),
    (3, (1, 2, 4, 3, 4), (2, 2, 2, 2, 3), {"stride": (1, 2, 1), "padding": 1, "dilation": 1,
                                           "groups": 1, "padding_mode": "reflect"}),
]


@pytest.mark.parametrize("method", ["direct", "fft", "oa"])
@pytest.mark.parametrize("case", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_gradients_finite_differences(case, method):
    nsp, xs, ws, opts = case
    rng = np.random.default_rng(len(xs) * 7 + sum(xs))
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    y = conv_naive(x, w, b, **opts)
    r = rng.standard_normal(y.shape)
    gx, gw, gb = BACKWARD[nsp](r, x, w, **opts, bias=True, method=method)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == b.shape
    check_gradients(nsp, x, w, b, opts, gx, gw, gb, r)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prob=problems())
def test_gradients_are_adjoint_of_forward(prob):
    """<conv(x), r> = <x, grad_x> and <conv_w(x), r> = <w, grad_w> (the forward is
    linear in x and in w) for random problems, every method and direct variant."""
    nsp, x, w, _, opts = prob
    rng = np.random.default_rng(x.size)
    y = conv_naive(x, w, None, **opts)
    r = rng.standard_normal(y.shape)
    loss = float(np.sum(y * r))
    results = [BACKWARD[nsp](r, x, w, **opts, bias=False, method=m)
               for m in ("direct", "fft", "oa")]
    geo = _args.geometry(x, w, None, nsp, opts["stride"], opts["padding"], opts["dilation"],
                         opts["groups"], opts["padding_mode"])
    xp = _pad.pad(x, geo.pads, geo.padding_mode)
    results.append(_direct.gemm_backward(x, w, r, geo) + (None,))   # padding by index
    if geo.cg == 1:
        gxp, gw = _direct.taps_backward(xp, w, r, geo)
        results.append((_pad.fold(gxp, geo.pads, geo.padding_mode, geo.in_size), gw, None))
    for gx, gw, gb in results:
        assert gb is None
        np.testing.assert_allclose(np.sum(x * gx), loss, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(np.sum(w * gw), loss, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gx, results[0][0], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gw, results[0][1], rtol=1e-9, atol=1e-9)


def test_conv2d_layer_forward_backward_and_a_training_step():
    rng = np.random.default_rng(5)
    layer = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, padding_mode="reflect", seed=1,
                      dtype=np.float64)
    bound = 1 / np.sqrt(3 * 3 * 2)
    assert layer.weight.shape == (4, 3, 3, 2) and layer.bias.shape == (4,)
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.bias).max() <= bound
    assert np.abs(layer.weight).max() > bound / 2          # uniform over the whole range
    again = nn.Conv2d(3, 4, (3, 2), stride=2, padding=1, padding_mode="reflect", seed=1,
                      dtype=np.float64)
    assert np.array_equal(again.weight, layer.weight)
    x = rng.standard_normal((2, 3, 7, 6))
    y = layer(x)
    opts = {"stride": 2, "padding": 1, "padding_mode": "reflect"}
    np.testing.assert_allclose(y, conv_naive(x, layer.weight, layer.bias, **opts), atol=1e-12)
    r = rng.standard_normal(y.shape)
    gx = layer.backward(r)
    check_gradients(2, x, layer.weight, layer.bias, opts, gx, layer.grad_weight,
                    layer.grad_bias, r)
    # a few steps of gradient descent on a squared error drive it down
    target = rng.standard_normal(y.shape)
    losses = []
    for _ in range(20):
        out = layer.forward(x)
        losses.append(float(np.sum((out - target) ** 2)))
        layer.backward(2 * (out - target))
        layer.weight -= 0.01 * layer.grad_weight
        layer.bias -= 0.01 * layer.grad_bias
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("cls,nsp", [(nn.Conv1d, 1), (nn.Conv3d, 3)])
def test_other_layers_and_float32(cls, nsp):
    layer = cls(4, 2, 2, groups=2, bias=False, seed=0)
    assert layer.weight.dtype == np.float32 and layer.bias is None
    x = np.random.default_rng(0).standard_normal((1, 4) + (5,) * nsp).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    gx = layer.backward(np.ones_like(y))
    assert gx.dtype == np.float32 and layer.grad_weight.dtype == np.float32
    assert layer.grad_bias is None
    ref = conv_naive(x.astype(np.float64), layer.weight.astype(np.float64), groups=2)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_backward_float32_and_unbatched():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 6)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    gy = rng.standard_normal((3, 4, 4)).astype(np.float32)
    for method in ("direct", "fft"):
        gx, gw, gb = nn.conv2d_backward(gy, x, w, method=method)
        assert gx.shape == x.shape and gx.dtype == gw.dtype == gb.dtype == np.float32
        g64 = nn.conv2d_backward(gy.astype(float), x.astype(float), w.astype(float))
        np.testing.assert_allclose(gx, g64[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(gw, g64[1], rtol=1e-4, atol=1e-4)
