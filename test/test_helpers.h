// Shared bits of the C++ tests: temporary paths and fixture locations.
#pragma once
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace eegpt_test {

inline std::string fixture(const std::string& name) { return std::string(EEGPT_SOURCE_DIR) + "/weights/fixtures/" + name; }

// A path under /tmp unique to this process, removed when the object goes away.
class TempPath {
public:
    explicit TempPath(const std::string& name)
        : path_("/tmp/eegpt_test_" + std::to_string(getpid()) + "_" + std::to_string(counter()++) + "_" + name) {}
    ~TempPath() { std::remove(path_.c_str()); }
    const std::string& str() const { return path_; }
    operator const std::string&() const { return path_; }

private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::string path_;
};

// Distinct dictionary ids for up to 62 channels, spread over the dictionary.
inline std::vector<int> first_ids(int channels, int offset) {
    std::vector<int> ids(static_cast<size_t>(channels));
    for (int c = 0; c < channels; ++c) ids[static_cast<size_t>(c)] = (c * 7 + offset) % 62;
    return ids;
}

// n normally distributed floats from a fixed seed (mt19937): the random inputs and weights of tests.
inline std::vector<float> randn(size_t n, unsigned seed, float mean = 0.0f, float stddev = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(mean, stddev);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
}

inline bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace eegpt_test
