// libFuzzer target: arbitrary bytes as an EDF/BDF file, through everything that touches the file
// before the model: EDFlib reader (and its repaired-copy fallback), channel mapping, streaming
// resampling and filtering. Any eegpt::Error is a correct answer; a crash, a sanitizer report, a
// hang or an EDFlib handle left open is a bug. Build and run: test/fuzz/README.md.
#include <edflib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "encoder/conventions.h"
#include "recordings/channel_map.h"
#include "encoder/error.h"
#include "recordings/io/edf_reader.h"
#include "recordings/io/sample_source.h"
#include "recordings/pipeline/signal_stream.h"

namespace {

const std::string& scratch_path() {
    static const std::string path = (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
                                    "/eegpt_fuzz_" + std::to_string(getpid()) + ".edf";
    return path;
}

// Both ways of reading samples outside the digital range, picked by the input's length.
void exercise(const std::string& path, eegpt::OutOfRange out_of_range) {
    eegpt::EdfReader reader(path, out_of_range);
    std::vector<eegpt::SignalDescription> signals;
    for (const auto& s : reader.signals()) signals.push_back({s.label, s.unit});
    eegpt::diagnose_edf_header(path);
    eegpt::ChannelPlan plan = eegpt::plan_channels(signals, {});
    eegpt::PreprocessOptions options;
    options.average_reference = plan.channels() > 1;
    options.filters.notch_hz = 50;
    eegpt::EdfSource source(reader);
    eegpt::SignalStream stream(source, plan, options, static_cast<int>(eegpt::kModelRateHz));
    std::vector<float> block;
    int64_t n = 0, total = 0;
    while (stream.next(block, n)) total += n;
    if (total != stream.total_samples()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& path = scratch_path();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return 0;
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    try {
        exercise(path, size % 2 ? eegpt::OutOfRange::clip : eegpt::OutOfRange::keep);
    } catch (const eegpt::Error&) {
    }
    if (edflib_get_number_of_open_files() != 0) __builtin_trap();  // a handle leaked on some path
    return 0;
}
