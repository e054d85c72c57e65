# The part of darwin_{amd64,arm64}.cmake both share (they set KP_DARWIN_ARCH and KP_DARWIN_TRIPLE
# and include this). The compiler is zig's clang (PyPI `ziglang`, pinned and installed by
# scripts/platform/darwin.sh), through the wrappers that script writes in KP_ZIG_BIN:
# <triple>-clang, <triple>-clang++ (zig cc/c++ -target <triple>.<min macOS>), zig-ar, zig-ranlib.
# zig ships the macOS libc and libc++ headers and libSystem's stubs (no SDK, no frameworks), links
# libc++ statically and signs arm64 output ad hoc.
#
# Libraries: KP_TARGET_ROOTS, the prefixes darwin.sh built from Debian's source packages
# (OpenSSL, nghttp2, zlib, curl, yaml-cpp; static only), and KP_STAGE, the header-only libraries
# (nlohmann-json, cxxopts, Boost, Catch2) as links to the host's /usr/include plus copies of their
# CMake/pkg-config files, so the host's /usr/include is never searched wholesale. Every header of
# the target is in KP_STAGE/include (darwin.sh links the built libraries' headers there too): the
# one include directory of the target, as a sysroot's /usr/include.
set(CMAKE_SYSTEM_NAME Darwin)
if(KP_DARWIN_ARCH STREQUAL "arm64")
  set(CMAKE_SYSTEM_PROCESSOR arm64)
else()
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
endif()

set(KP_ZIG_BIN "" CACHE PATH "zig compiler wrappers (scripts/platform/darwin.sh)")
set(KP_TARGET_ROOTS "" CACHE STRING "built target library prefixes (scripts/platform/darwin.sh)")
set(KP_STAGE "" CACHE PATH "header staging prefix (scripts/platform/darwin.sh)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KP_ZIG_BIN KP_TARGET_ROOTS KP_STAGE)
if(NOT KP_ZIG_BIN OR NOT KP_STAGE)
  message(FATAL_ERROR "the darwin toolchains need -DKP_ZIG_BIN, -DKP_TARGET_ROOTS and -DKP_STAGE: "
                      "build with scripts/platform/darwin.sh")
endif()

set(CMAKE_C_COMPILER ${KP_ZIG_BIN}/${KP_DARWIN_TRIPLE}-clang)
set(CMAKE_CXX_COMPILER ${KP_ZIG_BIN}/${KP_DARWIN_TRIPLE}-clang++)
# Executables are linked by <triple>-link: zig c++ less KP_STATIC's GNU-ld-only flags.
set(CMAKE_CXX_LINK_EXECUTABLE
    "${KP_ZIG_BIN}/${KP_DARWIN_TRIPLE}-link <FLAGS> <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")
set(CMAKE_AR ${KP_ZIG_BIN}/zig-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${KP_ZIG_BIN}/zig-ranlib CACHE FILEPATH "")
# No SDK and no -arch/-isysroot from CMake's Darwin platform files: the wrapper's -target says
# both the architecture and the minimum macOS.
set(CMAKE_OSX_SYSROOT "" CACHE PATH "" FORCE)
set(CMAKE_OSX_ARCHITECTURES "" CACHE STRING "" FORCE)
set(CMAKE_OSX_DEPLOYMENT_TARGET "" CACHE STRING "" FORCE)
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${KP_STAGE}/include)
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${KP_STAGE}/include)

set(CMAKE_FIND_ROOT_PATH ${KP_TARGET_ROOTS} ${KP_STAGE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
# Boost: the header-only part through CMake's FindBoost (Debian's BoostConfig.cmake lives in the
# host's multiarch library directory).
set(Boost_NO_BOOST_CMAKE ON)
