// What the cases run: the model (random weights of the configuration named by --model, seed 0, or
// the file --weights names; built once), the encoders, synthetic inputs, and the recording pipeline of `eegpt embed` on EDF
// files (EDF read, channel mapping, resampling, 4 s windows at 2 s stride, batches, encoder, HDF5 out).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "encoder/conventions.h"
#include "encoder/encoder.h"
#include "recordings/pipeline/recording_job.h"

namespace bench {

std::shared_ptr<const eegpt::ModelWeights> model_weights();
// A fresh copy of them (the memory probe's, as a program would load them).
std::shared_ptr<const eegpt::ModelWeights> load_model_weights();
// The CPU encoder (built once). The CUDA encoder, or nullptr with `why` set when this build has no
// CUDA backend or no device is present (make_encoder throws eegpt::Error then).
eegpt::Encoder& cpu_encoder();
eegpt::Encoder* gpu_encoder(std::string& why);

// Floating-point operations of one window through the encoder as this engine computes it
// (docs/architecture.md, "FLOPs"): GEMMs, attention and the patch embedding, with the last-block saving.
double flops_per_window(const eegpt::ModelConfig& config, int channels, int samples);
// The measured fp32 FMA ceiling of this machine for the CPU operations in use: the register-only loop
// of fma_peak_loop (peak.h) on every encoder thread at once (measured once, each thread's best short
// run: best_rate; GFLOP/s); NaN when the CPU backend cannot run here.
double cpu_fma_peak_gflops();
// The same for bf16 dot products (VDPBF16PS); NaN where the CPU has none.
double cpu_bf16_peak_gflops();
// The same for the int8 kernel --precision int8 runs here (GOPS: VPDPBUSD where the CPU has VNNI,
// else VPMADDUBSW + VPMADDWD + VPADDD), and that kernel's name (cpu::int8_kernel_name).
double cpu_int8_peak_gops();
std::string cpu_int8_kernel();

// Channel ids: 19 = the standard 10-20 montage; other counts = the first `channels` dictionary ids.
std::vector<int> channel_ids(int channels);

// Runs encode on a batch and checks the output: its size is batch x samples/patch x embed_num x embed_dim
// and every value was written (the buffer starts as NaN) and is finite. Returns false on a bad output.
bool output_is_complete(const eegpt::Encoder& encoder, const std::vector<float>& out, int batch, int samples);

constexpr int kSampleRate = static_cast<int>(eegpt::kModelRateHz), kWindow = eegpt::kWindowSamples, kStride = kWindow / 2,
              kRecordingChannels = 19, kRecordingBatch = 32;

// Windows of a recording of `minutes` at 4 s / 2 s stride: 599 for 20 minutes.
int recording_windows(int minutes);

// Where the recording cases write their synthetic inputs and their outputs: beside the results file,
// named after it (benchmark_results/benchmark_results.json -> benchmark_results/benchmark_results_recordings).
std::string recordings_dir();
// The synthetic recording of `minutes` (engine/recordings/synthetic_recording.h: an EDF+ file of 19 EEG
// channels at 500 Hz and an ECG), written into recordings_dir() once per process; its path.
std::string synthetic_recording(int minutes);
// A real recording of the test data (test/data/eeg, --data-dir): its path.
std::string real_recording(const std::string& file_name);
// Where the features of `input` go in recordings_dir(): output_path (job_record.h), as `eegpt embed --output-dir` names it.
std::string features_path(const std::string& input);

// `eegpt embed --stride 2 --output OUTPUT INPUT`: the CLI's pipeline (process_recording) with its
// default montage and preprocessing, 4 s windows at 2 s stride in batches of kRecordingBatch, on
// `encoder` with weights of `provenance`. The summary's encoder_s is the time inside the encoder.
eegpt::RecordingSummary embed_recording(eegpt::Encoder& encoder, const eegpt::Provenance& provenance,
                                        const std::string& input, const std::string& output);
// The sampling rate of the signals the pipeline used (the highest, should they differ), from the file's header.
double source_rate_hz(const std::string& input, const eegpt::ChannelPlan& plan);

// --memory-probe MODE: run in a fresh process by the [memory] cases. MODE is "window" (one 19-channel
// 4 s window) or "recording" (embed_recording of `recording`, an EDF file, its output removed after);
// device "cpu" or "cuda". Prints one line of key=value pairs (peak_rss_kb, start_rss_kb, after_rss_kb,
// heap_after_bytes, gpu_bytes).
int memory_probe(const std::string& mode, const std::string& device, const std::string& recording);

}  // namespace bench
