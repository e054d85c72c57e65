#!/usr/bin/env bash
# darwin/amd64 and darwin/arm64: the three plugins cross-built for macOS 11+ with zig's clang:
#   scripts/platform/darwin.sh amd64|arm64 --build DIR [--tests]
# (scripts/platform/darwin_amd64.sh and darwin_arm64.sh call this with their arch.)
# DIR/kubectl-{apicheck,certs,netdebug} (and DIR/kp_unit_tests with --tests): Mach-O binaries
# that load only /usr/lib/libSystem.B.dylib (libc++ and every dependency static), arm64 ones
# signed ad hoc by zig's linker; scripts/platform/check_macho.py checks each one after the link.
# zig is PyPI's `ziglang` (pinned below) in a venv in $KP_CACHE_DIR/platform/zig-<version>; its
# own cache (the libc++ it compiles per target) is $KP_CACHE_DIR/platform/zig-cache. OpenSSL
# (libcrypto and libssl only), nghttp2, zlib, libcurl (HTTP(S), HTTP/2, OpenSSL, zlib) and
# yaml-cpp are built by zig from the Debian source packages of the host's -dev packages
# (scripts/lib/debsrc.sh), each into $KP_CACHE_DIR/platform/darwin_<arch>/<dep>-<version>-zig<v>
# (made in a temporary dir and renamed into place). OpenSSL and curl look for the system roots
# where macOS keeps them as a PEM bundle: /etc/ssl/cert.pem (no Security framework).
# These binaries cannot run on Linux: nothing here runs them.
# Output on stderr; exit non-zero on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:-}
case $arch in
amd64) triple=x86_64-macos openssl_target=darwin64-x86_64-cc ;;
arm64) triple=aarch64-macos openssl_target=darwin64-arm64-cc ;;
-h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
*) echo "darwin: error: the first argument is the arch, amd64 or arm64; see $0 --help" >&2; exit 2 ;;
esac
shift
name=darwin_$arch
# shellcheck source=../lib/platform.sh
. "$root/scripts/lib/platform.sh"
platform_args "$0" "$@"
# The oldest macOS the binaries run on (LC_BUILD_VERSION minos; check_macho.py checks it).
macos_min=11.0
zig_version=0.15.2
zig_dir=$kp_cache/platform/zig-$zig_version
# The compiler is a wrapper script: hash its content (it names zig's version and the target),
# not its mtime.
export CCACHE_COMPILERCHECK=content
export ZIG_GLOBAL_CACHE_DIR=$kp_cache/platform/zig-cache ZIG_LOCAL_CACHE_DIR=$kp_cache/platform/zig-cache
# shellcheck source=../lib/debsrc.sh
. "$root/scripts/lib/debsrc.sh"

for tool in python3 dpkg-source dpkg-query apt-get apt-cache cmake ninja make perl; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
start=$(date +%s)

# zig from PyPI, once per version, into a venv; then the wrappers the builds call.
if [ ! -x "$zig_dir/venv/bin/python" ] || ! "$zig_dir/venv/bin/python" -m ziglang version >/dev/null 2>&1; then
  log "installing ziglang==$zig_version from PyPI (once; cached in $zig_dir)"
  work=$(mktemp -d)
  python3 -m venv "$work/venv" >&2 && "$work/venv/bin/pip" install -q "ziglang==$zig_version" >&2 ||
    { rm -rf "$work"; die "pip install ziglang==$zig_version failed"; }
  mkdir -p "$(dirname "$zig_dir")"
  rm -rf "$zig_dir" && mkdir "$zig_dir.tmp" && mv "$work/venv" "$zig_dir.tmp/venv"
  mv "$zig_dir.tmp" "$zig_dir"
  rm -rf "$work"
