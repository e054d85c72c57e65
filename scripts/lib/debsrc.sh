# shellcheck shell=bash
# Sourced by the build scripts: Debian source packages, fetched with apt from the mirrors the
# machine already uses, in a private apt state (nothing of the system's apt configuration
# changes). Every dependency built from source (the static libcurl of the linux archives, the
# cross-built libraries of the other platforms) comes from here, so its version and Debian's
# security patches match what Debian ships.
#
#   debian_source PACKAGE[=VERSION] DEST   unpacks the source into DEST (which must not exist);
#                                          without a version, or when that version is gone from
#                                          the mirror, the mirror's current one
#   debian_source_version PACKAGE          the newest version the mirrors list (a cache key)
#
# Both print progress on stderr only.

_debsrc_state=""

# The private apt state (deb-src lines for the configured mirrors), made once per shell.
_debsrc_init() {
  [ -n "$_debsrc_state" ] && return
  _debsrc_state=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$_debsrc_state'" EXIT
  mkdir -p "$_debsrc_state/lists/partial"
  apt-get indextargets --no-release-info --format '$(URI)' 'Created-By: Packages' |
    sed -n 's|^\(.*\)/dists/\([^/]*\)/main/binary-[^/]*/Packages$|deb-src \1 \2 main|p' |
    sort -u >"$_debsrc_state/sources.list"
  if [ ! -s "$_debsrc_state/sources.list" ]; then
    echo "debsrc: error: no Debian mirror in the apt configuration" >&2
    return 1
  fi
  _debsrc_apt=(-q -o Dir::Etc::SourceList="$_debsrc_state/sources.list"
    -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists="$_debsrc_state/lists"
    -o APT::Sandbox::User=root)
  apt-get "${_debsrc_apt[@]}" update >&2
}

debian_source_version() {
  _debsrc_init || return 1
  _debsrc_versions "$1" | head -1
}

# Every version the mirrors list for PACKAGE, newest first.
_debsrc_versions() {
  apt-cache "${_debsrc_apt[@]}" showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' |
    sort -urV
}

debian_source() {
  local spec=$1 dest=$2 package=${1%%=*} work version
  _debsrc_init || return 1
  work=$(mktemp -d)
  # The version asked for, then the others newest first: a mirror may list a version (a
  # security update) whose files it does not serve.
  for version in $([ "$spec" = "$package" ] || echo "${spec#*=}") $(_debsrc_versions "$package"); do
    if (cd "$work" && apt-get "${_debsrc_apt[@]}" source --download-only "$package=$version" >&2); then
      (cd "$work" && dpkg-source -x ./"${package}_${version#*:}.dsc" "$dest" >&2)
      local rc=$?
      rm -rf "$work"
      return $rc
    fi
    rm -rf "${work:?}"/*
  done
  rm -rf "$work"
  echo "debsrc: error: no version of the source package $package could be fetched" >&2
  return 1
}
