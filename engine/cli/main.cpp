// The `eegpt` command line. Library errors arrive as eegpt::Error and leave here as one line on
// stderr and a non-zero exit code; nothing below this file prints or exits.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/model.h"
#include "cli/recordings_cli.h"
#include "encoder/channels.h"
#include "encoder/cpu/ops.h"
#include "encoder/encoder.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "encoder/io/window_file.h"
#include "recordings/channel_map.h"
#include "recordings/heads/head.h"
#include "recordings/pipeline/job_record.h"

namespace {

using namespace eegpt;


struct EncodeArgs {
    std::string weights, input, output, head, device = "cpu", precision = "fp32";
    int threads = 0;
    bool save_features = false, force = false;
};

// Windows through a downstream model: x in the model's input unit, its input labels in order.
int run_encode_head(const EncodeArgs& args) {
    check_output_path(args.output, {{"the input", args.input}, {"the weights", args.weights}, {"the head", args.head}},
                      args.force);
    const Head head = load_head(args.head);
    for (const auto& w : head.warnings) std::fprintf(stderr, "eegpt: warning: head '%s': %s\n", args.head.c_str(), w.c_str());
    EncoderOptions options{parse_device(args.device), parse_precision(args.precision), args.threads};
    cli::LoadedModel model = cli::load_model(args.weights, options);
    const ModelConfig& config = model.weights->config;
    HeadPlan plan;
    try {
        plan = plan_head(head, config);
    } catch (const Error& e) {
        throw Error("head '" + args.head + "' does not fit the model: " + e.what());
    }
    const WindowBatch input = read_window_file(args.input, false);
    HeadPrediction result;
    try {
        result = predict_windows(head, plan, *model.encoder, input.x.data(), input.batch, input.channel_labels,
                                 input.samples);
    } catch (const Error& e) {
        throw Error("input '" + args.input + "': " + e.what());
    }
    const int K = head.outputs();
    std::vector<int32_t> predicted;
    for (int w = 0; w < input.batch; ++w)
        predicted.push_back(predicted_class(head, result.probabilities.data() + static_cast<size_t>(w) * K));

    h5::AtomicFile out(args.output);
    hid_t file = out.file();
    const uint64_t B = static_cast<uint64_t>(input.batch);
    h5::write_attr(file, "content", std::string("predictions"));
    h5::write_floats(file, "logits", {B, static_cast<uint64_t>(K)}, result.logits.data());
    h5::write_floats(file, "probabilities", {B, static_cast<uint64_t>(K)}, result.probabilities.data());
    h5::write_int32s(file, "predicted_class", predicted);
    h5::write_strings(file, "class_names", head.class_names);
    h5::write_strings(file, "channels", head.input_labels);
    if (args.save_features)
        h5::write_floats(file, "features",
                         {B, static_cast<uint64_t>(plan.patches), static_cast<uint64_t>(config.embed_num),
                          static_cast<uint64_t>(config.embed_dim)},
                         result.features.data());
    h5::write_attr(file, "engine_version", std::string(EEGPT_VERSION));
    h5::write_attr(file, "device", to_string(model.encoder->device()));
    h5::write_attr(file, "precision", to_string(model.encoder->precision()));
    if (!model.encoder->isa().empty()) h5::write_attr(file, "cpu_isa", model.encoder->isa());
    if (!model.encoder->int8_kernel().empty()) h5::write_attr(file, "int8_kernel", model.encoder->int8_kernel());
    h5::write_attr(file, "weights_source_checkpoint", model.weights->provenance.source_checkpoint);
    h5::write_attr(file, "weights_source_sha256", model.weights->provenance.source_sha256);
    h5::write_attr(file, "weights_trained", int64_t{model.weights->provenance.trained ? 1 : 0});
    h5::write_attr(file, "head_file", args.head);
    h5::write_attr(file, "head_source", head.source);
    h5::write_attr(file, "head_recipe", head.recipe);
    h5::write_attr(file, "head_output", std::string(head.output == HeadOutput::sigmoid ? "sigmoid" : "softmax"));
    h5::write_attr(file, "head_input_unit_mv", head.input_unit_mv);
    out.commit();
    return 0;
}

int run_encode(const EncodeArgs& args) {
    if (!args.head.empty()) return run_encode_head(args);
    if (args.save_features) throw Error("--save-features goes with --head (encode always writes the features)");
    check_output_path(args.output, {{"the input", args.input}, {"the weights", args.weights}}, args.force);
    EncoderOptions options{parse_device(args.device), parse_precision(args.precision), args.threads};
    cli::LoadedModel model = cli::load_model(args.weights, options);
    const ModelConfig& config = model.weights->config;
    WindowBatch input = read_window_file(args.input);
    std::vector<float> features(model.encoder->output_size(input.batch, input.samples));
    model.encoder->encode(input.x.data(), input.batch, input.channels, input.samples, input.channel_ids.data(),
                          features.data());
    check_features_finite(features.data(), features.size(), model.encoder->output_size(1, input.samples));
    FeatureFileInfo info{EEGPT_VERSION, to_string(model.encoder->device()), to_string(model.encoder->precision()),
                         model.encoder->isa(), &model.weights->provenance, model.encoder->int8_kernel()};
    write_feature_file(args.output, features, input.batch, config.patches(input.samples), config.embed_num,
                       config.embed_dim, input.channel_ids, info);
    return 0;
}

int run_info(const std::string& path) {
    ModelWeights w = load_weights(path);
    for (const auto& warning : w.warnings)
        std::fprintf(stderr, "eegpt: warning: weights '%s': %s\n", path.c_str(), warning.c_str());
    const ModelConfig& c = w.config;
    std::printf("%s\n  embed_dim %d, depth %d, heads %d, summary tokens %d, patch %d stride %d, mlp %d, eps %g, "
                "qkv bias %s\n",
                path.c_str(), c.embed_dim, c.depth, c.num_heads, c.embed_num, c.patch_size, c.patch_stride, c.mlp_hidden,
                c.layernorm_eps, c.qkv_bias ? "yes" : "no");
    if (w.provenance.trained)
        std::printf("  trained: from %s (sha256 %s, prefix %s), converter %s\n", w.provenance.source_checkpoint.c_str(),
                    w.provenance.source_sha256.c_str(), w.provenance.source_prefix.c_str(),
                    w.provenance.converter_version.c_str());
    else
        std::printf("  UNTRAINED: random-initialised stand-in (seed %lld)\n",
                    static_cast<long long>(w.provenance.random_seed));
    // The CPU operations this machine would run (EEGPT_CPU_ISA may choose a lower level).
    for (cpu::Isa isa : {cpu::Isa::avx2, cpu::Isa::avx512}) {
        const std::string why = cpu::isa_unavailable_reason(isa);
        std::printf("  cpu %s: %s\n", cpu::to_string(isa).c_str(), why.empty() ? "available" : why.c_str());
    }
    // --precision int8's kernel per level (docs/cpu.md: int8, with its measured fidelity).
    for (cpu::Isa isa : {cpu::Isa::avx2, cpu::Isa::avx512}) {
        if (!cpu::isa_unavailable_reason(isa).empty()) {
            std::printf("  cpu int8 %s: unavailable (the %s operations cannot run here)\n", cpu::to_string(isa).c_str(),
                        cpu::to_string(isa).c_str());
            continue;
        }
        const std::string no_vnni = cpu::int8_vnni_unavailable_reason(isa);
        std::printf("  cpu int8 %s: %s%s%s\n", cpu::to_string(isa).c_str(), cpu::int8_kernel_name(cpu::ops(isa)).c_str(),
                    no_vnni.empty() ? "" : "; vpdpbusd: ", no_vnni.c_str());
    }
    try {
        std::printf("  cpu operations used: %s\n", cpu::to_string(cpu::default_isa()).c_str());
    } catch (const Error& e) {
        std::printf("  cpu operations used: none (%s)\n", e.what());
    }
    return 0;
}

// SIGINT (Ctrl-C), SIGTERM (a scheduler's time limit, e.g. Slurm's) and SIGHUP (the terminal closed)
// end every command at once, in whatever it is doing: the partial files are removed and the exit
// status is 130. Nothing else needs undoing: an output gets its final name only by a rename, and
// the reader's temporary copies are unlinked as soon as they are open.
void on_stop_signal(int) {
    h5::remove_partials();
    static const char message[] = "\neegpt: interrupted: the output being written was removed; rerun to resume\n";
    const ssize_t written = write(STDERR_FILENO, message, sizeof message - 1);
    (void)written;
    _exit(130);
}

void handle_stop_signals() {
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&action.sa_mask, sig);  // one handler runs, once
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old = {};
        sigaction(sig, nullptr, &old);
        if (old.sa_handler != SIG_IGN) sigaction(sig, &action, nullptr);  // nohup's SIGHUP stays ignored
    }
}

