// Reading EDF, EDF+, BDF and BDF+ recordings through EDFlib (Debian's libedf-dev), one block at a
// time: nothing here holds more than the samples the caller asks for.
//
// EDFlib is strict; where it refuses a file that other readers (MNE-Python) accept for a reason
// that does not touch the samples, the reader retries on a repaired temporary copy of the file and
// says so in warnings() (docs/recordings.md); the copy is unlinked at once, so nothing outlives the
// process:
//   - EDF+D / BDF+D (discontinuous): read as plain EDF/BDF, records back to back (as MNE 1.3 does);
//   - EDF+ / BDF+ header details EDFlib rejects (annotation signal with a non-blank prefilter or
//     transducer field, as BCI2000 writes; non-ASCII characters in text fields, e.g. Latin-1 "µV");
//   - a record count of -1 (recording not closed properly): the count the file size gives.
// Any other refusal is an eegpt::Error with a one-line diagnosis of the header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace eegpt {

// Samples outside a signal's declared digital range: kept and scaled like the others (as MNE
// reads them), or clipped to the range (as EDFlib reads them). Either way they are counted.
enum class OutOfRange { keep, clip };
OutOfRange parse_out_of_range(const std::string& name);  // "keep" or "clip"
std::string to_string(OutOfRange mode);

struct EdfSignal {
    std::string label;  // trailing spaces removed
    std::string unit;   // physical dimension ("uV", "mV", ...), trimmed
    std::string prefilter, transducer;
    int samples_per_record = 0;
    int64_t samples = 0;  // in the whole file
    double rate_hz = 0;
    double physical_min = 0, physical_max = 0;
    int digital_min = 0, digital_max = 0;
};

class EdfReader {
public:
    explicit EdfReader(const std::string& path, OutOfRange out_of_range = OutOfRange::keep);
    ~EdfReader();
    EdfReader(const EdfReader&) = delete;
    EdfReader& operator=(const EdfReader&) = delete;

    const std::string& path() const { return path_; }
    const std::string& file_type() const { return file_type_; }  // "EDF", "EDF+C", "EDF+D", "BDF", ...
    int64_t records() const { return records_; }
    int64_t record_duration_100ns() const { return record_duration_100ns_; }  // EDFlib's time unit
    double record_duration_s() const { return static_cast<double>(record_duration_100ns_) * 1e-7; }
    double duration_s() const { return static_cast<double>(records_) * record_duration_s(); }
    // Data signals in file order; annotation signals are not listed.
    const std::vector<EdfSignal>& signals() const { return signals_; }
    // One line per repair made to read the file (empty for files EDFlib reads as they are).
    const std::vector<std::string>& warnings() const { return warnings_; }

    // Reads `count` samples of signal `index` from sample `start`, in the signal's physical unit.
    // Throws Error when the file ends early or a value is not finite.
    void read(int index, int64_t start, int count, double* out);
    // Per signal: how many of the samples read so far lie outside its digital range.
    const std::vector<int64_t>& out_of_range_counts() const { return out_of_range_counts_; }
    OutOfRange out_of_range() const { return out_of_range_; }

private:
    bool try_open(const std::string& path, int& error_code);
    void load_header();

    std::string path_, file_type_;
    int handle_ = -1;
    int repaired_fd_ = -1;  // the unnamed repaired copy, when one is read
    int data_fd_ = -1;      // the file itself, for the samples
    OutOfRange out_of_range_;
    int64_t data_offset_ = 0, record_bytes_ = 0, bytes_per_sample_ = 2;
    std::vector<long long> signal_offsets_;  // byte offset of each signal inside a record
    std::vector<int64_t> out_of_range_counts_;
    std::vector<unsigned char> raw_buffer_;
    int64_t records_ = 0, record_duration_100ns_ = 0;
    std::vector<EdfSignal> signals_;
    std::vector<std::string> warnings_;
};

// One-line description of what is wrong with the header of an EDF/BDF file, or "" when the fixed
// fields look sound. Reads at most the header; used to explain EDFlib's refusals.
std::string diagnose_edf_header(const std::string& path);

}  // namespace eegpt
