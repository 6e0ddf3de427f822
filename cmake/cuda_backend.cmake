# The CUDA backend: kernels/ (one .cu per operation) as a static library, the cuBLASLt-based
# encoder in engine/cuda, both linked into eegpt_core. Included by CMakeLists.txt after
# enable_language(CUDA); architectures come from CMAKE_CUDA_ARCHITECTURES (default "80;90").
find_package(CUDAToolkit REQUIRED)

add_library(eegpt_kernels STATIC
  kernels/attention.cu
  kernels/gather.cu
  kernels/gelu.cu
  kernels/layernorm.cu
  kernels/patch_embed.cu)
# Consumers include "kernels/kernels.h"; it needs the CUDA runtime headers (cudart is public).
target_include_directories(eegpt_kernels PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(eegpt_kernels PUBLIC CUDA::cudart)
# -lineinfo: compute-sanitizer reports source lines. No fast math: erff, expf, sqrtf and the
# divisions must stay exact to keep the fp32 mode at parity with the CPU path.
target_compile_options(eegpt_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo -Xcompiler=-Wall>)
set_target_properties(eegpt_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)

target_sources(eegpt_core PRIVATE
  engine/cuda/encoder_cuda.cpp
  engine/cuda/gemm.cpp)
target_compile_definitions(eegpt_core PUBLIC EEGPT_WITH_CUDA)
target_link_libraries(eegpt_core PUBLIC eegpt_kernels CUDA::cublasLt CUDA::cudart)
message(STATUS "eegpt: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
