// Encodes two windows with a random-initialised small model through the installed library, and
// checks the output's size and finiteness. Exit 0 on success.
#include <cmath>
#include <cstdio>
#include <vector>

#include "encoder/encoder.h"
#include "encoder/error.h"

int main() {
    try {
        auto encoder = eegpt::make_encoder(eegpt::random_weights(eegpt::named_config("tiny2"), 0));
        const int batch = 2, channels = 3, samples = 256;
        std::vector<float> x(static_cast<size_t>(batch) * channels * samples);
        for (size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * std::sin(0.1f * static_cast<float>(i));
        const std::vector<int> ids = {0, 10, 20};
        std::vector<float> out(encoder->output_size(batch, samples));
        encoder->encode(x.data(), batch, channels, samples, ids.data(), out.data());
        for (float v : out)
            if (!std::isfinite(v)) {
                std::fprintf(stderr, "eegpt_consumer: non-finite feature\n");
                return 1;
            }
        std::printf("eegpt_consumer: %zu features from %d windows\n", out.size(), batch);
        return out.size() == static_cast<size_t>(batch) * (samples / 64) * 4 * 64 ? 0 : 1;
    } catch (const eegpt::Error& e) {
        std::fprintf(stderr, "eegpt_consumer: %s\n", e.what());
        return 1;
    }
}
