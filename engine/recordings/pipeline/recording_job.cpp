#include "recordings/pipeline/recording_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/preprocess/windows.h"

namespace eegpt {
namespace {

std::vector<SignalDescription> describe(const std::vector<EdfSignal>& signals) {
    std::vector<SignalDescription> d;
    for (const auto& s : signals) d.push_back({s.label, s.unit});
    return d;
}

ChannelPlan plan_signals(const std::vector<EdfSignal>& signals, const MontageOptions& montage, const Head* head) {
    MontageOptions m = montage;
    if (head) {
        if (!montage.channels.empty()) throw Error("--channels cannot be combined with a head: the head fixes its input channels");
        m.model_inputs = head->input_labels;
    }
    return plan_channels(describe(signals), m);
}

std::vector<int32_t> as_int32(const std::vector<int>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

// Everything about where the numbers came from, as root attributes and small datasets.
void write_provenance(hid_t file, const SampleSource& reader, const ChannelPlan& plan, const SignalStream& stream,
                      const PreprocessOptions& pre, int rate_hz, const std::string& engine_version) {
    h5::write_attr(file, "engine_version", engine_version);
    h5::write_attr(file, "recording", reader.path());
    h5::write_attr(file, "recording_file_type", reader.file_type());
    h5::write_attr(file, "recording_duration_s", reader.duration_s());
    h5::write_attr(file, "sampling_rate_hz", static_cast<double>(rate_hz));
    h5::write_attr(file, "unit", std::string("mV"));
    const bool fft = pre.resample_method == ResampleMethod::fft;
    h5::write_attr(file, "resample_method", to_string(pre.resample_method));
    h5::write_attr(file, "resampling",
                   std::string(fft ? "FFT as MNE 1.4.2's raw.resample: npad 'auto', window 'boxcar', each channel whole"
                                   : "polyphase FIR as scipy.signal.resample_poly: window ('kaiser', 5.0), "
                                     "half_len 10 x max(up, down), zero padding"));
    h5::write_attr(file, "average_reference", int64_t{pre.average_reference ? 1 : 0});
    const FilterOptions& f = pre.filters;
    const bool bandpass = f.bandpass_high_hz > 0;
    h5::write_attr(file, "bandpass_low_hz", bandpass ? f.bandpass_low_hz : 0.0);
    h5::write_attr(file, "bandpass_high_hz", bandpass ? f.bandpass_high_hz : 0.0);
    const bool mne = pre.filter_design == FilterDesign::mne;
    h5::write_attr(file, "filter_design", to_string(pre.filter_design));
    h5::write_attr(file, "bandpass_order", int64_t{bandpass && !mne ? f.bandpass_order : 0});
    h5::write_attr(file, "notch_hz", f.notch_hz);
    h5::write_attr(file, "notch_q", f.notch_hz > 0 && !mne ? f.notch_q : 0.0);
    const char* filter = !f.enabled() ? "none"
                         : mne ? "MNE 1.4.2's FIR filters (raw.filter: firwin, hamming, zero phase, reflect_limited "
                                 "padding, overlap-add; then raw.notch_filter), at the source rate before resampling, "
                                 "streamed exactly"
                               : "scipy.signal.sosfiltfilt of butter band-pass + iirnotch sections, in chunks";
    h5::write_attr(file, "filter", std::string(filter));
    h5::write_attr(file, "filter_context_s", stream.filter_context_s());
    h5::write_strings(file, "recording_channels", plan.names);
    h5::write_strings(file, "source_labels", plan.labels);
    std::vector<double> rates;
    std::vector<int32_t> up, down;
    for (size_t k = 0; k < plan.ids.size(); ++k) {
        const int s = plan.signal[k];
        rates.push_back(s >= 0 ? reader.signals()[static_cast<size_t>(s)].rate_hz : 0.0);
        up.push_back(static_cast<int32_t>(stream.ratios()[k].up));
        down.push_back(static_cast<int32_t>(stream.ratios()[k].down));
    }
    write_doubles(file, "source_rates_hz", rates);
    h5::write_int32s(file, "resample_up", up);
    h5::write_int32s(file, "resample_down", down);
    h5::write_strings(file, "channels_dropped", plan.dropped);
    h5::write_strings(file, "channels_dropped_reason", plan.dropped_reasons);
    h5::write_strings(file, "channels_filled", plan.filled);
    h5::write_attr(file, "out_of_range", to_string(pre.out_of_range));
}

// Once the whole recording is read: samples outside their signal's digital range, per recording
// channel (`samples_out_of_range`) and as a warning per signal, then every warning.
void write_warnings(hid_t file, const SampleSource& reader, const ChannelPlan& plan, std::vector<std::string>& warnings) {
    std::vector<double> counts;
    for (size_t k = 0; k < plan.ids.size(); ++k) {
        const int s = plan.signal[k];
        const int64_t n = s >= 0 ? reader.out_of_range_counts()[static_cast<size_t>(s)] : 0;
        counts.push_back(static_cast<double>(n));
        if (n == 0) continue;
        const EdfSignal& sig = reader.signals()[static_cast<size_t>(s)];
        const std::string text = format_number(100.0 * static_cast<double>(n) / static_cast<double>(sig.samples), 3) + "%";
        warnings.push_back("signal '" + sig.label + "': " + std::to_string(n) + " of " + std::to_string(sig.samples) +
                           " samples (" + text + ") lie outside its digital range " + std::to_string(sig.digital_min) +
                           ".." + std::to_string(sig.digital_max) + "; " +
                           (reader.out_of_range() == OutOfRange::keep
                                ? "kept as recorded, as MNE reads them (--out-of-range clip clips them)"
                                : "clipped to the range (--out-of-range clip)"));
    }
    write_doubles(file, "samples_out_of_range", counts);
    h5::write_strings(file, "warnings", warnings);
}

void write_weights_provenance(hid_t file, const ModelContext& model) {
    const Encoder& e = *model.encoder;
    h5::write_attr(file, "device", to_string(e.device()));
    h5::write_attr(file, "precision", to_string(e.precision()));
    if (!e.isa().empty()) h5::write_attr(file, "cpu_isa", e.isa());
    if (!e.int8_kernel().empty()) h5::write_attr(file, "int8_kernel", e.int8_kernel());
    const Provenance& p = *model.weights;
    h5::write_attr(file, "weights_source_checkpoint", p.source_checkpoint);
    h5::write_attr(file, "weights_source_sha256", p.source_sha256);
    h5::write_attr(file, "weights_source_prefix", p.source_prefix);
    h5::write_attr(file, "weights_converter_version", p.converter_version);
    h5::write_attr(file, "weights_trained", int64_t{p.trained ? 1 : 0});
    if (!p.trained) h5::write_attr(file, "weights_random_seed", p.random_seed);
    const ModelConfig& c = e.config();
    h5::write_attr(file, "model_embed_dim", int64_t{c.embed_dim});
    h5::write_attr(file, "model_depth", int64_t{c.depth});
    h5::write_attr(file, "model_embed_num", int64_t{c.embed_num});
}



// Refuses a block of results with a value that is not finite (overflow in the preprocessing or the
// encoder), naming the first: one pass over what is about to be written.
void check_finite(const float* values, size_t count, size_t per_row, int64_t first_row, const char* what,
                  const char* row_name) {
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i]))
            throw Error(std::string(what) + " of " + row_name + " " +
                        std::to_string(first_row + static_cast<int64_t>(i / per_row)) +
                        " is not finite (the signal's values or the filters overflow float32); nothing written");
}

