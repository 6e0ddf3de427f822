// The benchmark cases. Tags: one category each ([single-window], [batch], [recording], [memory],
// [comparison]); [gpu] on GPU cases; [slow] on cases that take more than a few seconds with the large
// model on a 2-core CPU; [quick] on the fast subset. Every timed case is a Catch2 BENCHMARK, with a
// default sample count that fits its cost (--benchmark-samples overrides them all); the listener of
// bench_main.cpp hands Catch2's statistics to bench_util, and each result prints one line.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench_util.h"
#include "catch_bench.h"
#include "gpu.h"
#include "synthetic.h"
#include "workloads.h"

using namespace bench;

namespace {

// The BENCHMARKs of the rest of the scope take `samples` samples, unless --benchmark-samples was given.
class DefaultSamples {
public:
    explicit DefaultSamples(int samples) {
        if (options().samples <= 0) scope_ = std::make_unique<CatchSamplesScope>(session_config(), samples);
    }

private:
    std::unique_ptr<CatchSamplesScope> scope_;
};

// Reports the result; under --strict its target is a CHECK, so that a missed target is a failed
// assertion in every Catch2 report (console, XML, JUnit).
const Result& finish(Result r) {
    const Result& out = report(std::move(r));
    if (options().strict && out.target) {
        INFO(out.line);
        CHECK(out.status != "FAIL");
    }
    return out;
}

std::string shape(int channels, int samples) { return std::to_string(channels) + "ch " + std::to_string(samples); }

// Benchmarks encode on one input of the given shape and reports it (nullptr when the BENCHMARK did not
// run); `more` adds to the result before it is reported.
const Result* encode_case(const std::string& name, const std::string& category, eegpt::Encoder& encoder, int batch,
                          int channels, int samples, int default_samples, const Target* target,
                          const std::function<void(Result&)>& more = {}) {
    const std::vector<float> x = eegpt::synthetic_eeg_windows(batch, channels, samples, 1);
    const std::vector<int> ids = channel_ids(channels);
    std::vector<float> out(encoder.output_size(batch, samples), std::nanf(""));
    {
        DefaultSamples scope(default_samples);
        BENCHMARK(std::string(name)) { encoder.encode(x.data(), batch, channels, samples, ids.data(), out.data()); };
    }
    Result r;
    r.name = name;
    r.category = category;
    r.target = target;
    if (!take_stats(r)) return nullptr;
    REQUIRE(output_is_complete(encoder, out, batch, samples));
    const double per_window = r.stats.mean * 1e3 / batch;
    r.add("batch", batch);
    r.add("per_window_ms", per_window);
    char detail[160] = "";
    if (batch > 1) std::snprintf(detail, sizeof detail, ", %d windows: %.1f ms per window", batch, per_window);
    r.detail = detail;
    if (encoder.device() == eegpt::Device::cpu) {
        // The roofline: achieved GFLOP/s against the FMA ceiling measured on this machine.
        // int8: GOPS (the same operation count) against the int8 kernel's instructions' peak.
        const double gflops = flops_per_window(encoder.config(), channels, samples) / (per_window * 1e6);
        const eegpt::Precision p = encoder.precision();
        const double peak = p == eegpt::Precision::bf16   ? cpu_bf16_peak_gflops()
                            : p == eegpt::Precision::int8 ? cpu_int8_peak_gops()
                                                          : cpu_fma_peak_gflops();
        const std::string unit = p == eegpt::Precision::int8 ? "GOPS" : "GFLOP/s";
        const std::string kind = p == eegpt::Precision::bf16   ? "bf16 dot-product"
                                 : p == eegpt::Precision::int8 ? "int8 " + cpu_int8_kernel()
                                                               : "fp32 FMA";
        std::snprintf(detail, sizeof detail, ", %.0f %s = %.0f%% of the measured %s %s peak (%.0f %s)", gflops,
                      unit.c_str(), 100.0 * gflops / peak, encoder.isa().c_str(), kind.c_str(), peak, unit.c_str());
        r.detail += detail;
        r.add("gflops", gflops);
        r.add("fraction_of_fma_peak", gflops / peak);  // of the precision's peak: int8's for int8
        r.add_text("precision", eegpt::to_string(p));
    }
    if (more) more(r);
    return &finish(r);
}

void single_window_cpu(int channels, int samples, int default_samples) {
    encode_case("single-window cpu " + shape(channels, samples), "single-window", cpu_encoder(), 1, channels, samples,
                default_samples, &kSingleWindowCpu);
}

std::string batch_name(const std::string& device, int batch) {
    return "batch " + device + " 19ch 1024 x" + std::to_string(batch);
}

// Times `eegpt embed`'s pipeline on one EDF file (EDF read, channel mapping, resampling, windows,
// encoder, HDF5 out: embed_recording) and reports it with the recording it read, the file it wrote
// and the pipeline's own share: its time outside the encoder, which the pipeline measures in the
// same calls. `minutes`: of a synthetic recording, whose window count is known; 0 for a real one.
void recording_case(eegpt::Encoder& encoder, const std::string& name, const std::string& input, int minutes,
                    int default_samples) {
    INFO("recording " << input << " (--data-dir for the real ones)");
    REQUIRE(std::filesystem::is_regular_file(input));
    const std::string output = std::filesystem::absolute(features_path(input)).string();
    eegpt::RecordingSummary summary;
    double encoder_s = 0;
    int calls = 0;
    Result r;
    r.name = name;
    r.category = "recording";
    r.unit = "s";
    {
        DefaultSamples scope(default_samples);
        BENCHMARK(std::string(r.name)) {
            summary = embed_recording(encoder, model_weights()->provenance, input, output);
            encoder_s += summary.encoder_s;
            ++calls;
        };
    }
    if (!take_stats(r)) return;
    REQUIRE(std::filesystem::is_regular_file(output));
    if (minutes > 0) REQUIRE(summary.windows == recording_windows(minutes));
    if (minutes == 20) REQUIRE(summary.windows == 599);
    const std::string file = std::filesystem::path(input).filename().string();
    const int channels = summary.channels.channels();
    const double rate = source_rate_hz(input, summary.channels);
    const double x_real_time = summary.duration_s / r.stats.mean;
    const double encoder_mean = encoder_s / calls, own = r.stats.mean - encoder_mean;
    char detail[400];
    std::snprintf(detail, sizeof detail,
                  ", %s (%.0f s, %d channels at %g Hz) -> %s: %lld windows (4 s, 2 s stride, batches of %d), "
                  "%.1fx real time; encoder %.3g s, the pipeline's own share %.3g s (%.0f%%)",
                  file.c_str(), summary.duration_s, channels, rate,
                  std::filesystem::path(output).filename().string().c_str(), static_cast<long long>(summary.windows),
                  kRecordingBatch, x_real_time, encoder_mean, own, 100.0 * own / r.stats.mean);
    r.detail = detail;
    r.add_text("recording", file);
    r.add_text("recording_path", std::filesystem::absolute(input).string());
    r.add("duration_s", summary.duration_s);
    r.add("channels", channels);
    r.add("sample_rate_hz", rate);
    r.add_text("output", output);
    if (minutes > 0) r.add("minutes", minutes);
    r.add("windows", static_cast<double>(summary.windows));
    r.add("x_real_time", x_real_time);
    r.add("encoder_s", encoder_mean);
    r.add("pipeline_s", own);
    r.add("pipeline_fraction", own / r.stats.mean);
    if (minutes == 20) {
        r.target = &kRecording20Min;
    } else {
        r.target = &kThroughput;
        r.target_figure = x_real_time;
    }
    finish(r);
}

void synthetic_recording_case(eegpt::Encoder& encoder, const std::string& device, int minutes, int default_samples) {
    recording_case(encoder, "recording " + device + " " + std::to_string(minutes) + " min 19ch",
                   synthetic_recording(minutes), minutes, default_samples);
}

void real_recording_case(eegpt::Encoder& encoder, const std::string& device, const std::string& file,
                         int default_samples) {
    recording_case(encoder, "recording " + device + " " + file, real_recording(file), 0, default_samples);
}

struct Probe {
    double peak_mb = 0, start_mb = 0, after_mb = 0, heap_after_mb = 0, gpu_mb = 0;
};

// Runs this program again with --memory-probe, so the peak is that of a fresh process doing only this.
bool run_probe(const std::string& mode, const std::string& device, const std::string& recording, Probe& p,
               std::string& why) {
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        why = "cannot find this executable";
        return false;
    }
    exe[n] = '\0';
    const std::string cmd = shell_quote(exe) + " --memory-probe " + mode + " --device " + device + " --model " +
                            shell_quote(options().model) + " --threads " + std::to_string(options().threads) +
                            (options().weights.empty() ? "" : " --weights " + shell_quote(options().weights)) +
                            (recording.empty() ? "" : " --recording " + shell_quote(recording));
    int status = 0;
    const std::string out = run_command(cmd, &status);
    long peak = 0, start = 0, after = 0;
    double heap = 0, gpu = 0;
    if (status != 0 || std::sscanf(out.c_str(),
                                   "peak_rss_kb=%ld start_rss_kb=%ld after_rss_kb=%ld heap_after_bytes=%lf "
                                   "gpu_bytes=%lf",
                                   &peak, &start, &after, &heap, &gpu) != 5) {
        why = "memory probe failed (exit status " + std::to_string(status) + "): " + out;
        return false;
    }
    p = {peak / 1024.0, start / 1024.0, after / 1024.0, heap / (1024.0 * 1024.0),
         gpu < 0 ? -1.0 : gpu / (1024.0 * 1024.0)};
    return true;
}

