"""The 3x3 box blur and the [-1, 1] edge kernel on the bundled picture.

The box blur replaces each pixel by the mean of its 3x3 neighbourhood; the [-1, 1]
kernel, slid without flipping, gives each pixel minus its left neighbour: large where
the image gets brighter to the right, negative where it gets darker.

Run: python examples/blur_and_edges.py [output directory]
(writes box_blur.png and edge.png)
"""

import os
import sys

import numpy as np

import sigconv.plot
from sigconv import image

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
here = os.path.dirname(os.path.abspath(__file__))
rgb = image.read(os.path.join(here, "..", "data", "scene_rgb.png"))
gray = rgb.astype(np.float64).mean(axis=2) / 255.0      # 0..1, so negative edges survive
print(f"image: {gray.shape[0]}x{gray.shape[1]} gray, from {rgb.shape} {rgb.dtype}")

blurred = image.filter(gray, image.BOX3)
r, c = 60, 80
by_hand = gray[r - 1:r + 2, c - 1:c + 2].mean()
print(f"box blur at ({r},{c}): {blurred[r, c]:.6f}; mean of the 3x3 around it: {by_hand:.6f}")
print(f"box blur: pixel-to-pixel variation {np.abs(np.diff(gray, axis=1)).mean():.4f} "
      f"-> {np.abs(np.diff(blurred, axis=1)).mean():.4f}")

edge = image.filter(gray, image.DIFF_X, correlate=True)    # [-1, 1], as written
print(f"edge at ({r},{c}): {edge[r, c]:.6f}; pixel minus left neighbour: "
      f"{gray[r, c] - gray[r, c - 1]:.6f}")
print(f"edge range {edge.min():.3f} .. {edge.max():.3f}")

print("wrote", sigconv.plot.image_filter(gray, image.BOX3, blurred,
                                         os.path.join(out_dir, "box_blur.png"),
                                         title="3x3 box blur"))
print("wrote", sigconv.plot.image_filter(gray, image.DIFF_X, edge,
                                         os.path.join(out_dir, "edge.png"),
                                         title="[-1, 1] edge (correlation)"))