// What a command printed must reach its destination: a full disk behind stdout (`eegpt info w.h5 >
// /dev/full`) is an error, not a zero exit with the text lost. stdout is line-buffered (main), so a
// line that failed earlier left only the error flag (errno has changed since); the reason is named
// when this last flush fails.
int finish_stdout(int status) {
    const bool flushed = std::fflush(stdout) == 0;
    if (flushed && !std::ferror(stdout)) return status;
    const std::string why = flushed ? "a write failed (disk full?)" : std::strerror(errno);
    std::fprintf(stderr, "eegpt: error: cannot write the standard output: %s\n", why.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    // A process that ends through exit() without unwinding (libgomp does when it cannot create a
    // thread) removes its partial files too; a stop signal does, in its handler.
    std::atexit(eegpt::h5::remove_partials);
    handle_stop_signals();
    // Line by line, so that a stop signal, which ends the process without flushing, loses no line
    // already printed (a job's summaries in a log file).
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    CLI::App app{"eegpt: EEGPT features from EEG recordings and windows (no arguments: a demo on stand-in weights and data)"};
    app.set_version_flag("--version", EEGPT_VERSION);
    std::string demo_output = "eegpt_demo_features.h5";
    app.add_option("--demo-output", demo_output, "where the no-argument demo writes its features");

    EncodeArgs encode;
    CLI::App* encode_cmd = app.add_subcommand("encode", "encode windows from an HDF5 file (datasets x, channels)");
    encode_cmd->add_option("--weights", encode.weights, "model weights (HDF5, docs/weight-format.md)")->required();
    encode_cmd->add_option("--input", encode.input, "input HDF5: x (B x C x T float32), channels (C names)")->required();
    encode_cmd->add_option("--output", encode.output, "output HDF5: features (B x N x E x D float32)")->required();
    encode_cmd->add_option("--device", encode.device, "cpu or cuda (the GPU)")->capture_default_str();
    encode_cmd->add_option("--precision", encode.precision, "fp32, tf32, bf16 or int8 (cpu)")->capture_default_str();
    encode_cmd->add_option("--threads", encode.threads, "CPU threads (0: all cores; at most the cores available)");
    encode_cmd->add_option("--head", encode.head,
                           "a downstream model (head file): x holds its inputs (its input labels, window length and "
                           "unit); writes logits, probabilities, predicted_class, class_names");
    encode_cmd->add_flag("--save-features", encode.save_features, "with --head: also write the features");
    encode_cmd->add_flag("--force", encode.force, "replace a file at --output that eegpt did not write");

    std::string info_weights;
    CLI::App* info_cmd = app.add_subcommand("info", "describe a weight file");
    info_cmd->add_option("weights", info_weights, "model weights (HDF5)")->required();

    eegpt::cli::RecordingCommands recordings(app);  // embed, classify, inspect, preprocess
    eegpt::cli::require_plain_numbers(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "eegpt: error: %s (see eegpt --help)\n", e.what());
        return 2;
    }
    const auto run = [&]() -> int {
        try {
            eegpt::cli::refuse_empty_paths(app);
            if (encode_cmd->parsed()) return run_encode(encode);
            if (info_cmd->parsed()) return run_info(info_weights);
            if (recordings.parsed()) return recordings.run();
            return eegpt::cli::run_recording_demo(demo_output);
        } catch (const Error& e) {
            std::fprintf(stderr, "eegpt: error: %s\n", e.what());
        } catch (const std::bad_alloc&) {
            std::fprintf(stderr, "eegpt: error: out of memory\n");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "eegpt: error: %s\n", e.what());
        }
        return 1;
    };
    return finish_stdout(run());
}
