// Image kernels of the compiled core: separable FIR passes (the Gaussian), box window sums,
// 3x3 operators with the edge magnitude, alpha premultiplication, rounding into the output
// dtype. The API and its exact semantics: /work/notes/native_image_api.md (mirrors the NumPy
// path of sigconv/image/_filters.py). Every kernel reads borders by index (border_index), runs
// over row strips (parallel_for) with per-strip scratch only, and computes every output
// element by the same arithmetic whatever the strip it falls in, so results do not depend on
// the thread count.
#include "common.hpp"

#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#include <immintrin.h>
#define SIGCONV_BOX8 1
#else
#define SIGCONV_BOX8 0
#endif

namespace sigconv {
namespace {

using idx = std::ptrdiff_t;

// ------------------------------------------------------------------ dtypes and arrays

enum Dt : int { U8 = 0, U16 = 1, F32 = 2, F64 = 3, BAD = -1 };

// By value (type number and byte order), not by dtype identity: an unpickled array carries an
// equal but distinct dtype object.
Dt dt_of(const py::array& a) {
    const auto d = a.dtype();
    const uint16_t one = 1;
    const bool little = *reinterpret_cast<const unsigned char*>(&one) == 1;
    const char bo = d.byteorder();
    if (!(bo == '=' || bo == '|' || bo == (little ? '<' : '>'))) return BAD;
    const int n = d.num();
    if (n == py::dtype::of<uint8_t>().num()) return U8;
    if (n == py::dtype::of<uint16_t>().num()) return U16;
    if (n == py::dtype::of<float>().num()) return F32;
    if (n == py::dtype::of<double>().num()) return F64;
    return BAD;
}

const char* dt_name(int dt) {
    switch (dt) {
    case U8: return "uint8";
    case U16: return "uint16";
    case F32: return "float32";
    case F64: return "float64";
    default: return "unsupported";
    }
}

struct Arr {
    char* ptr = nullptr;
    idx n0 = 0, n1 = 0, n2 = 0;  // (H, W, C) for images
    idx size = 0;
    Dt dt = BAD;
};

void check_contiguous(const py::array& a, const char* name) {
    idx expect = a.itemsize();
    for (idx d = a.ndim() - 1; d >= 0; --d) {
        if (a.shape(d) > 1 && a.strides(d) != expect)
            throw py::value_error(std::string(name) + " must be C-contiguous");
        expect *= a.shape(d);
    }
}

Arr take(py::array& a, const char* name, bool write, int ndim) {
    if (ndim > 0 && a.ndim() != ndim)
        throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) +
                              " dimensions, not " + std::to_string(a.ndim()));
    check_contiguous(a, name);
    Arr r;
    r.dt = dt_of(a);
    if (r.dt == BAD)
        throw py::type_error(std::string(name) + " must be uint8, uint16, float32 or float64, not " +
                             std::string(py::str(a.dtype())));
    if (write && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
    r.ptr = write ? static_cast<char*>(a.mutable_data()) : const_cast<char*>(
                                                               static_cast<const char*>(a.data()));
    r.size = a.size();
    if (a.ndim() == 3) {
        r.n0 = a.shape(0);
        r.n1 = a.shape(1);
        r.n2 = a.shape(2);
    }
    return r;
}

// The accumulator: float32 for 8/16-bit and float32 images, float64 for float64 ones.
template <class S> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };

template <class T> constexpr double top_of() {
    if constexpr (std::is_same_v<T, uint8_t>) return 255.0;
    else if constexpr (std::is_same_v<T, uint16_t>) return 65535.0;
    else return 1.0;
}

template <class T> constexpr bool is_int() { return std::is_integral_v<T>; }

template <class F> void with_type(int dt, F&& f) {
    switch (dt) {
    case U8: f(uint8_t{}); break;
    case U16: f(uint16_t{}); break;
    case F32: f(float{}); break;
    case F64: f(double{}); break;
    default: throw py::type_error("unsupported dtype");
    }
}

// Accumulator dtype code of an image dtype.
int acc_dt(int dt) { return dt == F64 ? F64 : F32; }

void check_border(int border) {
    if (border < REFLECT || border > MIRROR)
        throw py::value_error("border code must be 0..4, not " + std::to_string(border));
}

// ------------------------------------------------------------------ rounding into a dtype

// Round half-to-even and clip into D (integers), or convert (floats). NaN goes to 0 (the
// NumPy path has no defined result there). Clipping to integer bounds before rounding gives
// what rounding then clipping gives; the rounding adds and subtracts 1.5 * 2^mantissa, which
// rounds to nearest-even under the default rounding mode for |x| < 2^(mantissa - 1).
template <class A, class D> SIGCONV_CLONES void store_row(const A* in, D* out, idx n) {
    if constexpr (is_int<D>()) {
        const A lo = A(0), hi = A(top_of<D>());
        const A magic = std::is_same_v<A, float> ? A(12582912.0) : A(6755399441055744.0);
        idx i = 0;
#if SIGCONV_VEC_EXT
        // The same operations on vectors (GCC left the scalar loop unvectorized: "control flow
        // in loop"), then the int32 to D narrowing in a loop of its own, which it vectorizes
        // with packs: 3x faster for an 8-bit image.
        if constexpr (std::is_same_v<A, float>) {
            using V = typename VecOf<A>::type;
            typedef int32_t VI __attribute__((vector_size(32)));
            constexpr int L = VecOf<A>::N, B = 64;
            const V vlo = V{} + lo, vhi = V{} + hi, vmagic = V{} + magic;
            int32_t tmp[B];
            for (; i + B <= n; i += B) {
                for (int j = 0; j < B; j += L) {
                    V x = vload<V>(in + i + j);
                    x = x > vlo ? x : vlo;
                    x = x < vhi ? x : vhi;
                    x = (x + vmagic) - vmagic;
                    vstore(tmp + j, __builtin_convertvector(x, VI));
                }
                for (int j = 0; j < B; ++j) out[i + j] = D(tmp[j]);
            }
        }
#endif
        for (; i < n; ++i) {
            A x = in[i];
            x = x > lo ? x : lo;
            x = x < hi ? x : hi;
            x = (x + magic) - magic;
            out[i] = D(int32_t(x));
        }
    } else {
        for (idx i = 0; i < n; ++i) out[i] = D(in[i]);
    }
}

// ------------------------------------------------------------------ alpha

// Colour channels times acc(1/top) * alpha, as _run does (the factor first, then products).
template <class A> SIGCONV_CLONES void premultiply_row(A* row, idx npix, idx C, A inv_top) {
    for (idx p = 0; p < npix; ++p) {
        A* px = row + p * C;
        const A f = inv_top * px[C - 1];
        for (idx c = 0; c < C - 1; ++c) px[c] *= f;
    }
}

// Colour channels times acc(top) / a where the alpha a > clear, else 0.
template <class A> SIGCONV_CLONES void unpremultiply_row(A* row, idx npix, idx C, A top, A clear) {
    for (idx p = 0; p < npix; ++p) {
        A* px = row + p * C;
        const A a = px[C - 1];
        const A f = a > clear ? top / a : A(0);
        for (idx c = 0; c < C - 1; ++c) px[c] *= f;
    }
}

template <class S, class A> SIGCONV_CLONES void convert_row(const S* in, A* out, idx n) {
    for (idx i = 0; i < n; ++i) out[i] = A(in[i]);
}

template <class A> SIGCONV_CLONES void scale_row(A* row, idx n, A s) {
    for (idx i = 0; i < n; ++i) row[i] *= s;
}

template <class S, class A> SIGCONV_CLONES void convert_scale_row(const S* in, A* out, idx n, A s) {
    for (idx i = 0; i < n; ++i) out[i] = A(in[i]) * s;
}

// A source row, converted to acc, premultiplied (alpha) and scaled (box: 1/area), as the NumPy
// path does: convert, premultiply, scale.
template <class S, class A>
void load_row(const S* in, A* out, idx npix, idx C, bool alpha, A inv_top, A scale,
              bool scaled) {
    if (scaled && !alpha) {
        convert_scale_row<S, A>(in, out, npix * C, scale);
        return;
    }
    convert_row<S, A>(in, out, npix * C);
    if (alpha) premultiply_row<A>(out, npix, C, inv_top);
    if (scaled) scale_row<A>(out, npix * C, scale);
}

// The pixel a constant border reads, converted as load_row converts a pixel.
template <class A>
std::vector<A> const_pixel(double cval, idx C, bool alpha, A inv_top, A scale, bool scaled) {
    std::vector<A> px(static_cast<size_t>(C), A(cval));
    if (alpha) {
        const A f = inv_top * px[C - 1];
        for (idx c = 0; c < C - 1; ++c) px[c] *= f;
    }
    if (scaled)
        for (auto& v : px) v *= scale;
    return px;
}

// ------------------------------------------------------------------ FIR along pointer sets

