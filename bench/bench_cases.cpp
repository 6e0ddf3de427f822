// The benchmark cases. Tags: one category each ([single-window], [batch], [recording], [memory],
// [comparison]); [gpu] on GPU cases; [slow] on cases that take more than a few seconds with the large
// model on a 2-core CPU; [quick] on the fast subset. Each result prints one line (bench_util.h).
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../test/catch_compat.h"
#include "bench_util.h"
#include "gpu.h"
#include "synthetic.h"
#include "workloads.h"

using namespace bench;

namespace {

std::string shape(int channels, int samples) { return std::to_string(channels) + "ch " + std::to_string(samples); }

// Times encode on one input of the given shape and reports it; returns the median in ms.
double encode_case(const std::string& name, const std::string& category, eegpt::Encoder& encoder, int batch,
                   int channels, int samples, int default_rounds, const Target* target) {
    const std::vector<float> x = eegpt::synthetic_eeg_windows(batch, channels, samples, 1);
    const std::vector<int> ids = channel_ids(channels);
    std::vector<float> out(encoder.output_size(batch, samples), std::nanf(""));
    Result r;
    r.name = name;
    r.category = category;
    r.unit = "ms";
    r.target = target;
    r.samples = time_ms(rounds_for(default_rounds),
                        [&] { encoder.encode(x.data(), batch, channels, samples, ids.data(), out.data()); });
    REQUIRE(output_is_complete(encoder, out, batch, samples));
    const double per_window = summarize(r.samples).median / batch;
    r.extra = {{"batch", batch}, {"per_window_ms", per_window}};
    char detail[160] = "";
    if (batch > 1) std::snprintf(detail, sizeof detail, ", %d windows: %.1f ms per window", batch, per_window);
    r.detail = detail;
    if (encoder.device() == eegpt::Device::cpu) {
        // The roofline: achieved GFLOP/s against the FMA ceiling measured on this machine.
        const double gflops = flops_per_window(encoder.config(), channels, samples) / (per_window * 1e6);
        const bool bf16 = encoder.precision() == eegpt::Precision::bf16;
        const double peak = bf16 ? cpu_bf16_peak_gflops() : cpu_fma_peak_gflops();
        std::snprintf(detail, sizeof detail, ", %.0f GFLOP/s = %.0f%% of the measured %s %s peak (%.0f GFLOP/s)",
                      gflops, 100.0 * gflops / peak, encoder.isa().c_str(), bf16 ? "bf16 dot-product" : "fp32 FMA",
                      peak);
        r.detail += detail;
        r.extra.push_back({"gflops", gflops});
        r.extra.push_back({"fraction_of_fma_peak", gflops / peak});
    }
    return report(r).stats.median;
}

void single_window_cpu(int channels, int samples, int rounds) {
    encode_case("single-window cpu " + shape(channels, samples), "single-window", cpu_encoder(), 1, channels, samples,
                rounds, &kSingleWindowCpu);
}

std::string batch_name(const std::string& device, int batch) {
    return "batch " + device + " 19ch 1024 x" + std::to_string(batch);
}

void recording_case(eegpt::Encoder& encoder, const std::string& device, int minutes, int default_rounds) {
    const int C = kRecordingChannels, total = minutes * 60 * kSampleRate, windows = recording_windows(minutes);
    if (minutes == 20) REQUIRE(windows == 599);
    const std::vector<float> signal = eegpt::synthetic_eeg_windows(1, C, total, 7);  // in memory before timing
    std::vector<float> features;
    // Warm-up: one window (threads, code, workspace), not a whole recording.
    const std::vector<float> warm_x = eegpt::synthetic_eeg_windows(1, C, kWindow, 1);
    const std::vector<int> ids = channel_ids(C);
    std::vector<float> warm_out(encoder.output_size(1, kWindow));
    Result r;
    r.name = "recording " + device + " " + std::to_string(minutes) + " min 19ch";
    r.category = "recording";
    r.unit = "s";
    for (double ms : time_ms(
             rounds_for(default_rounds), [&] { features = encode_recording(encoder, signal, C, total); },
             [&] { encoder.encode(warm_x.data(), 1, C, kWindow, ids.data(), warm_out.data()); }))
        r.samples.push_back(ms / 1000.0);
    REQUIRE(output_is_complete(encoder, features, windows, kWindow));
    const double median_s = summarize(r.samples).median, x_real_time = minutes * 60.0 / median_s;
    char detail[160];
    std::snprintf(detail, sizeof detail, ", %d windows (4 s, 2 s stride, batches of %d): %.1fx real time", windows,
                  kRecordingBatch, x_real_time);
    r.detail = detail;
    r.extra = {{"minutes", minutes}, {"windows", windows}, {"x_real_time", x_real_time}};
    if (minutes == 20) {
        r.target = &kRecording20Min;
    } else {
        r.target = &kThroughput;
        r.target_figure = x_real_time;
    }
    report(r);
}

struct Probe {
    double peak_mb = 0, start_mb = 0, after_mb = 0, heap_after_mb = 0, gpu_mb = 0, seconds = 0;
};

// Runs this program again with --memory-probe, so the peak is that of a fresh process doing only this.
bool run_probe(const std::string& mode, const std::string& device, Probe& p, std::string& why) {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        why = "cannot find this executable";
        return false;
    }
    exe[n] = '\0';
    const std::string cmd = shell_quote(exe) + " --memory-probe " + mode + " --device " + device + " --model " +
                            shell_quote(options().model) + " --threads " + std::to_string(options().threads);
    int status = 0;
    const std::string out = run_command(cmd, &status);
    long peak = 0, start = 0, after = 0;
    double heap = 0, gpu = 0, seconds = 0;
    if (status != 0 || std::sscanf(out.c_str(),
                                   "peak_rss_kb=%ld start_rss_kb=%ld after_rss_kb=%ld heap_after_bytes=%lf "
                                   "gpu_bytes=%lf seconds=%lf",
                                   &peak, &start, &after, &heap, &gpu, &seconds) != 6) {
        why = "memory probe failed (exit status " + std::to_string(status) + "): " + out;
        return false;
    }
    p = {peak / 1024.0, start / 1024.0, after / 1024.0, heap / (1024.0 * 1024.0), gpu / (1024.0 * 1024.0), seconds};
    return true;
}

