// The Python extension eegpt._core (nanobind): the encoder and the recording pipeline of the C++
// libraries, unchanged, behind a thin layer. Arrays come in through DLPack or the buffer protocol
// (no copy when already C-contiguous float32 on the CPU); the GIL is released while the engine
// computes. The Python API (python/eegpt) builds on this; nothing here is meant to be called
// directly by users.
#include <Python.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "encoder/channels.h"
#include "encoder/conventions.h"
#include "encoder/encoder.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/channel_map.h"
#include "recordings/heads/head.h"
#include "recordings/io/sample_source.h"
#include "recordings/pipeline/job_record.h"
#include "recordings/pipeline/recording_job.h"
#include "recordings/preprocess/filter.h"
#include "recordings/synthetic_recording.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace eegpt::python {
namespace {

// Raised out of a progress callback when Python has a pending KeyboardInterrupt; not an
// eegpt::Error, so the pipeline abandons the output instead of reporting a bad recording.
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

// Windows per encoder call in Model.encode on the CPU: Ctrl-C is seen between calls.
constexpr int kInterruptBatch = 32;

// The pipeline's options from the Python arguments, for process() and job_record(); bad filter
// numbers fail here, before any work.
RecordingOptions recording_options(double stride_s, int batch, const std::vector<std::string>& channels,
                                   bool fill_missing_zeros, bool average_reference, double bandpass_low,
                                   double bandpass_high, int bandpass_order, double notch_hz, double notch_q,
                                   const std::string& filter_design, const std::string& resample_method,
                                   const std::string& features_dtype, bool save_features, const Head* head = nullptr) {
    RecordingOptions o;
    o.stride_s = stride_s;
    o.batch = batch;
    o.montage.channels = channels;
    o.montage.fill_missing_zeros = fill_missing_zeros;
    o.preprocess.average_reference = average_reference;
    // Python passes bandpass=None as (0, 0) and notch=None as a negative number (not given; 0 is
    // "off"); bandpass_order and notch_q count as given when they differ from their defaults.
    PreparationRequest r;
    r.filter_design_given = !filter_design.empty();
    if (r.filter_design_given) r.filter_design = parse_filter_design(filter_design, "filter_design");
    r.resample_method_given = !resample_method.empty();
    if (r.resample_method_given) r.resample_method = parse_resample_method(resample_method, "resample_method");
    r.bandpass_given = bandpass_low != 0 || bandpass_high != 0;
    r.bandpass_low_hz = bandpass_low;
    r.bandpass_high_hz = bandpass_high;
    r.bandpass_order_given = bandpass_order != 4;
    r.bandpass_order = bandpass_order;
    r.notch_given = notch_hz >= 0;
    r.notch_hz = std::max(0.0, notch_hz);
    r.notch_q_given = notch_q != 30;
    r.notch_q = notch_q;
    // The CLI's words: eegpt._errors.python_words turns them into the keywords, as for every message.
    resolve_preparation(r, head && head->has_preparation ? &head->preparation : nullptr, o.preprocess);
    o.features_dtype = parse_features_dtype(features_dtype);
    o.save_features = save_features;
    return o;
}

// Recording labels ("EEG Fp1-REF", "T3") as their dictionary names, mapped as the CLI maps a
// recording's signals; a label that maps to none is kept, so that channel_ids_of names it.
std::vector<std::string> dictionary_names(const std::vector<std::string>& labels) {
    std::vector<std::string> names;
    for (const auto& label : labels) {
        std::string name = dictionary_name_of_label(label);
        names.push_back(name.empty() ? label : name);
    }
    return names;
}

// A downstream model file (recordings/heads/head.h), loaded once.
struct PyHead {
    Head head;
    std::string path;
    std::string output() const { return head.output == HeadOutput::sigmoid ? "sigmoid" : "softmax"; }
};

nb::ndarray<nb::numpy, float, nb::ndim<2>> matrix(const std::vector<float>& v, size_t rows, size_t cols) {
    float* data = new float[v.size()];
    std::copy(v.begin(), v.end(), data);
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<float*>(p); });
    const size_t shape[2] = {rows, cols};
    return nb::ndarray<nb::numpy, float, nb::ndim<2>>(data, 2, shape, owner);
}

