// HDF5 datasets written a block of rows at a time (features of a long recording never sit in memory
// whole), in float32, float16 (IEEE half, converted here with round-to-nearest-even), float64 or int32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "encoder/io/hdf5.h"

namespace eegpt {

enum class RowType { float32, float16, float64, int32 };

RowType parse_features_dtype(const std::string& name);  // "float32" or "float16"
std::string to_string(RowType type);

// IEEE 754 binary16 bits of a float, round to nearest even (overflow to infinity).
uint16_t float_to_half(float value);

class RowDataset {
public:
    // Creates `name` with shape (rows, row_shape...) under `location`.
    RowDataset(hid_t location, const std::string& name, uint64_t rows, const std::vector<uint64_t>& row_shape,
               RowType type);
    // Writes rows [first, first + count); `data` holds count x row-size values.
    void write(uint64_t first, uint64_t count, const float* data);
    void write(uint64_t first, uint64_t count, const double* data);
    void write(uint64_t first, uint64_t count, const int32_t* data);
    // Writes the block at `start` with extent `count` (one entry per dimension) of float32 values.
    void write_slab(const std::vector<uint64_t>& start, const std::vector<uint64_t>& count, const float* data);

private:
    void write_raw(uint64_t first, uint64_t count, hid_t memory_type, const void* data);
    void write_hyperslab(const std::vector<uint64_t>& start, const std::vector<uint64_t>& count, hid_t memory_type,
                         const void* data);

    std::string name_;
    RowType type_;
    uint64_t rows_, row_size_ = 1;
    std::vector<uint64_t> shape_;
    h5::Handle dataset_, half_type_;
    std::vector<uint16_t> half_buffer_;
};

// Small whole datasets and attributes the HDF5 helpers do not cover.
void write_doubles(hid_t location, const std::string& name, const std::vector<double>& values);

}  // namespace eegpt
