// bench_gemm: the CPU encoder's GEMMs (cpu/gemm.h fp32, cpu/bf16.h bf16) against oneDNN's matmul
// on the encoder's shapes, same machine, same threads: the measurement behind docs/cpu.md's choice of
// our own kernels over oneDNN (built only where oneDNN is found: Debian's libdnnl-dev).
//
//   bench_gemm [--threads N] [--rounds R]
//
// Shapes: M = 368 rows (one 19-channel window: 16 sequences of 23 tokens) and 11776 (32 windows),
// K x N = 512 x 1536 (qkv), 512 x 512 (proj), 512 x 2048 (fc1), 2048 x 512 (fc2). Ours splits the
// rows over the threads as the encoder does (each thread its rows, single-threaded GEMM); oneDNN
// threads its own matmul over all rows, its weights reordered once into the layout it prefers
// (format `any`). bf16 (where the CPU has AVX512_BF16): ours converts x to bf16 inside the product;
// oneDNN's time includes its reorder of x to bf16, so both do the same work. Each line: the best and
// median of R rounds, GFLOP/s and % of the peak measured at start (register-only loops, all threads).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "encoder/cpu/bf16.h"
#include "encoder/cpu/ops.h"
#include "peak.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
    double best = 0, median = 0;
};

template <class F>
Timing time_rounds(int rounds, F&& f) {
    f();  // warm-up: first touch, oneDNN's kernel generation
    std::vector<double> t;
    for (int r = 0; r < rounds; ++r) {
        const auto t0 = Clock::now();
        f();
        t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return {t.front(), t[t.size() / 2]};
}

void print(const char* who, const char* precision, int m, int k, int n, Timing t, double peak, const std::string& impl) {
    const double flops = 2.0 * m * k * n;
    std::printf("%-7s %-4s M %5d K %4d N %4d: best %8.3f ms, median %8.3f ms, %6.1f GFLOP/s = %3.0f%% of peak  %s\n",
                who, precision, m, k, n, t.best * 1e3, t.median * 1e3, flops / t.best / 1e9,
                100.0 * flops / t.best / 1e9 / peak, impl.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace eegpt;
    int threads = omp_get_num_procs(), rounds = 10;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--threads" || a == "--rounds") && i + 1 < argc) {
            const int v = std::atoi(argv[++i]);
            if (v < 1) {
                std::fprintf(stderr, "bench_gemm: %s must be a positive integer\n", a.c_str());
                return 2;
            }
            (a == "--threads" ? threads : rounds) = v;
        } else {
            std::fprintf(stderr, "usage: bench_gemm [--threads N] [--rounds R]\n");
            return 2;
        }
    }
    const cpu::Isa isa = cpu::default_isa();
    const cpu::Ops& ops = cpu::ops(isa);
    const bool bf16 = cpu::bf16_unavailable_reason(isa).empty();
    const double fp32_peak = bench::all_threads_rate(bench::fma_peak_loop(isa), threads, 0.2);
    const double bf16_peak = bf16 ? bench::all_threads_rate(bench::bf16_peak_gflops, threads, 0.2) : 0.0;
    std::printf("bench_gemm: ISA %s, %d threads, peaks fp32 %.0f GFLOP/s, bf16 %s; oneDNN %d.%d.%d\n",
                cpu::to_string(isa).c_str(), threads, fp32_peak,
                bf16 ? (std::to_string(static_cast<int>(bf16_peak)) + " GFLOP/s").c_str()
                     : cpu::bf16_unavailable_reason(isa).c_str(),
                dnnl_version()->major, dnnl_version()->minor, dnnl_version()->patch);
    omp_set_num_threads(threads);
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    std::mt19937 gen(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    struct Shape {
        int k, n;
    };
    for (int m : {368, 11776})
        for (Shape s : {Shape{512, 1536}, Shape{512, 512}, Shape{512, 2048}, Shape{2048, 512}}) {
            std::vector<float> x(static_cast<size_t>(m) * s.k), w(static_cast<size_t>(s.n) * s.k), b(s.n),
                y(static_cast<size_t>(m) * s.n);
            for (float& v : x) v = normal(gen);
            for (float& v : w) v = 0.05f * normal(gen);
            for (float& v : b) v = normal(gen);
            // Ours: each thread its share of the rows, as CpuEncoder runs them.
            std::vector<std::vector<float>> scratch(static_cast<size_t>(threads), std::vector<float>(ops.gemm_scratch));
            auto split = [&](auto&& product) {
#pragma omp parallel num_threads(threads)
                {
                    const int t = omp_get_thread_num();
                    const int r0 = m * t / threads, r1 = m * (t + 1) / threads;
                    product(t, r0, r1 - r0);
                }
            };
            const cpu::PackedWeights packed = cpu::pack_weights(w.data(), s.n, s.k, ops.gemm_nr);
            print("ours", "fp32", m, s.k, s.n, time_rounds(rounds, [&] {
                      split([&](int t, int r0, int rows) {
                          ops.linear_packed(x.data() + static_cast<size_t>(r0) * s.k, s.k, rows, packed, b.data(),
                                            y.data() + static_cast<size_t>(r0) * s.n, s.n, false,
                                            scratch[static_cast<size_t>(t)].data());
                      });
                  }), fp32_peak, "");

            // oneDNN: x (m x k) times W^T, W given as (k x n) in the `ba` layout (PyTorch's n x k).
            using dt = dnnl::memory::data_type;
            using tag = dnnl::memory::format_tag;
            auto onednn = [&](dt type, double peak, const char* name) {
                const dnnl::memory::desc x32({m, s.k}, dt::f32, tag::ab), xd({m, s.k}, type, tag::ab);
                const dnnl::memory::desc w_any({s.k, s.n}, type, tag::any), w_plain({s.k, s.n}, dt::f32, tag::ba);
                const dnnl::memory::desc bd({1, s.n}, dt::f32, tag::ab), yd({m, s.n}, dt::f32, tag::ab);
                const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(xd, w_any, bd, yd), eng);
                dnnl::memory xm32(x32, eng, x.data()), xm(xd, eng), wp(w_plain, eng, w.data()),
                    wm(pd.weights_desc(), eng), bm(bd, eng, b.data()), ym(yd, eng, y.data());
                dnnl::reorder(wp, wm).execute(stream, wp, wm);
                const dnnl::matmul mm(pd);
                const dnnl::reorder to_type(xm32, xm);
                print("oneDNN", name, m, s.k, s.n, time_rounds(rounds, [&] {
                          if (type != dt::f32) to_type.execute(stream, xm32, xm);
                          mm.execute(stream, {{DNNL_ARG_SRC, type == dt::f32 ? xm32 : xm},
                                              {DNNL_ARG_WEIGHTS, wm},
                                              {DNNL_ARG_BIAS, bm},
                                              {DNNL_ARG_DST, ym}});
                          stream.wait();
                      }), peak, pd.impl_info_str());
            };
            onednn(dt::f32, fp32_peak, "fp32");
            if (!bf16) continue;
            const cpu::Bf16Matrix packed16 = cpu::pack_bf16(w.data(), s.n, s.k);
            std::vector<std::vector<uint32_t>> words(static_cast<size_t>(threads),
                                                     std::vector<uint32_t>(cpu::bf16_scratch_words(s.k)));
            print("ours", "bf16", m, s.k, s.n, time_rounds(rounds, [&] {
                      split([&](int t, int r0, int rows) {
                          cpu::linear_bf16(ops.bf16_tile, x.data() + static_cast<size_t>(r0) * s.k, s.k, rows,
                                           packed16, b.data(), y.data() + static_cast<size_t>(r0) * s.n, s.n, false,
                                           words[static_cast<size_t>(t)].data());
                      });
                  }), bf16_peak, "");
            onednn(dt::bf16, bf16_peak, "bf16");
        }
    return 0;
}