// GCC unrolled the tap loops by two and then left the inner chunk loop scalar (a 25x slower
// Gaussian); one tap per iteration, the chunk's loops unrolled, keeps the chunk's sums in
// vector registers.
#if defined(__GNUC__) && !defined(__clang__)
#define SIGCONV_NO_UNROLL _Pragma("GCC unroll 1")
#define SIGCONV_UNROLL_CHUNK _Pragma("GCC unroll 32")
#else
#define SIGCONV_NO_UNROLL
#define SIGCONV_UNROLL_CHUNK
#endif

// out[i] = wc p[R][i] + sum_{m} wk[m] (p[R-ks[m]][i] + p[R+ks[m]][i]), i in [0, n): the
// symmetric pass (an odd symmetric kernel's taps paired around its centre). Zero taps are left
// out (center false, pairs not listed), so a NaN or inf under a zero tap does not spread, as in
// the NumPy twin. Chunks of CH outputs keep their sums in registers while the taps go by.
// (Center a template argument: a branch on it inside the chunk left GCC's loop scalar.)
template <class A, bool Center>
SIGCONV_CLONES void fir_sym(const A* const* p, int R, A wc, const int* ks, const A* wk, int nk,
                            A* out, idx n) {
    constexpr int CH = std::is_same_v<A, float> ? 32 : 16;
    const bool center = Center;
    idx i = 0;
    for (; i + CH <= n; i += CH) {
        A acc[CH];
        const A* c = p[R] + i;
        SIGCONV_UNROLL_CHUNK
        for (int j = 0; j < CH; ++j) acc[j] = Center ? wc * c[j] : A(0);
        SIGCONV_NO_UNROLL
        for (int m = 0; m < nk; ++m) {
            const A* a = p[R - ks[m]] + i;
            const A* b = p[R + ks[m]] + i;
            const A w = wk[m];
            SIGCONV_UNROLL_CHUNK
            for (int j = 0; j < CH; ++j) acc[j] += w * (a[j] + b[j]);
        }
        SIGCONV_UNROLL_CHUNK
        for (int j = 0; j < CH; ++j) out[i + j] = acc[j];
    }
    for (; i < n; ++i) {
        A acc = center ? wc * p[R][i] : A(0);
        for (int m = 0; m < nk; ++m) acc += wk[m] * (p[R - ks[m]][i] + p[R + ks[m]][i]);
        out[i] = acc;
    }
}

// out[i] = sum_m w[m] p[js[m]][i]: any taps (the non-zero ones listed; none: zeros).
template <class A>
SIGCONV_CLONES void fir_gen(const A* const* p, const int* js, const A* w, int K, A* out, idx n) {
    constexpr int CH = std::is_same_v<A, float> ? 32 : 16;
    if (K == 0) {
        for (idx i = 0; i < n; ++i) out[i] = A(0);
        return;
    }
    idx i = 0;
    for (; i + CH <= n; i += CH) {
        A acc[CH];
        const A* c = p[js[0]] + i;
        SIGCONV_UNROLL_CHUNK
        for (int j = 0; j < CH; ++j) acc[j] = w[0] * c[j];
        SIGCONV_NO_UNROLL
        for (int k = 1; k < K; ++k) {
            const A* a = p[js[k]] + i;
            const A wk = w[k];
            SIGCONV_UNROLL_CHUNK
            for (int j = 0; j < CH; ++j) acc[j] += wk * a[j];
        }
        SIGCONV_UNROLL_CHUNK
        for (int j = 0; j < CH; ++j) out[i + j] = acc[j];
    }
    for (; i < n; ++i) {
        A acc = w[0] * p[js[0]][i];
        for (int k = 1; k < K; ++k) acc += w[k] * p[js[k]][i];
        out[i] = acc;
    }
}

#if SIGCONV_VEC_EXT

// Two output rows of a dense symmetric pass (pair distances 1..nk, all taps non-zero) at once:
// row 0 reads p[R - k] and p[R + k], row 1 p[R + 1 - k] and p[R + 1 + k]; p[R + 1 - k] is what
// row 0 read as p[R - (k - 1)] the step before, and p[R + k] what row 1 read as p[R + 1 + (k -
// 1)], so each step loads two rows for two outputs instead of four. Per element the sums are
// fir_sym's, in its order: bitwise the same result.
template <class A, bool Center>
SIGCONV_CLONES void fir_sym_pairs(const A* const* p, idx k, int R, A wc, const A* wk, int nk,
                                  A* out, idx ostride, idx n) {
    using V = typename VecOf<A>::type;
    constexpr int L = VecOf<A>::N;
    // Pair by pair along the whole tile: measured 15% faster at sigma 10 than chunk by chunk
    // with all k rows inside (which keeps a chunk's rows in L1), and no slower at sigma 5.
    for (idx r = 0; r + 2 <= k; r += 2) {
        const A* const* q = p + r;
        A* o0 = out + r * ostride;
        A* o1 = o0 + ostride;
        idx i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            V a0 = vload<V>(q[R] + i), a1 = vload<V>(q[R] + i + L);            // q[R - k + 1]
            V d0 = vload<V>(q[R + 1] + i), d1 = vload<V>(q[R + 1] + i + L);    // q[R + k]
            V s0, s1, t0, t1;
            if (Center) {
                s0 = wc * a0; s1 = wc * a1; t0 = wc * d0; t1 = wc * d1;
            } else {
                s0 = s1 = t0 = t1 = V{};
            }
            SIGCONV_NO_UNROLL
            for (int m = 0; m < nk; ++m) {
                const A* lo = q[R - 1 - m] + i;        // q[R - k], k = m + 1
                const A* hi = q[R + 2 + m] + i;        // q[R + 1 + k]
                const V n0 = vload<V>(lo), n1 = vload<V>(lo + L);
                const V h0 = vload<V>(hi), h1 = vload<V>(hi + L);
                const A w = wk[m];
                s0 += w * (n0 + d0);
                s1 += w * (n1 + d1);
                t0 += w * (a0 + h0);
                t1 += w * (a1 + h1);
                a0 = n0; a1 = n1; d0 = h0; d1 = h1;
            }
            vstore(o0 + i, s0); vstore(o0 + i + L, s1);
            vstore(o1 + i, t0); vstore(o1 + i + L, t1);
        }
        for (; i < n; ++i) {
            A s = Center ? wc * q[R][i] : A(0), u = Center ? wc * q[R + 1][i] : A(0);
            for (int m = 0; m < nk; ++m) {
                s += wk[m] * (q[R - 1 - m][i] + q[R + 1 + m][i]);
                u += wk[m] * (q[R - m][i] + q[R + 2 + m][i]);
            }
            o0[i] = s;
            o1[i] = u;
        }
    }
}
#endif

// A 1-D pass: taps (correlation, origin len // 2), folded when longer than 2n + 1 for a line of
// n samples (beyond the edge every border mode repeats itself: see _fold_passes), and whether
// the taps are odd and exactly symmetric.
template <class A> struct Pass {
    std::vector<A> w;       // the non-zero taps: symmetric, of pairs k = ks (centre apart)
    std::vector<int> ks;    // symmetric: pair distances; else tap indices
    A wc = A(0);
    bool center = false;
    int before = 0, after = 0;
    bool sym = false;
};

template <class A> Pass<A> make_pass(const std::vector<double>& taps_in, idx n, int border) {
    std::vector<double> taps = taps_in;
    idx origin = idx(taps.size()) / 2;
    if (idx(taps.size()) > 2 * n + 1) {
        std::vector<double> folded(static_cast<size_t>(2 * n + 1), 0.0);
        for (idx j = 0; j < idx(taps.size()); ++j) {
            idx u = j - origin, t;
            idx period = border == REFLECT ? 2 * n : border == MIRROR ? std::max<idx>(2 * n - 2, 1)
                         : border == WRAP ? n : 0;
            if (period == 0) {
                t = std::min(std::max(u, -n), n);
            } else {
                t = (u + n) % period;
                if (t < 0) t += period;
                t -= n;
            }
            folded[static_cast<size_t>(t + n)] += taps[static_cast<size_t>(j)];
        }
        taps.swap(folded);
        origin = n;
    }
    Pass<A> p;
    const idx L = idx(taps.size());
    p.before = int(origin);
    p.after = int(L - 1 - origin);
    bool sym = (L % 2 == 1);
    for (idx j = 0; sym && j < L / 2; ++j)
        sym = A(taps[static_cast<size_t>(j)]) == A(taps[static_cast<size_t>(L - 1 - j)]);
    p.sym = sym;
    if (sym) {
        p.wc = A(taps[static_cast<size_t>(origin)]);
        p.center = p.wc != A(0);
        for (idx k = 1; origin + k < L; ++k) {
            const A w = A(taps[static_cast<size_t>(origin + k)]);
            if (w != A(0)) {
                p.w.push_back(w);
                p.ks.push_back(int(k));
            }
        }
    } else {
        for (idx j = 0; j < L; ++j) {
            const A w = A(taps[static_cast<size_t>(j)]);
            if (w != A(0)) {
                p.w.push_back(w);
                p.ks.push_back(int(j));
            }
        }
    }
    return p;
}

