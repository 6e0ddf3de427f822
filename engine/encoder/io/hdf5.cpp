#include "encoder/io/hdf5.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "encoder/error.h"
#include "encoder/io/input_file.h"

namespace eegpt::h5 {
namespace {

// Every file is opened or created through here, so this precedes the engine's first HDF5 call.
void silence_hdf5() {
    // HDF5 closes every file still open when the process exits. A file whose metadata cannot be
    // written (disk full, file-size limit) fails to close, and HDF5 1.10 then leaves its identifier
    // pointing at freed memory: that exit-time cleanup (H5_term_library -> H5F__close_cb) dies with
    // SIGSEGV, in the CLI and in any Python process, after the error was reported. The cleanup is
    // skipped (it must be asked for before HDF5 initialises): the kernel closes the files, and the
    // partial output has already been removed by AtomicFile.
    static const bool no_cleanup_at_exit = (H5dont_atexit(), true);
    (void)no_cleanup_at_exit;
    // HDF5 prints its error stack to stderr by default; our errors carry the message instead.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string object_name(hid_t object) {
    ssize_t size = H5Iget_name(object, nullptr, 0);
    if (size <= 0) return "?";
    std::string name(static_cast<size_t>(size), '\0');
    H5Iget_name(object, name.data(), name.size() + 1);
    return name;
}

Handle open_attr(hid_t object, const std::string& name) {
    if (!has_attr(object, name))
        throw Error("missing attribute '" + name + "' on '" + object_name(object) + "'");
    hid_t id = H5Aopen(object, name.c_str(), H5P_DEFAULT);
    if (id < 0) throw Error("cannot open attribute '" + name + "'");
    return Handle(id, H5Aclose);
}

// Strings are stored as UTF-8: a byte that is not part of valid UTF-8, and a control character
// (NUL included, which would end the string early), is written as the text \xHH, so every reader
// (h5py's .asstr()) can decode what we write.
std::string valid_utf8(const std::string& s) {
    std::string out;
    auto escape = [&](unsigned char ch) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", ch);
        out += buf;
    };
    for (size_t i = 0; i < s.size();) {
        const unsigned char ch = static_cast<unsigned char>(s[i]);
        size_t len = ch < 0x80 ? 1 : (ch >> 5) == 0x6 ? 2 : (ch >> 4) == 0xE ? 3 : (ch >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
        if (ok && len == 2 && ch < 0xC2) ok = false;  // overlong
        if (!ok) {
            escape(ch);
            ++i;
        } else if (len == 1 && (ch < 0x20 || ch == 0x7F) && ch != '\t' && ch != '\n') {
            escape(ch);
            ++i;
        } else {
            out.append(s, i, len);
            i += len;
        }
    }
    return out;
}

Handle variable_string_type() {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
}

// Reads n strings from an attribute or dataset of string type (variable or fixed length).
template <typename ReadFn>
std::vector<std::string> read_string_values(hid_t file_type, size_t n, ReadFn read, const std::string& what) {
    if (H5Tget_class(file_type) != H5T_STRING) throw Error("'" + what + "' is not a string");
    std::vector<std::string> out;
    out.reserve(n);
    if (H5Tis_variable_str(file_type) > 0) {
        Handle mem = variable_string_type();
        std::vector<char*> raw(n, nullptr);
        if (read(mem.get(), raw.data()) < 0) throw Error("cannot read strings of '" + what + "'");
        for (char* s : raw) {
            out.emplace_back(s ? s : "");
            if (s) H5free_memory(s);
        }
    } else {
        // Fixed width: read with the file's padding and character set. A null-terminated memory type
        // would keep width - 1 characters, cutting "FP1" stored null-padded in 3 bytes (numpy's "S3",
        // h5py's default for a list of names) to "FP".
        size_t width = H5Tget_size(file_type);
        Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem, width);
        H5Tset_strpad(mem, H5Tget_strpad(file_type));
        H5Tset_cset(mem, H5Tget_cset(file_type));
        std::vector<char> raw(n * width);
        if (read(mem.get(), raw.data()) < 0) throw Error("cannot read strings of '" + what + "'");
        for (size_t i = 0; i < n; ++i) {
            const char* s = raw.data() + i * width;
            size_t len = 0;
            while (len < width && s[len] != '\0') ++len;
            std::string value(s, len);
            while (!value.empty() && value.back() == ' ') value.pop_back();  // space-padded strings
            out.push_back(value);
        }
    }
    return out;
}

size_t element_count(hid_t space) {
    hssize_t n = H5Sget_simple_extent_npoints(space);
    return n < 0 ? 0 : static_cast<size_t>(n);
}

Kind kind_of(hid_t type, std::string& type_name) {
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT) {
        type_name = "float" + std::to_string(size * 8);
        return size == 4 ? Kind::float32 : size == 8 ? Kind::float64 : Kind::other;
    }
    if (cls == H5T_INTEGER) {
        bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
        type_name = std::string(is_signed ? "int" : "uint") + std::to_string(size * 8);
        if (!is_signed) return Kind::other;
        return size == 4 ? Kind::int32 : size == 8 ? Kind::int64 : Kind::other;
    }
    if (cls == H5T_STRING) {
        type_name = "string";
        return Kind::string;
    }
    type_name = "non-numeric type";
    return Kind::other;
}

