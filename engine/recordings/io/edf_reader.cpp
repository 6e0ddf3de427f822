#include "recordings/io/edf_reader.h"

#include <edflib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "encoder/error.h"
#include "encoder/io/input_file.h"

namespace eegpt {
namespace {

// ---- the fixed EDF/BDF header, parsed only to explain (and work around) EDFlib's refusals ----

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\0')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\0')) --e;
    return s.substr(b, e - b);
}

bool printable(unsigned char ch) { return ch >= 32 && ch <= 126; }

// Header text as it may appear in a message or an output: bytes outside printable ASCII as \xHH.
std::string escaped(const std::string& s) {
    std::string out;
    for (unsigned char ch : s) {
        if (printable(ch) && ch != '\\') {
            out += static_cast<char>(ch);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", ch);
            out += buf;
        }
    }
    return out;
}

// What is wrong with an EDF number field, "" if nothing: a number as EDFlib accepts one is printable
// ASCII, left-aligned and padded with spaces, an optional sign, then digits with at most one dot (no
// dot in an integer field) and, in a real field, an optional exponent.
std::string number_problem(const std::string& field, bool integer) {
    for (unsigned char ch : field)
        if (!printable(ch)) return "holds a byte outside printable ASCII";
    const size_t last = field.find_last_not_of(' ');
    if (last == std::string::npos) return "is blank";
    if (field[0] == ' ') return "starts with a space (EDF numbers are left-aligned)";
    size_t i = field[0] == '+' || field[0] == '-' ? 1 : 0;
    auto digits = [&] {
        const size_t from = i;
        while (i <= last && field[i] >= '0' && field[i] <= '9') ++i;
        return i - from;
    };
    size_t mantissa = digits();
    if (!integer && i <= last && field[i] == '.') {
        ++i;
        mantissa += digits();
    }
    bool ok = mantissa > 0;
    if (ok && !integer && i <= last && (field[i] == 'e' || field[i] == 'E')) {
        ++i;
        if (i <= last && (field[i] == '+' || field[i] == '-')) ++i;
        ok = digits() > 0;
    }
    if (!ok || i != last + 1) return integer ? "is not an integer" : "is not a number";
    return "";
}

// EDF numbers are parsed with from_chars: in the C locale whatever the process locale (under a
// decimal-comma locale strtod reads "-3276.8" as -3276), without setlocale, which is process-wide.
bool parse_number(const std::string& field, double& value, std::string& problem) {
    problem = number_problem(field, false);
    if (!problem.empty()) return false;
    const size_t skip = field[0] == '+' ? 1 : 0, end = field.find_last_not_of(' ') + 1;
    const auto r = std::from_chars(field.data() + skip, field.data() + end, value);
    if (r.ec != std::errc() || !std::isfinite(value)) problem = "is out of range";
    return problem.empty();
}

bool parse_integer(const std::string& field, long long& value, std::string& problem) {
    problem = number_problem(field, true);
    if (!problem.empty()) return false;
    const size_t skip = field[0] == '+' ? 1 : 0, end = field.find_last_not_of(' ') + 1;
    if (std::from_chars(field.data() + skip, field.data() + end, value).ec != std::errc()) problem = "is out of range";
    return problem.empty();
}

// A header field in a message: its bytes escaped, the padding on the right left out.
std::string shown(const std::string& field) {
    const size_t last = field.find_last_not_of(' ');
    return "'" + escaped(last == std::string::npos ? "" : field.substr(0, last + 1)) + "'";
}

// EDF numbers are plain decimals; EDFlib misreads or refuses exponent notation in every field but
// the physical range (a record duration of "1e0" became 630 s).
bool has_exponent(const std::string& field) { return field.find_first_of("eE") != std::string::npos; }

struct FieldSpec {
    const char* name;
    int width;
    bool text;  // free text (may be repaired), as opposed to a number
};
// The per-signal header arrays, in file order.
const FieldSpec kSignalFields[] = {{"label", 16, true},          {"transducer", 80, true}, {"physical dimension", 8, true},
                                   {"physical minimum", 8, false}, {"physical maximum", 8, false},
                                   {"digital minimum", 8, false},  {"digital maximum", 8, false},
                                   {"prefilter", 80, true},        {"samples per record", 8, false},
                                   {"reserved", 32, true}};

