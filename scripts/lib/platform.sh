# The common start of every scripts/platform/<os>_<arch>.sh: its arguments, its caches and its
# messages. The script sets root and name (<os>_<arch>), sources this file, then calls
#   platform_args "$0" "$@"      # --build DIR [--tests] | --help (the script's header comment)
# which sets build (made, absolute) and tests (ON/OFF). Also set here: kp_cache
# ($KP_CACHE_DIR, default ~/.cache/kplugins-lab), cache (the platform's dependency builds, keyed
# by version inside), jobs, ccache's environment, and log and die (messages named after the
# platform, on stderr; die exits 1).
# shellcheck shell=bash
kp_cache=${KP_CACHE_DIR:-$HOME/.cache/kplugins-lab}
cache=$kp_cache/platform/$name
jobs=2
export CCACHE_DIR=${CCACHE_DIR:-$kp_cache/ccache}
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
log() { echo "$name: $*" >&2; }
die() {
  echo "$name: error: $*" >&2
  exit 1
}
usage_error() {
  echo "$name: error: $*; see $script --help" >&2
  exit 2
}
# platform_deps CMAKE-BUILD-DIR PREFIX...: before configuring the project in CMAKE-BUILD-DIR
# against the dependency builds at PREFIX...: when they differ from those it was configured with
# (a new version or recipe is a new prefix), its CMake cache goes, or find_package would keep
# linking the old libraries it found there.
platform_deps() {
  local dir=$1 stamp
  shift
  stamp=$(printf '%s\n' "$@")
  if [ -e "$dir/CMakeCache.txt" ] && [ "$(cat "$dir/.kp-deps" 2>/dev/null)" != "$stamp" ]; then
    log "the dependencies changed: configuring $dir afresh"
    rm -f "$dir/CMakeCache.txt"
  fi
  mkdir -p "$dir"
  printf '%s\n' "$stamp" >"$dir/.kp-deps"
}

platform_args() { # SCRIPT ARGS...
  script=$1
  shift
  build=""
  tests=OFF
  while [ $# -gt 0 ]; do
    case $1 in
    --build)
      [ $# -ge 2 ] || usage_error "--build needs a directory"
      build=$2
      shift 2
      ;;
    --tests) tests=ON && shift ;;
    -h | --help)
      # The header comment, from its second line to the first line that is not a comment.
      sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$script"
      exit 0
      ;;
    *) usage_error "unknown argument \"$1\"" ;;
    esac
  done
  [ -n "$build" ] || usage_error "--build DIR is required"
  mkdir -p "$build"
  build=$(cd "$build" && pwd -P)
}
