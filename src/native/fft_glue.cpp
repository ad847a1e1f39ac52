// FFT glue of the compiled core: the passes between and around the transforms of an FFT
// convolution, each one pass over memory: the spectral product with the 1/N scale folded
// in, padding an operand into a plan's buffer (copy, cast and zero tail together), and
// overlap-add's block fill and head/tail accumulation (with the crop of the kept window).
// The Python wrappers in sigconv/engine/_fft.py validate, convert and plan; each function
// here does one job on C-contiguous arrays of known dtypes, with the GIL released, and
// gives the same result for any thread count (every element is computed the same way by
// exactly one piece of work).
#include <atomic>
#include <cstdlib>
#include <new>
#include <complex>
#include <cstring>
#include <stdexcept>
#include <mutex>
#if !defined(_WIN32)
#include <pthread.h>
#endif
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"

namespace sigconv {

namespace {

using c64 = std::complex<float>;
using c128 = std::complex<double>;

void require(bool ok, const char* fn, const std::string& what) {
    if (!ok) throw py::value_error(std::string(fn) + ": " + what);
}

bool c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// Byte order of this machine's numbers ('=' and '|' always are).
bool native_order(const py::dtype& d) {
    const char b = d.byteorder();
    const uint16_t probe = 1;
    const bool little = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    return b == '=' || b == '|' || b == (little ? '<' : '>');
}

// dtype d is T in this machine's byte order (dtype objects are compared by type number:
// equal dtypes need not be the same object)
template <class T>
bool is_type(const py::dtype& d) {
    return d.num() == py::dtype::of<T>().num() && native_order(d);
}

// ---- spectral product --------------------------------------------------------------------

// out[r, f] = x[r, f] * h[r % M, f] * scale on the flat range [b, e) of the elements,
// complex numbers as interleaved (re, im) pairs. An element's arithmetic is
// (ar br - ai bi, ar bi + ai br), then each part times the real scale: no FMA.
template <class T>
SIGCONV_CLONES void cmul_range(T* out, const T* x, const T* h, std::ptrdiff_t F,
                               std::ptrdiff_t M, std::ptrdiff_t b, std::ptrdiff_t e, T scale,
                               bool scaled) {
    std::ptrdiff_t r = b / F, f = b % F;
    while (b < e) {
        std::ptrdiff_t stop = std::min<std::ptrdiff_t>(e - b, F - f);
        T* o = out + 2 * (r * F + f);
        const T* xr = x + 2 * (r * F + f);
        const T* hr = h + 2 * ((r % M) * F + f);
        if (scaled) {
            for (std::ptrdiff_t i = 0; i < stop; ++i) {
                T ar = xr[2 * i], ai = xr[2 * i + 1], br = hr[2 * i], bi = hr[2 * i + 1];
                T re = ar * br - ai * bi;
                T im = ar * bi + ai * br;
                o[2 * i] = re * scale;
                o[2 * i + 1] = im * scale;
            }
        } else {
            for (std::ptrdiff_t i = 0; i < stop; ++i) {
                T ar = xr[2 * i], ai = xr[2 * i + 1], br = hr[2 * i], bi = hr[2 * i + 1];
                o[2 * i] = ar * br - ai * bi;
                o[2 * i + 1] = ar * bi + ai * br;
            }
        }
        b += stop;
        f = 0;
        ++r;
    }
}

void cmul_impl(const char* fn, py::array out, py::array x, py::array h, double scale,
               int threads) {
    require(x.ndim() >= 1 && h.ndim() >= 1 && out.ndim() >= 1, fn,
            "arrays need at least one dimension");
    require(out.writeable(), fn, "the output must be writeable");
    require(c_contiguous(x) && c_contiguous(h) && c_contiguous(out), fn,
            "arrays must be C-contiguous");
    const bool single = is_type<c64>(x.dtype());
    const bool dbl = is_type<c128>(x.dtype());
    require(single || dbl, fn, "x must be complex64 or complex128");
    require(single ? is_type<c64>(h.dtype()) && is_type<c64>(out.dtype())
                   : is_type<c128>(h.dtype()) && is_type<c128>(out.dtype()),
            fn, "h and out must have x's dtype");
    require(out.size() == x.size(), fn, "out must have x's size");
    const std::ptrdiff_t F = x.shape(x.ndim() - 1);
    require(h.shape(h.ndim() - 1) == F, fn, "x and h must have the same last dimension");
    if (F == 0 || x.size() == 0) return;
    const std::ptrdiff_t R = x.size() / F, M = h.size() / F;
    require(M >= 1 && R % M == 0, fn, "the rows of x must be a multiple of the rows of h");
    const std::ptrdiff_t n = R * F;
    const bool scaled = scale != 1.0;
    void* op = out.mutable_data();
    const void* xp = x.data();
    const void* hp = h.data();
    py::gil_scoped_release nogil;
    // pieces of whole cache lines (32 elements), so no two threads write one line
    const std::ptrdiff_t chunks = (n + 31) / 32;
    parallel_for(chunks, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
        std::ptrdiff_t lo = b * 32, hi = std::min(n, e * 32);
        if (single)
            cmul_range<float>(static_cast<float*>(op), static_cast<const float*>(xp),
                              static_cast<const float*>(hp), F, M, lo, hi,
                              static_cast<float>(scale), scaled);
        else
            cmul_range<double>(static_cast<double*>(op), static_cast<const double*>(xp),
                               static_cast<const double*>(hp), F, M, lo, hi, scale, scaled);
    }, PIECES_PER_THREAD);
}

// ---- typed copies ---------------------------------------------------------------------------

template <class D, class S>
inline D convert(S v) {
    return static_cast<D>(v);
}
template <>
inline c64 convert<c64, c128>(c128 v) {
    return c64(static_cast<float>(v.real()), static_cast<float>(v.imag()));
}
template <>
inline c128 convert<c128, c64>(c64 v) {
    return c128(v.real(), v.imag());
}

// A plain copy loop that the compiler must not turn back into a memcpy call. glibc's
// memcpy copies long runs with `rep movsb`, which runs 3-4x slower when the destination
// is a few bytes past the source modulo 4096 (4K aliasing): NumPy's large arrays start
// 16 bytes into a page and FFTW's aligned plan buffers 32, so a (512, 16384) float32 pad
// into a plan buffer took 12 ms instead of 3 (measured 2026-12-05, glibc 2.36).
#if defined(__clang__)
#define SIGCONV_NO_MEMCPY_IDIOM __attribute__((no_builtin("memcpy")))
#elif defined(__GNUC__)
#define SIGCONV_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define SIGCONV_NO_MEMCPY_IDIOM
#endif

template <class T>
SIGCONV_CLONES SIGCONV_NO_MEMCPY_IDIOM void copy_plain(T* __restrict dst,
                                                       const T* __restrict src,
                                                       std::ptrdiff_t n) {
    for (std::ptrdiff_t i = 0; i < n; ++i) dst[i] = src[i];
}

// dst[0:n] = src[0:n] converted
template <class D, class S>
SIGCONV_CLONES void copy_cast(D* dst, const S* src, std::ptrdiff_t n) {
    if constexpr (std::is_same_v<D, S>) {
        copy_plain(dst, src, n);
    } else {
        for (std::ptrdiff_t i = 0; i < n; ++i) dst[i] = convert<D, S>(src[i]);
    }
}

// The real numbers of a value (a complex one's two parts), for the finiteness checks.
template <class S> struct RealOf { using type = S; static constexpr int parts = 1; };
template <> struct RealOf<c64> { using type = float; static constexpr int parts = 2; };
template <> struct RealOf<c128> { using type = double; static constexpr int parts = 2; };

// Whether src[0:n] holds no NaN or inf, in one pass: v - v is 0 for every finite v and NaN
// for inf and NaN, and a sum of zeros stays 0 while one NaN makes it NaN. Sixteen sums side
// by side (the compiler keeps them in vector registers). Integers are always finite.
template <class S>
SIGCONV_CLONES bool finite_run(const S* src, std::ptrdiff_t n) {
    if constexpr (std::is_integral_v<S>) {
        (void)src;
        (void)n;
        return true;
    } else {
        using R = typename RealOf<S>::type;
        const R* r = reinterpret_cast<const R*>(src);
        const std::ptrdiff_t m = n * RealOf<S>::parts;
        R acc[16] = {};
        std::ptrdiff_t i = 0;
        for (; i + 16 <= m; i += 16)
            for (int j = 0; j < 16; ++j) acc[j] += r[i + j] - r[i + j];
        R total = 0;
        for (; i < m; ++i) total += r[i] - r[i];
        for (int j = 0; j < 16; ++j) total += acc[j];
        return total == R(0);
    }
}

// copy_cast, and whether the source values were all finite (finite_run of src).
// In blocks of 4096 values, so the check reads what the copy has just brought into cache.
template <class D, class S>
bool copy_cast_checked(D* dst, const S* src, std::ptrdiff_t n) {
    if constexpr (std::is_integral_v<S>) {
        copy_cast(dst, src, n);
        return true;
    } else {
        bool ok = true;
        for (std::ptrdiff_t i = 0; i < n; i += 4096) {
            const std::ptrdiff_t k = std::min<std::ptrdiff_t>(4096, n - i);
            copy_cast(dst + i, src + i, k);
            ok = finite_run(src + i, k) && ok;
        }
        return ok;
    }
}

template <class D>
inline void zero(D* dst, std::ptrdiff_t n) {
    if (n > 0) std::memset(static_cast<void*>(dst), 0, sizeof(D) * static_cast<size_t>(n));
}

// Call fn.template operator()<D, S>() for the dtypes of dst and src; false if unsupported.
// Destinations: float32, float64, complex64, complex128. Sources: bool, integers, those
// four; a complex source only into a complex destination.
template <class Fn>
bool dispatch(const py::dtype& dd, const py::dtype& sd, Fn&& fn) {
    if (!native_order(dd) || !native_order(sd)) return false;
    auto with_src = [&](auto dtag) -> bool {
        using D = decltype(dtag);
        constexpr bool cplx = std::is_same_v<D, c64> || std::is_same_v<D, c128>;
        const char k = sd.kind();
        const auto sz = sd.itemsize();
        if (k == 'b' || (k == 'u' && sz == 1)) { fn(D{}, uint8_t{}); return true; }
        if (k == 'u' && sz == 2) { fn(D{}, uint16_t{}); return true; }
        if (k == 'u' && sz == 4) { fn(D{}, uint32_t{}); return true; }
        if (k == 'u' && sz == 8) { fn(D{}, uint64_t{}); return true; }
        if (k == 'i' && sz == 1) { fn(D{}, int8_t{}); return true; }
        if (k == 'i' && sz == 2) { fn(D{}, int16_t{}); return true; }
        if (k == 'i' && sz == 4) { fn(D{}, int32_t{}); return true; }
        if (k == 'i' && sz == 8) { fn(D{}, int64_t{}); return true; }
        if (k == 'f' && sz == 4) { fn(D{}, float{}); return true; }
        if (k == 'f' && sz == 8) { fn(D{}, double{}); return true; }
        if constexpr (cplx) {
            if (k == 'c' && sz == 8) { fn(D{}, c64{}); return true; }
            if (k == 'c' && sz == 16) { fn(D{}, c128{}); return true; }
        }
        return false;
    };
    if (dd.kind() == 'f' && dd.itemsize() == 4) return with_src(float{});
    if (dd.kind() == 'f' && dd.itemsize() == 8) return with_src(double{});
    if (dd.kind() == 'c' && dd.itemsize() == 8) return with_src(c64{});
    if (dd.kind() == 'c' && dd.itemsize() == 16) return with_src(c128{});
    return false;
}

std::vector<std::ptrdiff_t> shape_of(const py::array& a) {
    return std::vector<std::ptrdiff_t>(a.shape(), a.shape() + a.ndim());
}

// ---- padding into a plan's buffer -----------------------------------------------------------

// dst (any shape) = src (same ndim, no dimension larger) in the leading corner, converted,
// zeros elsewhere. One pass over dst; pieces are rows of dst (or parts of a long row).
void pad_fill(py::array dst, py::array src, int threads) {
    const char* fn = "pad_fill";
    require(dst.writeable(), fn, "dst must be writeable");
    require(c_contiguous(dst) && c_contiguous(src), fn, "arrays must be C-contiguous");
    require(dst.ndim() == src.ndim() && dst.ndim() >= 1, fn, "dst and src need one ndim >= 1");
    auto ds = shape_of(dst), ss = shape_of(src);
    for (size_t i = 0; i < ds.size(); ++i) require(ss[i] <= ds[i], fn, "src larger than dst");
    if (dst.size() == 0) return;
    const std::ptrdiff_t W = ds.back(), Ws = ss.back();
    const std::ptrdiff_t rows = dst.size() / W;
    const std::ptrdiff_t piece = 1 << 14;                 // elements of a long row per piece
    const std::ptrdiff_t per_row = (W + piece - 1) / piece;
    void* dp = dst.mutable_data();
    const void* sp = src.data();
    const bool ok = dispatch(dst.dtype(), src.dtype(), [&](auto dtag, auto stag) {
        using D = decltype(dtag);
        using S = decltype(stag);
        D* d = static_cast<D*>(dp);
        const S* s = static_cast<const S*>(sp);
        py::gil_scoped_release nogil;
        parallel_for(rows * per_row, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
            for (std::ptrdiff_t w = b; w < e; ++w) {
                const std::ptrdiff_t r = w / per_row, c0 = (w % per_row) * piece;
                const std::ptrdiff_t c1 = std::min(W, c0 + piece);
                // the row's index in src, if every leading index is inside src
                std::ptrdiff_t rem = r, srow = 0, mult = 1;
                bool inside = true;
                for (std::ptrdiff_t a = static_cast<std::ptrdiff_t>(ds.size()) - 2; a >= 0; --a) {
                    const std::ptrdiff_t i = rem % ds[a];
                    rem /= ds[a];
                    if (i >= ss[a]) { inside = false; break; }
                    srow += i * mult;
                    mult *= ss[a];
                }
                D* drow = d + r * W;
                if (!inside) {
                    zero(drow + c0, c1 - c0);
                    continue;
                }
                const std::ptrdiff_t k1 = std::min(c1, Ws);
                if (k1 > c0) copy_cast(drow + c0, s + srow * Ws + c0, k1 - c0);
                const std::ptrdiff_t z0 = std::max(c0, Ws);
                if (c1 > z0) zero(drow + z0, c1 - z0);
            }
        }, PIECES_PER_THREAD);
    });
    if (!ok)   // (the message only when needed: str() of a dtype calls into Python)
        require(false, fn, "unsupported dtypes " + std::string(py::str(dst.dtype())) +
                               " <- " + std::string(py::str(src.dtype())));
}