template <class A> void run_pass(const Pass<A>& ps, const A* const* p, A* out, idx n) {
    if (ps.sym)
        if (ps.center)
            fir_sym<A, true>(p, ps.before, ps.wc, ps.ks.data(), ps.w.data(), int(ps.w.size()), out, n);
        else
            fir_sym<A, false>(p, ps.before, ps.wc, ps.ks.data(), ps.w.data(), int(ps.w.size()), out, n);
    else
        fir_gen<A>(p, ps.ks.data(), ps.w.data(), int(ps.w.size()), out, n);
}

// k output rows of a vertical pass (row j from the row pointers p + j): two at a time where the
// taps are dense and symmetric (fir_sym_pairs), else one by one.
template <class A>
void run_pass_rows(const Pass<A>& ps, const A* const* p, idx k, A* out, idx ostride, idx n) {
#if SIGCONV_VEC_EXT
    bool dense = ps.sym;
    for (size_t m = 0; dense && m < ps.ks.size(); ++m) dense = ps.ks[m] == int(m) + 1;
    if (dense && !ps.ks.empty() && k >= 2) {
        if (ps.center)
            fir_sym_pairs<A, true>(p, k, ps.before, ps.wc, ps.w.data(), int(ps.w.size()), out,
                                   ostride, n);
        else
            fir_sym_pairs<A, false>(p, k, ps.before, ps.wc, ps.w.data(), int(ps.w.size()), out,
                                    ostride, n);
        const idx r = k / 2 * 2;
        if (r < k) run_pass<A>(ps, p + r, out + r * ostride, n);
        return;
    }
#endif
    for (idx r = 0; r < k; ++r) run_pass<A>(ps, p + r, out + r * ostride, n);
}

// Fill the border columns of a padded row (bx pixels before, ax after, W pixels inside
// starting at row + bx * C) by index; `cpx` (C values) for the constant border.
template <class A>
void fill_columns(A* row, idx W, idx C, idx bx, idx ax, int border, const A* cpx) {
    A* mid = row + bx * C;
    for (idx x = -bx; x < 0; ++x) {
        idx s = border_index(x, W, border);
        const A* from = s < 0 ? cpx : mid + s * C;
        for (idx c = 0; c < C; ++c) mid[x * C + c] = from[c];
    }
    for (idx x = W; x < W + ax; ++x) {
        idx s = border_index(x, W, border);
        const A* from = s < 0 ? cpx : mid + s * C;
        for (idx c = 0; c < C; ++c) mid[x * C + c] = from[c];
    }
}

// ------------------------------------------------------------------ separable filter

template <class S, class D>
void sep_filter_impl(const Arr& src, const Arr& dst, const std::vector<double>& ty,
                     const std::vector<double>& tx, int border, double cval, bool alpha,
                     int threads) {
    using A = typename AccOf<S>::type;
    const idx H = src.n0, W = src.n1, C = src.n2, WC = W * C;
    const S* in = reinterpret_cast<const S*>(src.ptr);
    D* outp = reinterpret_cast<D*>(dst.ptr);
    const Pass<A> py_ = make_pass<A>(ty, H, border), px_ = make_pass<A>(tx, W, border);
    const A top = A(top_of<S>()), inv_top = A(1.0 / top_of<S>());
    const A clear = is_int<S>() ? A(0.5) : A(top_of<S>() * 256 * std::numeric_limits<A>::epsilon());
    const std::vector<A> cpx = const_pixel<A>(cval, C, alpha, inv_top, A(1), false);
    const idx Ly = py_.before + py_.after + 1, bx = px_.before, ax = px_.after;
    // The vertical pass of a constant column: what the padded image's border columns become.
    std::vector<A> ccol(static_cast<size_t>(C));
    {
        std::vector<const A*> ptrs(static_cast<size_t>(Ly), cpx.data());
        run_pass<A>(py_, ptrs.data(), ccol.data(), C);
    }
    // Rows are read in place when the image is already in the accumulator type, unless its
    // row stride maps the rows a column reads onto few cache sets: a stride of a multiple of
    // 2 KB (a 8192-wide float32 image: 32 KB) put the 96 rows of a sigma-10 pass on 2 sets of
    // a 1 MB 16-way L2, and the pass ran 4x slower than on a 3840-wide image. Such images,
    // like 8/16-bit ones, are copied tile by tile into rows of an odd number of cache lines.
    const idx stride_bytes = WC * idx(sizeof(S));
    const bool aliased = stride_bytes % 2048 == 0;
    const bool direct = std::is_same_v<S, A> && !alpha && !aliased;
    constexpr idx K = 16;                                  // output rows per batch
    idx T = 196608 / (idx(sizeof(A)) * (K + Ly - 1)) / C * C;  // columns per tile
    T = std::max<idx>(T, std::max<idx>(C, 64 / C * C));
    T = std::min(T, WC);
    idx P = (T * idx(sizeof(A)) + 63) / 64;                // F's row pitch: odd cache lines
    if (P % 2 == 0) ++P;
    P = P * 64 / idx(sizeof(A));

    parallel_for(H, threads, [&](idx r0, idx r1) {
        std::vector<A> F(direct ? 0 : static_cast<size_t>((K + Ly - 1) * P));
        std::vector<A> mid(static_cast<size_t>(K * (W + bx + ax) * C));
        std::vector<A> hrow(static_cast<size_t>(WC));
        std::vector<A> crow(direct ? static_cast<size_t>(WC) : 0);
        if (direct)
            for (idx i = 0; i < WC; ++i) crow[static_cast<size_t>(i)] = cpx[static_cast<size_t>(i % C)];
        std::vector<const A*> rows(static_cast<size_t>(K + Ly - 1));
        std::vector<const A*> hp(static_cast<size_t>(px_.before + px_.after + 1));
        const idx MW = (W + bx + ax) * C;
        for (idx b0 = r0; b0 < r1; b0 += K) {
            const idx k = std::min(K, r1 - b0);
            const idx nrows = k + Ly - 1;
            for (idx t0 = 0; t0 < WC; t0 += T) {
                const idx tn = std::min(T, WC - t0);
                for (idx q = 0; q < nrows; ++q) {
                    const idx s = border_index(b0 - py_.before + q, H, border);
                    if (direct) {
                        rows[static_cast<size_t>(q)] = (s < 0 ? reinterpret_cast<const A*>(crow.data())
                                                              : reinterpret_cast<const A*>(in + s * WC)) + t0;
                    } else {
                        A* f = F.data() + q * P;
                        if (s < 0) {
                            for (idx i = 0; i < tn; ++i) f[i] = cpx[static_cast<size_t>((t0 + i) % C)];
                        } else {
                            load_row<S, A>(in + s * WC + t0, f, tn / C, C, alpha, inv_top, A(1), false);
                        }
                        rows[static_cast<size_t>(q)] = f;
                    }
                }
                run_pass_rows<A>(py_, rows.data(), k, mid.data() + bx * C + t0, MW, tn);
            }
            for (idx j = 0; j < k; ++j) {
                A* m = mid.data() + j * MW;
                fill_columns<A>(m, W, C, bx, ax, border, ccol.data());
                for (idx t = 0; t < idx(hp.size()); ++t) hp[static_cast<size_t>(t)] = m + t * C;
                if constexpr (std::is_same_v<A, D>) {
                    if (!alpha) {      // float output in the accumulator's type: no copy
                        run_pass<A>(px_, hp.data(), reinterpret_cast<A*>(outp + (b0 + j) * WC), WC);
                        continue;
                    }
                }
                run_pass<A>(px_, hp.data(), hrow.data(), WC);
                if (alpha) unpremultiply_row<A>(hrow.data(), W, C, top, clear);
                store_row<A, D>(hrow.data(), outp + (b0 + j) * WC, WC);
            }
        }
    });
}

// ------------------------------------------------------------------ box filter

template <class U, class D>
SIGCONV_CLONES void box_divide_row(const U* s, D* out, idx n, U half, idx area, int how,
                                   float inv32, double inv64) {
    if (how == 0) {
        // floor((s + half + 0.5) / area) from a float32 product: exact while s + half + 1 <=
        // 2^21 (the product's error stays below 0.25 / area, the quotient's distance from an
        // integer is at least 0.5 / area).
        for (idx i = 0; i < n; ++i) out[i] = D(int32_t((float(int32_t(s[i] + half)) + 0.5f) * inv32));
    } else if (how == 1) {
        for (idx i = 0; i < n; ++i) out[i] = D(int64_t((double(s[i] + half) + 0.5) * inv64));
    } else {
        for (idx i = 0; i < n; ++i) out[i] = D((s[i] + half) / U(area));
    }
}

template <class U, class S> SIGCONV_CLONES void add_sub_row(U* acc, const S* plus, const S* minus, idx n) {
    for (idx i = 0; i < n; ++i) acc[i] += U(plus[i]) - U(minus[i]);
}

template <class U, class S> SIGCONV_CLONES void add_row(U* acc, const S* plus, idx n) {
    for (idx i = 0; i < n; ++i) acc[i] += U(plus[i]);
}

