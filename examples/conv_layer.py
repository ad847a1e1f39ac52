"""The background article's convolution layer, worked by sigconv.nn.

A 5x5 input with 3 channels, two 3x3x3 filters, stride 2, padding 1 and a bias per
filter: the output is (5 - 3 + 2*1) / 2 + 1 = 3 wide and high, one 3x3 map per
filter (3x3x2). The article gives the shapes, not the numbers, so the input and the
filters here are small integers (every product exact): one output is recomputed by
hand below, the way the article walks through it, and the gradients the layer would
be trained with are printed too.

    python examples/conv_layer.py
"""

import numpy as np

import sigconv.nn as nn

rng = np.random.default_rng(2024)
x = rng.integers(0, 3, size=(1, 3, 5, 5)).astype(np.float64)     # N, C_in, H, W
w = rng.integers(-1, 2, size=(2, 3, 3, 3)).astype(np.float64)    # C_out, C_in, kH, kW
b = np.array([1.0, 0.0])                                         # one bias per filter

print("output size:", nn.output_shape((5, 5), kernel=3, stride=2, padding=1))
y = nn.conv2d(x, w, bias=b, stride=2, padding=1)
for k in range(2):
    print(f"output map {k} (filter w{k}, bias {b[k]:g}):")
    print(y[0, k].astype(int))

# By hand: output (row 1, column 2) of filter 0 reads padded rows 2..4 and padded
# columns 4..6, i.e. input rows 1..3 and columns 3..4 plus one column of padding.
xpad = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
by_hand = np.sum(xpad[:, 2:5, 4:7] * w[0]) + b[0]
print(f"y[0, 1, 2] by hand: {by_hand:g}, by conv2d: {y[0, 0, 1, 2]:g}")
assert by_hand == y[0, 0, 1, 2]

# The gradients for a loss L = sum(y): dL/dy is all ones.
gx, gw, gb = nn.conv2d_backward(np.ones_like(y), x, w, stride=2, padding=1, bias=True)
print("dL/db:", gb)
print("dL/dw[0, 0] (how much input each tap of channel 0 saw):")
print(gw[0, 0].astype(int))
print("plan:", nn.explain_conv(x.shape, w.shape, stride=2, padding=1).method)
