#!/usr/bin/env bash
# The README's first command: install dependencies, build a Release tree in build/, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
bash scripts/demo.sh build