// Running horizontal sums of n pixels along a padded row (C interleaved lines): out[x] =
// sum of hp[x .. x + n - 1] (pixels). The C running sums stay in registers (through memory,
// each step waited for a store to be forwarded: 2x slower).
template <class U, int CC> void running_row_c(const U* hp, U* out, idx W, idx n) {
    U s[CC];
    for (int c = 0; c < CC; ++c) {
        s[c] = 0;
        for (idx k = 0; k < n; ++k) s[c] += hp[k * CC + c];
        out[c] = s[c];
    }
    const U* add = hp + n * CC;
    for (idx x = 1; x < W; ++x) {
        for (int c = 0; c < CC; ++c) {
            s[c] += add[(x - 1) * CC + c] - hp[(x - 1) * CC + c];
            out[x * CC + c] = s[c];
        }
    }
}

template <class U> void running_row(const U* hp, U* out, idx W, idx C, idx n) {
    switch (C) {
    case 1: return running_row_c<U, 1>(hp, out, W, n);
    case 2: return running_row_c<U, 2>(hp, out, W, n);
    case 3: return running_row_c<U, 3>(hp, out, W, n);
    case 4: return running_row_c<U, 4>(hp, out, W, n);
    default: break;
    }
    for (idx c = 0; c < C; ++c) {
        U s = 0;
        for (idx k = 0; k < n; ++k) s += hp[k * C + c];
        out[c] = s;
    }
    const idx WC = W * C, off = n * C;   // hp[i + (n-1) C] for output i, minus hp[i - C]
    for (idx i = C; i < WC; ++i) out[i] = out[i - C] + (hp[i - C + off] - hp[i - C]);
}

// Exact integer box of an 8/16-bit image: column sums kept running down the strip (a row in,
// a row out), then running sums along each row; U is an unsigned type that holds every
// window sum (sums wrap modulo 2^bits in between and come out exact).
template <class S, class U, class D>
void box_int(const Arr& src, const Arr& dst, idx ny, idx nx, int border, S cv, int threads) {
    const idx H = src.n0, W = src.n1, C = src.n2, WC = W * C;
    const S* in = reinterpret_cast<const S*>(src.ptr);
    D* out = reinterpret_cast<D*>(dst.ptr);
    const idx ay = ny / 2, axb = nx / 2, axa = nx - 1 - nx / 2;
    const idx area = ny * nx;
    const U half = U(area / 2);
    const double top = top_of<S>() * double(area) + double(area);
    const int how = is_int<D>() ? (top + 1 <= 2097152.0 ? 0 : top + 1 <= 4503599627370496.0 ? 1 : 2)
                                : 3;
    const float inv32 = 1.0f / float(area);
    const double inv64 = 1.0 / double(area);
    parallel_for(H, threads, [&](idx r0, idx r1) {
        std::vector<U> hp(static_cast<size_t>((W + nx - 1) * C));
        std::vector<U> sums(static_cast<size_t>(WC));
        std::vector<S> crow(static_cast<size_t>(WC), cv);
        std::vector<U> ccol(static_cast<size_t>(C), U(U(cv) * U(ny)));
        U* colsum = hp.data() + axb * C;
        auto row = [&](idx g) -> const S* {
            idx s = border_index(g, H, border);
            return s < 0 ? crow.data() : in + s * WC;
        };
        for (idx r = r0; r < r1; ++r) {
            if (r == r0) {
                std::fill(colsum, colsum + WC, U(0));
                for (idx k = 0; k < ny; ++k) add_row<U, S>(colsum, row(r - ay + k), WC);
            } else {
                add_sub_row<U, S>(colsum, row(r - ay + ny - 1), row(r - ay - 1), WC);
            }
            fill_columns<U>(hp.data(), W, C, axb, axa, border, ccol.data());
            running_row<U>(hp.data(), sums.data(), W, C, nx);
            D* o = out + r * WC;
            if constexpr (is_int<D>()) {
                box_divide_row<U, D>(sums.data(), o, WC, half, area, how, inv32, inv64);
            } else {
                for (idx i = 0; i < WC; ++i) o[i] = D(double(sums[static_cast<size_t>(i)]) / double(area));
            }
        }
    });
}

