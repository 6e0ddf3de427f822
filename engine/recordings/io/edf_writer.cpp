#include "recordings/io/edf_writer.h"

#include <edflib.h>

#include <cmath>

#include "encoder/error.h"

namespace eegpt {

EdfWriter::EdfWriter(const std::string& path, const std::vector<EdfWriterSignal>& signals, bool bdf)
    : path_(path), partial_(path) {
    if (signals.empty()) throw Error("an EDF file needs at least one signal");
    handle_ = edfopen_file_writeonly(partial_.path().c_str(), bdf ? EDFLIB_FILETYPE_BDFPLUS : EDFLIB_FILETYPE_EDFPLUS,
                                     static_cast<int>(signals.size()));
    if (handle_ < 0) throw Error("cannot create '" + partial_.path() + "' (EDFlib error " + std::to_string(handle_) + ")");
    bool ok = edf_set_startdatetime(handle_, 1985, 1, 1, 0, 0, 0) == 0 && edf_set_patientname(handle_, "X") == 0 &&
              edf_set_equipment(handle_, "eegpt synthetic") == 0;
    for (int i = 0; ok && i < static_cast<int>(signals.size()); ++i) {
        const EdfWriterSignal& s = signals[static_cast<size_t>(i)];
        ok = edf_set_samplefrequency(handle_, i, s.samples_per_record) == 0 &&
             edf_set_physical_maximum(handle_, i, s.physical_max) == 0 &&
             edf_set_physical_minimum(handle_, i, s.physical_min) == 0 &&
             edf_set_digital_maximum(handle_, i, s.digital_max) == 0 &&
             edf_set_digital_minimum(handle_, i, s.digital_min) == 0 && edf_set_label(handle_, i, s.label.c_str()) == 0 &&
             edf_set_physical_dimension(handle_, i, s.unit.c_str()) == 0;
        record_size_ += static_cast<size_t>(s.samples_per_record);
    }
    if (!ok) {
        edfclose_file(handle_);
        throw Error("cannot set up EDF file '" + path + "': a signal parameter is out of range");
    }
}

EdfWriter::~EdfWriter() {
    if (handle_ >= 0) edfclose_file(handle_);  // then partial_ removes the file
}

void EdfWriter::write_record(std::vector<double>& samples) {
    if (handle_ < 0) throw Error("EDF file '" + path_ + "' is closed");
    if (samples.size() != record_size_) throw Error("EDF record has the wrong number of samples");
    if (edf_blockwrite_physical_samples(handle_, samples.data()) != 0)
        throw Error("cannot write to '" + partial_.path() + "' (disk full?)");
}

void EdfWriter::annotate(double onset_s, double duration_s, const std::string& text) {
    // EDFlib takes onset and duration in units of 100 microseconds.
    if (edfwrite_annotation_utf8(handle_, std::llround(onset_s * 1e4), duration_s < 0 ? -1 : std::llround(duration_s * 1e4),
                                 text.c_str()) != 0)
        throw Error("cannot add an annotation to '" + partial_.path() + "'");
}

void EdfWriter::close() {
    const int h = handle_;
    handle_ = -1;
    if (edfclose_file(h) != 0) throw Error("cannot finish '" + partial_.path() + "' (disk full?)");
    partial_.rename();
}

}  // namespace eegpt
