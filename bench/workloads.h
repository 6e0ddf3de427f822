// What the cases run: the model (random weights of the configuration named by --model, seed 0,
// built once), the encoders, synthetic inputs, and the recording pipeline (samples in memory ->
// 4 s windows at 2 s stride -> batches -> features in memory).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "encoder/conventions.h"
#include "encoder/encoder.h"

namespace bench {

std::shared_ptr<const eegpt::ModelWeights> model_weights();
// The CPU encoder (built once). The CUDA encoder, or nullptr with `why` set when this build has no
// CUDA backend or no device is present (make_encoder throws eegpt::Error then).
eegpt::Encoder& cpu_encoder();
eegpt::Encoder* gpu_encoder(std::string& why);

// Floating-point operations of one window through the encoder as this engine computes it
// (ARCHITECTURE.md "FLOPs"): GEMMs, attention and the patch embedding, with the last-block saving.
double flops_per_window(const eegpt::ModelConfig& config, int channels, int samples);
// The measured fp32 FMA ceiling of this machine for the CPU operations in use: the register-only loop
// of fma_peak_loop (peak.h) on every encoder thread at once (measured once, GFLOP/s); NaN when
// the CPU backend cannot run here.
double cpu_fma_peak_gflops();
// The same for bf16 dot products (VDPBF16PS); NaN where the CPU has none.
double cpu_bf16_peak_gflops();

// Channel ids: 19 = the standard 10-20 montage; other counts = the first `channels` dictionary ids.
std::vector<int> channel_ids(int channels);

// Runs encode on a batch and checks the output: its size is batch x samples/patch x embed_num x embed_dim
// and every value was written (the buffer starts as NaN) and is finite. Returns false on a bad output.
bool output_is_complete(const eegpt::Encoder& encoder, const std::vector<float>& out, int batch, int samples);

constexpr int kSampleRate = static_cast<int>(eegpt::kModelRateHz), kWindow = eegpt::kWindowSamples, kStride = kWindow / 2,
              kRecordingChannels = 19, kRecordingBatch = 32;

// Windows of a recording of `minutes` at 4 s / 2 s stride: 599 for 20 minutes.
int recording_windows(int minutes);

// The whole pipeline: cuts the windows out of `signal` (channels x total samples), encodes them in batches
// of kRecordingBatch and returns the features (windows x N x E x D).
std::vector<float> encode_recording(eegpt::Encoder& encoder, const std::vector<float>& signal, int channels,
                                    int total_samples);

// --memory-probe MODE: run in a fresh process by the [memory] cases. MODE is "window" (one 19-channel
// 4 s window) or "recording" (the 20-minute pipeline); device "cpu" or "cuda". Prints one line of
// key=value pairs (peak_rss_kb, start_rss_kb, after_rss_kb, heap_after_bytes, gpu_bytes).
int memory_probe(const std::string& mode, const std::string& device);

}  // namespace bench