void memory_case(const std::string& mode, const std::string& label) {
    Probe p;
    std::string why;
    REQUIRE(run_probe(mode, "cpu", p, why));
    Result peak;
    peak.name = "memory cpu " + label + " peak RSS";
    peak.category = "memory";
    peak.unit = "MB";
    peak.samples = {p.peak_mb};
    peak.target = &kPeakMemory;
    char detail[200];
    std::snprintf(detail, sizeof detail, ", fresh process (%.1f MB at start), ru_maxrss", p.start_mb);
    peak.detail = detail;
    peak.extra = {{"start_mb", p.start_mb}, {"seconds", p.seconds}};
    report(peak);
    Result after;
    after.name = "memory cpu " + label + " RSS after engine destroyed";
    after.category = "memory";
    after.unit = "MB";
    after.samples = {p.after_mb};
    std::snprintf(detail, sizeof detail, ", returned %.1f of %.1f MB peak (malloc_trim); heap still in use %.3f MB",
                  p.peak_mb - p.after_mb, p.peak_mb, p.heap_after_mb);
    after.detail = detail;
    after.extra = {{"returned_mb", p.peak_mb - p.after_mb}, {"heap_in_use_mb", p.heap_after_mb}};
    report(after);
}

// Largest |a - b| relative to the largest |b|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
        scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

void write_floats(const std::string& path, const std::vector<float>& v) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

}  // namespace

// ---------------------------------------------------------------- single window

TEST_CASE("single window cpu 19ch 1024", "[single-window][quick]") { single_window_cpu(19, 1024, 5); }
TEST_CASE("single window cpu 19ch 512", "[single-window][quick]") { single_window_cpu(19, 512, 5); }
TEST_CASE("single window cpu 58ch 1024", "[single-window]") { single_window_cpu(58, 1024, 3); }
TEST_CASE("single window cpu 58ch 512", "[single-window]") { single_window_cpu(58, 512, 3); }

