// dsp_probe: the MNE DSP functions (engine/recordings/preprocess/mne_filter.h, mne_resample.h) on
// the command line, for test/python/test_mne_dsp.py to compare with MNE-Python 1.4.2. Built with
// the tests, never installed. Signals travel as raw little-endian float64 files, channels x
// samples row-major:
//   dsp_probe taps RATE L H [--window hann]            taps, one per line (%.17g)
//   dsp_probe notch-taps RATE F [--window hann]
//   dsp_probe filter RATE L H CHANNELS IN OUT [--window hann] [--pad zeros] [--push N]
//   dsp_probe notch RATE F CHANNELS IN OUT [--window hann] [--pad zeros] [--push N]
//   dsp_probe resample FROM TO CHANNELS IN OUT [--pad zeros]
//   dsp_probe resample-memory FROM TO SECONDS          peak RSS of resampling one synthetic channel
// --window hann and --pad zeros are the mutations the tests must detect; --push N feeds
// StreamingFir N samples at a time (default: the whole channel).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "encoder/error.h"
#include "recordings/preprocess/mne_filter.h"
#include "recordings/preprocess/mne_resample.h"

namespace {

using eegpt::Error;

double number(const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') throw Error("dsp_probe: '" + s + "' is not a number");
    return v;
}

struct Args {
    std::vector<std::string> positional;
    eegpt::FirWindow window = eegpt::FirWindow::hamming;
    bool zeros = false;
    long long push = 0;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw Error("dsp_probe: " + s + " needs a value");
            return argv[++i];
        };
        if (s == "--window") {
            const std::string v = value();
            if (v == "hann") a.window = eegpt::FirWindow::hann;
            else if (v != "hamming") throw Error("dsp_probe: --window is hamming or hann, got '" + v + "'");
        } else if (s == "--pad") {
            const std::string v = value();
            if (v == "zeros") a.zeros = true;
            else if (v != "reflect_limited") throw Error("dsp_probe: --pad is reflect_limited or zeros, got '" + v + "'");
        } else if (s == "--push") {
            a.push = static_cast<long long>(number(value()));
            if (a.push < 1) throw Error("dsp_probe: --push must be at least 1");
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::vector<double> read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw Error("dsp_probe: cannot read " + path);
    f.seekg(0, std::ios::end);
    const auto bytes = static_cast<size_t>(f.tellg());
    f.seekg(0);
    std::vector<double> v(bytes / sizeof(double));
    f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
    return v;
}

void write_all(const std::string& path, const std::vector<double>& v) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
    if (!f) throw Error("dsp_probe: cannot write " + path);
}

void print_taps(const std::vector<double>& taps) {
    for (double t : taps) std::printf("%.17g\n", t);
}

// Filters every channel of IN with `taps` and writes OUT.
void filter_file(const std::vector<double>& taps, const Args& a, size_t first) {
    const auto channels = static_cast<size_t>(number(a.positional.at(first)));
    const std::vector<double> data = read_all(a.positional.at(first + 1));
    if (channels == 0 || data.size() % channels != 0) throw Error("dsp_probe: the input is not CHANNELS rows");
    const size_t n = data.size() / channels;
    std::vector<double> out;
    out.reserve(data.size());
    for (size_t c = 0; c < channels; ++c) {
        eegpt::StreamingFir fir(taps, a.zeros ? eegpt::FirPad::zeros : eegpt::FirPad::reflect_limited);
        const double* x = data.data() + c * n;
        const size_t step = a.push > 0 ? static_cast<size_t>(a.push) : n;
        for (size_t i = 0; i < n; i += step) fir.push(x + i, static_cast<int64_t>(std::min(step, n - i)), out);
        fir.finish(out);
    }
    if (out.size() != data.size()) throw Error("dsp_probe: StreamingFir gave a wrong number of samples");
    write_all(a.positional.at(first + 2), out);
}

// Peak resident memory of this process (VmHWM: getrusage's ru_maxrss would include the parent's
// peak, which it keeps across exec).
long peak_rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
    throw Error("dsp_probe: no VmHWM in /proc/self/status");
}

int run(int argc, char** argv) {
    const Args a = parse(argc, argv);
    if (a.positional.empty()) throw Error("dsp_probe: give a command (see test/dsp_probe.cpp)");
    const std::string& cmd = a.positional[0];
    auto arg = [&](size_t i) { return number(a.positional.at(i)); };
    if (cmd == "taps") {
        print_taps(eegpt::mne_filter_taps(arg(1), arg(2), arg(3), a.window));
    } else if (cmd == "notch-taps") {
        print_taps(eegpt::mne_notch_taps(arg(1), arg(2), a.window));
    } else if (cmd == "filter") {
        filter_file(eegpt::mne_filter_taps(arg(1), arg(2), arg(3), a.window), a, 4);
    } else if (cmd == "notch") {
        filter_file(eegpt::mne_notch_taps(arg(1), arg(2), a.window), a, 3);
    } else if (cmd == "resample") {
        const auto channels = static_cast<size_t>(arg(3));
        const std::vector<double> data = read_all(a.positional.at(4));
        if (channels == 0 || data.size() % channels != 0) throw Error("dsp_probe: the input is not CHANNELS rows");
        const size_t n = data.size() / channels;
        std::vector<double> out;
        for (size_t c = 0; c < channels; ++c) {
            const std::vector<double> x(data.begin() + static_cast<long>(c * n), data.begin() + static_cast<long>((c + 1) * n));
            const std::vector<double> y =
                a.zeros ? eegpt::mne_resample_zero_padded(x, arg(1), arg(2)) : eegpt::mne_resample(x, arg(1), arg(2));
            out.insert(out.end(), y.begin(), y.end());
        }
        write_all(a.positional.at(5), out);
    } else if (cmd == "resample-memory") {
        const double from = arg(1), to = arg(2);
        const auto n = static_cast<size_t>(std::llround(arg(3) * from));
        std::vector<double> x(n);
        for (size_t i = 0; i < n; ++i) x[i] = std::sin(0.01 * static_cast<double>(i)) * 50.0;
        const long before = peak_rss_kb();
        const std::vector<double> y = eegpt::mne_resample(x, from, to);
        const long after = peak_rss_kb();
        std::printf("samples %zu output %zu input_mib %.1f peak_rss_before_mib %.1f peak_rss_after_mib %.1f "
                    "resample_mib %.1f\n",
                    n, y.size(), n * 8.0 / 1048576.0, before / 1024.0, after / 1024.0, (after - before) / 1024.0);
    } else {
        throw Error("dsp_probe: unknown command '" + cmd + "'");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}
