// The fp32 matrix product of the CPU encoder's linear layers: y = x W^T + b (+ y), with W packed
// once at load.
//
// Design (the Goto/BLIS scheme, cut down to what the encoder needs):
//  - W (out x in, PyTorch's layout) is packed at load into column panels of `nr` outputs: panel p
//    holds, for every input feature k, the nr weights W[p*nr .. p*nr+nr-1][k] side by side, so the
//    micro-kernel streams one panel with unit stride. Outputs are padded to a multiple of nr with
//    zero weights. nr is the ISA's: two vector registers (16 floats with AVX2, 32 with AVX-512).
//  - The product runs in blocks of kc input features (a panel's block, kc x nr floats = 16 KB, stays
//    in L1 beside the tile of x being read) and of 96 rows of x, which are copied into an MR-interleaved block (row r of tile t at
//    k: a[(t*kc + k)*MR + r]) that stays in L2 and is read with unit stride whatever x's stride,
//    padded with zero rows to a whole tile.
//  - Loads the hardware prefetcher misses are asked for ahead: each panel's block comes from L3
//    (the weights of a layer do not fit in L2) and is fetched a slice per tile during the previous
//    panel (into L2, not to evict the current block from L1); y's tile is fetched when its tile
//    starts. Measured on a Zen 3 (one thread, 184 rows, K x N = 512 x 2048, best of 25): 58% of the
//    FMA peak without, 82-86% with.
//  - The micro-kernel keeps an MR x nr tile of y in registers over one kc block: per k, two loads
//    of W, MR broadcasts of x and 2*MR FMAs (AVX2: 6 x 16, 12 accumulators of 16 registers).
//  - The first block of k adds the bias, and y's old value when accumulating; later blocks add
//    their partial sums to y. Every row is computed with the same order of operations whatever
//    the number of rows or its place in a tile, so a window's features do not depend on the batch.
//
// The kernels are compiled per ISA level (cpu/ops.cpp includes gemm_kernel.h); packing is plain
// code, here.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <memory>

namespace eegpt::cpu {

struct PackedWeights {
    int out = 0, in = 0, nr = 0, panels = 0;
    std::unique_ptr<float[], decltype(&std::free)> data{nullptr, &std::free};  // panels x in x nr, 64-byte aligned
    const float* panel(int p) const { return data.get() + static_cast<size_t>(p) * in * nr; }
};

// W is row-major out x in; nr is the micro-kernel's width (Ops::gemm_nr).
PackedWeights pack_weights(const float* w, int out, int in, int nr);

}  // namespace eegpt::cpu
