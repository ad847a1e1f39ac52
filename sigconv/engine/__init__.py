"""The convolution engine: validation, planner, and the direct / overlap-add / FFT methods."""

from ._api import (
                   Convolver,
                   choose_conv_method,
                   convolve,
                   convolve_window,
                   correlate,
                   explain,
                   fftconvolve,
                   oaconvolve,
)
from ._blocks import (
                      box_filter,
                      edge_response,
                      filter_passes,
                      finite_peak,
                      full_scale,
                      scale_to_dtype,
                      separable_filter,
)
from ._borders import BORDERS, pad
from ._calibrate import Scaling, measure_scaling
from ._fft import multiply_spectra
from ._native import info as native_info
from ._planner import Plan
from ._two_d import convolve2d, correlate2d
from ._windows import gather_windows, scatter_windows

__all__ = ["BORDERS", "Convolver", "Plan", "Scaling", "box_filter", "choose_conv_method",
           "convolve", "convolve2d", "convolve_window", "correlate", "correlate2d",
           "edge_response", "explain", "fftconvolve", "filter_passes", "finite_peak",
           "full_scale", "gather_windows", "measure_scaling", "multiply_spectra",
           "native_info", "oaconvolve", "pad", "scale_to_dtype", "scatter_windows",
           "separable_filter"]
