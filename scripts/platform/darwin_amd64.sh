#!/usr/bin/env bash
# darwin/amd64: scripts/platform/darwin_amd64.sh --build DIR [--tests]; see scripts/platform/darwin.sh.
exec "$(dirname "$0")/darwin.sh" amd64 "$@"
