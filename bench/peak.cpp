// Compiled for plain x86-64 like the rest of the bench: each loop asks for its instructions with a
// target attribute on its own function, so nothing else here (nor any inline function it shares
// with other files) can carry them onto a CPU without them; the caller checks the CPU first.
#include "peak.h"

#include <immintrin.h>

#include <chrono>
#include <thread>
#include <vector>

namespace bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The int8 loops' results, summed into a volatile, so that the compiler must compute them.
void keep(const int* lanes, int n) {
    int total = 0;
    for (int i = 0; i < n; ++i) total += lanes[i];
    volatile int sink = total;
    (void)sink;
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

// The int8 peaks, in GOPS counting a multiply and an add per u8 x s8 product (as flops_per_window
// counts the GEMMs): the loops of the int8 kernels (engine/encoder/cpu/int8.h) on registers.
namespace {

// The ymm loops are written in assembly: with 8 to 12 accumulators in an array, GCC 12 keeps
// copying some to the stack inside the loop (checked in the disassembly), which measures stores.
// Twelve named accumulators, each a chain of the kernel's instructions; 12 chains of latency 4-5
// cover two ports.
#define EEGPT_PEAK_12(step) step(0) step(1) step(2) step(3) step(4) step(5) step(6) step(7) step(8) step(9) step(10) step(11)
// Named variables, not an array: an array element as an asm operand is stored back every time.
#define EEGPT_PEAK_DECLARE(i) __m256i x##i = _mm256_set1_epi32(i);
#define EEGPT_PEAK_OPERAND(i) [x##i] "+x"(x##i),
#define EEGPT_PEAK_SUM(i) sum = _mm256_add_epi32(sum, x##i);

// VPMADDUBSW, VPMADDWD by ones, VPADDD on ymm, the AVX2 kernel's three instructions in its shape:
// products of operands that do not change, added into 12 accumulators (so the chains are the adds
// alone; one asm statement per accumulator, its product in a temporary register).
__attribute__((target("avx2"))) double int8_maddubs_peak(double seconds) {
    constexpr int kAcc = 12;
    EEGPT_PEAK_12(EEGPT_PEAK_DECLARE)
    const __m256i a = _mm256_set1_epi32(0x01030201), b = _mm256_set1_epi32(0x02FF0103), ones = _mm256_set1_epi16(1);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n) {
#define EEGPT_MADDUBS(i)                                                                                              \
    {                                                                                                                 \
        __m256i t;                                                                                                    \
        __asm__("vpmaddubsw %[b], %[a], %[t]\n\tvpmaddwd %[ones], %[t], %[t]\n\tvpaddd %[t], %[x], %[x]"             \
                : [x] "+x"(x##i), [t] "=&x"(t)                                                                        \
                : [a] "x"(a), [b] "x"(b), [ones] "x"(ones));                                                          \
    }
            EEGPT_PEAK_12(EEGPT_MADDUBS)
#undef EEGPT_MADDUBS
        }
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    __m256i sum = _mm256_setzero_si256();
    EEGPT_PEAK_12(EEGPT_PEAK_SUM)
    int v[8];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v), sum);
    keep(v, 8);
    return 2.0 * 32 * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}

// VPDPBUSD on ymm (AVX-VNNI, VEX-encoded): 32 u8 x s8 products per instruction.
__attribute__((target("avx2,avxvnni"))) double int8_avxvnni_peak(double seconds) {
    constexpr int kAcc = 12;
    EEGPT_PEAK_12(EEGPT_PEAK_DECLARE)
    int end_of_list = 0;  // an operand after the list's last comma, unused by the code
    const __m256i a = _mm256_set1_epi32(0x01020304), b = _mm256_set1_epi32(0x01FF01FF);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n) {
#define EEGPT_DPBUSD(i) "%{vex%} vpdpbusd %[b], %[a], %[x" #i "]\n\t"
            __asm__(EEGPT_PEAK_12(EEGPT_DPBUSD) : EEGPT_PEAK_12(EEGPT_PEAK_OPERAND) [end] "+r"(end_of_list) : [a] "x"(a), [b] "x"(b));
#undef EEGPT_DPBUSD
        }
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    __m256i sum = _mm256_setzero_si256();
    EEGPT_PEAK_12(EEGPT_PEAK_SUM)
    int v[8];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v), sum);
    keep(v, 8);
    return 2.0 * 32 * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}
#undef EEGPT_PEAK_DECLARE
#undef EEGPT_PEAK_OPERAND
#undef EEGPT_PEAK_SUM
#undef EEGPT_PEAK_12

// 12 accumulators, not 24: with 24, GCC 12 stores accumulators to the stack inside the loop (checked
// in the disassembly), which measures stores; 12 chains still cover its latency (4-5 cycles) at up
// to 2 per cycle.
__attribute__((target("avx512f,avx512vnni"))) double int8_avx512vnni_peak(double seconds) {
    constexpr int kAcc = 12;
    __m512i acc[kAcc];
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_epi32(i);
    const __m512i a = _mm512_set1_epi32(0x01020304), b = _mm512_set1_epi32(0x01FF01FF);
    long long iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int n = 0; n < kInner; ++n)
#pragma GCC unroll 32
            for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
        iterations += kInner;
        elapsed = seconds_since(start);
    } while (elapsed < seconds);
    __m512i sum = acc[0];  // in registers, as above
    for (int i = 1; i < kAcc; ++i) sum = _mm512_add_epi32(sum, acc[i]);
    int v[16];
    _mm512_storeu_si512(v, sum);
    keep(v, 16);
    return 2.0 * 64 * kAcc * static_cast<double>(iterations) / elapsed / 1e9;
}

}  // namespace

PeakLoop int8_peak_loop(Int8PeakKind kind) {
    switch (kind) {
        case Int8PeakKind::avxvnni: return int8_avxvnni_peak;
        case Int8PeakKind::avx512vnni: return int8_avx512vnni_peak;
        case Int8PeakKind::maddubs: break;
    }
    return int8_maddubs_peak;
}

double best_rate(PeakLoop loop, double seconds, int slices) {
    double best = 0;
    for (int i = 0; i < slices; ++i) {
        const double rate = loop(seconds / slices);
        if (rate > best) best = rate;
    }
    return best;
}

double all_threads_rate(PeakLoop loop, int threads, double seconds) {
    std::vector<double> per_thread(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] { per_thread[static_cast<size_t>(t)] = best_rate(loop, seconds); });
    for (auto& w : workers) w.join();
    double total = 0;
    for (double rate : per_thread) total += rate;
    return total;
}

}  // namespace bench
