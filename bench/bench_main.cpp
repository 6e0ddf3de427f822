// bench_eegpt: the benchmark suite's main. Our options are taken out of argv; the rest goes to Catch2
// (test names / tags to run, --benchmark-samples, -r junit, ...). Exit status: Catch's (a failed
// output check or error is non-zero); with --strict (or EEGPT_BENCH_STRICT=1) every target is a CHECK,
// and the status is 3 when missed targets were the only failures.
#if !__has_include(<catch2/catch_all.hpp>)
#define CATCH_CONFIG_RUNNER  // Catch2 v2: this file holds the runner; v3 has it in the Catch2 library
#endif
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if __has_include(<catch2/catch_all.hpp>)
#include "../test/catch_compat.h"
#else
#include "../test/catch_skip_v2.h"  // exit 4 when every case was skipped, as v3 does
#endif
#include "bench_util.h"
#include "catch_bench.h"
#include "encoder/cpu/ops.h"
#include "encoder/error.h"
#include "workloads.h"

namespace {

// Every finished BENCHMARK's statistics, as Catch2 computed them, to bench::record_benchmark: the
// only way a time gets into the suite's lines, targets and JSON.
class BenchListener : public bench::CatchListenerBase {
public:
    using bench::CatchListenerBase::CatchListenerBase;
    void testCaseStarting(const Catch::TestCaseInfo& info) override {
        test_case_ = info.name;
        bench::CatchListenerBase::testCaseStarting(info);
    }
    void benchmarkEnded(const bench::CatchBenchmarkStats& stats) override {
        const bench::CatchFigures f = bench::catch_figures(stats);
        bench::Stats s;
        s.test_case = test_case_;
        s.iterations = f.iterations;
        s.samples = f.samples;
        s.analysed = !m_config->benchmarkNoAnalysis();
        s.mean = f.mean;
        s.stddev = f.stddev;
        s.mean_low = f.mean_low;
        s.mean_high = f.mean_high;
        s.stddev_low = f.stddev_low;
        s.stddev_high = f.stddev_high;
        s.confidence_interval = f.confidence_interval;
        s.low_severe = f.low_severe;
        s.low_mild = f.low_mild;
        s.high_mild = f.high_mild;
        s.high_severe = f.high_severe;
        s.outlier_variance = f.outlier_variance;
        bench::record_benchmark(std::move(s), f.name);
    }