// ---- overlap-add ----------------------------------------------------------------------------

// Fill a chunk of blocks: dst (G, C, L, W) gets, in block c of group g, the rows
// [(k0 + c) B, (k0 + c) B + B) of src (G, n, Ws), Ws <= W, converted, zeros elsewhere
// (rows past n, rows B..L, columns Ws..W). Returns whether the values copied were all
// finite (checked as they are copied, so the engine needs no separate pass over src to
// keep a NaN or inf from spreading over whole blocks).
bool oa_fill(py::array dst, py::array src, std::ptrdiff_t k0, std::ptrdiff_t B, int threads) {
    const char* fn = "oa_fill";
    require(dst.writeable(), fn, "dst must be writeable");
    require(c_contiguous(dst) && c_contiguous(src), fn, "arrays must be C-contiguous");
    require(dst.ndim() == 4 && src.ndim() == 3, fn, "dst must be (G, C, L, W), src (G, n, W')");
    const std::ptrdiff_t G = dst.shape(0), C = dst.shape(1), L = dst.shape(2), W = dst.shape(3);
    const std::ptrdiff_t n = src.shape(1), Ws = src.shape(2);
    require(src.shape(0) == G && Ws <= W && B >= 1 && B <= L && k0 >= 0, fn,
            "shapes do not match");
    if (dst.size() == 0) return true;
    void* dp = dst.mutable_data();
    const void* sp = src.data();
    std::atomic<bool> finite{true};
    const bool ok = dispatch(dst.dtype(), src.dtype(), [&](auto dtag, auto stag) {
        using D = decltype(dtag);
        using S = decltype(stag);
        D* d = static_cast<D*>(dp);
        const S* s = static_cast<const S*>(sp);
        py::gil_scoped_release nogil;
        parallel_for(G * C, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
            bool fin = true;
            for (std::ptrdiff_t w = b; w < e; ++w) {
                const std::ptrdiff_t g = w / C, c = w % C;
                D* blk = d + w * L * W;
                const std::ptrdiff_t first = (k0 + c) * B;
                const std::ptrdiff_t rows = std::max<std::ptrdiff_t>(
                    0, std::min(B, n - first));
                const S* srcb = s + (g * n + std::min(first, n)) * Ws;
                if (Ws == W) {
                    fin = copy_cast_checked(blk, srcb, rows * W) && fin;
                } else {
                    for (std::ptrdiff_t l = 0; l < rows; ++l) {
                        fin = copy_cast_checked(blk + l * W, srcb + l * Ws, Ws) && fin;
                        zero(blk + l * W + Ws, W - Ws);
                    }
                }
                zero(blk + rows * W, (L - rows) * W);
            }
            if (!fin) finite.store(false, std::memory_order_relaxed);
        }, PIECES_PER_THREAD);
    });
    if (!ok)   // (the message only when needed: str() of a dtype calls into Python)
        require(false, fn, "unsupported dtypes " + std::string(py::str(dst.dtype())) +
                               " <- " + std::string(py::str(src.dtype())));
    return finite.load();
}