Figure figure_of(const std::string& key, const std::string& unit, const std::string& better,
                 const std::vector<double>& values) {
    Stats s;
    s.samples = values;
    fill_order_statistics(s);
    return {key, unit, better, s.median, s.min, s.max};
}

// Benchmarks the memory probe (a fresh process per call, so each peak is that of a process doing only
// this) and reports its peak memory against the target: the largest peak of all calls. Mode
// "recording" runs `eegpt embed`'s pipeline on the synthetic 20-minute recording.
void memory_case(const std::string& name, const std::string& mode, const std::string& device, int default_samples) {
    std::vector<Probe> probes;
    std::string why;
    const std::string recording = mode == "recording" ? synthetic_recording(20) : "";
    {
        DefaultSamples scope(default_samples);
        BENCHMARK(std::string(name)) {
            Probe p;
            if (!run_probe(mode, device, recording, p, why)) throw std::runtime_error(why);
            probes.push_back(p);
        };
    }
    Result r;
    r.name = name;
    r.category = "memory";
    r.unit = "s";
    r.target = &kPeakMemory;
    if (!take_stats(r)) return;
    REQUIRE(!probes.empty());
    std::vector<double> peaks, after, returned, heap, gpu;
    for (const Probe& p : probes) {
        peaks.push_back(device == "cpu" ? p.peak_mb : p.gpu_mb);
        after.push_back(p.after_mb);
        returned.push_back(p.peak_mb - p.after_mb);
        heap.push_back(p.heap_after_mb);
        gpu.push_back(p.gpu_mb);
    }
    const double peak = *std::max_element(peaks.begin(), peaks.end());
    char detail[320];
    if (device == "cpu") {
        r.figures.push_back(figure_of("peak_rss_mb", "MB", "lower", peaks));
        std::snprintf(detail, sizeof detail,
                      " per fresh process; peak RSS %.1f MB (ru_maxrss, %.1f MB at start, largest of %zu processes); "
                      "after the engine is destroyed %.1f MB returned (malloc_trim), heap still in use %.3f MB",
                      peak, probes.front().start_mb, probes.size(), returned.front(), heap.front());
        r.add("peak_rss_mb", peak);
        r.add("start_mb", probes.front().start_mb);
        r.add("after_rss_mb", after.front());
        r.add("returned_mb", returned.front());
        r.add("heap_in_use_mb", heap.front());
    } else {
        // The engine's device arena, still held after encoding (cudaMemGetInfo difference; the arena keeps its peak).
        if (*std::min_element(gpu.begin(), gpu.end()) < 0) {
            r.unmeasured = "cudaMemGetInfo failed";
            std::snprintf(detail, sizeof detail,
                          " per fresh process; device memory not measured (cudaMemGetInfo failed)");
        } else {
            r.figures.push_back(figure_of("device_memory_mb", "MB", "lower", gpu));
            std::snprintf(detail, sizeof detail,
                          " per fresh process; device memory held by the engine after encoding %.1f MB "
                          "(cudaMemGetInfo difference, largest of %zu processes)",
                          peak, probes.size());
            r.add("device_memory_mb", peak);
        }
    }
    r.detail = detail;
    r.target_figure = r.unmeasured.empty() ? peak : kNaN;
    finish(r);
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

TEST_CASE("single window cpu 19ch 1024", "[single-window][quick]") { single_window_cpu(19, 1024, 10); }
TEST_CASE("single window cpu 19ch 512", "[single-window][quick]") { single_window_cpu(19, 512, 10); }
TEST_CASE("single window cpu 58ch 1024", "[single-window]") { single_window_cpu(58, 1024, 5); }
TEST_CASE("single window cpu 58ch 512", "[single-window]") { single_window_cpu(58, 512, 5); }

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
                        100, &kSingleWindowGpu);
}

