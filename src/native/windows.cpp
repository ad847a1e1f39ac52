// Window gather (im2col) and its adjoint (col2im scatter-add) for convolution layers.
//
// The input x is (N, C, D, H, W) C-contiguous (the Python wrapper gives 1-D and 2-D inputs
// leading spatial axes of size 1). For images n0..n1 and the flattened output positions
// p0..p1 of the (od, oh, ow) output grid, gather writes
//     cols[n - n0, c, t, p - p0] = x[n, c, i*sd + td*dd - pd, j*sh + th*dh - ph, l*sw + tw*dw - pw]
// (zero where the index falls outside x: zero padding by index, no padded copy), t the tap
// (td, th, tw) in C order of the kernel. scatter adds every cols entry back onto the x
// position it was read from (the adjoint), skipping the padding.
//
// Threads: gather splits the (image, channel, tap) rows of cols, scatter the (image,
// channel) planes of x; each output element is written by one thread, with the same
// arithmetic in the same order whatever the split (scatter adds the taps in tap order, as
// the NumPy twin does), so results do not depend on the thread count.
#include "common.hpp"

#include <pybind11/stl.h>

#include <cstring>
#include <stdexcept>

namespace sigconv {

namespace {

struct Geo {
    std::ptrdiff_t n0, n1, C, D, H, W;   // images n0..n1 of x, channels, spatial sizes
    std::ptrdiff_t kd, kh, kw;           // kernel
    std::ptrdiff_t sd, sh, sw;           // stride
    std::ptrdiff_t dd, dh, dw;           // dilation
    std::ptrdiff_t pd, ph, pw;           // padding before (zeros)
    std::ptrdiff_t od, oh, ow;           // output grid
    std::ptrdiff_t p0, p1;               // flattened output positions
    std::ptrdiff_t taps() const { return kd * kh * kw; }
    std::ptrdiff_t plane() const { return D * H * W; }
};

// floor(a / b) for b > 0
inline std::ptrdiff_t floor_div(std::ptrdiff_t a, std::ptrdiff_t b) {
    std::ptrdiff_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Outputs l in [l0, l1) whose column l*s + off lies in [0, W): [lo, hi), clamped to [l0, l1).
inline void valid_columns(std::ptrdiff_t l0, std::ptrdiff_t l1, std::ptrdiff_t s,
                          std::ptrdiff_t off, std::ptrdiff_t W, std::ptrdiff_t& lo,
                          std::ptrdiff_t& hi) {
    // l*s + off >= 0  <=>  l >= ceil(-off / s);  l*s + off <= W - 1  <=>  l <= floor((W-1-off)/s)
    std::ptrdiff_t first = -floor_div(off, s);          // ceil(-off / s)
    std::ptrdiff_t last = floor_div(W - 1 - off, s);
    lo = std::min(l1, std::max(l0, first));
    hi = std::max(lo, std::min(l1, last + 1));
}

// Visit the row segments of positions [p0, p1) for tap (td, th, tw): fn(q, l0, l1, row)
// where q is the position's offset from p0 at l0, and row the x row of image/channel base
// (nullptr when the row lies in the padding).
template <class T, class Fn>
inline void for_segments(const Geo& g, std::ptrdiff_t td, std::ptrdiff_t th, T* base, Fn&& fn) {
    const std::ptrdiff_t ohw = g.oh * g.ow;
    std::ptrdiff_t p = g.p0;
    while (p < g.p1) {
        std::ptrdiff_t i = p / ohw, rem = p % ohw;
        std::ptrdiff_t j = rem / g.ow, l0 = rem % g.ow;
        std::ptrdiff_t l1 = std::min(g.ow, l0 + (g.p1 - p));
        std::ptrdiff_t zd = i * g.sd + td * g.dd - g.pd;
        std::ptrdiff_t zh = j * g.sh + th * g.dh - g.ph;
        T* row = (zd >= 0 && zd < g.D && zh >= 0 && zh < g.H) ? base + (zd * g.H + zh) * g.W
                                                              : nullptr;
        fn(p - g.p0, l0, l1, row);
        p += l1 - l0;
    }
}

template <class T>
SIGCONV_CLONES void copy_strided(T* __restrict dst, const T* __restrict src, std::ptrdiff_t n,
                                 std::ptrdiff_t s) {
    if (s == 1) {
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
        return;
    }
    if (s == 2) {
        for (std::ptrdiff_t k = 0; k < n; ++k) dst[k] = src[2 * k];
        return;
    }
    for (std::ptrdiff_t k = 0; k < n; ++k) dst[k] = src[k * s];
}

template <class T>
SIGCONV_CLONES void add_strided(T* __restrict dst, const T* __restrict src, std::ptrdiff_t n,
                                std::ptrdiff_t s) {
    if (s == 1) {
        for (std::ptrdiff_t k = 0; k < n; ++k) dst[k] += src[k];
        return;
    }
    for (std::ptrdiff_t k = 0; k < n; ++k) dst[k * s] += src[k];
}

template <class T>
void gather_rows(const Geo& g, const T* x, T* cols, std::ptrdiff_t r0, std::ptrdiff_t r1) {
    const std::ptrdiff_t taps = g.taps(), P = g.p1 - g.p0;
    for (std::ptrdiff_t r = r0; r < r1; ++r) {          // r = ((n - n0) * C + c) * taps + t
        std::ptrdiff_t t = r % taps, nc = r / taps;
        std::ptrdiff_t td = t / (g.kh * g.kw), th = (t / g.kw) % g.kh, tw = t % g.kw;
        const T* base = x + (g.n0 * g.C + nc) * g.plane();
        T* out = cols + r * P;
        const std::ptrdiff_t off = tw * g.dw - g.pw;
        for_segments(g, td, th, base, [&](std::ptrdiff_t q, std::ptrdiff_t l0, std::ptrdiff_t l1,
                                          const T* row) {
            T* dst = out + q - l0;                     // dst[l] is output column l
            if (row == nullptr) {
                std::fill(dst + l0, dst + l1, T(0));
                return;
            }
            std::ptrdiff_t lo, hi;
            valid_columns(l0, l1, g.sw, off, g.W, lo, hi);
            std::fill(dst + l0, dst + lo, T(0));
            if (hi > lo) copy_strided(dst + lo, row + lo * g.sw + off, hi - lo, g.sw);
            std::fill(dst + hi, dst + l1, T(0));
        });
    }
}

template <class T>
void scatter_planes(const Geo& g, const T* cols, T* x, std::ptrdiff_t u0, std::ptrdiff_t u1) {
    const std::ptrdiff_t taps = g.taps(), P = g.p1 - g.p0;
    for (std::ptrdiff_t u = u0; u < u1; ++u) {          // u = (n - n0) * C + c
        T* base = x + (g.n0 * g.C + u) * g.plane();
        for (std::ptrdiff_t t = 0; t < taps; ++t) {
            std::ptrdiff_t td = t / (g.kh * g.kw), th = (t / g.kw) % g.kh, tw = t % g.kw;
            const T* in = cols + (u * taps + t) * P;
            const std::ptrdiff_t off = tw * g.dw - g.pw;
            for_segments(g, td, th, base, [&](std::ptrdiff_t q, std::ptrdiff_t l0,
                                              std::ptrdiff_t l1, T* row) {
                if (row == nullptr) return;
                std::ptrdiff_t lo, hi;
                valid_columns(l0, l1, g.sw, off, g.W, lo, hi);
                if (hi > lo) add_strided(row + lo * g.sw + off, in + q - l0 + lo, hi - lo, g.sw);
            });
        }
    }
}

Geo make_geo(const py::buffer_info& xb, const py::buffer_info& cb, const std::vector<std::ptrdiff_t>& n01,
             const std::vector<std::ptrdiff_t>& kernel, const std::vector<std::ptrdiff_t>& stride,
             const std::vector<std::ptrdiff_t>& dilation, const std::vector<std::ptrdiff_t>& pad,
             const std::vector<std::ptrdiff_t>& out, const std::vector<std::ptrdiff_t>& p01) {
    auto three = [](const std::vector<std::ptrdiff_t>& v, const char* name) {
        if (v.size() != 3) throw std::invalid_argument(std::string(name) + " must have 3 entries");
    };
    three(kernel, "kernel");
    three(stride, "stride");
    three(dilation, "dilation");
    three(pad, "padding");
    three(out, "out_size");
    if (n01.size() != 2 || p01.size() != 2) throw std::invalid_argument("ranges must be pairs");
    if (xb.ndim != 5 || cb.ndim != 4) throw std::invalid_argument("x must be 5-d, cols 4-d");
    Geo g{n01[0], n01[1], xb.shape[1], xb.shape[2], xb.shape[3], xb.shape[4],
          kernel[0], kernel[1], kernel[2], stride[0], stride[1], stride[2],
          dilation[0], dilation[1], dilation[2], pad[0], pad[1], pad[2],
          out[0], out[1], out[2], p01[0], p01[1]};
    for (std::ptrdiff_t v : {g.kd, g.kh, g.kw, g.sd, g.sh, g.sw, g.dd, g.dh, g.dw, g.od, g.oh, g.ow})
        if (v < 1) throw std::invalid_argument("kernel, stride, dilation and out_size must be >= 1");
    if (g.n0 < 0 || g.n1 < g.n0 || g.n1 > xb.shape[0])
        throw std::invalid_argument("image range outside x");
    if (g.p0 < 0 || g.p1 < g.p0 || g.p1 > g.od * g.oh * g.ow)
        throw std::invalid_argument("position range outside the output grid");
    if (cb.shape[0] != g.n1 - g.n0 || cb.shape[1] != g.C || cb.shape[2] != g.taps() ||
        cb.shape[3] != g.p1 - g.p0)
        throw std::invalid_argument("cols must be (images, C, taps, positions)");
    auto contiguous = [](const py::buffer_info& b) {
        std::ptrdiff_t want = b.itemsize;
        for (std::ptrdiff_t a = b.ndim - 1; a >= 0; --a) {
            if (b.shape[a] > 1 && b.strides[a] != want) return false;
            want *= b.shape[a];
        }
        return true;
    };
    if (!contiguous(xb) || !contiguous(cb)) throw std::invalid_argument("arrays must be C-contiguous");
    return g;
}

template <class T>
void gather_impl(py::array x, py::array cols, const std::vector<std::ptrdiff_t>& n01,
                 const std::vector<std::ptrdiff_t>& kernel, const std::vector<std::ptrdiff_t>& stride,
                 const std::vector<std::ptrdiff_t>& dilation, const std::vector<std::ptrdiff_t>& pad,
                 const std::vector<std::ptrdiff_t>& out, const std::vector<std::ptrdiff_t>& p01,
                 int threads) {
    py::buffer_info xb = x.request(), cb = cols.request(true);
    Geo g = make_geo(xb, cb, n01, kernel, stride, dilation, pad, out, p01);
    const T* xp = static_cast<const T*>(xb.ptr);
    T* cp = static_cast<T*>(cb.ptr);
    py::gil_scoped_release release;
    parallel_for((g.n1 - g.n0) * g.C * g.taps(), threads,
                 [&](std::ptrdiff_t r0, std::ptrdiff_t r1) { gather_rows(g, xp, cp, r0, r1); },
                 PIECES_PER_THREAD);
}

template <class T>
void scatter_impl(py::array cols, py::array x, const std::vector<std::ptrdiff_t>& n01,
                  const std::vector<std::ptrdiff_t>& kernel, const std::vector<std::ptrdiff_t>& stride,
                  const std::vector<std::ptrdiff_t>& dilation, const std::vector<std::ptrdiff_t>& pad,
                  const std::vector<std::ptrdiff_t>& out, const std::vector<std::ptrdiff_t>& p01,
                  int threads) {
    py::buffer_info cb = cols.request(), xb = x.request(true);
    Geo g = make_geo(xb, cb, n01, kernel, stride, dilation, pad, out, p01);
    const T* cp = static_cast<const T*>(cb.ptr);
    T* xp = static_cast<T*>(xb.ptr);
    py::gil_scoped_release release;
    parallel_for((g.n1 - g.n0) * g.C, threads,
                 [&](std::ptrdiff_t u0, std::ptrdiff_t u1) { scatter_planes(g, cp, xp, u0, u1); },
                 PIECES_PER_THREAD);
}

bool same_float(const py::array& a, const py::array& b, bool& is64) {
    py::dtype f4 = py::dtype::of<float>(), f8 = py::dtype::of<double>();
    if (a.dtype().equal(f4)) {
        is64 = false;
        return b.dtype().equal(f4);
    }
    if (a.dtype().equal(f8)) {
        is64 = true;
        return b.dtype().equal(f8);
    }
    return false;
}

}  // namespace

void register_windows(py::module_& m) {
    using V = std::vector<std::ptrdiff_t>;
    m.def("gather_windows",
          [](py::array x, py::array cols, V n01, V kernel, V stride, V dilation, V pad, V out,
             V p01, int threads) {
              bool is64 = false;
              if (!same_float(x, cols, is64))
                  throw std::invalid_argument("x and cols must both be float32 or float64");
              if (is64)
                  gather_impl<double>(x, cols, n01, kernel, stride, dilation, pad, out, p01, threads);
              else
                  gather_impl<float>(x, cols, n01, kernel, stride, dilation, pad, out, p01, threads);
          },
          py::arg("x"), py::arg("cols"), py::arg("images"), py::arg("kernel"), py::arg("stride"),
          py::arg("dilation"), py::arg("padding"), py::arg("out_size"), py::arg("positions"),
          py::arg("threads"),
          "cols[n-n0, c, t, p-p0] <- x (N, C, D, H, W) at output p's window tap t (zeros outside)");
    m.def("scatter_windows",
          [](py::array cols, py::array x, V n01, V kernel, V stride, V dilation, V pad, V out,
             V p01, int threads) {
              bool is64 = false;
              if (!same_float(x, cols, is64))
                  throw std::invalid_argument("x and cols must both be float32 or float64");
              if (is64)
                  scatter_impl<double>(cols, x, n01, kernel, stride, dilation, pad, out, p01, threads);
              else
                  scatter_impl<float>(cols, x, n01, kernel, stride, dilation, pad, out, p01, threads);
          },
          py::arg("cols"), py::arg("x"), py::arg("images"), py::arg("kernel"), py::arg("stride"),
          py::arg("dilation"), py::arg("padding"), py::arg("out_size"), py::arg("positions"),
          py::arg("threads"),
          "x (N, C, D, H, W) += the adjoint of gather_windows applied to cols, taps in order");
}

}  // namespace sigconv
