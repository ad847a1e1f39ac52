// Direct convolution of the compiled core: short kernels (up to about 64 taps) along the
// last axis of float32/float64 lines. Each output is the sum over the kernel's taps in
// ascending order of h[i] * x[q - i] for the taps that overlap the signal (as
// numpy.convolve sums only overlapping terms); outputs are computed in tiles of vector
// registers (GCC/Clang vector extensions), scalar sums at the edges.
// The Python wrapper (sigconv/engine/_direct.py) validates, converts (integers to float64
// when every partial sum is exact) and plans.
#include <string>

#include "common.hpp"

namespace sigconv {

namespace {

#if SIGCONV_VEC_EXT
// Outputs per tile: 8 vectors of 32 bytes (32 doubles or 64 floats), kept in registers as the
// taps go by; each tap is one broadcast, 8 loads, 8 multiplies and 8 additions. (A plain array
// of 32 accumulators, vectorised by the compiler, ran 1.1-2.9x slower for 3 to 8 taps.)
constexpr int TILE_VECS = 8;
template <class T> constexpr std::ptrdiff_t tile_len() { return TILE_VECS * VecOf<T>::N; }
#else
template <class T> constexpr std::ptrdiff_t tile_len() { return 32; }
#endif

// One output of the full convolution at index q, taps restricted to the signal.
template <class T>
inline T edge_output(const T* x, std::ptrdiff_t n, const T* h, std::ptrdiff_t m,
                     std::ptrdiff_t q) {
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, q - (n - 1));
    const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(m - 1, q);
    T acc = T(0);
    for (std::ptrdiff_t i = lo; i <= hi; ++i) acc += h[i] * x[q - i];
    return acc;
}

// One tile of outputs out[0 .. tile_len) at full-convolution indices q .. q + tile_len - 1,
// every tap inside the signal (base = x + q); same sums, in the same order, as edge_output.
template <class T, bool Add>
SIGCONV_INLINE void full_tile(T* out, const T* base, const T* h, std::ptrdiff_t m) {
#if SIGCONV_VEC_EXT
    using V = typename VecOf<T>::type;
    constexpr int L = VecOf<T>::N;
    V acc[TILE_VECS];
    for (int r = 0; r < TILE_VECS; ++r) acc[r] = V{};
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const V hv = V{} + h[i];
        const T* xs = base - i;
        for (int r = 0; r < TILE_VECS; ++r) acc[r] += hv * vload<V>(xs + r * L);
    }
    for (int r = 0; r < TILE_VECS; ++r) {
        if constexpr (Add) vstore(out + r * L, vload<V>(out + r * L) + acc[r]);
        else vstore(out + r * L, acc[r]);
    }
#else
    constexpr std::ptrdiff_t TILE = tile_len<T>();
    T acc[TILE];
    for (std::ptrdiff_t k = 0; k < TILE; ++k) acc[k] = T(0);
    for (std::ptrdiff_t i = 0; i < m; ++i) {
        const T hi = h[i];
        const T* xs = base - i;
        for (std::ptrdiff_t k = 0; k < TILE; ++k) acc[k] += hi * xs[k];
    }
    for (std::ptrdiff_t k = 0; k < TILE; ++k) {
        if constexpr (Add) out[k] += acc[k];
        else out[k] = acc[k];
    }
#endif
}

// out[t] for full-convolution indices q = q0 + t, t in [0, count), of one line; with Add the
// outputs are added into out (the rows of a 2-D kernel) instead of stored.
template <class T, bool Add = false>
SIGCONV_CLONES void conv_line(T* out, const T* x, std::ptrdiff_t n, const T* h,
                              std::ptrdiff_t m, std::ptrdiff_t q0, std::ptrdiff_t count) {
    constexpr std::ptrdiff_t TILE = tile_len<T>();
    std::ptrdiff_t t = 0;
    while (t < count) {
        const std::ptrdiff_t q = q0 + t;
        if (q - (m - 1) >= 0 && q + TILE - 1 <= n - 1 && t + TILE <= count) {
            full_tile<T, Add>(out + t, x + q, h, m);
            t += TILE;
        } else {
            if constexpr (Add) out[t] += edge_output(x, n, h, m, q);
            else out[t] = edge_output(x, n, h, m, q);
            ++t;
        }
    }
}

// out (E0, E1)[r, c] = the full 2-D convolution of x (n0, n1) with h (m0, m1) at (s0 + r,
// s1 + c): for each output row, the rows of h that overlap x in ascending order, each row's
// 1-D convolution (taps ascending) added in. Rows are shared between threads.
template <class T>
void conv_2d(T* out, const T* x, const T* h, std::ptrdiff_t n0, std::ptrdiff_t n1,
             std::ptrdiff_t m0, std::ptrdiff_t m1, std::ptrdiff_t s0, std::ptrdiff_t s1,
             std::ptrdiff_t E0, std::ptrdiff_t E1, int threads) {
    parallel_for(E0, threads, [&](std::ptrdiff_t r0, std::ptrdiff_t r1) {
        for (std::ptrdiff_t r = r0; r < r1; ++r) {
            T* o = out + r * E1;
            std::fill(o, o + E1, T(0));
            const std::ptrdiff_t q = s0 + r;
            const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, q - (n0 - 1));
            const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(m0 - 1, q);
            for (std::ptrdiff_t i = lo; i <= hi; ++i)
                conv_line<T, true>(o, x + (q - i) * n1, n1, h + i * m1, m1, s1, E1);
        }
    }, PIECES_PER_THREAD);
}

