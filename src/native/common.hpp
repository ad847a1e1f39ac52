// Shared helpers of the compiled core: dispatch attributes, vector blocks, the thread pool
// (pool.cpp), border indices.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <type_traits>
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

// Register blocks through GCC's vector extensions (32 bytes: 4 doubles or 8 floats; the
// default clone splits them into SSE halves); loads and stores by memcpy, which compiles to
// unaligned vector moves. Without the extensions (other compilers) callers keep scalar loops.
#if defined(__GNUC__) || defined(__clang__)
#define SIGCONV_VEC_EXT 1
// inlined even into a target clone (else the vector blocks may stay in a baseline function)
#define SIGCONV_INLINE __attribute__((always_inline)) inline
template <class A> struct VecOf {
    static constexpr int N = 32 / int(sizeof(A));
    typedef A type __attribute__((vector_size(32)));
};
template <class V, class A> inline V vload(const A* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <class V, class A> inline void vstore(A* p, V v) { std::memcpy(p, &v, sizeof(V)); }
#else
#define SIGCONV_VEC_EXT 0
#define SIGCONV_INLINE inline
#endif

namespace detail {

// One parallel_for call: `t` pieces of [0, n), claimed one at a time (next) by the caller and
// the pool's workers. done, refs and error are guarded by the pool's mutex.
struct Job {
    void (*call)(void* ctx, std::ptrdiff_t begin, std::ptrdiff_t end);
    void* ctx;
    std::ptrdiff_t n, t;
    std::atomic<std::ptrdiff_t> next{0};
    std::ptrdiff_t done = 0;   // pieces finished
    int refs = 0;              // workers holding a pointer to this job
    std::exception_ptr error;  // the first exception a piece threw
};

// Runs every piece of job, on the calling thread and on up to `helpers` of the persistent
// workers (pool.cpp), and returns when all are finished; rethrows a piece's exception.
void run_job(Job& job, int helpers);

// Workers the pool has started so far (for the tests).
int pool_workers();

}  // namespace detail

// Pieces per thread for loops over independent items (rows, runs, chunks) with nothing to
// recompute at a piece's edges.
constexpr int PIECES_PER_THREAD = 8;

// Split [0, n) into `threads` contiguous pieces (times `pieces_per_thread`) and run
// fn(begin, end) on each, on the calling thread and on persistent worker threads (started on
// first use, kept for the process; a forked child starts its own). Pieces are claimed one at
// a time, so with several pieces per thread the caller works on while a sleeping worker wakes
// (about 25 us on the 2-core VM) and takes over the share of a worker the VM has descheduled;
// use it where pieces cost nothing extra (no halo to recompute). The split depends only on n,
// threads and pieces_per_thread, and every output element is written by exactly one piece, so
// a kernel whose per-element arithmetic does not depend on the piece gives the same result
// for any thread count, whichever thread runs which piece. Call with the GIL released. Pieces
// may themselves call parallel_for: the caller runs any piece no worker has claimed, so a
// call never waits on a busy pool.
template <class Fn>
void parallel_for(std::ptrdiff_t n, int threads, Fn&& fn, int pieces_per_thread = 1) {
    if (n <= 0) return;
    const std::ptrdiff_t t = std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(threads, n));
    if (t == 1) {
        fn(std::ptrdiff_t(0), n);
        return;
    }
    using F = std::remove_reference_t<Fn>;
    detail::Job job;
    job.call = [](void* ctx, std::ptrdiff_t b, std::ptrdiff_t e) { (*static_cast<F*>(ctx))(b, e); };
    job.ctx = const_cast<void*>(static_cast<const void*>(std::addressof(fn)));
    job.n = n;
    job.t = std::min<std::ptrdiff_t>(n, t * std::max(1, pieces_per_thread));
    detail::run_job(job, static_cast<int>(t - 1));
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
