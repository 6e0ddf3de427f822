#include "catch_compat.h"
#include "encoder/channels.h"
#include "encoder/error.h"

using namespace eegpt;

TEST_CASE("channel dictionary has the 62 names of docs/architecture.md in id order", "[channels]") {
    const auto& names = channel_dictionary();
    REQUIRE(names.size() == 62);
    const std::pair<const char*, int> anchors[] = {{"FP1", 0}, {"FZ", 11}, {"T7", 25}, {"CZ", 29}, {"T8", 33}, {"P7", 43},
                                                   {"PZ", 47}, {"P8", 51}, {"O1", 59}, {"OZ", 60}, {"O2", 61}};
    for (const auto& [name, id] : anchors) {
        INFO(name);
        CHECK(names[static_cast<size_t>(id)] == name);
        CHECK(find_channel_id(name) == id);
    }
}

TEST_CASE("labels are upper-cased and lose trailing dots, as in the reference code", "[channels]") {
    CHECK(normalize_channel_label("Fc5.") == "FC5");
    CHECK(normalize_channel_label("Cz..") == "CZ");
    CHECK(find_channel_id("fp1") == 0);
    CHECK(find_channel_id("Oz.") == 60);
    CHECK(find_channel_id("ECG") == -1);
    CHECK(find_channel_id("") == -1);
}

TEST_CASE("unknown labels are an error naming the label", "[channels]") {
    CHECK(channel_ids_of({"Fp1", "o2"}) == std::vector<int>{0, 61});
    REQUIRE_THROWS_AS(channel_ids_of({"Fp1", "XYZ"}), Error);
    REQUIRE_THROWS_WITH(channel_ids_of({"Fp1", "XYZ"}), Catch::Matchers::Contains("unknown channel 'XYZ'"));
}
