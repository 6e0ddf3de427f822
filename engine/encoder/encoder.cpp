#include <cmath>
#include "encoder/encoder.h"

#include "encoder/channels.h"
#include "encoder/cpu/encoder_cpu.h"
#include "encoder/cuda/module.h"
#include "encoder/error.h"
#include "encoder/module_loader.h"

namespace eegpt {

std::string to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

std::string to_string(Precision precision) {
    switch (precision) {
        case Precision::fp32: return "fp32";
        case Precision::tf32: return "tf32";
        case Precision::bf16: return "bf16";
        case Precision::int8: return "int8";
    }
    return "?";
}

Device parse_device(const std::string& name) {
    if (name == "cpu") return Device::cpu;
    if (name == "cuda") return Device::cuda;
    // One name per device: outputs record it, and resuming compares records.
    if (name == "gpu") throw Error("unknown device 'gpu': the GPU device is called 'cuda' (use cpu or cuda)");
    throw Error("unknown device '" + name + "' (use cpu or cuda)");
}

Precision parse_precision(const std::string& name) {
    if (name == "fp32") return Precision::fp32;
    if (name == "tf32") return Precision::tf32;
    if (name == "bf16") return Precision::bf16;
    if (name == "int8") return Precision::int8;
    throw Error("unknown precision '" + name + "' (use fp32, tf32, bf16 or int8)");
}

size_t Encoder::output_size(int batch, int samples) const {
    const ModelConfig& c = config();
    return static_cast<size_t>(batch) * static_cast<size_t>(c.patches(samples)) * c.embed_num * c.embed_dim;
}

void check_features_finite(const float* features, size_t count, size_t per_window) {
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(features[i]))
            throw Error("the features of window " + std::to_string(i / per_window) +
                        " are not finite (the input's or the weights' values overflow float32); nothing written");
}

void check_encode_arguments(const ModelConfig& config, int batch, int channels, int samples, const int* channel_ids) {
    const int dictionary_size = static_cast<int>(channel_dictionary().size());
    if (batch < 1) throw Error("batch must be at least 1, got " + std::to_string(batch));
    if (channels < 1 || channels > dictionary_size)
        throw Error("channel count must be 1.." + std::to_string(dictionary_size) + ", got " + std::to_string(channels));
    if (samples < config.min_samples())
        throw Error("samples per window must be at least " + std::to_string(config.min_samples()) +
                    " (one patch), got " + std::to_string(samples));
    for (int c = 0; c < channels; ++c)
        if (channel_ids[c] < 0 || channel_ids[c] >= dictionary_size)
            throw Error("channel id " + std::to_string(channel_ids[c]) + " out of range 0.." +
                        std::to_string(dictionary_size - 1));
}

namespace {

// The CUDA module (encoder/cuda/module.h), opened on first use.
class CudaModule {
public:
    static const CudaModule& get() {
        static const CudaModule module;
        return module;
    }
    // Empty when the module is loaded; otherwise why not, in one line.
    const std::string& load_error() const { return module_.error; }
    cuda_module::MakeEncoderFn make_encoder = nullptr;
    cuda_module::UnavailableReasonFn unavailable_reason = nullptr;

private:
    CudaModule()
        : module_(open_module(cuda_module::kFileName, "EEGPT_CUDA_MODULE", "the CUDA backend",
                              cuda_module::kVersionSymbol, "build with -DEEGPT_WITH_CUDA=ON")) {
        make_encoder = reinterpret_cast<cuda_module::MakeEncoderFn>(module_.symbol(cuda_module::kMakeEncoderSymbol));
        unavailable_reason =
            reinterpret_cast<cuda_module::UnavailableReasonFn>(module_.symbol(cuda_module::kUnavailableReasonSymbol));
    }
    LoadedModule module_;
};

}  // namespace

std::unique_ptr<Encoder> make_encoder(std::shared_ptr<const ModelWeights> weights, const EncoderOptions& options) {
    weights->config.validate();
    if (options.device == Device::cpu) {
        const cpu::Isa isa = options.isa.empty() ? cpu::default_isa() : cpu::parse_isa(options.isa);
        if (options.precision == Precision::bf16) {
            const std::string why = cpu::bf16_unavailable_reason(isa);
            if (!why.empty()) throw Error(why);
        }
        return std::make_unique<CpuEncoder>(std::move(weights), options.threads, cpu::ops(isa), options.precision);
    }
    if (options.precision == Precision::int8)
        throw Error("precision int8 is available on the cpu device only (use --device cpu)");
    const CudaModule& module = CudaModule::get();
    if (!module.load_error().empty()) throw Error(module.load_error());
    return std::unique_ptr<Encoder>(module.make_encoder(*weights, options));
}

std::unique_ptr<Encoder> make_encoder(ModelWeights weights, const EncoderOptions& options) {
    return make_encoder(std::make_shared<const ModelWeights>(std::move(weights)), options);
}

std::string cuda_unavailable_reason() {
    const CudaModule& module = CudaModule::get();
    if (!module.load_error().empty()) return module.load_error();
    std::string reason;
    module.unavailable_reason(reason);
    return reason;
}

}  // namespace eegpt
