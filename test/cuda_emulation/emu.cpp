// CPU stand-ins for the CUDA runtime and cuBLASLt (see README.md): device memory table, kernel
// grids run block by block with one ucontext fiber per CUDA thread, and a strict reference GEMM.
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cublasLt.h"
#include "cuda_bf16.h"
#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

constexpr size_t kDefaultSmemLimit = 48 * 1024;
constexpr int kSmemOptinLimit = 232448;  // H100 / H200
constexpr size_t kStackBytes = 256 * 1024;

cudaError_t g_last_error = cudaSuccess;
std::map<uintptr_t, size_t> g_allocations;
size_t g_allocated = 0;
std::map<const void*, int> g_func_smem;
long long g_launches = 0, g_fibers = 0;

size_t device_limit() {
    const char* env = std::getenv("EMU_DEVICE_BYTES");
    return env ? std::strtoull(env, nullptr, 10) : size_t{80} << 30;
}

cudaError_t fail_with(cudaError_t e) {
    g_last_error = e;
    return e;
}

enum class State { ready, warp_wait, block_wait, done };

struct Fiber {
    ucontext_t ctx;
    State state;
    void* stack;
    void* fake_stack;
};

struct BlockRun {
    std::vector<Fiber> fibers;
    ucontext_t scheduler;
    int current = -1;
    unsigned char* shared = nullptr;
    std::vector<float> shuffle;
    const std::function<void()>* body = nullptr;
    const void* scheduler_stack_bottom = nullptr;
    size_t scheduler_stack_size = 0;
    void* scheduler_fake_stack = nullptr;
};
BlockRun* g_block = nullptr;
// Fiber stacks, reused from block to block and freed at exit.
struct StackPool : std::vector<void*> {
    ~StackPool() {
        for (void* p : *this) std::free(p);
    }
};
StackPool g_stacks;

void yield(State s) {
    if (!g_block) emu_fail("a device-side synchronisation outside a kernel");
    Fiber& f = g_block->fibers[static_cast<size_t>(g_block->current)];
    f.state = s;
#if EMU_ASAN
    __sanitizer_start_switch_fiber(&f.fake_stack, g_block->scheduler_stack_bottom, g_block->scheduler_stack_size);
#endif
    swapcontext(&f.ctx, &g_block->scheduler);
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
}

void fiber_main() {
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &g_block->scheduler_stack_bottom, &g_block->scheduler_stack_size);
#endif
    (*g_block->body)();
    g_block->fibers[static_cast<size_t>(g_block->current)].state = State::done;
#if EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, g_block->scheduler_stack_bottom, g_block->scheduler_stack_size);
#endif
    // returning resumes uc_link: the scheduler
}

std::vector<int> run_order(int n, unsigned seed) {
    std::vector<int> order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    const char* env = std::getenv("EMU_ORDER");
    const std::string mode = env ? env : "forward";
    if (mode == "reverse") std::reverse(order.begin(), order.end());
    if (mode == "random") std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    return order;
}

