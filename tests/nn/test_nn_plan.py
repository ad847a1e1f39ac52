"""explain_conv: the planner's choice, its reasons and predicted costs."""

import numpy as np

from sigconv import nn


def test_small_dense_kernels_go_direct_through_blas():
    p = nn.explain_conv((8, 64, 56, 56), (64, 64, 3, 3), padding=1)
    assert (p.method, p.variant, p.layout) == ("direct", "gemm", "windows")
    assert p.reason == "cheapest predicted"
    assert p.costs["direct:gemm"] == min(p.costs.values())
    assert p.out_shape == (8, 64, 56, 56)
    p2 = nn.explain_conv((8, 64, 56, 56), (64, 64, 3, 3), stride=2, padding=1)
    assert (p2.method, p2.layout) == ("direct", "windows")
    assert p2.out_shape == (8, 64, 28, 28)
    assert p2.costs["direct:gemm"] < p.costs["direct:gemm"]   # stride not computed


def test_long_depthwise_kernels_go_to_the_transforms():
    p = nn.explain_conv((8, 64, 16384), (64, 1, 1024), groups=64)
    assert p.method in ("fft", "oa") and p.fft_shape is not None
    assert p.costs[p.method] < p.costs["direct:taps"] / 5
    assert p.engine_shapes[:2] == ((8, 64, 1, 16384), (1, 64, 1, 1024))
    causal = nn.explain_conv((4, 64, 8192), (64, 1, 8192), padding=((8191, 0),), groups=64)
    assert causal.method in ("fft", "oa") and causal.engine_shapes[2] == "full"
    big2d = nn.explain_conv((8, 128, 56, 56), (128, 1, 31, 31), padding=15, groups=128)
    assert big2d.method in ("fft", "oa")


def test_forced_methods_are_reported():
    p = nn.explain_conv((1, 2, 40), (2, 2, 5), method="fft")
    assert p.method == "fft" and p.reason == "forced" and "fft" in p.costs
    p = nn.explain_conv((1, 2, 40), (2, 2, 5), method="direct", dtype=np.float64)
    assert p.method == "direct" and p.reason == "forced" and "fft" not in p.costs
    assert nn.explain_conv((2, 40), (2, 2, 5)).out_shape == (1, 2, 36)
