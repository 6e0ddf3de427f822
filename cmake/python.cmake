# The Python extension eegpt._core (engine/python, nanobind), built when EEGPT_BUILD_PYTHON=ON:
# `pip install .` (pyproject.toml, scikit-build-core) turns it on and installs only the component
# "python": the extension into the package directory beside python/eegpt/*.py.
find_package(Python 3.8 REQUIRED COMPONENTS Interpreter Development.Module)
execute_process(COMMAND "${Python_EXECUTABLE}" -m nanobind --cmake_dir
                OUTPUT_STRIP_TRAILING_WHITESPACE OUTPUT_VARIABLE nanobind_ROOT RESULT_VARIABLE nanobind_missing)
if(nanobind_missing)
  message(FATAL_ERROR "eegpt: EEGPT_BUILD_PYTHON needs nanobind for ${Python_EXECUTABLE} (pip install nanobind)")
endif()
find_package(nanobind CONFIG REQUIRED)
nanobind_add_module(eegpt_python NB_STATIC engine/python/module.cpp)
set_target_properties(eegpt_python PROPERTIES OUTPUT_NAME _core)
target_link_libraries(eegpt_python PRIVATE eegpt_encoder eegpt_recordings)
install(TARGETS eegpt_python LIBRARY DESTINATION eegpt COMPONENT python)
# The AVX-512 operations are a module opened at run time: beside the extension, where the loader
# of a Python process looks (module_loader.cpp: beside the loaded library).
install(TARGETS eegpt_cpu_avx512 LIBRARY DESTINATION eegpt COMPONENT python)
if(TARGET eegpt_cuda)
  add_dependencies(eegpt_python eegpt_cuda)  # pip builds only eegpt_python (pyproject build.targets)
  install(TARGETS eegpt_cuda LIBRARY DESTINATION eegpt COMPONENT python)
endif()