struct HeaderCheck {
    std::string fatal;                 // first problem EDFlib cannot be spared; "" if none
    std::vector<std::string> repairs;  // problems a repaired copy works around
    bool bdf = false, plus = false, discontinuous = false;
    long long signals = 0, annotation_signals = 0;
    long long records_from_size = -1;  // when the header says -1
    // Where the samples are: every data signal (annotation signals left out, as the reader lists
    // them), its byte offset inside a data record.
    long long header_bytes = 0, record_bytes = 0;
    std::vector<long long> data_signal_offsets;
};

std::string signal_name(long long i, const std::string& label) {
    return "signal " + std::to_string(i + 1) + (label.empty() ? "" : " '" + escaped(label) + "'");
}

HeaderCheck check_header(const std::string& path) {
    HeaderCheck c;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        c.fatal = "cannot open the file";
        return c;
    }
    in.seekg(0, std::ios::end);
    const long long size = static_cast<long long>(in.tellg());
    in.seekg(0);
    std::string main(256, '\0');
    if (size < 256 || !in.read(&main[0], 256)) {
        c.fatal = "file is too short for an EDF/BDF header (" + std::to_string(size) + " bytes, the header alone is 256)";
        return c;
    }
    const bool edf = main.compare(0, 8, "0       ") == 0;
    c.bdf = static_cast<unsigned char>(main[0]) == 0xFF && main.compare(1, 7, "BIOSEMI") == 0;
    if (!edf && !c.bdf) {
        c.fatal = "not an EDF or BDF file (the first 8 bytes are not the EDF or BDF version field)";
        return c;
    }
    const std::string reserved = trim(main.substr(192, 44));
    c.plus = reserved.rfind(c.bdf ? "BDF+" : "EDF+", 0) == 0;
    c.discontinuous = c.plus && reserved.size() >= 5 && reserved[4] == 'D';
    if (c.discontinuous) c.repairs.push_back("discontinuous " + reserved.substr(0, 5) + " file");
    for (int i : {8, 88}) {
        for (int k = 0; k < 80; ++k)
            if (!printable(static_cast<unsigned char>(main[i + k]))) {
                c.repairs.push_back(std::string("non-ASCII character in the ") + (i == 8 ? "patient" : "recording") +
                                    " field");
                break;
            }
    }
    // Start date dd.mm.yy and start time hh.mm.ss, checked as EDFlib checks them.
    for (const int offset : {168, 176}) {
        const bool date = offset == 168;
        const std::string v = main.substr(static_cast<size_t>(offset), 8);
        bool ok = v[2] == '.' && v[5] == '.';
        for (size_t k : {0, 1, 3, 4, 6, 7}) ok = ok && v[k] >= '0' && v[k] <= '9';
        if (ok) {
            auto two = [&](size_t k) { return (v[k] - '0') * 10 + (v[k + 1] - '0'); };
            ok = date ? two(0) >= 1 && two(0) <= 31 && two(3) >= 1 && two(3) <= 12
                      : two(0) <= 23 && two(3) <= 59 && two(6) <= 59;
        }
        if (!ok) {
            c.fatal = std::string(date ? "startdate field " : "starttime field ") + shown(v) + " is not a " +
                      (date ? "date dd.mm.yy" : "time hh.mm.ss");
            return c;
        }
    }
    long long header_bytes = 0, records = 0;
    double duration = 0;
    const struct {
        int offset, width;
        const char* name;
        long long* integer;  // the field's value, or in `real`
        double* real;
    } main_numbers[] = {{184, 8, "header-size", &header_bytes, nullptr},
                        {236, 8, "number-of-data-records", &records, nullptr},
                        {244, 8, "data-record-duration", nullptr, &duration},
                        {252, 4, "number-of-signals", &c.signals, nullptr}};
    for (const auto& f : main_numbers)
        if (has_exponent(main.substr(static_cast<size_t>(f.offset), static_cast<size_t>(f.width)))) {
            c.fatal = std::string(f.name) + " field '" +
                      escaped(trim(main.substr(static_cast<size_t>(f.offset), static_cast<size_t>(f.width)))) +
                      "' uses exponent notation; EDF numbers are plain decimals";
            return c;
        }
    for (const auto& f : main_numbers) {
        const std::string v = main.substr(static_cast<size_t>(f.offset), static_cast<size_t>(f.width));
        std::string problem;
        if (f.integer ? !parse_integer(v, *f.integer, problem) : !parse_number(v, *f.real, problem)) {
            c.fatal = std::string(f.name) + " field " + shown(v) + " " + problem;
            return c;
        }
    }
    if (c.signals < 1 || c.signals > EDFLIB_MAXSIGNALS) {
        c.fatal = "number of signals " + std::to_string(c.signals) + " is outside 1.." + std::to_string(EDFLIB_MAXSIGNALS);
        return c;
    }
    if (header_bytes != 256 * (c.signals + 1)) {
        c.fatal = "header-size field says " + std::to_string(header_bytes) + " bytes, but " + std::to_string(c.signals) +
                  " signals need " + std::to_string(256 * (c.signals + 1));
        return c;
    }
    if (records < -1) {
        c.fatal = "number of data records is " + std::to_string(records);
        return c;
    }
    if (records == 0) {
        c.fatal = "the file holds no data records (the header says 0): nothing was recorded";
        return c;
    }
    if (duration < 0) {
        c.fatal = "data-record duration must be positive, got " + trim(main.substr(244, 8));
        return c;
    }
    const long long ns = c.signals;
    std::string sig(static_cast<size_t>(256 * ns), '\0');
    if (size < 256 * (ns + 1) || !in.read(&sig[0], static_cast<std::streamsize>(sig.size()))) {
        c.fatal = "file ends inside the signal headers (truncated: " + std::to_string(size) + " bytes)";
        return c;
    }
    // Field i of signal s sits at offset(field) + s * width(field).
    auto field = [&](int f, long long s) {
        long long offset = 0;
        for (int k = 0; k < f; ++k) offset += kSignalFields[k].width * ns;
        return sig.substr(static_cast<size_t>(offset + s * kSignalFields[f].width), static_cast<size_t>(kSignalFields[f].width));
    };
    const long long digital_limit = c.bdf ? 8388608 : 32768;
    long long record_bytes = 0;
    for (long long s = 0; s < ns; ++s) {
        const std::string label = trim(field(0, s));
        // As EDFlib tells them: the whole label field is the name, padded with one space.
        const bool annotation = c.plus && field(0, s) == (c.bdf ? "BDF Annotations " : "EDF Annotations ");
        for (int f = 0; f < 10; ++f) {
            if (!kSignalFields[f].text) continue;
            const std::string v = field(f, s);
            for (unsigned char ch : v)
                if (!printable(ch)) {
                    c.repairs.push_back(std::string("non-ASCII character in the ") + kSignalFields[f].name + " of " +
                                        signal_name(s, label));
                    break;
                }
            if (annotation && (f == 1 || f == 7) && !trim(v).empty())
                c.repairs.push_back(std::string("annotation signal with a non-blank ") + kSignalFields[f].name +
                                    " field");
        }
        if (annotation) ++c.annotation_signals;
        for (int f : {5, 6, 8})
            if (has_exponent(field(f, s))) {
                c.fatal = signal_name(s, label) + ": " + kSignalFields[f].name + " '" + escaped(trim(field(f, s))) +
                          "' uses exponent notation; EDF numbers are plain decimals";
                return c;
            }
        double pmin = 0, pmax = 0;
        long long dmin = 0, dmax = 0, nsamp = 0;
        std::string problem;
        auto fail = [&](int f) {
            c.fatal = signal_name(s, label) + ": " + kSignalFields[f].name + " " + shown(field(f, s)) + " " + problem;
            return c;
        };
        if (!parse_number(field(3, s), pmin, problem)) return fail(3);
        if (!parse_number(field(4, s), pmax, problem)) return fail(4);
        if (!parse_integer(field(5, s), dmin, problem)) return fail(5);
        if (!parse_integer(field(6, s), dmax, problem)) return fail(6);
        if (!parse_integer(field(8, s), nsamp, problem) || nsamp < 1) {
            if (problem.empty()) problem = "is not positive";
            return fail(8);
        }
        if (dmin >= dmax) {
            c.fatal = signal_name(s, label) + ": digital minimum " + std::to_string(dmin) +
                      " is not below digital maximum " + std::to_string(dmax);
            return c;
        }
        if (dmin < -digital_limit || dmax > digital_limit - 1) {
            c.fatal = signal_name(s, label) + ": digital range " + std::to_string(dmin) + ".." + std::to_string(dmax) +
                      " exceeds the " + (c.bdf ? "24" : "16") + "-bit range";
            return c;
        }
        if (pmin == pmax) {
            c.fatal = signal_name(s, label) + ": physical minimum equals physical maximum (" + trim(field(3, s)) + ")";
            return c;
        }
        if (label != "EDF Annotations" && label != "BDF Annotations") c.data_signal_offsets.push_back(record_bytes);
        record_bytes += nsamp * (c.bdf ? 3 : 2);
    }
    c.header_bytes = header_bytes;
    c.record_bytes = record_bytes;
    if (c.plus && c.annotation_signals == 0)  // every signal holds samples: the plain reading is the file's
        c.repairs.push_back("reserved field says " + reserved.substr(0, 5) + ", but no signal is labelled '" +
                            (c.bdf ? "BDF" : "EDF") + " Annotations' (which " + (c.bdf ? "BDF+" : "EDF+") + " requires)");
    if (c.annotation_signals == ns) {
        c.fatal = "no signals, annotations only (an EDF+ annotation file, e.g. a hypnogram, holds no samples)";
        return c;
    }
    if (!(duration > 0)) {
        c.fatal = "data-record duration must be positive, got " + trim(main.substr(244, 8));
        return c;
    }
    const long long data = size - 256 * (ns + 1);
    if (records == -1) {  // allowed while recording; a file left so is read by its size, as MNE does
        if (data <= 0 || data % record_bytes != 0) {
            c.fatal = "number of data records is -1 (the recording was not closed properly) and the file does not "
                      "hold whole records";
            return c;
        }
        records = c.records_from_size = data / record_bytes;
        c.repairs.push_back("number of data records is -1 (the recording was not closed properly): " +
                            std::to_string(records) + " records from the file size");
    }
    if (record_bytes > 0 && data != records * record_bytes) {
        c.fatal = "header says " + std::to_string(records) + " data records of " + std::to_string(record_bytes) +
                  " bytes, but the file holds " + std::to_string(data) + " bytes of data (" +
                  (data < records * record_bytes ? "truncated" : "header or file damaged") + ")";
        return c;
    }
    return c;
}

