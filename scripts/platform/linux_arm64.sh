#!/usr/bin/env bash
# linux/arm64: the three plugins cross-built on Debian with crossbuild-essential-arm64:
#   scripts/platform/linux_arm64.sh --build DIR [--tests]
# DIR/kubectl-{apicheck,certs,netdebug} (and DIR/kp_unit_tests with --tests) link everything
# but glibc statically, as the linux/amd64 release (NEEDED: ld-linux-aarch64.so.1, libc.so.6,
# libm.so.6). OpenSSL, nghttp2, zlib and yaml-cpp are Debian's arm64 -dev packages, downloaded
# and unpacked (not installed: Debian's libyaml-cpp-dev is not co-installable across
# architectures, and an installed libssl-dev:arm64 would have to match the host's version) into
# $KP_CACHE_DIR/platform/linux_arm64/debs-<versions>; libcurl is built from Debian's source
# package (scripts/lib/debsrc.sh; only lib/, the features of release.sh's static libcurl) into
# .../curl-<version>. Both are made in a temporary dir and renamed into place. The binaries run
# here under qemu-user: qemu-aarch64-static -L /usr/aarch64-linux-gnu BIN (tests/platform/).
# Output on stderr; exit non-zero on failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
name=linux_arm64
# shellcheck source=../lib/platform.sh
. "$root/scripts/lib/platform.sh"
platform_args "$0" "$@"
host=aarch64-linux-gnu
# shellcheck source=../lib/debsrc.sh
. "$root/scripts/lib/debsrc.sh"
# shellcheck source=lib/curl.sh
. "$root/scripts/lib/curl.sh"

for tool in $host-gcc $host-g++ $host-readelf dpkg-source dpkg-deb apt-get apt-cache cmake ninja make; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
dpkg --print-foreign-architectures | grep -qx arm64 ||
  die "dpkg has no arm64 architecture: run scripts/setup.sh"
start=$(date +%s)

# Debian's arm64 -dev packages with the static libraries, at the mirror's current versions.
debs=(libssl-dev libnghttp2-dev zlib1g-dev libyaml-cpp-dev)
target_debs() {
  local specs=() p v key dir work
  for p in "${debs[@]}"; do
    v=$(apt-cache policy "$p:arm64" | sed -n 's/^ *Candidate: //p')
    [ -n "$v" ] && [ "$v" != "(none)" ] || die "no arm64 candidate for $p: run scripts/setup.sh"
    specs+=("$p:arm64=$v")
  done
  key=$(printf '%s\n' "${specs[@]}" | sha256sum | cut -c1-12)
  dir=$cache/debs-$key
  if [ -e "$dir/.complete" ]; then
    echo "$dir"
    return
  fi
  log "unpacking ${specs[*]} (once; cached in $dir)"
  work=$(mktemp -d)
  chmod 0755 "$work" # apt's _apt user downloads into it
  (cd "$work" && apt-get -q download "${specs[@]}" >&2) || die "apt-get download failed"
  mkdir "$work/root"
  for f in "$work"/*.deb; do dpkg-deb -x "$f" "$work/root"; done
  printf '%s\n' "${specs[@]}" >"$work/root/.complete"
  mkdir -p "$cache"
  rm -rf "$dir.tmp" && mv "$work/root" "$dir.tmp" && mv "$dir.tmp" "$dir"
  rm -rf "$work"
  echo "$dir"
}

# A static libcurl for arm64 from the Debian source package of the host's libcurl (the version
# release.sh builds for amd64), linked against the unpacked OpenSSL, nghttp2 and zlib.
target_curl() { # deps-root
  local deps=$1 version prefix work
  version=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev)
  prefix=$cache/curl-$version-$(basename "$deps")
  if [ -e "$prefix/lib/libcurl.a" ]; then
    echo "$prefix"
    return
  fi
  log "building a static arm64 libcurl $version (once; cached in $prefix)"
  work=$(mktemp -d)
  debian_source "curl=$version" "$work/src"
  (cd "$work/src" &&
    PKG_CONFIG_LIBDIR="$deps/usr/lib/$host/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$deps" \
      CPPFLAGS="-I$deps/usr/include -I$deps/usr/include/$host" LDFLAGS="-L$deps/usr/lib/$host" \
      ./configure --host=$host --prefix="$work/prefix" "${KP_CURL_CONFIGURE[@]}" \
      >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
    make -j"$jobs" -C lib >/dev/null && make -C lib install >/dev/null &&
      make -C include install >/dev/null) || { rm -rf "$work"; die "libcurl build failed"; }
  mkdir -p "$cache"
  rm -rf "$prefix.tmp" && mv "$work/prefix" "$prefix.tmp" && mv "$prefix.tmp" "$prefix"
  rm -rf "$work"
  echo "$prefix"
}

deps=$(target_debs)
curl_prefix=$(target_curl "$deps")
targets=(kubectl-apicheck kubectl-certs kubectl-netdebug)
[ $tests = ON ] && targets+=(kp_unit_tests)
log "building ${targets[*]} in $build"
platform_deps "$build" "$deps" "$curl_prefix"
# cxxopts.pc is the host's (/usr/share/pkgconfig); the other .pc files are the target's.
PKG_CONFIG_LIBDIR="$deps/usr/lib/$host/pkgconfig:/usr/share/pkgconfig" \
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/linux_arm64.cmake" \
  -DKP_TARGET_ROOT="$deps" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DKP_WERROR=ON -DKP_TESTS=$tests -DKP_STATIC=ON -DKP_STATIC_CURL="$curl_prefix" >"$build/configure.log" 2>&1 ||
  { tail -40 "$build/configure.log" >&2; die "cmake configure failed"; }
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >&2
# The contract's DIR/kp_unit_tests (CMake builds it in tests/unit/).
[ $tests = ON ] && ln -f "$build/tests/unit/kp_unit_tests" "$build/kp_unit_tests"
for t in "${targets[@]}"; do
  needed=$($host-readelf -d "$build/$t" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
  for lib in $needed; do
    case $lib in
    libc.so.6 | libm.so.6 | ld-linux-aarch64.so.1) ;;
    *) die "$t needs $lib (NEEDED: $needed): only glibc may be linked dynamically" ;;
    esac
  done
done
log "done in $(($(date +%s) - start)) s: ${targets[*]} in $build"
