#!/usr/bin/env bash
# Our xftp against a peer scripted to behave on the wire exactly as the original XFTP server
# (xftp_original_server.py): LIST, UPLOAD and DOWNLOAD of 0 B, 1 B, 4095/4096/4097 B and 10 MB with
# data overtaking the OK reply; every error status the original gives; the commands it never
# answers fail cleanly; stray replies are ignored; a lost LIST reply is retried while a lost
# UPLOAD/DOWNLOAD reply is never (one request on the wire); a download that stalls leaves nothing.
# Usage: xftp_client_vs_original.sh XFTP
set -euo pipefail
xftp=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../interop/common.sh"
. "$here/xftp_lib.sh"
xftp_options=(--legacy)
command -v python3 >/dev/null || skip "python3 runs the scripted original server"
mkdir -p "$work/root/sub" "$work/local"
echo hello >"$work/root/hello.txt"

peers=()
# start_peer NAME [hooks]: a scripted original server; sets $port.
start_peer() {
  local name=$1; shift
  python3 "$here/xftp_original_server.py" "$work/root" --requests "$work/$name.requests" "$@" \
    >"$work/$name.log" 2>&1 &
  peers+=($!)
  port=$(wait_for_port "$work/$name.log") || { cat "$work/$name.log"; fail "peer $name did not start"; }
}
stop_peers() { for p in "${peers[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'stop_peers; cleanup' EXIT

start_peer plain
run 0 "localhost:$port" ls /
[ "$(cat "$work/out")" = "$(printf 'sub/\nhello.txt')" ] || fail "ls: $(cat "$work/out")"
run 0 "127.0.0.1:$port" ls /sub
[ ! -s "$work/out" ] || fail "ls of an empty directory printed something"
ok "ls through 'localhost' and 127.0.0.1"

for size in 0 1 4095 4096 4097 10000000; do
  head -c "$size" /dev/urandom >"$work/local/f$size"
  run 0 "127.0.0.1:$port" put "$work/local/f$size" "/sub/f$size"
  wait_same "$work/local/f$size" "$work/root/sub/f$size" || fail "put $size differs"
  run 0 "127.0.0.1:$port" get "/sub/f$size" "$work/local/f$size.back"
  cmp "$work/local/f$size" "$work/local/f$size.back" || fail "get $size differs"
done
run 0 -P "$port" 127.0.0.1 get /hello.txt "$work/local/"
cmp "$work/root/hello.txt" "$work/local/hello.txt" || fail "get into a directory"
ok "put and get of 0 B, 1 B, 4095, 4096, 4097 B and 10 MB identical (data before the OK reply)"

run 4 "127.0.0.1:$port" put "$work/local/f1" /hello.txt
run 6 "127.0.0.1:$port" put "$work/local/f1" /nodir/x
run 3 "127.0.0.1:$port" get /nope "$work/local/nope"
run 3 "127.0.0.1:$port" ls /nope
run 5 "127.0.0.1:$port" ls /hello.txt
[ ! -e "$work/local/nope" ] || fail "a refused get left a file"
[ -z "$(find "$work/local" -name '.*')" ] || fail "a temporary file was left behind"
ok "FILE_EXISTS, INTERNAL_ERROR, NOT_FOUND, INVALID give exit codes 4, 6, 3, 5"

run 7 -t 2 "127.0.0.1:$port" mkdir /made
grep -q "no reply" "$work/err" || fail "mkdir: $(cat "$work/err")"
run 7 -t 2 "127.0.0.1:$port" rm /hello.txt
run 7 -t 2 "127.0.0.1:$port" mv /hello.txt /x
[ -f "$work/root/hello.txt" ] && [ ! -e "$work/root/made" ] || fail "an unanswered command did something"
ok "MKDIR, DELETE, MOVE (never answered by the original) fail with 'no reply', exit 7"

stop_peers; peers=()
start_peer lossy --drop-first 0 --drop-first 1 --drop-first 2
run 0 -t 10 "127.0.0.1:$port" ls /
[ "$(grep -c '^0 ' "$work/lossy.requests")" -ge 2 ] || fail "a lost LIST reply was not retried"
run 7 -t 2 "127.0.0.1:$port" put "$work/local/f4097" /sub/once
[ "$(grep -c '^1 ' "$work/lossy.requests")" = 1 ] || fail "UPLOAD was sent more than once"
run 7 -t 2 "127.0.0.1:$port" get /sub/f4097 "$work/local/once"
[ "$(grep -c '^2 ' "$work/lossy.requests")" = 1 ] || fail "DOWNLOAD was sent more than once"
[ ! -e "$work/local/once" ] || fail "a failed get left a file"
ok "a lost LIST reply is retried; UPLOAD and DOWNLOAD requests go out exactly once"

stop_peers; peers=()
start_peer stray --stray
run 0 "127.0.0.1:$port" get /sub/f10000000 "$work/local/stray"
cmp "$work/local/f10000000" "$work/local/stray" || fail "stray replies corrupted a get"
run 0 "127.0.0.1:$port" ls /
ok "replies from another address are ignored"

stop_peers; peers=()
start_peer stall --stall-after 100
rm -f "$work/local/stalled"
run 7 -t 2 "127.0.0.1:$port" get /sub/f10000000 "$work/local/stalled"
grep -q "interrupted" "$work/err" || fail "stalled get: $(cat "$work/err")"
[ ! -e "$work/local/stalled" ] && [ -z "$(find "$work/local" -name '.*')" ] ||
  fail "a stalled get left a partial file"
ok "a download that stalls fails after the timeout and leaves nothing behind"

echo "$passed passed, 0 failed"
