"""Image front end of sigconv: read/write with Pillow, blur, edges and custom kernels.

Images are NumPy arrays, ``(H, W)`` or ``(H, W, C)``, whose dtype and channel count
carry the file's mode and bit depth (see :func:`read`); every filter returns the same
shape and dtype it was given, so ``write(path, blur(read(path), sigma=2))`` keeps an
8-bit RGBA PNG an 8-bit RGBA PNG and a 16-bit TIFF 16-bit.

>>> import numpy as np
>>> from sigconv import image
>>> img = np.zeros((5, 5), np.uint8); img[2, 2] = 90
>>> image.filter(img, image.BOX3)[1:4, 1:4]
array([[10, 10, 10],
       [10, 10, 10],
       [10, 10, 10]], dtype=uint8)

The passes run in the engine's image blocks (:func:`sigconv.engine.separable_filter`,
:func:`~sigconv.engine.box_filter`, :func:`~sigconv.engine.edge_response`,
:func:`~sigconv.engine.filter_passes`): the compiled core for Gaussians, boxes, rank-1
kernels and 3x3 edge operators on 8/16-bit and float images, dense kernels through
:func:`sigconv.convolve` (direct, overlap-add or FFT as the engine sees fit) on a
border-padded image, so the border mode gives the same results whichever way is taken.
"""

from ..engine import BORDERS
from ._filters import OPERATORS, blur, box, edges, filter, gaussian
from ._pillow import check_writable, read, write
from .kernels import (
    BOX3,
    DIFF_X,
    DIFF_Y,
    EDGE,
    EMBOSS,
    LAPLACIAN,
    PRESETS,
    PREWITT_X,
    PREWITT_Y,
    SCHARR_X,
    SCHARR_Y,
    SHARPEN,
    SOBEL_X,
    SOBEL_Y,
    box_kernel,
    gaussian_kernel1d,
    gaussian_kernel2d,
    load_kernel,
    separate,
)

__all__ = ["BORDERS", "BOX3", "DIFF_X", "DIFF_Y", "EDGE", "EMBOSS", "LAPLACIAN", "OPERATORS",
           "PRESETS", "PREWITT_X", "PREWITT_Y", "SCHARR_X", "SCHARR_Y", "SHARPEN", "SOBEL_X",
           "SOBEL_Y", "blur", "box", "box_kernel", "check_writable", "edges", "filter",
           "gaussian", "gaussian_kernel1d", "gaussian_kernel2d", "load_kernel", "read",
           "separate", "write"]
