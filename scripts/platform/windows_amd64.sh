#!/usr/bin/env bash
# windows/amd64: the three plugins as static .exe files, cross-built with mingw-w64 (Debian's
# g++-mingw-w64-x86-64-posix):
#   scripts/platform/windows_amd64.sh --build DIR [--tests]
# DIR/kubectl-{apicheck,certs,netdebug}.exe (and DIR/kp_unit_tests.exe with --tests) import only
# Windows system DLLs: libstdc++, libgcc and winpthread are linked in. zlib, OpenSSL, nghttp2,
# libcurl and yaml-cpp are built from their Debian source packages (scripts/lib/debsrc.sh), only
# the libraries, and cached by version in $KP_CACHE_DIR/platform/windows_amd64/<dep>-<version>
# (built in a temporary dir and renamed into place: an interrupted build is no cache). The
# header-only libraries (nlohmann-json, cxxopts, Boost, Catch2) are the host's Debian packages,
# seen through a staging dir of links (DIR/staging), never the host's /usr/include wholesale.
# The tests run under wine: see /work/notes/platform-tests.md and tests/platform/.
# Output on stderr; exit non-zero on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
name=windows_amd64
# shellcheck source=../lib/platform.sh
. "$root/scripts/lib/platform.sh"
platform_args "$0" "$@"
host=x86_64-w64-mingw32
# shellcheck source=../lib/debsrc.sh
. "$root/scripts/lib/debsrc.sh"

for tool in $host-gcc-posix $host-g++-posix $host-objdump $host-ar $host-ranlib $host-strip \
  dpkg-source dpkg-parsechangelog apt-get cmake ninja make; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
cc="$host-gcc-posix"
cxx="$host-g++-posix"
if command -v ccache >/dev/null; then
  cc="ccache $cc"
  cxx="ccache $cxx"
fi

