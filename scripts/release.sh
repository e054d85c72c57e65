#!/usr/bin/env bash
# Builds the release of the three plugins in one command:
#   scripts/release.sh [--build DIR] [--out DIR] [--platforms OS/ARCH,...]
# Platforms: linux/amd64 (built here natively), linux/arm64, darwin/amd64, darwin/arm64,
# windows/amd64 (each cross-built by scripts/platform/<os>_<arch>.sh --build DIR). By default
# every platform whose script exists (an absent one is skipped, and said so); --platforms names
# exactly the ones to build (an absent script is then an error).
# For each plugin and platform, OUT/kubectl-<name>_<version>_<os>_<arch>.tar.gz (.zip for
# windows) holding the binary, its completion helper kubectl_complete-<name> (a copy of the
# binary, which answers completion when called by that name), LICENSE and README.md, and
# OUT/<archive>.sha256; OUT/checksums.txt; the krew manifest OUT/krew/<name>.yaml filled from
# krew/<name>.yaml.in with an entry per built platform. Each binary is checked before it is
# packaged: linux links everything but glibc statically (NEEDED: libc, libm, the loader), windows
# imports only system DLLs, darwin passes scripts/platform/check_macho.py. Debian's libcurl.a
# needs libraries Debian ships only as shared objects, so the linux/amd64 build uses a minimal
# libcurl (HTTP(S), HTTP/2, OpenSSL, zlib) built once from Debian's own source package and cached
# in ~/.cache/kplugins-lab (about two minutes cold, nothing warm); the platform scripts do the same.
# Environment: KP_RELEASE_URL_BASE (where the archives are published; the manifests' uri is
# <base>/v<version>/<archive>), KP_HOMEPAGE, SOURCE_DATE_EPOCH (archive timestamps, default 0),
# KP_CACHE_DIR (default ~/.cache/kplugins-lab).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-release
out=$root/dist
all_platforms=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64)
requested=""
while [ $# -gt 0 ]; do
  case $1 in
  --build) build=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --platforms) requested=$2; shift 2 ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# shellcheck source=lib/curl.sh
. "$root/scripts/lib/curl.sh"
log() { echo "release: $*" >&2; }
die() { echo "release: error: $*" >&2; exit 1; }

# The script that builds a platform: scripts/platform/<os>_<arch>.sh, or <os>.sh taking --arch.
platform_script() { # os/arch -> "script [args]", or nothing
  local os=${1%/*} arch=${1#*/} dir=$root/scripts/platform
  if [ -x "$dir/${os}_$arch.sh" ]; then
    echo "$dir/${os}_$arch.sh"
  elif [ -x "$dir/$os.sh" ]; then
    echo "$dir/$os.sh --arch $arch"
  fi
}

platforms=()
if [ -n "$requested" ]; then
  IFS=, read -r -a platforms <<<"$requested"
  for p in "${platforms[@]}"; do
    [[ " ${all_platforms[*]} " == *" $p "* ]] ||
      die "unknown platform \"$p\" (known: ${all_platforms[*]})"
    [ "$p" = linux/amd64 ] || [ -n "$(platform_script "$p")" ] ||
      die "$p: scripts/platform/${p/\//_}.sh is absent"
  done
else
  for p in "${all_platforms[@]}"; do
    if [ "$p" = linux/amd64 ] || [ -n "$(platform_script "$p")" ]; then
      platforms+=("$p")
    else
      log "skipping $p: scripts/platform/${p/\//_}.sh is absent"
    fi
  done
fi
[ ${#platforms[@]} -gt 0 ] || die "no platform to build"

for tool in readelf strip tar gzip sha256sum dpkg-source apt-get cmake ninja python3; do
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
    ./configure --prefix="$work/prefix" "${KP_CURL_CONFIGURE[@]}" \
      >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
    make -j"$jobs" -C lib >/dev/null && make -C lib install >/dev/null &&
      make -C include install >/dev/null)
  mkdir -p "$cache"
  rm -rf "$prefix.tmp"
  mv "$work/prefix" "$prefix.tmp"
  mv "$prefix.tmp" "$prefix"
  echo "$prefix"
}

