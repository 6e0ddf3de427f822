# cmake -DBUILD=... -DSOURCE=... -DGENERATOR=... -P consumer_test.cmake: installs BUILD into a fresh
# prefix, builds test/consumer against it with find_package(eegpt), runs it.
set(prefix ${BUILD}/consumer-test/install)
set(consumer ${BUILD}/consumer-test/build)
file(REMOVE_RECURSE ${BUILD}/consumer-test)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "consumer test: '${cmd}' failed (${rc})")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE}/test/consumer -B ${consumer} -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${consumer})
run(${consumer}/eegpt_consumer)
