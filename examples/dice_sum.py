"""The sum of two dice, and of two dropped balls: probability mass functions convolved.

If one throw lands on a with probability f(a) and the next on b with probability g(b),
the total c = a + b has probability sum over a of f(a) * g(c - a): the convolution of
f and g. An array holds f(a) for a = first, first+1, ...; the convolution's index 0 is
then first_f + first_g, so the sum's support starts at the sum of the supports' starts.

Run: python examples/dice_sum.py [output directory]   (writes dice_sum.png)
"""

import os
import sys
from fractions import Fraction

import numpy as np

import sigconv
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."

# A fair die: faces 1..6, each 1/6, held exactly as fractions (object arrays take the
# direct method, which sums the products exactly).
die = np.array([Fraction(1, 6)] * 6, dtype=object)
die_first = 1
two_dice = sigconv.convolve(die, die, method="direct")
two_first = die_first + die_first                       # = 2: the smallest total
print("sum of two dice: P(total)")
for offset, p in enumerate(two_dice):
    print(f"  {two_first + offset:2d}: {p}")
print(f"total probability: {sum(two_dice)}")
print(f"most likely total: {two_first + int(np.argmax(two_dice.astype(float)))}")

# Two drops of a ball: the first rolls -2..2 units, the second (from a lower height)
# -1..1; both distributions are centred on 0, so their arrays start at -2 and -1.
first = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
second = np.array([0.25, 0.5, 0.25])
start = -2 + -1
total = sigconv.convolve(first, second)
print("two dropped balls: P(distance)")
for offset, p in enumerate(total):
    print(f"  {start + offset:+d}: {p:.4f}")

# The picture: one die's distribution sliding over the other's (index 0 is face 1),
# the output so far being the distribution of the total (index 0 is total 2).
picture = sigconv.plot.slide(die.astype(float), die.astype(float),
                             os.path.join(out_dir, "dice_sum.png"), positions=[1, 5, 8])
print(f"wrote {picture}")
