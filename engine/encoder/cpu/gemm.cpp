#include "encoder/cpu/gemm.h"

#include <new>

namespace eegpt::cpu {

PackedWeights pack_weights(const float* w, int out, int in, int nr) {
    PackedWeights m;
    m.out = out;
    m.in = in;
    m.nr = nr;
    m.panels = (out + nr - 1) / nr;
    const size_t n = static_cast<size_t>(m.panels) * in * nr;
    m.data.reset(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64)));
    if (!m.data) throw std::bad_alloc();
    for (int p = 0; p < m.panels; ++p) {
        float* panel = m.data.get() + static_cast<size_t>(p) * in * nr;
        for (int k = 0; k < in; ++k)
            for (int c = 0; c < nr; ++c) {
                const int j = p * nr + c;
                panel[static_cast<size_t>(k) * nr + c] = j < out ? w[static_cast<size_t>(j) * in + k] : 0.0f;
            }
    }
    return m;
}

}  // namespace eegpt::cpu
