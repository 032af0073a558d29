#!/usr/bin/env bash
# Our xftp against our xftpd on loopback, legacy mode: every command and every error status with
# its exit code; 0 B, 1 B, 4095/4096/4097 B and 10 MB both ways; IPv6; 20 transfers at once; a
# repeated request answered from memory; an abandoned upload leaves nothing; malformed datagrams
# (short, wrong magic, bad UTF-8, "..", 64 KiB of garbage) leave the server serving.
# One scenario per run (one ctest entry each). Usage: xftp_pair.sh XFTP XFTPD SCENARIO
set -euo pipefail
xftp=$(realpath "$1")
xftpd=$(realpath "$2")
scenario=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../interop/common.sh"
. "$here/xftp_lib.sh"
xftp_options=(-t 10)
command -v python3 >/dev/null || skip "python3 sends the malformed datagrams"
mkdir -p "$work/root/sub/inner" "$work/local"
echo hello >"$work/root/hello.txt"
"$xftpd" --root "$work/root" --listen 127.0.0.1 --port 0 --idle-timeout 2 >"$work/xftpd.log" 2>&1 &
daemon_pid=$!
port=$(wait_for_port "$work/xftpd.log") || { cat "$work/xftpd.log"; fail "xftpd did not start"; }
server="127.0.0.1:$port"

printf x >"$work/local/f1"
head -c 4097 /dev/urandom >"$work/local/f4097"
head -c 10000000 /dev/urandom >"$work/local/f10000000"

ls() {
  run 0 "$server" ls
  [ "$(cat "$work/out")" = "$(printf 'sub/\nhello.txt')" ] || fail "ls: $(cat "$work/out")"
  run 0 "localhost:$port" ls /sub
  [ "$(cat "$work/out")" = "inner/" ] || fail "ls /sub: $(cat "$work/out")"
  run 3 "$server" ls /nope
  run 5 "$server" ls /hello.txt
  run 5 "$server" ls /../..
  ok "ls; NOT_FOUND 3, INVALID 5 (a file, a path out of the root)"
}

transfers() {
  for size in 0 1 4095 4096 4097 10000000; do
    head -c "$size" /dev/urandom >"$work/local/f$size"
    run 0 "$server" put "$work/local/f$size" /sub/
    wait_same "$work/local/f$size" "$work/root/sub/f$size" || fail "put $size differs"
    run 0 "$server" get "/sub/f$size" "$work/local/f$size.back"
    cmp "$work/local/f$size" "$work/local/f$size.back" || fail "get $size differs"
  done
  (cd "$work/local" && "$xftp" -q "$server" get /hello.txt) || fail "get into the current directory"
  cmp "$work/root/hello.txt" "$work/local/hello.txt" || fail "get with the default name"
  ok "put and get of 0 B, 1 B, 4095, 4096, 4097 B and 10 MB identical"
}

transfer_refusals() {
  run 4 "$server" put "$work/local/f1" /hello.txt
  run 6 "$server" put "$work/local/f1" /nodir/x
  run 8 "$server" put "$work/local/missing" /x
  run 3 "$server" get /nope "$work/local/nope"
  run 5 "$server" get /sub "$work/local/dir"
  run 5 "$server" get /../../etc/passwd "$work/local/pw"
  [ ! -e "$work/local/nope" ] && [ ! -e "$work/local/dir" ] && [ ! -e "$work/local/pw" ] ||
    fail "a refused get left a file"
  [ -z "$(find "$work/local" "$work/root" -name '.*')" ] || fail "a temporary file was left behind"
  ok "put/get refusals: exists 4, server error 6, local file 8, not found 3, invalid 5"
}

commands() {
  cp "$work/local/f1" "$work/root/sub/f1"
  run 0 "$server" mkdir /made
  [ -d "$work/root/made" ] || fail "mkdir"
  run 4 "$server" mkdir /made
  run 3 "$server" mkdir /nodir/made
  run 0 "$server" mv /hello.txt /made/moved.txt
  [ -f "$work/root/made/moved.txt" ] && [ ! -e "$work/root/hello.txt" ] || fail "mv"
  run 3 "$server" mv /hello.txt /x
  run 4 "$server" mv /sub/f1 /made/moved.txt
  run 5 "$server" rm /made
  run 0 "$server" rm /made/moved.txt
  run 3 "$server" rm /made/moved.txt
  run 0 "$server" rm /made
  run 5 "$server" rm /
  [ ! -e "$work/root/made" ] || fail "rm of a directory"
  ok "mkdir, mv, rm and their refusals (exists 4, not found 3, non-empty or root 5)"
}

