# Installation and packaging (included at the end of the top-level CMakeLists.txt,
# once every target exists).
#
# `cmake --install build --prefix P` puts in place:
#   P/include/ckpt/*.h                  the public C++ headers and the C API (c.h)
#   P/lib/libckpt.so.X.Y.Z (+ links)    shared library     -> ckpt::ckpt
#   P/lib/libckpt.a                     static library     -> ckpt::ckpt_static
#   P/bin/ckpt, ckptd, ckpt-bench       the tools this build has
#   P/lib/cmake/ckpt/                   find_package(ckpt CONFIG [COMPONENTS static])
#   P/lib/pkgconfig/ckpt.pc             pkg-config (Requires.private/Libs.private
#                                       for static linking)
#
# In the tree, `ckpt` stays the static library that tools, tests and examples
# link (one binary per tool, nothing to find at run time). `ckpt_shared` is
# libckpt.so, linked from the same object files (nothing is compiled twice).
# ckpt::ckpt and ckpt::ckpt_static are aliases carrying the installed names, for
# projects that add ckpt with add_subdirectory().
#
# Both installed libraries use the shared builds of their dependencies (the
# Debian -dev packages): libckpt.so records them as DT_NEEDED; libckpt.a asks
# the consumer to link them (ckptConfig.cmake finds them, ckpt.pc lists them).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CKPT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ckpt")

# Before 1.0 every minor release may change the ABI (soname libckpt.so.0.1,
# see cmake/ckptSharedLibrary.cmake): find_package(ckpt 0.1) accepts 0.1.x only.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(CKPT_VERSION_COMPATIBILITY SameMinorVersion)
else()
  set(CKPT_VERSION_COMPATIBILITY SameMajorVersion)
endif()

# ckpt_shared (libckpt.so) is defined by cmake/ckptSharedLibrary.cmake, at the
# end of lib/CMakeLists.txt.
get_target_property(CKPT_LINK_LIBRARIES ckpt LINK_LIBRARIES)

# ---- what a consumer of the static library must find ----
# Derived from ckpt's link libraries, so that a dependency added in
# lib/CMakeLists.txt reaches ckptConfig.cmake and ckpt.pc, or fails here.
set(CKPT_STATIC_FIND "")          # CMake code for ckptConfig.cmake
set(CKPT_PC_REQUIRES_PRIVATE "")  # pkg-config modules
set(CKPT_PC_LIBS_PRIVATE "")      # plain -l flags
foreach(lib IN LISTS CKPT_LINK_LIBRARIES)
  if(lib MATCHES "^\\$<BUILD_INTERFACE:")
    continue()  # in-tree only (warning flags)
  elseif(lib STREQUAL "Threads::Threads")
    string(APPEND CKPT_PC_LIBS_PRIVATE " -pthread")  # found by the config in any case
  elseif(lib MATCHES "^RocksDB::")
    string(APPEND CKPT_STATIC_FIND "_ckpt_find_config(RocksDB ${lib})\n")
    list(APPEND CKPT_PC_REQUIRES_PRIVATE rocksdb)
  elseif(lib MATCHES "^zstd::")
    string(APPEND CKPT_STATIC_FIND "_ckpt_find_config(zstd ${lib})\n")
    list(APPEND CKPT_PC_REQUIRES_PRIVATE libzstd)
  elseif(lib MATCHES "^PkgConfig::(.+)$")
    set(prefix "${CMAKE_MATCH_1}")
    if(NOT ${prefix}_MODULE_NAME)
      message(FATAL_ERROR "ckpt packaging: no pkg-config module name known for ${lib}")
    endif()
    string(APPEND CKPT_STATIC_FIND
           "_ckpt_find_pkg_config(${prefix} ${${prefix}_MODULE_NAME})\n")
    list(APPEND CKPT_PC_REQUIRES_PRIVATE ${${prefix}_MODULE_NAME})
  elseif(lib MATCHES "^CUDA::(.+)$")
    string(APPEND CKPT_STATIC_FIND "_ckpt_find_module(CUDAToolkit ${lib})\n")
    string(APPEND CKPT_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -l${CMAKE_MATCH_1}")
  elseif(lib MATCHES "::|^\\$<")
    message(FATAL_ERROR "ckpt packaging: cmake/ckptPackaging.cmake does not know how a "
                        "consumer of the static library finds '${lib}'; teach it.")
  else()
    string(APPEND CKPT_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
list(REMOVE_DUPLICATES CKPT_PC_REQUIRES_PRIVATE)
list(JOIN CKPT_PC_REQUIRES_PRIVATE " " CKPT_PC_REQUIRES_PRIVATE)
# A C program linking libckpt.a needs the C++ runtime too.
string(APPEND CKPT_PC_LIBS_PRIVATE " -lstdc++ -lm")
string(STRIP "${CKPT_PC_LIBS_PRIVATE}" CKPT_PC_LIBS_PRIVATE)

# ---- install ----
install(TARGETS ckpt_shared EXPORT ckptTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ckpt EXPORT ckptStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/ckpt
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(TARGETS ckpt_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(tool IN ITEMS ckptd ckpt-bench)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

install(EXPORT ckptTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
install(EXPORT ckptStaticTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ckptConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ckptConfig.cmake
  INSTALL_DESTINATION ${CKPT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY ${CKPT_VERSION_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/ckptConfig.cmake ${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  DESTINATION ${CKPT_INSTALL_CMAKEDIR})

# ckpt.pc finds its prefix relative to itself, so an install with
# `cmake --install --prefix P` (or a moved prefix) stays correct.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(FATAL_ERROR "ckpt packaging: CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_INCLUDEDIR "
                      "must be relative to the prefix")
endif()
file(RELATIVE_PATH CKPT_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" CKPT_PC_TO_PREFIX "${CKPT_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/ckpt.pc.in ${PROJECT_BINARY_DIR}/ckpt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ckpt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