std::string seconds_text(double s) { return format_number(s) + " s"; }

// The per-window datasets of one output, filled batch by batch.
struct RowOutputs {
    std::unique_ptr<RowDataset> starts, features, logits, probabilities, predicted;

    RowOutputs(hid_t file, uint64_t rows, const std::vector<uint64_t>& feature_shape, const RecordingOptions& options,
               int classes) {
        starts = std::make_unique<RowDataset>(file, "window_start_s", rows, std::vector<uint64_t>{}, RowType::float64);
        if (options.save_features)
            features = std::make_unique<RowDataset>(file, "features", rows, feature_shape, options.features_dtype);
        if (classes > 0) {
            logits = std::make_unique<RowDataset>(file, "logits", rows, std::vector<uint64_t>{static_cast<uint64_t>(classes)},
                                                  RowType::float32);
            probabilities = std::make_unique<RowDataset>(file, "probabilities", rows,
                                                         std::vector<uint64_t>{static_cast<uint64_t>(classes)}, RowType::float32);
            predicted = std::make_unique<RowDataset>(file, "predicted_class", rows, std::vector<uint64_t>{}, RowType::int32);
        }
    }
    void close() {  // before the file is committed
        starts.reset();
        features.reset();
        logits.reset();
        probabilities.reset();
        predicted.reset();
    }
};

