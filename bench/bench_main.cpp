// bench_eegpt: the benchmark suite's main. Our options are taken out of argv; the rest goes to Catch2
// (test names / tags to run, --list-tests, ...). Exit status: Catch's (a failed output check or error is
// non-zero); with --strict (or EEGPT_BENCH_STRICT=1) also 3 when any target was missed.
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
#include "encoder/cpu/ops.h"
#include "encoder/error.h"
#include "workloads.h"

namespace {

const char* kUsage =
    "bench_eegpt [options] [Catch2 test spec and options]\n"
    "  e.g. bench_eegpt \"[single-window]\", bench_eegpt \"[quick]\" --rounds 1, bench_eegpt \"~[gpu]\" --strict\n"
    "options of the suite (the rest goes to Catch2, see --help below):\n"
    "  --rounds N       timed rounds of every case (default: per case, 1 to 5; env EEGPT_BENCH_ROUNDS)\n"
    "  --strict         exit 3 when a target is missed (env EEGPT_BENCH_STRICT=1); otherwise misses are only reported\n"
    "  --json PATH      results file (default benchmark_results/benchmark_results.json)\n"
    "  --model NAME     model configuration, random weights seed 0 (default large; targets are for large)\n"
    "  --precision P    precision of the CPU cases: fp32 (default) or bf16 (needs AVX512_BF16)\n"
    "  --threads N      CPU encoder threads (default 0: all cores)\n"
    "  --no-peers       do not run the PyTorch / ONNX Runtime peers in [comparison]\n"
    "  --python PATH    Python for the peers (default " EEGPT_BENCH_PYTHON
    ")\n"
    "  --memory-probe window|recording [--device cpu|cuda]   internal: one fresh-process memory measurement\n";

bool take_value(std::vector<std::string>& args, size_t& i, std::string& value) {
    if (i + 1 >= args.size()) {
        std::fprintf(stderr, "bench_eegpt: %s needs a value\n", args[i].c_str());
        std::exit(2);
    }
    value = args[i + 1];
    args.erase(args.begin() + static_cast<long>(i), args.begin() + static_cast<long>(i) + 2);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options& o = bench::options();
    if (const char* e = std::getenv("EEGPT_BENCH_ROUNDS")) o.rounds = std::atoi(e);
    if (const char* e = std::getenv("EEGPT_BENCH_STRICT")) o.strict = std::strcmp(e, "0") != 0 && *e;

    std::vector<std::string> args(argv, argv + argc);
    std::string probe, device = "cpu", value;
    bool listing = false, user_order = false;
    for (size_t i = 1; i < args.size();) {
        const std::string& a = args[i];
        if (a == "--strict") {
            o.strict = true;
            args.erase(args.begin() + static_cast<long>(i));
        } else if (a == "--no-peers") {
            o.peers = false;
            args.erase(args.begin() + static_cast<long>(i));
        } else if (a == "--rounds" && take_value(args, i, value)) {
            o.rounds = std::atoi(value.c_str());
        } else if (a == "--json" && take_value(args, i, value)) {
            o.json_path = value;
        } else if (a == "--model" && take_value(args, i, value)) {
            o.model = value;
        } else if (a == "--precision" && take_value(args, i, value)) {
            o.cpu_precision = value;
        } else if (a == "--threads" && take_value(args, i, value)) {
            o.threads = std::atoi(value.c_str());
        } else if (a == "--python" && take_value(args, i, value)) {
            o.python = value;
        } else if (a == "--memory-probe" && take_value(args, i, value)) {
            probe = value;
        } else if (a == "--device" && take_value(args, i, value)) {
            device = value;
        } else {
            if (a == "-h" || a == "--help") std::printf("%s\n", kUsage);
            if (a == "-h" || a == "--help" || a.rfind("--list", 0) == 0 || a == "-l" || a == "-t") listing = true;
            if (a == "--order") user_order = true;
            ++i;
        }
    }
    if (!probe.empty()) return bench::memory_probe(probe, device);
    // The CPU cases' precision must be one this CPU runs: say so once, before any case.
    if (o.cpu_precision != "fp32" && o.cpu_precision != "bf16") {
        std::fprintf(stderr, "bench_eegpt: --precision must be fp32 or bf16, got '%s'\n", o.cpu_precision.c_str());
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

    if (!listing) std::printf("%s\n", bench::machine_summary().c_str());
    Catch::Session session;
    int rc = session.applyCommandLine(static_cast<int>(catch_argv.size()), catch_argv.data());
    if (rc != 0) return rc;
#if __has_include(<catch2/catch_all.hpp>)
    rc = session.run();
#else
    rc = eegpt_test::skip_exit_code(session.run());
#endif
    if (bench::results().empty()) return rc;

    bench::write_json(o.json_path, filter);
    const int missed = bench::missed_targets();
    int met = 0, skipped = 0;
    for (const auto& r : bench::results()) {
        met += r.status == "PASS";
        skipped += r.status == "SKIP";
    }
    std::printf("targets: %d met, %d missed; %d skipped; results in %s\n", met, missed, skipped, o.json_path.c_str());
    if (rc == 0 && o.strict && missed > 0) {
        std::printf("--strict: %d missed target(s), exit status 3\n", missed);
        rc = 3;
    }
    return rc;
}