// ---------------------------------------------------------------- batch

TEST_CASE("batch cpu 1, 4", "[batch][quick]") {
    for (int b : {1, 4}) encode_case(batch_name("cpu", b), "batch", cpu_encoder(), b, 19, 1024, 5, nullptr);
}

TEST_CASE("batch cpu 8, 16, 32, 64 and batch efficiency", "[batch][slow]") {
    const Result* one = find_result(batch_name("cpu", 1));
    if (!one) one = encode_case(batch_name("cpu", 1), "batch", cpu_encoder(), 1, 19, 1024, 5, nullptr);
    const double t1 = one ? one->stats.mean : kNaN;
    for (int b : {8, 16, 32, 64})
        encode_case(batch_name("cpu", b), "batch", cpu_encoder(), b, 19, 1024, 2, nullptr, [&](Result& r) {
            if (b != 32) return;
            const double efficiency = t1 / (r.stats.mean / 32.0);
            char detail[120];
            std::snprintf(detail, sizeof detail, ", batch efficiency (per-window time at 1 / at 32) %.2fx", efficiency);
            r.detail += detail;
            r.add("batch_efficiency", efficiency);
        });
}

TEST_CASE("batch gpu 1 .. 64", "[batch][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("batch gpu", "batch", why);
        EEGPT_SKIP(why);
    }
    for (int b : {1, 4, 8, 16, 32, 64}) encode_case(batch_name("gpu", b), "batch", *gpu, b, 19, 1024, 50, nullptr);
}