void run_block(dim3 block, size_t smem, const std::function<void()>& body, unsigned seed) {
    const int n = static_cast<int>(block.x * block.y * block.z);
    BlockRun run;
    run.body = &body;
    run.fibers.resize(static_cast<size_t>(n));
    run.shuffle.assign(static_cast<size_t>((n + 31) / 32 * 32), 0.0f);
    if (smem > 0) {
        run.shared = static_cast<unsigned char*>(std::malloc(smem));
        std::memset(run.shared, 0xFF, smem);  // uninitialised shared memory reads as NaN
    }
    while (g_stacks.size() < static_cast<size_t>(n)) g_stacks.push_back(std::malloc(kStackBytes));
    for (int t = 0; t < n; ++t) {
        Fiber& f = run.fibers[static_cast<size_t>(t)];
        f.state = State::ready;
        f.stack = g_stacks[static_cast<size_t>(t)];
        f.fake_stack = nullptr;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack;
        f.ctx.uc_stack.ss_size = kStackBytes;
        f.ctx.uc_link = &run.scheduler;
        makecontext(&f.ctx, fiber_main, 0);
    }
    g_fibers += n;
    BlockRun* outer = g_block;
    g_block = &run;
    const std::vector<int> order = run_order(n, seed);
    for (;;) {
        for (int t : order) {
            Fiber& f = run.fibers[static_cast<size_t>(t)];
            if (f.state != State::ready) continue;
            threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            run.current = t;
#if EMU_ASAN
            __sanitizer_start_switch_fiber(&run.scheduler_fake_stack, f.stack, kStackBytes);
#endif
            swapcontext(&run.scheduler, &f.ctx);
#if EMU_ASAN
            __sanitizer_finish_switch_fiber(run.scheduler_fake_stack, nullptr, nullptr);
#endif
        }
        int done = 0, at_block = 0;
        bool released = false;
        for (int w = 0; w * 32 < n; ++w) {
            const int first = w * 32, last = std::min(n, first + 32);
            int waiting = 0;
            for (int t = first; t < last; ++t) waiting += run.fibers[static_cast<size_t>(t)].state == State::warp_wait;
            if (waiting == 0) continue;
            if (waiting != last - first) emu_fail("warp-synchronous operation while lanes of the warp exited or wait elsewhere");
            for (int t = first; t < last; ++t) run.fibers[static_cast<size_t>(t)].state = State::ready;
            released = true;
        }
        if (released) continue;
        for (const Fiber& f : run.fibers) {
            done += f.state == State::done;
            at_block += f.state == State::block_wait;
        }
        if (done == n) break;
        if (done > 0) emu_fail("__syncthreads reached after some threads of the block exited");
        if (at_block != n) emu_fail("deadlock in a block");
        for (Fiber& f : run.fibers) f.state = State::ready;
    }
    g_block = outer;
    std::free(run.shared);
}

}  // namespace

void emu_fail(const char* what) {
    std::fprintf(stderr, "cuda emulation: %s\n", what);
    std::abort();
}

// ---- runtime ----------------------------------------------------------------------------------

bool emu_is_device_range(const void* ptr, size_t bytes) {
    const auto p = reinterpret_cast<uintptr_t>(ptr);
    auto it = g_allocations.upper_bound(p);
    if (it == g_allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

void emu_set_error(cudaError_t error) { g_last_error = error; }

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
    *ptr = nullptr;
    if (g_allocated + bytes > device_limit()) return fail_with(cudaErrorMemoryAllocation);
    void* p = std::malloc(std::max<size_t>(bytes, 1));
    if (!p) return fail_with(cudaErrorMemoryAllocation);
    g_allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
    g_allocated += bytes;
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
    if (!ptr) return cudaSuccess;
    auto it = g_allocations.find(reinterpret_cast<uintptr_t>(ptr));
    if (it == g_allocations.end()) emu_fail("cudaFree of a pointer that cudaMalloc did not return");
    g_allocated -= it->second;
    g_allocations.erase(it);
    std::free(ptr);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    const bool dst_dev = emu_is_device_range(dst, bytes), src_dev = emu_is_device_range(src, bytes);
    const bool ok = (kind == cudaMemcpyHostToDevice && dst_dev && !src_dev) ||
                    (kind == cudaMemcpyDeviceToHost && !dst_dev && src_dev) ||
                    (kind == cudaMemcpyDeviceToDevice && dst_dev && src_dev) || kind == cudaMemcpyDefault;
    if (!ok) emu_fail("cudaMemcpy: pointers do not match the copy direction (or run past an allocation)");
    if (bytes) std::memcpy(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
    if (!emu_is_device_range(ptr, bytes)) emu_fail("cudaMemset outside device memory");
    std::memset(ptr, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
    *total_bytes = device_limit();
    *free_bytes = *total_bytes - g_allocated;
    return cudaSuccess;
}

cudaError_t cudaGetLastError() {
    const cudaError_t e = g_last_error;
    g_last_error = cudaSuccess;
    return e;
}

const char* cudaGetErrorString(cudaError_t error) {
    switch (error) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        default: return "unknown error";
    }
}

cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
    *stream = reinterpret_cast<cudaStream_t>(new int(0));
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete reinterpret_cast<int*>(stream);
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
    *device = 0;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : fail_with(cudaErrorInvalidValue); }
cudaError_t cudaGetDeviceCount(int* count) {
    *count = 0;
    if (std::getenv("EMU_NO_DEVICE")) return fail_with(cudaErrorNoDevice);
    *count = 1;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int) {
    if (attr != cudaDevAttrMaxSharedMemoryPerBlockOptin) return fail_with(cudaErrorInvalidValue);
    *value = kSmemOptinLimit;
    return cudaSuccess;
}
cudaError_t emu_func_set_attribute(const void* func, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > kSmemOptinLimit)
        return fail_with(cudaErrorInvalidValue);
    g_func_smem[func] = value;
    return cudaSuccess;
}

