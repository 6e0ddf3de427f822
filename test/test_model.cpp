#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "catch_compat.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "encoder/model/weights.h"
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::TempPath;
using Catch::Matchers::Contains;

namespace {

int64_t parameter_count(const ModelConfig& c) {
    int64_t n = 0;
    for (const auto& spec : tensor_specs(c)) {
        int64_t k = 1;
        for (auto d : spec.shape) k *= d;
        n += k;
    }
    return n;
}

// Saves tiny2 weights, applies an edit with the raw HDF5 API, and returns the path.
void write_edited(const std::string& path, const std::function<void(hid_t file, hid_t group)>& edit) {
    save_weights(random_weights(named_config("tiny2"), 0), path);
    h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(file.get() >= 0);
    h5::Handle group = h5::open_group(file, "encoder");
    edit(file, group);
}

}  // namespace

TEST_CASE("the large configuration has the released parameter count", "[model]") {
    CHECK(parameter_count(named_config("large")) == 25287168);
    CHECK(tensor_specs(named_config("large")).size() == 4 + 8 * 12 + 2);
}

TEST_CASE("named configurations follow docs/architecture.md", "[model]") {
    ModelConfig c = named_config("base3");
    CHECK(c.embed_dim == 512);
    CHECK(c.embed_num == 1);
    CHECK(c.depth == 6);
    CHECK(c.num_heads == 8);
    CHECK(c.mlp_hidden == 2048);
    REQUIRE_THROWS_WITH(named_config("huge"), Contains("unknown model configuration 'huge'"));
}

TEST_CASE("random initialisation is deterministic and matches the converter's bit for bit", "[model]") {
    ModelWeights a = random_weights(named_config("tiny2"), 0);
    ModelWeights b = random_weights(named_config("tiny2"), 0);
    ModelWeights c = random_weights(named_config("tiny2"), 1);
    CHECK(a.at("blocks.1.mlp.fc2.weight").data == b.at("blocks.1.mlp.fc2.weight").data);
    CHECK(a.at("blocks.1.mlp.fc2.weight").data != c.at("blocks.1.mlp.fc2.weight").data);
    // Golden bits computed independently (pure-Python integers) in test/python/test_random_init.py.
    auto bits = [](float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; };
    CHECK(bits(a.at("summary_token").data[0]) == 0x3B563704u);
    CHECK(bits(a.at("blocks.1.norm2.weight").data[5]) == 0x3F787B66u);
    CHECK(bits(a.at("norm.bias").data[63]) == 0x3BD237F1u);
    // The committed fixture was written by tools/convert_ckpt.py --random-init tiny2 --seed 0.
    ModelWeights fixture = load_weights(eegpt_test::fixture("tiny2_seed0.h5"));
    CHECK_FALSE(fixture.provenance.trained);
    REQUIRE(fixture.tensors.size() == a.tensors.size());
    for (const auto& [name, t] : a.tensors) {
        INFO(name);
        CHECK(fixture.at(name).shape == t.shape);
        CHECK(fixture.at(name).data == t.data);
    }
}

TEST_CASE("weights round-trip through the HDF5 format", "[model]") {
    TempPath path("roundtrip.h5");
    ModelWeights w = random_weights(named_config("tiny1"), 7);
    w.provenance.source_checkpoint = "random-init:tiny1";
    save_weights(w, path);
    ModelWeights r = load_weights(path);
    CHECK(r.config.embed_dim == 64);
    CHECK(r.config.embed_num == 1);
    CHECK(r.provenance.random_seed == 7);
    CHECK(r.provenance.source_checkpoint == "random-init:tiny1");
    CHECK(r.at("norm.bias").data == w.at("norm.bias").data);
    CHECK(r.config.patch_stride == 64);
    {
        h5::Handle file = h5::open_read(path.str());
        CHECK(h5::read_int_attr(file, "format_version") == 1);
        CHECK_FALSE(h5::has_attr(file, "patch_stride"));
    }
    // Overlapping patches are format version 2, which older engines refuse instead of misreading.
    w.config.patch_stride = 32;
    save_weights(w, path);
    CHECK(load_weights(path).config.patch_stride == 32);
    h5::Handle file = h5::open_read(path.str());
    CHECK(h5::read_int_attr(file, "format_version") == 2);
    CHECK(h5::read_int_attr(file, "patch_stride") == 32);
}

