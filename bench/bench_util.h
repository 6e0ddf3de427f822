// The benchmark suite's plumbing: options, the statistics of each BENCHMARK, the one-line report of
// each result with its target, machine information and the JSON file. No Catch2 here: the cases
// (bench_cases.cpp) time with Catch2's BENCHMARK, and the listener of bench_main.cpp hands every
// finished BENCHMARK's statistics to record_benchmark; nothing else times anything.
#pragma once
#include <limits>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "targets.h"

namespace bench {

struct Options {
    bool strict = false;  // a missed target is a failed CHECK, and the process exits 3
    bool peers = true;    // run the PyTorch / ONNX Runtime peers in [comparison]
    int threads = 0;      // CPU encoder threads (0: all cores)
    int samples = 0;      // --benchmark-samples given by the user (0: each case's default)
    std::string model = "large";
    std::string weights;  // --weights: an HDF5 weight file of that configuration instead of its random weights
    std::string cpu_precision = "fp32";  // of the CPU encoder: fp32 or bf16
    std::string json_path = "benchmark_results/benchmark_results.json";
    std::string python = EEGPT_BENCH_PYTHON;
    std::string source_dir = EEGPT_BENCH_SOURCE_DIR;
    std::string data_dir = EEGPT_BENCH_DATA_DIR;  // the real recordings (CMake's EEGPT_DATA_DIR)
};
Options& options();
// "large (random weights, seed 0)" or "large (weights FILE)": what the cases run, for the report.
std::string model_description();

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One finished BENCHMARK, seconds per call. mean and stddev are Catch2's bootstrap estimates (its
// standard deviation divides by n), with their confidence intervals; with --benchmark-no-analysis
// Catch2 estimates nothing and they are the samples' plain mean and (n - 1) standard deviation.
struct Stats {
    std::string test_case;  // the Catch2 test case that ran it
    int rounds = 0;         // samples
    int iterations = 1;     // calls per sample
    std::vector<double> samples;
    double mean = 0, median = 0, min = 0, max = 0, stddev = 0, q1 = 0, q3 = 0, iqr = 0;
    bool analysed = true;  // false under --benchmark-no-analysis
    double mean_low = 0, mean_high = 0, stddev_low = 0, stddev_high = 0, confidence_interval = 0;
    int low_severe = 0, low_mild = 0, high_mild = 0, high_severe = 0;  // Catch2's outlier classification
    double outlier_variance = 0;
};

// From the listener: one BENCHMARK's samples (seconds per call) and Catch2's estimates.
void record_benchmark(Stats stats, const std::string& name);
// The statistics of the BENCHMARK of that name run by this process, or nullptr when it did not run
// (e.g. --skip-benchmarks, or it failed).
const Stats* measured(const std::string& name);
// Minimum, maximum, median and quartiles (linear interpolation, as numpy and pytest-benchmark) of samples;
// where Catch2 did not analyse them (analysed false), their mean and sample standard deviation too.
void fill_order_statistics(Stats& s);

// A figure other than a time that the regression comparison follows (peak memory): its median and range.
struct Figure {
    std::string key, unit, better;  // better: lower / higher
    double median = kNaN, min = kNaN, max = kNaN;
};

struct Result {
    std::string name;         // unique, the BENCHMARK's name: "single-window cpu 19ch 1024"
    std::string category;     // single-window, batch, recording, memory, comparison (pytest-benchmark's group)
    std::string unit = "ms";  // how the times are printed: ms or s (the JSON has seconds)
    Stats stats;
    std::string better = "lower";    // "": the time is not a regression figure of ours (a peer's, ...)
    const Target* target = nullptr;  // none: "no target"
    double target_figure = kNaN;     // the figure compared with the target; NaN: the mean, in the target's unit
    std::string unmeasured;          // why the target figure could not be measured (then NOT MEASURED, never PASS)
    std::string detail;              // printed after the statistics, e.g. ", 4.9x real time"
    std::vector<std::pair<std::string, std::string>> extra;  // more of extra_info: key -> JSON value
    std::vector<Figure> figures;
    // filled by report():
    std::string status;  // PASS, FAIL, NOT MEASURED, NOT APPLICABLE (another model), "" (no target)
    std::string line;    // the printed line

    void add(const std::string& key, double value);
    void add_text(const std::string& key, const std::string& value);
};

// The figure as a time in `unit` (ms or s).
double in_unit(double seconds, const std::string& unit);

// Takes the statistics of the BENCHMARK named r.name (false when it did not run: then the case is
// recorded as skipped with the reason).
bool take_stats(Result& r);
// Fills status, prints the result's one line, keeps it for the JSON.
const Result& report(Result result);
// A case that could not run, with the reason (the JSON's "skipped" list).
void report_skip(const std::string& name, const std::string& category, const std::string& reason);
const Result* find_result(const std::string& name);
const std::vector<Result>& results();
struct Skip {
    std::string name, category, reason;
};
const std::vector<Skip>& skips();
int missed_targets();

// One-line machine summary (whisper.cpp style) and the JSON file: pytest-benchmark's layout.
std::string machine_summary();
void write_json(const std::string& path, const std::string& filter);

// Runs a shell command and returns its stdout; exit status in *status.
std::string run_command(const std::string& command, int* status);
// run_command for a child that talks back: each line it writes is passed, without its newline, to
// `on_line` with a function that writes a line (newline added) to the child's standard input and
// says whether it could. Returns everything the child wrote; ends when the child closes its output.
using SendLine = std::function<bool(const std::string&)>;
std::string run_command_talking(const std::string& command,
                                const std::function<void(const std::string&, const SendLine&)>& on_line, int* status);
std::string shell_quote(const std::string& s);

// Resident memory of this process in kB: now (/proc/self/statm) and the peak (getrusage ru_maxrss).
long current_rss_kb();
long peak_rss_kb();

// The ISA level of the CPU operations the CPU cases run with (chosen at run time).
std::string run_time_isa();

}  // namespace bench
