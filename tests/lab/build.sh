#!/usr/bin/env bash
# Builds the lab's Go binaries (kube-apiserver, kubectl, kubeadm, etcd, kwok, krew,
# validate-krew-manifest) from pinned Go modules and prints the directory that holds them.
#
# The result is cached in $LAB_CACHE (default ~/.cache/kplugins-lab) under a key made of the
# versions and this script, so a fresh clone on a warm machine reuses it; Go's own module and
# build caches (also in $HOME) make a rebuild after a key change cheap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod
cache=${LAB_CACHE:-$HOME/.cache/kplugins-lab}
key=$(cat "$here/versions.env" "$here/build.sh" | sha256sum | cut -c1-16)
out="$cache/bin-$key"
all="kube-apiserver kubectl kubeadm etcd kwok krew validate-krew-manifest"
have_all() {
  for b in $all; do [ -x "$out/$b" ] || return 1; done
  [ -f "$out/kwok-stages/pod-ready.yaml" ]
}
if have_all; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build.sh: go not found on PATH" >&2; exit 1; }
mkdir -p "$out" "$cache/src"
log() { echo "lab build: $*" >&2; }

# kube-apiserver, kubectl, kubeadm: a wrapper module whose replace lines come from the tag's go.mod.
build_kubernetes() {
  local w="$cache/src/kubernetes-$K8S_VERSION" minor gomod
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local patch=${K8S_VERSION##*.}
  mkdir -p "$w"
  gomod=$(cd "$w" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module lab/kubernetes"
    echo
    grep -m1 '^go ' "$gomod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "tool ("
    echo "	k8s.io/kubernetes/cmd/kube-apiserver"
    echo "	k8s.io/kubernetes/cmd/kubeadm"
    echo "	k8s.io/kubernetes/cmd/kubectl"
    echo ")"
    echo
    echo "replace ("
    # staging modules: ./staging/src/k8s.io/NAME -> k8s.io/NAME v0.MINOR.PATCH
    sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/k8s\.io/.*#\t\1 => \1 v0.'"$minor.$patch"'#p' "$gomod"
    echo ")"
  } >"$w/go.mod"
  # Any other (non-staging) replace lines of the tag are carried over as they are.
  if grep -E '^[[:space:]]*[^[:space:]]+ => [^.]' "$gomod" | grep -v '\./staging' | grep -v '^replace' >/dev/null; then
    log "note: non-staging replaces in $gomod:"; grep -E ' => [^.]' "$gomod" >&2 || true
  fi
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
  ld="$ld -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  ld="$ld -X k8s.io/component-base/version.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  ld="$ld -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  log "kubernetes $K8S_VERSION: go mod tidy"
  (cd "$w" && go mod tidy >&2)
  log "kubernetes $K8S_VERSION: go build kube-apiserver kubectl kubeadm"
  (cd "$w" && go build -trimpath -ldflags "$ld" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubeadm)
}

# etcd: the server module has relative replaces, so a wrapper module with its own tiny main.
build_etcd() {
  local w="$cache/src/etcd-$ETCD_VERSION"
  mkdir -p "$w"
  cat >"$w/go.mod" <<MOD
module lab/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  cat >"$w/main.go" <<'SRC'
// Command etcd runs etcd's server main, as go.etcd.io/etcd/server/v3's main.go does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
SRC
  log "etcd $ETCD_VERSION: go build"
  (cd "$w" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$out/etcd" .)
}

build_plain() { # module@version binary...
  local mod=$1; shift
  log "$mod: go install"
  GOBIN="$out" go install -trimpath -ldflags "-s -w" "$@"
}

[ -x "$out/etcd" ] || build_etcd
[ -x "$out/kube-apiserver" ] && [ -x "$out/kubectl" ] && [ -x "$out/kubeadm" ] || build_kubernetes
[ -x "$out/kwok" ] || build_plain kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
# kwok refuses to start without Stage documents: take kwokctl's defaults from the same module.
copy_kwok_stages() {
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$out/kwok-stages"
  cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" \
    "$dir/kustomize/stage/node/heartbeat/node-heartbeat.yaml" \
    "$dir"/kustomize/stage/pod/general/pod-*.yaml "$out/kwok-stages/"
  chmod -R u+w "$out/kwok-stages"
}
[ -f "$out/kwok-stages/pod-ready.yaml" ] || copy_kwok_stages
[ -x "$out/krew" ] || build_plain krew "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION"
[ -x "$out/validate-krew-manifest" ] ||
  build_plain krew "sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION"
have_all || { log "missing binaries in $out"; exit 1; }
echo "$out"