# dep NAME BUILD-FUNCTION: the prefix of NAME's cached build, made by BUILD-FUNCTION SRC PREFIX
# (in a temp dir) when absent. The key is the version built (the mirror's newest, or, when the
# mirror lists a version it does not serve (debsrc.sh then takes the next), the version fetched,
# read from the source's debian/changelog) and a hash of BUILD-FUNCTION's text: a changed
# recipe is a new build.
dep() {
  local name=$1 fn=$2 version prefix work recipe
  recipe=$(declare -f "$fn" | sha256sum | cut -c1-8)
  version=$(debian_source_version "$name") || die "no version of $name on the mirror"
  [ -n "$version" ] || die "no version of $name on the mirror"
  prefix=$cache/$name-${version#*:}-$recipe # no epoch: a ":" in a path confuses search paths
  # A version the mirror lists but does not serve: the one built instead, noted at the last build
  # (so a warm run does not fetch the source again to learn it).
  local newest=$prefix
  [ -e "$newest.served-as" ] && prefix=$cache/$name-$(cat "$newest.served-as")-$recipe
  if [ -e "$prefix/.done" ]; then
    echo "$prefix"
    return
  fi
  work=$(mktemp -d)
  debian_source "$name=$version" "$work/src" || { rm -rf "$work"; die "cannot fetch $name"; }
  version=$(dpkg-parsechangelog -l "$work/src/debian/changelog" -S Version)
  prefix=$cache/$name-${version#*:}-$recipe
  mkdir -p "$cache"
  [ "$prefix" = "$newest" ] || echo "${version#*:}" >"$newest.served-as"
  if [ -e "$prefix/.done" ]; then
    rm -rf "$work"
    echo "$prefix"
    return
  fi
  log "building $name $version for $host (once; cached in $prefix)"
  local start=$SECONDS
  if ! (cd "$work/src" && "$fn" "$work/src" "$work/prefix" >"$work/build.log" 2>&1); then
    tail -40 "$work/build.log" >&2
    rm -rf "$work"
    die "building $name failed"
  fi
  touch "$work/prefix/.done"
  mkdir -p "$cache"
  rm -rf "$prefix.tmp"
  mv "$work/prefix" "$prefix.tmp"
  mv "$prefix.tmp" "$prefix"
  rm -rf "$work"
  log "$name $version built in $((SECONDS - start)) s"
  echo "$prefix"
}

# Each build_<dep> SRC PREFIX runs in SRC; a failing step fails it (set -e does not apply in
# a function called from a condition, hence the && chains).
build_zlib() {
  # Debian's source has no win32/ makefiles: the library's own files, compiled directly.
  local f
  for f in adler32 crc32 deflate infback inffast inflate inftrees trees zutil compress uncompr \
    gzclose gzlib gzread gzwrite; do
    $cc -O2 -c "$f.c" -o "$f.o" || return 1
  done
  $host-ar rcs libz.a ./*.o && mkdir -p "$2/include" "$2/lib" &&
    cp zlib.h zconf.h "$2/include/" && cp libz.a "$2/lib/"
}

build_openssl() {
  # Only the libraries: no tests or docs; no engines or loadable modules (a static .exe loads
  # nothing). OPENSSLDIR is where OpenSSL reads openssl.cnf at start-up: the default of
  # OpenSSL's own Windows builds, which only administrators can write (left to --prefix, it
  # would be a drive-relative \tmp\... any local user could create: the class of
  # CVE-2019-1552). Configure, running on Linux, takes "C:/..." for a relative path and puts the
  # prefix before it, so the Makefile's variable is set instead.
  ./Configure mingw64 --cross-compile-prefix=$host- --prefix="$2" --libdir=lib no-shared \
    no-tests no-module no-engine no-dso -O2 &&
    make -j$jobs build_libs OPENSSLDIR="C:/Program Files/Common Files/SSL" &&
    make install_dev && [ -e "$2/lib/libssl.a" ] &&
    grep -aq 'OPENSSLDIR: "C:/Program Files/Common Files/SSL"' "$2/lib/libcrypto.a"
}

# cmake_lib SRC PREFIX [cmake args...]: a CMake project's static library for Windows.
cmake_lib() {
  local src=$1 prefix=$2
  shift 2
  cmake -S "$src" -B "$src/_build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/windows_amd64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" "$@" &&
    cmake --build "$src/_build" -j $jobs && cmake --install "$src/_build"
}

build_nghttp2() {
  # Debian's source has no generated configure (and this machine no autotools): its CMake build.
  # nghttp2 1.52's nghttp2_time.c calls its time() fallback, which it leaves out when
  # GetTickCount64 exists, from the clock_gettime() branch it prefers (mingw's winpthreads has
  # clock_gettime): GetTickCount64 alone (found with _WIN32_WINNT in the check's flags).
  cmake_lib "$1" "$2" -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF \
    -DENABLE_DOC=OFF -DWITH_LIBXML2=OFF -DWITH_JEMALLOC=OFF -DHAVE_CLOCK_GETTIME=OFF \
    -DCMAKE_C_FLAGS=-D_WIN32_WINNT=0x0A00 &&
    grep -q '^#define HAVE_GETTICKCOUNT64 1' "$1/_build/config.h" &&
    [ -e "$2/lib/libnghttp2.a" ]
}

build_curl() { # needs openssl, nghttp2 and zlib (their prefixes in the environment)
  # The features of release.sh's static libcurl: HTTP(S) only, OpenSSL, HTTP/2 by nghttp2,
  # zlib; no CA bundle file (the core hands libcurl the kubeconfig's CA, or asks for the
  # Windows ROOT store: CURLSSLOPT_NATIVE_CA).
  cmake_lib "$1" "$2" -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF \
    -DHTTP_ONLY=ON -DENABLE_MANUAL=OFF -DCURL_USE_OPENSSL=ON -DCURL_USE_SCHANNEL=OFF \
    -DOPENSSL_ROOT_DIR="$openssl" -DOPENSSL_USE_STATIC_LIBS=ON \
    -DUSE_NGHTTP2=ON -DNGHTTP2_INCLUDE_DIR="$nghttp2/include" \
    -DNGHTTP2_LIBRARY="$nghttp2/lib/libnghttp2.a" \
    -DCURL_ZLIB=ON -DZLIB_INCLUDE_DIR="$zlib/include" -DZLIB_LIBRARY="$zlib/lib/libz.a" \
    -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DUSE_LIBIDN2=OFF -DCURL_BROTLI=OFF \
    -DCURL_ZSTD=OFF -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON -DENABLE_UNIX_SOCKETS=OFF \
    -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none -DCURL_DISABLE_NTLM=ON \
    -DCMAKE_C_FLAGS="-DNGHTTP2_STATICLIB" -DKP_WINDOWS_PREFIXES="$openssl;$nghttp2;$zlib" &&
    grep -q '^#define USE_NGHTTP2 1' "$1/_build/lib/curl_config.h" &&
    [ -e "$2/lib/libcurl.a" ]
}

build_yaml_cpp() {
  cmake_lib "$1" "$2" -DYAML_BUILD_SHARED_LIBS=OFF -DYAML_CPP_BUILD_TESTS=OFF \
    -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF && [ -e "$2/lib/libyaml-cpp.a" ]
}

start=$SECONDS
_debsrc_init # once, not in each $(dep ...) subshell
zlib=$(dep zlib build_zlib) || exit 1
openssl=$(dep openssl build_openssl) || exit 1
nghttp2=$(dep nghttp2 build_nghttp2) || exit 1
export zlib openssl nghttp2
curl=$(dep curl build_curl) || exit 1
yaml=$(dep yaml-cpp build_yaml_cpp) || exit 1
log "dependencies ready in $((SECONDS - start)) s"

# The header-only libraries, each alone in a staging prefix (links into /usr/include), with the
# package files CMake and pkg-config need to find them there.
staging=$build/staging
rm -rf "$staging"
mkdir -p "$staging/include" "$staging/lib/pkgconfig" "$staging/lib/cmake/nlohmann_json" \
  "$staging/lib/cmake/Catch2"
for h in nlohmann boost cxxopts.hpp catch2; do
  [ -e "/usr/include/$h" ] || die "/usr/include/$h is missing: run scripts/setup.sh"
  ln -s "/usr/include/$h" "$staging/include/$h"
done
cxxopts_version=$(sed -n 's/^Version: //p' /usr/share/pkgconfig/cxxopts.pc)
printf 'includedir=%s\nName: cxxopts\nDescription: cxxopts\nVersion: %s\nCflags: -I${includedir}\n' \
  "$staging/include" "$cxxopts_version" >"$staging/lib/pkgconfig/cxxopts.pc"
# Version files from the packages; the targets point at the staging include dir.
cp /usr/share/cmake/nlohmann_json/nlohmann_jsonConfigVersion.cmake "$staging/lib/cmake/nlohmann_json/"
cat >"$staging/lib/cmake/nlohmann_json/nlohmann_jsonConfig.cmake" <<EOF
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "$staging/include")
endif()
EOF
cp /usr/lib/cmake/Catch2/Catch2ConfigVersion.cmake /usr/lib/cmake/Catch2/Catch.cmake \
  /usr/lib/cmake/Catch2/CatchAddTests.cmake "$staging/lib/cmake/Catch2/"
cat >"$staging/lib/cmake/Catch2/Catch2Config.cmake" <<EOF
if(NOT TARGET Catch2::Catch2)
  add_library(Catch2::Catch2 INTERFACE IMPORTED)
  set_target_properties(Catch2::Catch2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "$staging/include")
endif()
list(APPEND CMAKE_MODULE_PATH "\${CMAKE_CURRENT_LIST_DIR}")
EOF

targets=(kubectl-apicheck kubectl-certs kubectl-netdebug)
[ $tests = ON ] && targets+=(kp_unit_tests)
log "building ${targets[*]} in $build"
platform_deps "$build/cmake" "$zlib" "$openssl" "$nghttp2" "$curl" "$yaml"
cmake -S "$root" -B "$build/cmake" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/windows_amd64.cmake" \
  -DKP_WINDOWS_PREFIXES="$staging;$zlib;$openssl;$nghttp2;$curl;$yaml" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DKP_WERROR=ON \
  -DKP_TESTS=$tests -DKP_STATIC=ON -DKP_STATIC_CURL="$curl" -DOPENSSL_ROOT_DIR="$openssl" \
  >"$build/configure.log" 2>&1 || { tail -40 "$build/configure.log" >&2; die "cmake failed"; }
cmake --build "$build/cmake" -j $jobs --target "${targets[@]}" >&2

# Only Windows system DLLs may be imported: everything else is in the .exe.
for t in "${targets[@]}"; do
  exe=$build/cmake/$t.exe
  [ "$t" = kp_unit_tests ] && exe=$build/cmake/tests/unit/$t.exe # CMake builds it there
  dlls=$($host-objdump -p "$exe" | sed -n 's/^\s*DLL Name: //p' | sort -u | tr '\n' ' ')
  for dll in $dlls; do
    case ${dll,,} in
    kernel32.dll | ws2_32.dll | advapi32.dll | crypt32.dll | user32.dll | bcrypt.dll | \
      iphlpapi.dll | msvcrt.dll | api-ms-win-crt-*.dll | ucrtbase.dll | shell32.dll | ole32.dll) ;;
    *) die "$t.exe imports $dll (imports: $dlls): only Windows system DLLs may be" ;;
    esac
  done
  cp "$exe" "$build/$t.exe"
  log "$t.exe: $(stat -c %s "$exe") bytes, imports $dlls"
done
log "done in $((SECONDS - start)) s"
