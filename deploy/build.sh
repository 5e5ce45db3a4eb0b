#!/usr/bin/env bash
# Configure (once) and build Stormgate into build/ (or $SG_BUILD_DIR).
#   deploy/build.sh [extra meson setup options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builddir=${SG_BUILD_DIR:-$root/build}
if [ ! -f "$builddir/build.ninja" ]; then
	meson setup "$builddir" "$root" "$@" >/dev/null
fi
ninja -C "$builddir" >/dev/null
echo "$builddir"
