# libckpt.so from the objects of the static library `ckpt` (nothing is compiled
# twice). Run at the end of lib/CMakeLists.txt (cmake_language(DEFER)), in that
# directory's scope: ckpt's link libraries are all known there, and imported
# targets made in lib/ (pkg_check_modules) are visible.

# Before 1.0 every minor release may change the ABI: soname libckpt.so.0.1.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(CKPT_SOVERSION "0.${PROJECT_VERSION_MINOR}")
else()
  set(CKPT_SOVERSION "${PROJECT_VERSION_MAJOR}")
endif()

get_target_property(CKPT_LINK_LIBRARIES ckpt LINK_LIBRARIES)
add_library(ckpt_shared SHARED $<TARGET_OBJECTS:ckpt>)
target_include_directories(ckpt_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/lib/include>)
target_link_libraries(ckpt_shared PUBLIC Threads::Threads PRIVATE ${CKPT_LINK_LIBRARIES})
# The public headers need C++17 (std::optional, [[nodiscard]] classes).
target_compile_features(ckpt PUBLIC cxx_std_17)
target_compile_features(ckpt_shared PUBLIC cxx_std_17)
if(NOT CKPT_SANITIZE)
  # Every symbol resolved at link time: a dependency missing from the list
  # above fails here, not in a consumer.
  target_link_options(ckpt_shared PRIVATE LINKER:--no-undefined)
endif()
set_target_properties(ckpt_shared PROPERTIES
  OUTPUT_NAME ckpt
  VERSION ${PROJECT_VERSION}
  SOVERSION ${CKPT_SOVERSION}
  EXPORT_NAME ckpt)
set_target_properties(ckpt PROPERTIES OUTPUT_NAME ckpt EXPORT_NAME ckpt_static)
add_library(ckpt::ckpt ALIAS ckpt_shared)
add_library(ckpt::ckpt_static ALIAS ckpt)

