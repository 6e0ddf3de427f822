#include "encoder.h"

#include "channels.h"
#include "cpu/encoder_cpu.h"
#include "error.h"
#ifdef EEGPT_WITH_CUDA
#include "cuda/encoder_cuda.h"
#endif

namespace eegpt {

std::string to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

std::string to_string(Precision precision) {
    switch (precision) {
        case Precision::fp32: return "fp32";
        case Precision::tf32: return "tf32";
        case Precision::bf16: return "bf16";
    }
    return "?";
}

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::cpu;
    if (name == "cuda" || name == "gpu") return Device::cuda;
    throw Error("unknown device '" + name + "' (use cpu or cuda)");
}

Precision parse_precision(const std::string& name) {
    if (name == "fp32") return Precision::fp32;
    if (name == "tf32") return Precision::tf32;
    if (name == "bf16") return Precision::bf16;
    throw Error("unknown precision '" + name + "' (use fp32, tf32 or bf16)");
}

size_t Encoder::output_size(int batch, int samples) const {
    const ModelConfig& c = config();
    return static_cast<size_t>(batch) * static_cast<size_t>(samples / c.patch_size) * c.embed_num * c.embed_dim;
}

void check_encode_arguments(const ModelConfig& config, int batch, int channels, int samples, const int* channel_ids) {
    const int dictionary_size = static_cast<int>(channel_dictionary().size());
    if (batch < 1) throw Error("batch must be at least 1, got " + std::to_string(batch));
    if (channels < 1 || channels > dictionary_size)
        throw Error("channel count must be 1.." + std::to_string(dictionary_size) + ", got " + std::to_string(channels));
    if (samples < config.patch_size || samples % config.patch_size != 0)
        throw Error("samples per window must be a positive multiple of " + std::to_string(config.patch_size) +
                    ", got " + std::to_string(samples));
    for (int c = 0; c < channels; ++c)
        if (channel_ids[c] < 0 || channel_ids[c] >= dictionary_size)
            throw Error("channel id " + std::to_string(channel_ids[c]) + " out of range 0.." +
                        std::to_string(dictionary_size - 1));
}

std::unique_ptr<Encoder> make_encoder(const ModelWeights& weights, const EncoderOptions& options) {
    weights.config.validate();
    if (options.device == Device::cpu) {
        if (options.precision != Precision::fp32)
            throw Error("precision " + to_string(options.precision) + " is not available on the cpu device (use fp32)");
        return std::make_unique<CpuEncoder>(weights, options.threads);
    }
#ifdef EEGPT_WITH_CUDA
    return make_cuda_encoder(weights, options);
#else
    throw Error("this build has no CUDA backend (configure with -DEEGPT_WITH_CUDA=ON)");
#endif
}

bool cuda_backend_compiled() {
#ifdef EEGPT_WITH_CUDA
    return true;
#else
    return false;
#endif
}

}  // namespace eegpt
