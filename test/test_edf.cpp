// Reading EDF/BDF files and mapping their channels: good files of every kind, every kind of bad
// file as a one-line error (or a documented warning), and the channel dictionary mapping.
#include <edflib.h>

#include <algorithm>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "catch_compat.h"
#include "edf_test_files.h"
#include "encoder/error.h"
#include "recordings/channel_map.h"
#include "recordings/io/edf_reader.h"
#include "recordings/io/edf_writer.h"
#include "recordings/preprocess/filter.h"
#include "test_helpers.h"

using namespace eegpt;
using namespace eegpt_test;
using Catch::Matchers::Contains;

namespace {

RawEdf two_signals() {
    RawEdf spec;
    spec.signals = {eeg_signal("EEG Fp1-REF", 32), eeg_signal("Cz", 16)};
    return spec;
}

// Physical value EDF defines for a digital value.
double physical(const RawSignal& s, int digital) {
    const double pmin = std::stod(s.physical_min), pmax = std::stod(s.physical_max);
    const double dmin = std::stod(s.digital_min), dmax = std::stod(s.digital_max);
    return pmin + (digital - dmin) * (pmax - pmin) / (dmax - dmin);
}

void check_samples(EdfReader& reader, const RawEdf& spec, int records) {
    for (size_t i = 0; i < spec.signals.size(); ++i) {
        const RawSignal& s = spec.signals[i];
        std::vector<double> x(static_cast<size_t>(s.samples_per_record * records));
        reader.read(static_cast<int>(i), 0, static_cast<int>(x.size()), x.data());
        for (int r = 0; r < records; ++r)
            for (int k = 0; k < s.samples_per_record; ++k) {
                const double want = physical(s, raw_value(r, static_cast<int>(i), k));
                REQUIRE(x[static_cast<size_t>(r * s.samples_per_record + k)] == Approx(want).margin(1e-9));
            }
    }
}

std::string read_error(const std::string& path) {
    try {
        EdfReader reader(path);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

// LC_NUMERIC set to German (decimal comma) for the object's lifetime, as a host process such as
// Python may set it. The locale is generated with localedef (Debian's `locales` package, which
// tools/setup/install_deps.sh installs) into a temporary LOCPATH when the system lacks it.
class DecimalCommaLocale {
public:
    DecimalCommaLocale() : previous_(std::setlocale(LC_NUMERIC, nullptr)) {
        if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8")) return;
        dir_ = std::filesystem::temp_directory_path() / ("eegpt-locale-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_);
        const std::string command = "localedef -i de_DE -f UTF-8 '" + (dir_ / "de_DE.UTF-8").string() + "' >/dev/null 2>&1";
        const int status = std::system(command.c_str());  // may warn (non-zero) and still write the locale
        setenv("LOCPATH", dir_.c_str(), 1);
        if (!std::setlocale(LC_NUMERIC, "de_DE.UTF-8"))
            why_ = "no de_DE.UTF-8 locale, and localedef could not make one (status " + std::to_string(status) +
                   "; install Debian's 'locales')";
    }
    ~DecimalCommaLocale() {
        std::setlocale(LC_NUMERIC, previous_.c_str());
        if (dir_.empty()) return;
        unsetenv("LOCPATH");
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    const std::string& why() const { return why_; }

private:
    std::string previous_, why_;
    std::filesystem::path dir_;
};

}  // namespace

TEST_CASE("EDF, EDF+, BDF and BDF+ files are read with their header's rates and physical values", "[edf]") {
    TempPath path("good.edf");
    SECTION("plain EDF with two sampling rates") {
        RawEdf spec = two_signals();
        write_file(path, edf_bytes(spec));
        EdfReader reader(path);
        CHECK(reader.file_type() == "EDF");
        REQUIRE(reader.signals().size() == 2);
        CHECK(reader.signals()[0].label == "EEG Fp1-REF");
        CHECK(reader.signals()[0].rate_hz == 32);
        CHECK(reader.signals()[1].rate_hz == 16);
        CHECK(reader.signals()[1].samples == 32);
        CHECK(reader.duration_s() == 2.0);
        CHECK(reader.warnings().empty());
        check_samples(reader, spec, 2);
    }
    SECTION("EDF+C: the annotation signal is not listed") {
        RawEdf spec = two_signals();
        spec.reserved = "EDF+C";
        spec.annotation = true;
        write_file(path, edf_bytes(spec));
        EdfReader reader(path);
        CHECK(reader.file_type() == "EDF+C");
        CHECK(reader.signals().size() == 2);
        CHECK(reader.warnings().empty());
        check_samples(reader, spec, 2);
    }
    SECTION("BDF with 24-bit samples, and BDF+") {
        RawEdf spec;
        RawSignal s = eeg_signal("O2", 25);
        s.digital_min = "-8388608";
        s.digital_max = "8388607";
        s.physical_min = "-262144";
        s.physical_max = "262143";
        spec.signals = {s};
        spec.bdf = true;
        spec.reserved = "24BIT";
        write_file(path, edf_bytes(spec));
        {
            EdfReader reader(path);
            CHECK(reader.file_type() == "BDF");
            check_samples(reader, spec, 2);
        }
        spec.reserved = "BDF+C";
        spec.annotation = true;
        write_file(path, edf_bytes(spec));
        EdfReader reader(path);
        CHECK(reader.file_type() == "BDF+C");
        CHECK(reader.signals().size() == 1);
        check_samples(reader, spec, 2);
    }
    SECTION("records of 0.5 s give rates of twice the samples per record") {
        RawEdf spec = two_signals();
        spec.duration = "0.5";
        spec.records = "4";
        write_file(path, edf_bytes(spec));
        EdfReader reader(path);
        CHECK(reader.signals()[0].rate_hz == 64);
        CHECK(reader.duration_s() == 2.0);
    }
    CHECK(edflib_get_number_of_open_files() == 0);
}

TEST_CASE("files EDFlib refuses but other readers accept are read from a repaired copy, with a warning", "[edf]") {
    TempPath path("repair.edf");
    RawEdf spec = two_signals();
    std::string expected_warning;
    SECTION("EDF+D is read with records back to back") {
        spec.reserved = "EDF+D";
        spec.annotation = true;
        expected_warning = "discontinuous";
    }
    SECTION("an annotation signal with a prefilter (BCI2000, EEGMMIDB)") {
        spec.reserved = "EDF+C";
        spec.annotation = true;
        spec.annotation_prefilter = "HP:0Hz LP:0Hz N:0Hz";
        expected_warning = "annotation signal with a non-blank prefilter";
    }
    SECTION("a record count of -1 (recording not closed properly)") {
        spec.records = "-1";
        spec.data_records = 2;
        expected_warning = "2 records from the file size";
    }
    SECTION("a Latin-1 micro sign in the unit") {
        spec.signals[0].unit = "\xB5V";
        expected_warning = "non-ASCII character in the physical dimension";
    }
    write_file(path, edf_bytes(spec));
    {
        EdfReader reader(path);
        REQUIRE(reader.warnings().size() == 1);
        CHECK_THAT(reader.warnings()[0], Contains(expected_warning));
        REQUIRE(reader.signals().size() == 2);
        CHECK(millivolts_per_unit(reader.signals()[0].unit) == 1e-3);
        check_samples(reader, spec, 2);
    }
    CHECK(edflib_get_number_of_open_files() == 0);
}

TEST_CASE("a missing file and a directory are one-line errors", "[edf][errors]") {
    CHECK_THAT(read_error("/nonexistent/x.edf"), Contains("No such file"));
    CHECK_THAT(read_error("/tmp"), Contains("not a regular file"));
}

// No SECTION may return early: Catch2 finds the sections after it only by reaching them.
TEST_CASE("bad files are one-line errors naming the problem", "[edf][errors]") {
    TempPath path("bad.edf");
    RawEdf spec = two_signals();
    std::string expected;
    SECTION("empty file") {
        write_file(path, "");
        expected = "too short for an EDF/BDF header";
    }
    SECTION("not EDF at all") {
        write_file(path, std::string(4096, 'x'));
        expected = "not an EDF or BDF file";
    }
    SECTION("an HDF5 file") {
        write_file(path, std::string("\x89HDF\r\n\x1a\n") + std::string(600, '\0'));
        expected = "not an EDF or BDF file";
    }
    SECTION("truncated inside the data") {
        std::string bytes = edf_bytes(spec);
        write_file(path, bytes.substr(0, bytes.size() - 10));
        expected = "truncated";
    }
    SECTION("truncated inside the signal headers") {
        write_file(path, edf_bytes(spec).substr(0, 300));
        expected = "ends inside the signal headers";
    }
    SECTION("the header claims more records than the file holds") {
        spec.records = "5";
        spec.data_records = 2;
        expected = "header says 5 data records";
    }
    SECTION("the header claims fewer records than the file holds") {
        spec.records = "1";
        spec.data_records = 2;
        expected = "header says 1 data records";
    }
    SECTION("zero data records") {
        spec.records = "0";
        expected = "no data records";
    }
    SECTION("record count -1 and a partial last record") {
        spec.records = "-1";
        spec.data_records = 2;
        std::string bytes = edf_bytes(spec);
        write_file(path, bytes.substr(0, bytes.size() - 2));
        expected = "number of data records is -1 (the recording was not closed properly) and the file does not hold whole";
    }
    SECTION("non-numeric record count") {
        spec.records = "two";
        spec.data_records = 2;
        expected = "number-of-data-records field 'two' is not an integer";
    }
    SECTION("non-numeric record duration") {
        spec.duration = "1s";
        expected = "data-record-duration field '1s' is not a number";
    }
    SECTION("non-numeric number of signals") {
        std::string bytes = edf_bytes(spec);
        bytes.replace(252, 4, "x   ");
        write_file(path, bytes);
        expected = "number-of-signals field 'x' is not an integer";
    }
    SECTION("wrong header size") {
        spec.header_bytes = "1000";
        expected = "header-size field says 1000 bytes";
    }
    SECTION("non-numeric samples per record") {
        std::string bytes = edf_bytes(spec);
        bytes.replace(256 + 2 * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80), 8, "many    ");
        write_file(path, bytes);
        expected = "signal 1 'EEG Fp1-REF': samples per record 'many' is not an integer";
    }
    SECTION("digital minimum equal to the maximum (a division by zero)") {
        spec.signals[1].digital_min = "100";
        spec.signals[1].digital_max = "100";
        expected = "signal 2 'Cz': digital minimum 100 is not below digital maximum 100";
    }
    SECTION("physical minimum equal to the maximum") {
        spec.signals[0].physical_min = "5";
        spec.signals[0].physical_max = "5";
        expected = "physical minimum equals physical maximum";
    }
    SECTION("non-numeric physical range") {
        spec.signals[0].physical_max = "nan";
        expected = "signal 1 'EEG Fp1-REF': physical maximum 'nan' is not a number";
    }
    SECTION("a physical range whose scale overflows to infinity") {
        spec.signals[1].physical_min = "-1e308";
        spec.signals[1].physical_max = "1e308";
        expected = "signal 'Cz' has an unusable physical range";
    }
    SECTION("a start date that is not dd.mm.yy") {
        std::string bytes = edf_bytes(spec);
        bytes.replace(168, 8, "99.99.99");
        write_file(path, bytes);
        expected = "startdate field '99.99.99' is not a date dd.mm.yy";
    }
    SECTION("a hexadecimal physical minimum (strtod reads it as 16)") {
        spec.signals[1].physical_min = "0x10";
        expected = "signal 2 'Cz': physical minimum '0x10' is not a number";
    }
    SECTION("a record count padded with NUL bytes") {
        spec.records = std::string("2\0\0\0\0\0\0\0", 8);
        expected = "number-of-data-records field '2\\x00\\x00\\x00\\x00\\x00\\x00\\x00' holds a byte outside printable ASCII";
    }
    SECTION("a record count after a space") {
        spec.records = " 2";
        spec.data_records = 2;
        expected = "number-of-data-records field ' 2' starts with a space (EDF numbers are left-aligned)";
    }
    SECTION("digital range beyond 16 bits") {
        spec.signals[0].digital_max = "99999";
        expected = "exceeds the 16-bit range";
    }
    if (!eegpt_test::file_exists(path)) write_file(path, edf_bytes(spec));
    const std::string message = read_error(path);
    INFO(message);
    CHECK_THAT(message, Contains(expected));
    CHECK_THAT(message, Contains("recording '" + path.str() + "'"));
    CHECK(message.find('\n') == std::string::npos);
    CHECK(edflib_get_number_of_open_files() == 0);
}

TEST_CASE("the EDF writer writes what the reader reads, atomically", "[edf]") {
    TempPath path("written.edf");
    {
        EdfWriter writer(path, {{"EEG Fz", "uV", 10}, {"ECG", "mV", 5, -5, 5}});
        std::vector<double> record(15);
        for (int r = 0; r < 3; ++r) {
            for (int i = 0; i < 15; ++i) record[static_cast<size_t>(i)] = i < 10 ? 10.0 * i - 50 + r : 0.25 * (i - 10);
            writer.write_record(record);
            CHECK_FALSE(eegpt_test::file_exists(path));
        }
        writer.close();
    }
    EdfReader reader(path);
    CHECK(reader.file_type() == "EDF+C");
    REQUIRE(reader.signals().size() == 2);
    CHECK(reader.signals()[1].unit == "mV");
    std::vector<double> x(30);
    reader.read(0, 0, 30, x.data());
    CHECK(x[12] == Approx(10.0 * 2 - 50 + 1).margin(0.1));  // 0.1 uV resolution
    SECTION("without close() the file is not left behind") {
        TempPath other("abandoned.edf");
        {
            EdfWriter writer(other, {{"Cz", "uV", 4}});
        }
        CHECK_FALSE(eegpt_test::file_exists(other));
    }
}

TEST_CASE("physical units convert to millivolts", "[edf][channels]") {
    CHECK(millivolts_per_unit("uV") == 1e-3);
    CHECK(millivolts_per_unit("\xC2\xB5V") == 1e-3);
    CHECK(millivolts_per_unit(" mV ") == 1.0);
    CHECK(millivolts_per_unit("V") == 1e3);
    CHECK(millivolts_per_unit("nV") == 1e-6);
    CHECK(millivolts_per_unit("kV") == 1e6);
    CHECK(millivolts_per_unit("\xCE\xBCV") == 1e-3);  // Greek mu
    CHECK(millivolts_per_unit("\xB5V") == 1e-3);      // Latin-1 micro sign
    CHECK(millivolts_per_unit("MV") == 0);            // mega, not milli
    CHECK(millivolts_per_unit("bpm") == 0);
    CHECK(millivolts_per_unit("") == 0);
}

TEST_CASE("recording labels map to the channel dictionary", "[channels]") {
    const std::pair<const char*, const char*> cases[] = {
        {"EEG Fp1", "FP1"},      {"EEG Fp1-REF", "FP1"}, {"EEG FP1-LE", "FP1"}, {"Fc5.", "FC5"},
        {"Cz..", "CZ"},          {"EEG T3", "T7"},       {"T4-AR", "T8"},       {"EEG T5-A1", "P7"},
        {"t6", "P8"},            {"EEG_O1", "O1"},       {"Fz-Cz", "FZ"},       {"EEG Pz-M2", "PZ"},
        {" oz ", "OZ"},          {"EEG F3-AVG", "F3"},   {"F3-C3", ""},         {"EEG A2-A1", ""},
        {"ECG ECG", ""},         {"EOG", ""},            {"EDF Annotations", ""}, {"Afz.", ""},
        {"EEG EKG1-REF", ""},    {"", ""}};
    for (const auto& [label, name] : cases) {
        INFO(label);
        CHECK(dictionary_name_of_label(label) == name);
    }
    CHECK(unmapped_reason("F3-C3") == "bipolar derivation");
    CHECK(unmapped_reason("EEG A2-A1") == "bipolar derivation");
    CHECK(unmapped_reason("ECG ECG") == "non-EEG signal (ECG)");
    CHECK(unmapped_reason("EEG EKG1-REF") == "non-EEG signal (EKG)");
    CHECK(unmapped_reason("EDF Annotations") == "annotation signal");
    CHECK(unmapped_reason("Iz..") == "not in the 62-name dictionary");
    CHECK(unmapped_reason("EEG Fp1") == "");
}

TEST_CASE("channel plans: used, dropped with reasons, montages, filling", "[channels]") {
    const std::vector<SignalDescription> signals = {{"EEG Fp1-REF", "uV"}, {"EEG T3-REF", "uV"}, {"ECG", "mV"},
                                                    {"EEG Cz-REF", "mV"},  {"EEG Fp1-LE", "uV"}, {"EEG O2", "bpm"},
                                                    {"EEG A2-A1", "uV"}};
    SECTION("every mapped signal, in recording order") {
        ChannelPlan plan = plan_channels(signals, {});
        CHECK(plan.names == std::vector<std::string>{"FP1", "T7", "CZ"});
        CHECK(plan.ids == std::vector<int>{0, 25, 29});
        CHECK(plan.signal == std::vector<int>{0, 1, 3});
        CHECK(plan.to_millivolts == std::vector<double>{1e-3, 1e-3, 1.0});
        CHECK(plan.dropped == std::vector<std::string>{"ECG", "EEG Fp1-LE", "EEG O2", "EEG A2-A1"});
        CHECK_THAT(plan.dropped_reasons[0], Contains("non-EEG"));
        CHECK_THAT(plan.dropped_reasons[1], Contains("duplicate of 'EEG Fp1-REF'"));
        CHECK_THAT(plan.dropped_reasons[2], Contains("not a voltage"));
        CHECK_THAT(plan.dropped_reasons[3], Contains("bipolar"));
        REQUIRE(plan.warnings.size() == 1);
    }
    SECTION("an explicit montage, in its order") {
        MontageOptions m;
        m.channels = parse_montage("cz,T3");
        ChannelPlan plan = plan_channels(signals, m);
        CHECK(plan.names == std::vector<std::string>{"CZ", "T7"});
        CHECK(plan.dropped.front() == "EEG Fp1-REF");
        CHECK(plan.dropped_reasons.front() == "not in the requested montage");
    }
    SECTION("a missing channel is an error unless filled with zeros") {
        MontageOptions m;
        m.channels = parse_montage("standard19");
        REQUIRE(m.channels.size() == 19);
        REQUIRE_THROWS_WITH(plan_channels(signals, m), Contains("requested but not in the recording"));
        m.fill_missing_zeros = true;
        ChannelPlan plan = plan_channels(signals, m);
        CHECK(plan.channels() == 19);
        CHECK(plan.filled.size() == 16);
        CHECK(plan.signal[0] == 0);
        CHECK(plan.signal[1] == -1);
    }
    SECTION("bad montages and recordings") {
        REQUIRE_THROWS_WITH(parse_montage("FP1,XYZ"), Contains("'XYZ' is not a channel"));
        REQUIRE_THROWS_WITH(parse_montage("FP1,fp1"), Contains("listed twice"));
        REQUIRE_THROWS_WITH(plan_channels({{"ECG", "mV"}}, {}), Contains("no signal maps"));
    }
}

TEST_CASE("samples outside the digital range are counted, and kept (as MNE reads them) or clipped", "[edf]") {
    TempPath path("out_of_range.edf");
    for (bool bdf : {false, true}) {
        RawEdf spec = two_signals();
        RawSignal& s = spec.signals[0];
        s.digital_min = s.physical_min = "-50";  // raw values are -100..99: about half lie outside
        s.digital_max = s.physical_max = "50";
        spec.bdf = bdf;
        if (bdf) spec.reserved = "24BIT";
        write_file(path, edf_bytes(spec));
        for (OutOfRange mode : {OutOfRange::keep, OutOfRange::clip}) {
            EdfReader reader(path, mode);
            std::vector<double> x(static_cast<size_t>(2 * s.samples_per_record));
            // Two reads that split a record: counts add up, values continue.
            reader.read(0, 0, 40, x.data());
            reader.read(0, 40, static_cast<int>(x.size()) - 40, x.data() + 40);
            int64_t outside = 0;
            for (int r = 0; r < 2; ++r)
                for (int k = 0; k < s.samples_per_record; ++k) {
                    const int digital = raw_value(r, 0, k);
                    outside += digital < -50 || digital > 50 ? 1 : 0;
                    const int used = mode == OutOfRange::clip ? std::clamp(digital, -50, 50) : digital;
                    REQUIRE(x[static_cast<size_t>(r * s.samples_per_record + k)] ==
                            Approx(physical(s, used)).margin(1e-9));
                }
            CHECK(outside > 10);
            CHECK(reader.out_of_range_counts() == std::vector<int64_t>{outside, 0});
        }
    }
}

TEST_CASE("EDF headers are parsed in the C locale whatever LC_NUMERIC says", "[edf]") {
    struct Seen {
        std::vector<double> physical;
        std::vector<double> first_samples;
    };
    auto read = [](const std::string& name) {
        EdfReader reader(std::string(EEGPT_SOURCE_DIR) + "/test/data/eeg/" + name);
        Seen seen;
        for (int i = 0; i < static_cast<int>(reader.signals().size()); ++i) {
            const EdfSignal& s = reader.signals()[static_cast<size_t>(i)];
            seen.physical.insert(seen.physical.end(), {s.physical_min, s.physical_max, s.rate_hz});
            std::vector<double> x(16);
            reader.read(i, 0, 16, x.data());
            seen.first_samples.insert(seen.first_samples.end(), x.begin(), x.end());
        }
        return seen;
    };
    // S001R03 goes through the repaired copy (EDFlib refuses its annotation signal), the other not.
    const std::vector<std::string> names = {"Subject00_2.edf", "S001R03.edf"};
    std::vector<Seen> in_c;
    for (const auto& name : names) in_c.push_back(read(name));
    DecimalCommaLocale german;
    if (!german.why().empty()) EEGPT_SKIP(german.why());
    REQUIRE(std::strtod("1.5", nullptr) == 1.0);  // the locale is in effect: strtod stops at the '.'
    for (size_t k = 0; k < names.size(); ++k) {
        INFO(names[k]);
        Seen seen;
        REQUIRE_NOTHROW(seen = read(names[k]));  // was: "physical minimum or maximum is not a number"
        CHECK(seen.physical == in_c[k].physical);
        CHECK(seen.first_samples == in_c[k].first_samples);
    }
    // Numbers in messages and output text stay C-locale numbers too.
    CHECK(format_number(0.005) == "0.005");
    REQUIRE_THROWS_WITH(butter_bandpass(4, 0.005, 40, 256), Contains("band-pass low edge 0.005 Hz"));
}
