// The one Encoder interface: every backend computes the same function,
// (B, C, T) samples in millivolts + C channel ids -> (B, N, embed_num, embed_dim) features, with
// N = (T - patch_size) / patch_stride + 1 time patches (ModelConfig::patches; trailing samples that
// do not fill a patch are ignored, as in the released Conv2d patch embedding).
#pragma once
#include <memory>
#include <string>

#include "encoder/model/weights.h"

namespace eegpt {

enum class Device { cpu, cuda };
// int8: the CPU's linear layers in int8 (engine/encoder/cpu/int8.h); never a default.
enum class Precision { fp32, tf32, bf16, int8 };

std::string to_string(Device device);
std::string to_string(Precision precision);
Device parse_device(const std::string& name);
Precision parse_precision(const std::string& name);

struct EncoderOptions {
    Device device = Device::cpu;
    Precision precision = Precision::fp32;
    int threads = 0;  // CPU worker threads; 0 = all cores
    // CPU ISA level, "avx2" or "avx512"; empty: the best this CPU has, or what EEGPT_CPU_ISA names.
    std::string isa;
};

class Encoder {
public:
    virtual ~Encoder() = default;
    // x: batch x channels x samples floats (C order), samples >= config().min_samples();
    // channel_ids: `channels` dictionary ids; out: batch x config().patches(samples) x embed_num x
    // embed_dim floats (output_size).
    // Throws Error on bad shapes or ids. Not safe to call from two threads at once.
    virtual void encode(const float* x, int batch, int channels, int samples, const int* channel_ids,
                        float* out) = 0;
    virtual const ModelConfig& config() const = 0;
    virtual Device device() const = 0;
    virtual Precision precision() const = 0;
    // The CPU ISA level of the operations ("avx2", "avx512"); empty for other devices.
    virtual std::string isa() const { return ""; }
    // The int8 kernel and its weights' range (CPU, --precision int8: cpu::int8_kernel_name), else empty.
    virtual std::string int8_kernel() const { return ""; }
    size_t output_size(int batch, int samples) const;
};

// The encoder keeps `weights` alive (shared, never copied). The CUDA backend is a separate shared
// library (libeegpt_cuda.so) opened on the first Device::cuda request, so CPU work never maps the
// CUDA runtime; it is looked for in $EEGPT_CUDA_MODULE (a path), beside the running executable, in
// the install's library directory, then by the dynamic linker's search path.
std::unique_ptr<Encoder> make_encoder(std::shared_ptr<const ModelWeights> weights, const EncoderOptions& options = {});
// Takes the weights over (moved in, or copied from an lvalue).
std::unique_ptr<Encoder> make_encoder(ModelWeights weights, const EncoderOptions& options = {});

// Empty when make_encoder can build a CUDA encoder on this machine; otherwise why not (no CUDA
// module, no CUDA runtime, no device), for messages and for tests that must skip.
std::string cuda_unavailable_reason();

// Finite windows and finite weights can still overflow float32 inside the encoder: throws Error
// naming the first window (of per_window values) whose features are not finite.
void check_features_finite(const float* features, size_t count, size_t per_window);

// Checks arguments shared by all backends; throws Error naming the problem.
void check_encode_arguments(const ModelConfig& config, int batch, int channels, int samples, const int* channel_ids);

}  // namespace eegpt
