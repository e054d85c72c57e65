#!/usr/bin/env bash
# Installs everything the build, the tests and the lab need on Debian 12 (run as root):
# Debian packages, then the lab's Go binaries (tests/lab/build.sh). Idempotent, non-interactive.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  libcurl4-openssl-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libcxxopts-dev
  libboost-dev catch2
  # tests and lab
  python3 openssl curl ca-certificates iproute2 iptables nftables iputils-ping busybox procps psmisc socat
  dnsmasq-base haproxy bind9-dnsutils bash-completion zsh fish hyperfine time git
  faketime
  # release archives (scripts/release.sh: static nghttp2, Debian's curl source) and their tests
  libnghttp2-dev dpkg-dev debootstrap python3-yaml
  # linux/arm64 (scripts/platform/linux_arm64.sh: the cross compiler; its tests under qemu-user)
  crossbuild-essential-arm64 qemu-user-static
  # darwin (scripts/platform/darwin.sh): a venv for PyPI's ziglang (zig's clang), make/perl for OpenSSL
  python3-venv make perl
  # windows/amd64 (scripts/platform/windows_amd64.sh): the mingw-w64 cross compiler, wine for its tests
  g++-mingw-w64-x86-64-posix wine64 wine
)
# linux/arm64: apt must know the architecture to download Debian's arm64 -dev packages (which
# scripts/platform/linux_arm64.sh unpacks into its cache, installing nothing of arm64).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  arm64_added=1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ -n "${arm64_added:-}" ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # policy-rc.d 101: packages such as haproxy must not start their system service here. A
  # policy the machine already has is left as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
"$here/tests/lab/build.sh" >/dev/null