Handle open_dataset(hid_t location, const std::string& name) {
    if (!has_object(location, name)) throw Error("missing dataset '" + name + "'");
    hid_t id = H5Dopen2(location, name.c_str(), H5P_DEFAULT);
    if (id < 0) throw Error("'" + name + "' is not a dataset");
    return Handle(id, H5Dclose);
}

// Some allocations of HDF5 1.10 crash it when they fail (H5AC_create opening a file, H5FL_blk_free
// reading a chunk) instead of returning an error; so before a call that allocates, the memory it
// needs and this margin are checked to be there (allocated and freed at once: under a memory limit
// it is an error here, not a crash inside HDF5).
constexpr size_t kHdf5Margin = size_t{1} << 20;

bool memory_available(size_t bytes) { return std::unique_ptr<char[]>(new (std::nothrow) char[bytes]) != nullptr; }

enum class ReadFailure { memory, checksum, other };

// Why the last HDF5 call failed, from its error stack: a buffer it could not allocate (under a
// memory limit) is not a damaged file, and a Fletcher32 mismatch is.
ReadFailure last_read_failure() {
    struct Found {
        bool memory = false, checksum = false;
    } found;
    auto visit = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        Found& f = *static_cast<Found*>(data);
        if (e->maj_num == H5E_RESOURCE || e->min_num == H5E_CANTALLOC || e->min_num == H5E_NOSPACE) f.memory = true;
        if (e->desc && std::strstr(e->desc, "Fletcher32 checksum") && e->min_num == H5E_READERROR) f.checksum = true;
        return 0;
    };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, visit, &found);
    return found.memory ? ReadFailure::memory : found.checksum ? ReadFailure::checksum : ReadFailure::other;
}

std::string out_of_memory(const std::string& label, uint64_t bytes) {
    return "out of memory reading '" + label + "' (" + std::to_string(bytes) + " bytes)";
}

// `label` names the dataset in messages (a tensor's label, or its name).
template <typename T>
std::vector<T> read_numeric(hid_t location, const std::string& name, hid_t mem_type, const std::string& label) {
    Handle ds = open_dataset(location, name);
    Handle space(H5Dget_space(ds), H5Sclose);
    const size_t n = element_count(space);
    std::vector<T> out;
    try {
        out.resize(n);  // ours to allocate, so that a memory limit says so here rather than inside HDF5
    } catch (const std::bad_alloc&) {
        throw Error(out_of_memory(label, uint64_t{n} * sizeof(T)));
    }
    // HDF5 reads a chunked dataset (the tensors: one chunk each) through a buffer of its own.
    Handle plist(H5Dget_create_plist(ds), H5Pclose);
    const size_t buffer = H5Pget_layout(plist) == H5D_CHUNKED ? n * sizeof(T) : 0;
    if (!memory_available(buffer + kHdf5Margin)) throw Error(out_of_memory(label, uint64_t{n} * sizeof(T)));
    if (!out.empty() && H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
        switch (last_read_failure()) {
            case ReadFailure::memory:
                throw Error(out_of_memory(label, uint64_t{n} * sizeof(T)) + ": HDF5 could not allocate its buffers");
            case ReadFailure::checksum:
                throw Error("'" + label + "' fails its checksum: the file is corrupted (convert or copy it again)");
            case ReadFailure::other:
                break;
        }
        throw Error("cannot read dataset '" + label + "' (file truncated or corrupt?)");
    }
    return out;
}

