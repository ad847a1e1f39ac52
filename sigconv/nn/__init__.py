"""Convolution layers as deep learning defines them, with their gradients.

``conv1d``/``conv2d``/``conv3d`` follow PyTorch's functional interface (argument
names, layouts and output sizes): cross-correlation without flipping the kernel,
channels summed, a bias per output channel, stride, padding (an int, a tuple,
'same', 'valid'; zeros or a border mode), dilation and groups. The matching
``conv*d_backward`` return the gradients with respect to the input, the weight and
the bias; ``Conv1d``/``Conv2d``/``Conv3d`` hold a weight and a bias for scripts
that train by hand.

A planner picks the method per call: matrix products through BLAS for small
kernels, the engine's FFT or overlap-add for long ones (``explain_conv`` shows
which and why).

Dtypes: float32 stays float32 and float64 works; integer and other non-float data
are refused with a TypeError (convert first), as are operands of different dtypes.

>>> import numpy as np, sigconv.nn as nn
>>> nn.output_shape((5, 5), kernel=3, stride=2, padding=1)
(3, 3)
"""

from ._functional import (
    conv1d,
    conv1d_backward,
    conv2d,
    conv2d_backward,
    conv3d,
    conv3d_backward,
    explain_conv,
    output_shape,
)
from ._layers import Conv1d, Conv2d, Conv3d
from ._plan import ConvPlan

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvPlan", "conv1d", "conv1d_backward", "conv2d",
           "conv2d_backward", "conv3d", "conv3d_backward", "explain_conv", "output_shape"]