// Whether a C-contiguous float32/float64/complex64/complex128 array holds no NaN or inf:
// one pass (finite_run) in pieces on up to `threads` threads, with no BLAS call (NumPy's
// vdot, the NumPy twin's check, wakes OpenBLAS's threads, which then spin on a core for
// about 0.1 s: a 1e7 x 301 overlap-add on two threads took 50 ms after it against 29 ms).
bool all_finite(py::array a, int threads) {
    const char* fn = "all_finite";
    require(c_contiguous(a), fn, "array must be C-contiguous");
    const py::dtype dt = a.dtype();
    const bool single = is_type<float>(dt) || is_type<c64>(dt);
    require(single || is_type<double>(dt) || is_type<c128>(dt), fn,
            "dtype must be float32, float64, complex64 or complex128");
    // as real numbers: a complex array is twice as many of its parts
    const std::ptrdiff_t n = a.size() * (dt.kind() == 'c' ? 2 : 1);
    const void* p = a.data();
    std::atomic<bool> finite{true};
    py::gil_scoped_release nogil;
    const std::ptrdiff_t piece = 1 << 15;
    parallel_for((n + piece - 1) / piece, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
        const std::ptrdiff_t lo = b * piece, hi = std::min(n, e * piece);
        const bool fin = single ? finite_run(static_cast<const float*>(p) + lo, hi - lo)
                                : finite_run(static_cast<const double*>(p) + lo, hi - lo);
        if (!fin) finite.store(false, std::memory_order_relaxed);
    }, PIECES_PER_THREAD);
    return finite.load();
}

