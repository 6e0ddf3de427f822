#include "bench_util.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "gpu.h"
#include "workloads.h"

namespace bench {

Options& options() {
    static Options o;
    return o;
}

int rounds_for(int default_rounds) { return options().rounds > 0 ? options().rounds : default_rounds; }

Stats summarize(std::vector<double> samples) {
    Stats s;
    s.rounds = static_cast<int>(samples.size());
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    const size_t n = samples.size();
    s.min = samples.front();
    s.max = samples.back();
    s.median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    double sum = 0;
    for (double v : samples) sum += v;
    s.mean = sum / static_cast<double>(n);
    double ss = 0;
    for (double v : samples) ss += (v - s.mean) * (v - s.mean);
    s.stddev = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
    return s;
}

std::vector<double> time_ms(int rounds, const std::function<void()>& fn, const std::function<void()>& warmup) {
    if (warmup)
        warmup();
    else
        fn();
    std::vector<double> ms;
    for (int r = 0; r < rounds; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        fn();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return ms;
}

namespace {

std::vector<Result>& registry() {
    static std::vector<Result> r;
    return r;
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

void store(Result r) {
    auto& reg = registry();
    auto it = std::find_if(reg.begin(), reg.end(), [&](const Result& x) { return x.name == r.name; });
    if (it != reg.end())
        *it = std::move(r);
    else
        reg.push_back(std::move(r));
}

}  // namespace

const Result& report(Result r) {
    r.stats = summarize(r.samples);
    const Stats& s = r.stats;
    std::string line = r.name + ": median " + fmt(s.median) + " " + r.unit;
    if (s.rounds > 1)
        line += " (min " + fmt(s.min) + ", max " + fmt(s.max) + "; mean " + fmt(s.mean) + " +- " + fmt(s.stddev) +
                ", " + std::to_string(s.rounds) + " rounds)";
    else
        line += " (1 round)";
    line += r.detail;
    if (r.target) {
        if (std::isnan(r.target_figure)) r.target_figure = s.median;
        const bool pass =
            r.target->lower_is_better ? r.target_figure < r.target->value : r.target_figure >= r.target->value;
        r.status = pass ? "PASS" : "FAIL";
        line += " target " + target_text(*r.target) + " " + r.status;
    } else {
        line += ", no target";
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    r.line = line;
    const std::string name = r.name;
    store(std::move(r));
    return *find_result(name);
}

void report_skip(const std::string& name, const std::string& category, const std::string& reason) {
    Result r;
    r.name = name;
    r.category = category;
    r.skipped = reason;
    r.status = "SKIP";
    r.better = "";
    r.line = name + ": SKIPPED (" + reason + ")";
    std::printf("%s\n", r.line.c_str());
    std::fflush(stdout);
    store(std::move(r));
}

const Result* find_result(const std::string& name) {
    for (const auto& r : registry())
        if (r.name == name) return &r;
    return nullptr;
}

const std::vector<Result>& results() { return registry(); }

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
    std::string cpu, cpu_flags, isa, os, compiler, build_type, commit, date;
    int cores = 0;
    double memory_gb = 0;
    GpuInfo gpu;
};

const Machine& machine() {
    static Machine m = [] {
        Machine m;
        m.cpu = proc_field("/proc/cpuinfo", "model name");
        m.cpu_flags = cpu_flags_of_interest();
        m.isa = build_isa();
        m.cores = static_cast<int>(std::thread::hardware_concurrency());
        m.memory_gb = std::atof(proc_field("/proc/meminfo", "MemTotal").c_str()) / (1024.0 * 1024.0);
        utsname u{};
        if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release;
        m.compiler = compiler();
        m.build_type = EEGPT_BENCH_BUILD_TYPE;
        m.commit = EEGPT_BENCH_GIT_COMMIT;
        m.date = utc_now();
        m.gpu = gpu_info();
        return m;
    }();
    return m;
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

}  // namespace

std::string machine_summary() {
    const Machine& m = machine();
    char buf[1024];
    std::snprintf(buf, sizeof buf,
                  "system: %s, %d cores (cpu flags: %s), %.1f GiB; build: %s, %s, engine ISA %s, commit %s\n"
                  "cpu peaks measured (register-only loops on every encoder thread): fp32 FMA %.0f GFLOP/s, bf16 %s\n"
                  "gpu: %s\nmodel: %s (random weights, seed 0), cpu %s, cpu threads %d, rounds %s%s",
                  m.cpu.c_str(), m.cores, m.cpu_flags.c_str(), m.memory_gb, m.compiler.c_str(), m.build_type.c_str(),
                  m.isa.c_str(), m.commit.c_str(), cpu_fma_peak_gflops(),
                  std::isfinite(cpu_bf16_peak_gflops()) ? (fmt(cpu_bf16_peak_gflops()) + " GFLOP/s").c_str()
                                                        : "none (no AVX512_BF16)",
                  m.gpu.present ? (m.gpu.name + ", " + fmt(m.gpu.memory_gb) + " GiB, CUDA " + m.gpu.cuda_runtime +
                                   ", cuBLAS " + m.gpu.cublas)
                                      .c_str()
                                : ("none (" + m.gpu.reason + ")").c_str(),
                  options().model.c_str(), options().cpu_precision.c_str(), options().threads > 0 ? options().threads : m.cores,
                  options().rounds > 0 ? std::to_string(options().rounds).c_str() : "per-case defaults",
                  options().strict ? ", strict" : "");
    return buf;
}

void write_json(const std::string& path, const std::string& filter) {
    const Machine& m = machine();
    std::ostringstream o;
    o << "{\n  \"machine\": {\n"
      << "    \"cpu\": " << jstr(m.cpu) << ",\n"
      << "    \"cores\": " << m.cores << ",\n"
      << "    \"cpu_flags\": " << jstr(m.cpu_flags) << ",\n"
      << "    \"isa_build\": " << jstr(m.isa) << ",\n"
      << "    \"cpu_fma_peak_gflops\": " << jnum(cpu_fma_peak_gflops()) << ",\n"
      << "    \"cpu_bf16_peak_gflops\": " << jnum(cpu_bf16_peak_gflops()) << ",\n"
      << "    \"memory_gb\": " << jnum(m.memory_gb) << ",\n"
      << "    \"os\": " << jstr(m.os) << ",\n"
      << "    \"gpu\": " << (m.gpu.present ? jstr(m.gpu.name) : "null") << ",\n"
      << "    \"gpu_memory_gb\": " << (m.gpu.present ? jnum(m.gpu.memory_gb) : "null") << ",\n"
      << "    \"gpu_note\": " << jstr(m.gpu.present ? "" : m.gpu.reason) << ",\n"
      << "    \"cuda_runtime\": " << (m.gpu.cuda_runtime.empty() ? "null" : jstr(m.gpu.cuda_runtime)) << ",\n"
      << "    \"cublas\": " << (m.gpu.cublas.empty() ? "null" : jstr(m.gpu.cublas)) << ",\n"
      << "    \"compiler\": " << jstr(m.compiler) << ",\n"
      << "    \"build_type\": " << jstr(m.build_type) << ",\n"
      << "    \"git_commit\": " << jstr(m.commit) << ",\n"
      << "    \"date\": " << jstr(m.date) << "\n  },\n"
      << "  \"config\": {\n"
      << "    \"model\": " << jstr(options().model + " (random weights, seed 0)") << ",\n"
      << "    \"cpu_threads\": " << (options().threads > 0 ? options().threads : m.cores) << ",\n"
      << "    \"rounds_override\": " << options().rounds << ",\n"
      << "    \"filter\": " << jstr(filter) << ",\n"
      << "    \"strict\": " << (options().strict ? "true" : "false") << "\n  },\n"
      << "  \"benchmarks\": {";
    bool first = true;
    for (const Result& r : registry()) {
        o << (first ? "\n" : ",\n") << "    " << jstr(r.name) << ": {\"category\": " << jstr(r.category);
        first = false;
        if (!r.skipped.empty()) {
            o << ", \"status\": \"SKIP\", \"skipped\": " << jstr(r.skipped) << ", \"line\": " << jstr(r.line) << "}";
            continue;
        }
        const Stats& s = r.stats;
        o << ", \"unit\": " << jstr(r.unit) << ", \"rounds\": " << s.rounds << ", \"mean\": " << jnum(s.mean)
          << ", \"median\": " << jnum(s.median) << ", \"min\": " << jnum(s.min) << ", \"max\": " << jnum(s.max)
          << ", \"stddev\": " << jnum(s.stddev) << ", \"better\": " << (r.better.empty() ? "null" : jstr(r.better))
          << ", \"samples\": [";
        for (size_t i = 0; i < r.samples.size(); ++i) o << (i ? ", " : "") << jnum(r.samples[i]);
        o << "], \"target\": ";
        if (r.target)
            o << "{\"key\": " << jstr(r.target->key) << ", \"value\": " << jnum(r.target->value)
              << ", \"unit\": " << jstr(r.target->unit)
              << ", \"better\": " << jstr(r.target->lower_is_better ? "lower" : "higher")
              << ", \"figure\": " << jnum(r.target_figure) << "}";
        else
            o << "null";
        o << ", \"status\": " << (r.status.empty() ? "null" : jstr(r.status));
        if (!r.extra.empty()) {
            o << ", \"extra\": {";
            for (size_t i = 0; i < r.extra.size(); ++i)
                o << (i ? ", " : "") << jstr(r.extra[i].first) << ": " << jnum(r.extra[i].second);
            o << "}";
        }
        o << ", \"line\": " << jstr(r.line) << "}";
    }
    o << "\n  }\n}\n";
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
