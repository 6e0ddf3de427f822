# The CUDA backend's sources (kernels/*.cu, engine/encoder/cuda/*.cpp) and test/test_cuda.cpp built
# with g++ against the CPU stand-ins of the CUDA runtime and cuBLASLt in test/cuda_emulation
# (README there), so the kernels and the encoder's orchestration are tested where no GPU is, under
# AddressSanitizer and UBSan. -DEEGPT_CUDA_EMULATION=ON; CI runs the "cuda emulation: ..." tests.
set(emu_dir ${CMAKE_SOURCE_DIR}/test/cuda_emulation)
set(emu_kernels ${CMAKE_BINARY_DIR}/cuda_emulation/kernels)
file(MAKE_DIRECTORY ${emu_kernels})

# Kernel sources as C++: a launch kernel<<<grid, block, smem, stream>>>(args) becomes
# emu_launch(kernel, grid, block, smem, stream, args); the dynamic shared array a pointer.
set(emu_kernel_sources "")
file(GLOB kernel_cu CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/*.cu)
foreach(cu ${kernel_cu})
  get_filename_component(name ${cu} NAME_WE)
  set(out ${emu_kernels}/${name}.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND sed -E -e "s/([A-Za-z_][A-Za-z0-9_]*(<[A-Za-z0-9_]+>)?)<<<(.*)>>>\\(/emu_launch(\\1, \\3, /"
                   -e "s/extern __shared__ float ([A-Za-z_][A-Za-z0-9_]*)\\[\\];/float* \\1 = emu_shared<float>();/"
                   ${cu} > ${out}
    COMMAND sh -c "! grep -q '<<<\\|__shared__' ${out} || { echo 'cuda emulation: a launch or shared array of ${cu} was not rewritten' >&2; rm -f ${out}; exit 1; }"
    DEPENDS ${cu} VERBATIM)
  list(APPEND emu_kernel_sources ${out})
endforeach()

set(emu_sanitize -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
add_library(eegpt_cuda_emu STATIC ${emu_kernel_sources} ${emu_dir}/emu.cpp
            engine/encoder/cuda/encoder_cuda.cpp engine/encoder/cuda/cublaslt_linear.cpp)
# The stand-in headers come first; the rewritten kernels find common.cuh and kernels.h in kernels/.
target_include_directories(eegpt_cuda_emu BEFORE PUBLIC ${emu_dir}/include)
target_include_directories(eegpt_cuda_emu PUBLIC ${CMAKE_SOURCE_DIR} PRIVATE ${CMAKE_SOURCE_DIR}/kernels)
target_compile_definitions(eegpt_cuda_emu PUBLIC EEGPT_CUDA_EMULATION)
target_compile_options(eegpt_cuda_emu PUBLIC ${emu_sanitize} -O1 -g)
target_link_options(eegpt_cuda_emu PUBLIC ${emu_sanitize})
target_link_libraries(eegpt_cuda_emu PUBLIC eegpt_encoder)

add_executable(test_cuda_emu ${EEGPT_CATCH_MAIN_SRC} test/test_cuda.cpp)
target_link_libraries(test_cuda_emu PRIVATE eegpt_cuda_emu ${EEGPT_CATCH_MAIN})
if(EEGPT_BUILD_RECORDINGS)  # heads after the CUDA encoder
  target_link_libraries(test_cuda_emu PRIVATE eegpt_recordings)
  target_compile_definitions(test_cuda_emu PRIVATE EEGPT_TEST_HEADS)
endif()
target_compile_definitions(test_cuda_emu PRIVATE EEGPT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_executable(parity_emu ${emu_dir}/parity_main.cpp)
target_include_directories(parity_emu PRIVATE ${CMAKE_SOURCE_DIR}/test)
target_link_libraries(parity_emu PRIVATE eegpt_cuda_emu)
target_compile_definitions(parity_emu PRIVATE EEGPT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

add_test(NAME "cuda emulation: kernels and gemm" COMMAND test_cuda_emu "[cuda][kernels],[cuda][gemm]")
set_tests_properties("cuda emulation: kernels and gemm" PROPERTIES LABELS "unit;emulation" TIMEOUT 900)
# The encoder on small models (errors, out of memory and recovery, CPU parity); the large-model calls
# are parity_emu's, too slow for CI under the sanitizers.
add_test(NAME "cuda emulation: encoder" COMMAND test_cuda_emu "[cuda][encoder]~[one-call]")
set_tests_properties("cuda emulation: encoder" PROPERTIES LABELS "unit;emulation" TIMEOUT 900)
