"""x = (0, 1, 2, 3, 4) convolved with w = (1, -1, 2), and its 'valid' part.

The flipped kernel (2, -1, 1) slides over x; at steps 3, 4 and 5 (indices 2..4) it lies
wholly inside x, and those three outputs are the 'valid' convolution. The other four
lean on the zeros beyond x's ends.

Run: python examples/valid_part.py [output directory]
(writes valid_part.png, a few positions, and valid_part.gif, every position animated)
"""

import os
import sys

import sigconv
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
x, w = [0, 1, 2, 3, 4], [1, -1, 2]
full = sigconv.convolve(x, w)
valid = sigconv.convolve(x, w, "valid")
print(f"full:  {full.tolist()}")
print(f"valid: {valid.tolist()}")
inside = [s.index for s in sigconv.steps(x, w) if s.valid]
print(f"positions where the flipped kernel is wholly inside x: {inside}")
for ext in ("png", "gif"):
    print(f"wrote {sigconv.plot.slide(x, w, os.path.join(out_dir, f'valid_part.{ext}'))}")