Handle simple_space(const std::vector<uint64_t>& shape) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = other.id_;
        close_ = other.close_;
        other.id_ = -1;
    }
    return *this;
}

void Handle::reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
}

uint64_t DatasetInfo::count() const {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

Handle open_read(const std::string& path) {
    if (!memory_available(kHdf5Margin)) throw Error("out of memory opening '" + path + "'");  // before HDF5 starts
    silence_hdf5();
    if (access(path.c_str(), R_OK) != 0) throw Error("cannot read '" + path + "': no such file or not readable");
    check_regular_file(path);
    if (H5Fis_hdf5(path.c_str()) <= 0)
        throw Error("'" + path + "' is not an HDF5 file (or it is truncated)");
    if (!memory_available(kHdf5Margin)) throw Error("out of memory opening '" + path + "'");  // H5AC_create
    hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw Error("cannot open HDF5 file '" + path + "' (truncated or corrupt)");
    return Handle(id, H5Fclose);
}

Handle create_truncate(const std::string& path) {
    silence_hdf5();
    hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) throw Error("cannot create '" + path + "'");
    return Handle(id, H5Fclose);
}

Handle open_group(hid_t file, const std::string& name) {
    if (!has_object(file, name)) throw Error("missing group '" + name + "'");
    hid_t id = H5Gopen2(file, name.c_str(), H5P_DEFAULT);
    if (id < 0) throw Error("'" + name + "' is not a group");
    return Handle(id, H5Gclose);
}

Handle create_group(hid_t file, const std::string& name) {
    hid_t id = H5Gcreate2(file, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) throw Error("cannot create group '" + name + "'");
    return Handle(id, H5Gclose);
}

