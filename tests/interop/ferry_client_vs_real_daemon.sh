#!/usr/bin/env bash
# Interop: our bbftp against the real bbftpd 3.x (FERRY_REAL_BBFTPD), run inetd-style as its
# documentation describes, serving a throw-away system account (so: root only). Protocols 3 and 2,
# 1 and 4 streams, with and without compression, 0 B and 64 MiB files, every command.
# With "v1" as second argument: protocol 1 against FERRY_REAL_BBFTPD_V1, a real bbftpd built with
# protocol 1 support (mkdir, cd, put and get plain and compressed with 1 and 3 streams, dir).
# Usage: ferry_client_vs_real_daemon.sh BBFTP [v1]
set -euo pipefail
bbftp=$1
mode=${2:-v3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
if [ "$mode" = v1 ]; then
  real=${FERRY_REAL_BBFTPD_V1:-}
  [ -n "$real" ] || skip "set FERRY_REAL_BBFTPD_V1 to a real bbftpd built with protocol 1 support"
else
  real=${FERRY_REAL_BBFTPD:-}
  [ -n "$real" ] || skip "set FERRY_REAL_BBFTPD to a real bbftpd 3.x to run this test"
fi
[ -x "$real" ] || skip "$real is not executable"
[ "$(id -u)" -eq 0 ] || skip "the real bbftpd checks system accounts: run as root"
command -v python3 >/dev/null || skip "python3 is needed for the inetd helper"

user=ferryint$$
useradd -m "$user"
echo "$user:$password" | chpasswd
remove_user() {
  pkill -u "$user" 2>/dev/null || true  # sessions of the real daemon still running as the user
  for _ in $(seq 1 50); do pgrep -u "$user" >/dev/null || break; sleep 0.05; done
  userdel -r "$user" >/dev/null 2>&1 || true
}
trap 'cleanup; remove_user' EXIT
python3 "$here/inetd.py" 127.0.0.1 0 "$real" >"$work/port" 2>/dev/null &
daemon_pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(head -1 "$work/port")
[ -n "$port" ] || fail "inetd helper did not start"

head -c $((64 << 20)) /dev/urandom >"$work/big"
: >"$work/zero"
chmod 644 "$work/big" "$work/zero"
runs=0
if [ "$mode" = v1 ]; then
  head -c 1000000 /dev/urandom >"$work/big"  # as session 5: 1 MB over 3 streams
  n=0
  for flags in "-p 1" "-p 3" "-p 1 -c" "-p 3 -c"; do
    n=$((n + 1))
    rm -f "$work"/*.back
    # shellcheck disable=SC2086
    out=$(BBFTP_PASSWORD=$password timeout 120 "$bbftp" -u "$user" -w "$port" -r 1 --protocol 1 $flags \
      -e "mkdir d$n; cd d$n; put $work/big big; get big $work/big.back; put $work/zero zero; get zero $work/zero.back; dir *; cd .." 127.0.0.1) ||
      fail "$flags: $out"
    [ "$(echo "$out" | grep -c ' OK$')" -eq 8 ] || fail "$flags: expected 8 OK lines: $out"
    cmp "$work/big" "$work/big.back" || fail "$flags: file differs"
    [ -f "$work/zero.back" ] && [ ! -s "$work/zero.back" ] || fail "$flags: empty file not recreated"
    runs=$((runs + 1))
    echo "ok: our client --protocol 1 $flags against the real v1 bbftpd: 8 commands OK"
  done
  echo "$runs passed, 0 failed"
  exit 0
fi
for flags in "-p 1" "-p 4" "-p 1 -c" "-p 4 -c" "-D -p 1" "-D -p 4" "-D -p 4 -c"; do
  rm -f "$work"/*.back
  # shellcheck disable=SC2086
  out=$(BBFTP_PASSWORD=$password timeout 120 "$bbftp" -u "$user" -w "$port" -r 1 $flags \
    -e "mkdir d; cd d; put $work/big big; get big $work/big.back; put $work/zero zero; get zero $work/zero.back; dir .; stat big; df .; rm big; rm zero; cd .." 127.0.0.1) ||
    fail "$flags: $out"
  [ "$(echo "$out" | grep -c ' OK$')" -eq 12 ] || fail "$flags: expected 12 OK lines: $out"
  cmp "$work/big" "$work/big.back" || fail "$flags: 64 MiB file differs"
  [ -f "$work/zero.back" ] && [ ! -s "$work/zero.back" ] || fail "$flags: empty file not recreated"
  runs=$((runs + 1))
  echo "ok: our client $flags against the real bbftpd: 12 commands OK, files identical"
done
echo "$runs passed, 0 failed"
