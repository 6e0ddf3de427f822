#include "workloads.h"

#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>

#include "bench_util.h"
#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/cpu/ops.h"
#include "gpu.h"
#include "peak.h"
#include "synthetic.h"

namespace bench {

std::shared_ptr<const eegpt::ModelWeights> model_weights() {
    static const auto weights =
        std::make_shared<const eegpt::ModelWeights>(eegpt::random_weights(eegpt::named_config(options().model), 0));
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
    const double S = channels + c.embed_num, N = samples / c.patch_size;
    const double per_token_block = 2 * D * 3 * D + 2 * D * D + 2 * D * H + 2 * H * D;
    const double attention_full = 4 * S * S * D;  // QK^T and PV over all heads
    const double full_blocks = (c.depth - 1) * (S * per_token_block + attention_full);
    // Last block: keys and values for every token; queries, attention, projection and MLP for E rows.
    const double last_block = S * 2 * D * 2 * D + E * (2 * D * D + 2 * D * D + 2 * D * H + 2 * H * D) + 4 * E * S * D;
    const double patch_embed = channels * 2 * P * D;
    return N * (full_blocks + last_block + patch_embed);
}

namespace {

// Runs a per-thread peak loop on every encoder thread at once; the sum in GFLOP/s.
double all_threads(double (*per_thread_peak)(double)) {
    const int threads = options().threads > 0 ? options().threads : static_cast<int>(std::thread::hardware_concurrency());
    std::vector<double> per_thread(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] { per_thread[static_cast<size_t>(t)] = per_thread_peak(0.3); });
    for (auto& w : workers) w.join();
    double total = 0;
    for (double g : per_thread) total += g;
    return total;
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

std::vector<int> channel_ids(int channels) {
    if (channels == 19)
        return eegpt::channel_ids_of({eegpt::kStandard19Montage.begin(), eegpt::kStandard19Montage.end()});
    std::vector<int> ids(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) ids[static_cast<size_t>(c)] = c;
    return ids;
}

bool output_is_complete(const eegpt::Encoder& encoder, const std::vector<float>& out, int batch, int samples) {
    const eegpt::ModelConfig& c = encoder.config();
    const size_t expected = static_cast<size_t>(batch) * static_cast<size_t>(samples / c.patch_size) *
                            static_cast<size_t>(c.embed_num) * static_cast<size_t>(c.embed_dim);
    if (out.size() != expected || encoder.output_size(batch, samples) != expected) return false;
    for (float v : out)
        if (!std::isfinite(v)) return false;
    return true;
}

int recording_windows(int minutes) { return (minutes * 60 * kSampleRate - kWindow) / kStride + 1; }

std::vector<float> encode_recording(eegpt::Encoder& encoder, const std::vector<float>& signal, int channels,
                                    int total_samples) {
    const int windows = (total_samples - kWindow) / kStride + 1;
    const std::vector<int> ids = channel_ids(channels);
    const size_t per_window = encoder.output_size(1, kWindow);
    std::vector<float> features(per_window * static_cast<size_t>(windows));
    std::vector<float> batch(static_cast<size_t>(kRecordingBatch) * channels * kWindow);
    for (int w0 = 0; w0 < windows; w0 += kRecordingBatch) {
        const int b = std::min(kRecordingBatch, windows - w0);
        for (int i = 0; i < b; ++i)
            for (int c = 0; c < channels; ++c)
                std::memcpy(&batch[(static_cast<size_t>(i) * channels + c) * kWindow],
                            &signal[static_cast<size_t>(c) * total_samples + static_cast<size_t>(w0 + i) * kStride],
                            kWindow * sizeof(float));
        encoder.encode(batch.data(), b, channels, kWindow, ids.data(), &features[per_window * static_cast<size_t>(w0)]);
    }
    return features;
}

int memory_probe(const std::string& mode, const std::string& device) {
    if (mode != "window" && mode != "recording") {
        std::fprintf(stderr, "--memory-probe takes window or recording, got '%s'\n", mode.c_str());
        return 2;
    }
    const long start_rss = current_rss_kb();
    const double gpu_before = gpu_used_bytes();
    double gpu_bytes = -1;
    try {
        const eegpt::EncoderOptions opts{eegpt::parse_device(device), eegpt::Precision::fp32, options().threads, ""};
        std::unique_ptr<eegpt::Encoder> encoder;
        {
            // As a program would: load (here: generate) the weights and hand them to the engine.
            encoder = eegpt::make_encoder(eegpt::random_weights(eegpt::named_config(options().model), 0), opts);
        }
        const int C = kRecordingChannels;
        if (mode == "window") {
            std::vector<float> x = eegpt::synthetic_eeg_windows(1, C, kWindow, 1);
            std::vector<float> out(encoder->output_size(1, kWindow));
            const std::vector<int> ids = channel_ids(C);
            encoder->encode(x.data(), 1, C, kWindow, ids.data(), out.data());
        } else {
            const int total = 20 * 60 * kSampleRate;
            std::vector<float> signal = eegpt::synthetic_eeg_windows(1, C, total, 7);
            std::vector<float> features = encode_recording(*encoder, signal, C, total);
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
