// Compiled for plain x86-64 like the rest of the bench: each loop asks for its instructions with a
// target attribute on its own function, so nothing else here (nor any inline function it shares
// with other files) can carry them onto a CPU without them; the caller checks the CPU first.
#include "peak.h"

#include <immintrin.h>

#include <chrono>

namespace bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Enough independent accumulators to cover the FMA latency on two ports (up to 5 cycles x 2), few
// enough to stay in registers with the two constants (16 vector registers with AVX2, 32 with AVX-512):
// the loop over them fully unrolled, or they live in memory and the loop measures loads and stores.
constexpr int kInner = 1000;

__attribute__((target("avx2,fma"))) double fma_peak_avx2(double seconds) {
    constexpr int kLanes = 8, kAcc = 12;
    __m256 acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(1.0f + 1e-3f * static_cast<float>(i));
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n)
#pragma GCC unroll 32
            for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    float total = 0;
    for (int i = 0; i < kAcc; ++i) {
        float f[kLanes];
        _mm256_storeu_ps(f, acc[i]);
        for (float v : f) total += v;
    }
    volatile float sink = total;  // keeps the loop from being optimised away
    (void)sink;
    return 2.0 * kLanes * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}

__attribute__((target("avx512f"))) double fma_peak_avx512(double seconds) {
    constexpr int kLanes = 16, kAcc = 24;
    __m512 acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(1.0f + 1e-3f * static_cast<float>(i));
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n)
#pragma GCC unroll 32
            for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    float total = 0;
    for (int i = 0; i < kAcc; ++i) {
        float f[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (its _mm256_undefined_pd)
        _mm512_storeu_ps(f, acc[i]);
        for (float v : f) total += v;
    }
    volatile float sink = total;
    (void)sink;
    return 2.0 * kLanes * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}

}  // namespace

PeakLoop fma_peak_loop(eegpt::cpu::Isa isa) { return isa == eegpt::cpu::Isa::avx512 ? fma_peak_avx512 : fma_peak_avx2; }

// 64 flops per instruction (16 lanes, 2 products each).
__attribute__((target("avx512f,avx512bf16"))) double bf16_peak_gflops(double seconds) {
    constexpr int kAcc = 24;
    __m512 acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3F803F80), b = (__m512bh)_mm512_set1_epi32(0x33D633D6);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n)
#pragma GCC unroll 32
            for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    float total = 0;
    for (int i = 0; i < kAcc; ++i) {
        float f[16];  // not _mm512_reduce_add_ps: GCC 12 warns inside it (its _mm256_undefined_pd)
        _mm512_storeu_ps(f, acc[i]);
        for (float v : f) total += v;
    }
    volatile float sink = total;
    (void)sink;
    return 64.0 * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}

}  // namespace bench
