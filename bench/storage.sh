#!/usr/bin/env bash
# Storage write path against the machine's own limit, measured in one run:
#   cp of a 1 GiB file tmpfs -> tmpfs (read + write) versus our 1- and 4-stream atomic write
#   (write only, data from memory) into the same tmpfs, and checksum throughput.
# Usage: bench/storage.sh [BUILD_DIR]   (a Release build; default: build)
set -euo pipefail
build=${1:-build}
bin="$build/bench/bench_storage"
[ -x "$bin" ] || { echo "no $bin: build first (bash scripts/setup.sh)" >&2; exit 1; }
dir=$(mktemp -d /dev/shm/ferry-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT

head -c $((1 << 30)) /dev/zero > "$dir/src"
best_cp=
for _ in 1 2 3; do
  t0=$(date +%s.%N); cp "$dir/src" "$dir/dst"; t1=$(date +%s.%N); rm -f "$dir/dst"
  t=$(echo "$t1 - $t0" | bc -l)
  if [ -z "$best_cp" ] || (( $(echo "$t < $best_cp" | bc -l) )); then best_cp=$t; fi
done
rm -f "$dir/src"
cp_mibs=$(echo "1024 / $best_cp" | bc -l)

json=$(FERRY_BENCH_DIR="$dir" "$bin" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=json 2>/dev/null)
python3 - "$cp_mibs" <<PY
import json, sys
cp = float(sys.argv[1])
data = json.loads('''$json''')
rows = {}
for b in data["benchmarks"]:
    if b.get("aggregate_name") != "max" and b.get("aggregate_name") != "mean":
        continue
    if b.get("aggregate_name") == "mean":
        rows[b["run_name"]] = b["bytes_per_second"] / 2**20
print(f"cp tmpfs->tmpfs, 1 GiB (best of 3):   {cp:8.0f} MiB/s")
for name, mibs in rows.items():
    ratio = f"  ({mibs / cp:4.2f}x cp)" if "ParallelWrite" in name else ""
    print(f"{name:38s} {mibs:8.0f} MiB/s{ratio}")
PY
