// One include for Catch2 v3 (GPU machine) and v2.13 (Debian 12): the macros used here are the same.
// Both branches are compiled on every change (tools/test.sh builds against v2 and against v3.4).
#pragma once
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
// v2's string matcher Contains("text") is ContainsSubstring in v3, where Contains matches range
// elements and does not compile inside REQUIRE_THROWS_WITH. This non-template overload wins over
// v3's template for string literals, so the same test source builds with both versions.
namespace Catch {
namespace Matchers {
inline StringContainsMatcher Contains(const char* text) { return ContainsSubstring(text); }
// Every value category of std::string, so that none of them prefers v3's forwarding-reference template.
inline StringContainsMatcher Contains(const std::string& text) { return ContainsSubstring(text); }
inline StringContainsMatcher Contains(std::string& text) { return ContainsSubstring(text); }
inline StringContainsMatcher Contains(std::string&& text) { return ContainsSubstring(text); }
}  // namespace Matchers
}  // namespace Catch
// v2 has Approx at global scope, v3 only as Catch::Approx.
using Catch::Approx;
#else
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>
#endif

// Skipping a test at run time with the reason shown: Catch2 v3 (3.3 and later) has SKIP, and exits
// with 4 when every test case that ran was skipped (CTest's SKIP_RETURN_CODE). v2.13 has neither:
// there the reason is printed as a warning, the test returns early, and our v2 main
// (catch_main_v2.cpp, bench_main.cpp with catch_skip_v2.h) exits with 4 in the same case.
#if defined(SKIP)
#define EEGPT_SKIP(reason) SKIP(reason)
#else
namespace eegpt_test {
struct SkipTally {
    int cases = 0, skipped = 0;
    bool current = false;  // the running test case called EEGPT_SKIP
};
inline SkipTally& skip_tally() {
    static SkipTally tally;
    return tally;
}
}  // namespace eegpt_test
#define EEGPT_SKIP(reason)                              \
    do {                                                \
        WARN("SKIPPED: " << reason);                    \
        eegpt_test::skip_tally().current = true;        \
        return;                                         \
    } while (false)
#endif