# Builds one platform's binaries; prints the directory holding them.
build_platform() { # os/arch
  local p=$1 dir curl_prefix
  if [ "$p" = linux/amd64 ]; then
    curl_prefix=$(static_curl)
    log "building the static linux/amd64 binaries in $build"
    # -O2 as the tested builds (g++ 12 at -O3 reports a false -Wrestrict in <string>); no -g: the
    # archives carry stripped binaries.
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DKP_WERROR=ON -DKP_TESTS=OFF -DKP_STATIC=ON \
      -DKP_STATIC_CURL="$curl_prefix" >/dev/null
    cmake --build "$build" -j "$jobs" --target "${plugins[@]/#/kubectl-}" >&2
    echo "$build"
    return
  fi
  # Beside the native build, at the depth of build/platform/<os>_<arch> (the CTest fixture), so
  # ccache, which keys on source paths relative to the build directory, serves both.
  dir=$build/${p/\//_}
  log "building $p in $dir: $(platform_script "$p")"
  # shellcheck disable=SC2046 # the script and its arguments
  $(platform_script "$p") --build "$dir" >&2 || die "$p: the platform build failed"
  echo "$dir"
}

# Only glibc may stay dynamic: every other library must be in the binary.
check_linux() { # binary arch
  local bin=$1 arch=$2 needed loader machine
  case $arch in
  amd64) loader=ld-linux-x86-64.so.2 machine=X86-64 ;;
  arm64) loader=ld-linux-aarch64.so.1 machine=AArch64 ;;
  *) die "no check for linux/$arch" ;;
  esac
  readelf -h "$bin" | grep -q "Machine:.*$machine" || die "$(basename "$bin") is not a $machine binary"
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
  for lib in $needed; do
    case $lib in
    libc.so.6 | libm.so.6 | "$loader") ;;
    *) die "$(basename "$bin") needs $lib (NEEDED: $needed): only glibc may be linked dynamically" ;;
    esac
  done
  [[ " $needed" == *" libc.so.6 "* ]] || die "$(basename "$bin") does not link glibc (NEEDED: $needed)"
  if readelf -d "$bin" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    die "$(basename "$bin") has an RPATH/RUNPATH"
  fi
  echo "NEEDED: $needed"
}

# Windows: only DLLs every Windows has (no libstdc++, libgcc, winpthread, OpenSSL, curl, zlib).
windows_system_dlls=" advapi32.dll bcrypt.dll crypt32.dll dnsapi.dll gdi32.dll iphlpapi.dll \
kernel32.dll msvcrt.dll ncrypt.dll normaliz.dll ntdll.dll ole32.dll oleaut32.dll rpcrt4.dll \
secur32.dll shell32.dll shlwapi.dll ucrtbase.dll user32.dll userenv.dll version.dll winmm.dll \
wldap32.dll ws2_32.dll "
check_windows() { # binary
  local bin=$1 dlls lower objdump=objdump
  command -v x86_64-w64-mingw32-objdump >/dev/null && objdump=x86_64-w64-mingw32-objdump
  "$objdump" -f "$bin" | grep -q 'file format pei-x86-64' || die "$(basename "$bin") is not a PE32+ x86-64 binary"
  dlls=$("$objdump" -p "$bin" | sed -n 's/.*DLL Name: *//p' | sort -u | tr '\n' ' ')
  [ -n "$dlls" ] || die "$(basename "$bin"): no DLL imports found (objdump -p)"
  for dll in $dlls; do
    lower=$(echo "$dll" | tr '[:upper:]' '[:lower:]')
    [[ $windows_system_dlls == *" $lower "* || $lower == api-ms-win-* ]] ||
      die "$(basename "$bin") imports $dll (DLLs: $dlls): only Windows system DLLs may be imported"
  done
  echo "DLLs: $dlls"
}

# Darwin: the darwin engineer's Mach-O check (scripts/platform/check_macho.py): CPU type, only
# /usr/lib and /System dylibs, no LC_RPATH, the minimum macOS, the arm64 ad hoc signature.
check_darwin() { # binary arch
  local check=$root/scripts/platform/check_macho.py
  [ -f "$check" ] || die "darwin: scripts/platform/check_macho.py is absent: no binary is packaged unchecked"
  python3 "$check" --arch "$2" "$1" >&2 || die "$(basename "$1"): check_macho.py refused it"
  echo "Mach-O checked"
}

strip_tool() { # os/arch
  case $1 in
  linux/amd64) echo strip ;;
  linux/arm64) echo aarch64-linux-gnu-strip ;;
  windows/amd64) echo x86_64-w64-mingw32-strip ;;
  *) echo "" ;; # darwin: the platform script's binaries are packaged as built
  esac
}

