#include <type_traits>

// The exported entry points of libeegpt_cuda.so (encoder/cuda/module.h).
#include "encoder/cuda/module.h"

#include "encoder/cuda/encoder_cuda.h"

extern "C" {

__attribute__((visibility("default"))) const char* eegpt_cuda_module_version() { return EEGPT_VERSION; }

__attribute__((visibility("default"))) eegpt::Encoder* eegpt_cuda_make_encoder(const eegpt::ModelWeights& weights,
                                                                               const eegpt::EncoderOptions& options) {
    return eegpt::make_cuda_encoder(weights, options).release();
}

__attribute__((visibility("default"))) void eegpt_cuda_unavailable_reason(std::string& reason) {
    reason = eegpt::cuda_device_unavailable_reason();
}

}  // extern "C"

// The module's own functions must match the types make_encoder casts them to.
static_assert(std::is_same_v<decltype(&eegpt_cuda_module_version), eegpt::cuda_module::VersionFn>);
static_assert(std::is_same_v<decltype(&eegpt_cuda_make_encoder), eegpt::cuda_module::MakeEncoderFn>);
static_assert(std::is_same_v<decltype(&eegpt_cuda_unavailable_reason), eegpt::cuda_module::UnavailableReasonFn>);
