"""[1, 2, 3] * [2, 3, 4] = [2, 7, 16, 17, 12], worked step by step.

Convolution flips the kernel [2, 3, 4] to [4, 3, 2], slides it along the signal, and
at each position sums the products of the samples that meet.

Run: python examples/first_convolution.py [output directory]   (writes first_convolution.png)
"""

import os
import sys

import sigconv
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
x, h = [1, 2, 3], [2, 3, 4]
for step in sigconv.steps(x, h):
    terms = " + ".join(f"{a}*{b}" for _, _, a, b in step.pairs)
    print(f"y[{step.index}] = {terms} = {step.value}" + ("   (valid)" if step.valid else ""))
print(f"convolve({x}, {h}) = {sigconv.convolve(x, h).tolist()}")
print(f"wrote {sigconv.plot.slide(x, h, os.path.join(out_dir, 'first_convolution.png'))}")
