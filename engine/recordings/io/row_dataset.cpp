#include "recordings/io/row_dataset.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "encoder/error.h"

namespace eegpt {
namespace {

// IEEE half precision as an HDF5 type (HDF5 1.10 has no predefined one; h5py reads this as float16).
h5::Handle make_half_type() {
    h5::Handle type(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    if (H5Tset_fields(type, 15, 10, 5, 0, 10) < 0 || H5Tset_size(type, 2) < 0 || H5Tset_ebias(type, 15) < 0)
        throw Error("cannot define the float16 HDF5 type");
    return type;
}

}  // namespace

RowType parse_features_dtype(const std::string& name) {
    if (name == "float32") return RowType::float32;
    if (name == "float16") return RowType::float16;
    throw Error("unknown features dtype '" + name + "' (use float32 or float16)");
}

std::string to_string(RowType type) {
    switch (type) {
        case RowType::float32: return "float32";
        case RowType::float16: return "float16";
        case RowType::float64: return "float64";
        case RowType::int32: return "int32";
    }
    return "?";
}

uint16_t float_to_half(float value) {
    uint32_t x;
    std::memcpy(&x, &value, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mantissa = x & 0x7FFFFFu;
    const int32_t exponent = static_cast<int32_t>((x >> 23) & 0xFFu);
    if (exponent == 0xFF) return static_cast<uint16_t>(sign | 0x7C00u | (mantissa ? 0x200u : 0u));
    const int32_t e = exponent - 127 + 15;
    if (e >= 31) return static_cast<uint16_t>(sign | 0x7C00u);
    if (e <= 0) {  // half subnormal (or zero)
        if (e < -10) return static_cast<uint16_t>(sign);
        mantissa |= 0x800000u;
        const int shift = 14 - e;
        uint32_t half = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t half = sign | (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // a carry rounds up the exponent, as it should
    return static_cast<uint16_t>(half);
}

RowDataset::RowDataset(hid_t location, const std::string& name, uint64_t rows, const std::vector<uint64_t>& row_shape,
                       RowType type)
    : name_(name), type_(type), rows_(rows) {
    shape_ = {rows};
    for (auto d : row_shape) {
        shape_.push_back(d);
        row_size_ *= d;
    }
    hid_t file_type = H5T_IEEE_F32LE;
    if (type == RowType::float16) {
        half_type_ = make_half_type();
        file_type = half_type_;
    } else if (type == RowType::float64) {
        file_type = H5T_IEEE_F64LE;
    } else if (type == RowType::int32) {
        file_type = H5T_STD_I32LE;
    }
    std::vector<hsize_t> dims(shape_.begin(), shape_.end());
    h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    dataset_ = h5::Handle(H5Dcreate2(location, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                          H5Dclose);
    if (dataset_.get() < 0) throw Error("cannot create dataset '" + name + "'");
}

void RowDataset::write_hyperslab(const std::vector<uint64_t>& start, const std::vector<uint64_t>& count,
                                 hid_t memory_type, const void* data) {
    if (start.size() != shape_.size() || count.size() != shape_.size())
        throw Error("dataset '" + name_ + "': block rank does not match");
    for (size_t d = 0; d < shape_.size(); ++d) {
        if (count[d] == 0) return;
        if (start[d] + count[d] > shape_[d]) throw Error("dataset '" + name_ + "': block beyond its size");
    }
    std::vector<hsize_t> offset(start.begin(), start.end()), size(count.begin(), count.end());
    h5::Handle file_space(H5Dget_space(dataset_), H5Sclose);
    h5::Handle memory_space(H5Screate_simple(static_cast<int>(size.size()), size.data(), nullptr), H5Sclose);
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, offset.data(), nullptr, size.data(), nullptr) < 0 ||
        H5Dwrite(dataset_, memory_type, memory_space, file_space, H5P_DEFAULT, data) < 0)
        throw Error("cannot write dataset '" + name_ + "' (disk full?)");
}

void RowDataset::write_raw(uint64_t first, uint64_t count, hid_t memory_type, const void* data) {
    std::vector<uint64_t> start(shape_.size(), 0), size(shape_.begin(), shape_.end());
    start[0] = first;
    size[0] = count;
    write_hyperslab(start, size, memory_type, data);
}

void RowDataset::write_slab(const std::vector<uint64_t>& start, const std::vector<uint64_t>& count, const float* data) {
    if (type_ != RowType::float32) throw Error("dataset '" + name_ + "': slabs are written to float32 datasets");
    write_hyperslab(start, count, H5T_NATIVE_FLOAT, data);
}

void RowDataset::write(uint64_t first, uint64_t count, const float* data) {
    if (type_ == RowType::float16) {
        half_buffer_.resize(count * row_size_);
        for (size_t i = 0; i < half_buffer_.size(); ++i) {
            half_buffer_[i] = float_to_half(data[i]);
            // A finite value beyond float16's range would be stored as infinity: refused, so that
            // no output holds a non-finite value it was not given.
            if ((half_buffer_[i] & 0x7C00u) == 0x7C00u && std::isfinite(data[i])) {
                throw Error("dataset '" + name_ + "': a value of row " + std::to_string(first + i / row_size_) + " (" +
                            format_number(data[i]) + ") is beyond float16's range (+-65504); nothing written (write float32 instead)");
            }
        }
        write_raw(first, count, half_type_, half_buffer_.data());
    } else {
        write_raw(first, count, H5T_NATIVE_FLOAT, data);
    }
}

void RowDataset::write(uint64_t first, uint64_t count, const double* data) {
    if (type_ == RowType::float16) throw Error("dataset '" + name_ + "': float16 rows are written from floats");
    write_raw(first, count, H5T_NATIVE_DOUBLE, data);
}

void RowDataset::write(uint64_t first, uint64_t count, const int32_t* data) {
    if (type_ != RowType::int32) throw Error("dataset '" + name_ + "' is not an int32 dataset");
    write_raw(first, count, H5T_NATIVE_INT32, data);
}

void write_doubles(hid_t location, const std::string& name, const std::vector<double>& values) {
    RowDataset d(location, name, values.size(), {}, RowType::float64);
    d.write(0, values.size(), values.data());
}

}  // namespace eegpt
