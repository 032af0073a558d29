#!/usr/bin/env bash
# bbftp throughput on loopback, measured in one run against the machine's own limits and against
# the real bbftp 3.x pair:
#   - iperf3 over loopback (TCP ceiling) and cp of the file tmpfs -> tmpfs (copy ceiling);
#   - a 1 GiB file in /dev/shm put to and got from /dev/shm, with -p 1 and -p 4, wall clock of the
#     whole client run including login, best of RUNS, alternating: our pair with the extension
#     (sealed channel, proven streams, end-to-end checksums: the default), our pair in plain
#     protocol 3 (--extension off), and the real pair.
# Both daemons serve the same throw-away system account (so both need root) in the same way.
# Usage: sudo bench/bbftp.sh [BUILD_DIR]   with FERRY_REAL_BBFTP and FERRY_REAL_BBFTPD set to the
# real client and daemon (built outside this repository); without them only our pair is measured.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/daemon.sh"
build=$(cd "${1:-build}" && pwd)
runs=${RUNS:-5}
size_mib=${SIZE_MIB:-1024}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench/bbftp.sh: needs root (system-account logins)" >&2; exit 1; }

user=ferrybench$$
password="bench-$RANDOM$RANDOM"
work=$(mktemp -d /dev/shm/ferry-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pkill -u "$user" 2>/dev/null || true
  for _ in $(seq 1 50); do pgrep -u "$user" >/dev/null || break; sleep 0.05; done
  userdel -r "$user" >/dev/null 2>&1 || true
  remove_bbftpd_accounts
  rm -rf "$work"
}
trap cleanup EXIT
useradd -m "$user"
echo "$user:$password" | chpasswd
chown "$user" "$work"
chmod 755 "$work"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
min() { if [ -z "$1" ] || (($(echo "$2 < $1" | bc -l))); then echo "$2"; else echo "$1"; fi; }

# Baselines.
iperf3 -s -1 -p 5299 -B 127.0.0.1 >/dev/null 2>&1 &
pids+=($!)
sleep 0.3
iperf_gbs=$(iperf3 -c 127.0.0.1 -p 5299 -t 3 -J | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/8e9)')
head -c $((size_mib << 20)) /dev/urandom >"$work/src.bin"
chown "$user" "$work/src.bin"
best_cp=
for _ in 1 2 3; do
  t0=$(now); cp "$work/src.bin" "$work/cp.bin"; t1=$(now); rm -f "$work/cp.bin"
  best_cp=$(min "$best_cp" "$(elapsed "$t0" "$t1")")
done

# Daemons: ours in the foreground; the real one behind a minimal inetd, as its docs describe.
make_bbftpd_accounts "ferry-b$$"
"$build/apps/bbftpd" --foreground --listen 127.0.0.1 -w 0 -l info --state-dir "$work/state" \
  "${bbftpd_account_options[@]}" \
  >"$work/ours.log" 2>&1 &
pids+=($!)
our_port=$(wait_for_port "$work/ours.log") || our_port=
[ -n "$our_port" ] || { cat "$work/ours.log"; exit 1; }

have_real=0
if [ -n "${FERRY_REAL_BBFTP:-}" ] && [ -n "${FERRY_REAL_BBFTPD:-}" ]; then
  have_real=1
  cc -shared -fPIC -o "$work/shim.so" "$here/../tests/interop/getpass_shim.c"
  python3 "$here/../tests/interop/inetd.py" 127.0.0.1 0 "$FERRY_REAL_BBFTPD" >"$work/real.port" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 1 100); do [ -s "$work/real.port" ] && break; sleep 0.05; done
  real_port=$(head -1 "$work/real.port")
fi

ours_client() {
  BBFTP_PASSWORD=$password "$build/apps/bbftp" --known-hosts "$work/known_hosts" -u "$user" \
    -w "$our_port" -r 1 "$@" 127.0.0.1 >/dev/null
}
plain_client() { ours_client --extension off "$@"; }
real_client() {
  BBFTP_PASSWORD=$password LD_PRELOAD=$work/shim.so "$FERRY_REAL_BBFTP" -u "$user" -w "$real_port" \
    -r 1 "$@" 127.0.0.1 >/dev/null
}
timed() {
  local t0 t1
  t0=$(now)
  "$@" || { echo "bench: $* failed" >&2; exit 1; }
  t1=$(now)
  elapsed "$t0" "$t1"
}

printf '\n%-14s %10s %10s %9s %10s %8s\n' "1 GiB /dev/shm" "ext (s)" "p3 (s)" "ext/p3" \
  "real (s)" "speedup"
for streams in 1 4; do
  for dir in put get; do
    best_ours=
    best_plain=
    best_real=
    for _ in $(seq 1 "$runs"); do
      rm -f "$work/dst.bin" "$work/back.bin"
      if [ "$dir" = put ]; then
        cmd=(-p "$streams" -e "put $work/src.bin $work/dst.bin")
      else
        cp "$work/src.bin" "$work/dst.bin"
        cmd=(-p "$streams" -e "get $work/dst.bin $work/back.bin")
      fi
      best_ours=$(min "$best_ours" "$(timed ours_client "${cmd[@]}")")
      rm -f "$work/back.bin"
      [ "$dir" = put ] && rm -f "$work/dst.bin"
      best_plain=$(min "$best_plain" "$(timed plain_client "${cmd[@]}")")
      if [ "$have_real" = 1 ]; then
        rm -f "$work/back.bin"
        [ "$dir" = put ] && rm -f "$work/dst.bin"
        best_real=$(min "$best_real" "$(timed real_client "${cmd[@]}")")
      fi
    done
    ratio=$(echo "$best_ours / $best_plain" | bc -l)
    if [ "$have_real" = 1 ]; then
      printf '%-14s %10.3f %10.3f %9.3f %10.3f %7.2fx\n' "$dir -p $streams" "$best_ours" \
        "$best_plain" "$ratio" "$best_real" "$(echo "$best_real / $best_ours" | bc -l)"
    else
      printf '%-14s %10.3f %10.3f %9.3f %10s %8s\n' "$dir -p $streams" "$best_ours" \
        "$best_plain" "$ratio" "-" "-"
    fi
  done
done
gib=$(echo "$size_mib / 1024" | bc -l)
printf '\nbaselines: iperf3 loopback %.2f GB/s; cp tmpfs->tmpfs %.3f s (%.2f GiB/s)\n' \
  "$iperf_gbs" "$best_cp" "$(echo "$gib / $best_cp" | bc -l)"
