// The benchmark suite's plumbing: options, timing, statistics, the one-line report of each result,
// machine information and the JSON file. No Catch2 here: the cases (bench_cases.cpp) use it.
//
// Timing is our own loop (steady_clock around each call, after one untimed warm-up), not Catch2's
// BENCHMARK sampler: reading Catch's samples needs a listener whose benchmarkEnded signature differs
// between Catch2 2.13, 3.0-3.4 and 3.5+, Catch defaults to 100 samples and adds a probe run, which for a
// multi-minute recording round doubles the cost. Our loop runs exactly `rounds` timed calls everywhere.
#pragma once
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "targets.h"

namespace bench {

struct Options {
    int rounds = 0;       // 0: each case's default; otherwise every case runs this many timed rounds
    bool strict = false;  // a missed target makes the process exit non-zero
    bool peers = true;    // run the PyTorch / ONNX Runtime peers in [comparison]
    int threads = 0;      // CPU encoder threads (0: all cores)
    std::string model = "large";
    std::string cpu_precision = "fp32";  // of the CPU encoder: fp32 or bf16
    std::string json_path = "benchmark_results/benchmark_results.json";
    std::string python = EEGPT_BENCH_PYTHON;
    std::string source_dir = EEGPT_BENCH_SOURCE_DIR;
};
Options& options();

// The number of timed rounds for a case whose default is `default_rounds`.
int rounds_for(int default_rounds);

struct Stats {
    int rounds = 0;
    double mean = 0, median = 0, min = 0, max = 0, stddev = 0;  // stddev: sample (n - 1), 0 for one round
};
Stats summarize(std::vector<double> samples);

// Calls warmup (or fn when warmup is empty) once untimed, then fn `rounds` times: milliseconds per call.
std::vector<double> time_ms(int rounds, const std::function<void()>& fn, const std::function<void()>& warmup = {});

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Result {
    std::string name;      // unique: "single-window cpu 19ch 1024"
    std::string category;  // single-window, batch, recording, memory, comparison
    std::string unit;      // unit of the samples: ms, s, MB, x
    std::vector<double> samples;
    std::string better = "lower";    // lower / higher: direction for regression checks; "" = not compared
    const Target* target = nullptr;  // none: reported as "no target"
    double target_figure = kNaN;     // figure compared with the target; NaN: the median
    std::string detail;              // printed after the statistics, e.g. ", 4.9x real time"
    std::vector<std::pair<std::string, double>> extra;  // more numbers for the JSON (batch, per_window_ms...)
    std::string skipped;                                // reason, when the case could not run
    // filled by report():
    Stats stats;
    std::string status;  // PASS, FAIL, "" (no target), SKIP
    std::string line;    // the printed line
};

// Fills stats and status, prints the result's one line, keeps it for the JSON.
const Result& report(Result result);
void report_skip(const std::string& name, const std::string& category, const std::string& reason);
const Result* find_result(const std::string& name);
const std::vector<Result>& results();
int missed_targets();

// One-line machine summary (whisper.cpp style) and the JSON file with machine info and every result.
std::string machine_summary();
void write_json(const std::string& path, const std::string& filter);

// Runs a shell command and returns its stdout; exit status in *status.
std::string run_command(const std::string& command, int* status);
std::string shell_quote(const std::string& s);

// Resident memory of this process in kB: now (/proc/self/statm) and the peak (getrusage ru_maxrss).
long current_rss_kb();
long peak_rss_kb();

// The ISA level of the CPU operations the CPU cases run with (chosen at run time).
std::string build_isa();

}  // namespace bench
