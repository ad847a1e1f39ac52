"""Convolution against cross-correlation on a three-channel signal.

Signal processing convolves (the kernel is flipped before it slides); deep-learning
"convolution" layers cross-correlate (the kernel slides as it is) and add the results
of all input channels. The two differ for an asymmetric kernel, and correlating with
a kernel is the same as convolving with that kernel flipped.

Run: python examples/conv_vs_corr.py [output directory]
(writes channel0_convolve.png and channel0_correlate.png)
"""

import os
import sys

import numpy as np

import sigconv
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
x = np.array([[0, 1, 2, 3, 4, 5, 6, 7],        # channel 0 (a ramp)
              [1, 0, 1, 0, 1, 0, 1, 0],        # channel 1 (alternating)
              [0, 0, 0, 5, 0, 0, 0, 0]])       # channel 2 (one spike)
h = np.array([[1, 0, -1],                      # one kernel per channel
              [1, 1, 1],
              [1, 2, 3]])
# axes=1: slide along time only; the channel axis pairs channel i with kernel i
conv = sigconv.convolve(x, h, "valid", axes=1)
corr = sigconv.correlate(x, h, "valid", axes=1)
print("per channel, convolution (flipped):")
print(conv)
print("per channel, cross-correlation (not flipped):")
print(corr)
print(f"layer output, convolution, summed over channels:  {conv.sum(axis=0).tolist()}")
print(f"layer output, correlation, summed over channels:  {corr.sum(axis=0).tolist()}")
same = np.array_equal(corr, sigconv.convolve(x, h[:, ::-1], "valid", axes=1))
print(f"correlate(x, h) == convolve(x, h flipped): {same}")
for name, flag in (("convolve", False), ("correlate", True)):
    path = os.path.join(out_dir, f"channel0_{name}.png")
    print("wrote", sigconv.plot.slide(x[0], h[0], path, mode="valid", correlate=flag,
                                      positions=[0, 5]))
