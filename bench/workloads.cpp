#include "workloads.h"

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <thread>

#include "bench_util.h"
#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/cpu/ops.h"
#include "gpu.h"
#include "peak.h"
#include "recordings/io/edf_reader.h"
#include "recordings/pipeline/job_record.h"
#include "recordings/synthetic_recording.h"
#include "synthetic.h"

namespace bench {

std::shared_ptr<const eegpt::ModelWeights> load_model_weights() {
    return std::make_shared<const eegpt::ModelWeights>(options().weights.empty()
                                                           ? eegpt::random_weights(eegpt::named_config(options().model), 0)
                                                           : eegpt::load_weights(options().weights));
}

std::shared_ptr<const eegpt::ModelWeights> model_weights() {
    static const auto weights = load_model_weights();
    return weights;
}

eegpt::Encoder& cpu_encoder() {
    static std::unique_ptr<eegpt::Encoder> encoder =
        eegpt::make_encoder(model_weights(), {eegpt::Device::cpu, eegpt::parse_precision(options().cpu_precision),
                                              options().threads, ""});
    return *encoder;
}

eegpt::Encoder* gpu_encoder(std::string& why) {
    static std::unique_ptr<eegpt::Encoder> encoder;
    static std::string failure;
    static bool tried = false;
    if (!tried) {
        tried = true;
        failure = eegpt::cuda_unavailable_reason();
        if (failure.empty()) {
            try {
                encoder = eegpt::make_encoder(model_weights(), {eegpt::Device::cuda, eegpt::Precision::fp32, 0, ""});
            } catch (const eegpt::Error& e) {
                failure = std::string("no usable CUDA device: ") + e.what();
            }
        }
    }
    why = failure;
    return encoder.get();
}

double flops_per_window(const eegpt::ModelConfig& c, int channels, int samples) {
    const double D = c.embed_dim, H = c.mlp_hidden, E = c.embed_num, P = c.patch_size;
    const double S = channels + c.embed_num, N = c.patches(samples);
    const double per_token_block = 2 * D * 3 * D + 2 * D * D + 2 * D * H + 2 * H * D;
    const double attention_full = 4 * S * S * D;  // QK^T and PV over all heads
    const double full_blocks = (c.depth - 1) * (S * per_token_block + attention_full);
    // Last block: keys and values for every token; queries, attention, projection and MLP for E rows.
    const double last_block = S * 2 * D * 2 * D + E * (2 * D * D + 2 * D * D + 2 * D * H + 2 * H * D) + 4 * E * S * D;
    const double patch_embed = channels * 2 * P * D;
    return N * (full_blocks + last_block + patch_embed);
}

namespace {

// A peak loop on every encoder thread at once (all_threads_rate), in GFLOP/s.
double all_threads(PeakLoop per_thread_peak) {
    const int threads = options().threads > 0 ? options().threads : static_cast<int>(std::thread::hardware_concurrency());
    return all_threads_rate(per_thread_peak, threads, 0.3);
}

}  // namespace

double cpu_fma_peak_gflops() {
    static const double peak = [] {
        try {
            return all_threads(fma_peak_loop(eegpt::cpu::default_isa()));
        } catch (const eegpt::Error&) {
            return kNaN;
        }
    }();
    return peak;
}

double cpu_bf16_peak_gflops() {
    static const double peak = [] {
        if (!eegpt::cpu::bf16_unavailable_reason(eegpt::cpu::Isa::avx512).empty()) return kNaN;
        return all_threads(bf16_peak_gflops);
    }();
    return peak;
}

double cpu_int8_peak_gops() {
    static const double peak = [] {
        try {
            const eegpt::cpu::Isa isa = eegpt::cpu::default_isa();
            Int8PeakKind kind = Int8PeakKind::maddubs;  // the kernel --precision int8 runs (cpu::int8_tile)
            if (eegpt::cpu::int8_vnni_unavailable_reason(isa).empty())
                kind = isa == eegpt::cpu::Isa::avx512 ? Int8PeakKind::avx512vnni : Int8PeakKind::avxvnni;
            return all_threads(int8_peak_loop(kind));
        } catch (const eegpt::Error&) {
            return kNaN;
        }
    }();
    return peak;
}

std::string cpu_int8_kernel() {
    try {
        return eegpt::cpu::int8_kernel_name(eegpt::cpu::ops(eegpt::cpu::default_isa()));
    } catch (const eegpt::Error& e) {
        return std::string("none (") + e.what() + ")";
    }
}

std::vector<int> channel_ids(int channels) {
    if (channels == 19)
        return eegpt::channel_ids_of({eegpt::kStandard19Montage.begin(), eegpt::kStandard19Montage.end()});
    std::vector<int> ids(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) ids[static_cast<size_t>(c)] = c;
    return ids;
}

bool output_is_complete(const eegpt::Encoder& encoder, const std::vector<float>& out, int batch, int samples) {
    const eegpt::ModelConfig& c = encoder.config();
    const int patches = (samples - c.patch_size) / c.patch_stride + 1;  // the Conv2d's floor
    const size_t expected = static_cast<size_t>(batch) * static_cast<size_t>(patches) *
                            static_cast<size_t>(c.embed_num) * static_cast<size_t>(c.embed_dim);
    if (out.size() != expected || encoder.output_size(batch, samples) != expected) return false;
    for (float v : out)
        if (!std::isfinite(v)) return false;
    return true;
}

int recording_windows(int minutes) { return (minutes * 60 * kSampleRate - kWindow) / kStride + 1; }

std::string recordings_dir() {
    std::string stem = options().json_path;
    if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".json") == 0) stem.resize(stem.size() - 5);
    const std::string dir = stem + "_recordings";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw eegpt::Error("cannot create '" + dir + "': " + ec.message());
    return dir;
}

