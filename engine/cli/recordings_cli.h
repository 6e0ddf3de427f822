// The recording subcommands of `eegpt` (embed, classify, inspect, preprocess) and the no-argument
// demo job. Kept apart from main.cpp so that the CLI's other commands stay as they are.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace eegpt::cli {

struct RecordingArgs {
    std::vector<std::string> recordings;  // paths and @list files
    std::string output_dir = ".", output, shard, weights, head, device = "cpu", precision = "fp32";
    std::string channels, fill_missing, bandpass, features_dtype = "float32", raw_output, out_of_range = "keep";
    double stride_s = 0, notch_hz = 0, notch_q = 30, seconds = 10;  // stride 0: the window length, or the head's
    int batch = 32, threads = 0, bandpass_order = 4;
    bool average_reference = false, quiet = false, force = false, no_overwrite = false, save_features = false;
};

class RecordingCommands {
public:
    explicit RecordingCommands(CLI::App& app);
    bool parsed() const;  // one of these subcommands was given
    int run();            // exit status; errors are printed as one line each

private:
    RecordingArgs args_;
    CLI::App *embed_ = nullptr, *classify_ = nullptr, *inspect_ = nullptr, *preprocess_ = nullptr;
};

// The default job with no arguments: writes a synthetic EDF recording and embeds it with
// random-initialised weights, announcing both stand-ins.
int run_recording_demo(const std::string& features_output);

}  // namespace eegpt::cli
