// The 62-name EEGPT channel dictionary and label normalisation.
#pragma once
#include <string>
#include <vector>

namespace eegpt {

// Dictionary names in id order (index = channel id).
const std::vector<std::string>& channel_dictionary();

// Upper-cases and strips trailing dots, as the reference code does ("Fc5." -> "FC5").
std::string normalize_channel_label(const std::string& label);

// Id of a label after normalisation, or -1 when it is not in the dictionary.
int find_channel_id(const std::string& label);

// Ids of all labels; throws Error naming the first label that is not in the dictionary.
std::vector<int> channel_ids_of(const std::vector<std::string>& labels);

}  // namespace eegpt
