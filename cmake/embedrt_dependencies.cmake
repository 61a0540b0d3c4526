# Finds embedrt's dependencies and wraps the ones without a CMake package in imported
# targets. Shared by the build tree and by the installed embedrtConfig.cmake, so a host
# that does find_package(embedrt) gets the same targets.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(CURL)
find_dependency(nlohmann_json 3)
find_dependency(simdjson)
find_dependency(prometheus-cpp)
# civetweb (Debian libcivetweb-dev): the CLI's /metrics and /healthz server.
find_dependency(civetweb)

# Debian's libcaf-dev 0.17.6 ships no CAFConfig.cmake, FindCAF.cmake or .pc file.
if(NOT TARGET embedrt_caf::core)
  find_path(EMBEDRT_CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(EMBEDRT_CAF_CORE_LIBRARY caf_core REQUIRED)
  find_library(EMBEDRT_CAF_IO_LIBRARY caf_io REQUIRED)
  add_library(embedrt_caf::core UNKNOWN IMPORTED)
  # SYSTEM-style include (imported targets' includes are -isystem): CAF's own warnings
  # must not break -Werror on our code.
  set_target_properties(embedrt_caf::core PROPERTIES
    IMPORTED_LOCATION "${EMBEDRT_CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${EMBEDRT_CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(embedrt_caf::io UNKNOWN IMPORTED)
  set_target_properties(embedrt_caf::io PROPERTIES
    IMPORTED_LOCATION "${EMBEDRT_CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES embedrt_caf::core)
endif()

# hiredis (Debian libhiredis-dev, 0.14): the shared rate-limit budget's Redis client.
if(NOT TARGET embedrt_hiredis::hiredis)
  find_path(EMBEDRT_HIREDIS_INCLUDE_DIR hiredis/hiredis.h REQUIRED)
  find_library(EMBEDRT_HIREDIS_LIBRARY hiredis REQUIRED)
  add_library(embedrt_hiredis::hiredis UNKNOWN IMPORTED)
  set_target_properties(embedrt_hiredis::hiredis PROPERTIES
    IMPORTED_LOCATION "${EMBEDRT_HIREDIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${EMBEDRT_HIREDIS_INCLUDE_DIR}")
endif()