// The throughput end, in each precision, at the shapes the PyTorch peer on the GPU is timed at
// (tools/bench/peer_bench_gpu.py: 19 and 58 channels, 512 windows).
TEST_CASE("batch gpu x512, 19 and 58 ch, fp32 tf32 bf16", "[batch][gpu]") {
    std::string why;
    if (!gpu_encoder(why)) {
        report_skip("batch gpu x512", "batch", why);
        EEGPT_SKIP(why);
    }
    for (const char* precision : {"fp32", "tf32", "bf16"}) {
        const std::unique_ptr<eegpt::Encoder> encoder = eegpt::make_encoder(
            model_weights(), {eegpt::Device::cuda, eegpt::parse_precision(precision), 0, ""});
        for (int channels : {19, 58})
            encode_case("batch gpu " + std::string(precision) + " " + std::to_string(channels) + "ch 1024 x512",
                        "batch", *encoder, 512, channels, 1024, 5, nullptr);
    }
}

// ---------------------------------------------------------------- recording

// Synthetic recordings the suite writes (19 EEG channels at 500 Hz and an ECG), and the real ones of
// test/data/eeg: Subject00_2.edf (62 s) and Subject00_1.edf (182 s) at 500 Hz with 19 EEG channels,
// S001R03.edf (125 s) at 160 Hz with 64.
TEST_CASE("recording cpu 1 min", "[recording][quick]") { synthetic_recording_case(cpu_encoder(), "cpu", 1, 3); }
TEST_CASE("recording cpu 5 min", "[recording][slow]") { synthetic_recording_case(cpu_encoder(), "cpu", 5, 3); }
TEST_CASE("recording cpu 10 min", "[recording][slow]") { synthetic_recording_case(cpu_encoder(), "cpu", 10, 3); }
TEST_CASE("recording cpu 20 min", "[recording][slow]") { synthetic_recording_case(cpu_encoder(), "cpu", 20, 3); }
TEST_CASE("recording cpu Subject00_2.edf", "[recording][quick]") {
    real_recording_case(cpu_encoder(), "cpu", "Subject00_2.edf", 3);
}
TEST_CASE("recording cpu Subject00_1.edf", "[recording][slow]") {
    real_recording_case(cpu_encoder(), "cpu", "Subject00_1.edf", 3);
}
TEST_CASE("recording cpu S001R03.edf", "[recording][slow]") {
    real_recording_case(cpu_encoder(), "cpu", "S001R03.edf", 3);
}