std::string descriptor_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Copies `path` to a temporary file whose header EDFlib accepts: plain EDF/BDF instead of EDF+/BDF+
// (annotation signals become ordinary signals, hidden by the reader; records are read back to
// back), ASCII-only text fields ("µ" becomes "u"), and a record count of -1 replaced by the count
// the file size gives. Streams in 1 MiB pieces.
//
// The copy has no name: it is unlinked as soon as it is created and reached through
// /proc/self/fd/N, so that no way of ending the process (SIGKILL included) can leave it behind.
// Returns the open descriptor; the caller closes it.
int repaired_copy(const std::string& path, const HeaderCheck& check) {
    const char* tmpdir = std::getenv("TMPDIR");
    const std::string dir = tmpdir && *tmpdir ? tmpdir : "/tmp";
    std::string temp = dir + "/eegpt-repaired-XXXXXX";
    const int fd = mkstemp(&temp[0]);
    if (fd < 0) throw Error("cannot create a temporary file in " + dir);
    unlink(temp.c_str());
    struct Closer {
        int fd;
        bool keep = false;
        ~Closer() {
            if (!keep) close(fd);
        }
    } closer{fd};
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(descriptor_path(fd), std::ios::binary | std::ios::trunc);
    const size_t header_size = static_cast<size_t>(256 * (check.signals + 1));
    std::string header(header_size, '\0');
    in.read(&header[0], static_cast<std::streamsize>(header_size));
    const std::string plain = check.bdf ? "24BIT" : "";
    header.replace(192, 44, plain + std::string(44 - plain.size(), ' '));
    if (check.records_from_size >= 0) {
        std::string records = std::to_string(check.records_from_size);
        if (records.size() > 8) throw Error("too many data records to repair the header");
        header.replace(236, 8, records + std::string(8 - records.size(), ' '));
    }
    auto clean = [&](size_t offset, size_t width) {
        std::string v;
        for (size_t k = 0; k < width; ++k) {
            unsigned char ch = static_cast<unsigned char>(header[offset + k]);
            // Micro in UTF-8 (the micro sign C2 B5, the Greek mu CE BC) or Latin-1 (B5) becomes 'u'.
            const unsigned char next = k + 1 < width ? static_cast<unsigned char>(header[offset + k + 1]) : 0;
            if ((ch == 0xC2 && next == 0xB5) || (ch == 0xCE && next == 0xBC)) {
                v += 'u';
                ++k;
                continue;
            }
            v += printable(ch) ? static_cast<char>(ch) : ch == 0xB5 ? 'u' : '?';
        }
        v.resize(width, ' ');
        header.replace(offset, width, v);
    };
    clean(8, 80);
    clean(88, 80);
    size_t offset = 256;
    for (const auto& f : kSignalFields) {
        for (long long s = 0; s < check.signals; ++s)
            if (f.text) clean(offset + static_cast<size_t>(s * f.width), static_cast<size_t>(f.width));
        offset += static_cast<size_t>(f.width * check.signals);
    }
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        out.write(buffer.data(), in.gcount());
    }
    out.close();
    if (!out) throw Error("cannot write a repaired copy in " + dir + " (disk full?)");
    closer.keep = true;
    return fd;
}