TEST_CASE("single window gpu", "[single-window][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("single-window gpu", "single-window", why);
        EEGPT_SKIP(why);
    }
    for (int channels : {19, 58})
        for (int samples : {512, 1024})
            encode_case("single-window gpu " + shape(channels, samples), "single-window", *gpu, 1, channels, samples,
                        20, &kSingleWindowGpu);
}

// ---------------------------------------------------------------- batch

TEST_CASE("batch cpu 1, 4", "[batch][quick]") {
    for (int b : {1, 4}) encode_case(batch_name("cpu", b), "batch", cpu_encoder(), b, 19, 1024, 3, nullptr);
}

TEST_CASE("batch cpu 8, 16, 32, 64 and batch efficiency", "[batch][slow]") {
    for (int b : {8, 16, 32, 64}) encode_case(batch_name("cpu", b), "batch", cpu_encoder(), b, 19, 1024, 2, nullptr);
    const Result* one = find_result(batch_name("cpu", 1));
    const double t1 =
        one ? one->stats.median : encode_case(batch_name("cpu", 1), "batch", cpu_encoder(), 1, 19, 1024, 3, nullptr);
    Result r;
    r.name = "batch efficiency cpu 19ch 1024 (per-window time at 1 / at 32)";
    r.category = "batch";
    r.unit = "x";
    r.better = "higher";
    r.samples = {t1 / (find_result(batch_name("cpu", 32))->stats.median / 32.0)};
    r.detail = ", medians of the batch 1 and batch 32 cases";
    report(r);
}

TEST_CASE("batch gpu 1 .. 64", "[batch][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("batch gpu", "batch", why);
        EEGPT_SKIP(why);
    }
    for (int b : {1, 4, 8, 16, 32, 64}) encode_case(batch_name("gpu", b), "batch", *gpu, b, 19, 1024, 20, nullptr);
}

// ---------------------------------------------------------------- recording

TEST_CASE("recording cpu 1 min", "[recording][quick]") { recording_case(cpu_encoder(), "cpu", 1, 1); }
TEST_CASE("recording cpu 5 min", "[recording][slow]") { recording_case(cpu_encoder(), "cpu", 5, 1); }
TEST_CASE("recording cpu 10 min", "[recording][slow]") { recording_case(cpu_encoder(), "cpu", 10, 1); }
TEST_CASE("recording cpu 20 min", "[recording][slow]") { recording_case(cpu_encoder(), "cpu", 20, 1); }

TEST_CASE("recording gpu 1, 5, 10, 20 min", "[recording][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("recording gpu", "recording", why);
        EEGPT_SKIP(why);
    }
    for (int minutes : {1, 5, 10, 20}) recording_case(*gpu, "gpu", minutes, 3);
}

// ---------------------------------------------------------------- memory

TEST_CASE("memory cpu one window", "[memory][quick]") { memory_case("window", "one window 19ch 1024"); }
TEST_CASE("memory cpu 20 min recording", "[memory][slow]") { memory_case("recording", "20 min recording"); }

TEST_CASE("memory gpu", "[memory][gpu]") {
    std::string why;
    if (!gpu_encoder(why)) {
        report_skip("memory gpu", "memory", why);
        EEGPT_SKIP(why);
    }
    for (const std::string mode : {"window", "recording"}) {
        Probe p;
        REQUIRE(run_probe(mode, "cuda", p, why));
        Result r;
        r.name = "memory gpu " + mode + " device memory";
        r.category = "memory";
        r.unit = "MB";
        r.samples = {p.gpu_mb};
        r.target = &kPeakMemory;
        r.detail =
            ", device memory held by the engine after encoding (cudaMemGetInfo difference; the arena keeps its peak)";
        report(r);
    }
}

// ---------------------------------------------------------------- comparison