# A deterministic zip (krew installs .zip archives on Windows as most plugins ship them).
make_zip() { # out dir files...
  python3 - "$@" <<'EOF'
import os, sys, time, zipfile
out, base, names = sys.argv[1], sys.argv[2], sys.argv[3:]
stamp = time.gmtime(max(int(os.environ.get("SOURCE_DATE_EPOCH", "0")), 315532800))[:6]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name in sorted(names):
        info = zipfile.ZipInfo(name, stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (0o100755 if os.access(os.path.join(base, name), os.X_OK) else 0o100644) << 16
        with open(os.path.join(base, name), "rb") as f:
            z.writestr(info, f.read())
EOF
}

start=$(date +%s)
declare -A dirs
for p in "${platforms[@]}"; do
  dirs[$p]=$(build_platform "$p")
done

version=$("${dirs[${platforms[0]}]}/kubectl-apicheck" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "${platforms[0]}" != linux/amd64 ] || [ -z "$version" ]; then
  # A cross build's binary does not run here: the version CMake wrote into the build.
  version=$(sed -n 's/.*kVersion = "\(.*\)".*/\1/p' "${dirs[${platforms[0]}]}/generated/core/util/version.h")
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$ ]] || die "\"$version\" is not a semantic version"
epoch=${SOURCE_DATE_EPOCH:-0}
rm -rf "$out"
mkdir -p "$out/krew"
: >"$out/checksums.txt"
for name in "${plugins[@]}"; do
  entries=""
  for p in "${platforms[@]}"; do
    os=${p%/*} arch=${p#*/} exe="" ext=tar.gz
    [ "$os" = windows ] && exe=.exe ext=zip
    bin=${dirs[$p]}/kubectl-$name$exe
    [ -f "$bin" ] || die "$p: ${dirs[$p]} has no kubectl-$name$exe"
    case $os in
    linux) what=$(check_linux "$bin" "$arch") ;;
    windows) what=$(check_windows "$bin") ;;
    darwin) what=$(check_darwin "$bin" "$arch") ;;
    esac
    stage=$(mktemp -d)
    dir=$stage/kubectl-${name}_${version}_${os}_$arch
    mkdir "$dir"
    strip=$(strip_tool "$p")
    if [ -n "$strip" ]; then
      "$strip" --strip-all -o "$dir/kubectl-$name$exe" "$bin"
    else
      install -m 0755 "$bin" "$dir/kubectl-$name$exe"
    fi
    chmod 0755 "$dir/kubectl-$name$exe"
    # The completion helper: the binary itself under the helper's name (core::run_main answers
    # `__complete` then), so it works where no shell runs scripts; a copy, as krew extracts
    # regular files only.
    cp -p "$dir/kubectl-$name$exe" "$dir/kubectl_complete-$name$exe"
    install -m 0644 "$root/LICENSE" "$root/README.md" "$dir/"
    files=(kubectl-"$name$exe" kubectl_complete-"$name$exe" LICENSE README.md)
    archive=kubectl-${name}_${version}_${os}_$arch.$ext
    if [ "$ext" = zip ]; then
      make_zip "$out/$archive" "$dir" "${files[@]}"
    else
      tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
        -cf - "${files[@]}" | gzip -n -9 >"$out/$archive"
    fi
    rm -rf "$stage"
    (cd "$out" && sha256sum "$archive" >"$archive.sha256" && cat "$archive.sha256" >>checksums.txt)
    sha=$(cut -d' ' -f1 "$out/$archive.sha256")
    entries+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: \"$url_base/v$version/$archive\"
    sha256: \"$sha\"
    files:
"
    for f in "${files[@]}"; do
      entries+="    - from: $f
      to: .
"
    done
    entries+="    bin: kubectl-$name$exe
"
    log "$archive: $(stat -c %s "$out/$archive") bytes, sha256 $sha, $what"
  done
  ENTRIES=$entries python3 - "$root/krew/$name.yaml.in" "$out/krew/$name.yaml" "v$version" \
    "$homepage" <<'EOF'
import os, sys
src, dst, version, homepage = sys.argv[1:]
lines = open(src).read().splitlines(keepends=True)
while lines and lines[0].startswith("#"):  # the template's own comment
    lines.pop(0)
text = "".join(lines).replace("@PLATFORMS@\n", os.environ["ENTRIES"])
text = text.replace("@VERSION@", version).replace("@HOMEPAGE@", homepage)
assert "@" not in text, "a placeholder is left in " + dst
open(dst, "w").write(text)
EOF
done
log "done in $(($(date +%s) - start)) s: ${platforms[*]} in $out"
