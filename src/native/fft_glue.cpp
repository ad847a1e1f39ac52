// FFT glue of the compiled core: the passes between and around the transforms of an FFT
// convolution (spectral product with the 1/N scale folded in, ...). The Python wrappers in
// sigconv/engine/_fft.py validate, convert and plan; each function here does one job on
// C-contiguous arrays of a known dtype, with the GIL released.
#include <complex>
#include <stdexcept>
#include <string>

#include "common.hpp"

namespace sigconv {

namespace {

// x[r, f] = x[r, f] * h[r % M, f] * scale on the flat range [b, e) of x's elements, complex
// numbers as interleaved (re, im) pairs. The arithmetic of an element is NumPy's complex
// product, (ar br - ai bi, ar bi + ai br), then each part times the real scale: no FMA, the
// same for any split of the range.
template <class T>
SIGCONV_CLONES void cmul_range(T* x, const T* h, std::ptrdiff_t F, std::ptrdiff_t M,
                               std::ptrdiff_t b, std::ptrdiff_t e, T scale, bool scaled) {
    std::ptrdiff_t r = b / F, f = b % F;
    while (b < e) {
        std::ptrdiff_t stop = std::min<std::ptrdiff_t>(e - b, F - f);
        T* xr = x + 2 * (r * F + f);
        const T* hr = h + 2 * ((r % M) * F + f);
        if (scaled) {
            for (std::ptrdiff_t i = 0; i < stop; ++i) {
                T ar = xr[2 * i], ai = xr[2 * i + 1], br = hr[2 * i], bi = hr[2 * i + 1];
                T re = ar * br - ai * bi;
                T im = ar * bi + ai * br;
                xr[2 * i] = re * scale;
                xr[2 * i + 1] = im * scale;
            }
        } else {
            for (std::ptrdiff_t i = 0; i < stop; ++i) {
                T ar = xr[2 * i], ai = xr[2 * i + 1], br = hr[2 * i], bi = hr[2 * i + 1];
                xr[2 * i] = ar * br - ai * bi;
                xr[2 * i + 1] = ar * bi + ai * br;
            }
        }
        b += stop;
        f = 0;
        ++r;
    }
}

void require(bool ok, const std::string& what) {
    if (!ok) throw py::value_error("cmul_scaled: " + what);
}

void cmul_scaled(py::array x, py::array h, double scale, int threads) {
    require(x.ndim() >= 1 && h.ndim() >= 1, "x and h need at least one dimension");
    require(x.writeable(), "x must be writeable");
    require((x.flags() & py::array::c_style) && (h.flags() & py::array::c_style),
            "x and h must be C-contiguous");
    const bool single = x.dtype().is(py::dtype::of<std::complex<float>>());
    const bool dbl = x.dtype().is(py::dtype::of<std::complex<double>>());
    require(single || dbl, "x must be complex64 or complex128");
    require(h.dtype().is(x.dtype()), "h must have x's dtype");
    const std::ptrdiff_t F = x.shape(x.ndim() - 1);
    require(h.shape(h.ndim() - 1) == F, "x and h must have the same last dimension");
    if (F == 0 || x.size() == 0) return;
    const std::ptrdiff_t R = x.size() / F, M = h.size() / F;
    require(M >= 1 && R % M == 0, "the rows of x must be a multiple of the rows of h");
    const std::ptrdiff_t n = R * F;
    const bool scaled = scale != 1.0;
    void* xp = x.mutable_data();
    const void* hp = h.data();
    py::gil_scoped_release nogil;
    // pieces of whole cache lines (32 elements) so no two threads write one line
    const std::ptrdiff_t chunks = (n + 31) / 32;
    parallel_for(chunks, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
        std::ptrdiff_t lo = b * 32, hi = std::min(n, e * 32);
        if (single)
            cmul_range<float>(static_cast<float*>(xp), static_cast<const float*>(hp), F, M, lo,
                              hi, static_cast<float>(scale), scaled);
        else
            cmul_range<double>(static_cast<double*>(xp), static_cast<const double*>(hp), F, M,
                               lo, hi, scale, scaled);
    });
}

}  // namespace

void register_fft_glue(py::module_& m) {
    m.def("cmul_scaled", &cmul_scaled, py::arg("x"), py::arg("h"), py::arg("scale"),
          py::arg("threads"),
          "x[r] = x[r] * h[r % M] * scale in place; x (R, F) and h (M, F) C-contiguous, "
          "complex64 or complex128, R % M == 0");
}

}  // namespace sigconv