TEST_CASE("comparison cpu batch vs one-by-one", "[comparison][quick]") {
    constexpr int kWindows = 4, C = 19, T = 1024;
    eegpt::Encoder& enc = cpu_encoder();
    const std::vector<float> x = eegpt::synthetic_eeg_windows(kWindows, C, T, 3);
    const std::vector<int> ids = channel_ids(C);
    const size_t per = enc.output_size(1, T);
    std::vector<float> batched(per * kWindows), single(per * kWindows);
    const int rounds = rounds_for(2);
    auto t_batch = time_ms(rounds, [&] { enc.encode(x.data(), kWindows, C, T, ids.data(), batched.data()); });
    auto t_single = time_ms(rounds, [&] {
        for (int w = 0; w < kWindows; ++w)
            enc.encode(&x[static_cast<size_t>(w) * C * T], 1, C, T, ids.data(), &single[per * static_cast<size_t>(w)]);
    });
    REQUIRE(relative_difference(single, batched) < 1e-5);
    Result r;
    r.name = "comparison cpu 4 windows one-by-one / one batch of 4";
    r.category = "comparison";
    r.unit = "x";
    r.better = "";  // a ratio of two of our timings: not a regression figure
    for (int i = 0; i < rounds; ++i)
        r.samples.push_back(t_single[static_cast<size_t>(i)] / t_batch[static_cast<size_t>(i)]);
    char detail[160];
    std::snprintf(detail, sizeof detail, " (batch %.1f ms, one-by-one %.1f ms; outputs equal within 1e-5)",
                  summarize(t_batch).median, summarize(t_single).median);
    r.detail = detail;
    r.extra = {{"batch_ms", summarize(t_batch).median}, {"one_by_one_ms", summarize(t_single).median}};
    report(r);
}

TEST_CASE("comparison peers: PyTorch reference and ONNX Runtime on cpu", "[comparison][slow]") {
    if (!options().peers) {
        report_skip("peers", "comparison", "--no-peers");
        return;
    }
    struct Case {
        int batch, channels, samples;
    };
    // One window (latency) and a batch of 32 (throughput), the two figures the issues compare.
    const std::vector<Case> cases = {{1, 19, 1024}, {32, 19, 1024}};
    const int rounds = rounds_for(2);
    char tmpl[] = "/tmp/eegpt_peers_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    eegpt::save_weights(*model_weights(), dir + "/weights.h5");
    eegpt::Encoder& enc = cpu_encoder();
    const std::vector<int> ids = channel_ids(19);
    std::string ids_csv, case_args;
    for (int id : ids) ids_csv += (ids_csv.empty() ? "" : ",") + std::to_string(id);
    std::vector<double> ours;
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        const std::string label = "cpu " + shape(c.channels, c.samples) + " x" + std::to_string(c.batch);
        const std::vector<float> x = eegpt::synthetic_eeg_windows(c.batch, c.channels, c.samples, 11 + i);
        std::vector<float> out(enc.output_size(c.batch, c.samples));
        const std::string xs = dir + "/x" + std::to_string(i) + ".f32", os = dir + "/ours" + std::to_string(i) + ".f32";
        Result r;
        r.name = "peer ours " + label;
        r.category = "comparison";
        r.unit = "ms";
        r.samples =
            time_ms(rounds, [&] { enc.encode(x.data(), c.batch, c.channels, c.samples, ids.data(), out.data()); });
        r.detail = ", this engine (fp32) on the inputs given to the peers";
        ours.push_back(report(r).stats.median);
        write_floats(xs, x);
        write_floats(os, out);
        case_args += " --case " + shell_quote(xs + "," + std::to_string(c.batch) + "," + std::to_string(c.channels) +
                                              "," + std::to_string(c.samples) + "," + os);
    }
    const std::string cmd = shell_quote(options().python) + " " +
                            shell_quote(options().source_dir + "/tools/peer_bench.py") + " --weights " +
                            shell_quote(dir + "/weights.h5") + " --channels " + ids_csv + " --rounds " +
                            std::to_string(rounds) + " --threads 2" + case_args + " 2>&1";
    int status = 0;
    const std::string out = run_command(cmd, &status);
    std::filesystem::remove_all(dir);
    bool any = false;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind("peer=", 0) != 0) continue;
        any = true;
        std::map<std::string, std::string> kv;
        std::istringstream words(line);
        std::string word;
        while (words >> word) {
            const auto eq = word.find('=');
            if (eq != std::string::npos) kv[word.substr(0, eq)] = word.substr(eq + 1);
        }
        const std::string peer = kv["peer"];
        if (kv.count("skipped")) {
            report_skip("peer " + peer, "comparison", kv["skipped"]);
            continue;
        }
        const size_t i = static_cast<size_t>(std::atoi(kv["case"].c_str()));
        const Case& c = cases.at(i);
        Result r;
        r.name = "peer " + peer + " cpu " + shape(c.channels, c.samples) + " x" + std::to_string(c.batch);
        r.category = "comparison";
        r.unit = "ms";
        r.better = "";  // someone else's time: not a regression figure of ours
        std::istringstream ms(kv["samples_ms"]);
        std::string v;
        while (std::getline(ms, v, ',')) r.samples.push_back(std::atof(v.c_str()));
        const double ratio = summarize(r.samples).median / ours[i];
        char detail[200];
        std::snprintf(detail, sizeof detail, " = %.2fx ours (%.1f ms), %s %s fp32, 2 threads, max |diff| vs ours %s",
                      ratio, ours[i], peer.c_str(), kv["version"].c_str(), kv["max_abs_diff"].c_str());
        r.detail = detail;
        r.extra = {{"ratio_to_ours", ratio},
                   {"ours_median_ms", ours[i]},
                   {"max_abs_diff", std::atof(kv["max_abs_diff"].c_str())}};
        report(r);
    }
    if (!any)
        report_skip("peers", "comparison",
                    "peer_bench.py gave no result (status " + std::to_string(status) + "): " + out.substr(0, 300));
}

