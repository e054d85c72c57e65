#!/bin/sh
# kubectl certs node: runs in a debug pod on the node (embedded in kubectl-certs at build time)
# and prints the certificate files of every distribution the plugin knows (kubeadm, k3s, RKE2,
# MicroK8s, OpenShift; layout.h) for it to detect and check. Private keys never leave the node:
# a .key file is printed as its public half (openssl pkey -pubout), a kubeconfig's
# client-key-data likewise, and token lines are dropped; files of other kinds (k3s's
# dynamic-cert.json holds a key) are never printed. POSIX sh; needs openssl and base64.
#
# The node's /etc and /var are mounted read-only under $KP_HOST_ROOT (default /host). Output,
# one line per file, paths as on the node:
#   file PATH BASE64       the bytes the plugin may see
#   error PATH BASE64      why the file could not be read (the message, base64)
#   done COUNT             the end; without it the output was cut short
set -u
root="${KP_HOST_ROOT:-/host}"
count=0

b64() { base64 | tr -d '\n'; }

emit() { # kind path text-on-stdin (may run in a pipeline's subshell: one() counts)
  printf '%s %s %s\n' "$1" "$2" "$(b64)"
}

fail() { # path message
  printf '%s' "$2" | emit error "$1"
}

# The public half of the first private key in a PEM file, or nothing.
public_half() {
  awk '/-----BEGIN [A-Z ]*PRIVATE KEY-----/{p=1} p{print} /-----END [A-Z ]*PRIVATE KEY-----/{exit}' \
    "$1" | openssl pkey -pubout 2>/dev/null
}

kubeconfig() { # a kubeconfig with client-key-data replaced by its public half, tokens dropped
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      *client-key-data:*)
        value=${line##*client-key-data:}
        value=$(printf '%s' "$value" | tr -d ' "')
        public=$(printf '%s' "$value" | base64 -d 2>/dev/null | openssl pkey -pubout 2>/dev/null | b64)
        printf '%sclient-key-data: %s\n' "${line%%client-key-data:*}" "$public"
        ;;
      *token:* | *password:*) ;;
      *) printf '%s\n' "$line" ;;
    esac
  done <"$1"
}

one() { # file on the host
  f=$1
  path=${f#"$root"}
  [ -e "$f" ] || return 0
  if [ ! -r "$f" ]; then
    fail "$path" "permission denied"
    return 0
  fi
  case "$f" in
    *.key)
      public=$(public_half "$f")
      if [ -n "$public" ]; then
        printf '%s\n' "$public" | emit file "$path"
      else
        fail "$path" "not a private key openssl can read"
      fi
      ;;
    *.pem)
      # kubelet-client-current.pem: the certificate(s), then the key's public half.
      { awk '/-----BEGIN CERTIFICATE-----/{p=1} p{print} /-----END CERTIFICATE-----/{p=0}' "$f"
        public_half "$f"; } | emit file "$path"
      ;;
    *.conf | *.kubeconfig | *.config | *.yaml) kubeconfig "$f" | emit file "$path" ;;
    *.crt | *.pub) emit file "$path" <"$f" ;;
  esac
}

if ! command -v openssl >/dev/null 2>&1 || ! command -v base64 >/dev/null 2>&1; then
  echo "the image needs openssl and base64" >&2
  exit 3
fi
if [ ! -d "$root/etc" ] && [ ! -d "$root/var" ]; then
  echo "neither $root/etc nor $root/var is mounted" >&2
  exit 3
fi
rancher() { # the files of k3s or RKE2 ($1), as layout_k3s.cpp lists them
  printf '%s\n' "$root/var/lib/rancher/$1/server/tls"/* "$root/var/lib/rancher/$1/server/tls/etcd"/* \
    "$root/var/lib/rancher/$1/agent"/*.crt "$root/var/lib/rancher/$1/agent"/*.key \
    "$root/etc/rancher/$1/$1.yaml"
}
microk8s="$root/var/snap/microk8s/current"
static="$root/etc/kubernetes/static-pod-resources"
candidates() {
  printf '%s\n' "$root"/etc/kubernetes/pki/* "$root"/etc/kubernetes/pki/etcd/* \
    "$root"/etc/kubernetes/*.conf "$root"/var/lib/kubelet/pki/*
  rancher k3s
  rancher rke2
  printf '%s\n' "$microk8s"/certs/* "$microk8s"/credentials/*.config \
    "$microk8s"/var/kubernetes/backend/cluster.crt "$microk8s"/var/kubernetes/backend/cluster.key \
    "$static"/*-certs/secrets/*/* "$static"/*-certs/configmaps/*/ca-bundle.crt
}
# One path a line: split on newlines only, and no globbing of what the globs found.
files=$(candidates)
set -f
IFS='
'
for f in $files; do
  if [ -f "$f" ]; then
    one "$f"
    count=$((count + 1))
  fi
done
echo "done $count"
