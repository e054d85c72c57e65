#!/usr/bin/env bash
# Builds the release of the three plugins in one command:
#   scripts/release.sh [--build DIR] [--out DIR]
# For each plugin, OUT/kubectl-<name>_<version>_linux_amd64.tar.gz (the binary, its completion
# helper kubectl_complete-<name>, LICENSE, README.md), OUT/<archive>.sha256, and the krew
# manifest OUT/krew/<name>.yaml filled from krew/<name>.yaml.in (uri, sha256, version); also
# OUT/checksums.txt. The binaries link everything but glibc statically (cmake -DKP_STATIC=ON):
# the script refuses to package a binary whose NEEDED list holds more than libc, libm and the
# dynamic loader. Debian's libcurl.a needs libraries Debian ships only as shared objects, so a
# minimal libcurl (HTTP(S), HTTP/2, OpenSSL, zlib) is built once from Debian's own source
# package and cached in ~/.cache/kplugins-lab (about two minutes cold, nothing warm).
# Environment: KP_RELEASE_URL_BASE (where the archives are published; the manifests' uri is
# <base>/v<version>/<archive>), KP_HOMEPAGE, SOURCE_DATE_EPOCH (archive timestamps, default 0),
# KP_CACHE_DIR (default ~/.cache/kplugins-lab).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-release
out=$root/dist
while [ $# -gt 0 ]; do
  case $1 in
  --build) build=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "release: error: unknown argument \"$1\"; see $0 --help" >&2; exit 2 ;;
  esac
done
url_base=${KP_RELEASE_URL_BASE:-https://github.com/kplugins/kplugins/releases/download}
homepage=${KP_HOMEPAGE:-https://github.com/kplugins/kplugins}
cache=${KP_CACHE_DIR:-$HOME/.cache/kplugins-lab}/static
plugins=(apicheck certs netdebug)
jobs=$(nproc)
# shellcheck source=lib/debsrc.sh
. "$root/scripts/lib/debsrc.sh"
log() { echo "release: $*" >&2; }
die() { echo "release: error: $*" >&2; exit 1; }

for tool in readelf strip tar gzip sha256sum dpkg-source apt-get cmake ninja; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
[ -e /usr/lib/x86_64-linux-gnu/libnghttp2.a ] || die "libnghttp2.a is missing: run scripts/setup.sh"

# A static libcurl from the Debian source package of the installed libcurl (so its headers and
# Debian's security patches match).
static_curl() {
  local version prefix work
  version=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev)
  prefix=$cache/curl-$version
  if [ -e "$prefix/lib/libcurl.a" ]; then
    echo "$prefix"
    return
  fi
  log "building a static libcurl $version (once; cached in $prefix)"
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  debian_source "curl=$version" "$work/src"
  (cd "$work/src" &&
    ./configure --prefix="$work/prefix" --disable-shared --enable-static --with-openssl \
      --with-nghttp2 --with-zlib --without-libpsl --without-brotli --without-zstd \
      --without-libidn2 --without-librtmp --without-libssh2 --without-gssapi --disable-ldap \
      --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
      --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
      --disable-ftp --disable-manual --disable-ntlm \
      --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs \
      >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
    make -j"$jobs" -C lib >/dev/null && make -C lib install >/dev/null &&
      make -C include install >/dev/null)
  mkdir -p "$cache"
  rm -rf "$prefix.tmp"
  mv "$work/prefix" "$prefix.tmp"
  mv "$prefix.tmp" "$prefix"
  echo "$prefix"
}

start=$(date +%s)
curl_prefix=$(static_curl)
log "building the static binaries in $build"
# -O2 as the tested builds (g++ 12 at -O3 reports a false -Wrestrict in <string>); no -g: the
# archives carry stripped binaries.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DKP_WERROR=ON -DKP_TESTS=OFF -DKP_STATIC=ON -DKP_STATIC_CURL="$curl_prefix" >/dev/null
cmake --build "$build" -j "$jobs" --target "${plugins[@]/#/kubectl-}"

version=$("$build/kubectl-apicheck" --version | awk '{print $NF}')
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$ ]] || die "\"$version\" is not a semantic version"
epoch=${SOURCE_DATE_EPOCH:-0}
rm -rf "$out"
mkdir -p "$out/krew"
: >"$out/checksums.txt"
for name in "${plugins[@]}"; do
  bin=$build/kubectl-$name
  # Only glibc may stay dynamic: every other library must be in the binary.
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
  for lib in $needed; do
    case $lib in
    libc.so.6 | libm.so.6 | ld-linux-x86-64.so.2) ;;
    *) die "kubectl-$name needs $lib (NEEDED: $needed): only glibc may be linked dynamically" ;;
    esac
  done
  if readelf -d "$bin" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    die "kubectl-$name has an RPATH/RUNPATH"
  fi
  glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
  stage=$(mktemp -d)
  dir=$stage/kubectl-${name}_${version}_linux_amd64
  mkdir "$dir"
  strip --strip-all -o "$dir/kubectl-$name" "$bin"
  # The completion helper: the binary itself under the helper's name (it answers `__complete`
  # then, core/cli/helper.h); a copy, as krew extracts regular files only.
  cp -p "$dir/kubectl-$name" "$dir/kubectl_complete-$name"
  install -m 0644 "$root/LICENSE" "$root/README.md" "$dir/"
  archive=kubectl-${name}_${version}_linux_amd64.tar.gz
  tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - kubectl-"$name" kubectl_complete-"$name" LICENSE README.md | gzip -n -9 >"$out/$archive"
  rm -rf "$stage"
  (cd "$out" && sha256sum "$archive" >"$archive.sha256" && cat "$archive.sha256" >>checksums.txt)
  sha=$(cut -d' ' -f1 "$out/$archive.sha256")
  sed -e '/^# krew manifest template/,/^# @SHA256@/d' -e "s|@VERSION@|v$version|g" \
    -e "s|@URI@|$url_base/v$version/$archive|g" -e "s|@SHA256@|$sha|g" \
    -e "s|@HOMEPAGE@|$homepage|g" \
    "$root/krew/$name.yaml.in" >"$out/krew/$name.yaml"
  log "$archive: $(stat -c %s "$out/$archive") bytes, sha256 $sha, NEEDED: $needed(newest symbol $glibc)"
done
log "done in $(($(date +%s) - start)) s: $out"
