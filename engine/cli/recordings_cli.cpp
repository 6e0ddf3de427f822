#include "cli/recordings_cli.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "cli/model.h"
#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/io/edf_reader.h"
#include "recordings/io/row_dataset.h"
#include "recordings/pipeline/job_record.h"
#include "recordings/pipeline/list_file.h"
#include "recordings/pipeline/recording_job.h"
#include "recordings/synthetic_recording.h"

namespace eegpt::cli {
namespace {

// ---- inputs, shards, output names ----

std::vector<std::string> expand_inputs(const std::vector<std::string>& items) {
    std::vector<std::string> paths;
    for (const auto& item : items) {
        if (item.empty() || item[0] != '@') {
            paths.push_back(item);
            continue;
        }
        for (auto& path : read_list_file(item.substr(1))) paths.push_back(std::move(path));
    }
    if (paths.empty()) throw Error("no recordings given");
    return paths;
}

// Digits, an optional sign, point and exponent; or nan / inf / infinity (any case, signed).
bool plain_number(const std::string& text) {
    size_t i = text.size() > 0 && (text[0] == '+' || text[0] == '-') ? 1 : 0;
    std::string word = text.substr(i);
    for (auto& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (word == "nan" || word == "inf" || word == "infinity") return true;
    auto digits = [&] {
        const size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        return i - start;
    };
    size_t mantissa = digits();
    if (i < text.size() && text[i] == '.') {
        ++i;
        mantissa += digits();
    }
    if (mantissa == 0) return false;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (digits() == 0) return false;
    }
    return i == text.size();
}

bool plain_whole_number(const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

void parse_shard(const std::string& spec, int64_t& index, int64_t& count) {
    index = 0;
    count = 1;
    if (spec.empty()) return;
    size_t slash = spec.find('/');
    try {
        if (slash == std::string::npos || !plain_whole_number(spec.substr(0, slash)) ||
            !plain_whole_number(spec.substr(slash + 1)))
            throw std::invalid_argument("");
        size_t used = 0;
        index = std::stoll(spec.substr(0, slash), &used);
        if (used != slash) throw std::invalid_argument("");
        count = std::stoll(spec.substr(slash + 1), &used);
        if (used != spec.size() - slash - 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
        throw Error("--shard '" + spec + "' must be i/n (e.g. 0/4 for the first of 4 shards)");
    }
    if (count < 1 || index < 0 || index >= count)
        throw Error("--shard " + spec + ": need 0 <= i < n (shards are numbered from 0, like SLURM_ARRAY_TASK_ID from 0)");
}

std::string base_name(const std::string& path) {
    size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool file_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// ---- options ----

constexpr int kMaxBatch = 4096;

// The notch is off at 0; any other value is checked with the filter design.
void check_notch(double notch_hz, double notch_q) {
    if (!std::isfinite(notch_hz) || notch_hz < 0)
        throw Error("--notch " + format_number(notch_hz) + ": must be a frequency in Hz (0 < F < 128), or 0 for off");
    if (!std::isfinite(notch_q) || !(notch_q > 0) || notch_q > 1000)
        throw Error("--notch-q " + format_number(notch_q) + ": must be a quality factor between 0 and 1000");
}

// The preprocessing the options ask for, resolved against the head's preparation (when `head`
// has one): option > head > default, setting by setting (preparation.h).
void resolve_preprocessing(const RecordingArgs& a, const Head* head, PreprocessOptions& pre) {
    PreparationRequest r;
    r.filter_design_given = !a.filter_design.empty();
    if (r.filter_design_given) r.filter_design = parse_filter_design(a.filter_design, "--filter-design");
    r.resample_method_given = !a.resample_method.empty();
    if (r.resample_method_given) r.resample_method = parse_resample_method(a.resample_method, "--resample-method");
    r.bandpass_given = a.bandpass_given || !a.bandpass.empty();
    if (!a.bandpass.empty() && a.bandpass != "off") {
        size_t comma = a.bandpass.find(',');
        try {
            if (comma == std::string::npos) throw std::invalid_argument("");
            size_t used_low = 0, used_high = 0;
            const std::string low = a.bandpass.substr(0, comma), high = a.bandpass.substr(comma + 1);
            if (!plain_number(low) || !plain_number(high)) throw std::invalid_argument("");
            r.bandpass_low_hz = std::stod(low, &used_low);
            r.bandpass_high_hz = std::stod(high, &used_high);
            if (used_low != low.size() || used_high != high.size()) throw std::invalid_argument("");
        } catch (const std::exception&) {
            throw Error("--bandpass '" + a.bandpass + "' must be LOW,HIGH in Hz (e.g. 0.1,75), or 'off'");
        }
    }
    r.bandpass_order_given = a.bandpass_order_given;
    r.bandpass_order = a.bandpass_order;
    r.notch_given = a.notch_given;
    r.notch_hz = a.notch_hz;
    r.notch_q_given = a.notch_q_given;
    r.notch_q = a.notch_q;
    resolve_preparation(r, head && head->has_preparation ? &head->preparation : nullptr, pre);
}

RecordingOptions recording_options(const RecordingArgs& a, const Head* head = nullptr) {
    RecordingOptions o;
    if (a.batch < 1 || a.batch > kMaxBatch)
        throw Error("--batch " + std::to_string(a.batch) + ": must be between 1 and " + std::to_string(kMaxBatch) +
                    " windows");
    check_notch(a.notch_hz, a.notch_q);
    parse_device(a.device);  // before any work, as every other option
    parse_precision(a.precision);
    if (a.bandpass_order < 1 || a.bandpass_order > 12)
        throw Error("--bandpass-order " + std::to_string(a.bandpass_order) + ": must be between 1 and 12");
    o.preprocess.out_of_range = parse_out_of_range(a.out_of_range);
    o.stride_s = a.stride_s;
    o.batch = a.batch;
    o.montage.channels = parse_montage(a.channels);
    if (!a.fill_missing.empty() && a.fill_missing != "zeros")
        throw Error("--fill-missing '" + a.fill_missing + "': the only filling is 'zeros'");
    o.montage.fill_missing_zeros = a.fill_missing == "zeros";
    o.preprocess.average_reference = a.average_reference;
    resolve_preprocessing(a, head, o.preprocess);
    o.features_dtype = parse_features_dtype(a.features_dtype);
    if (!(a.stride_s >= 0)) stride_samples(a.stride_s, kModelRateHz);  // 0: the default; the rest is checked at the model's rate
    return o;
}

// ---- progress ----

std::string clock_text(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

ProgressFn progress_bar(const std::string& name, bool show) {
    return [name, show](const Progress& p) {
        if (!show) return;
        const int width = 30;
        const int full = static_cast<int>(width * p.windows_done / std::max<int64_t>(1, p.windows_total));
        const double rate = p.elapsed_s > 0 ? p.windows_done / p.elapsed_s : 0;
        const double left = rate > 0 ? (p.windows_total - p.windows_done) / rate : 0;
        std::fprintf(stderr, "\r%s [%s%s] %lld/%lld windows  %.1f windows/s  %s left ", name.c_str(),
                     std::string(static_cast<size_t>(full), '#').c_str(),
                     std::string(static_cast<size_t>(width - full), '.').c_str(),
                     static_cast<long long>(p.windows_done), static_cast<long long>(p.windows_total), rate,
                     clock_text(left).c_str());
        if (p.windows_done == p.windows_total) std::fprintf(stderr, "\n");
        std::fflush(stderr);
    };
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

void print_summary(const std::string& input, const std::string& output, const RecordingSummary& s, const Head* head,
                   double seconds) {
    const ChannelPlan& c = s.channels;
    std::printf("%s -> %s: %s, %.1f s, %lld windows in %.1f s; %d channels (%s)", input.c_str(), output.c_str(),
                s.file_type.c_str(), s.duration_s, static_cast<long long>(s.windows), seconds, c.channels(),
                join(c.names, " ").c_str());
    if (!c.filled.empty()) std::printf("; zero-filled: %s", join(c.filled, " ").c_str());
    if (!c.dropped.empty()) std::printf("; dropped: %s", join(c.dropped).c_str());
    std::printf("\n");
    if (head) {
        std::printf("  recording: ");
        if (head->output == HeadOutput::sigmoid)
            std::printf("%s mean p %.3f; ", head->class_names[1].c_str(), s.mean_probability[0]);
        for (size_t k = 0; k < head->class_names.size(); ++k) {
            if (head->output == HeadOutput::sigmoid)
                std::printf("%s%s %.0f%% of windows", k ? ", " : "", head->class_names[k].c_str(), 100.0 * s.class_fraction[k]);
            else
                std::printf("%s%s mean p %.3f (%.0f%% of windows)", k ? ", " : "", head->class_names[k].c_str(),
                            s.mean_probability[k], 100.0 * s.class_fraction[k]);
        }
        std::printf("\n");
    }
}

// ---- embed and classify ----

std::string describe_head(const std::string& path, const Head& h, const WindowGeometry& g) {
    char text[512];
    std::snprintf(text, sizeof text,
                  "head %s (recipe %s): %zu inputs, windows of %g s at %d Hz (%d samples), stride %g s, input unit "
                  "%g mV, %s over %s",
                  path.c_str(), h.recipe.c_str(), h.input_labels.size(), h.window_samples / static_cast<double>(g.rate_hz),
                  g.rate_hz, h.window_samples, static_cast<double>(g.stride) / g.rate_hz, h.input_unit_mv,
                  h.output == HeadOutput::sigmoid ? "sigmoid" : "softmax", join(h.class_names, " ").c_str());
    return text;
}

int run_many(const RecordingArgs& a, bool classify) {
    RecordingOptions options = [&] {
        RecordingOptions o = recording_options(a);
        o.save_features = !classify || a.save_features;
        return o;
    }();
    if (a.force && a.no_overwrite) throw Error("--force and --no-overwrite contradict each other");
    std::unique_ptr<Head> head;
    if (classify) {
        head = std::make_unique<Head>(load_head(a.head));
        for (const auto& w : head->warnings)
            std::fprintf(stderr, "eegpt: warning: head '%s': %s\n", a.head.c_str(), w.c_str());
    }
    if (head && head->has_preparation) {
        options = recording_options(a, head.get());
        options.save_features = a.save_features;
        if (!a.quiet) std::printf("%s\n", describe_head_preparation(head->preparation).c_str());
    }
    window_geometry(options, head.get());  // the stride at the model's rate, before any work
    const std::vector<std::string> inputs = expand_inputs(a.recordings);
    int64_t shard = 0, shards = 1;
    parse_shard(a.shard, shard, shards);
    if (!a.output.empty() && inputs.size() != 1) throw Error("--output names one file: give one recording, or use --output-dir");
    if (!a.output.empty() && a.name_settings) throw Error("--name-settings names the outputs in --output-dir; --output names the file");
    auto digest = [](const std::string& what, const std::string& path) {
        try {
            return file_digest(path);
        } catch (const Error& e) {
            throw Error(what + " '" + path + "': " + e.what());
        }
    };
    const std::string job = job_record(
        {classify ? "classify" : "embed", a.weights.empty() ? "random-init:large seed 0" : digest("weights", a.weights),
         classify ? digest("head", a.head) : "", a.device, a.precision, head ? head->stride_s : 0},
        options);
    const std::string suffix = (a.name_settings ? ".settings-" + settings_tag(job) : "") +
                               (classify ? ".predictions.h5" : ".features.h5");
    // Nothing written may replace something read.
    std::vector<std::pair<std::string, std::string>> read_files = {{"the weights", a.weights}, {"the head", a.head}};
    for (const auto& item : a.recordings)
        if (!item.empty() && item[0] == '@') read_files.emplace_back("a list file", item.substr(1));
    for (const auto& in : inputs) read_files.emplace_back("an input recording", in);
    // Every shard computes the same names, so a collision is caught the same way everywhere.
    const JobInputs read_by_job(read_files);
    std::unordered_map<std::string, std::string> owner;
    std::vector<std::pair<std::string, std::string>> jobs;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const std::string out = a.output.empty() ? output_path(inputs[i], a.output_dir, suffix) : a.output;
        auto [it, fresh] = owner.emplace(out, inputs[i]);
        if (!fresh) throw Error("'" + it->second + "' and '" + inputs[i] + "' would both write '" + out + "'");
        read_by_job.check_output(out);
        if (static_cast<int64_t>(i) % shards == shard) jobs.emplace_back(inputs[i], out);
    }
    if (jobs.empty()) {
        std::fprintf(stderr, "eegpt: shard %s has nothing to do: the list has %zu recording%s\n", a.shard.c_str(),
                     inputs.size(), inputs.size() == 1 ? "" : "s");
        return 0;
    }
    if (a.output.empty() && !a.output_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(a.output_dir, ec);
        if (ec) throw Error("cannot create --output-dir '" + a.output_dir + "': " + ec.message());
    }
    std::vector<std::pair<std::string, std::string>> todo;
    std::vector<std::string> jobs_of_todo;
    int failed = 0;
    for (const auto& [input, output] : jobs) {
        std::string record;
        try {
            record = recording_identity(input) + job;
        } catch (const Error& e) {  // reported even when an output of that name exists
            std::fprintf(stderr, "eegpt: error: %s\n", e.what());
            ++failed;
            continue;
        }
        if (!a.force && file_exists(output)) {
            const std::string refusal = reuse_refusal(output, record);
            if (refusal.empty()) {
                if (!a.quiet) std::printf("%s: done already (%s exists), skipped\n", input.c_str(), output.c_str());
                continue;
            }
            if (!replaceable_output(output)) {
                std::fprintf(stderr, "eegpt: error: %s: '%s' exists and is not an output of eegpt; not replaced (--force replaces it)\n",
                             input.c_str(), output.c_str());
                ++failed;
                continue;
            }
            if (a.no_overwrite) {
                std::fprintf(stderr, "eegpt: error: %s: '%s' exists but %s; not replaced (--no-overwrite)\n",
                             input.c_str(), output.c_str(), refusal.c_str());
                ++failed;
                continue;
            }
            std::fprintf(stderr, "eegpt: warning: %s: '%s' exists but %s: recomputing\n", input.c_str(), output.c_str(),
                         refusal.c_str());
        }
        todo.emplace_back(input, output);
        jobs_of_todo.push_back(record);
    }
    if (todo.empty()) return failed ? 1 : 0;
    LoadedModel model =
        load_model(a.weights, EncoderOptions{parse_device(a.device), parse_precision(a.precision), a.threads});
    if (head) {
        try {
            plan_head(*head, model.encoder->config());
        } catch (const Error& e) {
            throw Error("head '" + a.head + "' does not fit the model: " + e.what());
        }
        if (!a.quiet) std::printf("%s\n", describe_head(a.head, *head, window_geometry(options, head.get())).c_str());
    }
    ModelContext context{EEGPT_VERSION, model.encoder.get(), &model.weights->provenance, head.get(), a.head};
    const bool show = !a.quiet && isatty(STDERR_FILENO);
    for (size_t i = 0; i < todo.size(); ++i) {
        const auto& [input, output] = todo[i];
        const auto t0 = std::chrono::steady_clock::now();
        try {
            RecordingOptions job_options = options;
            job_options.job = jobs_of_todo[i];
            RecordingSummary s =
                process_recording(input, output, context, job_options, progress_bar(base_name(input), show));
            for (const auto& w : s.warnings) std::fprintf(stderr, "eegpt: warning: %s: %s\n", input.c_str(), w.c_str());
            if (!a.quiet)
                print_summary(input, output, s, head.get(),
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        } catch (const Error& e) {
            if (show) std::fprintf(stderr, "\n");
            std::fprintf(stderr, "eegpt: error: %s\n", e.what());
            ++failed;
        }
    }
    if (failed && jobs.size() > 1) std::fprintf(stderr, "eegpt: %d of %zu recordings failed\n", failed, jobs.size());
    return failed ? 1 : 0;
}

// ---- inspect and preprocess ----

int run_inspect(const RecordingArgs& a) {
    const RecordingOptions options = recording_options(a);
    std::unique_ptr<Head> head;
    if (!a.head.empty()) {
        head = std::make_unique<Head>(load_head(a.head));
        std::printf("%s\n", describe_head(a.head, *head, window_geometry(options, head.get())).c_str());
    }
    const std::vector<std::string> inputs = expand_inputs(a.recordings);
    if (!a.raw_output.empty() && inputs.size() != 1) throw Error("--raw-output takes one recording");
    if (!(a.seconds > 0) || !(a.seconds <= 1e6))
        throw Error("--seconds " + format_number(a.seconds) + ": must be between 0 and 1000000");
    if (!a.raw_output.empty()) check_output_path(a.raw_output, {{"the input recording", inputs[0]}}, a.force);
    int failed = 0;
    for (const auto& input : inputs) {
        try {
            EdfReader reader(input);
            std::printf("%s: %s, %.3f s, %lld records of %g s, %zu signals\n", input.c_str(), reader.file_type().c_str(),
                        reader.duration_s(), static_cast<long long>(reader.records()), reader.record_duration_s(),
                        reader.signals().size());
            for (const auto& w : reader.warnings()) std::printf("  warning: %s\n", w.c_str());
            std::printf("  %-18s %-6s %10s  %s\n", "signal", "unit", "rate (Hz)", "channel");
            for (const auto& s : reader.signals()) {
                std::string name = dictionary_name_of_label(s.label);
                std::string reason = unmapped_reason(s.label);
                if (!name.empty() && millivolts_per_unit(s.unit) == 0) reason = "unit is not a voltage";
                std::printf("  %-18s %-6s %10g  %s\n", ("'" + s.label + "'").c_str(), s.unit.c_str(), s.rate_hz,
                            reason.empty() ? name.c_str() : ("dropped: " + reason).c_str());
            }
            try {
                // With a head, every input is listed, the missing ones marked (classify refuses them
                // unless --fill-missing zeros).
                MontageOptions montage = options.montage;
                if (head) montage.fill_missing_zeros = true;
                ChannelPlan plan = plan_recording_channels(reader, montage, head.get());
                for (const auto& w : plan.warnings) std::printf("  warning: %s\n", w.c_str());
                if (head) {
                    std::printf("  head inputs (%d):\n", plan.channels());
                    for (int k = 0; k < plan.channels(); ++k) {
                        const size_t i = static_cast<size_t>(k);
                        std::printf("    %-12s <- %s\n", plan.names[i].c_str(),
                                    plan.signal[i] >= 0 ? ("'" + plan.labels[i] + "'").c_str() : "MISSING");
                    }
                    if (!plan.filled.empty())
                        std::printf("  missing: %s (%s)\n", join(plan.filled, " ").c_str(),
                                    options.montage.fill_missing_zeros ? "zero-filled"
                                                                       : "classify refuses them unless --fill-missing zeros");
                } else {
                    std::printf("  encoder channels (%d): %s\n", plan.channels(), join(plan.names, " ").c_str());
                    if (!plan.filled.empty()) std::printf("  zero-filled: %s\n", join(plan.filled, " ").c_str());
                }
                const WindowGeometry g = window_geometry(options, head.get());
                const double total = std::ceil(reader.duration_s() * g.rate_hz - 1e-9);
                std::printf("  windows of %g s at %d Hz, stride %g s: %lld\n", g.samples / static_cast<double>(g.rate_hz),
                            g.rate_hz, static_cast<double>(g.stride) / g.rate_hz,
                            static_cast<long long>(total < g.samples ? 0 : (total - g.samples) / static_cast<double>(g.stride) + 1));
            } catch (const Error& e) {
                std::printf("  channels: %s\n", e.what());
            }
            if (!a.raw_output.empty()) {
                // First `seconds` of every signal in its own physical unit (for comparisons with other readers).
                h5::AtomicFile out(a.raw_output);
                h5::write_attr(out.file(), "content", std::string("raw signals"));
                h5::Handle group = h5::create_group(out.file(), "signals");
                for (size_t i = 0; i < reader.signals().size(); ++i) {
                    const EdfSignal& s = reader.signals()[i];
                    const int64_t n = std::min<int64_t>(s.samples, static_cast<int64_t>(std::llround(a.seconds * s.rate_hz)));
                    std::vector<double> x(static_cast<size_t>(n));
                    reader.read(static_cast<int>(i), 0, static_cast<int>(n), x.data());
                    const std::string name = std::to_string(i);
                    write_doubles(group, name, x);
                    h5::Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
                    h5::write_attr(ds, "label", s.label);
                    h5::write_attr(ds, "unit", s.unit);
                    h5::write_attr(ds, "rate_hz", s.rate_hz);
                    h5::write_attr(ds, "samples_in_file", s.samples);
                }
                h5::write_attr(out.file(), "file_type", reader.file_type());
                group.reset();
                out.commit();
            }
        } catch (const Error& e) {
            std::fprintf(stderr, "eegpt: error: %s\n", e.what());
            ++failed;
        }
    }
    return failed ? 1 : 0;
}

int run_preprocess(const RecordingArgs& a) {
    RecordingOptions options = recording_options(a);
    if (a.recordings.size() != 1) throw Error("preprocess takes one recording and --output");
    check_output_path(a.output, {{"the input recording", a.recordings[0]}, {"the head", a.head}}, a.force);
    std::unique_ptr<Head> head;
    if (!a.head.empty()) head = std::make_unique<Head>(load_head(a.head));
    if (head && head->has_preparation) options = recording_options(a, head.get());
    for (const auto& w : write_preprocessed(a.recordings[0], a.output, options.montage, options.preprocess,
                                            EEGPT_VERSION, head.get()))
        std::fprintf(stderr, "eegpt: warning: %s: %s\n", a.recordings[0].c_str(), w.c_str());
    return 0;
}

void add_preprocess_options(CLI::App* cmd, RecordingArgs& a) {
    cmd->add_option("--channels", a.channels,
                    "montage: 'standard19', 'all' (default: every signal that maps) or names, e.g. FP1,FP2,CZ");
    cmd->add_option("--fill-missing", a.fill_missing, "'zeros': a requested channel the recording lacks is all zeros");
    cmd->add_flag("--average-reference", a.average_reference, "subtract the mean of the recorded channels");
    cmd->add_option("--bandpass", a.bandpass,
                    "zero-phase band-pass LOW,HIGH in Hz, or 'off' (default: off, or the head's preparation)");
    cmd->add_option("--bandpass-order", a.bandpass_order, "Butterworth order (--filter-design scipy)")->capture_default_str();
    cmd->add_option("--notch", a.notch_hz, "zero-phase notch at this frequency in Hz, 0 for off (default: off, or the head's)");
    cmd->add_option("--notch-q", a.notch_q, "notch quality factor, 0 to 1000 (--filter-design scipy)")->capture_default_str();
    cmd->add_option("--filter-design", a.filter_design,
                    "'scipy': Butterworth + iirnotch (sosfiltfilt) after resampling; 'mne': MNE 1.4.2's FIR filters "
                    "(raw.filter, raw.notch_filter) at the recording's rate before resampling (default: scipy, or the head's)");
    cmd->add_option("--resample-method", a.resample_method,
                    "'poly': scipy's resample_poly, streamed; 'fft': MNE 1.4.2's raw.resample, each channel whole in "
                    "memory (default: poly, or the head's)");
    cmd->add_option("--out-of-range", a.out_of_range,
                    "samples outside a signal's digital range: 'keep' them (as MNE does) or 'clip' them to it")
        ->capture_default_str();
}

void add_job_options(CLI::App* cmd, RecordingArgs& a) {
    cmd->add_option("recordings", a.recordings, "EDF/BDF files, or @list.txt (one path per line)")->required();
    cmd->add_option("--output-dir", a.output_dir, "where outputs go (NAME.features.h5 / NAME.predictions.h5)")
        ->capture_default_str();
    cmd->add_option("--output", a.output, "output file (one recording only)");
    cmd->add_flag("--name-settings", a.name_settings,
                  "the settings in output names, NAME.settings-TAG.features.h5 (TAG: a digest of the job record), so that "
                  "runs of different settings share --output-dir");
    cmd->add_option("--shard", a.shard, "i/n: process only recordings i, i+n, i+2n... (0 <= i < n)");
    cmd->add_option("--weights", a.weights, "model weights (default: random-initialised 'large' stand-in)");
    cmd->add_option("--stride", a.stride_s, "seconds between window starts (default: the window length, 4 s, or the head's stride)");
    cmd->add_option("--batch", a.batch, "windows per encoder call (1 to 4096)")->capture_default_str();
    cmd->add_option("--features-dtype", a.features_dtype, "float32 or float16")->capture_default_str();
    cmd->add_option("--device", a.device, "cpu or cuda (the GPU)")->capture_default_str();
    cmd->add_option("--precision", a.precision, "fp32, tf32, bf16 or int8 (cpu)")->capture_default_str();
    cmd->add_option("--threads", a.threads, "CPU threads (0: all cores; at most the cores available)");
    cmd->add_flag("--quiet", a.quiet, "no progress bar and no summary lines");
    cmd->add_flag("--force", a.force,
                  "recompute outputs that exist already (default: keep those this job made, i.e. resume)");
    cmd->add_flag("--no-overwrite", a.no_overwrite,
                  "an existing output this job did not make is an error (default: recompute it)");
    add_preprocess_options(cmd, a);
}

}  // namespace

RecordingCommands::RecordingCommands(CLI::App& app) {
    embed_ = app.add_subcommand("embed", "EEGPT features of EDF/BDF recordings (4 s windows, streamed)");
    add_job_options(embed_, args_);

    classify_ = app.add_subcommand("classify", "class probabilities of EDF/BDF recordings with a head");
    add_job_options(classify_, args_);
    classify_->add_option("--head", args_.head, "head file (docs/weight-format.md)")->required();
    classify_->add_flag("--save-features", args_.save_features, "also write the features");

    inspect_ = app.add_subcommand("inspect", "header, signals and channel mapping of EDF/BDF recordings");
    inspect_->add_option("recordings", args_.recordings, "EDF/BDF files, or @list.txt")->required();
    inspect_->add_option("--stride", args_.stride_s, "stride for the window count (default: the window length)");
    inspect_->add_option("--head", args_.head, "a head file: which recording signal feeds each of its inputs");
    inspect_->add_option("--raw-output", args_.raw_output, "write the first --seconds of every signal (header units) here");
    inspect_->add_option("--seconds", args_.seconds, "seconds written by --raw-output")->capture_default_str();
    inspect_->add_option("--channels", args_.channels, "montage to check");
    inspect_->add_option("--fill-missing", args_.fill_missing, "'zeros'");
    inspect_->add_flag("--force", args_.force, "replace a file at --raw-output that eegpt did not write");

    preprocess_ = app.add_subcommand("preprocess", "write the preprocessed signals of a recording (HDF5; 256 Hz, or a head's rate)");
    preprocess_->add_option("recording", args_.recordings, "EDF/BDF file")->required();
    preprocess_->add_option("--output", args_.output, "output HDF5: signals (channels x samples, mV)")->required();
    preprocess_->add_option("--head", args_.head, "the inputs of this head at its sample rate (what classify cuts windows from)");
    preprocess_->add_flag("--force", args_.force, "replace a file at --output that eegpt did not write");
    add_preprocess_options(preprocess_, args_);
}

bool RecordingCommands::parsed() const {
    return embed_->parsed() || classify_->parsed() || inspect_->parsed() || preprocess_->parsed();
}

void require_plain_numbers(CLI::App& app) {
    const CLI::Validator plain(
        [](std::string& text) { return plain_number(text) ? std::string() : "'" + text + "' is not a plain decimal number"; },
        "", "plain number");
    for (CLI::App* cmd : app.get_subcommands([](CLI::App*) { return true; }))
        for (CLI::Option* opt : cmd->get_options()) {
            const std::string type = opt->get_type_name();
            if (type == "INT" || type == "UINT" || type == "FLOAT" || type == "NUMBER") opt->check(plain);
        }
}

void refuse_empty_paths(CLI::App& app) {
    static const char* const kPaths[] = {"--weights", "--head",       "--input",     "--output",   "--output-dir",
                                         "--raw-output", "--demo-output", "weights", "recordings", "recording"};
    std::vector<CLI::App*> commands = app.get_subcommands();  // the parsed ones
    commands.push_back(&app);
    for (CLI::App* cmd : commands)
        for (const char* name : kPaths) {
            const CLI::Option* opt = cmd->get_option_no_throw(name);
            if (!opt) continue;
            for (const std::string& value : opt->results())
                if (value.empty())
                    throw Error((name[0] == '-' ? std::string(name) : "the argument '" + std::string(name) + "'") +
                                " is empty: give a path");
        }
}

int RecordingCommands::run() {
    for (CLI::App* cmd : {embed_, classify_, preprocess_})
        if (cmd->parsed()) {
            args_.bandpass_given = cmd->count("--bandpass") > 0;
            args_.bandpass_order_given = cmd->count("--bandpass-order") > 0;
            args_.notch_given = cmd->count("--notch") > 0;
            args_.notch_q_given = cmd->count("--notch-q") > 0;
        }
    if (embed_->parsed()) return run_many(args_, false);
    if (classify_->parsed()) return run_many(args_, true);
    if (inspect_->parsed()) return run_inspect(args_);
    return run_preprocess(args_);
}

int run_recording_demo(const std::string& features_output) {
    const size_t slash = features_output.find_last_of('/');
    const std::string recording =
        (slash == std::string::npos ? std::string() : features_output.substr(0, slash + 1)) + "eegpt_demo_recording.edf";
    std::printf("eegpt %s demo: STAND-INS ONLY.\n"
                "  input:   %s, a SYNTHETIC 60 s EDF+ recording written now (19 EEG channels at 500 Hz: alpha rhythm,\n"
                "           1/f background, eye blinks; plus ECG), not a real recording\n"
                "  weights: RANDOM-INITIALISED 'large' model (seed 0, untrained): the features mean nothing\n",
                EEGPT_VERSION, recording.c_str());
    SyntheticRecordingSpec spec;
    write_synthetic_recording(recording, spec);
    auto t0 = std::chrono::steady_clock::now();
    LoadedModel model = load_model("", EncoderOptions{}, false);  // announced above
    ModelContext context{EEGPT_VERSION, model.encoder.get(), &model.weights->provenance, nullptr, ""};
    RecordingOptions options;
    t0 = std::chrono::steady_clock::now();
    RecordingSummary s = process_recording(recording, features_output, context, options,
                                           progress_bar("demo", isatty(STDERR_FILENO) != 0));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print_summary(recording, features_output, s, nullptr, seconds);
    std::printf("  %.2f s per window on cpu (fp32), %.0fx real time; features %lld x 16 x 4 x 512 in %s\n",
                seconds / static_cast<double>(s.windows), spec.seconds / seconds, static_cast<long long>(s.windows),
                features_output.c_str());
    std::printf("  real use: eegpt embed RECORDING.edf --weights eegpt_large.h5 --output-dir features/\n");
    return 0;
}

}  // namespace eegpt::cli
