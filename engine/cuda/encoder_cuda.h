// The CUDA backend of the Encoder interface (built when EEGPT_WITH_CUDA is defined).
//
// Weights go to the device once, at construction (GEMM weights converted to bf16 there in bf16
// mode). Activations live in one arena (a single cudaMalloc) sized for the largest batch seen so
// far: it grows when a bigger batch arrives and is never allocated per call. One stream, one
// cuBLASLt handle with its workspace. Per call: input up, the fused patch embedding, depth - 1 full
// blocks, the last block on the summary rows only, the final norm, features down.
#pragma once
#include <memory>
#include <string>

#include "../encoder.h"

namespace eegpt {

// Throws Error("no CUDA device available: ...") when the runtime finds no usable GPU.
std::unique_ptr<Encoder> make_cuda_encoder(const ModelWeights& weights, const EncoderOptions& options);

// Empty when a CUDA device can be used; otherwise why not (for tests that must skip).
std::string cuda_unavailable_reason();

}  // namespace eegpt
