# `cmake --install BUILD --prefix PREFIX`: the encoder library with its public headers and a CMake
# package (find_package(eegpt) -> eegpt::encoder), the AVX-512 and CUDA modules beside it, the eegpt command
# line. Checked by the "install: find_package(eegpt) consumer" test (cmake/tests.cmake).
include(CMakePackageConfigHelpers)
set(EEGPT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/eegpt)

set_target_properties(eegpt_encoder PROPERTIES EXPORT_NAME encoder)
install(TARGETS eegpt_encoder EXPORT eegptTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# Public headers: the interface, the model, HDF5 I/O and the CPU operations. The CPU and CUDA
# encoder classes stay private (they include Eigen and CUDA headers).
install(DIRECTORY engine/encoder/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/eegpt/encoder
        FILES_MATCHING PATTERN "*.h" PATTERN "cuda" EXCLUDE PATTERN "encoder_cpu.h" EXCLUDE PATTERN "gemm_kernel.h" EXCLUDE)
install(EXPORT eegptTargets NAMESPACE eegpt:: DESTINATION ${EEGPT_CMAKE_DIR})
configure_package_config_file(cmake/eegptConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/eegptConfig.cmake
                              INSTALL_DESTINATION ${EEGPT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/eegptConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/eegptConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/eegptConfigVersion.cmake
        DESTINATION ${EEGPT_CMAKE_DIR})
install(TARGETS eegpt_cpu_avx512 LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET eegpt_cuda)
  install(TARGETS eegpt_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
if(TARGET eegpt)
  install(TARGETS eegpt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
