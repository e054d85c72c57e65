#!/usr/bin/env bash
# darwin/arm64: scripts/platform/darwin_arm64.sh --build DIR [--tests]; see scripts/platform/darwin.sh.
exec "$(dirname "$0")/darwin.sh" arm64 "$@"