fi
zig=$(echo "$zig_dir"/venv/lib/python3*/site-packages/ziglang/zig)
[ -x "$zig" ] || die "no zig binary in $zig_dir"
[ "$("$zig" version)" = "$zig_version" ] || die "$zig is not zig $zig_version"
bin=$zig_dir/bin
mkdir -p "$bin"
# write_wrapper NAME CONTENT: rewritten only when it changes (its content is ccache's key).
write_wrapper() {
  if [ "$(cat "$bin/$1" 2>/dev/null)" != "$2" ]; then
    printf '%s\n' "$2" >"$bin/$1.tmp" && chmod +x "$bin/$1.tmp" && mv "$bin/$1.tmp" "$bin/$1"
  fi
}
for lang in cc:clang c++:clang++; do
  # -arch (OpenSSL's darwin targets add it) is said by -target already; zig rejects it.
  write_wrapper "$triple-${lang#*:}" "#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
  case \$1 in
  -arch) shift 2 ;;
  *) args+=(\"\$1\"); shift ;;
  esac
done
exec $zig ${lang%%:*} -target $triple.$macos_min \"\${args[@]}\""
done
# The link driver: zig c++ without the GNU-ld flags of cmake/Packaging.cmake's KP_STATIC
# (-static-libstdc++ -static-libgcc --as-needed; zig links libc++ statically anyway and its
# Mach-O linker refuses --as-needed). A wrapper of its own, so the compile wrapper (ccache's key)
# stays as it is.
write_wrapper "$triple-link" "#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
  case \$1 in
  -static-libstdc++ | -static-libgcc | -Wl,--as-needed) shift ;;
  -Xlinker) if [ \"\$2\" = --as-needed ]; then shift 2; else args+=(\"\$1\" \"\$2\"); shift 2; fi ;;
  *) args+=(\"\$1\"); shift ;;
  esac
done
exec $zig c++ -target $triple.$macos_min \"\${args[@]}\""
# Archives in macOS's own (BSD) format, as Apple's ar writes them.
write_wrapper zig-ar "#!/bin/sh
exec $zig ar --format=darwin \"\$@\""
# ranlib's flags (OpenSSL's darwin targets pass -c) mean nothing to zig's.
write_wrapper zig-ranlib "#!/bin/sh
for a; do case \$a in -*) ;; *) set -- \"\$a\"; break ;; esac; done
exec $zig ranlib \"\$@\""
cc=$bin/$triple-clang
cxx=$bin/$triple-clang++

