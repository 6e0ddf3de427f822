// A recording as the pipeline reads it: signals described as in an EDF header, read by sample
// ranges. EdfSource reads EDF/BDF files (EdfReader); MemorySource reads samples a caller already
// holds (the Python package's mne.io.Raw), so that both go through the same channel mapping,
// resampling, filters and windows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "recordings/io/edf_reader.h"

namespace eegpt {

class SampleSource {
public:
    virtual ~SampleSource() = default;
    virtual const std::string& path() const = 0;       // what outputs record as the recording
    virtual const std::string& file_type() const = 0;  // "EDF+C", "BDF", "memory", ...
    // Signals are read in records of record_duration_100ns (EDFlib's time unit); the last record
    // may be shorter than the others when a signal's `samples` says so.
    virtual int64_t records() const = 0;
    virtual int64_t record_duration_100ns() const = 0;
    virtual double duration_s() const = 0;
    virtual const std::vector<EdfSignal>& signals() const = 0;
    virtual const std::vector<std::string>& warnings() const = 0;
    // Samples read outside each signal's digital range so far, and what was done with them.
    virtual const std::vector<int64_t>& out_of_range_counts() const = 0;
    virtual OutOfRange out_of_range() const = 0;
    // `count` samples of signal `index` from sample `start`, in the signal's physical unit.
    virtual void read(int index, int64_t start, int count, double* out) = 0;
};

class EdfSource : public SampleSource {
public:
    explicit EdfSource(EdfReader& reader) : reader_(reader) {}
    const std::string& path() const override { return reader_.path(); }
    const std::string& file_type() const override { return reader_.file_type(); }
    int64_t records() const override { return reader_.records(); }
    int64_t record_duration_100ns() const override { return reader_.record_duration_100ns(); }
    double duration_s() const override { return reader_.duration_s(); }
    const std::vector<EdfSignal>& signals() const override { return reader_.signals(); }
    const std::vector<std::string>& warnings() const override { return reader_.warnings(); }
    const std::vector<int64_t>& out_of_range_counts() const override { return reader_.out_of_range_counts(); }
    OutOfRange out_of_range() const override { return reader_.out_of_range(); }
    void read(int index, int64_t start, int count, double* out) override { reader_.read(index, start, count, out); }

private:
    EdfReader& reader_;
};

// Signals of one whole-number sampling rate, channel-major (channels x samples doubles), not
// copied: `data` must outlive the source. Throws Error on a rate that is not a positive whole
// number of Hz, mismatched label/unit counts, or a non-finite sample (when read).
class MemorySource : public SampleSource {
public:
    MemorySource(std::string description, const std::vector<std::string>& labels, const std::vector<std::string>& units,
                 double rate_hz, const double* data, int64_t samples);
    const std::string& path() const override { return description_; }
    const std::string& file_type() const override { return file_type_; }
    int64_t records() const override { return records_; }
    int64_t record_duration_100ns() const override { return 10000000; }  // 1 s records
    double duration_s() const override { return static_cast<double>(samples_) / rate_hz_; }
    const std::vector<EdfSignal>& signals() const override { return signals_; }
    const std::vector<std::string>& warnings() const override { return warnings_; }
    // Samples in memory have no digital range.
    const std::vector<int64_t>& out_of_range_counts() const override { return out_of_range_counts_; }
    OutOfRange out_of_range() const override { return OutOfRange::keep; }
    void read(int index, int64_t start, int count, double* out) override;

private:
    std::string description_, file_type_ = "memory";
    double rate_hz_ = 0;
    const double* data_ = nullptr;
    int64_t samples_ = 0, records_ = 0;
    std::vector<EdfSignal> signals_;
    std::vector<std::string> warnings_;
    std::vector<int64_t> out_of_range_counts_;
};

}  // namespace eegpt