    void testRunEnded(const Catch::TestRunStats& stats) override {
        failed_assertions() = static_cast<long>(stats.totals.assertions.failed);
        bench::CatchListenerBase::testRunEnded(stats);
    }
    static long& failed_assertions() {
        static long n = 0;
        return n;
    }

private:
    std::string test_case_;
};

const char* kUsage =
    "bench_eegpt [options] [Catch2 test spec and options]\n"
    "  e.g. bench_eegpt \"[single-window]\" --benchmark-samples 20, bench_eegpt \"[quick]\" -r junit -o bench.xml,\n"
    "       bench_eegpt \"~[gpu]\" --strict\n"
    "Every timed case is a Catch2 BENCHMARK: Catch2's --benchmark-samples (default: per case, from 100 for a\n"
    "GPU window down to 3 for a 20-minute recording), --benchmark-warmup-time, --benchmark-confidence-interval,\n"
    "--benchmark-resamples, --benchmark-no-analysis and its reporters (-r console|xml|junit, -o FILE) apply.\n"
    "options of the suite (the rest goes to Catch2, see --help below):\n"
    "  --strict         every target is a CHECK; exit 3 when missed targets are the only failures\n"
    "                   (env EEGPT_BENCH_STRICT=1); otherwise misses are only reported\n"
    "  --json PATH      results file (default benchmark_results/benchmark_results.json); the [recording]\n"
    "                   cases write their synthetic EDF inputs and HDF5 outputs beside it (NAME_recordings/\n"
    "                   for NAME.json)\n"
    "  --data-dir DIR   the real recordings of the [recording] cases (default " EEGPT_BENCH_DATA_DIR
    ")\n"
    "  --model NAME     model configuration, random weights seed 0 (default large; targets are for large)\n"
    "  --weights FILE   an HDF5 weight file (tools/convert_ckpt.py) instead: ours and the peers run it; its\n"
    "                   configuration names the model (given --model too, they must agree)\n"
    "  --precision P    precision of the CPU cases: fp32 (default), bf16 (needs AVX512_BF16) or int8\n"
    "  --threads N      CPU encoder threads (default 0: all cores)\n"
    "  --no-peers       do not run the PyTorch / ONNX Runtime peers in [comparison]\n"
    "  --python PATH    Python for the peers (default " EEGPT_BENCH_PYTHON
    ")\n"
    "  --memory-probe window|recording [--device cpu|cuda] [--recording EDF]   internal: one fresh-process\n"
    "                   memory measurement\n";

bool take_value(std::vector<std::string>& args, size_t& i, std::string& value) {
    if (i + 1 >= args.size()) {
        std::fprintf(stderr, "bench_eegpt: %s needs a value\n", args[i].c_str());
        std::exit(2);
    }
    value = args[i + 1];
    args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    return true;
}

// The named configuration (docs/architecture.md) a weight file's configuration is, or "".
std::string named_config_of(const eegpt::ModelConfig& c) {
    for (const std::string& name : eegpt::named_config_names()) {
        const eegpt::ModelConfig n = eegpt::named_config(name);
        if (n.embed_dim == c.embed_dim && n.depth == c.depth && n.num_heads == c.num_heads && n.embed_num == c.embed_num &&
            n.patch_size == c.patch_size && n.patch_stride == c.patch_stride && n.mlp_hidden == c.mlp_hidden &&
            n.layernorm_eps == c.layernorm_eps && n.qkv_bias == c.qkv_bias)
            return name;
    }
    return "";
}

}  // namespace

CATCH_REGISTER_LISTENER(BenchListener)

