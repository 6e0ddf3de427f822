#include <cmath>
#include <vector>

#include "catch_compat.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "encoder/io/window_file.h"
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::TempPath;
using Catch::Matchers::Contains;

namespace {

void write_input(const std::string& path, const std::vector<uint64_t>& shape, const std::vector<std::string>& channels,
                 float fill = 0.01f, bool with_nan = false) {
    h5::Handle file = h5::create_truncate(path);
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> x(n, fill);
    if (with_nan) x[n / 2] = std::nanf("");
    h5::write_floats(file, "x", shape, x.data());
    h5::write_strings(file, "channels", channels);
}

}  // namespace

TEST_CASE("window files: good input is read with channel ids", "[io]") {
    TempPath path("in.h5");
    write_input(path, {2, 3, 128}, {"Fp1", "cz.", "O2"});
    WindowBatch w = read_window_file(path);
    CHECK(w.batch == 2);
    CHECK(w.channels == 3);
    CHECK(w.samples == 128);
    CHECK(w.channel_ids == std::vector<int>{0, 29, 61});
}

TEST_CASE("window files: each bad input is a one-line error naming the problem", "[io][errors]") {
    TempPath path("in.h5");
    SECTION("wrong rank") {
        write_input(path, {3, 128}, {"Fp1", "Cz", "O2"});
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("rank 2, expected 3"));
    }
    SECTION("unknown channel") {
        write_input(path, {1, 2, 64}, {"Fp1", "ECG"});
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("unknown channel 'ECG'"));
    }
    SECTION("channel count mismatch") {
        write_input(path, {1, 3, 64}, {"Fp1", "Cz"});
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("'channels' has 2 names but 'x' has 3 channels"));
    }
    SECTION("duplicate channel") {
        write_input(path, {1, 2, 64}, {"Fp1", "FP1."});
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("appears twice"));
    }
    SECTION("NaN in x") {
        write_input(path, {1, 2, 64}, {"Fp1", "Cz"}, 0.01f, true);
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("non-finite value (window 0, channel 'Cz', sample 0)"));
    }
    SECTION("missing dataset") {
        h5::Handle file = h5::create_truncate(path);
        h5::write_strings(file, "channels", {"Fp1"});
        file.reset();
        REQUIRE_THROWS_WITH(read_window_file(path), Contains("missing dataset 'x'"));
    }
}

TEST_CASE("feature files are written atomically", "[io]") {
    TempPath path("out.h5");
    SECTION("a failed write leaves nothing under the final name") {
        try {
            h5::AtomicFile out(path);
            h5::write_int32s(out.file(), "ids", {1, 2});
            throw Error("simulated failure before commit");
        } catch (const Error&) {
        }
        CHECK_FALSE(eegpt_test::file_exists(path));
    }
    SECTION("a committed write is complete and readable") {
        std::vector<float> features(2 * 1 * 4 * 8, 0.5f);
        Provenance p;
        write_feature_file(path, features, 2, 1, 4, 8, {0, 29}, {"test", "cpu", "fp32", "avx2", &p});
        h5::Handle file = h5::open_read(path);
        CHECK(h5::dataset_info(file, "features").shape == std::vector<uint64_t>{2, 1, 4, 8});
        CHECK(h5::read_strings(file, "channels") == std::vector<std::string>{"FP1", "CZ"});
        CHECK(h5::read_string_attr(file, "precision") == "fp32");
        CHECK(h5::read_string_attr(file, "cpu_isa") == "avx2");
    }
}

TEST_CASE("fixed-width channel names are read whole, however they are padded", "[io]") {
    // numpy's "S3" (h5py's default for a list of names) is null-padded with no terminator: "FP1"
    // fills all three bytes. Null-terminated and space-padded widths must read the same.
    struct Layout {
        H5T_str_t pad;
        size_t width;
        const char* bytes;  // the names' bytes, `width` each
    };
    const Layout layouts[] = {{H5T_STR_NULLPAD, 3, "FP1CZ\0O2\0"},
                              {H5T_STR_NULLTERM, 4, "FP1\0CZ\0\0O2\0\0"},
                              {H5T_STR_SPACEPAD, 5, "FP1  CZ   O2   "}};
    for (const Layout& l : layouts) {
        INFO("padding " << l.pad << ", width " << l.width);
        TempPath path("names.h5");
        {
            h5::Handle file = h5::create_truncate(path);
            std::vector<float> x(3 * 64, 0.01f);
            h5::write_floats(file, "x", {1, 3, 64}, x.data());
            h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
            H5Tset_size(type, l.width);
            H5Tset_strpad(type, l.pad);
            hsize_t dims[1] = {3};
            h5::Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
            h5::Handle ds(H5Dcreate2(file, "channels", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
            REQUIRE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, l.bytes) >= 0);
        }
        h5::Handle file = h5::open_read(path);
        CHECK(h5::read_strings(file, "channels") == std::vector<std::string>{"FP1", "CZ", "O2"});
        const WindowBatch batch = read_window_file(path);
        CHECK(batch.channel_ids == std::vector<int>{0, 29, 61});
    }
}