// Add a chunk of inverse-transformed blocks into the output. Y (G, C, L, W): block c of
// group g is output samples (k0 + c) B .. (k0 + c) B + L of the full convolution along the
// cut axis. Output sample q = k B + j (0 <= j < B) is Y[k][j] plus, for j < T = L - B, the
// tail Y[k - 1][B + j] of the block before (from `carry` (G, T, W) for the chunk's first
// block, unless k0 == 0 or carry_in is false). Samples q in [s, e) are written to out
// (G, e - s, Wo) from columns w0 .. w0 + Wo of Y. With `last`, the final tail (samples
// nb B ...) is written too; otherwise carry receives this chunk's last tail. Each output
// element is written by one piece of work, as the sum (Y + tail) in that order.
template <class T, class O>
SIGCONV_CLONES void oa_add_block(O* out, const T* Y, const T* prev, std::ptrdiff_t q0,
                                 std::ptrdiff_t rows, std::ptrdiff_t tail, std::ptrdiff_t s,
                                 std::ptrdiff_t e, std::ptrdiff_t W, std::ptrdiff_t w0,
                                 std::ptrdiff_t Wo) {
    // rows of Y starting at output sample q0; the first `tail` rows add prev's rows (if any)
    const std::ptrdiff_t j0 = std::max<std::ptrdiff_t>(0, s - q0);
    const std::ptrdiff_t j1 = std::min<std::ptrdiff_t>(rows, e - q0);
    if (j1 <= j0) return;
    const std::ptrdiff_t jt = prev != nullptr ? std::max(j0, std::min(j1, tail)) : j0;
    if (Wo == W) {
        // whole rows: two flat, contiguous runs (head + tail, then head alone)
        O* o = out + (q0 + j0 - s) * W;
        const T* y = Y + j0 * W;
        const std::ptrdiff_t na = (jt - j0) * W, nb = (j1 - jt) * W;
        if (na > 0) {
            const T* t = prev + j0 * W;
            for (std::ptrdiff_t i = 0; i < na; ++i) o[i] = static_cast<O>(y[i] + t[i]);
        }
        o += na;
        y += na;
        for (std::ptrdiff_t i = 0; i < nb; ++i) o[i] = static_cast<O>(y[i]);
        return;
    }
    for (std::ptrdiff_t j = j0; j < j1; ++j) {
        O* o = out + (q0 + j - s) * Wo;
        const T* y = Y + j * W + w0;
        if (j < jt) {
            const T* t = prev + j * W + w0;
            for (std::ptrdiff_t i = 0; i < Wo; ++i) o[i] = static_cast<O>(y[i] + t[i]);
        } else {
            for (std::ptrdiff_t i = 0; i < Wo; ++i) o[i] = static_cast<O>(y[i]);
        }
    }
}

