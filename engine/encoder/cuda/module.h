// The entry points of the CUDA backend's shared library (libeegpt_cuda.so), looked up with dlsym by
// make_encoder (encoder/encoder.cpp). Plain C names, C++ types: the module and the program are built
// together from this repository (the version is checked), with the same compiler and libstdc++, so
// an eegpt::Error thrown inside the module is caught as one outside.
#pragma once
#include <string>

#include "encoder/encoder.h"

namespace eegpt::cuda_module {

constexpr const char* kFileName = "libeegpt_cuda.so";
constexpr const char* kVersionSymbol = "eegpt_cuda_module_version";
constexpr const char* kMakeEncoderSymbol = "eegpt_cuda_make_encoder";
constexpr const char* kUnavailableReasonSymbol = "eegpt_cuda_unavailable_reason";

using VersionFn = const char* (*)();
// Returns a new encoder (the caller owns it) or throws Error.
using MakeEncoderFn = Encoder* (*)(const ModelWeights& weights, const EncoderOptions& options);
// Sets `reason` to why no CUDA device can be used, or to "" when one can.
using UnavailableReasonFn = void (*)(std::string& reason);

}  // namespace eegpt::cuda_module
