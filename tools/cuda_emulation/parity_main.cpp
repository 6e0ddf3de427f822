// Large-model parity of the CUDA encoder against the CPU fp32 path, on small batches so that the
// emulation finishes: parity_emu [channels...] (default 19 58); PARITY_BATCHES=1 runs batch 1 only.
// Exit code 1 when a bound fails.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "encoder.h"
#include "error.h"
#include "reference_encoder.h"

using namespace eegpt;

int main(int argc, char** argv) {
    std::vector<int> channel_counts;
    for (int i = 1; i < argc; ++i) channel_counts.push_back(std::atoi(argv[i]));
    if (channel_counts.empty()) channel_counts = {19, 58};
    const ModelWeights w = random_weights(named_config("large"), 0);
    auto cpu = make_encoder(w);
    struct Tol {
        Precision precision;
        double relative, min_cosine;
    };
    const Tol tols[] = {{Precision::fp32, 1e-5, 0.0}, {Precision::tf32, 2e-3, 0.0}, {Precision::bf16, 2e-2, 0.999}};
    bool ok = true;
    const int T = 1024;
    for (int C : channel_counts)
        for (int B : {1, 2}) {
            if (B > 1 && std::getenv("PARITY_BATCHES") && std::atoi(std::getenv("PARITY_BATCHES")) < B) continue;
            std::mt19937 rng(static_cast<unsigned>(C * 10 + B));
            std::normal_distribution<float> dist(0.0f, 0.05f);
            std::vector<float> x(static_cast<size_t>(B) * C * T);
            for (auto& v : x) v = dist(rng);
            std::vector<int> ids(static_cast<size_t>(C));
            for (int c = 0; c < C; ++c) ids[static_cast<size_t>(c)] = (c * 7 + 3) % 62;
            std::vector<float> expected(cpu->output_size(B, T)), got(expected.size());
            cpu->encode(x.data(), B, C, T, ids.data(), expected.data());
            for (const Tol& t : tols) {
                auto gpu = make_encoder(w, {Device::cuda, t.precision, 0});
                gpu->encode(x.data(), B, C, T, ids.data(), got.data());
                const double rel = eegpt_test::relative_error(got, expected);
                double worst = 1.0;
                const size_t per = expected.size() / static_cast<size_t>(B);
                for (int b = 0; b < B; ++b) {
                    double ab = 0, aa = 0, bb = 0;
                    for (size_t i = static_cast<size_t>(b) * per; i < static_cast<size_t>(b + 1) * per; ++i) {
                        ab += static_cast<double>(got[i]) * expected[i];
                        aa += static_cast<double>(got[i]) * got[i];
                        bb += static_cast<double>(expected[i]) * expected[i];
                    }
                    worst = std::min(worst, ab / std::sqrt(aa * bb));
                }
                const bool pass = rel <= t.relative && worst >= t.min_cosine;
                ok = ok && pass;
                std::printf("large %2d ch batch %d %s: relative error %.3g (bound %.0e), min window cosine %.8f %s\n", C, B,
                            to_string(t.precision).c_str(), rel, t.relative, worst, pass ? "ok" : "FAIL");
                std::fflush(stdout);
            }
        }
    return ok ? 0 : 1;
}