TEST_CASE("comparison cpu vs gpu", "[comparison][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("comparison cpu vs gpu", "comparison", why);
        EEGPT_SKIP(why);
    }
    constexpr int B = 8, C = 19, T = 1024;
    const std::vector<float> x = eegpt::synthetic_eeg_windows(B, C, T, 5);
    const std::vector<int> ids = channel_ids(C);
    std::vector<float> cpu_out(cpu_encoder().output_size(B, T)), gpu_out(cpu_out.size());
    const int rounds = rounds_for(3);
    const double cpu_ms =
        summarize(time_ms(rounds, [&] { cpu_encoder().encode(x.data(), B, C, T, ids.data(), cpu_out.data()); })).median;
    const auto gpu_ms = time_ms(rounds, [&] { gpu->encode(x.data(), B, C, T, ids.data(), gpu_out.data()); });
    const double tolerance = 1e-4;  // fp32 on both sides; relative to the largest feature
    const double diff = relative_difference(gpu_out, cpu_out);
    CHECK(diff < tolerance);
    Result r;
    r.name = "comparison gpu speedup over cpu 19ch 1024 x8";
    r.category = "comparison";
    r.unit = "x";
    r.better = "higher";
    r.target = &kGpuSpeedup;
    for (double g : gpu_ms) r.samples.push_back(cpu_ms / g);
    char detail[160];
    std::snprintf(detail, sizeof detail, " (cpu %.1f ms, gpu %.2f ms; outputs differ by %.2g relative, bound %.0e)",
                  cpu_ms, summarize(gpu_ms).median, diff, tolerance);
    r.detail = detail;
    r.extra = {{"cpu_ms", cpu_ms}, {"gpu_ms", summarize(gpu_ms).median}, {"relative_difference", diff}};
    report(r);

    std::vector<double> h2d, d2h;
    const size_t in_bytes = static_cast<size_t>(64) * C * T * sizeof(float);
    REQUIRE(time_transfers(in_bytes, rounds_for(10), h2d, d2h, why));
    for (auto& [dir, ms] :
         {std::make_pair(std::string("host to device"), h2d), std::make_pair(std::string("device to host"), d2h)}) {
        Result t;
        t.name = "comparison transfer " + dir + " 64 windows 19ch 1024 (" + std::to_string(in_bytes >> 20) + " MB)";
        t.category = "comparison";
        t.unit = "ms";
        t.samples = ms;
        t.detail = ", pageable host memory, synchronous cudaMemcpy";
        report(t);
    }
}