template <class T, class O>
void oa_add_typed(O* out, const T* Y, T* carry, std::ptrdiff_t G, std::ptrdiff_t C,
                  std::ptrdiff_t used, std::ptrdiff_t L, std::ptrdiff_t W, std::ptrdiff_t k0,
                  std::ptrdiff_t B, std::ptrdiff_t s, std::ptrdiff_t e, std::ptrdiff_t w0,
                  std::ptrdiff_t Wo, bool last, bool carry_in, int threads) {
    const std::ptrdiff_t tail = L - B, E = e - s;
    parallel_for(G * used, threads, [&](std::ptrdiff_t b, std::ptrdiff_t en) {
        for (std::ptrdiff_t w = b; w < en; ++w) {
            const std::ptrdiff_t g = w / used, c = w % used;
            const T* blk = Y + (g * C + c) * L * W;
            const T* prev = c > 0 ? Y + (g * C + c - 1) * L * W + B * W
                                  : (k0 > 0 && carry_in ? carry + g * tail * W : nullptr);
            oa_add_block(out + g * E * Wo, blk, prev, (k0 + c) * B, B, tail, s, e, W, w0, Wo);
        }
    }, PIECES_PER_THREAD);
    if (tail == 0) return;
    for (std::ptrdiff_t g = 0; g < G; ++g) {
        const T* lastb = Y + (g * C + used - 1) * L * W + B * W;
        if (last)
            oa_add_block<T, O>(out + g * E * Wo, lastb, nullptr, (k0 + used) * B, tail, 0, s,
                               e, W, w0, Wo);
        else
            std::memcpy(static_cast<void*>(carry + g * tail * W), lastb,
                        sizeof(T) * static_cast<size_t>(tail * W));
    }
}

void oa_add(py::array out, py::array Y, py::array carry, std::ptrdiff_t used,
            std::ptrdiff_t k0, std::ptrdiff_t B, std::ptrdiff_t s, std::ptrdiff_t w0,
            bool last, int threads, bool carry_in) {
    const char* fn = "oa_add";
    require(out.writeable() && carry.writeable(), fn, "out and carry must be writeable");
    require(c_contiguous(out) && c_contiguous(Y) && c_contiguous(carry), fn,
            "arrays must be C-contiguous");
    require(Y.ndim() == 4 && out.ndim() == 3 && carry.ndim() == 3, fn,
            "Y must be (G, C, L, W), out (G, E, Wo), carry (G, L - B, W)");
    const std::ptrdiff_t G = Y.shape(0), C = Y.shape(1), L = Y.shape(2), W = Y.shape(3);
    const std::ptrdiff_t E = out.shape(1), Wo = out.shape(2);
    require(out.shape(0) == G && carry.shape(0) == G && B >= 1 && B <= L &&
                carry.shape(1) == L - B && carry.shape(2) == W && used >= 1 && used <= C &&
                k0 >= 0 && s >= 0 && w0 >= 0 && w0 + Wo <= W && L - B <= B,
            fn, "shapes do not match");
    require(carry.dtype().num() == Y.dtype().num(), fn, "carry must have Y's dtype");
    const std::ptrdiff_t e = s + E;
    const py::dtype yd = Y.dtype(), od = out.dtype();
    void* op = out.mutable_data();
    const void* yp = Y.data();
    void* cp = carry.mutable_data();
    auto run = [&](auto ytag, auto otag) {
        using T = decltype(ytag);
        using O = decltype(otag);
        py::gil_scoped_release nogil;
        oa_add_typed<T, O>(static_cast<O*>(op), static_cast<const T*>(yp), static_cast<T*>(cp),
                           G, C, used, L, W, k0, B, s, e, w0, Wo, last, carry_in, threads);
    };
    auto is = [](const py::dtype& d, char k, int sz) {
        return d.kind() == k && d.itemsize() == sz && native_order(d);
    };
    if (is(yd, 'f', 8) && is(od, 'f', 8)) run(double{}, double{});
    else if (is(yd, 'f', 8) && is(od, 'f', 4)) run(double{}, float{});
    else if (is(yd, 'f', 4) && is(od, 'f', 4)) run(float{}, float{});
    else if (is(yd, 'c', 16) && is(od, 'c', 16)) run(c128{}, c128{});
    else if (is(yd, 'c', 16) && is(od, 'c', 8)) run(c128{}, c64{});
    else if (is(yd, 'c', 8) && is(od, 'c', 8)) run(c64{}, c64{});
    else
        require(false, fn, "unsupported dtypes " + std::string(py::str(od)) + " <- " +
                               std::string(py::str(yd)));
}


// ---- overlap-add with FFTW called from here, one block at a time ----------------------------
// The whole overlap-add of the lines x (G, n, Ws) with one kernel spectrum (or one per line,
// per_line) in a single call, block by block on one block's buffers (L x W reals and the
// spectrum, which stay in the L1/L2 caches): fill (copy, cast, zero tail), FFTW's forward
// transform, the spectral product with the scale, FFTW's inverse, and the head/tail addition
// into the kept window of out (G, E, Wo), without the GIL and without returning to Python.
// The two plans (one block: L points, W interleaved lines, stride W) and FFTW's new-array
// execute functions come in as addresses from sigconv.backends._pyfftw, which makes them in
// the FFTW library pyFFTW loaded (FFTW's new-array execute is safe to call from several threads
// on one plan, with buffers aligned as the plan's were: 64 bytes here and there).
//
// The blocks are split into one contiguous piece per thread. A piece's first block assigns its
// head; the tail of the block before it (another piece's last) is added after the join. With
// the output in the transforms' dtype (the caller's condition for more than one thread) each
// such sample is then the same single addition as in the one-thread order, so the result does
// not depend on the thread count.

