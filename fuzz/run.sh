#!/bin/sh
# Runs one libFuzzer target on a scratch copy of its seed corpus (fuzz/corpus/NAME is never
# written) for SECONDS and prints one summary line. Any crash, sanitizer report, leak, timeout
# (10 s per input) or OOM (2 GiB) makes it exit non-zero.
#   fuzz/run.sh NAME SECONDS
# KP_FUZZ_BIN_DIR: where fuzz_NAME is (default: build-fuzz/fuzz next to this script's parent);
# KP_FUZZ_ARTIFACTS: where crashing inputs are kept (default: $KP_FUZZ_BIN_DIR/artifacts).
set -eu
if [ $# -ne 2 ]; then
  echo "usage: $0 NAME SECONDS" >&2
  exit 2
fi
name=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=${KP_FUZZ_BIN_DIR:-$here/../build-fuzz/fuzz}
artifacts=${KP_FUZZ_ARTIFACTS:-$bin_dir/artifacts}
binary=$bin_dir/fuzz_$name
seeds=$here/corpus/$name
if [ ! -x "$binary" ]; then
  echo "fuzz $name: no binary $binary (configure with -DKP_FUZZ=ON and build)" >&2
  exit 2
fi
if [ ! -d "$seeds" ]; then
  echo "fuzz $name: no seed corpus $seeds" >&2
  exit 2
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/kp-fuzz-$name.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
mkdir -p "$scratch/corpus" "$artifacts"
cp "$seeds"/* "$scratch/corpus/"
seed_files=$(ls "$scratch/corpus" | wc -l)
dict=""
if [ -f "$here/$name.dict" ]; then
  dict="-dict=$here/$name.dict"
fi
log=$scratch/log
status=0
# Inside the scratch directory: relative paths a target might touch stay there.
(cd "$scratch" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/$name-" -print_final_stats=1 $dict corpus) >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
files=$(ls "$scratch/corpus" | wc -l)
bytes=$(cat "$scratch/corpus"/* | wc -c)
if [ "$status" -ne 0 ]; then
  # The finding: libFuzzer's report and the saved input.
  tail -n 60 "$log"
  seed=$(sed -n 's/^INFO: Seed: *//p' "$log" | head -n 1)
  echo "fuzz $name: FAILED (exit $status) after ${runs:-?} executions (seed ${seed:-?}); input saved under $artifacts/$name-*"
  echo "fuzz $name: replay with: $binary $artifacts/$name-<file>"
  exit 1
fi
echo "fuzz $name: ${runs:-?} executions in ${took:-$seconds} s, corpus $files files / $bytes bytes (seed $seed_files files), no crash"
