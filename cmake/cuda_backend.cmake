# The CUDA backend: kernels/ (one .cu per operation) and the cuBLASLt-based encoder
# (engine/encoder/cuda) as a static library, wrapped into the module libeegpt_cuda.so that
# make_encoder opens at run time (engine/encoder/cuda/module.h). Nothing else links the CUDA
# runtime except the CUDA tests and the bench. Architectures come from CMAKE_CUDA_ARCHITECTURES.

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

# The backend itself; the CUDA tests link it directly (kernels and GEMMs called one by one).
add_library(eegpt_cuda_backend STATIC
  engine/encoder/cuda/encoder_cuda.cpp
  engine/encoder/cuda/cublaslt_linear.cpp)
target_link_libraries(eegpt_cuda_backend PUBLIC eegpt_encoder eegpt_kernels CUDA::cublasLt CUDA::cudart
                      PRIVATE eegpt_warnings)

add_library(eegpt_cuda MODULE engine/encoder/cuda/module.cpp)
target_link_libraries(eegpt_cuda PRIVATE eegpt_cuda_backend)
# Only the three entry points are exported; the copies of the encoder library inside stay private.
set_target_properties(eegpt_cuda PROPERTIES PREFIX "lib" OUTPUT_NAME eegpt_cuda CXX_VISIBILITY_PRESET hidden)
target_link_options(eegpt_cuda PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined)
message(STATUS "eegpt: CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
