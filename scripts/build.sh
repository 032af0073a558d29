#!/usr/bin/env bash
# Configures and builds one tree. Usage: scripts/build.sh DIR [cmake options...]
# Warnings are errors: the project targets Debian 12's g++ 12 and clang 14 exactly.
set -euo pipefail
dir=$1
shift
cmake -S "$(dirname "$0")/.." -B "$dir" -G Ninja -DFERRY_WERROR=ON "$@"
cmake --build "$dir" -j "$(nproc)"
