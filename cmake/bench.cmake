# The benchmark suite (bench/, docs/benchmarks.md): bench_eegpt has its own main, so it links
# Catch2::Catch2 (v3: the library without main; v2: the header). Its [recording] cases run the
# recording pipeline of eegpt_recordings on EDF files, the real ones from EEGPT_DATA_DIR.
if(NOT EEGPT_BUILD_RECORDINGS)
  message(STATUS "eegpt: bench off (it needs EEGPT_BUILD_RECORDINGS)")
  return()
endif()
enable_testing()
# The commit the results name is taken at every build, not at configure time (cmake/commit_stamp.cmake).
set(EEGPT_COMMIT_STAMP_DIR ${CMAKE_BINARY_DIR}/generated)
add_custom_target(eegpt_commit_stamp
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUT=${EEGPT_COMMIT_STAMP_DIR}/bench_commit.h
          -P ${CMAKE_SOURCE_DIR}/cmake/commit_stamp.cmake
  BYPRODUCTS ${EEGPT_COMMIT_STAMP_DIR}/bench_commit.h
  COMMENT "" VERBATIM)
add_executable(bench_eegpt bench/bench_main.cpp bench/bench_cases.cpp bench/bench_util.cpp bench/workloads.cpp
               bench/synthetic.cpp bench/gpu.cpp bench/isa.cpp bench/peak.cpp)
target_link_libraries(bench_eegpt PRIVATE eegpt_encoder eegpt_recordings Catch2::Catch2 eegpt_warnings)
set(EEGPT_BENCH_DEFINITIONS EEGPT_BENCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}" EEGPT_BENCH_PYTHON="${EEGPT_PYTHON}"
  EEGPT_BENCH_SOURCE_DIR="${CMAKE_SOURCE_DIR}" EEGPT_BENCH_CATCH_VERSION="Catch2 ${Catch2_VERSION}"
  EEGPT_BENCH_DATA_DIR="${EEGPT_DATA_DIR}")
target_compile_definitions(bench_eegpt PRIVATE ${EEGPT_BENCH_DEFINITIONS})
target_include_directories(bench_eegpt PRIVATE ${EEGPT_COMMIT_STAMP_DIR})
add_dependencies(bench_eegpt eegpt_commit_stamp)
if(EEGPT_CUDA)
  # Device name, memory and copy timings; encoding on the GPU goes through make_encoder (the module).
  add_dependencies(bench_eegpt eegpt_cuda)
  target_compile_definitions(bench_eegpt PRIVATE EEGPT_BENCH_CUDA)
  target_link_libraries(bench_eegpt PRIVATE CUDA::cudart CUDA::cublasLt)
endif()

# The statuses of the suite's results (targets judged for the large model only, NOT MEASURED never
# PASS), on made-up statistics: the suite's plumbing without its cases, main or CUDA (gpu.cpp's stubs).
add_executable(test_bench_report ${EEGPT_CATCH_MAIN_SRC} test/test_bench_report.cpp bench/bench_util.cpp
               bench/workloads.cpp bench/synthetic.cpp bench/gpu.cpp bench/isa.cpp bench/peak.cpp)
target_link_libraries(test_bench_report PRIVATE eegpt_encoder eegpt_recordings ${EEGPT_CATCH_MAIN})
target_compile_definitions(test_bench_report PRIVATE ${EEGPT_BENCH_DEFINITIONS})
target_include_directories(test_bench_report PRIVATE ${EEGPT_COMMIT_STAMP_DIR})
add_dependencies(test_bench_report eegpt_commit_stamp)
add_test(NAME "unit: bench report statuses" COMMAND test_bench_report)
set_tests_properties("unit: bench report statuses" PROPERTIES LABELS "unit")

# `ctest -L benchmark` runs the whole suite, `ctest -L quick` its fast subset: one test per category
# and speed, so no case runs twice. Targets are not enforced here (no --strict).
set(EEGPT_BENCH_OUT ${CMAKE_BINARY_DIR}/benchmark_results)
foreach(category single-window batch recording memory comparison)
  add_test(NAME "benchmark: ${category} quick"
           COMMAND bench_eegpt "[${category}][quick]~[gpu]" --json ${EEGPT_BENCH_OUT}/ctest_${category}_quick.json)
  add_test(NAME "benchmark: ${category}"
           COMMAND bench_eegpt "[${category}]~[quick]~[gpu]" --json ${EEGPT_BENCH_OUT}/ctest_${category}.json)
  set_tests_properties("benchmark: ${category} quick" PROPERTIES LABELS "benchmark;quick" RUN_SERIAL TRUE TIMEOUT 600)
  set_tests_properties("benchmark: ${category}" PROPERTIES LABELS "benchmark" RUN_SERIAL TRUE TIMEOUT 7200)