bool emu_check_launch(const void* func, dim3 grid, dim3 block, size_t smem) {
    if (g_block) emu_fail("kernel launched from inside a kernel");
    const size_t threads = static_cast<size_t>(block.x) * block.y * block.z;
    auto it = g_func_smem.find(func);
    const size_t smem_limit = it != g_func_smem.end() ? std::max<size_t>(kDefaultSmemLimit, it->second) : kDefaultSmemLimit;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535 || smem > smem_limit) {
        g_last_error = cudaErrorInvalidConfiguration;
        return false;
    }
    return true;
}

void emu_run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
    ++g_launches;
    gridDim = grid;
    blockDim = block;
    unsigned seed = 0;
    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                blockIdx = {x, y, z};
                run_block(block, smem, body, ++seed);
            }
}

void __syncthreads() { yield(State::block_wait); }

void __syncwarp(unsigned mask) {
    if (mask != 0xffffffffu) emu_fail("__syncwarp with a partial mask");
    yield(State::warp_wait);
}

float emu_shfl_xor(unsigned mask, float value, int lane_mask) {
    if (mask != 0xffffffffu) emu_fail("shuffle with a partial mask");
    if (!g_block) emu_fail("shuffle outside a kernel");
    const int t = g_block->current, base = t / 32 * 32, lane = t % 32;
    g_block->shuffle[static_cast<size_t>(t)] = value;
    yield(State::warp_wait);
    const int src = base + ((lane ^ lane_mask) & 31);
    if (src >= static_cast<int>(g_block->fibers.size())) emu_fail("shuffle from a lane that does not exist");
    const float r = g_block->shuffle[static_cast<size_t>(src)];
    yield(State::warp_wait);
    return r;
}

void* emu_shared_memory() {
    if (!g_block) emu_fail("shared memory outside a kernel");
    return g_block->shared;
}

extern "C" void emu_report() {
    std::fprintf(stderr, "cuda emulation: %lld kernel launches, %lld threads run\n", g_launches, g_fibers);
}

// ---- cuBLASLt ---------------------------------------------------------------------------------

struct EmuLtHandle {
    int unused;
};
struct EmuLtDesc {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    int32_t transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
    uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void* bias = nullptr;
};
struct EmuLtLayout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
struct EmuLtPref {
    uint64_t workspace = 0;
    uint32_t align[4] = {256, 256, 256, 256};
};