# Dependencies: each from the Debian source package of the host's -dev package.
dep_version() { dpkg-query -W -f='${source:Version}' "$1" || die "$1 is not installed: run scripts/setup.sh"; }
# dep NAME SOURCE-PACKAGE DEV-PACKAGE BUILDER: the prefix of NAME, built by BUILDER SRC PREFIX on
# the first call.
dep() {
  local dep=$1 source=$2 version prefix work
  version=$(dep_version "$3")
  prefix=$cache/$dep-${version//[:~]/_}-zig$zig_version
  if [ -e "$prefix/.complete" ]; then
    echo "$prefix"
    return
  fi
  log "building $dep $version for $triple (once; cached in $prefix)"
  local t0
  t0=$(date +%s)
  work=$(mktemp -d)
  debian_source "$source=$version" "$work/src" >/dev/null 2>"$work/fetch.log" ||
    { cat "$work/fetch.log" >&2; rm -rf "$work"; die "fetching the $source source failed"; }
  # set -e inside the builder (a subshell run outside `if`, `||` and `&&`, so it holds), the
  # caller's turned off meanwhile to read the status.
  local rc
  set +e
  (
    set -e
    cd "$work/src"
    "$4" "$work/src" "$work/prefix"
  ) >"$work/build.log" 2>&1
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    tail -40 "$work/build.log" >&2
    mkdir -p "$cache" && mv "$work/build.log" "$cache/$dep-failed.log"
    rm -rf "$work"
    die "building $dep failed (the whole log: $cache/$dep-failed.log)"
  fi
  echo "$version" >"$work/prefix/.complete"
  mkdir -p "$cache"
  rm -rf "$prefix.tmp" && mv "$work/prefix" "$prefix.tmp" && mv "$prefix.tmp" "$prefix"
  rm -rf "$work"
  log "$dep: $(($(date +%s) - t0)) s"
  echo "$prefix"
}
cmake_dep() { # src prefix [cmake args...]: a CMake project's static library, no tests/tools
  local src=$1 prefix=$2
  shift 2
  mkdir -p "$src/kp-stage/include"
  cmake -S "$src" -B "$src/kp-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$name.cmake" -DKP_ZIG_BIN="$bin" \
    -DKP_TARGET_ROOTS="$(IFS=';'; echo "${roots[*]}")" -DKP_STAGE="$src/kp-stage" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "$@"
  cmake --build "$src/kp-build" -j "$jobs"
  cmake --install "$src/kp-build"
}
roots=()

build_zlib() { # zlib's CMake builds and installs the shared library too: only libz.a here
  local src=$1 prefix=$2 f
  mkdir -p "$prefix/lib" "$prefix/include" "$src/kp-obj"
  for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
    inftrees trees uncompr zutil; do
    # -Dfdopen=fdopen: zlib 1.2.13 takes TARGET_OS_MAC for classic Mac OS and defines fdopen
    # away, which breaks macOS's <stdio.h>.
    "$cc" -O2 -DHAVE_UNISTD_H -DHAVE_STDARG_H -Dfdopen=fdopen -c "$src/$f.c" -o "$src/kp-obj/$f.o"
  done
  "$bin/zig-ar" rcs "$prefix/lib/libz.a" "$src"/kp-obj/*.o
  cp "$src/zlib.h" "$src/zconf.h" "$prefix/include/"
}

# OpenSSL: libcrypto and libssl only (`make build_libs`), static, without what a TLS client and
# the certificate checks never use. OPENSSLDIR /etc/ssl: the default CA file is /etc/ssl/cert.pem,
# the system roots as macOS keeps them for OpenSSL/LibreSSL (SSL_CERT_FILE still overrides).
# Randomness from getentropy() (libSystem) instead of CommonCrypto's CCRandomGenerateBytes,
# whose headers zig does not ship.
build_openssl() {
  local src=$1 prefix=$2
  CC=$cc AR=$bin/zig-ar RANLIB=$bin/zig-ranlib ./Configure "$openssl_target" \
    --prefix="$prefix" --openssldir=/etc/ssl --libdir=lib no-shared no-tests \
    no-engine no-dso no-module no-legacy no-comp no-ssl3 no-dtls no-srp no-ui-console \
    no-afalgeng no-capieng no-padlockeng no-async -O2 -DOPENSSL_NO_APPLE_CRYPTO_RANDOM
  make -j"$jobs" build_libs
  make install_dev
}

build_nghttp2() {
  cmake_dep "$1" "$2" -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF \
    -DENABLE_DOC=OFF -DENABLE_EXAMPLES=OFF -DENABLE_PYTHON_BINDINGS=OFF -DENABLE_FAILMALLOC=OFF
}

build_yaml_cpp() {
  cmake_dep "$1" "$2" -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF \
    -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_BUILD_SHARED_LIBS=OFF
}

# libcurl as release.sh's static one (HTTP(S), HTTP/2 via nghttp2, OpenSSL, zlib), configured for
# the target with autoconf's --host.
build_curl() {
  local src=$1 prefix=$2
  # On macOS curl links CoreFoundation and SystemConfiguration (frameworks zig does not have) for
  # one call, SCDynamicStoreCopyProxies before each resolve, which only makes macOS synthesize
  # IPv6 addresses for IPv4 literals on an IPv6-only (NAT64) network: both off.
  sed -i 's/^\( *# *define CURL_OSX_CALL_COPYPROXIES\) 1/\/* kplugins: no SystemConfiguration *\//' \
    lib/curl_setup.h
  sed -i 's/LDFLAGS="$LDFLAGS -framework CoreFoundation -framework SystemConfiguration"/:/' configure
  if grep -q 'define CURL_OSX_CALL_COPYPROXIES' lib/curl_setup.h ||
    grep -q 'framework SystemConfiguration' configure; then
    echo "darwin.sh: the SystemConfiguration patch no longer applies to this curl" >&2
    return 1
  fi
  CC=$cc AR=$bin/zig-ar RANLIB=$bin/zig-ranlib \
    CPPFLAGS="-I$openssl/include -I$nghttp2/include -I$zlib/include" \
    LDFLAGS="-L$openssl/lib -L$nghttp2/lib -L$zlib/lib" \
    PKG_CONFIG_LIBDIR="$openssl/lib/pkgconfig:$nghttp2/lib/pkgconfig" \
    ./configure --host="${triple%-macos}-apple-darwin" --prefix="$prefix" --disable-shared --enable-static \
    --with-openssl="$openssl" --with-nghttp2="$nghttp2" --with-zlib="$zlib" --without-libpsl \
    --without-brotli --without-zstd --without-libidn2 --without-librtmp --without-libssh2 \
    --without-gssapi --disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
    --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
    --disable-gopher --disable-mqtt --disable-ftp --disable-manual --disable-ntlm \
    --without-secure-transport --without-ca-fallback \
    --with-ca-bundle=/etc/ssl/cert.pem --without-ca-path
  make -j"$jobs" -C lib
  make -C lib install
  make -C include install
}

zlib=$(dep zlib zlib zlib1g-dev build_zlib)
openssl=$(dep openssl openssl libssl-dev build_openssl)
nghttp2=$(dep nghttp2 nghttp2 libnghttp2-dev build_nghttp2)
curl=$(dep curl curl libcurl4-openssl-dev build_curl)
yaml_cpp=$(dep yaml-cpp yaml-cpp libyaml-cpp-dev build_yaml_cpp)
roots=("$zlib" "$openssl" "$nghttp2" "$curl" "$yaml_cpp")

# The target's one include directory and the header-only libraries' package files.
stage=$build/darwin-stage
rm -rf "$stage"
mkdir -p "$stage/include" "$stage/share/cmake" "$stage/lib/cmake" "$stage/lib/pkgconfig"
for h in /usr/include/nlohmann /usr/include/boost /usr/include/cxxopts.hpp /usr/include/catch2; do
  [ -e "$h" ] || die "$h is missing: run scripts/setup.sh"
  ln -s "$h" "$stage/include/"
done
for p in "${roots[@]}"; do
  for h in "$p"/include/*; do ln -s "$h" "$stage/include/"; done
done
cp -r /usr/share/cmake/nlohmann_json "$stage/share/cmake/"
cp -r /usr/lib/cmake/Catch2 "$stage/lib/cmake/"
# Debian's Catch2 targets include a host-built libCatch2WithMain.a (unused: test_main.cpp is the
# main): only the header-only target here.
rm "$stage"/lib/cmake/Catch2/Catch2Targets*.cmake
cat >"$stage/lib/cmake/Catch2/Catch2Targets.cmake" <<EOF
add_library(Catch2::Catch2 INTERFACE IMPORTED)
set_target_properties(Catch2::Catch2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "$stage/include")
EOF
sed "s|^prefix=.*|prefix=$stage|" /usr/share/pkgconfig/cxxopts.pc >"$stage/lib/pkgconfig/cxxopts.pc"

targets=(kubectl-apicheck kubectl-certs kubectl-netdebug)
[ $tests = ON ] && targets+=(kp_unit_tests)
log "building ${targets[*]} in $build"
platform_deps "$build" "${roots[@]}" "$curl" "$openssl"
PKG_CONFIG_LIBDIR=$stage/lib/pkgconfig \
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$name.cmake" \
  -DKP_ZIG_BIN="$bin" -DKP_TARGET_ROOTS="$(IFS=';'; echo "${roots[*]}")" -DKP_STAGE="$stage" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DKP_WERROR=ON -DKP_TESTS=$tests -DKP_STATIC=ON -DKP_STATIC_CURL="$curl" \
  -DOPENSSL_ROOT_DIR="$openssl" >"$build/configure.log" 2>&1 ||
  { tail -40 "$build/configure.log" >&2; die "cmake configure failed"; }
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >&2
# The contract's DIR/kp_unit_tests (CMake builds it in tests/unit/).
if [ $tests = ON ]; then ln -f "$build/tests/unit/kp_unit_tests" "$build/kp_unit_tests"; fi
for t in "${targets[@]}"; do
  python3 "$root/scripts/platform/check_macho.py" --arch "$arch" --min-os "$macos_min" "$build/$t" >&2 ||
    die "$t failed the Mach-O check"
done
log "done in $(($(date +%s) - start)) s: ${targets[*]} in $build"
