"""sigconv: N-D convolution that picks direct, overlap-add or FFT by size.

The engine functions are drop-in replacements for their ``scipy.signal``
namesakes (same arguments, shapes, dtypes and exception types), plus
``method="oa"`` and keyword-only ``backend=`` / ``workers=`` options:

>>> import sigconv
>>> sigconv.convolve([1, 2, 3], [2, 3, 4])
array([ 2,  7, 16, 17, 12])

The audio and image front ends live in ``sigconv.audio`` and ``sigconv.image``.
"""

from ._errors import (
    FileFormatError,
    InputError,
    InputTypeError,
    MissingExtraError,
    OutputExistsError,
    SigconvError,
)
from .engine import (
                     Convolver,
                     Plan,
                     choose_conv_method,
                     convolve,
                     convolve2d,
                     correlate,
                     correlate2d,
                     explain,
                     fftconvolve,
                     oaconvolve,
)
from ._steps import Step, steps

__version__ = "0.1.0"

__all__ = ["Convolver", "FileFormatError", "InputError", "InputTypeError", "MissingExtraError",
           "OutputExistsError", "Plan",
           "SigconvError", "Step", "choose_conv_method", "convolve", "convolve2d", "correlate",
           "correlate2d", "explain", "fftconvolve", "oaconvolve", "steps"]
