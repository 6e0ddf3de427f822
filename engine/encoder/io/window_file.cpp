#include "encoder/io/window_file.h"

#include <cmath>
#include <limits>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"

namespace eegpt {

WindowBatch read_window_file(const std::string& path, bool dictionary_channels) {
    try {
        h5::Handle file = h5::open_read(path);
        h5::DatasetInfo info = h5::dataset_info(file, "x");
        if (info.kind != h5::Kind::float32)
            throw Error("dataset 'x' has dtype " + info.type_name + ", expected float32");
        if (info.shape.size() != 3)
            throw Error("dataset 'x' has rank " + std::to_string(info.shape.size()) +
                        ", expected 3 (batch x channels x samples)");
        for (auto d : info.shape)
            if (d == 0 || d > static_cast<uint64_t>(std::numeric_limits<int>::max()))
                throw Error("dataset 'x' has an empty or oversized dimension");
        WindowBatch w;
        w.batch = static_cast<int>(info.shape[0]);
        w.channels = static_cast<int>(info.shape[1]);
        w.samples = static_cast<int>(info.shape[2]);
        w.channel_labels = h5::read_strings(file, "channels");
        if (static_cast<int>(w.channel_labels.size()) != w.channels)
            throw Error("dataset 'channels' has " + std::to_string(w.channel_labels.size()) + " names but 'x' has " +
                        std::to_string(w.channels) + " channels");
        if (dictionary_channels) w.channel_ids = channel_ids_of(w.channel_labels);
        for (size_t i = 0; i < w.channel_ids.size(); ++i)
            for (size_t j = 0; j < i; ++j)
                if (w.channel_ids[i] == w.channel_ids[j])
                    throw Error("channel '" + w.channel_labels[i] + "' appears twice");
        w.x = h5::read_floats(file, "x");
        for (size_t i = 0; i < w.x.size(); ++i) {
            if (!std::isfinite(w.x[i])) {
                const size_t per_window = static_cast<size_t>(w.channels) * w.samples;
                throw Error("dataset 'x' has a non-finite value (window " + std::to_string(i / per_window) +
                            ", channel '" + w.channel_labels[(i % per_window) / w.samples] + "', sample " +
                            std::to_string(i % w.samples) + ")");
            }
        }
        return w;
    } catch (const Error& e) {
        throw Error("input '" + path + "': " + e.what());
    }
}

void write_feature_file(const std::string& path, const std::vector<float>& features, int batch, int patches,
                        int embed_num, int embed_dim, const std::vector<int>& channel_ids,
                        const FeatureFileInfo& info) {
    h5::AtomicFile out(path);
    hid_t file = out.file();
    h5::write_attr(file, "content", std::string("features"));  // what marks a file as this engine's output
    h5::write_floats(file, "features",
                     {static_cast<uint64_t>(batch), static_cast<uint64_t>(patches), static_cast<uint64_t>(embed_num),
                      static_cast<uint64_t>(embed_dim)},
                     features.data());
    h5::write_int32s(file, "channel_ids", std::vector<int32_t>(channel_ids.begin(), channel_ids.end()));
    std::vector<std::string> names;
    for (int id : channel_ids) names.push_back(channel_dictionary().at(static_cast<size_t>(id)));
    h5::write_strings(file, "channels", names);
    h5::write_attr(file, "engine_version", info.engine_version);
    h5::write_attr(file, "device", info.device);
    h5::write_attr(file, "precision", info.precision);
    if (!info.isa.empty()) h5::write_attr(file, "cpu_isa", info.isa);
    if (!info.int8_kernel.empty()) h5::write_attr(file, "int8_kernel", info.int8_kernel);
    if (info.weights) {
        h5::write_attr(file, "weights_source_checkpoint", info.weights->source_checkpoint);
        h5::write_attr(file, "weights_source_sha256", info.weights->source_sha256);
        h5::write_attr(file, "weights_trained", int64_t{info.weights->trained ? 1 : 0});
    }
    out.commit();
}

}  // namespace eegpt
