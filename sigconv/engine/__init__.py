"""The convolution engine: validation, planner, and the direct / overlap-add / FFT methods."""

from ._api import (
                   Convolver,
                   choose_conv_method,
                   convolve,
                   correlate,
                   explain,
                   fftconvolve,
                   oaconvolve,
)
from ._calibrate import Scaling, measure_scaling
from ._fft import multiply_spectra
from ._native import info as native_info
from ._planner import Plan
from ._two_d import convolve2d, correlate2d

__all__ = ["Convolver", "Plan", "Scaling", "choose_conv_method", "convolve", "convolve2d",
           "correlate", "correlate2d", "explain", "fftconvolve", "measure_scaling",
           "multiply_spectra", "native_info", "oaconvolve"]