namespace {

size_t element_bytes(cudaDataType_t t) { return t == CUDA_R_16BF ? 2 : 4; }

float load(const void* base, cudaDataType_t t, size_t i, bool tf32) {
    if (t == CUDA_R_16BF) return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
    float v = static_cast<const float*>(base)[i];
    if (tf32) {  // keep 10 mantissa bits: round to nearest, or truncate with EMU_TF32=truncate
        static const bool truncate = std::getenv("EMU_TF32") && std::string(std::getenv("EMU_TF32")) == "truncate";
        uint32_t u;
        std::memcpy(&u, &v, 4);
        if ((u & 0x7f800000u) != 0x7f800000u) u = (truncate ? u : u + 0x1000u) & ~0x1fffu;
        std::memcpy(&v, &u, 4);
    }
    return v;
}

size_t extent_bytes(const EmuLtLayout* l) {
    return ((l->cols - 1) * static_cast<uint64_t>(l->ld) + l->rows) * element_bytes(l->type);
}

}  // namespace

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
    *handle = new EmuLtHandle{0};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
const char* cublasLtGetStatusString(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
        case CUBLAS_STATUS_INVALID_VALUE: return "an invalid value was used as an argument";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
        default: return "cuBLAS error";
    }
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute, cudaDataType_t scale) {
    *desc = new EmuLtDesc{compute, scale};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    delete desc;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr,
                                              const void* buf, size_t size) {
    switch (attr) {
        case CUBLASLT_MATMUL_DESC_TRANSA:
            if (size != 4) emu_fail("TRANSA is an int32");
            std::memcpy(&desc->transa, buf, 4);
            break;
        case CUBLASLT_MATMUL_DESC_TRANSB:
            if (size != 4) emu_fail("TRANSB is an int32");
            std::memcpy(&desc->transb, buf, 4);
            break;
        case CUBLASLT_MATMUL_DESC_EPILOGUE:
            if (size != 4) emu_fail("EPILOGUE is a uint32");
            std::memcpy(&desc->epilogue, buf, 4);
            break;
        case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
            if (size != sizeof(void*)) emu_fail("BIAS_POINTER is a pointer");
            std::memcpy(&desc->bias, buf, sizeof(void*));
            break;
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type, uint64_t rows,
                                          uint64_t cols, int64_t ld) {
    if (ld < static_cast<int64_t>(rows) || rows == 0 || cols == 0) return CUBLAS_STATUS_INVALID_VALUE;
    *layout = new EmuLtLayout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    delete layout;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* pref) {
    *pref = new EmuLtPref{};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    delete pref;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void* buf,
                                                    size_t size) {
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (size != 8) emu_fail("MAX_WORKSPACE_BYTES is a uint64");
        std::memcpy(&pref->workspace, buf, 8);
        return CUBLAS_STATUS_SUCCESS;
    }
    if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) {
        if (size != 4) emu_fail("MIN_ALIGNMENT_*_BYTES is a uint32");
        std::memcpy(&pref->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
        return CUBLAS_STATUS_SUCCESS;
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t d, cublasLtMatmulPreference_t pref, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* found) {
    *found = 0;
    if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    // EMU_CUBLASLT_NO_ALGO=status|zero: no algorithm, the way real cuBLASLt versions say it.
    if (const char* no_algo = std::getenv("EMU_CUBLASLT_NO_ALGO")) {
        if (std::strcmp(no_algo, "status") == 0) return CUBLAS_STATUS_NOT_SUPPORTED;
        if (std::strcmp(no_algo, "zero") == 0) return CUBLAS_STATUS_SUCCESS;
    }
    if (desc->scale != CUDA_R_32F || a->type != b->type || c->type != CUDA_R_32F || d->type != CUDA_R_32F)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (desc->compute == CUBLAS_COMPUTE_32F_FAST_TF32 && a->type != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    for (uint32_t al : pref->align)
        if (al == 0 || (al & (al - 1)) != 0) emu_fail("alignment preference is not a power of two");
    cublasLtMatmulHeuristicResult_t r{};
    std::memcpy(r.algo.data, pref->align, sizeof pref->align);  // the matmul checks the pointers against these
    r.algo.data[2] = pref->workspace;
    r.workspaceSize = 0;
    results[0] = r;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha_p, const void* A,
                              cublasLtMatrixLayout_t a, const void* B, cublasLtMatrixLayout_t b, const void* beta_p,
                              const void* C, cublasLtMatrixLayout_t c, void* D, cublasLtMatrixLayout_t d,
                              const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspace_bytes, cudaStream_t) {
    if (!handle || !desc || !a || !b || !c || !d || !algo) emu_fail("cublasLtMatmul: null handle, descriptor or algo");
    const float alpha = *static_cast<const float*>(alpha_p), beta = *static_cast<const float*>(beta_p);
    const bool ta = desc->transa == CUBLAS_OP_T, tb = desc->transb == CUBLAS_OP_T;
    const uint64_t m = ta ? a->cols : a->rows, k = ta ? a->rows : a->cols;
    const uint64_t kb = tb ? b->cols : b->rows, n = tb ? b->rows : b->cols;
    if (k != kb || c->rows != m || c->cols != n || d->rows != m || d->cols != n)
        emu_fail("cublasLtMatmul: operand shapes do not agree");
    if (C == D && (c->ld != d->ld || c->type != d->type)) emu_fail("cublasLtMatmul: in place with different C and D layouts");
    uint32_t align[4];
    std::memcpy(align, algo->data, sizeof align);
    const void* ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; ++i)
        if (reinterpret_cast<uintptr_t>(ptrs[i]) % align[i] != 0)
            emu_fail("cublasLtMatmul: operand less aligned than the heuristic was told");
    if (!emu_is_device_range(A, extent_bytes(a)) || !emu_is_device_range(B, extent_bytes(b)) ||
        !emu_is_device_range(D, extent_bytes(d)) || (beta != 0.0f && !emu_is_device_range(C, extent_bytes(c))))
        emu_fail("cublasLtMatmul: an operand runs outside device memory");
    if (workspace_bytes > algo->data[2]) emu_fail("cublasLtMatmul: more workspace than the preference allowed");
    if (workspace_bytes > 0 && !emu_is_device_range(workspace, workspace_bytes))
        emu_fail("cublasLtMatmul: workspace outside device memory");
    const bool bias = desc->epilogue == CUBLASLT_EPILOGUE_BIAS;
    if (!bias && desc->epilogue != CUBLASLT_EPILOGUE_DEFAULT) emu_fail("cublasLtMatmul: unexpected epilogue");
    if (bias && !emu_is_device_range(desc->bias, m * sizeof(float)))
        emu_fail("cublasLtMatmul: bias vector outside device memory");
    const bool tf32 = desc->compute == CUBLAS_COMPUTE_32F_FAST_TF32;

    // op(A) as m x k and op(B)^T as n x k, both row-major floats.
    std::vector<float> opa(m * k), opbt(n * k);
    for (uint64_t i = 0; i < m; ++i)
        for (uint64_t p = 0; p < k; ++p)
            opa[i * k + p] = load(A, a->type, ta ? p + i * a->ld : i + p * a->ld, tf32);
    for (uint64_t j = 0; j < n; ++j)
        for (uint64_t p = 0; p < k; ++p)
            opbt[j * k + p] = load(B, b->type, tb ? j + p * b->ld : p + j * b->ld, tf32);
    const float* cf = static_cast<const float*>(C);
    float* df = static_cast<float*>(D);
    const float* bf = static_cast<const float*>(desc->bias);
#pragma omp parallel for schedule(static)
    for (long long jj = 0; jj < static_cast<long long>(n); ++jj) {
        const uint64_t j = static_cast<uint64_t>(jj);
        for (uint64_t i = 0; i < m; ++i) {
            double acc = 0;
            const float* x = opa.data() + i * k;
            const float* y = opbt.data() + j * k;
            for (uint64_t p = 0; p < k; ++p) acc += static_cast<double>(x[p]) * y[p];
            double v = alpha * acc;
            if (beta != 0.0f) v += static_cast<double>(beta) * cf[i + j * c->ld];
            if (bias) v += bf[i];
            df[i + j * d->ld] = static_cast<float>(v);
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}