class Model {
public:
    Model(ModelWeights weights, const std::string& path, const std::string& device, const std::string& precision,
          int threads)
        : path_(path) {
        if (threads < 0) throw Error("threads must be 0 (all cores) or more, not " + std::to_string(threads));
        weights_ = std::make_shared<ModelWeights>(std::move(weights));
        EncoderOptions options{parse_device(device), parse_precision(precision), threads};
        encoder_ = make_encoder(weights_, options);
        threads_ = threads;
    }

    // x: (batch, channels, samples) float32 C-contiguous; returns (batch, patches, E, D) with
    // patches = (samples - patch_size) / patch_stride + 1 (samples >= patch_size; the samples past the
    // last whole patch are ignored).
    nb::ndarray<nb::numpy, float, nb::ndim<4>> encode(
        nb::ndarray<const float, nb::ndim<3>, nb::c_contig, nb::device::cpu> x,
        const std::vector<std::string>& channels) {
        const int batch = static_cast<int>(x.shape(0)), n_channels = static_cast<int>(x.shape(1)),
                  samples = static_cast<int>(x.shape(2));
        if (static_cast<int>(channels.size()) != n_channels)
            throw Error(std::to_string(channels.size()) + " channel names for " + std::to_string(n_channels) +
                        " channels of x");
        const std::vector<int> ids = channel_ids_of(dictionary_names(channels));
        // The checks `eegpt encode` makes on its input file (encoder/io/window_file.cpp), same words.
        for (size_t i = 0; i < ids.size(); ++i)
            for (size_t j = 0; j < i; ++j)
                if (ids[i] == ids[j]) throw Error("channel '" + channels[i] + "' appears twice");
        const ModelConfig& c = encoder_->config();
        check_encode_arguments(c, batch, n_channels, samples, ids.data());
        const size_t n = x.size(), per_window = static_cast<size_t>(n_channels) * static_cast<size_t>(samples);
        for (size_t i = 0; i < n; ++i)
            if (!std::isfinite(x.data()[i]))
                throw Error("'x' has a non-finite value (window " + std::to_string(i / per_window) + ", channel '" +
                            channels[(i % per_window) / static_cast<size_t>(samples)] + "', sample " +
                            std::to_string(i % static_cast<size_t>(samples)) + ")");
        const size_t size = encoder_->output_size(batch, samples);
        std::unique_ptr<float[]> out(new float[size]);
        // On the CPU, batches of windows with a pending Ctrl-C raised between them: there each window
        // is computed alone, so the features are the same bits as from one call. CUDA's GEMMs may
        // choose another algorithm for another row count, so a CUDA call stays whole (the bits of
        // `eegpt encode`); it is short.
        const int per_call = encoder_->device() == Device::cpu ? kInterruptBatch : batch;
        const size_t out_window = size / static_cast<size_t>(batch);
        for (int first = 0; first < batch; first += per_call) {
            const int count = std::min(per_call, batch - first);
            {
                nb::gil_scoped_release release;
                std::lock_guard<std::mutex> lock(mutex_);  // one encoder is not safe for two threads at once
                encoder_->encode(x.data() + first * per_window, count, n_channels, samples, ids.data(),
                                 out.get() + first * out_window);
            }
            if (PyErr_CheckSignals() != 0) throw nb::python_error();
        }
        // As `eegpt encode`: features that overflowed float32 are an error, never a result.
        check_features_finite(out.get(), size, size / static_cast<size_t>(batch));
        float* data = out.release();
        nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<float*>(p); });
        const size_t shape[4] = {static_cast<size_t>(batch), static_cast<size_t>(c.patches(samples)),
                                 static_cast<size_t>(c.embed_num), static_cast<size_t>(c.embed_dim)};
        return nb::ndarray<nb::numpy, float, nb::ndim<4>>(data, 4, shape, owner);
    }

    // One recording through the C++ pipeline into `output` (HDF5, written atomically).
    // input: a path, or (data, labels, units, rate_hz, description) for signals in memory, data
    // float64 (channels, samples) in the units given (MemorySource).
    nb::dict process(nb::object input, const std::string& output, double stride_s, int batch,
                     const std::vector<std::string>& channels, bool fill_missing_zeros, bool average_reference,
                     double bandpass_low, double bandpass_high, int bandpass_order, double notch_hz, double notch_q,
                     const std::string& filter_design, const std::string& resample_method,
                     const std::string& features_dtype, const std::string& head_path, bool save_features,
                     nb::object progress, const std::string& job) {
        RecordingOptions o = recording_options(stride_s, batch, channels, fill_missing_zeros, average_reference,
                                               bandpass_low, bandpass_high, bandpass_order, notch_hz, notch_q,
                                               filter_design, resample_method, features_dtype, save_features);
        std::unique_ptr<Head> head;
        if (!head_path.empty()) {
            head = std::make_unique<Head>(load_head(head_path));
            try {
                plan_head(*head, encoder_->config());
            } catch (const Error& e) {
                throw Error("head '" + head_path + "' does not fit the model: " + e.what());
            }
            // The head's preparation applies unless the keywords override it, as in the CLI.
            if (head->has_preparation)
                o = recording_options(stride_s, batch, channels, fill_missing_zeros, average_reference, bandpass_low,
                                      bandpass_high, bandpass_order, notch_hz, notch_q, filter_design, resample_method,
                                      features_dtype, save_features, head.get());
        }
        o.job = job;
        window_geometry(o, head.get());  // the stride at the model's rate, before any work
        ModelContext context{EEGPT_VERSION, encoder_.get(), &weights_->provenance, head.get(), head_path};
        std::unique_ptr<SampleSource> memory;
        std::string path;
        nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu> data;
        if (nb::isinstance<nb::str>(input)) {
            path = nb::cast<std::string>(input);
        } else {
            auto t = nb::cast<nb::tuple>(input);
            data = nb::cast<decltype(data)>(t[0]);
            auto labels = nb::cast<std::vector<std::string>>(t[1]);
            if (data.shape(0) != labels.size())
                throw Error(std::to_string(labels.size()) + " channel names for " + std::to_string(data.shape(0)) +
                            " signals");
            memory = std::make_unique<MemorySource>(nb::cast<std::string>(t[4]), labels,
                                                    nb::cast<std::vector<std::string>>(t[2]), nb::cast<double>(t[3]),
                                                    data.data(), static_cast<int64_t>(data.shape(1)));
            path = memory->path();
        }
        // After every batch: a pending Ctrl-C, or an exception of the Python progress callable,
        // stops the recording (the partial output is removed) and is raised in Python.
        ProgressFn report = [&progress](const Progress& p) {
            nb::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() != 0) throw Interrupted();
            if (progress.is_none()) return;
            try {
                progress(p.windows_done, p.windows_total, p.elapsed_s);
            } catch (nb::python_error& e) {
                e.restore();
                throw Interrupted();
            }
        };
        RecordingSummary s;
        {
            nb::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            try {
                s = memory ? process_recording(*memory, output, context, o, report)
                           : process_recording(path, output, context, o, report);
            } catch (const Interrupted&) {
                nb::gil_scoped_acquire acquire;
                throw nb::python_error();  // the pending exception
            }
        }
        nb::dict d;
        d["windows"] = s.windows;
        d["warnings"] = s.warnings;
        return d;
    }

    // Windows through a downstream model (as `eegpt encode --head`): x (batch, inputs, samples) in
    // the head's input unit, channels its input labels in order. Returns (logits, probabilities).
    nb::tuple predict(const PyHead& h, nb::ndarray<const float, nb::ndim<3>, nb::c_contig, nb::device::cpu> x,
                      const std::vector<std::string>& channels) {
        const Head& head = h.head;
        HeadPlan plan;
        try {
            plan = plan_head(head, encoder_->config());
        } catch (const Error& e) {
            throw Error("head '" + h.path + "' does not fit the model: " + e.what());
        }
        const int batch = static_cast<int>(x.shape(0)), samples = static_cast<int>(x.shape(2));
        if (x.shape(1) != channels.size())
            throw Error(std::to_string(channels.size()) + " channel names for " + std::to_string(x.shape(1)) +
                        " channels of x");
        const size_t n = x.size(), per_window = channels.size() * static_cast<size_t>(samples);
        for (size_t i = 0; i < n; ++i)
            if (!std::isfinite(x.data()[i]))
                throw Error("'x' has a non-finite value (window " + std::to_string(i / per_window) + ", channel '" +
                            channels[(i % per_window) / static_cast<size_t>(samples)] + "')");
        HeadPrediction p;
        {
            nb::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mutex_);
            p = predict_windows(head, plan, *encoder_, x.data(), batch, channels, samples);
        }
        const size_t K = static_cast<size_t>(head.outputs());
        return nb::make_tuple(matrix(p.logits, static_cast<size_t>(batch), K),
                              matrix(p.probabilities, static_cast<size_t>(batch), K));
    }

    // Seconds of one encoder call made here, with no Python around it: the baseline of the
    // overhead measurement (tools/bench/python_overhead.py).
    double time_encode(nb::ndarray<const float, nb::ndim<3>, nb::c_contig, nb::device::cpu> x,
                       const std::vector<std::string>& channels) {
        const std::vector<int> ids = channel_ids_of(channels);
        const int batch = static_cast<int>(x.shape(0)), samples = static_cast<int>(x.shape(2));
        check_encode_arguments(encoder_->config(), batch, static_cast<int>(x.shape(1)), samples, ids.data());
        std::vector<float> out(encoder_->output_size(batch, samples));
        nb::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(mutex_);
        const auto t0 = std::chrono::steady_clock::now();
        encoder_->encode(x.data(), batch, static_cast<int>(x.shape(1)), samples, ids.data(), out.data());
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    const ModelConfig& config() const { return encoder_->config(); }
    const Provenance& provenance() const { return weights_->provenance; }
    std::string device() const { return to_string(encoder_->device()); }
    std::string precision() const { return to_string(encoder_->precision()); }
    std::string isa() const { return encoder_->isa(); }
    int threads() const { return threads_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;  // "" for random weights
    std::shared_ptr<ModelWeights> weights_;
    std::unique_ptr<Encoder> encoder_;
    int threads_ = 0;
    std::mutex mutex_;
};

// An output of `eegpt embed` / `eegpt classify` (recording_job.cpp) as (attributes, datasets) of
// Python values, for eegpt.read_features: the package reads its outputs with the engine's HDF5, so
// it needs no h5py. An attribute is an int, a float, a str or a list of str; a dataset a list of
// str or a NumPy array of its own type (float16, float32, float64, int32, int64).
herr_t collect_name(hid_t, const char* name, const H5A_info_t*, void* names) {
    static_cast<std::vector<std::string>*>(names)->push_back(name);
    return 0;
}

nb::object read_numeric_dataset(hid_t file, const std::string& name, const std::vector<uint64_t>& shape) {
    h5::Handle ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (ds.get() < 0) throw Error("cannot open dataset '" + name + "'");
    h5::Handle type(H5Dget_type(ds), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    hid_t memory = -1;  // float16 is read in the file's own (little-endian IEEE half) layout
    if (cls == H5T_FLOAT)
        memory = size == 2 ? type.get() : size == 4 ? H5T_NATIVE_FLOAT : size == 8 ? H5T_NATIVE_DOUBLE : -1;
    if (cls == H5T_INTEGER && H5Tget_sign(type) == H5T_SGN_2)
        memory = size == 4 ? H5T_NATIVE_INT32 : size == 8 ? H5T_NATIVE_INT64 : -1;
    if (memory < 0) throw Error("dataset '" + name + "' has a type that eegpt does not write");
    size_t count = 1;
    for (uint64_t d : shape) count *= d;
    auto* data = new uint8_t[std::max<size_t>(count * size, 1)];
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<uint8_t*>(p); });
    if (count > 0 && H5Dread(ds, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        throw Error("cannot read dataset '" + name + "'");
    const auto code = cls == H5T_FLOAT ? nb::dlpack::dtype_code::Float : nb::dlpack::dtype_code::Int;
    const nb::dlpack::dtype dtype{static_cast<uint8_t>(code), static_cast<uint8_t>(size * 8), 1};
    const std::vector<size_t> dims(shape.begin(), shape.end());
    return nb::cast(nb::ndarray<nb::numpy>(data, dims.size(), dims.data(), owner, nullptr, dtype));
}

nb::tuple read_output(const std::string& path) {
    h5::Handle file = h5::open_read(path);
    std::vector<std::string> names;
    hsize_t at = 0;
    if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &at, collect_name, &names) < 0)
        throw Error("cannot list the attributes of '" + path + "'");
    nb::dict attrs, datasets;
    for (const std::string& name : names) {
        h5::Handle attr(H5Aopen(file, name.c_str(), H5P_DEFAULT), H5Aclose);
        if (attr.get() < 0) throw Error("cannot open attribute '" + name + "' of '" + path + "'");
        h5::Handle type(H5Aget_type(attr), H5Tclose), space(H5Aget_space(attr), H5Sclose);
        const H5T_class_t cls = H5Tget_class(type);
        if (cls == H5T_INTEGER)
            attrs[name.c_str()] = h5::read_int_attr(file, name);
        else if (cls == H5T_FLOAT)
            attrs[name.c_str()] = h5::read_double_attr(file, name);
        else if (cls == H5T_STRING && H5Sget_simple_extent_type(space) == H5S_SCALAR)
            attrs[name.c_str()] = h5::read_string_attr(file, name);
        else if (cls == H5T_STRING)
            attrs[name.c_str()] = nb::cast(h5::read_string_array_attr(file, name));
        else
            throw Error("attribute '" + name + "' of '" + path + "' has a type that eegpt does not write");
    }
    for (const std::string& name : h5::member_names(file)) {
        const h5::DatasetInfo info = h5::dataset_info(file, name);
        datasets[name.c_str()] = info.kind == h5::Kind::string ? nb::cast(h5::read_strings(file, name))
                                                                : read_numeric_dataset(file, name, info.shape);
    }
    return nb::make_tuple(attrs, datasets);
}

}  // namespace
}  // namespace eegpt::python