concurrent() {
  cp "$work/local/f4097" "$work/root/sub/f4097"
  pids=()
  for i in $(seq 1 10); do
    "$xftp" -q "$server" put "$work/local/f10000000" "/sub/c$i" >"$work/c$i.out" 2>&1 &
    pids+=($!)
    "$xftp" -q "$server" get /sub/f4097 "$work/local/g$i" >"$work/g$i.out" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a concurrent transfer failed"; done
  for i in $(seq 1 10); do
    wait_same "$work/local/f10000000" "$work/root/sub/c$i" || fail "concurrent put $i"
    cmp "$work/local/f4097" "$work/local/g$i" || fail "concurrent get $i"
  done
  ok "20 transfers at once (10 puts of 10 MB, 10 gets)"
}

repeated_requests() {
  python3 - "$port" "$work/root" <<'PY' || fail "a repeated request"
import os, socket, sys
port, root = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
rid = os.urandom(8)
def ask(cmd, data):
    s.sendto(bytes([0xCF, 0, cmd]) + rid + data, ("127.0.0.1", port))
    return s.recvfrom(4096)[0]
first = ask(5, b"/twice")          # MKDIR
again = ask(5, b"/twice")          # the same request: answered from memory, not run again
assert first == again and first[1] == 1, (first, again)
up1 = ask(1, b"/sub/dup")          # UPLOAD
up2 = ask(1, b"/sub/dup")          # same port, no second transfer
assert up1 == up2 and up1[1] == 1, (up1, up2)
data = ("127.0.0.1", int.from_bytes(up1[11:13], "little"))
s.sendto(b"x" * 10, data)
assert s.recvfrom(4096)[0][1] == 6
s.sendto(b"", data)
# an upload abandoned half-way: nothing under its name, no temporary file, after the idle timeout
half = ask(1, b"/sub/half")
s.sendto(b"y" * 4096, ("127.0.0.1", int.from_bytes(half[11:13], "little")))
PY
  sleep 3
  [ -d "$work/root/twice" ] && [ "$(cat "$work/root/sub/dup")" = xxxxxxxxxx ] || fail "repeated requests"
  [ ! -e "$work/root/sub/half" ] && [ -z "$(find "$work/root" -name '.*')" ] || fail "abandoned upload left a file"
  ok "a repeated MKDIR or UPLOAD is answered identically and runs once; an abandoned upload leaves nothing"
}

malformed() {
  python3 - "$port" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in [b"", b"\xcf", b"\xcf\x00\x00" + b"\x01" * 7, b"\xd0" + b"\x00" * 20,
             b"\xcf\x00\x00" + b"\x01" * 8 + b"\xff\xfe", b"\xcf\x00\x02" + b"\x01" * 8 + b"/../x",
             b"\xcf\x00\x04" + b"\x01" * 8 + b"nonul", os.urandom(65000)]:
    s.sendto(junk, ("127.0.0.1", int(sys.argv[1])))
PY
  run 0 "$server" ls /sub
  kill -0 "$daemon_pid" || fail "xftpd died"
  ok "malformed datagrams leave the server serving"
}

ipv6() {
  if python3 -c 'import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1", 0))' 2>/dev/null; then
    printf 'root = "%s"\nlisten = "::1"\nport = 0\n' "$work/root" >"$work/xftpd6.conf"
    "$xftpd" --config "$work/xftpd6.conf" >"$work/xftpd6.log" 2>&1 &
    pid6=$!
    port6=$(wait_for_port "$work/xftpd6.log") || fail "xftpd on ::1 did not start"
    run 0 "[::1]:$port6" put "$work/local/f4097" /sub/v6
    wait_same "$work/local/f4097" "$work/root/sub/v6" || fail "put over IPv6"
    run 0 "[::1]:$port6" get /sub/v6 "$work/local/v6"
    cmp "$work/local/f4097" "$work/local/v6" || fail "get over IPv6"
    run 0 -P "$port6" ::1 ls /
    kill "$pid6"
    ok "IPv6 (server set up by a config file): put, get and ls with [::1]:PORT and a bare ::1"
  else
    echo "note: no IPv6 loopback here, IPv6 part not run"
  fi
}

case $scenario in
  ls | transfers | transfer_refusals | commands | concurrent | repeated_requests | malformed | ipv6) "$scenario" ;;
  *) fail "unknown scenario $scenario" ;;
esac
[ "$passed" -gt 0 ] || fail "nothing was checked"
echo "$passed passed, 0 failed"
