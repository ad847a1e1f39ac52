"""Make the small test images in ``data/`` (deterministic; run from anywhere).

    python data/make_image_data.py

Writes, next to this script:

- ``scene_rgb.png``   160x120 RGB 8-bit: colour ramp, a disc, a square, stripes, mild noise;
- ``scene_rgba.png``  the same scene with alpha: opaque shapes on a background
  transparent over the left quarter, then ramping to opaque at the right; fully
  transparent pixels set to saturated green, the colour a blur that ignores alpha
  would smear into the picture;
- ``gray16.png``      160x120 16-bit gray (I;16): ramp plus a bright disc;
- ``gray_float.tif``  160x120 32-bit float gray (F): the same, in [0, 1] with a few
  values outside, as measurements have;
- ``palette.gif``     the RGB scene quantised to a 16-colour palette (mode P).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
HEIGHT, WIDTH = 120, 160


def scene() -> tuple[np.ndarray, np.ndarray]:
    """The RGB scene (uint8) and the mask of its shapes (bool)."""
    rng = np.random.default_rng(20261122)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    rgb = np.empty((HEIGHT, WIDTH, 3))
    rgb[..., 0] = 40 + 150 * x / (WIDTH - 1)
    rgb[..., 1] = 60 + 120 * y / (HEIGHT - 1)
    rgb[..., 2] = 120.0
    disc = (x - 50) ** 2 + (y - 60) ** 2 < 30 ** 2
    square = (x >= 95) & (x < 140) & (y >= 20) & (y < 65)
    stripes = (y >= 80) & (y < 110) & (x >= 95) & (x < 150) & ((x // 4) % 2 == 0)
    rgb[disc] = (230, 200, 40)
    rgb[square] = (20, 30, 160)
    rgb[stripes] = (250, 250, 250)
    rgb += rng.normal(0.0, 2.0, rgb.shape)
    shapes = disc | square | stripes
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), shapes


def main() -> None:
    rgb, shapes = scene()
    Image.fromarray(rgb).save(os.path.join(HERE, "scene_rgb.png"), optimize=True)

    ramp = np.clip((np.arange(WIDTH) - 40) / (WIDTH - 41), 0.0, 1.0) * 255
    alpha = np.broadcast_to(ramp, (HEIGHT, WIDTH)).copy()
    alpha[shapes] = 255
    alpha = np.rint(alpha).astype(np.uint8)
    rgba = np.dstack([rgb, alpha])
    rgba[alpha == 0, :3] = (0, 255, 0)
    Image.fromarray(rgba).save(os.path.join(HERE, "scene_rgba.png"), optimize=True)

    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    level = 0.2 + 0.5 * x / (WIDTH - 1)
    level[(x - 80) ** 2 + (y - 60) ** 2 < 25 ** 2] = 0.95
    Image.fromarray(np.rint(level * 65535).astype(np.uint16)).save(
        os.path.join(HERE, "gray16.png"))
    measured = level.astype(np.float32)
    measured[10:14, 10:14] = -0.25   # out-of-range values a float image may hold
    measured[10:14, 150:154] = 1.5
    Image.fromarray(measured).save(os.path.join(HERE, "gray_float.tif"),
                                   compression="tiff_adobe_deflate")

    Image.fromarray(rgb).quantize(16, dither=Image.Dither.NONE).save(
        os.path.join(HERE, "palette.gif"))


if __name__ == "__main__":
    main()