TEST_CASE("recording gpu 1, 5, 10, 20 min and the real recordings", "[recording][gpu]") {
    std::string why;
    eegpt::Encoder* gpu = gpu_encoder(why);
    if (!gpu) {
        report_skip("recording gpu", "recording", why);
        EEGPT_SKIP(why);
    }
    for (int minutes : {1, 5, 10, 20}) synthetic_recording_case(*gpu, "gpu", minutes, 5);
    for (const char* file : {"Subject00_2.edf", "Subject00_1.edf", "S001R03.edf"}) real_recording_case(*gpu, "gpu", file, 5);
}

// ---------------------------------------------------------------- memory

TEST_CASE("memory cpu one window", "[memory][quick]") {
    memory_case("memory cpu one window 19ch 1024", "window", "cpu", 3);
}
TEST_CASE("memory cpu 20 min recording", "[memory][slow]") {
    memory_case("memory cpu 20 min recording", "recording", "cpu", 1);
}

TEST_CASE("memory gpu", "[memory][gpu]") {
    std::string why;
    if (!gpu_encoder(why)) {
        report_skip("memory gpu", "memory", why);
        EEGPT_SKIP(why);
    }
    memory_case("memory gpu one window 19ch 1024", "window", "cuda", 3);
    memory_case("memory gpu 20 min recording", "recording", "cuda", 1);
}

// ---------------------------------------------------------------- comparison

TEST_CASE("comparison cpu batch vs one-by-one", "[comparison][quick]") {
    constexpr int kWindows = 4, C = 19, T = 1024;
    eegpt::Encoder& enc = cpu_encoder();
    const std::vector<float> x = eegpt::synthetic_eeg_windows(kWindows, C, T, 3);
    const std::vector<int> ids = channel_ids(C);
    const size_t per = enc.output_size(1, T);
    std::vector<float> batched(per * kWindows), single(per * kWindows);
    Result batch, one;
    batch.name = "comparison cpu 4 windows as one batch";
    one.name = "comparison cpu 4 windows one by one";
    batch.category = one.category = "comparison";
    {
        DefaultSamples scope(3);
        BENCHMARK(std::string(batch.name)) { enc.encode(x.data(), kWindows, C, T, ids.data(), batched.data()); };
        BENCHMARK(std::string(one.name)) {
            for (int w = 0; w < kWindows; ++w)
                enc.encode(&x[static_cast<size_t>(w) * C * T], 1, C, T, ids.data(),
                           &single[per * static_cast<size_t>(w)]);
        };
    }
    if (!take_stats(batch) || !take_stats(one)) return;
    REQUIRE(relative_difference(single, batched) < 1e-5);
    finish(batch);
    const double ratio = one.stats.mean / batch.stats.mean;
    char detail[160];
    std::snprintf(detail, sizeof detail, " = %.2fx the batch of 4 (outputs equal within 1e-5)", ratio);
    one.detail = detail;
    one.add("ratio_to_batch", ratio);
    finish(one);
}