std::string edflib_message(int code) {
    switch (code) {
        case EDFLIB_MALLOC_ERROR: return "out of memory while opening";
        case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file or not readable";
        case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS: return "EDFlib reports format errors in the header";
        case EDFLIB_MAXFILES_REACHED: return "too many EDF files open at once";
        case EDFLIB_FILE_READ_ERROR: return "read error";
        case EDFLIB_FILE_ALREADY_OPENED: return "the file is already open in this process";
        case EDFLIB_FILETYPE_ERROR: return "not an EDF or BDF file";
        case EDFLIB_NUMBER_OF_SIGNALS_INVALID: return "invalid number of signals";
        case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous EDF+D/BDF+D file";
        case EDFLIB_ARCH_ERROR: return "EDFlib does not support this machine architecture";
        default: return "EDFlib error " + std::to_string(code);
    }
}

std::string padded_field(const char* s) { return trim(std::string(s)); }

}  // namespace

OutOfRange parse_out_of_range(const std::string& name) {
    if (name == "keep") return OutOfRange::keep;
    if (name == "clip") return OutOfRange::clip;
    throw Error("--out-of-range '" + name + "': use 'keep' (the values as recorded, as MNE reads them) or 'clip'");
}

std::string to_string(OutOfRange mode) { return mode == OutOfRange::keep ? "keep" : "clip"; }