template <class T>
void conv_lines(T* out, const T* x, const T* h, std::ptrdiff_t G, std::ptrdiff_t n,
                std::ptrdiff_t m, bool x_lines, bool h_lines, std::ptrdiff_t s,
                std::ptrdiff_t E, int threads) {
    // pieces: (line, run of 8 tiles), so a long single line splits across threads too
    const std::ptrdiff_t run = 8 * tile_len<T>();
    const std::ptrdiff_t per_line = (E + run - 1) / run;
    parallel_for(G * per_line, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
        for (std::ptrdiff_t w = b; w < e; ++w) {
            const std::ptrdiff_t g = w / per_line, t0 = (w % per_line) * run;
            const std::ptrdiff_t cnt = std::min(run, E - t0);
            conv_line(out + g * E + t0, x + (x_lines ? g * n : 0), n, h + (h_lines ? g * m : 0),
                      m, s + t0, cnt);
        }
    }, PIECES_PER_THREAD);
}

void require(bool ok, const std::string& what) {
    if (!ok) throw py::value_error("direct_conv: " + what);
}

bool native_order(const py::dtype& d) {
    const char b = d.byteorder();
    const uint16_t probe = 1;
    const bool little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    return b == '=' || b == '|' || b == (little ? '<' : '>');
}

// The checks both entry points make: out writeable, all three C-contiguous and 2-D
// (``shape`` names the layout in the error), one native-order dtype.
void check_operands(const py::array& out, const py::array& x, const py::array& h,
                    const std::string& shape) {
    require(out.writeable(), "out must be writeable");
    require((out.flags() & py::array::c_style) && (x.flags() & py::array::c_style) &&
                (h.flags() & py::array::c_style),
            "arrays must be C-contiguous");
    require(out.ndim() == 2 && x.ndim() == 2 && h.ndim() == 2, "arrays must be 2-D" + shape);
    const py::dtype d = out.dtype();
    const char b = d.byteorder();
    require(x.dtype().num() == d.num() && h.dtype().num() == d.num() &&
                x.dtype().byteorder() == b && h.dtype().byteorder() == b &&
                native_order(d),
            "x, h and out must share one dtype, in this machine's byte order");
}

// fn(out, x, h) on typed pointers (double or float), with the GIL released.
template <class Fn>
void with_float(py::array& out, const py::array& x, const py::array& h, Fn&& fn) {
    const py::dtype d = out.dtype();
    void* op = out.mutable_data();
    const void* xp = x.data();
    const void* hp = h.data();
    if (d.kind() == 'f' && d.itemsize() == 8) {
        py::gil_scoped_release nogil;
        fn(static_cast<double*>(op), static_cast<const double*>(xp),
           static_cast<const double*>(hp));
    } else if (d.kind() == 'f' && d.itemsize() == 4) {
        py::gil_scoped_release nogil;
        fn(static_cast<float*>(op), static_cast<const float*>(xp),
           static_cast<const float*>(hp));
    } else {
        require(false, "dtype must be float32 or float64, not " + std::string(py::str(d)));
    }
}

// out (G, E)[g, t] = full convolution of x line g (Gx in {1, G}, n samples) with h line g
// (Gh in {1, G}, m taps) at index s + t.
void direct_conv(py::array out, py::array x, py::array h, std::ptrdiff_t s, int threads) {
    check_operands(out, x, h, " (lines, n)");
    const std::ptrdiff_t G = out.shape(0), E = out.shape(1);
    const std::ptrdiff_t Gx = x.shape(0), n = x.shape(1), Gh = h.shape(0), m = h.shape(1);
    require((Gx == G || Gx == 1) && (Gh == G || Gh == 1), "lines do not broadcast");
    require(n >= 1 && m >= 1 && s >= 0 && s + E <= n + m - 1, "window outside the result");
    if (out.size() == 0) return;
    with_float(out, x, h, [&](auto* op, const auto* xp, const auto* hp) {
        conv_lines(op, xp, hp, G, n, m, Gx > 1, Gh > 1, s, E, threads);
    });
}

// out (E0, E1)[r, c] = full 2-D convolution of x (n0, n1) with h (m0, m1) at (s0 + r, s1 + c).
void direct_conv2d(py::array out, py::array x, py::array h, std::ptrdiff_t s0, std::ptrdiff_t s1,
                   int threads) {
    check_operands(out, x, h, "");
    require(threads >= 1, "threads must be >= 1");
    const std::ptrdiff_t E0 = out.shape(0), E1 = out.shape(1);
    const std::ptrdiff_t n0 = x.shape(0), n1 = x.shape(1), m0 = h.shape(0), m1 = h.shape(1);
    require(n0 >= 1 && n1 >= 1 && m0 >= 1 && m1 >= 1 && s0 >= 0 && s1 >= 0 &&
                s0 + E0 <= n0 + m0 - 1 && s1 + E1 <= n1 + m1 - 1,
            "window outside the result");
    if (out.size() == 0) return;
    with_float(out, x, h, [&](auto* op, const auto* xp, const auto* hp) {
        conv_2d(op, xp, hp, n0, n1, m0, m1, s0, s1, E0, E1, threads);
    });
}

}  // namespace

void register_direct(py::module_& m) {
    m.def("direct_conv", &direct_conv, py::arg("out"), py::arg("x"), py::arg("h"), py::arg("s"),
          py::arg("threads"),
          "out (G, E) = the full convolution of the lines of x (G or 1, n) and h (G or 1, m) "
          "at indices s .. s + E; float32 or float64");
    m.def("direct_conv2d", &direct_conv2d, py::arg("out"), py::arg("x"), py::arg("h"),
          py::arg("s0"), py::arg("s1"), py::arg("threads"),
          "out (E0, E1) = the full 2-D convolution of x (n0, n1) and h (m0, m1) at rows s0.., "
          "columns s1..; float32 or float64");
}

}  // namespace sigconv
