#include "bench_util.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "bench_commit.h"  // generated at build time: cmake/commit_stamp.cmake
#include "gpu.h"
#include "workloads.h"

namespace bench {

Options& options() {
    static Options o;
    return o;
}

namespace {

std::vector<std::pair<std::string, Stats>>& measurements() {
    static std::vector<std::pair<std::string, Stats>> m;
    return m;
}

std::vector<Result>& registry() {
    static std::vector<Result> r;
    return r;
}

std::vector<Skip>& skip_registry() {
    static std::vector<Skip> s;
    return s;
}

std::string jstr(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string jnum(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string fmt(double v) {
    if (!std::isfinite(v)) return "n/a";
    char buf[64];
    const double a = std::fabs(v);
    std::snprintf(buf, sizeof buf, a >= 100 ? "%.1f" : a >= 10 ? "%.2f" : a >= 0.1 ? "%.3f" : "%.3g", v);
    return buf;
}

std::string target_text(const Target& t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", t.value);
    return std::string(t.lower_is_better ? "< " : ">= ") + buf + " " + t.unit;
}

double quantile(const std::vector<double>& sorted, double q) {  // linear interpolation (numpy's default)
    const double pos = q * static_cast<double>(sorted.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

void fill_order_statistics(Stats& s) {
    s.rounds = static_cast<int>(s.samples.size());
    if (s.samples.empty()) return;
    std::vector<double> v = s.samples;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.median = quantile(v, 0.5);
    s.q1 = quantile(v, 0.25);
    s.q3 = quantile(v, 0.75);
    s.iqr = s.q3 - s.q1;
    if (!s.analysed) {  // no estimates from Catch2: the plain mean and sample standard deviation
        double sum = 0, ss = 0;
        for (double x : s.samples) sum += x;
        s.mean = sum / static_cast<double>(s.samples.size());
        for (double x : s.samples) ss += (x - s.mean) * (x - s.mean);
        s.stddev = s.samples.size() > 1 ? std::sqrt(ss / static_cast<double>(s.samples.size() - 1)) : 0.0;
    }
}

void record_benchmark(Stats s, const std::string& name) {
    fill_order_statistics(s);
    auto& m = measurements();
    auto it = std::find_if(m.begin(), m.end(), [&](const auto& x) { return x.first == name; });
    if (it != m.end())
        it->second = std::move(s);
    else
        m.emplace_back(name, std::move(s));
}

const Stats* measured(const std::string& name) {
    for (const auto& [n, s] : measurements())
        if (n == name) return &s;
    return nullptr;
}

void Result::add(const std::string& key, double value) { extra.emplace_back(key, jnum(value)); }

void Result::add_text(const std::string& key, const std::string& value) { extra.emplace_back(key, jstr(value)); }

double in_unit(double seconds, const std::string& unit) { return unit == "ms" ? seconds * 1e3 : seconds; }

bool take_stats(Result& r) {
    const Stats* s = measured(r.name);
    if (!s) {
        report_skip(r.name, r.category, "not measured (the BENCHMARK did not run: --skip-benchmarks or an error)");
        return false;
    }
    r.stats = *s;
    return true;
}

const Result& report(Result r) {
    const Stats& s = r.stats;
    const std::string& u = r.unit;
    std::string line = r.name + ": mean " + fmt(in_unit(s.mean, u)) + " " + u + " (";
    if (s.analysed && s.rounds > 1)
        line += std::to_string(static_cast<int>(std::lround(100 * s.confidence_interval))) + "% CI " +
                fmt(in_unit(s.mean_low, u)) + " .. " + fmt(in_unit(s.mean_high, u)) + "; ";
    line += "median " + fmt(in_unit(s.median, u)) + ", min " + fmt(in_unit(s.min, u)) + ", max " +
            fmt(in_unit(s.max, u)) + ", sd " + fmt(in_unit(s.stddev, u)) + "; " + std::to_string(s.rounds) +
            (s.rounds == 1 ? " sample" : " samples") +
            (s.iterations > 1 ? " of " + std::to_string(s.iterations) + " calls" : "") + ")" + r.detail;
    if (r.target) {
        const Target& t = *r.target;
        if (std::isnan(r.target_figure) && r.unmeasured.empty()) r.target_figure = in_unit(s.mean, t.unit);
        if (options().model != "large") {
            r.status = "NOT APPLICABLE";
            line +=
                "; target " + target_text(t) + " is for the large model, not judged (model " + options().model + ")";
        } else if (!r.unmeasured.empty() || !std::isfinite(r.target_figure)) {
            r.status = "NOT MEASURED";
            line += "; target " + target_text(t) + " NOT MEASURED (" +
                    (r.unmeasured.empty() ? "no figure" : r.unmeasured) + ")";
        } else {
            const bool pass = t.lower_is_better ? r.target_figure < t.value : r.target_figure >= t.value;
            r.status = pass ? "PASS" : "FAIL";
            line += "; target " + target_text(t) + " " + r.status;
        }
    } else {
        line += ", no target";
    }
    // std::cout, not printf: reporters that capture a test case's output (JUnit, XML) capture this line.
    std::cout << '\n' << line << std::endl;
    r.line = line;
    auto& reg = registry();
    auto it = std::find_if(reg.begin(), reg.end(), [&](const Result& x) { return x.name == r.name; });
    if (it != reg.end()) {
        *it = std::move(r);
        return *it;
    }
    reg.push_back(std::move(r));
    return reg.back();
}

void report_skip(const std::string& name, const std::string& category, const std::string& reason) {
    std::cout << name << ": SKIPPED (" << reason << ")" << std::endl;
    auto& s = skip_registry();
    auto it = std::find_if(s.begin(), s.end(), [&](const Skip& x) { return x.name == name; });
    if (it != s.end())
        *it = {name, category, reason};
    else
        s.push_back({name, category, reason});
}

const Result* find_result(const std::string& name) {
    for (const auto& r : registry())
        if (r.name == name) return &r;
    return nullptr;
}

const std::vector<Result>& results() { return registry(); }
const std::vector<Skip>& skips() { return skip_registry(); }

int missed_targets() {
    return static_cast<int>(
        std::count_if(registry().begin(), registry().end(), [](const Result& r) { return r.status == "FAIL"; }));
}

// ---- machine information ----

namespace {

std::string proc_field(const char* file, const std::string& key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, key.size(), key) == 0) {
            auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    return "";
}

std::string cpu_flags_of_interest() {
    std::istringstream flags(proc_field("/proc/cpuinfo", "flags"));
    const char* wanted[] = {"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile"};
    std::string flag, out;
    while (flags >> flag)
        for (const char* w : wanted)
            if (flag == w) out += (out.empty() ? "" : " ") + flag;
    return out;
}

std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#else
    return "unknown";
#endif
}

std::string utc_now() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

struct Machine {
    std::string cpu, cpu_flags, isa, os, compiler, build_type, commit, date, node, system, release, arch;
    int dirty = -1;  // tracked files differ from the commit at build time: 1, 0, or -1 unknown
    int cores = 0;
    double memory_gb = 0;
    GpuInfo gpu;
};

const Machine& machine() {
    static Machine m = [] {
        Machine m;
        m.cpu = proc_field("/proc/cpuinfo", "model name");
        m.cpu_flags = cpu_flags_of_interest();
        m.isa = run_time_isa();
        m.cores = static_cast<int>(std::thread::hardware_concurrency());
        m.memory_gb = std::atof(proc_field("/proc/meminfo", "MemTotal").c_str()) / (1024.0 * 1024.0);
        utsname u{};
        if (uname(&u) == 0) {
            m.os = std::string(u.sysname) + " " + u.release;
            m.node = u.nodename;
            m.system = u.sysname;
            m.release = u.release;
            m.arch = u.machine;
        }
        m.compiler = compiler();
        m.build_type = EEGPT_BENCH_BUILD_TYPE;
        m.commit = EEGPT_BENCH_GIT_COMMIT;
        m.dirty = EEGPT_BENCH_GIT_DIRTY;
        m.date = utc_now();
        m.gpu = gpu_info();
        return m;
    }();
    return m;
}

}  // namespace

std::string model_description() {
    return options().model + (options().weights.empty() ? " (random weights, seed 0)" : " (weights " + options().weights + ")");
}

std::string machine_summary() {
    const Machine& m = machine();
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "system: %s, %d cores (cpu flags: %s), %.1f GiB; build: %s, %s, engine ISA %s, commit %s\n"
                  "cpu peaks measured (register-only loops on every encoder thread): fp32 FMA %.0f GFLOP/s, bf16 %s, "
                  "int8 %.0f GOPS (%s)\n"
                  "gpu: %s\nmodel: %s, cpu %s, cpu threads %d, benchmark samples %s%s",
                  m.cpu.c_str(), m.cores, m.cpu_flags.c_str(), m.memory_gb, m.compiler.c_str(), m.build_type.c_str(),
                  m.isa.c_str(), (m.commit + (m.dirty == 1 ? " with uncommitted changes" : "")).c_str(),
                  cpu_fma_peak_gflops(),
                  std::isfinite(cpu_bf16_peak_gflops()) ? (fmt(cpu_bf16_peak_gflops()) + " GFLOP/s").c_str()
                                                        : "none (no AVX512_BF16)",
                  cpu_int8_peak_gops(), cpu_int8_kernel().c_str(),
                  m.gpu.present ? (m.gpu.name + ", " + fmt(m.gpu.memory_gb) + " GiB, CUDA " + m.gpu.cuda_runtime +
                                   ", cuBLAS " + m.gpu.cublas)
                                      .c_str()
                                : ("none (" + m.gpu.reason + ")").c_str(),
                  model_description().c_str(), options().cpu_precision.c_str(), options().threads > 0 ? options().threads : m.cores,
                  options().samples > 0 ? std::to_string(options().samples).c_str() : "per-case defaults",
                  options().strict ? ", strict" : "");
    return buf;
}

// The spec's layout, which is pytest-benchmark's: machine_info, commit_info, datetime, version and a
// list of benchmarks, each with pytest-benchmark's fields (stats in seconds) and the spec's name,
// mean, min, max, stddev and rounds at the top; what is ours (targets, status, ratios, GFLOP/s,
// Catch2's confidence intervals and outliers) goes in extra_info. Cases that did not run are listed
// under "skipped" (pytest-benchmark ignores keys it does not know).
void write_json(const std::string& path, const std::string& filter) {
    const Machine& m = machine();
    std::ostringstream o;
    std::string flags_list;
    {
        std::istringstream f(m.cpu_flags);
        std::string flag;
        while (f >> flag) flags_list += (flags_list.empty() ? "" : ", ") + jstr(flag);
    }
    o << "{\n  \"machine_info\": {\n"
      << "    \"node\": " << jstr(m.node) << ",\n"
      << "    \"processor\": " << jstr(m.cpu) << ",\n"
      << "    \"machine\": " << jstr(m.arch) << ",\n"
      << "    \"system\": " << jstr(m.system) << ",\n"
      << "    \"release\": " << jstr(m.release) << ",\n"
      << "    \"cpu\": {\"brand_raw\": " << jstr(m.cpu) << ", \"count\": " << m.cores << ", \"flags\": [" << flags_list
      << "]},\n"
      << "    \"cores\": " << m.cores << ",\n"
      << "    \"cpu_flags\": " << jstr(m.cpu_flags) << ",\n"
      << "    \"isa_build\": " << jstr(m.isa) << ",\n"
      << "    \"cpu_fma_peak_gflops\": " << jnum(cpu_fma_peak_gflops()) << ",\n"
      << "    \"cpu_bf16_peak_gflops\": " << jnum(cpu_bf16_peak_gflops()) << ",\n"
      << "    \"cpu_int8_peak_gops\": " << jnum(cpu_int8_peak_gops()) << ",\n"
      << "    \"cpu_int8_kernel\": " << jstr(cpu_int8_kernel()) << ",\n"
      << "    \"memory_gb\": " << jnum(m.memory_gb) << ",\n"
      << "    \"os\": " << jstr(m.os) << ",\n"
      << "    \"gpu\": " << (m.gpu.present ? jstr(m.gpu.name) : "null") << ",\n"
      << "    \"gpu_memory_gb\": " << (m.gpu.present ? jnum(m.gpu.memory_gb) : "null") << ",\n"
      << "    \"gpu_note\": " << jstr(m.gpu.present ? "" : m.gpu.reason) << ",\n"
      << "    \"cuda_runtime\": " << (m.gpu.cuda_runtime.empty() ? "null" : jstr(m.gpu.cuda_runtime)) << ",\n"
      << "    \"cublas\": " << (m.gpu.cublas.empty() ? "null" : jstr(m.gpu.cublas)) << ",\n"
      << "    \"compiler\": " << jstr(m.compiler) << ",\n"
      << "    \"build_type\": " << jstr(m.build_type) << "\n  },\n"
      << "  \"commit_info\": {\"id\": " << jstr(m.commit) << ", \"project\": \"eegpt\", \"dirty\": "
      << (m.dirty < 0 ? "null" : m.dirty ? "true" : "false") << "},\n"
      << "  \"datetime\": " << jstr(m.date) << ",\n"
      << "  \"version\": " << jstr(std::string("eegpt bench_eegpt, ") + EEGPT_BENCH_CATCH_VERSION) << ",\n"
      << "  \"config\": {\n"
      << "    \"model\": " << jstr(model_description()) << ",\n"
      << "    \"cpu_precision\": " << jstr(options().cpu_precision) << ",\n"
      << "    \"cpu_threads\": " << (options().threads > 0 ? options().threads : m.cores) << ",\n"
      << "    \"benchmark_samples\": " << options().samples << ",\n"
      << "    \"filter\": " << jstr(filter) << ",\n"
      << "    \"strict\": " << (options().strict ? "true" : "false") << "\n  },\n"
      << "  \"benchmarks\": [";
    bool first = true;
    for (const Result& r : registry()) {
        const Stats& s = r.stats;
        double total = 0;
        for (double v : s.samples) total += v * s.iterations;
        int sd_outliers = 0, iqr_outliers = 0;
        for (double v : s.samples) {
            sd_outliers += std::fabs(v - s.mean) > s.stddev && s.stddev > 0;
            iqr_outliers += v < s.q1 - 1.5 * s.iqr || v > s.q3 + 1.5 * s.iqr;
        }
        o << (first ? "\n" : ",\n") << "    {\"name\": " << jstr(r.name) << ", \"group\": " << jstr(r.category)
          << ", \"fullname\": " << jstr("bench_eegpt::" + s.test_case + "::" + r.name)
          << ", \"params\": null, \"param\": null,\n     \"mean\": " << jnum(s.mean) << ", \"min\": " << jnum(s.min)
          << ", \"max\": " << jnum(s.max) << ", \"stddev\": " << jnum(s.stddev) << ", \"rounds\": " << s.rounds
          << ", \"median\": " << jnum(s.median)
          << ",\n     \"options\": {\"timer\": \"Catch2 BENCHMARK\", \"samples\": " << s.rounds
          << "},\n     \"stats\": {\"min\": " << jnum(s.min) << ", \"max\": " << jnum(s.max)
          << ", \"mean\": " << jnum(s.mean) << ", \"stddev\": " << jnum(s.stddev) << ", \"rounds\": " << s.rounds
          << ", \"median\": " << jnum(s.median) << ", \"iqr\": " << jnum(s.iqr) << ", \"q1\": " << jnum(s.q1)
          << ", \"q3\": " << jnum(s.q3) << ", \"iqr_outliers\": " << iqr_outliers
          << ", \"stddev_outliers\": " << sd_outliers << ", \"outliers\": \"" << sd_outliers << ";" << iqr_outliers
          << "\", \"ops\": " << jnum(s.mean > 0 ? 1.0 / s.mean : kNaN) << ", \"total\": " << jnum(total)
          << ", \"iterations\": " << s.iterations << ", \"data\": [";
        for (size_t i = 0; i < s.samples.size(); ++i) o << (i ? ", " : "") << jnum(s.samples[i]);
        o << "]},\n     \"extra_info\": {\"category\": " << jstr(r.category) << ", \"unit\": " << jstr(r.unit)
          << ", \"better\": " << (r.better.empty() ? "null" : jstr(r.better))
          << ", \"status\": " << (r.status.empty() ? "null" : jstr(r.status)) << ", \"target\": ";
        if (r.target)
            o << "{\"key\": " << jstr(r.target->key) << ", \"value\": " << jnum(r.target->value)
              << ", \"unit\": " << jstr(r.target->unit)
              << ", \"better\": " << jstr(r.target->lower_is_better ? "lower" : "higher")
              << ", \"figure\": " << jnum(r.target_figure) << ", \"model\": \"large\""
              << (r.unmeasured.empty() ? "" : ", \"not_measured\": " + jstr(r.unmeasured)) << "}";
        else
            o << "null";
        o << ",\n       \"catch2\": {\"analysed\": " << (s.analysed ? "true" : "false")
          << ", \"mean_low\": " << jnum(s.mean_low) << ", \"mean_high\": " << jnum(s.mean_high)
          << ", \"stddev_low\": " << jnum(s.stddev_low) << ", \"stddev_high\": " << jnum(s.stddev_high)
          << ", \"confidence_interval\": " << jnum(s.confidence_interval)
          << ", \"outliers\": {\"low_severe\": " << s.low_severe << ", \"low_mild\": " << s.low_mild
          << ", \"high_mild\": " << s.high_mild << ", \"high_severe\": " << s.high_severe
          << "}, \"outlier_variance\": " << jnum(s.outlier_variance) << "}";
        o << ",\n       \"figures\": [";
        for (size_t i = 0; i < r.figures.size(); ++i) {
            const Figure& f = r.figures[i];
            o << (i ? ", " : "") << "{\"key\": " << jstr(f.key) << ", \"unit\": " << jstr(f.unit)
              << ", \"better\": " << jstr(f.better) << ", \"median\": " << jnum(f.median)
              << ", \"min\": " << jnum(f.min) << ", \"max\": " << jnum(f.max) << "}";
        }
        o << "]";
        for (const auto& [key, value] : r.extra) o << ", " << jstr(key) << ": " << value;
        o << ",\n       \"line\": " << jstr(r.line) << "}}";
        first = false;
    }
    o << "\n  ],\n  \"skipped\": [";
    first = true;
    for (const Skip& k : skip_registry()) {
        o << (first ? "\n" : ",\n") << "    {\"name\": " << jstr(k.name) << ", \"group\": " << jstr(k.category)
          << ", \"reason\": " << jstr(k.reason) << "}";
        first = false;
    }
    o << "\n  ]\n}\n";
    std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << o.str();
    }
    std::filesystem::rename(tmp, path);
}

// ---- processes and memory ----

std::string run_command(const std::string& command, int* status) {
    std::string out;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) {
        *status = -1;
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    *status = pclose(pipe);
    return out;
}

std::string run_command_talking(const std::string& command,
                                const std::function<void(const std::string&, const SendLine&)>& on_line, int* status) {
    std::string out;
    int to_child[2], from_child[2];
    *status = -1;
    if (pipe(to_child) != 0) return out;
    if (pipe(from_child) != 0) {
        close(to_child[0]);
        close(to_child[1]);
        return out;
    }
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    if (pid < 0) {
        close(to_child[1]);
        close(from_child[0]);
        return out;
    }
    // A child that has exited makes a write fail with EPIPE, not kill the bench.
    void (*previous)(int) = signal(SIGPIPE, SIG_IGN);
    FILE* in = fdopen(from_child[0], "r");
    char* text = nullptr;
    size_t capacity = 0;
    ssize_t n;
    bool listening = true;
    const SendLine send = [&](const std::string& line) {
        const std::string sent = line + "\n";
        listening = listening && write(to_child[1], sent.data(), sent.size()) == static_cast<ssize_t>(sent.size());
        return listening;
    };
    while (in && (n = getline(&text, &capacity, in)) > 0) {
        out.append(text, static_cast<size_t>(n));
        std::string line(text, static_cast<size_t>(n));
        if (!line.empty() && line.back() == '\n') line.pop_back();
        on_line(line, send);
    }
    std::free(text);
    if (in) std::fclose(in);
    else close(from_child[0]);
    close(to_child[1]);
    int wstatus = 0;
    if (waitpid(pid, &wstatus, 0) == pid) *status = wstatus;
    signal(SIGPIPE, previous);
    return out;
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

long current_rss_kb() {
    long pages_total = 0, pages_resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = -1;
    std::fclose(f);
    return pages_resident < 0 ? -1 : pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

long peak_rss_kb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;  // Linux: kilobytes
}

}  // namespace bench
