# Shell integration and release packaging (FEATURES S1-S5): the completion helpers beside the
# binaries (in the build tree as after an install), their install rules, the `release` target
# (scripts/release.sh), and KP_STATIC, the link of the release archives: everything but glibc
# statically, so the binaries run on a stock Debian or Ubuntu without any -dev package.
# Included before the find_package() calls, because KP_STATIC changes what they find.
option(KP_STATIC "Link everything but glibc statically (the release archives)" OFF)
set(KP_STATIC_CURL "" CACHE PATH "Prefix of a static libcurl (scripts/release.sh builds one)")

if(KP_STATIC)
  if(NOT EXISTS "${KP_STATIC_CURL}/lib/libcurl.a")
    message(FATAL_ERROR "KP_STATIC needs -DKP_STATIC_CURL=<prefix with lib/libcurl.a>: "
                        "scripts/release.sh builds one (Debian's libcurl.a needs libraries Debian "
                        "ships only as shared objects: gssapi, ldap, rtmp, ssh2, psl)")
  endif()
  set(OPENSSL_USE_STATIC_LIBS ON)
  set(Boost_USE_STATIC_LIBS ON)
  set(CURL_INCLUDE_DIR "${KP_STATIC_CURL}/include" CACHE PATH "libcurl headers" FORCE)
  set(CURL_LIBRARY "${KP_STATIC_CURL}/lib/libcurl.a" CACHE FILEPATH "libcurl" FORCE)
  find_library(KP_NGHTTP2_STATIC NAMES libnghttp2.a REQUIRED) # Debian: libnghttp2-dev
  find_library(KP_ZLIB_STATIC NAMES libz.a REQUIRED)
  find_library(KP_YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
  # Defined before find_package(): FindCURL and yaml-cpp's package then keep these targets
  # instead of creating their shared ones.
  add_library(CURL::libcurl STATIC IMPORTED)
  set_target_properties(CURL::libcurl PROPERTIES
    IMPORTED_LOCATION "${CURL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CURL_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS CURL_STATICLIB
    INTERFACE_LINK_LIBRARIES
      "${KP_NGHTTP2_STATIC};OpenSSL::SSL;OpenSSL::Crypto;${KP_ZLIB_STATIC};Threads::Threads")
  find_path(KP_YAML_CPP_INCLUDE yaml-cpp/yaml.h REQUIRED) # a cross build's own, not the host's
  add_library(yaml-cpp STATIC IMPORTED)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION "${KP_YAML_CPP_STATIC}"
    INTERFACE_INCLUDE_DIRECTORIES "${KP_YAML_CPP_INCLUDE}")
  # --as-needed drops libpthread/libdl, empty since glibc 2.34, from the NEEDED list.
  add_link_options(-static-libstdc++ -static-libgcc LINKER:--as-needed)
endif()

# The completion helpers, kubectl_complete-<tool>: the plugin binary itself under the helper's
# name (core::run_main answers `__complete` when called so), so they work on every platform,
# Windows included, where a shell script would not. Beside the binaries as a hard link made
# after each link (a build directory on PATH completes like an installation), installed as a
# copy. Deferred: the kubectl-<tool> targets are defined after this file is included.
function(kp_completion_helpers)
  foreach(tool apicheck certs netdebug)
    set(helper $<TARGET_FILE_DIR:kubectl-${tool}>/kubectl_complete-${tool}$<TARGET_FILE_SUFFIX:kubectl-${tool}>)
    add_custom_command(TARGET kubectl-${tool} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E rm -f ${helper}
      COMMAND ${CMAKE_COMMAND} -E create_hardlink $<TARGET_FILE:kubectl-${tool}> ${helper}
      VERBATIM)
    install(PROGRAMS $<TARGET_FILE:kubectl-${tool}> DESTINATION bin
            RENAME kubectl_complete-${tool}${CMAKE_EXECUTABLE_SUFFIX})
  endforeach()
endfunction()
cmake_language(DEFER CALL kp_completion_helpers)

# `cmake --build build --target release`: the archives, their sha256 and the filled krew
# manifests in build/dist (a static build of its own in build/release).
add_custom_target(release
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/release.sh --build ${PROJECT_BINARY_DIR}/release
          --out ${PROJECT_BINARY_DIR}/dist
  USES_TERMINAL VERBATIM)