std::string diagnose_edf_header(const std::string& path) {
    HeaderCheck c = check_header(path);
    if (!c.fatal.empty()) return c.fatal;
    return c.repairs.empty() ? "" : c.repairs.front();
}

EdfReader::EdfReader(const std::string& path, OutOfRange out_of_range) : path_(path), out_of_range_(out_of_range) {
    try {
        check_regular_file(path);
        // Our reading of the fixed header first: it names what EDFlib would only refuse, and refuses
        // what EDFlib would misread.
        HeaderCheck check = check_header(path);
        if (!check.fatal.empty()) throw Error(check.fatal);
        int code = 0;
        if (!try_open(path, code)) {
            if (code != EDFLIB_FILE_CONTAINS_FORMAT_ERRORS && code != EDFLIB_FILE_IS_DISCONTINUOUS &&
                code != EDFLIB_FILETYPE_ERROR)
                throw Error(edflib_message(code));
            if (check.repairs.empty())
                throw Error(edflib_message(code) + " (the fixed header fields look sound; the annotation records may be damaged)");
            repaired_fd_ = repaired_copy(path, check);
            if (!try_open(descriptor_path(repaired_fd_), code))
                throw Error(edflib_message(code) + " (also after working around: " + check.repairs.front() + ")");
            for (const auto& r : check.repairs)
                warnings_.push_back(r + ": EDFlib refuses it; read from a repaired temporary copy as plain " +
                                    (check.bdf ? "BDF" : "EDF") + (check.discontinuous ? ", records back to back (gaps ignored)" : ""));
            file_type_ = std::string(check.bdf ? "BDF" : "EDF") + (check.plus ? (check.discontinuous ? "+D" : "+C") : "");
        }
        load_header();
        if (check.data_signal_offsets.size() != signals_.size())
            throw Error("internal error: the header lists " + std::to_string(check.data_signal_offsets.size()) +
                        " data signals, EDFlib " + std::to_string(signals_.size()));
        signal_offsets_ = check.data_signal_offsets;
        data_offset_ = check.header_bytes;
        record_bytes_ = check.record_bytes;
        bytes_per_sample_ = check.bdf ? 3 : 2;
        out_of_range_counts_.assign(signals_.size(), 0);
        data_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (data_fd_ < 0) throw Error("cannot open: " + std::string(std::strerror(errno)));
    } catch (const Error& e) {
        if (handle_ >= 0) edfclose_file(handle_);
        handle_ = -1;
        if (data_fd_ >= 0) close(data_fd_);
        data_fd_ = -1;
        if (repaired_fd_ >= 0) close(repaired_fd_);
        repaired_fd_ = -1;
        throw Error("recording '" + path + "': " + e.what());
    }
}

