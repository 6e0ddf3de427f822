// The CPU operations of the encoder, callable on their own: what the CPU backend is made of, and
// the reference every CUDA kernel (kernels/kernels.h, same argument order, host memory, fp32) is
// tested against. Matrices are row-major; strides are in floats.
//
// They exist once per ISA level, cpu/ops.cpp compiled for each with all of it inside the level's
// namespace (so that a check of the binary, test/python/test_isa.py, tells them from the code that
// must run on any x86-64): eegpt::cpu::avx2, AVX2 + FMA (x86-64-v3), in this library, declared below
// and the reference of the tests; eegpt::cpu::avx512, AVX-512 (x86-64-v4), in the module
// libeegpt_cpu_avx512.so, opened only on a CPU that has it (a module, so that the two compilations
// of the same Eigen templates can never be mixed up by the linker) and reached only through its
// table. ops(isa) gives a level's table; default_isa() picks the level from cpuid, or the one
// EEGPT_CPU_ISA names.
#pragma once
#include <cstddef>
#include <string>

#include "encoder/cpu/bf16.h"
#include "encoder/cpu/gemm.h"
#include "encoder/cpu/int8.h"

namespace eegpt::cpu {

enum class Isa { avx2, avx512 };
std::string to_string(Isa isa);
Isa parse_isa(const std::string& name);  // "avx2", "avx512"; throws Error otherwise

struct Ops;

// Floats of scratch attention() needs: one head's scores (num_q rows of seq_len padded to a
// multiple of 8), its keys transposed, its queries and values, and the rows' 1 / sum.
inline size_t attention_scratch_floats(int num_q, int seq_len, int head_dim) {
    const size_t pad = static_cast<size_t>(seq_len + 7) / 8 * 8, q = static_cast<size_t>(num_q), d = static_cast<size_t>(head_dim);
    return pad * (q + d) + d * (q + static_cast<size_t>(seq_len)) + q;
}

namespace avx2 {

// y[rows x out] = x[rows x in] W^T + b with W stored (out x in) as PyTorch does; accumulate adds
// the product into y instead (the residual connection). b may be null.
void linear(const float* x, int x_stride, int rows, int in, const float* w, const float* b, int out, float* y,
            int y_stride, bool accumulate);

// linear with W packed by pack_weights(w, out, in, w.nr) for this level's micro-kernel (w.nr must
// be the table's gemm_nr) and scratch of the table's gemm_scratch floats: the encoder's fast path;
// `linear` above is the plain reference.
void linear_packed(const float* x, int x_stride, int rows, const PackedWeights& w, const float* b, float* y,
                   int y_stride, bool accumulate, float* scratch);

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, two-pass statistics (mean first, then the
// variance of the centred values: the one-pass form loses digits when |mean| >> std).
void layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int dim, float eps);

// y = GELU(x + bias[column]) with the exact erf form; x is rows x cols (n elements); bias may be
// null; y == x allowed.
void bias_gelu(const float* x, const float* bias, float* y, size_t n, int cols);

// Multi-head softmax attention inside each of `seqs` sequences, addressed as kernels::attention.
// scratch: attention_scratch_floats(num_q, seq_len, head_dim) floats.
void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride, int seq_len,
               int seqs, int heads, int head_dim, float* out, int out_stride, float* scratch);

// y[s * count + e] = x[s * seq_len + first + e] (rows of dim floats).
void gather_rows(const float* x, float* y, int seqs, int seq_len, int first, int count, int dim);

// Tokens of sequences [first_seq, first_seq + seqs) (one sequence per window and time patch; patch
// n starts at sample n * stride): channel rows W p + b + chan_embed[id], then the summary tokens; as
// kernels::patch_embed except that patch_w is in the model's layout (dim x patch), not transposed.
void patch_embed(const float* x, const int* channel_ids, const float* patch_w, const float* patch_bias,
                 const float* chan_embed, const float* summary, float* tokens, int channels, int samples, int patch,
                 int stride, int dim, int embed_num, int first_seq, int seqs);

// This compilation's table (the module's is its avx512::table(), exported as eegpt_cpu_ops_table).
const Ops& table();

}  // namespace avx2

// One ISA level's operations: the functions above, with the types of the AVX2 ones, which every
// level's definitions must match.
struct Ops {
    Isa isa;
    decltype(&avx2::linear) linear;
    // The encoder's GEMM (cpu/gemm.h) on weights packed with pack_weights(..., gemm_nr), with
    // gemm_scratch floats of scratch.
    decltype(&avx2::linear_packed) linear_packed;
    int gemm_nr;
    size_t gemm_scratch;
    decltype(&avx2::layernorm) layernorm;
    decltype(&avx2::bias_gelu) bias_gelu;
    decltype(&avx2::attention) attention;
    decltype(&avx2::gather_rows) gather_rows;
    decltype(&avx2::patch_embed) patch_embed;
    // The bf16 tile kernel (cpu/bf16.h) with this level's instructions, or null: AVX512_BF16's
    // VDPBF16PS in the AVX-512 module (usable where bf16_unavailable_reason() is empty).
    Bf16TileKernel bf16_tile;
    // The int8 tile kernels (cpu/int8.h) of this level: int8_maddubs (VPMADDUBSW, weights in
    // [-63, 63]; AVX2, every CPU of the level) and int8_vnni (VPDPBUSD, weights in [-127, 127]:
    // AVX-VNNI on ymm in the AVX2 build, AVX512_VNNI on zmm in the AVX-512 module), usable where
    // int8_vnni_unavailable_reason() is empty. int8_tile() picks one.
    Int8Kernel int8_maddubs;
    Int8Kernel int8_vnni;
};

// Empty when `isa` can run here (this CPU has the instructions, this build has the code); else why not.
std::string isa_unavailable_reason(Isa isa);
// The best level this CPU and build can run, or the one EEGPT_CPU_ISA names (which must be available).
// Throws Error with one line when none can run (a CPU without AVX2 and FMA).
Isa default_isa();
// The operations of `isa`; throws Error naming what is missing when isa_unavailable_reason(isa) is not empty.
const Ops& ops(Isa isa);
// Empty when --precision bf16 can run here with the ops of `isa`; else why not (no AVX512_BF16).
std::string bf16_unavailable_reason(Isa isa);
// Empty when the VPDPBUSD int8 kernel of `isa` (AVX-VNNI for avx2, AVX512_VNNI for avx512) can run here.
std::string int8_vnni_unavailable_reason(Isa isa);
// The int8 tile kernel --precision int8 uses with `ops`: its VPDPBUSD one where the CPU has the
// instructions, else its VPMADDUBSW one (every CPU that runs the level); and that kernel's name.
Int8Kernel int8_tile(const Ops& ops);
std::string int8_kernel_name(const Ops& ops);

}  // namespace eegpt::cpu
