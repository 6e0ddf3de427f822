// The CUDA backend of the Encoder interface, built into libeegpt_cuda.so (encoder/cuda/module.h).
//
// Weights go to the device once, at construction (GEMM weights converted to bf16 there in bf16
// mode). Activations live in one arena (a single cudaMalloc) sized for the largest batch seen so
// far: it grows when a bigger batch arrives and is never allocated per call. One stream, one
// cuBLASLt handle with its workspace. Per call: input up, the fused patch embedding, depth - 1 full
// blocks, the last block on the summary rows only, the final norm, features down.
#pragma once
#include <memory>
#include <string>

#include "encoder/encoder.h"

namespace eegpt {

// Throws Error("no CUDA device available: ...") when the runtime finds no usable GPU.
std::unique_ptr<Encoder> make_cuda_encoder(const ModelWeights& weights, const EncoderOptions& options);

// Empty when the CUDA runtime finds a usable device; otherwise why not.
std::string cuda_device_unavailable_reason();

}  // namespace eegpt