EdfReader::~EdfReader() {
    if (handle_ >= 0) edfclose_file(handle_);
    if (repaired_fd_ >= 0) close(repaired_fd_);
    if (data_fd_ >= 0) close(data_fd_);
}

bool EdfReader::try_open(const std::string& path, int& error_code) {
    auto hdr = std::make_unique<edf_hdr_struct>();
    if (edfopen_file_readonly(path.c_str(), hdr.get(), EDFLIB_DO_NOT_READ_ANNOTATIONS) != 0) {
        error_code = hdr->filetype;
        return false;
    }
    handle_ = hdr->handle;
    static const char* kTypes[] = {"EDF", "EDF+C", "BDF", "BDF+C"};
    file_type_ = hdr->filetype >= 0 && hdr->filetype <= 3 ? kTypes[hdr->filetype] : "EDF?";
    records_ = hdr->datarecords_in_file;
    record_duration_100ns_ = hdr->datarecord_duration;
    signals_.clear();
    for (int i = 0; i < hdr->edfsignals; ++i) {
        const edf_param_struct& p = hdr->signalparam[i];
        EdfSignal s;
        s.label = padded_field(p.label);
        // A plain-EDF reading of an EDF+ file (repaired copy) shows the annotation signal: hide it.
        if (s.label == "EDF Annotations" || s.label == "BDF Annotations") continue;
        s.unit = padded_field(p.physdimension);
        s.prefilter = padded_field(p.prefilter);
        s.transducer = padded_field(p.transducer);
        s.samples_per_record = p.smp_in_datarecord;
        s.samples = p.smp_in_file;
        s.rate_hz = record_duration_100ns_ > 0
                        ? static_cast<double>(p.smp_in_datarecord) * 1e7 / static_cast<double>(record_duration_100ns_)
                        : 0.0;
        s.physical_min = p.phys_min;
        s.physical_max = p.phys_max;
        s.digital_min = p.dig_min;
        s.digital_max = p.dig_max;
        signals_.push_back(s);
    }
    return true;
}

