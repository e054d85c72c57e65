# linux/arm64 cross build on Debian: Debian's cross compiler (crossbuild-essential-arm64, whose
# glibc is in /usr/aarch64-linux-gnu) and the target's libraries staged by
# scripts/platform/linux_arm64.sh in KP_TARGET_ROOT (Debian's arm64 -dev packages unpacked, a
# static libcurl built from Debian's source). Header-only libraries (nlohmann-json, cxxopts,
# Boost, Catch2) are the host's: the cross compiler searches /usr/include, Debian's
# architecture-independent header tree, after the target's own.
# Binaries built here run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR: Catch2's test
# discovery and the platform tests use it).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(KP_TARGET_ROOT "" CACHE PATH "The staged arm64 libraries (scripts/platform/linux_arm64.sh)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KP_TARGET_ROOT)
# Libraries only from the staged root and the cross glibc; headers and packages from the root
# first, then the host (the header-only libraries and their CMake configs in /usr/share/cmake,
# /usr/lib/cmake).
set(CMAKE_FIND_ROOT_PATH ${KP_TARGET_ROOT} /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

find_program(KP_QEMU_AARCH64 qemu-aarch64-static)
if(KP_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${KP_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()

# Debian's multiarch headers (openssl/opensslconf.h, configuration.h) of the staged packages.
if(KP_TARGET_ROOT)
  set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${KP_TARGET_ROOT}/usr/include/aarch64-linux-gnu)
  set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${KP_TARGET_ROOT}/usr/include/aarch64-linux-gnu)
endif()