// Per-class sums for the recording-level result; per-window predictions.
// Per-output sums (softmax: per class; sigmoid: the one probability) and per-class window counts.
struct ClassTally {
    const Head& head;
    std::vector<double> probability_sum, window_count;
    explicit ClassTally(const Head& h)
        : head(h), probability_sum(static_cast<size_t>(h.outputs())), window_count(h.class_names.size()) {}
    void add(const float* probabilities, int windows, int32_t* predicted) {
        const int outputs = head.outputs();
        for (int w = 0; w < windows; ++w) {
            const float* p = probabilities + static_cast<size_t>(w) * static_cast<size_t>(outputs);
            predicted[w] = predicted_class(head, p);
            window_count[static_cast<size_t>(predicted[w])] += 1;
            for (int k = 0; k < outputs; ++k) probability_sum[static_cast<size_t>(k)] += p[k];
        }
    }
};

}  // namespace

int64_t stride_samples(double stride_s, double rate_hz) {
    const double samples = stride_s * rate_hz;
    if (!(samples >= 1) || std::fabs(samples - std::round(samples)) > 1e-6 || samples > 1e9) {
        throw Error("--stride " + format_number(stride_s) + " s is not a positive whole number of samples at " +
                    format_number(rate_hz) + " Hz");
    }
    return static_cast<int64_t>(std::llround(samples));
}

WindowGeometry window_geometry(const RecordingOptions& options, const Head* head) {
    WindowGeometry g;
    if (head) {
        const double rate = head->sample_rate_hz;
        if (std::fabs(rate - std::round(rate)) > 1e-9)
            throw Error("the head's sample rate " + format_number(rate) + " Hz is not a whole number of Hz");
        g.rate_hz = static_cast<int>(std::llround(rate));
        g.samples = head->window_samples;
    }
    g.stride = stride_samples(options.stride_s > 0 ? options.stride_s : head ? head->stride_s : kWindowSamples / kModelRateHz,
                              g.rate_hz);
    return g;
}

ChannelPlan plan_recording_channels(const EdfReader& reader, const MontageOptions& montage, const Head* head) {
    return plan_signals(reader.signals(), montage, head);
}

ChannelPlan plan_recording_channels(const SampleSource& source, const MontageOptions& montage, const Head* head) {
    return plan_signals(source.signals(), montage, head);
}

RecordingSummary process_recording(const std::string& input, const std::string& output, const ModelContext& model,
                                   const RecordingOptions& options, const ProgressFn& progress) {
    if (options.batch < 1) throw Error("--batch must be at least 1");
    window_geometry(options, model.head);
    EdfReader edf(input, options.preprocess.out_of_range);
    EdfSource source(edf);
    return process_recording(source, output, model, options, progress);
}