void EdfReader::load_header() {
    if (record_duration_100ns_ <= 0 && records_ > 0) throw Error("data-record duration is not positive");
    for (const auto& s : signals_) {
        if (s.samples_per_record < 1) throw Error("signal '" + s.label + "' has no samples per record");
        if (!std::isfinite(s.physical_max - s.physical_min) || s.physical_min == s.physical_max)
            throw Error("signal '" + s.label + "' has an unusable physical range (" + format_number(s.physical_min) +
                        " .. " + format_number(s.physical_max) + ")");
        // In millivolts (at most 1e6 per unit, for kV) every value must stay a finite float32.
        const double largest = std::max(std::fabs(s.physical_min), std::fabs(s.physical_max));
        if (largest * 1e6 > static_cast<double>(std::numeric_limits<float>::max()) / 1e3)
            throw Error("signal '" + s.label + "' has a physical range of +-" + format_number(largest) + " " + s.unit +
                        ", too large for float32 samples");
    }
}

// The samples are read here rather than through EDFlib, which clips a value outside the digital
// range without a word (MNE keeps it); the scaling is EDFlib's, so values inside the range are
// what EDFlib gives, bit for bit.
void EdfReader::read(int index, int64_t start, int count, double* out) {
    if (index < 0 || index >= static_cast<int>(signals_.size())) throw Error("no signal " + std::to_string(index));
    const EdfSignal& s = signals_[static_cast<size_t>(index)];
    if (count < 0 || start < 0 || start + count > s.samples)
        throw Error("recording '" + path_ + "': read past the end of signal '" + s.label + "'");
    if (count == 0) return;
    const double bitvalue = (s.physical_max - s.physical_min) / static_cast<double>(s.digital_max - s.digital_min);
    const double offset = s.physical_max / bitvalue - s.digital_max;
    const int64_t per_record = s.samples_per_record;
    int64_t done = 0;
    while (done < count) {
        const int64_t at = start + done, record = at / per_record, first = at % per_record;
        const int64_t n = std::min<int64_t>(per_record - first, count - done);
        raw_buffer_.resize(static_cast<size_t>(n * bytes_per_sample_));
        const off_t position =
            static_cast<off_t>(data_offset_ + record * record_bytes_ + signal_offsets_[static_cast<size_t>(index)] +
                               first * bytes_per_sample_);
        if (pread(data_fd_, raw_buffer_.data(), raw_buffer_.size(), position) !=
            static_cast<ssize_t>(raw_buffer_.size()))
            throw Error("recording '" + path_ + "': cannot read signal '" + s.label + "' at sample " +
                        std::to_string(at) + " (file truncated or unreadable)");
        const unsigned char* b = raw_buffer_.data();
        for (int64_t i = 0; i < n; ++i, b += bytes_per_sample_) {
            int32_t digital =
                bytes_per_sample_ == 2
                    ? static_cast<int16_t>(static_cast<uint16_t>(b[0] | (b[1] << 8)))
                    : static_cast<int32_t>(static_cast<uint32_t>(b[0] | (b[1] << 8) | (b[2] << 16)) << 8) >> 8;
            if (digital < s.digital_min || digital > s.digital_max) {
                ++out_of_range_counts_[static_cast<size_t>(index)];
                if (out_of_range_ == OutOfRange::clip) digital = std::clamp(digital, s.digital_min, s.digital_max);
            }
            const double v = bitvalue * (offset + digital);
            if (!std::isfinite(v))
                throw Error("recording '" + path_ + "': signal '" + s.label + "' has a non-finite value at sample " +
                            std::to_string(at + i) + " (digital/physical range in the header is unusable)");
            out[done + i] = v;
        }
        done += n;
    }
}

}  // namespace eegpt
