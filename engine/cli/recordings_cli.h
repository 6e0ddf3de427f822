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
    std::string filter_design, resample_method;  // "": not given (the head's preparation, else scipy / poly)
    // Which preprocessing options were given on the command line (option > head > default).
    bool bandpass_given = false, bandpass_order_given = false, notch_given = false, notch_q_given = false;
    double stride_s = 0, notch_hz = 0, notch_q = 30, seconds = 10;  // stride 0: the window length, or the head's
    int batch = 32, threads = 0, bandpass_order = 4;
    bool average_reference = false, quiet = false, force = false, no_overwrite = false, save_features = false,
         name_settings = false;
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

// Numbers on the command line are plain decimals ("4", "0.25", "1e-3"; "nan" and "inf" reach the
// range checks, which name them): CLI11 alone takes "0x2" as 2. Applied to every numeric option of
// every subcommand of `app`; call it once they all exist.
void require_plain_numbers(CLI::App& app);

// Throws Error when a path (an option or argument naming a file or directory) of the parsed
// subcommands was given as "": an unset shell variable must not mean "the default".
void refuse_empty_paths(CLI::App& app);

// The default job with no arguments: writes a synthetic EDF recording and embeds it with
// random-initialised weights, announcing both stand-ins.
int run_recording_demo(const std::string& features_output);

}  // namespace eegpt::cli