RecordingSummary process_recording(SampleSource& reader, const std::string& output, const ModelContext& model,
                                   const RecordingOptions& options, const ProgressFn& progress) {
    const auto started = std::chrono::steady_clock::now();
    if (options.batch < 1) throw Error("--batch must be at least 1");
    const Head* head = model.head;
    const WindowGeometry geometry = window_geometry(options, head);
    const int64_t stride = geometry.stride;
    const int window = geometry.samples;
    const std::string& input = reader.path();
    RecordingSummary summary;
    try {
        summary.file_type = reader.file_type();
        summary.duration_s = reader.duration_s();
        summary.channels = plan_recording_channels(reader, options.montage, head);
        const ChannelPlan& plan = summary.channels;
        summary.warnings = reader.warnings();
        summary.warnings.insert(summary.warnings.end(), plan.warnings.begin(), plan.warnings.end());

        Encoder& encoder = *model.encoder;
        const ModelConfig& config = encoder.config();
        HeadPlan shapes;
        if (head) shapes = plan_head(*head, config);
        else shapes = {window, config.patches(window), plan.ids};
        const std::vector<int>& ids = shapes.encoder_ids;
        const int in_channels = plan.channels(), enc_channels = static_cast<int>(ids.size());
        const int enc_samples = shapes.encoder_samples, patches = shapes.patches;
        check_encode_arguments(config, 1, enc_channels, enc_samples, ids.data());

        SignalStream stream(reader, plan, options.preprocess, geometry.rate_hz);
        const int64_t total = window_count(stream.total_samples(), window, stride);
        if (total == 0)
            throw Error("recording is " + seconds_text(reader.duration_s()) + " long, shorter than one " +
                        seconds_text(window / static_cast<double>(geometry.rate_hz)) + " window");
        summary.windows = total;

        h5::AtomicFile out(output);
        hid_t file = out.file();
        write_provenance(file, reader, plan, stream, options.preprocess, geometry.rate_hz, model.engine_version);
        write_weights_provenance(file, model);
        h5::write_attr(file, "content", std::string(head ? "predictions" : "features"));
        h5::write_attr(file, "window_s", window / static_cast<double>(geometry.rate_hz));
        h5::write_attr(file, "window_samples", int64_t{window});
        h5::write_attr(file, "stride_s", static_cast<double>(stride) / geometry.rate_hz);
        h5::write_attr(file, "stride_samples", stride);
        h5::write_attr(file, "n_windows", total);
        h5::write_strings(file, "channels", head ? head->encoder_channels() : plan.names);
        h5::write_int32s(file, "channel_ids", as_int32(ids));

        const int outputs = head ? head->outputs() : 0;
        if (options.save_features) h5::write_attr(file, "features_dtype", to_string(options.features_dtype));
        if (head) {
            h5::write_attr(file, "head_file", model.head_path);
            h5::write_attr(file, "head_source", head->source);
            h5::write_attr(file, "head_recipe", head->recipe);
            h5::write_attr(file, "head_output", std::string(head->output == HeadOutput::sigmoid ? "sigmoid" : "softmax"));
            // The windows the head gets are in its input unit: millivolts / head_input_unit_mv.
            h5::write_attr(file, "head_input_unit_mv", head->input_unit_mv);
            h5::write_strings(file, "head_input_labels", head->input_labels);
            h5::write_strings(file, "class_names", head->class_names);
        }
        RowOutputs rows(file, static_cast<uint64_t>(total),
                        {static_cast<uint64_t>(patches), static_cast<uint64_t>(config.embed_num),
                         static_cast<uint64_t>(config.embed_dim)},
                        options, outputs);

        const size_t window_in = static_cast<size_t>(in_channels) * static_cast<size_t>(window);
        std::vector<float> batch_x(static_cast<size_t>(options.batch) * window_in), prepared;
        std::vector<float> features(encoder.output_size(options.batch, enc_samples));
        std::vector<float> logits(static_cast<size_t>(options.batch) * static_cast<size_t>(outputs));
        std::vector<float> probabilities(logits.size());
        std::vector<double> starts(static_cast<size_t>(options.batch));
        std::vector<int32_t> predicted(static_cast<size_t>(options.batch));
        std::unique_ptr<ClassTally> tally;
        if (head) tally = std::make_unique<ClassTally>(*head);
        int64_t done = 0;
        int filled = 0;

        auto flush = [&]() {
            if (filled == 0) return;
            const float* x = batch_x.data();
            if (head) {
                // Millivolts to the head's input unit, then its signal steps.
                const float to_unit = static_cast<float>(1.0 / head->input_unit_mv);
                if (to_unit != 1.0f)
                    for (size_t i = 0; i < static_cast<size_t>(filled) * window_in; ++i) batch_x[i] *= to_unit;
                if (!head->signal_is_identity()) {
                    head_signal(*head, batch_x.data(), filled, prepared);
                    x = prepared.data();
                }
            }
            const auto encode_started = std::chrono::steady_clock::now();
            encoder.encode(x, filled, enc_channels, enc_samples, ids.data(), features.data());
            summary.encoder_s +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_started).count();
            const size_t per_window = encoder.output_size(1, enc_samples);
            check_finite(features.data(), per_window * static_cast<size_t>(filled), per_window, done, "a feature",
                         "window");
            const uint64_t first = static_cast<uint64_t>(done), count = static_cast<uint64_t>(filled);
            rows.starts->write(first, count, starts.data());
            if (rows.features) rows.features->write(first, count, features.data());
            if (head) {
                head_outputs(*head, features.data(), filled, patches, config.embed_num, config.embed_dim, logits.data(),
                             probabilities.data());
                tally->add(probabilities.data(), filled, predicted.data());
                rows.logits->write(first, count, logits.data());
                rows.probabilities->write(first, count, probabilities.data());
                rows.predicted->write(first, count, predicted.data());
            }
            done += filled;
            filled = 0;
            if (progress)
                progress({done, total,
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()});
        };

        WindowCutter cutter(in_channels, window, stride);
        std::vector<float> block;
        int64_t n = 0, start = 0;
        while (stream.next(block, n)) {
            cutter.push(block.data(), n);
            while (done + filled < total &&
                   cutter.pop(batch_x.data() + static_cast<size_t>(filled) * window_in, start)) {
                starts[static_cast<size_t>(filled)] = static_cast<double>(start) / geometry.rate_hz;
                if (++filled == options.batch) flush();
            }
        }
        flush();
        if (done != total) throw Error("internal error: cut " + std::to_string(done) + " windows, expected " + std::to_string(total));

        if (head) {
            for (int k = 0; k < outputs; ++k)
                summary.mean_probability.push_back(tally->probability_sum[static_cast<size_t>(k)] / static_cast<double>(total));
            for (double count : tally->window_count) summary.class_fraction.push_back(count / static_cast<double>(total));
            write_doubles(file, "recording_mean_probability", summary.mean_probability);
            write_doubles(file, "recording_class_fraction", summary.class_fraction);
            // Softmax: the class of the highest mean probability; sigmoid: mean p >= 0.5.
            const size_t best = head->output == HeadOutput::sigmoid
                                    ? (summary.mean_probability[0] >= 0.5 ? 1 : 0)
                                    : static_cast<size_t>(std::max_element(summary.mean_probability.begin(),
                                                                           summary.mean_probability.end()) -
                                                          summary.mean_probability.begin());
            h5::write_attr(file, "recording_predicted_class", head->class_names[best]);
        }
        rows.close();
        write_warnings(file, reader, plan, summary.warnings);
        if (!options.job.empty()) h5::write_attr(file, "job", options.job);
        h5::write_attr(file, "complete", int64_t{1});
        out.commit();
    } catch (const Error& e) {
        const std::string what = e.what();
        if (what.rfind("recording '", 0) == 0) throw;
        throw Error("recording '" + input + "': " + what);
    }
    return summary;
}

