// The statuses bench_eegpt gives its results (bench/bench_util.h, report()): a target is judged only
// for the model it was set for (large), and a figure that could not be measured (device memory when
// cudaMemGetInfo fails) is NOT MEASURED, never PASS; a peak is the best of its short runs. No timing
// here: the statistics and the rates are made up.
#include <string>
#include <vector>

#include "../bench/bench_util.h"
#include "../bench/peak.h"
#include "catch_compat.h"

namespace {

bench::Result result(const std::string& name, double seconds, const bench::Target* target) {
    bench::Result r;
    r.name = name;
    r.category = "memory";
    r.unit = "s";
    r.target = target;
    r.stats.samples = {seconds, seconds};
    r.stats.mean = seconds;
    bench::fill_order_statistics(r.stats);
    return r;
}

// A stand-in for a peak loop whose runs a disturbance slows: the rates it returns, in turn, and
// the lengths it was asked to run for.
std::vector<double> g_rates, g_asked;
double disturbed_loop(double seconds) {
    g_asked.push_back(seconds);
    return g_rates[(g_asked.size() - 1) % g_rates.size()];
}

}  // namespace

TEST_CASE("bench peak: the ceiling is the best of short runs, not their average", "[bench]") {
    // One long disturbance (runs 2-6) and a short one (run 8), as a busy hypervisor gives.
    g_rates = {455, 452, 210, 190, 200, 205, 215, 456, 300, 454};
    g_asked.clear();
    CHECK(bench::best_rate(disturbed_loop, 0.3) == 456);
    REQUIRE(g_asked.size() == 10);
    for (double s : g_asked) CHECK(s == Approx(0.03));
    g_rates = {7};
    g_asked.clear();
    CHECK(bench::best_rate(disturbed_loop, 0.2, 4) == 7);
    CHECK(g_asked.size() == 4);
    // On several threads at once: the sum of each thread's ceiling.
    CHECK(bench::all_threads_rate([](double) { return 5.0; }, 3, 0.03) == 15);
}

TEST_CASE("bench report: a figure that was not measured is NOT MEASURED, never PASS", "[bench]") {
    bench::options().model = "large";
    bench::Result unmeasured = result("device memory, cudaMemGetInfo failed", 0.5, &bench::kPeakMemory);
    unmeasured.unmeasured = "cudaMemGetInfo failed";
    const bench::Result& out = bench::report(unmeasured);
    CHECK(out.status == "NOT MEASURED");
    CHECK_THAT(out.line, Catch::Matchers::Contains("NOT MEASURED (cudaMemGetInfo failed)"));
    // a negative byte count must not read as a figure below the target, and PASS
    bench::Result negative = result("device memory, -1 bytes", 0.5, &bench::kPeakMemory);
    negative.target_figure = -1.0 / (1024 * 1024);
    negative.unmeasured = "cudaMemGetInfo failed";
    CHECK(bench::report(negative).status == "NOT MEASURED");

    bench::Result measured = result("device memory, measured", 0.5, &bench::kPeakMemory);
    measured.target_figure = 100;
    CHECK(bench::report(measured).status == "PASS");
    bench::Result over = result("device memory, over", 0.5, &bench::kPeakMemory);
    over.target_figure = 4096;
    CHECK(bench::report(over).status == "FAIL");
    CHECK(bench::missed_targets() == 1);
}

TEST_CASE("bench report: targets are judged for the large model only", "[bench]") {
    // 1 s per window against the 50 ms single-window target (compared with the mean, in ms)
    bench::options().model = "little";
    const bench::Result& little = bench::report(result("window, little", 1.0, &bench::kSingleWindowCpu));
    CHECK(little.status == "NOT APPLICABLE");
    CHECK_THAT(little.line, Catch::Matchers::Contains("is for the large model, not judged (model little)"));
    bench::options().model = "large";
    const bench::Result& large = bench::report(result("window, large", 1.0, &bench::kSingleWindowCpu));
    CHECK(large.status == "FAIL");
    CHECK(large.target_figure == Approx(1000.0));
    const bench::Result& fast = bench::report(result("window, fast", 0.02, &bench::kSingleWindowCpu));
    CHECK(fast.status == "PASS");
    const bench::Result& none = bench::report(result("no target", 0.02, nullptr));
    CHECK(none.status.empty());
}
