// Writing EDF+/BDF+ files through EDFlib (synthetic recordings for the demo and the tests).
// The file is written under "<path>.partial-<pid>" and renamed by close(), like every output.
#pragma once
#include <string>
#include <vector>

#include "encoder/io/hdf5.h"  // h5::PartialPath, the partial name every output is written under

namespace eegpt {

struct EdfWriterSignal {
    std::string label;
    std::string unit = "uV";
    int samples_per_record = 256;  // = rate in Hz with the default 1 s records
    double physical_min = -3276.8, physical_max = 3276.7;
    int digital_min = -32768, digital_max = 32767;
};

class EdfWriter {
public:
    // bdf: BDF+ (24-bit) instead of EDF+ (16-bit). Records last 1 s.
    EdfWriter(const std::string& path, const std::vector<EdfWriterSignal>& signals, bool bdf = false);
    ~EdfWriter();  // without close(), the partial file is removed
    EdfWriter(const EdfWriter&) = delete;
    EdfWriter& operator=(const EdfWriter&) = delete;

    // One data record: samples_per_record values of signal 0, then of signal 1, ... (physical units;
    // values outside the physical range are clipped by EDFlib).
    void write_record(std::vector<double>& samples);
    void annotate(double onset_s, double duration_s, const std::string& text);
    void close();

private:
    std::string path_;
    h5::PartialPath partial_;
    int handle_ = -1;
    size_t record_size_ = 0;
};

}  // namespace eegpt