bool has_attr(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

bool has_object(hid_t location, const std::string& name) {
    return H5Lexists(location, name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> member_names(hid_t group) {
    H5G_info_t info;
    if (H5Gget_info(group, &info) < 0) throw Error("cannot list group '" + object_name(group) + "'");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        ssize_t size = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (size < 0) throw Error("cannot list group '" + object_name(group) + "'");
        std::string name(static_cast<size_t>(size), '\0');
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
        names.push_back(name);
    }
    return names;
}

int64_t read_int_attr(hid_t object, const std::string& name) {
    Handle attr = open_attr(object, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    if (H5Tget_class(type) != H5T_INTEGER || element_count(space) != 1)
        throw Error("attribute '" + name + "' must be one integer");
    int64_t value = 0;
    if (H5Aread(attr, H5T_NATIVE_INT64, &value) < 0) throw Error("cannot read attribute '" + name + "'");
    return value;
}

double read_double_attr(hid_t object, const std::string& name) {
    Handle attr = open_attr(object, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    H5T_class_t cls = H5Tget_class(type);
    if ((cls != H5T_FLOAT && cls != H5T_INTEGER) || element_count(space) != 1)
        throw Error("attribute '" + name + "' must be one number");
    double value = 0;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &value) < 0) throw Error("cannot read attribute '" + name + "'");
    return value;
}

std::string read_string_attr(hid_t object, const std::string& name) {
    auto values = read_string_array_attr(object, name);
    if (values.size() != 1) throw Error("attribute '" + name + "' must be one string");
    return values[0];
}

std::vector<std::string> read_string_array_attr(hid_t object, const std::string& name) {
    Handle attr = open_attr(object, name);
    Handle type(H5Aget_type(attr), H5Tclose);
    Handle space(H5Aget_space(attr), H5Sclose);
    return read_string_values(
        type, element_count(space), [&](hid_t mem, void* buf) { return H5Aread(attr, mem, buf); },
        "attribute " + name);
}

namespace {
void write_attr_raw(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type, hid_t space,
                    const void* data) {
    if (has_attr(object, name)) H5Adelete(object, name.c_str());
    Handle attr(H5Acreate2(object, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (attr.get() < 0 || H5Awrite(attr, mem_type, data) < 0) throw Error("cannot write attribute '" + name + "'");
}
}  // namespace

void write_attr(hid_t object, const std::string& name, int64_t value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    write_attr_raw(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &value);
}

void write_attr(hid_t object, const std::string& name, double value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    write_attr_raw(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, space, &value);
}

void write_attr(hid_t object, const std::string& name, const std::string& value) {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle type = variable_string_type();
    const std::string text = valid_utf8(value);
    const char* ptr = text.c_str();
    write_attr_raw(object, name, type, type, space, &ptr);
}

void write_attr(hid_t object, const std::string& name, const std::vector<std::string>& values) {
    Handle space = simple_space({values.size()});
    Handle type = variable_string_type();
    std::vector<std::string> texts;
    for (const auto& v : values) texts.push_back(valid_utf8(v));
    std::vector<const char*> ptrs;
    for (const auto& v : texts) ptrs.push_back(v.c_str());
    write_attr_raw(object, name, type, type, space, ptrs.data());
}

DatasetInfo dataset_info(hid_t location, const std::string& name) {
    Handle ds = open_dataset(location, name);
    Handle space(H5Dget_space(ds), H5Sclose);
    Handle type(H5Dget_type(ds), H5Tclose);
    DatasetInfo info;
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) throw Error("cannot read the shape of '" + name + "'");
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    info.shape.assign(dims.begin(), dims.end());
    info.kind = kind_of(type, info.type_name);
    return info;
}

std::vector<float> read_floats(hid_t location, const std::string& name) {
    return read_numeric<float>(location, name, H5T_NATIVE_FLOAT, name);
}

std::vector<int32_t> read_int32s(hid_t location, const std::string& name) {
    return read_numeric<int32_t>(location, name, H5T_NATIVE_INT32, name);
}

std::string shape_string(const std::vector<uint64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

std::vector<float> read_tensor(hid_t location, const std::string& name, const std::string& label,
                               const std::vector<uint64_t>& shape) {
    const DatasetInfo info = dataset_info(location, name);
    if (info.kind != Kind::float32) throw Error("'" + label + "' has dtype " + info.type_name + ", expected float32");
    if (info.shape != shape)
        throw Error("'" + label + "' has shape " + shape_string(info.shape) + ", expected " + shape_string(shape));
    const std::vector<float> values = read_numeric<float>(location, name, H5T_NATIVE_FLOAT, label);
    for (float v : values)
        if (!std::isfinite(v)) throw Error("'" + label + "' contains a non-finite value");
    return values;
}

bool has_checksum(hid_t location, const std::string& name) {
    Handle ds = open_dataset(location, name);
    Handle plist(H5Dget_create_plist(ds), H5Pclose);
    unsigned flags = 0;
    size_t n = 0;
    unsigned config = 0;
    return H5Pget_filter_by_id2(plist, H5Z_FILTER_FLETCHER32, &flags, &n, nullptr, 0, nullptr, &config) >= 0;
}

bool all_checksummed(const std::vector<TensorRef>& tensors) {
    const TensorRef* unchecked = nullptr;
    size_t checked = 0;
    for (const TensorRef& t : tensors) {
        if (has_checksum(t.location, t.name))
            ++checked;
        else if (!unchecked)
            unchecked = &t;
    }
    if (checked == 0) return false;
    if (unchecked)
        throw Error("tensor '" + unchecked->label + "' has no checksum while the others have (the file was altered)");
    return true;
}

std::vector<std::string> read_strings(hid_t location, const std::string& name) {
    Handle ds = open_dataset(location, name);
    Handle type(H5Dget_type(ds), H5Tclose);
    Handle space(H5Dget_space(ds), H5Sclose);
    return read_string_values(
        type, element_count(space),
        [&](hid_t mem, void* buf) { return H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); },
        "dataset " + name);
}

void write_floats(hid_t location, const std::string& name, const std::vector<uint64_t>& shape, const float* data,
                  bool checksum) {
    Handle space = simple_space(shape);
    Handle create(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    if (checksum) {
        std::vector<hsize_t> chunk(shape.begin(), shape.end());
        for (auto& c : chunk) c = std::max<hsize_t>(c, 1);
        if (H5Pset_chunk(create, static_cast<int>(chunk.size()), chunk.data()) < 0 || H5Pset_fletcher32(create) < 0)
            throw Error("cannot set up the checksum of dataset '" + name + "'");
    }
    Handle ds(H5Dcreate2(location, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, create, H5P_DEFAULT), H5Dclose);
    if (ds.get() < 0 || H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        throw Error("cannot write dataset '" + name + "' (disk full?)");
}

void write_int32s(hid_t location, const std::string& name, const std::vector<int32_t>& values) {
    Handle space = simple_space({values.size()});
    Handle ds(H5Dcreate2(location, name.c_str(), H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
    if (ds.get() < 0 || H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
        throw Error("cannot write dataset '" + name + "'");
}

void write_strings(hid_t location, const std::string& name, const std::vector<std::string>& values) {
    Handle space = simple_space({values.size()});
    Handle type = variable_string_type();
    std::vector<std::string> texts;
    for (const auto& v : values) texts.push_back(valid_utf8(v));
    std::vector<const char*> ptrs;
    for (const auto& v : texts) ptrs.push_back(v.c_str());
    Handle ds(H5Dcreate2(location, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    if (ds.get() < 0 || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
        throw Error("cannot write dataset '" + name + "'");
}

namespace {

// The partial files that may exist now, for remove_partials(). They belong to the process (their
// names carry its PID), so this is process-wide state, the library's only one. Fixed slots, because
// a signal handler reads them: a slot is claimed (1), filled, then published (2).
constexpr int kPartialSlots = 64;
struct PartialSlot {
    std::atomic<int> state{0};
    char path[4096];
};
PartialSlot g_partials[kPartialSlots];

// -1 when the name does not fit a slot or all are taken: that partial is then removed only by
// unwinding (the destructor), as every partial is on an error.
int register_partial(const std::string& path) {
    if (path.size() >= sizeof g_partials[0].path) return -1;
    for (int i = 0; i < kPartialSlots; ++i) {
        int expected = 0;
        if (!g_partials[i].state.compare_exchange_strong(expected, 1)) continue;
        std::memcpy(g_partials[i].path, path.c_str(), path.size() + 1);
        g_partials[i].state.store(2);
        return i;
    }
    return -1;
}

void unregister_partial(int slot) {
    if (slot >= 0) g_partials[slot].state.store(0);
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

void check_output_target(const std::string& path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return;  // a new path (or a dangling link, which the rename replaces)
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISREG(st.st_mode)  ? nullptr
                                              : "not a regular file";
    if (kind) throw Error("output '" + path + "' is " + kind + ", not a file: refusing to replace it");
    // An HDF5 writer (this engine, h5py, HDF5 tools) holds an exclusive flock on its file until it
    // closes it; readers hold shared ones, which this probe does not disturb.
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // unreadable: whether it may be replaced is the rename's (the directory's) matter
    const bool busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (busy) throw Error("output '" + path + "' is being written by another process: refusing to replace it");
}

PartialPath::PartialPath(std::string final_path)
    : final_path_(std::move(final_path)), temp_path_(final_path_ + ".partial-" + std::to_string(getpid())) {
    check_output_target(final_path_);
    slot_ = register_partial(temp_path_);  // before the file exists: no moment when it is not listed
    const int fd = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        const int err = errno;
        unregister_partial(slot_);
        throw Error("cannot create '" + temp_path_ + "': " + errno_text(err));
    }
    close(fd);
}

PartialPath::~PartialPath() {
    if (!renamed_) std::remove(temp_path_.c_str());
    unregister_partial(slot_);
}

void PartialPath::rename() {
    check_output_target(final_path_);  // a writer may have opened it while this output was computed
    if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
        throw Error("cannot rename '" + temp_path_ + "' to '" + final_path_ + "': " + errno_text(errno));
    renamed_ = true;
    unregister_partial(slot_);
    slot_ = -1;
}

void remove_partials() noexcept {
    for (PartialSlot& slot : g_partials)
        if (slot.state.load() == 2) unlink(slot.path);
}

AtomicFile::AtomicFile(std::string final_path)
    : partial_(std::move(final_path)), file_(create_truncate(partial_.path())) {}

void AtomicFile::commit() {
    if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) throw Error("cannot flush '" + partial_.path() + "' (disk full?)");
    file_.reset();
    partial_.rename();
}

}  // namespace eegpt::h5
