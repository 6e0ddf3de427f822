// Catch2 differences that only the benchmark suite meets (test/catch_compat.h has the includes):
//  - skipping: v3 has SKIP() (3.3+, the GPU machine has 3.4); v2.13 has none, so a skipped case
//    warns with the reason and returns from the TEST_CASE body (use it in that body only).
//  - the runner: bench_main.cpp has its own main(); v2 needs CATCH_CONFIG_RUNNER in that one file,
//    v3 links Catch2::Catch2 (not Catch2WithMain).
#pragma once
#include "../test/catch_compat.h"

#if defined(CATCH_VERSION_MAJOR) && CATCH_VERSION_MAJOR >= 3
#define EEGPT_BENCH_SKIP(reason) SKIP(reason)
#else
#define EEGPT_BENCH_SKIP(reason)       \
    do {                               \
        WARN("SKIPPED: " << (reason)); \
        return;                        \
    } while (0)
#endif
