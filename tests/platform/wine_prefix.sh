#!/usr/bin/env bash
# The wine prefix the windows/amd64 tests run in, one per build directory:
#   tests/platform/wine_prefix.sh start PREFIX   create PREFIX if absent (wineboot: ~25 s the
#                                                first time), then start its persistent wineserver
#   tests/platform/wine_prefix.sh stop PREFIX    kill that wineserver and every wine process of
#                                                PREFIX (CTest's FIXTURES_CLEANUP)
# A wine process starts in ~5 s when it has to start a wineserver, ~1 s when one is running:
# `start` leaves one running (`wineserver -p600`: it also ends by itself ten minutes after its
# last client, should `stop` never run). Wine creates sockets in the wineserver, so a binary run
# in a lab scenario's network namespace needs a wineserver started there: platform_test.py stops
# this one for that run and starts it again after.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 start|stop PREFIX" >&2; exit 2; }
action=$1
export WINEPREFIX=$2 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
case $action in
start)
  command -v wine >/dev/null && command -v wineserver >/dev/null ||
    { echo "wine_prefix: wine is missing: run scripts/setup.sh" >&2; exit 1; }
  start=$(($(date +%s%N) / 1000000))
  if [ ! -e "$WINEPREFIX/.kp-complete" ]; then
    rm -rf "$WINEPREFIX"
    mkdir -p "$WINEPREFIX"
    wineboot -i </dev/null >/dev/null 2>&1 ||
      { echo "wine_prefix: wineboot -i failed" >&2; exit 1; }
    wineserver -w
    touch "$WINEPREFIX/.kp-complete"
  fi
  # Neither the server nor the services the first wine process starts (winedevice...) may hold
  # CTest's output pipe: CTest would wait for them (ten minutes).
  # (It fails when the prefix's server runs already: that one is kept.)
  wineserver -p600 </dev/null >/dev/null 2>&1 || true
  wine cmd /c exit 0 </dev/null >/dev/null 2>&1 ||
    { echo "wine_prefix: wine cannot run cmd" >&2; exit 1; }
  echo "wine prefix $WINEPREFIX ready in $(($(date +%s%N) / 1000000 - start)) ms"
  ;;
stop)
  [ -d "$WINEPREFIX" ] || exit 0
  wineserver -k 2>/dev/null || true
  wineserver -w 2>/dev/null || true
  echo "wineserver of $WINEPREFIX stopped"
  ;;
*) echo "usage: $0 start|stop PREFIX" >&2; exit 2 ;;
esac
