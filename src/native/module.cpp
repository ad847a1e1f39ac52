// sigconv.engine._core: the module object, its build facts, and the registration of each part.
#include "common.hpp"

#ifndef SIGCONV_CORE_VERSION
#define SIGCONV_CORE_VERSION "unknown"
#endif

namespace {

std::string baseline_isa() {
#if defined(__AVX2__)
    return "avx2";
#elif defined(__SSE2__)
    return "sse2";
#elif defined(__ARM_NEON) || defined(__aarch64__)
    return "neon";
#else
    return "generic";
#endif
}

bool cpu_has_avx2() {
#if SIGCONV_HAS_CLONES
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "sigconv's compiled kernels; imported only by sigconv.engine._native";
    m.attr("version") = SIGCONV_CORE_VERSION;
    m.attr("baseline") = baseline_isa();
    m.attr("clones") = bool(SIGCONV_HAS_CLONES);
    m.def("cpu_has_avx2", &cpu_has_avx2, "whether this CPU runs the AVX2 clones");
    m.def("hardware_threads", [] { return int(std::max(1u, std::thread::hardware_concurrency())); },
          "std::thread::hardware_concurrency(), at least 1");
    m.def("pool_workers", &sigconv::detail::pool_workers,
          "worker threads the compiled core's pool has started (they persist between calls)");
    sigconv::register_image(m);
    sigconv::register_fft_glue(m);
    sigconv::register_direct(m);
    sigconv::register_windows(m);
    sigconv::register_memory(m);
}
