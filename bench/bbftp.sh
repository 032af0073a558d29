#!/usr/bin/env bash
# bbftp throughput on loopback, measured in one run against the machine's own limits and against
# the real bbftp 3.x pair:
#   - iperf3 over loopback (TCP ceiling) and cp of the file tmpfs -> tmpfs (copy ceiling);
#   - a 1 GiB file in /dev/shm put to and got from /dev/shm, with -p 1 and -p 4, wall clock of the
#     whole client run including login, median of RUNS, alternating: our pair with the extension
#     (sealed channel, proven streams, end-to-end checksums: the default), our pair in plain
#     protocol 3 (--extension off), and the real pair; for our two, also the machine's CPU time
#     during the same runs (median).
# Both daemons serve the same throw-away system account (so both need root) in the same way.
# Usage: sudo bench/bbftp.sh [BUILD_DIR]   with FERRY_REAL_BBFTP and FERRY_REAL_BBFTPD set to the
# real client and daemon (built outside this repository); without them only our pair is measured.
# QUIET_MEMORY=1: on a virtual machine whose balloon reports free pages to the host (the main
# noise here, docs/performance.md), stop the reporting for the run (page_reporting_order above
# the largest order) and restore it at the end; the script says when it does.
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
reporting=/sys/module/page_reporting/parameters/page_reporting_order
reporting_was=
if [ "${QUIET_MEMORY:-0}" = 1 ] && [ -w "$reporting" ]; then
  reporting_was=$(cat "$reporting")
  echo 11 >"$reporting"
  echo "free page reporting stopped for the run (page_reporting_order $reporting_was -> 11)"
fi
trap 'cleanup; [ -z "$reporting_was" ] || echo "$reporting_was" >"$reporting"' EXIT
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
our_daemon_pid=$!
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
  "$@" || return 1
  t1=$(now)
  elapsed "$t0" "$t1"
}
# CPU time, in clock ticks, beside the wall clock: on a shared 2-core virtual machine the wall
# clock of the same binary spreads widely (writing into memory the host has taken back is slow:
# docs/performance.md), CPU time less, and our two variants are compared on both. The ticks are
# the whole machine's busy time (/proc/stat: user, nice, system, irq, softirq), so that they hold
# the client, the daemon's session and the kernel's work for them (loopback's receive side runs
# in softirqs, charged to whoever is on the CPU) alike; run it on an otherwise idle machine.
# ours_measured CLIENT ARGS...: one run of an our-pair client; prints "WALL TICKS".
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
ours_measured() {
  local b0 b1 t0 t1
  b0=$(busy_ticks)
  t0=$(now)
  "$@" || return 1
  t1=$(now)
  # The daemon's session ends just after the client: until the listener has reaped it.
  for _ in $(seq 1 200); do pgrep -P "$our_daemon_pid" >/dev/null || break; sleep 0.01; done
  b1=$(busy_ticks)
  echo "$(elapsed "$t0" "$t1") $((b1 - b0))"
}
# median VALUES...
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
  if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fail_run() { echo "bench: $* failed" >&2; exit 1; }

printf '\n%-14s %9s %9s %7s %9s %9s %7s %9s %8s\n' "$size_mib MiB shm" "ext (s)" "p3 (s)" \
  "ext/p3" "ext cpu" "p3 cpu" "ext/p3" "real (s)" "speedup"
for streams in 1 4; do
  for dir in put get; do
    ext_wall=() ext_cpu=() p3_wall=() p3_cpu=() real_wall=()
    for i in $(seq 1 "$runs"); do
      rm -f "$work/dst.bin" "$work/back.bin"
      if [ "$dir" = put ]; then
        cmd=(-p "$streams" -e "put $work/src.bin $work/dst.bin")
      else
        cp "$work/src.bin" "$work/dst.bin"
        cmd=(-p "$streams" -e "get $work/dst.bin $work/back.bin")
      fi
      # Our two in turn, each first every other run (ABBA), so that neither always inherits
      # the state the other left behind.
      order=(ext p3)
      [ $((i % 2)) -eq 0 ] && order=(p3 ext)
      for v in "${order[@]}"; do
        rm -f "$work/back.bin"
        [ "$dir" = put ] && rm -f "$work/dst.bin"
        if [ "$v" = ext ]; then
          read -r w c < <(ours_measured ours_client "${cmd[@]}" || echo fail)
          [ -n "${c:-}" ] || fail_run "ours ${cmd[*]}"
          ext_wall+=("$w") ext_cpu+=("$c")
        else
          read -r w c < <(ours_measured plain_client "${cmd[@]}" || echo fail)
          [ -n "${c:-}" ] || fail_run "ours --extension off ${cmd[*]}"
          p3_wall+=("$w") p3_cpu+=("$c")
        fi
      done
      if [ "$have_real" = 1 ]; then
        rm -f "$work/back.bin"
        [ "$dir" = put ] && rm -f "$work/dst.bin"
        w=$(timed real_client "${cmd[@]}") || fail_run "real ${cmd[*]}"
        real_wall+=("$w")
      fi
    done
    ew=$(median "${ext_wall[@]}") pw=$(median "${p3_wall[@]}")
    ec=$(median "${ext_cpu[@]}") pc=$(median "${p3_cpu[@]}")
    if [ "$have_real" = 1 ]; then
      rw=$(median "${real_wall[@]}")
      real_cols=$(printf '%9.3f %7.2fx' "$rw" "$(echo "$rw / $ew" | bc -l)")
    else
      real_cols=$(printf '%9s %8s' - -)
    fi
    printf '%-14s %9.3f %9.3f %7.3f %9.1f %9.1f %7.3f %s\n' "$dir -p $streams" "$ew" "$pw" \
      "$(echo "$ew / $pw" | bc -l)" "$ec" "$pc" "$(echo "$ec / $pc" | bc -l)" "$real_cols"
  done
done
echo "(medians of $runs alternating runs; cpu: the machine's busy ticks during each," \
  "$(getconf CLK_TCK) a second)"
gib=$(echo "$size_mib / 1024" | bc -l)
printf '\nbaselines: iperf3 loopback %.2f GB/s; cp tmpfs->tmpfs %.3f s (%.2f GiB/s)\n' \
  "$iperf_gbs" "$best_cp" "$(echo "$gib / $best_cp" | bc -l)"