std::vector<std::string> write_preprocessed(const std::string& input, const std::string& output,
                                            const MontageOptions& montage, const PreprocessOptions& preprocess,
                                            const std::string& engine_version, const Head* head) {
    EdfReader edf(input, preprocess.out_of_range);
    EdfSource reader(edf);
    ChannelPlan plan = plan_recording_channels(reader, montage, head);
    RecordingOptions defaults;
    const int rate = window_geometry(defaults, head).rate_hz;
    SignalStream stream(reader, plan, preprocess, rate);
    std::vector<std::string> warnings = reader.warnings();
    warnings.insert(warnings.end(), plan.warnings.begin(), plan.warnings.end());
    h5::AtomicFile out(output);
    hid_t file = out.file();
    write_provenance(file, reader, plan, stream, preprocess, rate, engine_version);
    h5::write_attr(file, "content", std::string("preprocessed signals"));
    h5::write_strings(file, "channels", plan.names);
    h5::write_int32s(file, "channel_ids", as_int32(plan.ids));
    const uint64_t channels = static_cast<uint64_t>(plan.channels());
    {
        RowDataset signals(file, "signals", channels, {static_cast<uint64_t>(stream.total_samples())}, RowType::float32);
        std::vector<float> block;
        int64_t n = 0;
        uint64_t at = 0;
        while (stream.next(block, n)) {
            for (size_t i = 0; i < block.size(); ++i)
                if (!std::isfinite(block[i]))
                    throw Error("recording '" + input + "': preprocessed signal '" +
                                plan.names[i / static_cast<size_t>(n)] + "' is not finite at sample " +
                                std::to_string(at + i % static_cast<size_t>(n)) +
                                " (the signal's values or the filters overflow float32); nothing written");
            signals.write_slab({0, at}, {channels, static_cast<uint64_t>(n)}, block.data());
            at += static_cast<uint64_t>(n);
        }
    }
    write_warnings(file, reader, plan, warnings);
    h5::write_attr(file, "complete", int64_t{1});
    out.commit();
    return warnings;
}

}  // namespace eegpt
