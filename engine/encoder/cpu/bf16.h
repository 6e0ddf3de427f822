// bf16 matrix products on the CPU: y = x W^T (+ b) with x and W rounded to bf16 and the products
// summed in fp32, as AVX512_BF16's VDPBF16PS computes them.
//
// The weights are packed once (pack_bf16) in the instruction's layout: for every pair of input
// features k = 2p, 2p+1 and every output feature j, one 32-bit word holding W[j][2p] (low half)
// and W[j][2p+1] (high half); outputs padded to a multiple of kBf16TileCols. linear_bf16 converts
// a tile of rows of x the same way and hands (rows x pairs) against (pairs x columns) to a tile
// kernel: the AVX512_BF16 one (in the AVX-512 module), or dpbf16_tile_emulated, an exact scalar
// emulation of the instruction. Both see the same packing, blocking and order of operations, so
// the emulation tests everything but the instruction itself on any CPU, and the two must agree
// bit for bit where the instruction exists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eegpt::cpu {

constexpr int kBf16TileRows = 4, kBf16TileCols = 32;

// fp32 -> bf16 as VCVTNEPS2BF16: round to nearest even, denormal inputs and results as zero (DAZ,
// FTZ), NaN kept a (quiet) NaN.
uint16_t to_bf16(float v);
float from_bf16(uint16_t v);

struct Bf16Matrix {
    int out = 0, in = 0, pairs = 0, cols = 0;  // cols: out padded to kBf16TileCols
    std::vector<uint32_t> words;               // pairs x cols
};
// W is row-major out x in (PyTorch's layout).
Bf16Matrix pack_bf16(const float* w, int out, int in);

// acc (kBf16TileRows x kBf16TileCols, row-major) += a (rows x pairs words, row stride a_stride)
// times b (pairs x kBf16TileCols words, row stride b_stride), the word pairs multiplied as
// VDPBF16PS does: for each output, per pair p ascending, acc += a.hi * b.hi, then acc += a.lo * b.lo,
// each rounded to fp32 (the products are exact), denormal results flushed to zero. rows <= kBf16TileRows.
using Bf16TileKernel = void (*)(const uint32_t* a, int a_stride, const uint32_t* b, int b_stride, int pairs,
                                float* acc, int rows);
void dpbf16_tile_emulated(const uint32_t* a, int a_stride, const uint32_t* b, int b_stride, int pairs, float* acc,
                          int rows);

// y[rows x w.out] = bf16(x) bf16(W)^T + b, or y += that when accumulate; b may be null.
void linear_bf16(Bf16TileKernel kernel, const float* x, int x_stride, int rows, const Bf16Matrix& w, const float* b,
                 float* y, int y_stride, bool accumulate);

}  // namespace eegpt::cpu
