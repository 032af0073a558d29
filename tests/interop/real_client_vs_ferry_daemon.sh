#!/usr/bin/env bash
# Interop: the real bbftp 3.x client (FERRY_REAL_BBFTP) against our bbftpd, protocols 3 and 2,
# 1 and 4 streams, with and without compression, 0 B and 64 MiB files, every command.
# Usage: real_client_vs_ferry_daemon.sh BBFTPD GETPASS_SHIM
set -euo pipefail
bbftpd=$1
shim=$2
. "$(dirname "$0")/common.sh"
[ -n "${FERRY_REAL_BBFTP:-}" ] || skip "set FERRY_REAL_BBFTP to a real bbftp 3.x client to run this test"
[ -x "$FERRY_REAL_BBFTP" ] || skip "FERRY_REAL_BBFTP=$FERRY_REAL_BBFTP is not executable"
start_ferry_daemon "$bbftpd"

head -c $((64 << 20)) /dev/urandom >"$work/big"
: >"$work/zero"
head -c 3000 /dev/urandom >"$work/small"
client() {
  BBFTP_PASSWORD=$password LD_PRELOAD=$shim timeout 120 "$FERRY_REAL_BBFTP" -u alice -w "$port" "$@" 127.0.0.1
}

runs=0
for flags in "-p 1" "-p 4" "-p 1 -c" "-p 4 -c" "-D -p 1" "-D -p 4" "-D -p 4 -c"; do
  rm -f "$work"/*.back
  # shellcheck disable=SC2086
  out=$(client $flags -e "mkdir d; cd d; put $work/big big; get big $work/big.back; put $work/zero zero; get zero $work/zero.back; put $work/small small; dir .; stat small; df .; rm big; rm zero; rm small; cd ..") ||
    fail "$flags: exit $?: $out"
  echo "$out" | grep -q FAILED && fail "$flags: $out"
  [ "$(echo "$out" | grep -c ' OK$')" -eq 14 ] || fail "$flags: expected 14 OK lines: $out"
  cmp "$work/big" "$work/big.back" || fail "$flags: 64 MiB file differs"
  [ -f "$work/zero.back" ] && [ ! -s "$work/zero.back" ] || fail "$flags: empty file not recreated"
  runs=$((runs + 1))
  echo "ok: real client $flags: 14 commands OK, files identical"
done
[ -z "$(ls -A "$work/root/d")" ] || fail "files left behind: $(ls -A "$work/root/d")"
echo "$runs passed, 0 failed"
