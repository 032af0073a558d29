#!/usr/bin/env bash
# Fuzzes every target for SECONDS each (libFuzzer, clang, ASan + UBSan), starting from its
# checked-in corpus, and prints per target the executions, libFuzzer's coverage (cov:, ft:) and
# the corpus size reached. Fails on any crash, leak or sanitizer report, keeping the reproducer
# (crash-*, leak-*) and the log in the scratch directory it names. New corpus inputs are kept in
# that directory too, never written back to fuzz/corpus by this script.
# Usage: fuzz/run.sh SECONDS [JOBS] [TARGET...]   (JOBS targets at once; default 1)
#        FERRY_FUZZ_RUNS=N fuzz/run.sh ...        also stop a target after N executions
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [JOBS] [TARGET...]}
jobs=${2:-1}
shift $(($# >= 2 ? 2 : 1))
build=build-fuzz
if [ ! -x "$build/fuzz/fuzz_bbftp_decode" ] || [ -n "${FERRY_FUZZ_REBUILD:-}" ]; then
  CC=clang CXX=clang++ bash scripts/build.sh "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFERRY_FUZZ=ON -DFERRY_BENCH=OFF -DFERRY_TESTS=OFF >/tmp/ferry-fuzz-build.log 2>&1 ||
    { tail -30 /tmp/ferry-fuzz-build.log; exit 1; }
else
  ninja -C "$build" >/tmp/ferry-fuzz-build.log 2>&1 || { tail -30 /tmp/ferry-fuzz-build.log; exit 1; }
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do targets+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
out=$(mktemp -d /tmp/ferry-fuzz-XXXXXX)
echo "fuzz/run.sh: ${#targets[@]} targets, $seconds s each, $jobs at once; work in $out"

run_one() {
  local t=$1 dir="$out/$1"
  mkdir -p "$dir/corpus"
  cp -r "fuzz/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$OLDPWD/$build/fuzz/fuzz_$t" -max_total_time="$seconds" ${FERRY_FUZZ_RUNS:+-runs=$FERRY_FUZZ_RUNS} -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 corpus >"$dir/log" 2>&1) && echo ok >"$dir/status" ||
    echo failed >"$dir/status"
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

failed=0
printf '%-24s %14s %10s %8s %8s %8s  %s\n' target executions exec/s cov ft corpus result
for t in "${targets[@]}"; do
  log="$out/$t/log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: [0-9]+' | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
  result=$(cat "$out/$t/status")
  if [ "$result" != ok ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    result="FAILED (see $log)"
    failed=$((failed + 1))
  fi
  printf '%-24s %14s %10s %8s %8s %8s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$result"
done
[ "$failed" -eq 0 ] || { echo "fuzz/run.sh: $failed target(s) failed"; exit 1; }
echo "fuzz/run.sh: no crash, leak or sanitizer report"
