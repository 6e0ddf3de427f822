// bf16 on the CPU (engine/encoder/cpu/bf16.h): the conversion, the packing and blocking of the
// GEMM through the exact scalar emulation of VDPBF16PS (on every machine), the real AVX512_BF16
// kernel against that emulation bit for bit (where the CPU has it), and the whole encoder in bf16
// on the emulated kernel against the float64 reference.
#include <cmath>
#include <cstring>
#include <random>

#include "catch_compat.h"
#include "encoder/cpu/bf16.h"
#include "encoder/cpu/encoder_cpu.h"
#include "encoder/cpu/ops.h"
#include "parity.h"
#include "reference_encoder.h"
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::randn;
using eegpt_test::relative_error;

namespace {

uint32_t bits(float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return u;
}
float from_bits(uint32_t u) {
    float v;
    std::memcpy(&v, &u, sizeof v);
    return v;
}

// VDPBF16PS as the instruction set reference writes it, one output at a time: per pair, the high
// halves' product then the low halves', each added in fp32 with denormal results flushed.
float flush(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }

std::vector<float> direct_bf16_linear(const std::vector<float>& x, int rows, int in, const std::vector<float>& w,
                                      const std::vector<float>& b, int out, const std::vector<float>& y0,
                                      bool accumulate) {
    std::vector<float> y(static_cast<size_t>(rows) * out);
    auto rounded = [](float v) { return cpu::from_bf16(cpu::to_bf16(v)); };
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < out; ++j) {
            float s = 0.0f;
            for (int k = 0; k < in; k += 2) {
                const float xh = k + 1 < in ? rounded(x[static_cast<size_t>(r) * in + k + 1]) : 0.0f;
                const float wh = k + 1 < in ? rounded(w[static_cast<size_t>(j) * in + k + 1]) : 0.0f;
                s = flush(s + wh * xh);
                s = flush(s + rounded(w[static_cast<size_t>(j) * in + k]) * rounded(x[static_cast<size_t>(r) * in + k]));
            }
            const float v = s + b[static_cast<size_t>(j)];
            y[static_cast<size_t>(r) * out + j] = accumulate ? y0[static_cast<size_t>(r) * out + j] + v : v;
        }
    return y;
}

}  // namespace

TEST_CASE("bf16: conversion rounds to nearest even, flushes denormals, keeps NaN and infinity", "[bf16]") {
    CHECK(cpu::to_bf16(1.0f) == 0x3F80);
    CHECK(cpu::to_bf16(from_bits(0x3F808000u)) == 0x3F80);  // a tie: to the even neighbour below
    CHECK(cpu::to_bf16(from_bits(0x3F818000u)) == 0x3F82);  // a tie: to the even neighbour above
    CHECK(cpu::to_bf16(from_bits(0x3F808001u)) == 0x3F81);  // above the tie
    CHECK(cpu::to_bf16(-2.5f) == 0xC020);
    CHECK(cpu::to_bf16(1e-40f) == 0x0000);   // denormal input: zero (DAZ)
    CHECK(cpu::to_bf16(-1e-40f) == 0x8000);  // with its sign
    CHECK(cpu::to_bf16(from_bits(0x7F7FFFFFu)) == 0x7F80);  // the largest float rounds to infinity
    CHECK(cpu::to_bf16(INFINITY) == 0x7F80);
    const uint16_t nan = cpu::to_bf16(std::nanf(""));
    CHECK(std::isnan(cpu::from_bf16(nan)));
    CHECK((nan & 0x0040) != 0);  // quiet
    CHECK(cpu::from_bf16(0x3F80) == 1.0f);
}