template <class A> SIGCONV_CLONES void add_rows(A* out, const A* a, const A* b, idx n) {
    for (idx i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

// Two-sided block sums along a padded row (C interleaved lines, L pixels): blocks of n pixels
// from the row's start; window x (pixels x .. x + n - 1) is the suffix sum of x's block from x
// plus the prefix sum of the next block up to x + n - 1; both lie inside the window.
// Prefix and suffix sums within each block of n pixels, eight blocks in lockstep: each chain of
// additions waits for the previous sum (3 cycles), so independent chains side by side keep
// the adder busy. CC: the channel count when known at compile time (0: runtime C).
template <class A, int CC>
void block_sums(const A* hp, A* pre, A* suf, idx L, idx Cr, idx n) {
    const idx C = CC ? CC : Cr, nC = n * C, full = L / n;
    constexpr int G = 8;
    idx b0 = 0;
    for (; b0 + G <= full; b0 += G) {
        const A* h = hp + b0 * nC;
        A* p = pre + b0 * nC;
        A* s = suf + b0 * nC;
        for (idx j = 0; j < G * nC; j += nC)
            for (idx c = 0; c < C; ++c) {
                p[j + c] = h[j + c];
                s[j + (n - 1) * C + c] = h[j + (n - 1) * C + c];
            }
        if constexpr (CC > 0) {
            // the running sums in registers (read back from memory, each waited for its store)
            A v[G][CC];
            for (int g = 0; g < G; ++g)
                for (int c = 0; c < CC; ++c) v[g][c] = h[g * nC + c];
            for (idx t = C; t < nC; t += C)
                for (int g = 0; g < G; ++g)
                    for (int c = 0; c < CC; ++c) {
                        const idx i = g * nC + t + c;
                        p[i] = v[g][c] = v[g][c] + h[i];
                    }
            for (int g = 0; g < G; ++g)
                for (int c = 0; c < CC; ++c) v[g][c] = h[g * nC + nC - C + c];
            for (idx t = nC - 2 * C; t >= 0; t -= C)
                for (int g = 0; g < G; ++g)
                    for (int c = 0; c < CC; ++c) {
                        const idx i = g * nC + t + c;
                        s[i] = v[g][c] = h[i] + v[g][c];
                    }
        } else {
            for (idx t = C; t < nC; t += C)
                for (int g = 0; g < G; ++g)
                    for (idx c = 0; c < C; ++c) {
                        const idx i = g * nC + t + c;
                        p[i] = p[i - C] + h[i];
                    }
            for (idx t = nC - 2 * C; t >= 0; t -= C)
                for (int g = 0; g < G; ++g)
                    for (idx c = 0; c < C; ++c) {
                        const idx i = g * nC + t + c;
                        s[i] = h[i] + s[i + C];
                    }
        }
    }
    for (idx b = b0 * n; b < L; b += n) {     // the remaining blocks, the last maybe partial
        const idx e = std::min(b + n, L);
        for (idx c = 0; c < C; ++c) {
            A v = hp[b * C + c];
            pre[b * C + c] = v;
            for (idx x = b + 1; x < e; ++x) pre[x * C + c] = v = v + hp[x * C + c];
            v = hp[(e - 1) * C + c];
            suf[(e - 1) * C + c] = v;
            for (idx x = e - 2; x >= b; --x) suf[x * C + c] = v = hp[x * C + c] + v;
        }
    }
}

// Two-sided block sums along a padded row (C interleaved lines, L pixels): blocks of n pixels
// from the row's start; window x (pixels x .. x + n - 1) is the suffix sum of x's block from x
// plus the prefix sum of the next block up to x + n - 1; both lie inside the window.
template <class A>
void block_row(const A* hp, A* pre, A* suf, A* out, idx W, idx L, idx C, idx n) {
    switch (C) {
    case 1: block_sums<A, 1>(hp, pre, suf, L, C, n); break;
    case 2: block_sums<A, 2>(hp, pre, suf, L, C, n); break;
    case 3: block_sums<A, 3>(hp, pre, suf, L, C, n); break;
    case 4: block_sums<A, 4>(hp, pre, suf, L, C, n); break;
    default: block_sums<A, 0>(hp, pre, suf, L, C, n); break;
    }
    for (idx b = 0; b < W; b += n) {
        const idx e = std::min(b + n, W);
        for (idx c = 0; c < C; ++c) out[b * C + c] = suf[b * C + c];
        if (e > b + 1)
            add_rows<A>(out + (b + 1) * C, suf + (b + 1) * C, pre + (b + n) * C, (e - b - 1) * C);
    }
}

#if SIGCONV_BOX8
// block_row for eight one-channel float rows at once, the rows in the lanes of an AVX2
// register: the padded rows are transposed 8x8 at a time (x major, row minor), the block
// sums run down x as vector additions (block_sums' chains, one per row, in its order), and the
// sums are transposed back into the eight output rows. Per element the same additions as
// block_row: bitwise the same result. The scalar chains of block_row took half of a gray box's
// time (3840x2160, 15x15: 12.7 ms on one thread, 6.1 ms with the row pass left out).
__attribute__((target("avx2"))) inline void transpose8(__m256* r) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// A 32-byte aligned pointer inside the first 31 bytes of q's slack (for the vectors' stores).
inline float* align32(float* q) {
    return reinterpret_cast<float*>((reinterpret_cast<std::uintptr_t>(q) + 31) & ~std::uintptr_t(31));
}

// rows[j]: padded row j (L pixels), outs[j]: its W outputs; 32-byte aligned scratch: T of 8 L
// floats, O of 8 W, pre and suf of 8 n each.
__attribute__((target("avx2")))
void block_rows8(const float* const* rows, float* const* outs, idx W, idx L, idx n, float* T,
                 float* O, float* pre_f, float* suf_f) {
    __m256 r[8];
    idx x = 0;
    for (; x + 8 <= L; x += 8) {
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(rows[j] + x);
        transpose8(r);
        for (int j = 0; j < 8; ++j) _mm256_store_ps(T + (x + j) * 8, r[j]);
    }
    for (; x < L; ++x)
        for (int j = 0; j < 8; ++j) T[x * 8 + j] = rows[j][x];
    // block b: suf over [b, e) backwards, then out[b] = suf[b], out[x] = suf[x] + pre[x + n - 1]
    // with pre the next block's prefix sums
    __m256* pre = reinterpret_cast<__m256*>(pre_f);
    __m256* suf = reinterpret_cast<__m256*>(suf_f);
    for (idx b = 0; b < W; b += n) {
        const idx e = std::min(b + n, L);
        __m256 v = _mm256_load_ps(T + (e - 1) * 8);
        suf[static_cast<size_t>(e - 1 - b)] = v;
        for (idx t = e - 2; t >= b; --t) suf[static_cast<size_t>(t - b)] = v = _mm256_add_ps(_mm256_load_ps(T + t * 8), v);
        const idx nb = b + n, ne = std::min(nb + n, L);   // the next block, up to what is read
        const idx last = std::min(b + n, W);                // outputs of this block
        if (nb < L) {
            v = _mm256_load_ps(T + nb * 8);
            pre[0] = v;
            const idx upto = std::min(ne, last + n - 1);    // pre[x + n - 1] for x < last
            for (idx t = nb + 1; t < upto; ++t) pre[static_cast<size_t>(t - nb)] = v = _mm256_add_ps(v, _mm256_load_ps(T + t * 8));
        }
        _mm256_store_ps(O + b * 8, suf[0]);
        for (idx q = b + 1; q < last; ++q)
            _mm256_store_ps(O + q * 8, _mm256_add_ps(suf[static_cast<size_t>(q - b)], pre[static_cast<size_t>(q - b - 1)]));
    }
    x = 0;
    for (; x + 8 <= W; x += 8) {
        for (int j = 0; j < 8; ++j) r[j] = _mm256_load_ps(O + (x + j) * 8);
        transpose8(r);
        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(outs[j] + x, r[j]);
    }
    for (; x < W; ++x)
        for (int j = 0; j < 8; ++j) outs[j][x] = O[x * 8 + j];
}

bool cpu_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

idx floordiv(idx a, idx b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Float box: values (premultiplied, then scaled by 1/area) summed by two-sided block sums down
// the columns (blocks of ny rows aligned on global row multiples) then along the rows.
template <class S, class D>
void box_float(const Arr& src, const Arr& dst, idx ny, idx nx, int border, double cval,
               bool alpha, int threads) {
    using A = typename AccOf<S>::type;
    const idx H = src.n0, W = src.n1, C = src.n2, WC = W * C;
    const S* in = reinterpret_cast<const S*>(src.ptr);
    D* out = reinterpret_cast<D*>(dst.ptr);
    const idx ay = ny / 2, axb = nx / 2, axa = nx - 1 - nx / 2, L = W + nx - 1;
    const A top = A(top_of<S>()), inv_top = A(1.0 / top_of<S>());
    const A clear = is_int<S>() ? A(0.5) : A(top_of<S>() * 256 * std::numeric_limits<A>::epsilon());
    const A scale = A(1.0 / double(ny * nx));
    const std::vector<A> cpx = const_pixel<A>(cval, C, alpha, inv_top, scale, true);
    // A constant column after the vertical sums, for each position t of the window's start
    // in its block (the same additions as the rows get).
    std::vector<A> ccol(static_cast<size_t>(ny * C));
    for (idx c = 0; c < C; ++c) {
        const A v = cpx[static_cast<size_t>(c)];
        std::vector<A> suf(static_cast<size_t>(ny));
        A s = v;
        suf[static_cast<size_t>(ny - 1)] = s;
        for (idx t = ny - 2; t >= 0; --t) suf[static_cast<size_t>(t)] = s = v + s;
        A p = A(0);
        for (idx t = 0; t < ny; ++t) {
            if (t == 0) {
                ccol[static_cast<size_t>(c)] = suf[0];
            } else {
                p = t == 1 ? v : p + v;
                ccol[static_cast<size_t>(t * C + c)] = suf[static_cast<size_t>(t)] + p;
            }
        }
    }
    parallel_for(H, threads, [&](idx r0, idx r1) {
        std::vector<A> Sb(static_cast<size_t>(ny * WC)), Xb(static_cast<size_t>(ny * WC));
        std::vector<A> P(static_cast<size_t>(WC)), hp(static_cast<size_t>(L * C));
        std::vector<A> pre(static_cast<size_t>(L * C)), suf(static_cast<size_t>(L * C));
        std::vector<A> res(static_cast<size_t>(WC));
#if SIGCONV_BOX8
        // one-channel float32 in and out: the row pass eight rows at a time (block_rows8)
        constexpr bool f32 = std::is_same_v<A, float> && std::is_same_v<D, float>;
        const bool box8 = f32 && C == 1 && !alpha && H >= 8 && cpu_avx2();
        std::vector<A> hp8(box8 ? static_cast<size_t>(8 * L) : 0);
        // T (8 L), O (8 W), pre and suf (8 nx each): multiples of 8 floats after an aligned start
        std::vector<float> scratch8(box8 ? static_cast<size_t>(8 * (L + W + 2 * nx + 1)) : 0);
        float* T8 = box8 ? align32(scratch8.data()) : nullptr;
        float* O8 = box8 ? T8 + 8 * L : nullptr;
        float* pre8 = box8 ? O8 + 8 * W : nullptr;
        float* suf8 = box8 ? pre8 + 8 * nx : nullptr;
        const A* rows8[8];
        A* outs8[8];
        int g8 = 0;
#endif
        A* S_ = Sb.data();
        A* X_ = Xb.data();
        auto fetch = [&](idx g, A* to) {
            idx s = border_index(g, H, border);
            if (s < 0) {
                for (idx i = 0; i < WC; ++i) to[i] = cpx[static_cast<size_t>(i % C)];
            } else {
                load_row<S, A>(in + s * WC, to, W, C, alpha, inv_top, scale, true);
            }
        };
        auto suffix = [&](A* blk) {
            for (idx t = ny - 2; t >= 0; --t) add_rows<A>(blk + t * WC, blk + t * WC, blk + (t + 1) * WC, WC);
        };
        const idx p0 = r0 - ay, p1 = r1 - ay;
        idx B = floordiv(p0, ny);
        for (idx t = 0; t < ny; ++t) fetch(B * ny + t, S_ + t * WC);
        suffix(S_);
        for (idx p = B * ny; p < p1; ++p) {
            idx t = p - B * ny;
            if (t == ny) {
                fetch(B * ny + 2 * ny - 1, X_ + (ny - 1) * WC);
                suffix(X_);
                std::swap(S_, X_);
                ++B;
                t = 0;
            }
            if (t > 0) {
                A* x = X_ + (t - 1) * WC;
                fetch(B * ny + ny + t - 1, x);
                if (t == 1) std::memcpy(P.data(), x, sizeof(A) * static_cast<size_t>(WC));
                else add_rows<A>(P.data(), P.data(), x, WC);
            }
            if (p < p0) continue;
            A* h = hp.data();
#if SIGCONV_BOX8
            if (box8) h = hp8.data() + g8 * L;
#endif
            A* colsum = h + axb * C;
            if (t == 0) std::memcpy(colsum, S_, sizeof(A) * static_cast<size_t>(WC));
            else add_rows<A>(colsum, S_ + t * WC, P.data(), WC);
            fill_columns<A>(h, W, C, axb, axa, border, ccol.data() + t * C);
#if SIGCONV_BOX8
            if constexpr (f32) {
                if (box8) {
                    rows8[g8] = h;
                    outs8[g8] = reinterpret_cast<A*>(out + (p + ay) * WC);
                    if (++g8 == 8) {
                        block_rows8(rows8, outs8, W, L, nx, T8, O8, pre8, suf8);
                        g8 = 0;
                    } else if (p + 1 == p1) {      // the strip's last rows, fewer than eight
                        for (int j = 0; j < g8; ++j)
                            block_row<A>(rows8[j], pre.data(), suf.data(), outs8[j], W, L, C, nx);
                        g8 = 0;
                    }
                    continue;
                }
            }
#endif
            if constexpr (std::is_same_v<A, D>) {
                if (!alpha) {          // float output in the accumulator's type: no copy
                    block_row<A>(hp.data(), pre.data(), suf.data(),
                                 reinterpret_cast<A*>(out + (p + ay) * WC), W, L, C, nx);
                    continue;
                }
            }
            block_row<A>(hp.data(), pre.data(), suf.data(), res.data(), W, L, C, nx);
            if (alpha) unpremultiply_row<A>(res.data(), W, C, top, clear);
            store_row<A, D>(res.data(), out + (p + ay) * WC, WC);
        }
    });
}

// ------------------------------------------------------------------ 3x3 operators

struct Taps3 {
    std::vector<double> w;
    std::vector<int> dy, dx;
};

Taps3 taps3(const py::array_t<double, py::array::c_style | py::array::forcecast>& k) {
    if (k.ndim() != 2 || k.shape(0) != 3 || k.shape(1) != 3)
        throw py::value_error("3x3 taps must have shape (3, 3)");
    Taps3 t;
    for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 3; ++x) {
            double v = k.at(y, x);
            if (v != 0.0) {
                t.w.push_back(v);
                t.dy.push_back(y);
                t.dx.push_back(x);
            }
        }
    return t;
}

template <class A> SIGCONV_CLONES void magnitude_row(A* gx, const A* gy, idx n) {
    for (idx i = 0; i < n; ++i) gx[i] = std::sqrt(gx[i] * gx[i] + gy[i] * gy[i]);
}

template <class A> SIGCONV_CLONES void luma_row(const A* in, A* out, idx npix, idx C, const A* l, idx nc) {
    for (idx p = 0; p < npix; ++p) {
        const A* px = in + p * C;
        A s = px[0] * l[0];
        for (idx c = 1; c < nc; ++c) s += px[c] * l[c];
        out[p] = s;
    }
}

template <class A> SIGCONV_CLONES void pick_colour(const A* in, A* out, idx npix, idx C, idx nc) {
    for (idx p = 0; p < npix; ++p)
        for (idx c = 0; c < nc; ++c) out[p * nc + c] = in[p * C + c];
}

template <class S, class D>
void edges_impl(const Arr& src, const Arr& dst, const Taps3& kx, const Taps3* ky, int border,
                double cval, bool alpha, const std::vector<double>& luma, int threads) {
    using A = typename AccOf<S>::type;
    const idx H = src.n0, W = src.n1, C = src.n2, WC = W * C;
    const idx nc = C - (alpha ? 1 : 0);
    const idx Co = luma.empty() ? nc : 1;      // channels filtered and written
    const S* in = reinterpret_cast<const S*>(src.ptr);
    D* out = reinterpret_cast<D*>(dst.ptr);
    const A inv_top = A(1.0 / top_of<S>());
    std::vector<A> lw(luma.begin(), luma.end());
    std::vector<A> wx(kx.w.begin(), kx.w.end()), wy;
    if (ky) wy.assign(ky->w.begin(), ky->w.end());
    // the constant border's pixel, premultiplied and reduced as every pixel is
    const std::vector<A> cfull = const_pixel<A>(cval, C, alpha, inv_top, A(1), false);
    std::vector<A> cpx(static_cast<size_t>(Co));
    if (luma.empty()) pick_colour<A>(cfull.data(), cpx.data(), 1, C, nc);
    else luma_row<A>(cfull.data(), cpx.data(), 1, C, lw.data(), nc);
    const idx MW = (W + 2) * Co;
    parallel_for(H, threads, [&](idx r0, idx r1) {
        std::vector<A> ring(static_cast<size_t>(3 * MW)), conv(static_cast<size_t>(WC));
        std::vector<A> gx(static_cast<size_t>(W * Co)), gy(ky ? static_cast<size_t>(W * Co) : 0);
        const idx none = std::numeric_limits<idx>::min();
        idx have[3] = {none, none, none};   // which input row (border-mapped index) each slot holds
        auto get = [&](idx g) -> const A* {
            idx s = border_index(g, H, border);
            idx slot = ((g % 3) + 3) % 3;
            A* m = ring.data() + slot * MW;
            if (have[slot] != g) {
                have[slot] = g;
                A* inner = m + Co;
                if (s < 0) {
                    for (idx i = 0; i < W * Co; ++i) inner[i] = cpx[static_cast<size_t>(i % Co)];
                } else {
                    load_row<S, A>(in + s * WC, conv.data(), W, C, alpha, inv_top, A(1), false);
                    if (luma.empty()) {
                        if (Co == C) std::memcpy(inner, conv.data(), sizeof(A) * static_cast<size_t>(WC));
                        else pick_colour<A>(conv.data(), inner, W, C, nc);
                    } else {
                        luma_row<A>(conv.data(), inner, W, C, lw.data(), nc);
                    }
                }
                fill_columns<A>(m, W, Co, 1, 1, border, cpx.data());
            }
            return m + Co;   // pixel 0
        };
        std::vector<const A*> px(9);
        const int seq[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        for (idx r = r0; r < r1; ++r) {
            const A* rowp[3] = {get(r - 1), get(r), get(r + 1)};
            // rows fetched in order r-1, r, r+1: a slot is reused only for g = r+1 (mod 3 of r-2)
            for (size_t t = 0; t < kx.w.size(); ++t)
                px[t] = rowp[kx.dy[t]] + (kx.dx[t] - 1) * Co;
            fir_gen<A>(px.data(), seq, wx.data(), int(wx.size()), gx.data(), W * Co);
            if (ky) {
                for (size_t t = 0; t < ky->w.size(); ++t)
                    px[t] = rowp[ky->dy[t]] + (ky->dx[t] - 1) * Co;
                fir_gen<A>(px.data(), seq, wy.data(), int(wy.size()), gy.data(), W * Co);
                magnitude_row<A>(gx.data(), gy.data(), W * Co);
            }
            store_row<A, D>(gx.data(), out + r * W * Co, W * Co);
        }
    });
}

// ------------------------------------------------------------------ standalone steps

template <class A> SIGCONV_CLONES void scale_abs_row(const A* in, A* out, idx n, A s, bool absolute) {
    if (absolute)
        for (idx i = 0; i < n; ++i) out[i] = std::fabs(in[i]) * s;
    else
        for (idx i = 0; i < n; ++i) out[i] = in[i] * s;
}

template <class A> SIGCONV_CLONES A peak_row(const A* in, idx n) {
    A m = A(0);
    const A big = std::numeric_limits<A>::max();
    for (idx i = 0; i < n; ++i) {
        A v = std::fabs(in[i]);
        v = v <= big ? v : A(0);   // NaN and inf left out
        m = v > m ? v : m;
    }
    return m;
}

std::vector<double> taps_vec(const py::array_t<double, py::array::c_style | py::array::forcecast>& t,
                             const char* name) {
    if (t.ndim() != 1 || t.shape(0) < 1)
        throw py::value_error(std::string(name) + " must be a non-empty 1-D array");
    return std::vector<double>(t.data(), t.data() + t.shape(0));
}


// ------------------------------------------------------------------ FFT tiles (dense kernels)

// buf (C, TH, TW) = the image pixels at rows r0.., columns c0.. (any integers: borders read by
// index, the constant border's pixel where border_index says -1), converted to A, channels
// de-interleaved, colour premultiplied by alpha as load_row does. The tile of a dense 2-D
// filter by overlap-save transforms (sigconv/engine/_tiles.py; its NumPy twin: _load_twin).
template <class S, class A>
void tile_load_impl(const Arr& s, A* buf, idx TH, idx TW, idx r0, idx c0, int border,
                    double cval, bool alpha) {
    const idx H = s.n0, W = s.n1, C = s.n2;
    const A inv_top = A(1.0 / top_of<S>());
    const std::vector<A> cpx(static_cast<size_t>(C), A(cval));   // premultiplied below
    std::vector<idx> cols(static_cast<size_t>(TW));
    for (idx j = 0; j < TW; ++j) cols[j] = border_index(c0 + j, W, border);
    // the run of columns read straight from the row (no border)
    idx j0 = std::clamp<idx>(-c0, 0, TW), j1 = std::clamp<idx>(W - c0, j0, TW);
    const S* base = reinterpret_cast<const S*>(s.ptr);
    const idx plane = TH * TW;
    for (idx i = 0; i < TH; ++i) {
        const idx r = border_index(r0 + i, H, border);
        A* line = buf + i * TW;
        const S* row = base + (r < 0 ? 0 : r) * W * C;
        for (idx c = 0; c < C; ++c) {
            if (r < 0) {
                std::fill(line + c * plane, line + c * plane + TW, cpx[c]);
                continue;
            }
            A* out = line + c * plane;
            for (idx j = 0; j < j0; ++j)
                out[j] = cols[j] < 0 ? cpx[c] : A(row[cols[j] * C + c]);
            const S* in = row + (c0 + j0) * C + c;
            if (C == 1) {
                convert_row<S, A>(in, out + j0, j1 - j0);
            } else {
                for (idx j = j0; j < j1; ++j) out[j] = A(in[(j - j0) * C]);
            }
            for (idx j = j1; j < TW; ++j)
                out[j] = cols[j] < 0 ? cpx[c] : A(row[cols[j] * C + c]);
        }
        if (alpha) {
            const A* a = line + (C - 1) * plane;
            for (idx c = 0; c < C - 1; ++c) {
                A* out = line + c * plane;
                for (idx j = 0; j < TW; ++j) out[j] *= inv_top * a[j];
            }
        }
    }
}

// Interleave C planes of n values into out (pixel-major); C a template argument for 1, 3, 4.
template <class D, int CC> void interleave_c(const D* const* planes, D* out, idx n) {
    for (idx j = 0; j < n; ++j)
        for (int c = 0; c < CC; ++c) out[j * CC + c] = planes[c][j];
}

template <class D> void interleave(const D* const* planes, D* out, idx n, idx C) {
    switch (C) {
    case 1: std::memcpy(out, planes[0], size_t(n) * sizeof(D)); return;
    case 2: interleave_c<D, 2>(planes, out, n); return;
    case 3: interleave_c<D, 3>(planes, out, n); return;
    case 4: interleave_c<D, 4>(planes, out, n); return;
    default:
        for (idx j = 0; j < n; ++j)
            for (idx c = 0; c < C; ++c) out[j * C + c] = planes[c][j];
    }
}

// dst[r0 + i, c0 + j, c] = round_clip(res[c, i0 + i, j0 + j]) for i < nr, j < nc, colour
// divided by the filtered alpha first (top / a where a > clear, else 0) as _run does. Each
// plane's row is rounded into a planar buffer of D (vector loops), then interleaved.
template <class A, class D>
void tile_store_impl(const A* res, idx TH, idx TW, const Arr& d, idx i0, idx j0, idx r0,
                     idx c0, idx nr, idx nc, bool alpha, double top, double clear) {
    const idx W = d.n1, C = d.n2;
    const idx plane = TH * TW;
    std::vector<A> tmp(static_cast<size_t>(alpha ? nc : 0));
    std::vector<A> f(static_cast<size_t>(alpha ? nc : 0));
    std::vector<D> planar(static_cast<size_t>(nc * C));
    std::vector<const D*> planes(static_cast<size_t>(C));
    for (idx c = 0; c < C; ++c) planes[c] = planar.data() + c * nc;
    D* base = reinterpret_cast<D*>(d.ptr);
    for (idx i = 0; i < nr; ++i) {
        const A* line = res + (i0 + i) * TW + j0;
        if (alpha) {
            const A* a = line + (C - 1) * plane;
            for (idx j = 0; j < nc; ++j) f[j] = a[j] > A(clear) ? A(top) / a[j] : A(0);
        }
        for (idx c = 0; c < C; ++c) {
            const A* in = line + c * plane;
            if (alpha && c < C - 1) {
                for (idx j = 0; j < nc; ++j) tmp[j] = in[j] * f[j];
                in = tmp.data();
            }
            store_row<A, D>(in, planar.data() + c * nc, nc);
        }
        interleave<D>(planes.data(), base + ((r0 + i) * W + c0) * C, nc, C);
    }
}

void check_same_image(const Arr& s, const Arr& d, idx channels) {
    if (d.n0 != s.n0 || d.n1 != s.n1 || d.n2 != channels)
        throw py::value_error("dst must have shape (" + std::to_string(s.n0) + ", " +
                              std::to_string(s.n1) + ", " + std::to_string(channels) + ")");
}

void check_dst_dtype(const Arr& s, const Arr& d) {
    if (d.dt != s.dt && d.dt != acc_dt(s.dt))
        throw py::type_error(std::string("dst must be ") + dt_name(s.dt) + " or " +
                             dt_name(acc_dt(s.dt)) + " for a " + dt_name(s.dt) + " image, not " +
                             dt_name(d.dt));
}

void check_common(const Arr& s, bool alpha, int threads, int border) {
    check_border(border);
    if (threads < 1) throw py::value_error("threads must be >= 1");
    if (alpha && s.n2 < 2) throw py::value_error("alpha needs at least 2 channels");
    if (s.n0 < 1 || s.n1 < 1 || s.n2 < 1) throw py::value_error("image is empty");
}

// Two-level dtype dispatch for (image, dst) with dst in {image dtype, acc}.
template <class F> void dispatch2(int sdt, int ddt, F&& f) {
    with_type(sdt, [&](auto s) {
        using S = decltype(s);
        using A = typename AccOf<S>::type;
        if (ddt == sdt) f(s, S{});
        else f(s, A{});
        (void)sizeof(A);
    });
    (void)ddt;
}

}  // namespace

void register_image(py::module_& m) {
    using Taps = py::array_t<double, py::array::c_style | py::array::forcecast>;

    m.def("sep_filter", [](py::array src, py::array dst, Taps taps_y, Taps taps_x, int border,
                           double cval, bool alpha, int threads) {
        Arr s = take(src, "src", false, 3), d = take(dst, "dst", true, 3);
        check_common(s, alpha, threads, border);
        check_same_image(s, d, s.n2);
        check_dst_dtype(s, d);
        auto ty = taps_vec(taps_y, "taps_y"), tx = taps_vec(taps_x, "taps_x");
        py::gil_scoped_release nogil;
        dispatch2(s.dt, d.dt, [&](auto si, auto di) {
            sep_filter_impl<decltype(si), decltype(di)>(s, d, ty, tx, border, cval, alpha, threads);
        });
    }, py::arg("src"), py::arg("dst"), py::arg("taps_y"), py::arg("taps_x"), py::arg("border"),
       py::arg("cval"), py::arg("alpha"), py::arg("threads"),
       "Separable correlation (vertical taps_y, then horizontal taps_x; origin len // 2) of an "
       "(H, W, C) image into dst (image dtype or float accumulator); see native_image_api.md");

    m.def("box_filter", [](py::array src, py::array dst, long size_y, long size_x, int border,
                           double cval, bool alpha, int threads) {
        Arr s = take(src, "src", false, 3), d = take(dst, "dst", true, 3);
        check_common(s, alpha, threads, border);
        check_same_image(s, d, s.n2);
        check_dst_dtype(s, d);
        if (size_y < 1 || size_x < 1) throw py::value_error("box sizes must be >= 1");
        const idx ny = size_y, nx = size_x;
        const bool integer = (s.dt == U8 || s.dt == U16) && !alpha;
        const double maxv = s.dt == U8 ? 255.0 : 65535.0;
        const bool cval_ok = border != CONSTANT ||
                             (std::isfinite(cval) && cval == std::floor(cval) && cval >= 0 && cval <= maxv);
        py::gil_scoped_release nogil;
        if (integer && cval_ok) {
            const double top = maxv * double(ny) * double(nx);
            dispatch2(s.dt, d.dt, [&](auto si, auto di) {
                using S = decltype(si);
                using D = decltype(di);
                if constexpr (is_int<S>()) {
                    if (top < 4294967296.0)
                        box_int<S, uint32_t, D>(s, d, ny, nx, border, S(cval), threads);
                    else
                        box_int<S, uint64_t, D>(s, d, ny, nx, border, S(cval), threads);
                }
            });
        } else {
            dispatch2(s.dt, d.dt, [&](auto si, auto di) {
                box_float<decltype(si), decltype(di)>(s, d, ny, nx, border, cval, alpha, threads);
            });
        }
    }, py::arg("src"), py::arg("dst"), py::arg("size_y"), py::arg("size_x"), py::arg("border"),
       py::arg("cval"), py::arg("alpha"), py::arg("threads"),
       "Mean over size_y x size_x windows (ndimage's origin) of an (H, W, C) image into dst; "
       "exact integer sums for 8/16-bit images without alpha; see native_image_api.md");

    m.def("edges3x3", [](py::array src, py::array dst, Taps kx, std::optional<Taps> ky, int border,
                         double cval, bool alpha, std::optional<Taps> luma, int threads) {
        Arr s = take(src, "src", false, 3), d = take(dst, "dst", true, 3);
        check_common(s, alpha, threads, border);
        Taps3 tx = taps3(kx), ty;
        if (ky) ty = taps3(*ky);
        std::vector<double> lw;
        const idx nc = s.n2 - (alpha ? 1 : 0);
        if (luma) {
            lw = taps_vec(*luma, "luma");
            if (idx(lw.size()) != nc)
                throw py::value_error("luma must have one weight per colour channel (" +
                                      std::to_string(nc) + ")");
        }
        check_same_image(s, d, luma ? 1 : nc);
        check_dst_dtype(s, d);
        py::gil_scoped_release nogil;
        dispatch2(s.dt, d.dt, [&](auto si, auto di) {
            edges_impl<decltype(si), decltype(di)>(s, d, tx, ky ? &ty : nullptr, border, cval,
                                                   alpha, lw, threads);
        });
    }, py::arg("src"), py::arg("dst"), py::arg("kx"), py::arg("ky"), py::arg("border"),
       py::arg("cval"), py::arg("alpha"), py::arg("luma"), py::arg("threads"),
       "3x3 correlation with kx (and ky: the magnitude sqrt(gx^2 + gy^2)) of the colour "
       "channels or their luma, in one pass; see native_image_api.md");


    m.def("tile_load", [](py::array src, py::array buf, long r0, long c0, int border,
                          double cval, bool alpha) {
        Arr s = take(src, "src", false, 3), b = take(buf, "buf", true, 3);
        check_common(s, alpha, 1, border);
        if (b.dt != acc_dt(s.dt))
            throw py::type_error(std::string("buf must be ") + dt_name(acc_dt(s.dt)) + " for a " +
                                 dt_name(s.dt) + " image, not " + dt_name(b.dt));
        if (b.n0 != s.n2) throw py::value_error("buf must have one plane per image channel");
        py::gil_scoped_release nogil;
        with_type(s.dt, [&](auto si) {
            using S = decltype(si);
            using A = typename AccOf<S>::type;
            tile_load_impl<S, A>(s, reinterpret_cast<A*>(b.ptr), b.n1, b.n2, r0, c0, border,
                                 cval, alpha);
        });
    }, py::arg("src"), py::arg("buf"), py::arg("r0"), py::arg("c0"), py::arg("border"),
       py::arg("cval"), py::arg("alpha"),
       "buf (C, TH, TW) = image (H, W, C) rows r0.., columns c0.. (borders by index), converted "
       "to the accumulator dtype, colour premultiplied by alpha");

    m.def("tile_store", [](py::array res, py::array dst, long i0, long j0, long r0, long c0,
                           long nr, long nc, bool alpha, double top, double clear) {
        Arr r = take(res, "res", false, 3), d = take(dst, "dst", true, 3);
        if (r.dt != F32 && r.dt != F64) throw py::type_error("res must be float32 or float64");
        if (r.n0 != d.n2) throw py::value_error("res must have one plane per dst channel");
        if (alpha && d.n2 < 2) throw py::value_error("alpha needs at least 2 channels");
        if (nr < 0 || nc < 0 || i0 < 0 || j0 < 0 || i0 + nr > r.n1 || j0 + nc > r.n2 ||
            r0 < 0 || c0 < 0 || r0 + nr > d.n0 || c0 + nc > d.n1)
            throw py::value_error("tile_store: window out of bounds");
        py::gil_scoped_release nogil;
        with_type(r.dt, [&](auto ai) {
            using A = decltype(ai);
            if constexpr (std::is_floating_point_v<A>) {
                with_type(d.dt, [&](auto di) {
                    tile_store_impl<A, decltype(di)>(reinterpret_cast<const A*>(r.ptr), r.n1, r.n2,
                                                     d, i0, j0, r0, c0, nr, nc, alpha, top, clear);
                });
            }
        });
    }, py::arg("res"), py::arg("dst"), py::arg("i0"), py::arg("j0"), py::arg("r0"),
       py::arg("c0"), py::arg("nr"), py::arg("nc"), py::arg("alpha"), py::arg("top"),
       py::arg("clear"),
       "dst[r0:r0+nr, c0:c0+nc, :] = round_clip(res[:, i0:i0+nr, j0:j0+nc]) interleaved, colour "
       "divided by the filtered alpha first");

    m.def("convert", [](py::array src, py::array dst, double scale, bool absolute, int threads) {
        Arr s = take(src, "src", false, 0), d = take(dst, "dst", true, 0);
        if (s.dt != F32 && s.dt != F64) throw py::type_error("src must be float32 or float64");
        if (s.size != d.size) throw py::value_error("src and dst must have the same size");
        if (threads < 1) throw py::value_error("threads must be >= 1");
        py::gil_scoped_release nogil;
        with_type(s.dt, [&](auto si) {
            using A = decltype(si);
            if constexpr (std::is_floating_point_v<A>) {
                with_type(d.dt, [&](auto di) {
                    using D = decltype(di);
                    const A* in = reinterpret_cast<const A*>(s.ptr);
                    D* out = reinterpret_cast<D*>(d.ptr);
                    constexpr idx CHUNK = 16384;
                    const idx n = s.size, chunks = (n + CHUNK - 1) / CHUNK;
                    parallel_for(chunks, threads, [&](idx c0, idx c1) {
                        std::vector<A> buf(CHUNK);
                        for (idx c = c0; c < c1; ++c) {
                            const idx b = c * CHUNK, e = std::min(n, b + CHUNK);
                            scale_abs_row<A>(in + b, buf.data(), e - b, A(scale), absolute);
                            store_row<A, D>(buf.data(), out + b, e - b);
                        }
                    }, PIECES_PER_THREAD);
                });
            }
        });
    }, py::arg("src"), py::arg("dst"), py::arg("scale"), py::arg("absolute"), py::arg("threads"),
       "dst = round_clip(f(src) * scale), f = abs if absolute; see native_image_api.md");

    m.def("finite_peak", [](py::array src, int threads) {
        Arr s = take(src, "src", false, 0);
        if (s.dt != F32 && s.dt != F64) throw py::type_error("src must be float32 or float64");
        if (threads < 1) throw py::value_error("threads must be >= 1");
        double result = 0.0;
        {
            py::gil_scoped_release nogil;
            with_type(s.dt, [&](auto si) {
                using A = decltype(si);
                if constexpr (std::is_floating_point_v<A>) {
                    const A* in = reinterpret_cast<const A*>(s.ptr);
                    constexpr idx CHUNK = 65536;
                    const idx n = s.size, chunks = (n + CHUNK - 1) / CHUNK;
                    std::vector<A> part(static_cast<size_t>(std::max<idx>(chunks, 1)), A(0));
                    parallel_for(chunks, threads, [&](idx c0, idx c1) {
                        for (idx c = c0; c < c1; ++c) {
                            const idx b = c * CHUNK, e = std::min(n, b + CHUNK);
                            part[static_cast<size_t>(c)] = peak_row<A>(in + b, e - b);
                        }
                    }, PIECES_PER_THREAD);
                    A m = A(0);
                    for (A v : part) m = v > m ? v : m;
                    result = double(m);
                }
            });
        }
        return result;
    }, py::arg("src"), py::arg("threads"), "largest finite |x| of a float array (0.0 if none)");

    m.def("premultiply", [](py::array src, py::array dst, int threads) {
        Arr s = take(src, "src", false, 3), d = take(dst, "dst", true, 3);
        check_common(s, true, threads, 0);
        check_same_image(s, d, s.n2);
        if (d.dt != acc_dt(s.dt))
            throw py::type_error(std::string("dst must be ") + dt_name(acc_dt(s.dt)));
        py::gil_scoped_release nogil;
        with_type(s.dt, [&](auto si) {
            using S = decltype(si);
            using A = typename AccOf<S>::type;
            const idx W = s.n1, C = s.n2, WC = W * C;
            const S* in = reinterpret_cast<const S*>(s.ptr);
            A* out = reinterpret_cast<A*>(d.ptr);
            parallel_for(s.n0, threads, [&](idx r0, idx r1) {
                for (idx r = r0; r < r1; ++r)
                    load_row<S, A>(in + r * WC, out + r * WC, W, C, true, A(1.0 / top_of<S>()), A(1), false);
            });
        });
    }, py::arg("src"), py::arg("dst"), py::arg("threads"),
       "colour channels times alpha / top into a float dst (alpha copied)");

    m.def("unpremultiply", [](py::array src, py::array dst, double top, double clear, int threads) {
        Arr s = take(src, "src", false, 3), d = take(dst, "dst", true, 3);
        check_common(s, true, threads, 0);
        check_same_image(s, d, s.n2);
        if (s.dt != F32 && s.dt != F64) throw py::type_error("src must be float32 or float64");
        py::gil_scoped_release nogil;
        with_type(s.dt, [&](auto si) {
            using A = decltype(si);
            if constexpr (std::is_floating_point_v<A>) {
                with_type(d.dt, [&](auto di) {
                    using D = decltype(di);
                    const idx W = s.n1, C = s.n2, WC = W * C;
                    const A* in = reinterpret_cast<const A*>(s.ptr);
                    D* out = reinterpret_cast<D*>(d.ptr);
                    parallel_for(s.n0, threads, [&](idx r0, idx r1) {
                        std::vector<A> row(static_cast<size_t>(WC));
                        for (idx r = r0; r < r1; ++r) {
                            std::memcpy(row.data(), in + r * WC, sizeof(A) * static_cast<size_t>(WC));
                            unpremultiply_row<A>(row.data(), W, C, A(top), A(clear));
                            store_row<A, D>(row.data(), out + r * WC, WC);
                        }
                    });
                });
            }
        });
    }, py::arg("src"), py::arg("dst"), py::arg("top"), py::arg("clear"), py::arg("threads"),
       "colour channels times top / alpha where alpha > clear (else 0), rounded into dst");
}

}  // namespace sigconv
