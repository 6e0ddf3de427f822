// bf16 matrix products on the CPU: y = x W^T (+ b) with x and W rounded to bf16 and the products
// summed in fp32, as AVX512_BF16's VDPBF16PS computes them.
//
// The weights are packed once (pack_bf16) in the instruction's layout: for every pair of input
// features k = 2p, 2p+1 and every output feature j, one 32-bit word holding W[j][2p] (low half)
// and W[j][2p+1] (high half), in panels of kBf16TileCols outputs (panel c: pairs x 32 words,
// contiguous, so that a panel streams with unit stride); outputs padded with zeros to whole panels.
// linear_bf16 works as the fp32 GEMM does (cpu/gemm.h): a block of up to 96 rows of x is converted
// once into tiles of kBf16TileRows interleaved rows (pair p of row r at p * kBf16TileRows + r,
// zero rows after the last), then for each panel (32 KB with K = 512: L1) every tile of the block
// is multiplied by a tile kernel over all pairs: the AVX512_BF16 one (in the AVX-512 module), or
// dpbf16_tile_emulated, an exact scalar emulation of the instruction. Both see the same packing,
// blocking and order of operations, so the emulation tests everything but the instruction itself
// on any CPU, and the two must agree bit for bit where the instruction exists.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eegpt::cpu {

// 12 x 32 outputs: 24 accumulators of AVX-512's 32 registers.
constexpr int kBf16TileRows = 12, kBf16TileCols = 32;

// fp32 -> bf16 as VCVTNEPS2BF16: round to nearest even, denormal inputs and results as zero (DAZ,
// FTZ), NaN kept a (quiet) NaN.
uint16_t to_bf16(float v);
float from_bf16(uint16_t v);

struct Bf16Matrix {
    int out = 0, in = 0, pairs = 0, panels = 0;  // panels: out / kBf16TileCols, rounded up
    std::vector<uint32_t> words;                 // panels x pairs x kBf16TileCols
    const uint32_t* panel(int c) const { return words.data() + static_cast<size_t>(c) * pairs * kBf16TileCols; }
};
// W is row-major out x in (PyTorch's layout).
Bf16Matrix pack_bf16(const float* w, int out, int in);

// acc (kBf16TileRows x kBf16TileCols, row-major) += a (pairs x kBf16TileRows words, interleaved
// rows) times b (pairs x kBf16TileCols words), the word pairs multiplied as VDPBF16PS does: for each
// output, per pair p ascending, acc += a.hi * b.hi, then acc += a.lo * b.lo, each rounded to fp32
// (the products are exact), denormal results flushed to zero.
using Bf16TileKernel = void (*)(const uint32_t* a, const uint32_t* b, int pairs, float* acc);
void dpbf16_tile_emulated(const uint32_t* a, const uint32_t* b, int pairs, float* acc);

// Words of scratch linear_bf16 needs for `in` input features: one block of x as bf16 pairs.
size_t bf16_scratch_words(int in);

// y[rows x w.out] = bf16(x) bf16(W)^T + b, or y += that when accumulate; b may be null; scratch holds
// bf16_scratch_words(w.in) words (the caller's, so that nothing is allocated inside its threads).
void linear_bf16(Bf16TileKernel kernel, const float* x, int x_stride, int rows, const Bf16Matrix& w, const float* b,
                 float* y, int y_stride, bool accumulate, uint32_t* scratch);

}  // namespace eegpt::cpu