NB_MODULE(_core, m) {
    using namespace eegpt;
    using eegpt::python::Model;
    m.doc() = "eegpt C++ engine (internal; use the eegpt package)";
    m.attr("__version__") = EEGPT_VERSION;
    // Every one-line message of the engine; bad input, so a ValueError.
    nb::exception<Error>(m, "Error", PyExc_ValueError);

    nb::class_<ModelConfig>(m, "ModelConfig")
        .def_ro("embed_dim", &ModelConfig::embed_dim)
        .def_ro("depth", &ModelConfig::depth)
        .def_ro("num_heads", &ModelConfig::num_heads)
        .def_ro("embed_num", &ModelConfig::embed_num)
        .def_ro("patch_size", &ModelConfig::patch_size)
        .def_ro("patch_stride", &ModelConfig::patch_stride)
        .def_ro("mlp_hidden", &ModelConfig::mlp_hidden)
        .def_ro("layernorm_eps", &ModelConfig::layernorm_eps)
        .def_ro("qkv_bias", &ModelConfig::qkv_bias);
    nb::class_<Provenance>(m, "Provenance")
        .def_ro("trained", &Provenance::trained)
        .def_ro("random_seed", &Provenance::random_seed)
        .def_ro("source_checkpoint", &Provenance::source_checkpoint)
        .def_ro("source_sha256", &Provenance::source_sha256)
        .def_ro("source_prefix", &Provenance::source_prefix)
        .def_ro("converter_version", &Provenance::converter_version);

    nb::class_<eegpt::python::PyHead>(m, "Head")
        .def_static(
            "load",
            [](const std::string& path) {
                auto* h = new eegpt::python::PyHead;
                {
                    nb::gil_scoped_release release;
                    h->head = load_head(path);
                }
                h->path = path;
                return h;
            },
            "path"_a)
        .def_prop_ro("recipe", [](const eegpt::python::PyHead& h) { return h.head.recipe; })
        .def_prop_ro("class_names", [](const eegpt::python::PyHead& h) { return h.head.class_names; })
        .def_prop_ro("output", &eegpt::python::PyHead::output)
        .def_prop_ro("input_labels", [](const eegpt::python::PyHead& h) { return h.head.input_labels; })
        .def_prop_ro("encoder_channels", [](const eegpt::python::PyHead& h) { return h.head.encoder_channels(); })
        .def_prop_ro("sample_rate_hz", [](const eegpt::python::PyHead& h) { return h.head.sample_rate_hz; })
        .def_prop_ro("window_samples", [](const eegpt::python::PyHead& h) { return h.head.window_samples; })
        .def_prop_ro("input_unit_mv", [](const eegpt::python::PyHead& h) { return h.head.input_unit_mv; })
        .def_prop_ro("stride_s", [](const eegpt::python::PyHead& h) { return h.head.stride_s; })
        .def_prop_ro("source", [](const eegpt::python::PyHead& h) { return h.head.source; })
        .def_prop_ro("warnings", [](const eegpt::python::PyHead& h) { return h.head.warnings; })
        .def_prop_ro("path", [](const eegpt::python::PyHead& h) { return h.path; });

    nb::class_<Model>(m, "Model")
        .def_static(
            "load",
            [](const std::string& path, const std::string& device, const std::string& precision, int threads) {
                ModelWeights w;
                {
                    nb::gil_scoped_release release;
                    w = load_weights(path);
                }
                return new Model(std::move(w), path, device, precision, threads);
            },
            "path"_a, "device"_a, "precision"_a, "threads"_a)
        .def_static(
            "random",
            [](const std::string& name, uint64_t seed, const std::string& device, const std::string& precision,
               int threads) {
                ModelWeights w = random_weights(named_config(name), seed);
                // As the CLI's stand-in (engine/cli/model.cpp): outputs say what made the weights.
                w.provenance.source_checkpoint = "random-init:" + name;
                return new Model(std::move(w), "", device, precision, threads);
            },
            "name"_a, "seed"_a, "device"_a, "precision"_a, "threads"_a)
        .def("encode", &Model::encode, "x"_a, "channels"_a)
        .def("predict", &Model::predict, "head"_a, "x"_a, "channels"_a)
        .def("time_encode", &Model::time_encode, "x"_a, "channels"_a)
        .def("process", &Model::process, "input"_a, "output"_a, "stride_s"_a, "batch"_a, "channels"_a,
             "fill_missing_zeros"_a, "average_reference"_a, "bandpass_low"_a, "bandpass_high"_a, "bandpass_order"_a,
             "notch_hz"_a, "notch_q"_a, "filter_design"_a, "resample_method"_a, "features_dtype"_a, "head_path"_a,
             "save_features"_a, "progress"_a.none(), "job"_a = "")
        .def_prop_ro("config", &Model::config, nb::rv_policy::reference_internal)
        .def_prop_ro("provenance", &Model::provenance, nb::rv_policy::reference_internal)
        .def_prop_ro("device", &Model::device)
        .def_prop_ro("precision", &Model::precision)
        .def_prop_ro("isa", &Model::isa)
        .def_prop_ro("threads", &Model::threads)
        .def_prop_ro("path", &Model::path);

    // The CLI's resume rule (recordings/pipeline/job_record.h).
    m.def("file_digest", &file_digest, "path"_a);
    m.def("settings_tag", &settings_tag, "job"_a);
    m.def("recording_identity", &recording_identity, "path"_a);
    m.def("reuse_refusal", &reuse_refusal, "output"_a, "job"_a);
    m.def("replaceable_output", &replaceable_output, "path"_a);
    m.def("read_output", &eegpt::python::read_output, "path"_a);
    // The job record of embed_many, built by the CLI's builder from the same options as process().
    m.def(
        "job_record",
        [](const std::string& weights, const std::string& device, const std::string& precision, double stride_s,
           const std::vector<std::string>& channels, bool fill_missing_zeros, bool average_reference,
           double bandpass_low, double bandpass_high, int bandpass_order, double notch_hz, double notch_q,
           const std::string& filter_design, const std::string& resample_method, const std::string& features_dtype) {
            const RecordingOptions o =
                eegpt::python::recording_options(stride_s, 1, channels, fill_missing_zeros, average_reference,
                                                 bandpass_low, bandpass_high, bandpass_order, notch_hz, notch_q,
                                                 filter_design, resample_method, features_dtype, true);
            return job_record(JobMaker{"embed", weights, "", device, precision, 0}, o);
        },
        "weights"_a, "device"_a, "precision"_a, "stride_s"_a, "channels"_a, "fill_missing_zeros"_a,
        "average_reference"_a, "bandpass_low"_a, "bandpass_high"_a, "bandpass_order"_a, "notch_hz"_a, "notch_q"_a,
        "filter_design"_a, "resample_method"_a, "features_dtype"_a);
    m.def("parse_montage", &parse_montage, "spec"_a);
    m.def("channel_dictionary", &channel_dictionary);
    // The CLI's channel plan of a recording's labels (recordings/channel_map.h), each signal a
    // voltage: the dictionary names and which label each comes from, the labels dropped and why.
    m.def(
        "map_channels",
        [](const std::vector<std::string>& labels, const std::vector<std::string>& wanted, bool fill_missing_zeros) {
            std::vector<SignalDescription> signals;
            for (const auto& label : labels) signals.push_back({label, "mV"});
            MontageOptions options;
            options.channels = wanted;
            options.fill_missing_zeros = fill_missing_zeros;
            const ChannelPlan plan = plan_channels(signals, options);
            nb::dict d;
            d["names"] = plan.names;
            d["signal"] = plan.signal;
            d["dropped"] = plan.dropped;
            d["dropped_reasons"] = plan.dropped_reasons;
            d["filled"] = plan.filled;
            d["warnings"] = plan.warnings;
            return d;
        },
        "labels"_a, "channels"_a, "fill_missing_zeros"_a);
    m.def("named_config_names", &named_config_names);
    m.def(
        "write_synthetic_recording",
        [](const std::string& path) { write_synthetic_recording(path, SyntheticRecordingSpec{}); }, "path"_a);
}
