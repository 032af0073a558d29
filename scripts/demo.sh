#!/usr/bin/env bash
# A first look at the built programs. Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
for p in bbftp bbftpd xftp xftpd; do
  "$build/apps/$p" --version
done
echo
"$build/apps/bbftpd" --help
