// The one Encoder interface: every backend computes the same function,
// (B, C, T) samples in millivolts + C channel ids -> (B, T / patch, embed_num, embed_dim) features.
#pragma once
#include <memory>
#include <string>

#include "model/weights.h"

namespace eegpt {

enum class Device { cpu, cuda };
enum class Precision { fp32, tf32, bf16 };

std::string to_string(Device device);
std::string to_string(Precision precision);
Device parse_device(const std::string& name);
Precision parse_precision(const std::string& name);

struct EncoderOptions {
    Device device = Device::cpu;
    Precision precision = Precision::fp32;
    int threads = 0;  // CPU worker threads; 0 = all cores
};

class Encoder {
public:
    virtual ~Encoder() = default;
    // x: batch x channels x samples floats (C order); channel_ids: `channels` dictionary ids;
    // out: batch x (samples / patch) x embed_num x embed_dim floats.
    // Throws Error on bad shapes or ids. Not safe to call from two threads at once.
    virtual void encode(const float* x, int batch, int channels, int samples, const int* channel_ids,
                        float* out) = 0;
    virtual const ModelConfig& config() const = 0;
    virtual Device device() const = 0;
    virtual Precision precision() const = 0;
    size_t output_size(int batch, int samples) const;
};

std::unique_ptr<Encoder> make_encoder(const ModelWeights& weights, const EncoderOptions& options = {});

// Checks arguments shared by all backends; throws Error naming the problem.
void check_encode_arguments(const ModelConfig& config, int batch, int channels, int samples, const int* channel_ids);

bool cuda_backend_compiled();

}  // namespace eegpt
