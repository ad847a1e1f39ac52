// Shared helpers of the compiled core: dispatch attributes, strip threads, border indices.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

namespace sigconv {

namespace py = pybind11;

// Runtime dispatch: on x86-64 with GCC or Clang a function marked SIGCONV_CLONES is compiled
// twice (baseline and AVX2) and the loader picks the clone the CPU supports. Elsewhere it is
// compiled once for the baseline. No FMA in the clones (see -ffp-contract=off in CMakeLists).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__APPLE__)
#define SIGCONV_CLONES __attribute__((target_clones("avx2", "default")))
#define SIGCONV_HAS_CLONES 1
#else
#define SIGCONV_CLONES
#define SIGCONV_HAS_CLONES 0
#endif

// Split [0, n) into `threads` contiguous pieces and run fn(begin, end) on each, the first on
// the calling thread. The split depends only on n and threads, and every output element is
// written by exactly one piece, so a kernel whose per-element arithmetic does not depend on
// the piece gives the same result for any thread count. Call with the GIL released.
template <class Fn>
void parallel_for(std::ptrdiff_t n, int threads, Fn&& fn) {
    if (n <= 0) return;
    std::ptrdiff_t t = std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(threads, n));
    if (t == 1) {
        fn(std::ptrdiff_t(0), n);
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(t - 1));
    auto bound = [n, t](std::ptrdiff_t i) { return n * i / t; };
    for (std::ptrdiff_t i = 1; i < t; ++i)
        pool.emplace_back([&fn, &bound, i] { fn(bound(i), bound(i + 1)); });
    fn(bound(0), bound(1));
    for (auto& th : pool) th.join();
}

// Border rules, as integers shared with sigconv/engine/_native.py (BORDER_CODES).
enum Border : int { REFLECT = 0, NEAREST = 1, WRAP = 2, CONSTANT = 3, MIRROR = 4 };

// Index of the sample that position i (any integer) reads in a line of n samples, or -1 for
// the constant border. reflect: d c b a | a b c d | d c b a; mirror: d c b | a b c d | c b a;
// nearest: a a | a b c d | d d; wrap: c d | a b c d | a b.
inline std::ptrdiff_t border_index(std::ptrdiff_t i, std::ptrdiff_t n, int border) {
    if (i >= 0 && i < n) return i;
    switch (border) {
    case NEAREST:
        return i < 0 ? 0 : n - 1;
    case WRAP: {
        std::ptrdiff_t r = i % n;
        return r < 0 ? r + n : r;
    }
    case REFLECT: {
        std::ptrdiff_t period = 2 * n;
        std::ptrdiff_t r = i % period;
        if (r < 0) r += period;
        return r < n ? r : period - 1 - r;
    }
    case MIRROR: {
        if (n == 1) return 0;
        std::ptrdiff_t period = 2 * n - 2;
        std::ptrdiff_t r = i % period;
        if (r < 0) r += period;
        return r < n ? r : period - r;
    }
    default:
        return -1;
    }
}

// Registration functions, one per source file (module.cpp calls them all).
void register_image(py::module_& m);
void register_fft_glue(py::module_& m);
void register_direct(py::module_& m);
void register_windows(py::module_& m);
void register_memory(py::module_& m);

}  // namespace sigconv
