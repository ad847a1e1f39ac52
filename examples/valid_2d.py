"""The 2-D 'valid' convolution of a 4x4 matrix with a 3x3 kernel: [[11, 14], [11, 9]].

'valid' keeps only the positions where the flipped kernel lies wholly inside the
input, so a 4x4 input and a 3x3 kernel give a 2x2 result.

Run: python examples/valid_2d.py [output directory]   (writes valid_2d.png)
"""

import os
import sys

import numpy as np

import sigconv
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
m = np.array([[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0], [0, 1, 2, 4]])
k = np.array([[0, 1, 2], [2, 2, 0], [1, 0, 1]])
print("kernel flipped (rows and columns reversed):")
print(k[::-1, ::-1])
for step in sigconv.steps(m, k, "valid"):
    r, c = step.index
    print(f"y[{r},{c}]: window rows {r}..{r + 2}, cols {c}..{c + 2} -> {step.value}")
result = sigconv.convolve(m, k, "valid")
print("result:")
print(result)
print(f"same as convolve2d: {np.array_equal(result, sigconv.convolve2d(m, k, 'valid'))}")
print(f"wrote {sigconv.plot.slide(m, k, os.path.join(out_dir, 'valid_2d.png'), mode='valid')}")