int main(int argc, char** argv) {
    bench::Options& o = bench::options();
    if (const char* e = std::getenv("EEGPT_BENCH_STRICT")) o.strict = std::strcmp(e, "0") != 0 && *e;

    std::vector<std::string> args(argv, argv + argc);
    std::string probe, device = "cpu", recording, value;
    bool listing = false, user_order = false, reporter = false, model_given = false;
    for (size_t i = 1; i < args.size();) {
        const std::string& a = args[i];
        if (a == "--strict") {
            o.strict = true;
            args.erase(args.begin() + static_cast<long>(i));
        } else if (a == "--no-peers") {
            o.peers = false;
            args.erase(args.begin() + static_cast<long>(i));
        } else if (a == "--json" && take_value(args, i, value)) {
            o.json_path = value;
        } else if (a == "--model" && take_value(args, i, value)) {
            o.model = value;
            model_given = true;
        } else if (a == "--weights" && take_value(args, i, value)) {
            o.weights = value;
        } else if (a == "--precision" && take_value(args, i, value)) {
            o.cpu_precision = value;
        } else if (a == "--threads" && take_value(args, i, value)) {
            o.threads = std::atoi(value.c_str());
        } else if (a == "--python" && take_value(args, i, value)) {
            o.python = value;
        } else if (a == "--data-dir" && take_value(args, i, value)) {
            o.data_dir = value;
        } else if (a == "--recording" && take_value(args, i, value)) {
            recording = value;
        } else if (a == "--memory-probe" && take_value(args, i, value)) {
            probe = value;
        } else if (a == "--device" && take_value(args, i, value)) {
            device = value;
        } else {
            if (a == "-h" || a == "--help") std::printf("%s\n", kUsage);
            if (a == "-h" || a == "--help" || a.rfind("--list", 0) == 0 || a == "-l" || a == "-t") listing = true;
            if (a == "--order") user_order = true;
            if (a == "-r" || a.rfind("--reporter", 0) == 0) reporter = true;
            if (a == "--benchmark-samples" && i + 1 < args.size()) o.samples = std::atoi(args[i + 1].c_str());
            if (a.rfind("--benchmark-samples=", 0) == 0) o.samples = std::atoi(a.c_str() + 20);
            ++i;
        }
    }
    if (!probe.empty()) return bench::memory_probe(probe, device, recording);
    try {
        eegpt::named_config(o.model);
    } catch (const eegpt::Error& e) {
        std::fprintf(stderr, "bench_eegpt: --model: %s\n", e.what());
        return 2;
    }
    if (!o.weights.empty()) {
        // The file's configuration names the model (the targets are judged for large only).
        try {
            const std::string name = named_config_of(bench::model_weights()->config);
            if (name.empty() || (model_given && name != o.model))
                throw eegpt::Error(o.weights + " is " + (name.empty() ? "not one of the named configurations"
                                                                       : "the " + name + " configuration, not " + o.model));
            o.model = name;
        } catch (const eegpt::Error& e) {
            std::fprintf(stderr, "bench_eegpt: --weights: %s\n", e.what());
            return 2;
        }
    }
    // The CPU cases' precision must be one this CPU runs: say so once, before any case.
    if (o.cpu_precision != "fp32" && o.cpu_precision != "bf16" && o.cpu_precision != "int8") {
        std::fprintf(stderr, "bench_eegpt: --precision must be fp32, bf16 or int8, got '%s'\n", o.cpu_precision.c_str());
        return 2;
    }
    if (o.cpu_precision == "bf16") {
        std::string why;
        try {
            why = eegpt::cpu::bf16_unavailable_reason(eegpt::cpu::default_isa());
        } catch (const eegpt::Error& e) {
            why = e.what();
        }
        if (!why.empty()) {
            std::fprintf(stderr, "bench_eegpt: --precision bf16: %s\n", why.c_str());
            return 2;
        }
    }

    std::string filter;
    for (size_t i = 1; i < args.size(); ++i)
        if (args[i][0] != '-') filter += (filter.empty() ? "" : " ") + args[i];
    if (!user_order) {  // run cases in the order of the file (v3 defaults to random order)
        args.push_back("--order");
        args.push_back("decl");
    }
    std::vector<char*> catch_argv;
    for (auto& a : args) catch_argv.push_back(a.data());

    // Our own lines go to stderr when a reporter was chosen: its output (XML, JUnit) may be stdout.
    FILE* ours = reporter ? stderr : stdout;
    Catch::Session session;
    int rc = session.applyCommandLine(static_cast<int>(catch_argv.size()), catch_argv.data());
    if (rc != 0) return rc;
    bench::session_config() = session.configData();
    if (!listing) std::fprintf(ours, "%s\n", bench::machine_summary().c_str());
#if __has_include(<catch2/catch_all.hpp>)
    rc = session.run();
#else
    rc = eegpt_test::skip_exit_code(session.run());
#endif
    if (bench::results().empty() && bench::skips().empty()) return rc;

    bench::write_json(o.json_path, filter);
    const int missed = bench::missed_targets();
    int met = 0, unmeasured = 0, not_judged = 0;
    for (const auto& r : bench::results()) {
        met += r.status == "PASS";
        unmeasured += r.status == "NOT MEASURED";
        not_judged += r.status == "NOT APPLICABLE";
    }
    std::fprintf(ours,
                 "targets: %d met, %d missed, %d not measured, %d not judged (model %s); %zu skipped; results in %s\n",
                 met, missed, unmeasured, not_judged, o.model.c_str(), bench::skips().size(), o.json_path.c_str());
    // Under --strict a missed target is a failed CHECK, so Catch's status is already non-zero; it
    // becomes 3 when those CHECKs are the only failed assertions.
    if (rc != 0 && o.strict && missed > 0 && BenchListener::failed_assertions() == missed) {
        std::fprintf(ours, "--strict: %d missed target(s), exit status 3\n", missed);
        rc = 3;
    }
    return rc;
}