template <class T>
struct AlignedBuf {
    T* p = nullptr;
    explicit AlignedBuf(std::ptrdiff_t n) {
        const size_t bytes = (sizeof(T) * static_cast<size_t>(std::max<std::ptrdiff_t>(n, 1)) +
                              63) / 64 * 64;
        p = static_cast<T*>(std::aligned_alloc(64, bytes));
        if (p == nullptr) throw std::bad_alloc();
    }
    ~AlignedBuf() { std::free(p); }
    AlignedBuf(const AlignedBuf&) = delete;
    AlignedBuf& operator=(const AlignedBuf&) = delete;
};

struct FFTWBlockPlans {
    void* forward;         // fftw(f)_plan of the r2c transform of one block
    void* inverse;         // and of its c2r inverse
    void* exec_forward;    // fftw(f)_execute_dft_r2c
    void* exec_inverse;    // fftw(f)_execute_dft_c2r
};

// The four addresses of a (forward, inverse, execute_r2c, execute_c2r) tuple, none null.
FFTWBlockPlans block_plans_of(const char* fn, const py::tuple& plans) {
    require(plans.size() == 4, fn, "plans must be (forward, inverse, execute_r2c, execute_c2r)");
    FFTWBlockPlans fp{};
    void** slots[4] = {&fp.forward, &fp.inverse, &fp.exec_forward, &fp.exec_inverse};
    for (size_t i = 0; i < 4; ++i) {
        *slots[i] = reinterpret_cast<void*>(plans[i].cast<std::uintptr_t>());
        require(*slots[i] != nullptr, fn, "a plan or function address is null");
    }
    return fp;
}

// Pieces per thread of oa_fftw: a few, so that a thread the VM descheduled leaves only a small
// share to wait for; each piece boundary costs one tail added after the join.
constexpr int OA_PIECES_PER_THREAD = 4;

template <class T, class O, class S>
bool oa_fftw_typed(O* out, const S* x, const T* H, const FFTWBlockPlans& fp, std::ptrdiff_t G,
                   std::ptrdiff_t n, std::ptrdiff_t Ws, std::ptrdiff_t W, std::ptrdiff_t L,
                   std::ptrdiff_t B, std::ptrdiff_t s, std::ptrdiff_t e, std::ptrdiff_t w0,
                   std::ptrdiff_t Wo, bool per_line, T scale, int threads, bool check_finite) {
    using Exec = void (*)(void*, T*, T*);    // (plan, in, out); complex as interleaved pairs
    const Exec forward = reinterpret_cast<Exec>(fp.exec_forward);
    const Exec inverse = reinterpret_cast<Exec>(fp.exec_inverse);
    const std::ptrdiff_t nb = (n + B - 1) / B, tail = L - B, F = L / 2 + 1, E = e - s;
    const std::ptrdiff_t units = G * nb;
    std::atomic<bool> bad{false};
    std::mutex carry_lock;
    std::vector<std::pair<std::ptrdiff_t, std::vector<T>>> carries;   // (unit, its tail)
    parallel_for(units, threads, [&](std::ptrdiff_t u0, std::ptrdiff_t u1) {
        AlignedBuf<T> in(L * W), spec(2 * F * W), prev(tail * W);
        for (std::ptrdiff_t u = u0; u < u1; ++u) {
            if (bad.load(std::memory_order_relaxed)) return;
            const std::ptrdiff_t g = u / nb, k = u % nb;
            const std::ptrdiff_t first = k * B;
            const std::ptrdiff_t rows = std::max<std::ptrdiff_t>(0, std::min(B, n - first));
            const S* src = x + (g * n + std::min(first, n)) * Ws;
            bool fin = true;
            if (Ws == W) {
                if (check_finite) fin = copy_cast_checked(in.p, src, rows * W);
                else copy_cast(in.p, src, rows * W);
            } else {
                for (std::ptrdiff_t l = 0; l < rows; ++l) {
                    if (check_finite)
                        fin = copy_cast_checked(in.p + l * W, src + l * Ws, Ws) && fin;
                    else
                        copy_cast(in.p + l * W, src + l * Ws, Ws);
                    zero(in.p + l * W + Ws, W - Ws);
                }
            }
            if (!fin) {
                bad.store(true, std::memory_order_relaxed);
                return;
            }
            zero(in.p + rows * W, (L - rows) * W);
            forward(fp.forward, in.p, spec.p);
            cmul_range<T>(spec.p, spec.p, H + (per_line ? g : 0) * 2 * F * W, F * W, 1, 0,
                          F * W, scale, scale != T(1));
            inverse(fp.inverse, spec.p, in.p);
            // the head takes the previous block's tail, unless that block is another
            // piece's last: then the head is assigned and that tail added after the join
            O* og = out + g * E * Wo;
            const bool take = k > 0 && u > u0 && tail > 0;
            oa_add_block<T, O>(og, in.p, take ? prev.p : nullptr, first, B, tail, s, e, W, w0,
                               Wo);
            if (tail == 0) continue;
            const T* t = in.p + B * W;
            if (k == nb - 1) {
                oa_add_block<T, O>(og, t, nullptr, first + B, tail, 0, s, e, W, w0, Wo);
            } else if (u == u1 - 1) {
                std::lock_guard<std::mutex> hold(carry_lock);
                carries.emplace_back(u, std::vector<T>(t, t + tail * W));
            } else {
                std::memcpy(static_cast<void*>(prev.p), t, sizeof(T) * static_cast<size_t>(tail * W));
            }
        }
    }, OA_PIECES_PER_THREAD);
    if (bad.load()) return false;
    // the tails of pieces' last blocks, onto the next block's head (a + b == b + a: the same
    // bits as the one-thread order, where the head takes the tail in oa_add_block)
    for (const auto& [u, t] : carries) {
        const std::ptrdiff_t g = u / nb, q0 = (u % nb + 1) * B;
        O* og = out + g * E * Wo;
        const std::ptrdiff_t j0 = std::max<std::ptrdiff_t>(0, s - q0);
        const std::ptrdiff_t j1 = std::min<std::ptrdiff_t>(tail, e - q0);
        for (std::ptrdiff_t j = j0; j < j1; ++j) {
            O* o = og + (q0 + j - s) * Wo;
            const T* tj = t.data() + j * W + w0;
            for (std::ptrdiff_t i = 0; i < Wo; ++i) o[i] = static_cast<O>(o[i] + tj[i]);
        }
    }
    return true;
}