endforeach()
add_test(NAME "benchmark: gpu" COMMAND bench_eegpt "[gpu]" --json ${EEGPT_BENCH_OUT}/ctest_gpu.json)
# Exit 4 when every case was skipped (no CUDA module or no device; both Catch2 versions): CTest shows "skipped".
set_tests_properties("benchmark: gpu" PROPERTIES LABELS "benchmark;gpu" RUN_SERIAL TRUE TIMEOUT 1800 SKIP_RETURN_CODE 4)
# CI (`ctest -LE benchmark`) runs the quick subset once on a small model, 1 sample per BENCHMARK, no
# targets enforced, so the suite keeps building and running; it must exit 0 and write a results file
# with a list of benchmarks.
add_test(NAME "bench-smoke"
         COMMAND sh -c "rm -f \"$1\" && \"$2\" '[quick]' --benchmark-samples 1 --model little --no-peers --json \"$1\" && \"$3\" -c 'import json, sys; b = json.load(open(sys.argv[1]))[\"benchmarks\"]; assert isinstance(b, list) and b' \"$1\""
                 bench-smoke ${EEGPT_BENCH_OUT}/bench_smoke.json $<TARGET_FILE:bench_eegpt> ${EEGPT_PYTHON})
set_tests_properties("bench-smoke" PROPERTIES LABELS "bench-smoke" TIMEOUT 300)
# The same with --precision int8: the int8 cases, their GOPS against the int8 peak, on any CPU.
add_test(NAME "bench-smoke int8"
         COMMAND sh -c "rm -f \"$1\" && \"$2\" '[quick]' --benchmark-samples 1 --model little --no-peers --precision int8 --json \"$1\" && \"$3\" -c 'import json, sys; r = json.load(open(sys.argv[1])); b = r[\"benchmarks\"]; assert isinstance(b, list) and b; assert r[\"machine_info\"][\"cpu_int8_peak_gops\"] > 0; i8 = [x for x in b if x[\"extra_info\"].get(\"precision\") == \"int8\"]; assert i8 and all(\"GOPS\" in x[\"extra_info\"][\"line\"] for x in i8), b' \"$1\""
                 bench-smoke-int8 ${EEGPT_BENCH_OUT}/bench_smoke_int8.json $<TARGET_FILE:bench_eegpt> ${EEGPT_PYTHON})
set_tests_properties("bench-smoke int8" PROPERTIES LABELS "bench-smoke" TIMEOUT 300)
# The suite as documented (docs/benchmarks.md), on the small tiny1 model: Catch2 BENCHMARKs for every timed case,
# --benchmark-samples, Catch2's reporters, the results file against the spec's fields and read by
# pytest-benchmark (from PyPI, into a venv of the build directory), targets, the runner, baselines and
# `make benchmark`. Not labelled benchmark: CI runs it.
add_test(NAME "bench: pytest-benchmark venv"
         COMMAND bash ${CMAKE_SOURCE_DIR}/tools/setup/make_venv.sh ${CMAKE_BINARY_DIR}/bench_venv bench)
set_tests_properties("bench: pytest-benchmark venv" PROPERTIES LABELS "bench-smoke" TIMEOUT 600
                     FIXTURES_SETUP bench_venv)
add_test(NAME "bench: catch2 benchmarks and results file"
         COMMAND ${EEGPT_PYTHON} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/test/python/test_bench_json.py
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties("bench: catch2 benchmarks and results file" PROPERTIES LABELS "bench-smoke" TIMEOUT 1200
  RUN_SERIAL TRUE FIXTURES_REQUIRED bench_venv
  ENVIRONMENT "EEGPT_BENCH_BIN=$<TARGET_FILE:bench_eegpt>;EEGPT_BENCH_VENV=${CMAKE_BINARY_DIR}/bench_venv;EEGPT_BENCH_BUILD_DIR=${CMAKE_BINARY_DIR};OMP_NUM_THREADS=2")

# bench_gemm: our CPU GEMMs against oneDNN's matmul on the encoder's shapes, a measurement tool
# beside the suite (it times itself, as the peer scripts do), built where oneDNN is installed
# (Debian's libdnnl-dev; cmake/optional_deps.cmake finds it).
if(EEGPT_ONEDNN)
  add_executable(bench_gemm tools/bench/gemm_vs_onednn.cpp bench/peak.cpp)
  target_include_directories(bench_gemm PRIVATE ${EEGPT_DNNL_INCLUDE_DIR} ${CMAKE_SOURCE_DIR}/bench)
  target_link_libraries(bench_gemm PRIVATE eegpt_encoder ${EEGPT_DNNL_LIBRARY} OpenMP::OpenMP_CXX eegpt_warnings)
  add_test(NAME "bench-gemm-smoke" COMMAND bench_gemm --rounds 1)
  set_tests_properties("bench-gemm-smoke" PROPERTIES LABELS "bench-smoke" TIMEOUT 300)
endif()