std::string synthetic_recording(int minutes) {
    static std::set<int> written;
    const std::string path = recordings_dir() + "/synthetic_" + std::to_string(minutes) + "min.edf";
    if (!written.count(minutes)) {
        eegpt::SyntheticRecordingSpec spec;
        spec.seconds = minutes * 60;
        eegpt::write_synthetic_recording(path, spec);
        written.insert(minutes);
    }
    return path;
}

std::string real_recording(const std::string& file_name) { return options().data_dir + "/" + file_name; }

std::string features_path(const std::string& input) {
    return eegpt::output_path(input, recordings_dir(), ".features.h5");
}

eegpt::RecordingSummary embed_recording(eegpt::Encoder& encoder, const eegpt::Provenance& provenance,
                                        const std::string& input, const std::string& output) {
    const eegpt::ModelContext model{EEGPT_VERSION, &encoder, &provenance, nullptr, ""};
    eegpt::RecordingOptions o;
    o.stride_s = kStride / eegpt::kModelRateHz;
    o.batch = kRecordingBatch;
    return eegpt::process_recording(input, output, model, o);
}

double source_rate_hz(const std::string& input, const eegpt::ChannelPlan& plan) {
    const eegpt::EdfReader reader(input);
    double rate = 0;
    for (int s : plan.signal)
        if (s >= 0) rate = std::max(rate, reader.signals()[static_cast<size_t>(s)].rate_hz);
    return rate;
}

int memory_probe(const std::string& mode, const std::string& device, const std::string& recording) {
    if (mode != "window" && mode != "recording") {
        std::fprintf(stderr, "--memory-probe takes window or recording, got '%s'\n", mode.c_str());
        return 2;
    }
    if (mode == "recording" && recording.empty()) {
        std::fprintf(stderr, "--memory-probe recording needs --recording EDF\n");
        return 2;
    }
    const long start_rss = current_rss_kb();
    const double gpu_before = gpu_used_bytes();
    double gpu_bytes = -1;
    try {
        const eegpt::EncoderOptions opts{eegpt::parse_device(device), eegpt::Precision::fp32, options().threads, ""};
        // As a program would: load (or generate) the weights and hand them to the engine, which
        // keeps them (shared, not copied).
        const auto weights = load_model_weights();
        std::unique_ptr<eegpt::Encoder> encoder = eegpt::make_encoder(weights, opts);
        if (mode == "window") {
            const int C = kRecordingChannels;
            std::vector<float> x = eegpt::synthetic_eeg_windows(1, C, kWindow, 1);
            std::vector<float> out(encoder->output_size(1, kWindow));
            const std::vector<int> ids = channel_ids(C);
            encoder->encode(x.data(), 1, C, kWindow, ids.data(), out.data());
        } else {
            const std::string output = recording + ".memory-probe.features.h5";
            embed_recording(*encoder, weights->provenance, recording, output);
            std::filesystem::remove(output);
        }
        if (gpu_before >= 0) gpu_bytes = gpu_used_bytes() - gpu_before;  // the engine's device arena, still held
    } catch (const eegpt::Error& e) {
        std::fprintf(stderr, "memory probe: %s\n", e.what());
        return 1;
    }
    malloc_trim(0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const double heap_after = static_cast<double>(mallinfo2().uordblks);
#else
    const double heap_after = static_cast<double>(mallinfo().uordblks);
#endif
    std::printf("peak_rss_kb=%ld start_rss_kb=%ld after_rss_kb=%ld heap_after_bytes=%.0f gpu_bytes=%.0f\n",
                peak_rss_kb(), start_rss, current_rss_kb(), heap_after, gpu_bytes);
    return 0;
}

}  // namespace bench