bool oa_fftw(py::array out, py::array x, py::array H, std::ptrdiff_t L, std::ptrdiff_t B,
             std::ptrdiff_t s, std::ptrdiff_t w0, bool per_line, double scale, py::tuple plans,
             int threads, bool check_finite) {
    const char* fn = "oa_fftw";
    require(out.writeable(), fn, "out must be writeable");
    require(c_contiguous(out) && c_contiguous(x) && c_contiguous(H), fn,
            "arrays must be C-contiguous");
    require(out.ndim() == 3 && x.ndim() == 3 && H.ndim() == 3, fn,
            "out must be (G, E, Wo), x (G, n, Ws), H (1 or G, L // 2 + 1, W)");
    const std::ptrdiff_t G = x.shape(0), n = x.shape(1), Ws = x.shape(2);
    const std::ptrdiff_t E = out.shape(1), Wo = out.shape(2), W = H.shape(2);
    require(out.shape(0) == G && H.shape(0) == (per_line ? G : 1) && H.shape(1) == L / 2 + 1 &&
                Ws <= W && B >= 1 && L - B >= 0 && L - B <= B && s >= 0 && w0 >= 0 &&
                w0 + Wo <= W && n >= 1,
            fn, "shapes do not match");
    const FFTWBlockPlans fp = block_plans_of(fn, plans);
    const py::dtype hd = H.dtype(), od = out.dtype();
    const bool dbl = is_type<c128>(hd);
    require(dbl || is_type<c64>(hd), fn, "H must be complex64 or complex128");
    const bool out_same = dbl ? is_type<double>(od) : is_type<float>(od);
    require(out_same || (dbl && is_type<float>(od)), fn,
            "out must be float64 or float32 for complex128 H, float32 for complex64");
    if (!out_same) threads = 1;     // (the tails added after a join would round differently)
    void* op = out.mutable_data();
    const void* xp = x.data();
    const void* hp = H.data();
    const std::ptrdiff_t e = s + E;
    bool result = true;
    const bool ok = dispatch(dbl ? py::dtype::of<double>() : py::dtype::of<float>(), x.dtype(),
                             [&](auto dtag, auto stag) {
        using T = decltype(dtag);
        using S = decltype(stag);
        if constexpr (std::is_floating_point_v<T>) {
            py::gil_scoped_release nogil;
            if (out_same)
                result = oa_fftw_typed<T, T, S>(static_cast<T*>(op), static_cast<const S*>(xp),
                                                static_cast<const T*>(hp), fp, G, n, Ws, W, L, B,
                                                s, e, w0, Wo, per_line, static_cast<T>(scale),
                                                threads, check_finite);
            else
                result = oa_fftw_typed<T, float, S>(
                    static_cast<float*>(op), static_cast<const S*>(xp), static_cast<const T*>(hp),
                    fp, G, n, Ws, W, L, B, s, e, w0, Wo, per_line, static_cast<T>(scale), threads,
                    check_finite);
        }
    });
    if (!ok)
        require(false, fn, "unsupported source dtype " + std::string(py::str(x.dtype())));
    return result;
}

// The transforms of oa_fftw alone (benchmarks: the bare FFTW transforms a convolution needs):
// `count` forward and inverse one-block transforms on zeroed buffers, split over the threads as
// oa_fftw splits its blocks.
void oa_fftw_transforms(py::tuple plans, std::ptrdiff_t L, std::ptrdiff_t W, std::ptrdiff_t count,
                        bool single, int threads) {
    const char* fn = "oa_fftw_transforms";
    require(L >= 2 && W >= 1 && count >= 0, fn, "bad arguments");
    const FFTWBlockPlans fp = block_plans_of(fn, plans);
    auto run = [&](auto tag) {
        using T = decltype(tag);
        using Exec = void (*)(void*, T*, T*);
        const Exec forward = reinterpret_cast<Exec>(fp.exec_forward);
        const Exec inverse = reinterpret_cast<Exec>(fp.exec_inverse);
        const std::ptrdiff_t F = L / 2 + 1;
        py::gil_scoped_release nogil;
        parallel_for(count, threads, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
            AlignedBuf<T> in(L * W), spec(2 * F * W);
            zero(in.p, L * W);
            for (std::ptrdiff_t u = b; u < e; ++u) {
                forward(fp.forward, in.p, spec.p);
                inverse(fp.inverse, spec.p, in.p);
            }
        }, OA_PIECES_PER_THREAD);
    };
    if (single) run(float{});
    else run(double{});
}

