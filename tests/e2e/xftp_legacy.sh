#!/usr/bin/env bash
# End to end on loopback: xftpd against a peer scripted to behave exactly as the original XFTP
# client: LIST, UPLOAD, DOWNLOAD of 0 B, 1 B, 4095/4096/4097 B and 10 MB files; every error
# status; DELETE, MKDIR, MOVE; malformed datagrams leave the server serving; 20 transfers at once.
# One scenario per run (one ctest entry each). Usage: xftp_legacy.sh XFTPD SCENARIO
set -euo pipefail
xftpd=$1
scenario=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../interop/common.sh"
. "$here/xftp_lib.sh"
command -v python3 >/dev/null || skip "python3 runs the scripted original peer"
mkdir -p "$work/root/sub" "$work/local"
echo hello >"$work/root/hello.txt"
"$xftpd" --root "$work/root" --listen 127.0.0.1 --port 0 --idle-timeout 5 >"$work/xftpd.log" 2>&1 &
daemon_pid=$!
port=$(wait_for_port "$work/xftpd.log") || port=
[ -n "$port" ] || { cat "$work/xftpd.log"; fail "xftpd did not start"; }
peer() { timeout 60 python3 "$here/xftp_original_peer.py" 127.0.0.1 "$port" "$@"; }

printf x >"$work/local/f1"
head -c 4097 /dev/urandom >"$work/local/f4097"

list() {
  [ "$(peer list /)" = 'OK {"dirs": ["sub"], "files": ["hello.txt"]}' ] || fail "list: $(peer list /)"
  [ "$(peer list /sub)" = 'OK {"dirs": [], "files": []}' ] || fail "list empty"
  ok "LIST as the original writes it"
}

transfers() {
  for size in 0 1 4095 4096 4097 10000000; do
    head -c "$size" /dev/urandom >"$work/local/f$size"
    [ "$(peer upload "$work/local/f$size" "/sub/f$size")" = OK ] || fail "upload $size"
    cmp "$work/local/f$size" "$work/root/sub/f$size" || fail "uploaded $size differs"
    [ "$(peer download "/sub/f$size" "$work/local/f$size.back")" = OK ] || fail "download $size"
    cmp "$work/local/f$size" "$work/local/f$size.back" || fail "downloaded $size differs"
  done
  ok "upload and download of 0 B, 1 B, 4095, 4096, 4097 B and 10 MB, identical"
}

errors() {
  [ "$(peer upload "$work/local/f1" /hello.txt)" = FILE_EXISTS ] || fail "upload over a file"
  [ "$(peer upload "$work/local/f1" /nodir/x)" = INTERNAL_ERROR ] || fail "upload into nothing"
  [ "$(peer download /nope "$work/local/nope")" = NOT_FOUND ] || fail "download missing"
  [ "$(peer download /sub "$work/local/dir")" = INVALID ] || fail "download a directory"
  [ "$(peer list /nope)" = "NOT_FOUND " ] || fail "list missing"
  [ "$(peer list /hello.txt)" = "INVALID " ] || fail "list a file"
  [ "$(peer list /../../etc)" = "INVALID " ] || fail "list outside the root"
  [ "$(peer download /../../etc/passwd "$work/local/pw")" = INVALID ] || fail "escape"
  [ ! -e "$work/local/pw" ] && [ ! -e "$work/local/nope" ] || fail "a failed download left a file"
  ok "every error status; no path leaves the root"
}

commands() {
  hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
  [ "$(peer raw 0 5 "$(hex /made)")" = "OK 11" ] && [ -d "$work/root/made" ] || fail "mkdir"
  [ "$(peer raw 0 5 "$(hex /made)")" = "FILE_EXISTS 11" ] || fail "mkdir twice"
  [ "$(peer raw 0 4 "$(hex /hello.txt)00$(hex /made/moved.txt)")" = "OK 11" ] || fail "move"
  [ -f "$work/root/made/moved.txt" ] || fail "moved file"
  [ "$(peer raw 0 3 "$(hex /made/moved.txt)")" = "OK 11" ] || fail "delete"
  [ "$(peer raw 0 3 "$(hex /made/moved.txt)")" = "NOT_FOUND 11" ] || fail "delete twice"
  [ "$(peer raw 0 3 "$(hex /)")" = "INVALID 11" ] || fail "delete the root"
  [ "$(peer raw 0 9 "$(hex /x)")" = "INVALID 11" ] || fail "unknown command"
  ok "MKDIR, MOVE, DELETE and unknown commands are answered"
}

malformed() {
  python3 - "$port" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in [b"", b"\xcf", b"\xcf\x00\x00" + b"\x01" * 7, b"\xd0" + b"\x00" * 20,
             b"\xcf\x00\x00" + b"\x01" * 8 + b"\xff\xfe", os.urandom(65000)]:
    s.sendto(junk, ("127.0.0.1", int(sys.argv[1])))
PY
  [ "$(peer list /sub | cut -c1-2)" = OK ] || fail "server stopped serving after malformed datagrams"
  ok "malformed datagrams (short, wrong magic, bad UTF-8, 64 KiB garbage) leave the server serving"
}

concurrent() {
  pids=()
  for i in $(seq 1 20); do
    peer upload "$work/local/f4097" "/sub/c$i" >"$work/c$i.out" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for i in $(seq 1 20); do
    [ "$(cat "$work/c$i.out")" = OK ] && cmp -s "$work/local/f4097" "$work/root/sub/c$i" || fail "concurrent $i"
  done
  ok "20 concurrent uploads"
}

case $scenario in
  list | transfers | errors | commands | malformed | concurrent) "$scenario" ;;
  *) fail "unknown scenario $scenario" ;;
esac
[ "$passed" -gt 0 ] || fail "nothing was checked"
echo "$passed passed, 0 failed"
