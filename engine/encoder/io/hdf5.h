// Thin RAII layer over the HDF5 C API: every failure becomes an eegpt::Error naming
// the file and the object, and HDF5's own error stack printing is switched off.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace eegpt::h5 {

// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
public:
    Handle() = default;
    Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&& other) noexcept { *this = std::move(other); }
    Handle& operator=(Handle&& other) noexcept;
    ~Handle() { reset(); }
    void reset();
    hid_t get() const { return id_; }
    operator hid_t() const { return id_; }

private:
    hid_t id_ = -1;
    herr_t (*close_)(hid_t) = nullptr;
};

enum class Kind { float32, float64, int32, int64, string, other };

struct DatasetInfo {
    std::vector<uint64_t> shape;
    Kind kind = Kind::other;
    std::string type_name;  // for messages, e.g. "float64"
    uint64_t count() const;
};

// Every file is opened or created here; the first call also turns HDF5's exit-time cleanup off
// (a file whose close failed, on a full disk or past a file-size limit, would crash it: hdf5.cpp).
// A regular file only (input_file.h): a FIFO or a device is refused before HDF5 opens it.
Handle open_read(const std::string& path);
Handle create_truncate(const std::string& path);
Handle open_group(hid_t file, const std::string& name);
Handle create_group(hid_t file, const std::string& name);

bool has_attr(hid_t object, const std::string& name);
bool has_object(hid_t location, const std::string& name);
std::vector<std::string> member_names(hid_t group);

int64_t read_int_attr(hid_t object, const std::string& name);
double read_double_attr(hid_t object, const std::string& name);
std::string read_string_attr(hid_t object, const std::string& name);
std::vector<std::string> read_string_array_attr(hid_t object, const std::string& name);

void write_attr(hid_t object, const std::string& name, int64_t value);
void write_attr(hid_t object, const std::string& name, double value);
void write_attr(hid_t object, const std::string& name, const std::string& value);
void write_attr(hid_t object, const std::string& name, const std::vector<std::string>& values);

DatasetInfo dataset_info(hid_t location, const std::string& name);
// Reads a whole dataset converted to the requested memory type; the caller checks kind first. A
// read that fails for memory says "out of memory reading 'NAME' (N bytes)", never "corrupt".
std::vector<float> read_floats(hid_t location, const std::string& name);
std::vector<int32_t> read_int32s(hid_t location, const std::string& name);
// A model tensor: float32, exactly `shape`, every value finite, its checksum (when it has one)
// verified on reading; otherwise Error naming it as `label` ("'LABEL' has shape (63,), expected
// (64,)", "'LABEL' fails its checksum"). Used by the weight and head loaders.
std::vector<float> read_tensor(hid_t location, const std::string& name, const std::string& label,
                               const std::vector<uint64_t>& shape);
// Whether a dataset carries HDF5's Fletcher32 checksum (verified by HDF5 on every read).
bool has_checksum(hid_t location, const std::string& name);
// One tensor of a file: where it is, its name there, and its label in messages (as read_tensor's).
struct TensorRef {
    hid_t location;
    std::string name, label;
};
// The checksum rule of the weight and head files, over all the tensors of one file: every tensor
// carries its checksum (read_tensor verifies it), or none does (a file written before checksums
// were: it loads, and the loader warns), which returns false. Only some: the file was altered, an
// Error naming the first tensor without one.
bool all_checksummed(const std::vector<TensorRef>& tensors);
// "(63,)", "(3, 64)": Python's notation, as the converters print shapes.
std::string shape_string(const std::vector<uint64_t>& shape);
std::vector<std::string> read_strings(hid_t location, const std::string& name);

// checksum: one chunk with HDF5's Fletcher32 filter, as the weight and head files store tensors.
void write_floats(hid_t location, const std::string& name, const std::vector<uint64_t>& shape, const float* data,
                  bool checksum = false);
void write_int32s(hid_t location, const std::string& name, const std::vector<int32_t>& values);
void write_strings(hid_t location, const std::string& name, const std::vector<std::string>& values);

// Throws Error when `path` exists and may not be replaced by an output: renaming onto a character or
// block device, a FIFO or a socket would replace it (as root, /dev/null), and a file another process
// holds open for writing (HDF5's writer lock, flock) would lose that writer's work. A new path, a
// regular file and a symbolic link to one pass. Every output path is checked before any work
// (check_output_path), again when its partial file is created and just before the rename.
void check_output_target(const std::string& path);

// The name an output is written under until it is complete, "<final>.partial-<pid>", shared by the
// HDF5 and EDF writers. The constructor checks the final path (check_output_target) and creates
// the empty partial file (a failure says why: "Permission denied"); the destructor removes it
// unless rename() moved it onto the final path. While it may exist the name is registered for
// remove_partials().
class PartialPath {
public:
    explicit PartialPath(std::string final_path);
    PartialPath(const PartialPath&) = delete;
    PartialPath& operator=(const PartialPath&) = delete;
    ~PartialPath();
    const std::string& path() const { return temp_path_; }
    void rename();

private:
    std::string final_path_, temp_path_;
    int slot_ = -1;
    bool renamed_ = false;
};

// Removes every partial file of this process that exists now. A process that ends without unwinding
// its stack calls it: the command line's handler of SIGINT, SIGTERM and SIGHUP, and its atexit()
// (libgomp calls exit() when it cannot create a thread). Async-signal-safe: the names are kept in
// fixed slots, read without a lock or an allocation.
void remove_partials() noexcept;

// Writes to "<final>.partial-<pid>" and renames onto the final path only on commit(),
// so a failed or killed run never leaves a half-written file under the final name.
class AtomicFile {
public:
    explicit AtomicFile(std::string final_path);
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    hid_t file() const { return file_.get(); }
    void commit();

private:
    PartialPath partial_;  // declared first: destroyed after the file is closed
    Handle file_;
};

}  // namespace eegpt::h5