// ---- FFTW's planner lock -------------------------------------------------------------------
// FFTW's planner is not thread-safe, and the OpenMP build of FFTW in pyFFTW's wheels makes
// fftw_make_planner_thread_safe a no-op (measured: four threads planning crashed 5 runs in
// 5 with or without it). sigconv installs these two functions as FFTW's planner hooks
// (fftw_set_planner_hooks, in each precision) when pyfftw is imported, before any plan: every
// plan made in the process then holds this mutex, pyFFTW's (under its own lock, without the
// GIL) and the one-block plans of oa_fftw (made with the GIL held). FFTW calls no hook around
// fftw_destroy_plan: destroy_locked destroys sigconv's one-block plans under the mutex, with
// the GIL held (pyFFTW destroys its plans with the GIL held too, so the two never overlap).
// Plain C functions: the hooks run on any thread without touching Python.
std::mutex& planner_mutex() {
    static std::mutex* m = new std::mutex();    // never destroyed: hooks may run at exit
    return *m;
}

extern "C" void sigconv_fftw_planner_lock() { planner_mutex().lock(); }
extern "C" void sigconv_fftw_planner_unlock() { planner_mutex().unlock(); }

// In a child process forked while another thread held the mutex, nothing would release it.
void reset_planner_mutex_in_child() { new (&planner_mutex()) std::mutex(); }

void destroy_locked(std::uintptr_t destroy, py::tuple plans) {
    require(destroy != 0, "destroy_locked", "the destroy function address is null");
    using Destroy = void (*)(void*);
    const Destroy fn = reinterpret_cast<Destroy>(destroy);
    std::vector<void*> ps;
    for (auto p : plans) ps.push_back(reinterpret_cast<void*>(p.cast<std::uintptr_t>()));
    std::lock_guard<std::mutex> hold(planner_mutex());
    for (void* p : ps)
        if (p != nullptr) fn(p);
}

}  // namespace

void register_fft_glue(py::module_& m) {
    m.def(
        "cmul_scaled",
        [](py::array x, py::array h, double scale, int threads) {
            cmul_impl("cmul_scaled", x, x, h, scale, threads);
        },
        py::arg("x"), py::arg("h"), py::arg("scale"), py::arg("threads"),
        "x[r] = x[r] * h[r % M] * scale in place; x (R, F) and h (M, F) C-contiguous, "
        "complex64 or complex128, R % M == 0");
    m.def(
        "cmul_scaled_to",
        [](py::array out, py::array x, py::array h, double scale, int threads) {
            cmul_impl("cmul_scaled_to", out, x, h, scale, threads);
        },
        py::arg("out"), py::arg("x"), py::arg("h"), py::arg("scale"), py::arg("threads"),
        "out[r] = x[r] * h[r % M] * scale; out of x's size and dtype (may be x)");
    m.def("pad_fill", &pad_fill, py::arg("dst"), py::arg("src"), py::arg("threads"),
          "dst = src in its leading corner (converted), zeros elsewhere");
    m.def("oa_fill", &oa_fill, py::arg("dst"), py::arg("src"), py::arg("k0"), py::arg("B"),
          py::arg("threads"),
          "overlap-add block fill: dst (G, C, L, W) from src (G, n, W') blocks k0.. of B rows; "
          "returns whether the values copied were all finite");
    m.def("all_finite", &all_finite, py::arg("array"), py::arg("threads"),
          "whether a C-contiguous float32/float64/complex64/complex128 array holds no NaN or "
          "inf (one pass, no BLAS)");
    m.def("oa_add", &oa_add, py::arg("out"), py::arg("Y"), py::arg("carry"), py::arg("used"),
          py::arg("k0"), py::arg("B"), py::arg("s"), py::arg("w0"), py::arg("last"),
          py::arg("threads"), py::arg("carry_in") = true,
          "overlap-add accumulation of a chunk of blocks into the kept window out; with "
          "carry_in=False the chunk's first block takes no tail from carry (chunks run "
          "side by side; the caller adds the previous chunk's tail afterwards)");
    m.def("oa_fftw", &oa_fftw, py::arg("out"), py::arg("x"), py::arg("H"), py::arg("L"),
          py::arg("B"), py::arg("s"), py::arg("w0"), py::arg("per_line"), py::arg("scale"),
          py::arg("plans"), py::arg("threads"), py::arg("check_finite"),
          "the whole overlap-add of x (G, n, Ws) into out (G, E, Wo), block by block, with "
          "FFTW's one-block plans and new-array execute functions given by address "
          "(forward, inverse, execute_r2c, execute_c2r); False if check_finite and x holds "
          "NaN or inf (out is then incomplete)");
    m.def(
        "fftw_planner_hooks",
        [] {
            static bool once = [] {
#if !defined(_WIN32)
                pthread_atfork(nullptr, nullptr, &reset_planner_mutex_in_child);
#endif
                return true;
            }();
            (void)once;
            return py::make_tuple(
                reinterpret_cast<std::uintptr_t>(&sigconv_fftw_planner_lock),
                reinterpret_cast<std::uintptr_t>(&sigconv_fftw_planner_unlock));
        },
        "(lock, unlock): addresses of the planner hooks sigconv gives FFTW (void (*)(void))");
    m.def("fftw_destroy_locked", &destroy_locked, py::arg("destroy"), py::arg("plans"),
          "call FFTW's destroy function (its address) on each plan, under the planner mutex");
    m.def("oa_fftw_transforms", &oa_fftw_transforms, py::arg("plans"), py::arg("L"),
          py::arg("W"), py::arg("count"), py::arg("single"), py::arg("threads"),
          "oa_fftw's transforms alone, count blocks (for the benchmarks)");
}

}  // namespace sigconv