TEST_CASE("the loader rejects every malformed weight file with a message naming the problem", "[model][errors]") {
    TempPath path("bad.h5");
    SECTION("missing file") {
        REQUIRE_THROWS_WITH(load_weights("/nonexistent/w.h5"), Contains("no such file"));
    }
    SECTION("not HDF5 at all") {
        std::ofstream(path.str()) << "this is not hdf5";
        REQUIRE_THROWS_WITH(load_weights(path), Contains("not an HDF5 file"));
    }
    SECTION("truncated file") {
        save_weights(random_weights(named_config("tiny2"), 0), path);
        std::ifstream in(path.str(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(path.str(), std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
        REQUIRE_THROWS_AS(load_weights(path), Error);
    }
    SECTION("missing tensor") {
        write_edited(path, [](hid_t, hid_t g) { H5Ldelete(g, "blocks.1.mlp.fc1.bias", H5P_DEFAULT); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("missing tensor 'encoder/blocks.1.mlp.fc1.bias'"));
    }
    SECTION("unknown tensor") {
        write_edited(path, [](hid_t, hid_t g) {
            float v[2] = {0, 0};
            h5::write_floats(g, "blocks.9.attn.qkv.weight", {2}, v);
        });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("unknown tensor 'encoder/blocks.9.attn.qkv.weight'"));
    }
    SECTION("wrong shape") {
        write_edited(path, [](hid_t, hid_t g) {
            H5Ldelete(g, "norm.weight", H5P_DEFAULT);
            std::vector<float> v(63, 1.0f);
            h5::write_floats(g, "norm.weight", {63}, v.data());
        });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("'encoder/norm.weight' has shape (63,), expected (64,)"));
    }
    SECTION("wrong dtype") {
        write_edited(path, [](hid_t, hid_t g) {
            H5Ldelete(g, "norm.bias", H5P_DEFAULT);
            std::vector<double> v(64, 0.0);
            hsize_t dims[1] = {64};
            h5::Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
            h5::Handle ds(H5Dcreate2(g, "norm.bias", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
            H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("'encoder/norm.bias' has dtype float64, expected float32"));
    }
    SECTION("non-finite value") {
        write_edited(path, [](hid_t, hid_t g) {
            H5Ldelete(g, "summary_token", H5P_DEFAULT);
            std::vector<float> v(4 * 64, 0.5f);
            v[17] = std::nanf("");
            h5::write_floats(g, "summary_token", {1, 4, 64}, v.data());
        });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("'encoder/summary_token' contains a non-finite value"));
    }
    SECTION("wrong format version") {
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "format_version", int64_t{3}); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("unsupported format_version 3"));
    }
    SECTION("patch stride: version 2 without it, version 1 with it, or above the patch") {
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "format_version", int64_t{2}); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("missing attribute 'patch_stride'"));
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "patch_stride", int64_t{32}); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("'patch_stride' in a format_version 1 file"));
        write_edited(path, [](hid_t f, hid_t) {
            h5::write_attr(f, "format_version", int64_t{2});
            h5::write_attr(f, "patch_stride", int64_t{65});
        });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("patch_stride must be 1..64 (patch_size), got 65"));
    }
    SECTION("missing configuration attribute") {
        write_edited(path, [](hid_t f, hid_t) { H5Adelete(f, "num_heads"); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("missing attribute 'num_heads'"));
    }
    SECTION("inconsistent configuration") {
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "num_heads", int64_t{3}); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("not divisible by num_heads 3"));
    }
    SECTION("wrong channel dictionary") {
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "channel_names", std::vector<std::string>{"FP1"}); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("channel_names"));
    }
    SECTION("not a weight file") {
        write_edited(path, [](hid_t f, hid_t) { h5::write_attr(f, "format", std::string("something-else")); });
        REQUIRE_THROWS_WITH(load_weights(path), Contains("not an EEGPT encoder weight file"));
    }
}
