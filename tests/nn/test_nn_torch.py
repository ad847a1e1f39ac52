"""sigconv.nn against torch.nn.functional and autograd (skipped without PyTorch)."""

import itertools

import numpy as np
import pytest

from sigconv import nn

torch = pytest.importorskip("torch")
# PyTorch notes that 'same' with an even kernel pads a copy of the input: not our concern
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

FUNCS = {1: (nn.conv1d, nn.conv1d_backward), 2: (nn.conv2d, nn.conv2d_backward),
         3: (nn.conv3d, nn.conv3d_backward)}
SIZES = {1: (11,), 2: (7, 6), 3: (5, 6, 5)}
KERNELS = {1: (4,), 2: (3, 2), 3: (2, 3, 2)}


def _torch_layer(nsp, x, w, b, opts):
    """PyTorch's layer (its padding_mode lives on the module, not the functional)."""
    cls = getattr(torch.nn, f"Conv{nsp}d")
    layer = cls(x.shape[1], w.shape[0], w.shape[2:], bias=b is not None,
                dtype=torch.float64 if x.dtype == np.float64 else torch.float32, **opts)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if b is not None:
            layer.bias.copy_(torch.from_numpy(b))
    return layer


OPTIONS = [{"stride": s, "padding": p, "dilation": d, "groups": g, "padding_mode": m}
           for s, p, d, g, m in itertools.product(
               (1, 2), (0, 1, "same", "valid"), (1, 2), (1, 2),
               ("zeros", "reflect", "replicate", "circular"))
           if not (p == "same" and s > 1)]


@pytest.mark.parametrize("nsp", [1, 2, 3])
def test_forward_and_autograd_every_option(nsp):
    rng = np.random.default_rng(nsp)
    fwd, bwd = FUNCS[nsp]
    # every value of every option, in a seventh of the combinations (a different one
    # for each dimensionality; 7 is prime to every option's number of values)
    for i, opts in enumerate(OPTIONS[nsp - 1::7]):
        for method in (("direct", "fft") if i % 2 else ("auto", "oa")):
            g = opts["groups"]
            x = rng.standard_normal((2, 4) + SIZES[nsp])
            w = rng.standard_normal((6, 4 // g) + KERNELS[nsp])
            b = rng.standard_normal(6)
            layer = _torch_layer(nsp, x, w, b, opts)
            xt = torch.tensor(x, requires_grad=True)
            yt = layer(xt)
            y = fwd(x, w, b, **opts, method=method)
            np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10,
                                       err_msg=f"{opts} {method}")
            r = rng.standard_normal(y.shape)
            yt.backward(torch.from_numpy(r))
            gx, gw, gb = bwd(r, x, w, **opts, bias=True, method=method)
            for mine, theirs in ((gx, xt.grad), (gw, layer.weight.grad), (gb, layer.bias.grad)):
                np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-10, atol=1e-10,
                                           err_msg=f"{opts} {method}")


@pytest.mark.parametrize("case", [
    # x shape, w shape, options: depthwise with a channel multiplier, long kernels
    ((2, 3, 200), (6, 1, 64), {"groups": 3, "padding": 63}),
    ((1, 4, 300), (4, 1, 100), {"groups": 4, "padding": "same", "dilation": 2}),
    ((2, 4, 20, 21), (4, 1, 9, 9), {"groups": 4, "padding": 4, "padding_mode": "reflect"}),
    ((1, 2, 9, 8, 7), (4, 2, 3, 3, 3), {"stride": (2, 1, 3), "padding": (1, 0, 2)}),
])
def test_float32_forward_and_gradients(case):
    xs, ws, opts = case
    nsp = len(xs) - 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
    b = rng.standard_normal(ws[0]).astype(np.float32)
    fwd, bwd = FUNCS[nsp]
    layer = _torch_layer(nsp, x, w, b, opts)
    xt = torch.tensor(x, requires_grad=True)
    yt = layer(xt)
    r = rng.standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.from_numpy(r))
    for method in ("auto", "direct", "fft", "oa"):
        y = fwd(x, w, b, **opts, method=method)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=2e-4, atol=2e-4)
        gx, gw, gb = bwd(r, x, w, **opts, method=method)
        assert gx.dtype == gw.dtype == gb.dtype == np.float32
        scale = np.abs(layer.weight.grad.numpy()).max()
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=2e-4, atol=2e-4)
        np.testing.assert_allclose(gw, layer.weight.grad.numpy(), rtol=2e-4, atol=2e-4 * scale)
        np.testing.assert_allclose(gb, layer.bias.grad.numpy(), rtol=2e-4, atol=2e-4 * scale)


def test_layer_initialisation_bound_matches_torch():
    ours = nn.Conv2d(6, 4, (3, 5), groups=2, seed=0)
    theirs = torch.nn.Conv2d(6, 4, (3, 5), groups=2)
    bound = 1 / np.sqrt(3 * 3 * 5)
    for mine, t in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        assert mine.shape == tuple(t.shape) and mine.dtype == np.float32
        assert bound / 2 < np.abs(mine).max() <= bound      # the whole range, not a part
        assert float(t.detach().abs().max()) <= bound
