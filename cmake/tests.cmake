# Tests (README "Tests"): Catch2 v2.13 on Debian 12, v3 on the GPU machine and in the dry run. A test
# that skips (no GPU, no CUDA module) exits with 4 under both versions (test/catch_main_v2.cpp
# makes v2 do what v3 does), which CTest reports as skipped, not passed.
enable_testing()
include(Catch)

add_executable(test_eegpt
  ${EEGPT_CATCH_MAIN_SRC}
  test/test_channels.cpp
  test/test_model.cpp
  test/test_encoder.cpp
  test/test_bf16.cpp
  test/test_int8.cpp
  test/test_gemm.cpp
  test/test_io.cpp)
target_link_libraries(test_eegpt PRIVATE eegpt_encoder ${EEGPT_CATCH_MAIN})
target_compile_definitions(test_eegpt PRIVATE EEGPT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
if(EEGPT_BUILD_RECORDINGS)
  target_sources(test_eegpt PRIVATE test/test_edf.cpp test/test_preprocess.cpp test/test_pipeline.cpp
                 test/test_preparation.cpp)
  target_link_libraries(test_eegpt PRIVATE eegpt_recordings)
  # The recording tests also run the CLI (peak memory is measured on a child process).
  target_include_directories(test_eegpt PRIVATE ${EDFLIB_INCLUDE_DIR})
  target_compile_definitions(test_eegpt PRIVATE EEGPT_BIN="$<TARGET_FILE:eegpt>")
  add_dependencies(test_eegpt eegpt)
endif()
if(EEGPT_CUDA)
  add_dependencies(test_eegpt eegpt_cuda)  # the parity table's CUDA rows open it
endif()
catch_discover_tests(test_eegpt TEST_PREFIX "unit: " PROPERTIES LABELS "unit" SKIP_RETURN_CODE 4)
if(EEGPT_BUILD_RECORDINGS)
  target_sources(test_eegpt PRIVATE test/test_mne_filter.cpp)
  # dsp_probe: MNE's filters and resampling on the command line for test/python/test_mne_dsp.py.
  add_executable(dsp_probe test/dsp_probe.cpp)
  target_link_libraries(dsp_probe PRIVATE eegpt_recordings eegpt_warnings)
  add_dependencies(test_eegpt dsp_probe)
endif()

# The CUDA kernels, GEMMs and encoder called directly (also built against the CPU emulation of the
# CUDA runtime by test/cuda_emulation).
if(EEGPT_CUDA)
  add_executable(test_cuda ${EEGPT_CATCH_MAIN_SRC} test/test_cuda.cpp)
  target_link_libraries(test_cuda PRIVATE eegpt_cuda_backend ${EEGPT_CATCH_MAIN})
  target_compile_definitions(test_cuda PRIVATE EEGPT_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  if(EEGPT_BUILD_RECORDINGS)
    target_link_libraries(test_cuda PRIVATE eegpt_recordings)
    target_compile_definitions(test_cuda PRIVATE EEGPT_TEST_HEADS)
    target_compile_definitions(test_cuda PRIVATE EEGPT_BIN="$<TARGET_FILE:eegpt>")
    add_dependencies(test_cuda eegpt)
  endif()
  catch_discover_tests(test_cuda TEST_PREFIX "unit: " PROPERTIES LABELS "unit" SKIP_RETURN_CODE 4)
endif()

# The install tree works for another CMake project: install, configure a consumer against it,
# build and run it (test/consumer).
add_test(NAME "install: find_package(eegpt) consumer"
         COMMAND ${CMAKE_COMMAND} -DBUILD=${CMAKE_BINARY_DIR} -DSOURCE=${CMAKE_SOURCE_DIR}
                 -DGENERATOR=${CMAKE_GENERATOR} -P ${CMAKE_SOURCE_DIR}/cmake/consumer_test.cmake)
set_tests_properties("install: find_package(eegpt) consumer" PROPERTIES LABELS "install" TIMEOUT 600)

# Python tests: the reference model, the converter, the CLI end to end, the recording pipeline against
# MNE-Python and scipy, heads, and the benchmark regression rule on recorded results (no timing).
if(EEGPT_BUILD_RECORDINGS)
  foreach(py_test parity converter random_init cli_errors edf_vs_mne embed_parity heads downstream recordings_cli reliability reliability_inputs reliability_outputs
                  reliability_recordings reliability_heads bench_compare isa int8 peer_bench)
    add_test(NAME "python: ${py_test}"
             COMMAND ${EEGPT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/test/python/test_${py_test}.py
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties("python: ${py_test}" PROPERTIES LABELS "python"
      ENVIRONMENT "EEGPT_BIN=$<TARGET_FILE:eegpt>;EEGPT_DATA_DIR=${EEGPT_DATA_DIR};OMP_NUM_THREADS=2")
  endforeach()
endif()

# MNE's filters and resampling (dsp_probe) against MNE-Python 1.4.2 itself, from PyPI into a venv of the
# build directory (tools/setup/make_venv.sh mne): taps, the real recordings filtered and resampled,
# the mutation checks and the resampling's memory.
if(EEGPT_BUILD_RECORDINGS)
  add_test(NAME "mne: MNE 1.4.2 venv"
           COMMAND bash ${CMAKE_SOURCE_DIR}/tools/setup/make_venv.sh ${CMAKE_BINARY_DIR}/mne_venv mne)
  set_tests_properties("mne: MNE 1.4.2 venv" PROPERTIES LABELS "python" TIMEOUT 600 FIXTURES_SETUP mne_venv)
  add_test(NAME "python: mne_dsp"
           COMMAND ${CMAKE_BINARY_DIR}/mne_venv/bin/python -m pytest -q -p no:cacheprovider
                   ${CMAKE_SOURCE_DIR}/test/python/test_mne_dsp.py
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties("python: mne_dsp" PROPERTIES LABELS "python" TIMEOUT 900 FIXTURES_REQUIRED mne_venv
    ENVIRONMENT "EEGPT_DSP_PROBE=$<TARGET_FILE:dsp_probe>;EEGPT_DATA_DIR=${EEGPT_DATA_DIR};OMP_NUM_THREADS=2")
endif()

# Every relative link of the README and docs/ resolves (no engine needed).
add_test(NAME "python: docs_links"
         COMMAND ${EEGPT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/test/python/test_docs_links.py
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties("python: docs_links" PROPERTIES LABELS "python")

# The MNE preprocessing end to end against MNE 1.4.2 (the official makers' version), with the Python
# of the MNE venv of the build directory (the fixture above; Debian's MNE is 1.3): test/python/test_mne_pipeline.py.
if(EEGPT_BUILD_RECORDINGS)
  add_test(NAME "python: mne_pipeline"
           COMMAND ${CMAKE_BINARY_DIR}/mne_venv/bin/python -m pytest -q -p no:cacheprovider
                   ${CMAKE_SOURCE_DIR}/test/python/test_mne_pipeline.py
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties("python: mne_pipeline" PROPERTIES LABELS "python" TIMEOUT 1200 FIXTURES_REQUIRED mne_venv
    ENVIRONMENT "EEGPT_BIN=$<TARGET_FILE:eegpt>;EEGPT_DATA_DIR=${EEGPT_DATA_DIR};OMP_NUM_THREADS=2")
endif()
