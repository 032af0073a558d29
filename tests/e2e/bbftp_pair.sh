#!/usr/bin/env bash
# End to end on loopback: our bbftp against our bbftpd (confined user of a password file), one
# scenario per run (one ctest entry each): transfers in protocol 3, 2 or 1 (1, 4 and 8 streams,
# with and without compression, files of 0 B, 1 B, buffer size -1/+0/+1 and 64 MiB); every
# command; protocol 1's own commands; bad logins; path escapes.
# Usage: bbftp_pair.sh BBFTP BBFTPD SCENARIO
set -euo pipefail
bbftp=$1
bbftpd=$2
scenario=$3
. "$(dirname "$0")/../interop/common.sh"
start_ferry_daemon "$bbftpd"

passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
client() { BBFTP_PASSWORD=$password timeout 120 "$bbftp" -u alice -w "$port" -r 1 --retry-wait 0 "$@" 127.0.0.1; }

mkdir -p "$work/local"
printf x >"$work/local/f1"
transfers() {
  local proto=$1
  : >"$work/local/f0"
  head -c $((256 * 1024 - 1)) /dev/urandom >"$work/local/fbm1"
  head -c $((256 * 1024)) /dev/urandom >"$work/local/fb"
  head -c $((256 * 1024 + 1)) /dev/urandom >"$work/local/fbp1"
  head -c $((64 << 20)) /dev/urandom >"$work/local/f64m"
  client -e "mkdir t" >/dev/null || fail "mkdir t"
  for streams in 1 4 8; do
    for gz in "" "-c"; do
      label="protocol $proto, $streams streams${gz:+, compressed}"
      cmds="cd t"
      for f in f0 f1 fbm1 fb fbp1 f64m; do
        cmds="$cmds; put $work/local/$f $f; get $f $work/local/$f.back"
      done
      out=$(client --protocol "$proto" -p "$streams" $gz -e "$cmds; cd ..") || fail "$label: $out"
      for f in f0 f1 fbm1 fb fbp1 f64m; do
        cmp "$work/local/$f" "$work/local/$f.back" || fail "$label: $f differs"
        cmp "$work/local/$f" "$work/root/t/$f" || fail "$label: stored $f differs"
        rm -f "$work/local/$f.back"
      done
      ok "$label: 6 files up and down, identical"
    done
  done
}

commands() {
  # Every command, with its output.
  head -c $((1 << 20)) /dev/urandom >"$work/local/f1m"
  client -e "mkdir t; cd t; put $work/local/f1 f1; put $work/local/f1m f1m" >/dev/null ||
    fail "the files for the commands"
  out=$(client -m -e "cd t; dir .; stat f1; df .; rm f1; mkdir sub/deeper; cd sub/deeper; cd /; setremoteumask 077; setoption nokeepmode; put $work/local/f1 private; stat private") ||
    fail "commands: $out"
  echo "$out" | grep -q '^ f ./f1m$' || fail "dir listing: $out"
  echo "$out" | grep -q '^stat [0-9]* 00100600 1 ' || fail "stat of a umask 077 file: $out"
  echo "$out" | grep -Eq '^df [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$' || fail "df: $out"
  [ ! -e "$work/root/t/f1" ] || fail "rm left the file"
  [ -d "$work/root/t/sub/deeper" ] || fail "mkdir is recursive with createdir"
  ok "dir, stat, df, rm, mkdir, cd, setremoteumask, setoption"
}

protocol1_commands() {
  # Protocol 1 has its own mkdir, cd and (glob) dir.
  out=$(client --protocol 1 -m -e "mkdir v1dir; cd v1dir; put $work/local/f1 one; dir *; cd ..") ||
    fail "protocol 1 commands: $out"
  echo "$out" | grep -q "one" || fail "protocol 1 dir: $out"
  cmp "$work/local/f1" "$work/root/v1dir/one" || fail "protocol 1 put"
  ok "protocol 1: mkdir, cd, put, dir"
}

bad_logins() {
  # Refusals: exit codes and texts.
  set +e
  out=$(BBFTP_PASSWORD=wrong timeout 30 "$bbftp" -u alice -w "$port" -r 1 -e "dir ." 127.0.0.1 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 100 ] && echo "$out" | grep -q "BBFTP-ERROR-00100 : Incorrect password" || fail "wrong password: $rc $out"
  set +e
  out2=$(BBFTP_PASSWORD=x timeout 30 "$bbftp" -u nobody -w "$port" -r 1 -e "dir ." 127.0.0.1 2>&1)
  rc2=$?
  set -e
  [ "$rc2" -eq 100 ] && [ "$out2" = "$out" ] || fail "unknown user must look like a wrong password: $out2"
  ok "wrong password and unknown user get the same answer (exit 100)"
}

path_escapes() {
  set +e
  out=$(client -e "get ../../../../etc/passwd $work/local/stolen; put $work/local/f1 ../escaped; cd ../..; cd /; dir /../.." 2>&1)
  set -e
  echo "$out" | grep -q "get ../../../../etc/passwd $work/local/stolen FAILED" || fail "escape get: $out"
  echo "$out" | grep -q "put $work/local/f1 ../escaped FAILED" || fail "escape put: $out"
  [ ! -e "$work/local/stolen" ] && [ ! -e "$work/escaped" ] || fail "something crossed the root"
  ok "paths outside the root are refused"
}

# Faults mid-transfer (a stream reset, a killed peer, a full disk ...): tests/faults.
case $scenario in
  transfers_p3) transfers 3 ;;
  transfers_p2) transfers 2 ;;
  transfers_p1) transfers 1 ;;
  commands | protocol1_commands | bad_logins | path_escapes) "$scenario" ;;
  *) fail "unknown scenario $scenario" ;;
esac
[ "$passed" -gt 0 ] || fail "nothing was checked"
echo "$passed passed, 0 failed"