TEST_CASE("bf16: packing, blocking and the emulated VDPBF16PS give the instruction's result exactly", "[bf16]") {
    struct Case {
        int rows, in, out;
        bool bias, accumulate;
    };
    // Odd input counts (a padded pair), outputs not a multiple of 32, rows not a multiple of the
    // tile (12) nor of the block (96).
    const Case cases[] = {{1, 2, 1, false, false},    {5, 64, 40, true, false},   {7, 33, 70, true, true},
                          {4, 512, 96, true, false},   {9, 2048, 33, false, true}, {13, 40, 65, true, false},
                          {100, 66, 45, true, true},   {193, 17, 32, false, false}};
    unsigned seed = 10;
    for (const Case& c : cases) {
        INFO("rows " << c.rows << " in " << c.in << " out " << c.out);
        const auto x = randn(static_cast<size_t>(c.rows) * c.in, ++seed, 0.0f, 1.0f);
        const auto w = randn(static_cast<size_t>(c.out) * c.in, ++seed, 0.0f, 0.05f);
        const auto b = c.bias ? randn(static_cast<size_t>(c.out), ++seed, 0.0f, 0.1f) : std::vector<float>(c.out, 0.0f);
        const auto y0 = randn(static_cast<size_t>(c.rows) * c.out, ++seed, 0.0f, 1.0f);
        const cpu::Bf16Matrix packed = cpu::pack_bf16(w.data(), c.out, c.in);
        std::vector<float> got = y0;
        std::vector<uint32_t> scratch(cpu::bf16_scratch_words(c.in));
        cpu::linear_bf16(cpu::dpbf16_tile_emulated, x.data(), c.in, c.rows, packed, c.bias ? b.data() : nullptr,
                         got.data(), c.out, c.accumulate, scratch.data());
        CHECK(got == direct_bf16_linear(x, c.rows, c.in, w, b, c.out, y0, c.accumulate));
        // And it is the product it should be: bf16 inputs, fp32 sums.
        std::vector<float> fp32 = y0;
        cpu::avx2::linear(x.data(), c.in, c.rows, c.in, w.data(), c.bias ? b.data() : nullptr, c.out, fp32.data(), c.out,
                    c.accumulate);
        CHECK(relative_error(got, fp32) <= 1e-2);
    }
}

TEST_CASE("bf16: the AVX512_BF16 kernel equals the emulation bit for bit", "[bf16]") {
    const std::string why = cpu::bf16_unavailable_reason(cpu::Isa::avx512);
    if (!why.empty()) EEGPT_SKIP(why);
    const cpu::Bf16TileKernel real = cpu::ops(cpu::Isa::avx512).bf16_tile;
    REQUIRE(real != nullptr);
    for (int in : {2, 63, 512, 2048}) {
        const int rows = 101, out = 100;
        INFO("in " << in);
        const auto x = randn(static_cast<size_t>(rows) * in, 50 + static_cast<unsigned>(in), 0.0f, 1.0f);
        const auto w = randn(static_cast<size_t>(out) * in, 60 + static_cast<unsigned>(in), 0.0f, 0.05f);
        const auto b = randn(static_cast<size_t>(out), 70, 0.0f, 0.1f);
        const cpu::Bf16Matrix packed = cpu::pack_bf16(w.data(), out, in);
        std::vector<float> a(static_cast<size_t>(rows) * out, std::nanf("")), e(a.size(), std::nanf(""));
        std::vector<uint32_t> scratch(cpu::bf16_scratch_words(in));
        cpu::linear_bf16(real, x.data(), in, rows, packed, b.data(), a.data(), out, false, scratch.data());
        cpu::linear_bf16(cpu::dpbf16_tile_emulated, x.data(), in, rows, packed, b.data(), e.data(), out, false,
                         scratch.data());
        CHECK(a == e);
    }
}

TEST_CASE("bf16: the CPU encoder in bf16 (emulated VDPBF16PS) matches the float64 reference", "[bf16][encoder]") {
    // The AVX2 operations with the emulated bf16 kernel: the encoder's bf16 path on any CPU.
    static const cpu::Ops emulated = [] {
        cpu::Ops ops = cpu::ops(cpu::Isa::avx2);
        ops.bf16_tile = cpu::dpbf16_tile_emulated;
        return ops;
    }();
    const auto& bound = eegpt_test::bound_for(Precision::bf16);
    for (const auto& c : eegpt_test::small_model_cases()) {
        INFO("dim " << c.config.embed_dim << " channels " << c.channels << " batch " << c.batch);
        const auto weights = eegpt_test::small_model_weights(c);
        CpuEncoder encoder(weights, 0, emulated, Precision::bf16);
        CHECK((encoder.precision() == Precision::bf16));
        const auto run = eegpt_test::run_against_reference(encoder, *weights, c, "bf16 emulated");
        CHECK(run.relative <= bound.relative);
        CHECK(run.min_cosine >= bound.min_cosine);
        CHECK(run.relative > 1e-5);  // the GEMM inputs really are rounded to bf16
    }
}
