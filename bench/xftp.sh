#!/usr/bin/env bash
# Legacy XFTP against its own ceiling, measured in one run on loopback (XFTP spec, section 3):
#   - the stop-and-wait ceiling: a minimal ping-pong of 4096-byte datagrams and 11-byte ACKs with
#     blocking calls (bench_xftp_pingpong), and the same ping-pong busy-polling;
#   - our `xftp --legacy` against our `xftpd`, put and get of a 64 MiB file /dev/shm -> /dev/shm,
#     wall clock of the whole command (start, request, transfer, rename), best of 3, once as
#     shipped (busy polling 50 us) and once with polling off on both sides (--busy-poll 0);
#   - the same put and get in extended mode (the default between our pair: acknowledged,
#     retransmitted, checksummed; docs/protocol/xftp-extended.md), against the same ceiling.
# Usage: bench/xftp.sh [BUILD_DIR]   (a Release build; default: build)
set -euo pipefail
build=${1:-build}
. "$(dirname "$0")/../scripts/lib/daemon.sh"
for b in apps/xftp apps/xftpd bench/bench_xftp_pingpong; do
  [ -x "$build/$b" ] || { echo "no $build/$b: build first (bash scripts/setup.sh)" >&2; exit 1; }
done
size_mib=64
dir=$(mktemp -d /dev/shm/ferry-xftp-bench-XXXXXX)
daemon=
cleanup() { [ -z "$daemon" ] || kill "$daemon" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
mkdir -p "$dir/root" "$dir/local"
head -c $((size_mib << 20)) /dev/urandom >"$dir/local/file"

ceiling=$("$build/bench/bench_xftp_pingpong" $((size_mib << 20)) 3 | cut -d' ' -f1)
polled=$("$build/bench/bench_xftp_pingpong" $((size_mib << 20)) 3 poll | cut -d' ' -f1)

now() { date +%s.%N; }
# best MiB/s of 3 runs of: xftp ARGS (put or get)
measure() {
  local poll=$1 what=$2 best=0 t0 t1 rate mode=(--legacy --busy-poll "$1")
  if [ "$poll" = extended ]; then mode=(); fi
  for _ in 1 2 3; do
    rm -f "$dir/root/file" "$dir/local/back"
    if [ "$what" = get ]; then cp "$dir/local/file" "$dir/root/file"; fi
    t0=$(now)
    if [ "$what" = put ]; then
      "$build/apps/xftp" "${mode[@]}" "127.0.0.1:$port" put "$dir/local/file" /file
    else
      "$build/apps/xftp" "${mode[@]}" "127.0.0.1:$port" get /file "$dir/local/back"
    fi
    t1=$(now)
    if [ "$what" = get ]; then cmp -s "$dir/local/file" "$dir/local/back" || { echo "get differs" >&2; exit 1; }; fi
    rate=$(echo "$size_mib / ($t1 - $t0)" | bc -l)
    if (( $(echo "$rate > $best" | bc -l) )); then best=$rate; fi
  done
  echo "$best"
}

results=()
for poll in 50 0; do
  "$build/apps/xftpd" --root "$dir/root" --listen 127.0.0.1 --port 0 --busy-poll "$poll" \
    >"$dir/xftpd.log" 2>&1 &
  daemon=$!
  port=$(wait_for_port "$dir/xftpd.log")
  results+=("$poll put $(measure "$poll" put)" "$poll get $(measure "$poll" get)")
  if [ "$poll" = 50 ]; then
    results+=("extended put $(measure extended put)" "extended get $(measure extended get)")
  fi
  kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=
done

printf 'stop-and-wait ceiling, blocking ping-pong (4096 B / 11 B ACK): %7.1f MiB/s\n' "$ceiling"
printf 'the same ping-pong, busy-polling:                               %7.1f MiB/s\n' "$polled"
for r in "${results[@]}"; do
  set -- $r
  label="xftp --legacy $2 ${size_mib} MiB, busy poll $1 us"
  [ "$1" = extended ] && label="xftp $2 ${size_mib} MiB, extended mode"
  printf '%-62s %7.1f MiB/s  %4.2fx blocking ceiling\n' "$label:" "$3" "$(echo "$3 / $ceiling" | bc -l)"
done
