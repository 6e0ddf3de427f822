#include "encoder/channels.h"

#include <algorithm>
#include <cctype>

#include "encoder/error.h"

namespace eegpt {

const std::vector<std::string>& channel_dictionary() {
    static const std::vector<std::string> names = {
        "FP1", "FPZ", "FP2", "AF7", "AF3", "AF4", "AF8", "F7",  "F5",  "F3",  "F1",  "FZ",  "F2",
        "F4",  "F6",  "F8",  "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7",
        "C5",  "C3",  "C1",  "CZ",  "C2",  "C4",  "C6",  "T8",  "TP7", "CP5", "CP3", "CP1", "CPZ",
        "CP2", "CP4", "CP6", "TP8", "P7",  "P5",  "P3",  "P1",  "PZ",  "P2",  "P4",  "P6",  "P8",
        "PO7", "PO5", "PO3", "POZ", "PO4", "PO6", "PO8", "O1",  "OZ",  "O2"};
    return names;
}

std::string normalize_channel_label(const std::string& label) {
    std::string name = label;
    while (!name.empty() && name.back() == '.') name.pop_back();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    return name;
}

int find_channel_id(const std::string& label) {
    const auto& names = channel_dictionary();
    auto it = std::find(names.begin(), names.end(), normalize_channel_label(label));
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::vector<int> channel_ids_of(const std::vector<std::string>& labels) {
    std::vector<int> ids;
    ids.reserve(labels.size());
    for (const auto& label : labels) {
        int id = find_channel_id(label);
        if (id < 0) throw Error("unknown channel '" + label + "': not in the 62-name EEGPT channel dictionary");
        ids.push_back(id);
    }
    return ids;
}

}  // namespace eegpt
