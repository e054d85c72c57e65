# windows/amd64 with Debian's mingw-w64 (g++-mingw-w64-x86-64-posix: the posix thread model,
# so std::thread and std::mutex work). scripts/platform/windows_amd64.sh passes
# KP_WINDOWS_PREFIXES: the prefixes of the cross-built libraries and the staging dir of the
# header-only ones; nothing is searched in the host's /usr.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_AR x86_64-w64-mingw32-ar)
set(CMAKE_RANLIB x86_64-w64-mingw32-ranlib)

# Passed on to try_compile() projects, which read this file again.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KP_WINDOWS_PREFIXES)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 ${KP_WINDOWS_PREFIXES})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Boost: headers only, from the staging dir (not the host's BoostConfig, which names /usr/include).
set(Boost_NO_BOOST_CMAKE ON)
# The libraries' include dirs are this target's system include dirs, as /usr/include is on Linux
# (yaml-cpp's imported target, cmake/Packaging.cmake, names none).
set(kp_include_dirs "")
foreach(prefix IN LISTS KP_WINDOWS_PREFIXES)
  list(APPEND kp_include_dirs ${prefix}/include)
endforeach()
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${kp_include_dirs})
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${kp_include_dirs})
set(kp_pkgconfig_dirs "")
foreach(prefix IN LISTS KP_WINDOWS_PREFIXES)
  if(EXISTS ${prefix}/lib/pkgconfig)
    list(APPEND kp_pkgconfig_dirs ${prefix}/lib/pkgconfig)
  endif()
endforeach()
string(REPLACE ";" ":" kp_pkgconfig_dirs "${kp_pkgconfig_dirs}")
if(kp_pkgconfig_dirs)
  set(ENV{PKG_CONFIG_LIBDIR} "${kp_pkgconfig_dirs}")
endif()
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# One static .exe: libstdc++, libgcc and winpthread inside; Windows 10's APIs (GetTickCount64,
# inet_pton, WSAPoll, virtual terminal sequences) are available.
add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# What the static OpenSSL, libcurl and the core need from Windows, last on every link line.
set(CMAKE_CXX_STANDARD_LIBRARIES
    "-lws2_32 -liphlpapi -lcrypt32 -lbcrypt -ladvapi32 -luser32 -lkernel32" CACHE STRING "" FORCE)
set(CMAKE_C_STANDARD_LIBRARIES "-lws2_32 -lcrypt32 -lbcrypt -ladvapi32 -luser32 -lkernel32"
    CACHE STRING "" FORCE)