TEST_CASE("comparison peers: PyTorch reference and ONNX Runtime (fp32, quantize_dynamic int8) on cpu", "[comparison][slow]") {
    if (!options().peers) {
        report_skip("peers", "comparison", "--no-peers");
        return;
    }
    struct Case {
        int batch, channels, samples;
    };
    // One window (latency) and a batch of 32 (throughput).
    const std::vector<Case> cases = {{1, 19, 1024}, {32, 19, 1024}};
    const int default_samples = 3, peer_rounds = options().samples > 0 ? options().samples : default_samples;
    char tmpl[] = "/tmp/eegpt_peers_XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    eegpt::save_weights(*model_weights(), dir + "/weights.h5");
    eegpt::Encoder& enc = cpu_encoder();
    const std::vector<int> ids = channel_ids(19);
    std::string ids_csv, case_args;
    for (int id : ids) ids_csv += (ids_csv.empty() ? "" : ",") + std::to_string(id);
    std::vector<Result> ours;
    std::vector<std::vector<float>> inputs, outputs;  // kept for the calls interleaved with the peers'
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& c = cases[i];
        inputs.push_back(eegpt::synthetic_eeg_windows(c.batch, c.channels, c.samples, 11 + i));
        outputs.emplace_back(enc.output_size(c.batch, c.samples));
        const std::vector<float>& x = inputs.back();
        std::vector<float>& out = outputs.back();
        const std::string xs = dir + "/x" + std::to_string(i) + ".f32", os = dir + "/ours" + std::to_string(i) + ".f32";
        Result r;
        r.name = "peer ours cpu " + shape(c.channels, c.samples) + " x" + std::to_string(c.batch);
        r.category = "comparison";
        {
            DefaultSamples scope(default_samples);
            BENCHMARK(std::string(r.name)) {
                enc.encode(x.data(), c.batch, c.channels, c.samples, ids.data(), out.data());
            };
        }
        if (!take_stats(r)) {
            std::filesystem::remove_all(dir);
            return;
        }
        r.detail = ", this engine (" + eegpt::to_string(enc.precision()) + ") on the inputs given to the peers";
        ours.push_back(r);
        write_floats(xs, x);
        write_floats(os, out);
        case_args += " --case " + shell_quote(xs + "," + std::to_string(c.batch) + "," + std::to_string(c.channels) +
                                              "," + std::to_string(c.samples) + "," + os);
    }
    // The peers time themselves (tools/bench/peer_bench.py, their own process and loop): their figures are
    // reported beside ours, in our results' extra_info, not as benchmarks of this suite. With --pace each
    // ratio compares calls taken in turns (take_turn below): this VM's speed drifts by more than the
    // ratios' margins over the minutes between a benchmark of ours and a peer's (docs/cpu.md, "Measuring").
    const std::string cmd = shell_quote(options().python) + " " +
                            shell_quote(options().source_dir + "/tools/bench/peer_bench.py") + " --weights " +
                            shell_quote(dir + "/weights.h5") + " --channels " + ids_csv + " --rounds " +
                            std::to_string(peer_rounds) + " --threads 2 --pace" + case_args +
                            // Where the engine runs its AVX2 code on an AVX-512 CPU (EEGPT_CPU_ISA=avx2),
                            // the peers run theirs: the machine stands in for an AVX2-only one on both sides.
                            (enc.isa() == "avx2" ? " --isa avx2" : "") + " 2>&1";
    int status = 0;
    // Our turns (peer_bench.py --pace): after the peer's `ready`, an untimed call, to bring our weights
    // back into the caches the peer's calls evicted, then `start`, the timed call and `done`; the peer
    // times from `start` to `done` with the clock it times itself with, and reports our samples beside
    // its own. We first wait for the peer's worker threads to stop spinning (ONNX Runtime's pool
    // busy-waits after a run and takes a core from the next call: 84-88 ms instead of 62 for our one
    // window, measured), as the peer waits for ours after `done`.
    auto take_turn = [&](const std::string& line, const SendLine& send) {
        if (line.rfind("ready ", 0) != 0) return;
        std::istringstream words(line.substr(6));
        std::string peer, index;
        words >> peer >> index;
        const size_t i = index.rfind("case=", 0) == 0 ? static_cast<size_t>(std::atoi(index.c_str() + 5)) : cases.size();
        if (i >= cases.size()) {
            send("start") && send("done");
            return;
        }
        const Case& c = cases[i];
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        enc.encode(inputs[i].data(), c.batch, c.channels, c.samples, ids.data(), outputs[i].data());
        if (!send("start")) return;
        enc.encode(inputs[i].data(), c.batch, c.channels, c.samples, ids.data(), outputs[i].data());
        send("done");
    };
    // Under --precision int8, each quantized peer's speed and fidelity against ours, judged (targets.h).
    const bool int8 = enc.precision() == eegpt::Precision::int8;
    auto judge_int8_peer = [&](const std::string& peer, const Case& c, const Stats& p, double ratio,
                               std::map<std::string, std::string>& kv) {
        const std::string name = "peer " + peer + " cpu " + shape(c.channels, c.samples) + " x" + std::to_string(c.batch);
        Result speed;
        speed.name = name + " speed";
        speed.category = "comparison";
        speed.better = "";  // the peer's time: not a regression figure of ours
        speed.stats = p;  // the peer's samples, as it timed them
        speed.target = &kInt8OverQuantizedPeer;
        speed.target_figure = ratio;
        char text[200];
        std::snprintf(text, sizeof text, " (the peer's calls): ours %.2fx faster", ratio);
        speed.detail = text;
        finish(speed);
        const double ours_err = std::atof(kv["ours_rel_err_vs_fp32"].c_str()),
                     peer_err = std::atof(kv["rel_err_vs_fp32"].c_str()),
                     ours_cos = std::atof(kv["ours_min_cosine_vs_fp32"].c_str()),
                     peer_cos = std::atof(kv["min_cosine_vs_fp32"].c_str());
        const double err_ratio = ours_err / peer_err, cos_ratio = (1 - ours_cos) / (1 - peer_cos);
        Result fidelity = speed;
        fidelity.name = name + " fidelity";
        fidelity.target = &kInt8ErrorToQuantizedPeer;
        // NaN (a figure missing or not finite) is NOT MEASURED, never PASS.
        fidelity.target_figure = std::isfinite(err_ratio) && std::isfinite(cos_ratio) ? std::max(err_ratio, cos_ratio)
                                                                                      : std::nan("");
        std::snprintf(text, sizeof text,
                      " (the peer's calls, as above); against the fp32 reference: relative error ours %.3g / "
                      "the peer's %.3g = %.2fx, 1 - min window cosine "
                      "ours %.3g / the peer's %.3g = %.2fx",
                      ours_err, peer_err, err_ratio, 1 - ours_cos, 1 - peer_cos, cos_ratio);
        fidelity.detail = text;
        finish(fidelity);
    };
    const std::string out = run_command_talking(cmd, take_turn, &status);
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
        // Samples timed by peer_bench.py (a comma-separated list of ms): plain mean and sd, no Catch2 estimates.
        auto timed = [&kv](const std::string& key) {
            Stats s;
            s.analysed = false;
            std::istringstream ms(kv[key]);
            std::string v;
            while (std::getline(ms, v, ',')) s.samples.push_back(std::atof(v.c_str()) / 1e3);
            fill_order_statistics(s);
            return s;
        };
        const Stats p = timed("samples_ms");
        if (p.samples.empty()) continue;
        // Against our calls taken in turns with the peer's where there are some (--pace: the peer's
        // ours_samples_ms), else against our benchmark of this case.
        const Stats own = timed("ours_samples_ms");
        const bool paced = !own.samples.empty();
        const double own_mean = paced ? own.mean : ours.at(i).stats.mean;
        const double mean = p.mean, ratio = mean / own_mean;
        // Fidelity against the fp32 reference (PyTorch's), the peer's and ours, from the same run: what
        // a quantized peer (onnxruntime-int8) is judged by beside --precision int8.
        const bool int8_peer = peer.find("int8") != std::string::npos;
        char text[800];
        std::snprintf(text, sizeof text,
                      "peer %s cpu %s x%d: mean %.1f ms (median %.1f, min %.1f, max %.1f; %d rounds, timed by "
                      "tools/bench/peer_bench.py) = %.2fx ours (%.1f ms, %s, %s), %s %s %s, %s CPU code, 2 threads, max "
                      "|diff| vs ours %s; vs fp32: peer relative error %s, min window cosine %s; ours %s, %s",
                      peer.c_str(), shape(c.channels, c.samples).c_str(), c.batch, mean * 1e3, p.median * 1e3,
                      p.min * 1e3, p.max * 1e3, p.rounds, ratio, own_mean * 1e3,
                      eegpt::to_string(enc.precision()).c_str(),
                      paced ? (std::to_string(own.samples.size()) + " calls in turns with the peer's").c_str()
                            : "its benchmark above",
                      peer.c_str(), kv["version"].c_str(),
                      int8_peer ? "quantize_dynamic int8" : "fp32", kv["level"].c_str(), kv["max_abs_diff"].c_str(),
                      kv["rel_err_vs_fp32"].c_str(), kv["min_cosine_vs_fp32"].c_str(),
                      kv["ours_rel_err_vs_fp32"].c_str(), kv["ours_min_cosine_vs_fp32"].c_str());
        std::cout << text << std::endl;
        ours[i].detail += std::string("; ") + text;
        ours[i].add("peer_" + peer + "_mean_ms", mean * 1e3);
        ours[i].add("peer_" + peer + "_ratio_to_ours", ratio);
        ours[i].add("peer_" + peer + "_ours_mean_ms", own_mean * 1e3);  // what the ratio divides by
        ours[i].add("peer_" + peer + "_ours_calls_in_turns", static_cast<double>(own.samples.size()));
        ours[i].add("peer_" + peer + "_max_abs_diff", std::atof(kv["max_abs_diff"].c_str()));
        ours[i].add("peer_" + peer + "_rel_err_vs_fp32", std::atof(kv["rel_err_vs_fp32"].c_str()));
        ours[i].add("peer_" + peer + "_min_cosine_vs_fp32", std::atof(kv["min_cosine_vs_fp32"].c_str()));
        bool has = false;  // ours against fp32 is on every peer's line: recorded once per case
        for (const auto& e : ours[i].extra) has = has || e.first == "rel_err_vs_fp32";
        if (!has) {
            ours[i].add("rel_err_vs_fp32", std::atof(kv["ours_rel_err_vs_fp32"].c_str()));
            ours[i].add("min_cosine_vs_fp32", std::atof(kv["ours_min_cosine_vs_fp32"].c_str()));
        }
        ours[i].add_text("peer_" + peer + "_version", kv["version"]);
        ours[i].add_text("peer_" + peer + "_cpu_code", kv["level"]);
        if (int8_peer && int8) judge_int8_peer(peer, c, p, ratio, kv);
    }
    for (size_t i = 0; int8 && i < ours.size(); ++i) {
        ours[i].target = cases[i].batch == 1 ? &kInt8WindowCpu : &kInt8BatchCpu;
        ours[i].target_figure = ours[i].stats.mean * 1e3 / cases[i].batch;
    }
    for (Result& r : ours) finish(r);
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
    Result cpu, dev;
    cpu.name = "comparison cpu 19ch 1024 x8";
    dev.name = "comparison gpu 19ch 1024 x8";
    cpu.category = dev.category = "comparison";
    {
        DefaultSamples scope(3);
        BENCHMARK(std::string(cpu.name)) { cpu_encoder().encode(x.data(), B, C, T, ids.data(), cpu_out.data()); };
    }
    {
        DefaultSamples scope(50);
        BENCHMARK(std::string(dev.name)) { gpu->encode(x.data(), B, C, T, ids.data(), gpu_out.data()); };
    }
    if (!take_stats(cpu) || !take_stats(dev)) return;
    const double tolerance = 1e-4;  // fp32 on both sides; relative to the largest feature
    const double diff = relative_difference(gpu_out, cpu_out);
    CHECK(diff < tolerance);
    finish(cpu);
    const double speedup = cpu.stats.mean / dev.stats.mean;
    dev.target = &kGpuSpeedup;
    dev.target_figure = speedup;
    dev.figures.push_back({"speedup_over_cpu", "x", "higher", cpu.stats.median / dev.stats.median,
                           cpu.stats.min / dev.stats.max, cpu.stats.max / dev.stats.min});
    char detail[200];
    std::snprintf(detail, sizeof detail, ", %.1fx the cpu (%.1f ms; outputs differ by %.2g relative, bound %.0e)",
                  speedup, cpu.stats.mean * 1e3, diff, tolerance);
    dev.detail = detail;
    dev.add("speedup_over_cpu", speedup);
    dev.add("relative_difference", diff);
    finish(dev);

    const size_t in_bytes = static_cast<size_t>(64) * C * T * sizeof(float);
    TransferBuffers buffers(in_bytes);
    INFO(buffers.why());
    REQUIRE(buffers.ok());
    const std::string size = " 64 windows 19ch 1024 (" + std::to_string(in_bytes >> 20) + " MB)";
    Result h2d, d2h;
    h2d.name = "comparison transfer host to device" + size;
    d2h.name = "comparison transfer device to host" + size;
    {
        DefaultSamples scope(20);
        BENCHMARK(std::string(h2d.name)) { buffers.to_device(); };
        BENCHMARK(std::string(d2h.name)) { buffers.to_host(); };
    }
    for (Result* t : {&h2d, &d2h}) {
        t->category = "comparison";
        if (!take_stats(*t)) continue;
        t->detail = ", pageable host memory, synchronous cudaMemcpy";
        finish(*t);
    }
}
