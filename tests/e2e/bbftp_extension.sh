#!/usr/bin/env bash
# The bbftp extension between our bbftp and our bbftpd (docs/protocol/bbftp-extended.md), on
# loopback, one scenario per run:
#   sealed          the host key is pinned at first use (-V shows its fingerprint, the daemon's
#                   log names the same), the login and commands go through the sealed channel,
#                   data streams are proven; transfers in 1 and 4 streams arrive identical; the
#                   key file is the monitor's alone
#   changed_key     a pin that does not match the daemon's key: refused before any credential
#                   (the daemon sees no login), with the command that clears the pin; after it,
#                   the new key is pinned and the transfer goes through
#   downgrade       a pinned daemon that stops announcing the extension: refused the same way
#   unproven_stream strangers on the client's host race it to the daemon's data ports with
#                   bytes that are not the session's proof: refused and logged, every transfer
#                   completes identical
#   extension_off   bbftp --extension off speaks plain protocol 3 to the same daemon
#   busy_pinned     our listener refusing a pinned client (its pre-login slots taken): the
#                   client hears "busy" and tries again (exit 33 after its tries), it does not
#                   call it a downgrade
#   checksums       -V shows the whole-file checksum, the same for the put and the get, and the
#                   daemon logs it; "checksum FILE" reads the stored file's (the same value);
#                   with --checksum sha256 it is the value computed here
#                   independently (SHA-256 over the size, the block size and each 1 MiB block's
#                   SHA-256); --checksum off moves the file without
#   changed_file    a file rewritten while it is being sent (put, then get): the transfer fails
#                   with "changed while being sent", nothing takes the target's name
#   truncated_file  a file cut short while it is being sent (put, then get): the transfer fails
#                   with "changed while being sent", nothing takes the target's name, and the
#                   daemon goes on serving
#   corrupt_in_flight a proxy on the path flips one byte of a data stream (put, then get): the
#                   bad block is detected, sent again, and the file arrives identical
#   resume_killed   a 512 MiB put, then get, whose client is killed (SIGKILL) mid-way: reput and
#                   reget continue from what arrived, identical, nothing left beside the file
#   corrupt_partial partial data damaged between the kill and the resume (on the daemon for a
#                   put, on the client for a get): the block fails its check and moves again
#   resume_changed_source the source rewritten in a block the receiver holds, between a kill and
#                   the resume (put, then get): that block is sent again, the file is the new one
#   resume_daemon_restart the daemon killed (SIGKILL, its sessions too) mid-put and mid-get,
#                   then started again: reput and reget continue from what arrived, identical
#   resume_storm    a put, then a get, killed (SIGKILL) again and again at random points, the
#                   client and the daemon's session in turn (bbftp_resume_storm.py): each resume
#                   keeps all that arrived but at most one block per stream, the file ends
#                   identical; FERRY_STORM_MIB and FERRY_STORM_KILLS set the size and the count
#                   (the acceptance run: 2048 and 20; ctest: 256 and 4)
# Usage: bbftp_extension.sh BBFTP BBFTPD SCENARIO
set -euo pipefail
bbftp=$1
bbftpd=$2
scenario=$3
. "$(dirname "$0")/../interop/common.sh"

known=$work/known_hosts
# $client_wrap: what the client runs under (ip netns exec NS, see shaped_namespace), empty here.
client() {
  BBFTP_PASSWORD=$password timeout 120 ${client_wrap[@]+"${client_wrap[@]}"} "$bbftp" --known-hosts "$known" -u alice -w "$port" -r 1 \
    --retry-wait 0 "$@" 127.0.0.1
}
# The daemon's fingerprint, as its log says it at start.
daemon_fingerprint() { grep -o 'host key SHA256:[^ ]*' "$1" | head -1 | cut -d' ' -f3; }

mkdir -p "$work/local"
head -c $((8 << 20)) /dev/urandom >"$work/local/f8m"

sealed() {
  start_ferry_daemon "$bbftpd"
  out=$(client -V -p 4 -e "put $work/local/f8m a; get a $work/local/a.back" 2>&1) ||
    fail "transfer: $out"
  fp=$(daemon_fingerprint "$work/daemon.log")
  [ -n "$fp" ] || fail "the daemon logs no host key: $(cat "$work/daemon.log")"
  echo "$out" | grep -qF "Pinned the host key of 127.0.0.1 port $port: ed25519 $fp" ||
    fail "-V shows no pin of $fp: $out"
  grep -qxF "127.0.0.1 $port ed25519 $fp" "$known" || fail "known_hosts: $(cat "$known")"
  grep -q 'bbftp extension: sealed control channel, data streams proven' "$work/daemon.log" ||
    fail "the session is not sealed: $(cat "$work/daemon.log")"
  cmp "$work/local/f8m" "$work/root/a" || fail "stored file differs"
  cmp "$work/local/f8m" "$work/local/a.back" || fail "file got back differs"
  # The second connection matches the pin: nothing to say, nothing changed.
  out=$(client -V -p 1 -e "get a $work/local/b.back" 2>&1) || fail "second transfer: $out"
  echo "$out" | grep -q "Pinned" && fail "pinned twice: $out"
  cmp "$work/local/f8m" "$work/local/b.back" || fail "second file differs"
  [ "$(wc -l <"$known")" -eq 1 ] || fail "known_hosts: $(cat "$known")"
  # The key is readable by its owner only, in a directory only its owner enters.
  [ "$(stat -c %a "$work/state")" = 700 ] || fail "state directory mode $(stat -c %a "$work/state")"
  [ "$(stat -c %a "$work/state/host_ed25519")" = 600 ] || fail "host key mode"
  ok "pinned $fp at first use; sealed channel, proven streams; 8 MiB in 4 and 1 streams identical"
}

# A second daemon, with a state directory (a host key) of its own: sets port2, log2.
start_second_daemon() {
  log2=$work/daemon2.log
  "$bbftpd" --foreground --listen 127.0.0.1 -w 0 --password-file "$work/pw" \
    --state-dir "$work/state2" "${bbftpd_account_options[@]}" "$@" >"$log2" 2>&1 &
  daemon2_pid=$!
  port2=$(wait_for_port "$log2") || { cat "$log2" >&2; fail "second daemon did not start"; }
}
stop_second_daemon() { kill "$daemon2_pid" 2>/dev/null || true; wait "$daemon2_pid" 2>/dev/null || true; }

# Pins daemon 1's key for daemon 2's port: to the client, daemon 2 is daemon 1 with a changed key
# (or, without the extension, a downgrade).
pin_first_key_on_second_port() {
  client -e "dir ." >/dev/null 2>&1 || fail "first connection"
  fp1=$(daemon_fingerprint "$work/daemon.log")
  echo "127.0.0.1 $port2 ed25519 $fp1" >"$known"
}

changed_key() {
  start_ferry_daemon "$bbftpd"
  start_second_daemon
  pin_first_key_on_second_port
  fp2=$(daemon_fingerprint "$log2")
  set +e
  out=$(port=$port2 client -e "put $work/local/f8m changed" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 102 ] || fail "changed key: exit $rc: $out"
  echo "$out" | grep -qF "The host key of 127.0.0.1 port $port2 has changed: pinned ed25519 $fp1, offered ed25519 $fp2" ||
    fail "changed key: $out"
  echo "$out" | grep -qF "bbftp --forget-host 127.0.0.1:$port2" || fail "no command to clear the pin: $out"
  grep -Eq 'login (of|refused)' "$log2" && fail "the daemon saw a login: $(cat "$log2")"
  [ ! -e "$work/root/changed" ] || fail "the refused put stored a file"
  "$bbftp" --known-hosts "$known" --forget-host "127.0.0.1:$port2" | grep -qF "Removed the pin" ||
    fail "--forget-host"
  out=$(port=$port2 client -V -e "put $work/local/f8m changed" 2>&1) || fail "after forgetting: $out"
  echo "$out" | grep -qF "Pinned the host key of 127.0.0.1 port $port2: ed25519 $fp2" || fail "not re-pinned: $out"
  cmp "$work/local/f8m" "$work/root/changed" || fail "file differs"
  stop_second_daemon
  ok "changed key refused before the login (exit 102, both fingerprints, --forget-host); re-pinned after it"
}

downgrade() {
  start_ferry_daemon "$bbftpd"
  start_second_daemon --extension off
  pin_first_key_on_second_port
  set +e
  out=$(port=$port2 client -e "put $work/local/f8m down" 2>&1)
  rc=$?
  set -e
  [ "$rc" -eq 102 ] || fail "downgrade: exit $rc: $out"
  echo "$out" | grep -qF "The server 127.0.0.1 port $port2 no longer announces the bbftp extension" ||
    fail "downgrade: $out"
  echo "$out" | grep -qF "bbftp --forget-host 127.0.0.1:$port2" || fail "no command to clear the pin: $out"
  grep -Eq 'login (of|refused)' "$log2" && fail "the daemon saw a login: $(cat "$log2")"
  # Never pinned: a daemon without the extension is served as any real bbftpd.
  rm -f "$known"
  out=$(port=$port2 client -e "put $work/local/f8m down" 2>&1) || fail "unpinned, plain: $out"
  cmp "$work/local/f8m" "$work/root/down" || fail "file differs"
  [ ! -s "$known" ] || fail "a daemon without a key got pinned: $(cat "$known")"
  stop_second_daemon
  ok "a pinned daemon without the extension refused before the login (exit 102); unpinned, served plainly"
}

unproven_stream() {
  # Two data ports, one per stream, so that strangers know where to knock. The client's control
  # connection goes through a proxy that holds the daemon's replies back 300 ms (it cannot read
  # them: they are sealed): each transfer's listeners are open that long before the client
  # hears of them, and the strangers, knocking all the time, always come first.
  local first=$((20000 + ($$ % 20000)))
  start_ferry_daemon "$bbftpd" -e "$first:$((first + 1))"
  cat >"$work/race.py" <<'PY'
import os, socket, sys, threading, time
daemon_port, first, count, stop, port_file = (int(sys.argv[1]), int(sys.argv[2]),
                                              int(sys.argv[3]), sys.argv[4], sys.argv[5])
deadline = time.time() + 120

def knock():
    # Every 2 ms on each port: hundreds of strangers in the 300 ms each transfer's listeners
    # wait for the client, not a flood (a flood keeps anyone out of any TCP listener).
    while not os.path.exists(stop) and time.time() < deadline:
        for p in range(first, first + count):
            s = socket.socket()
            s.settimeout(0.2)  # a knock held in a full backlog must not outlast the test
            try:
                s.connect(("127.0.0.1", p))
                s.sendall(b"\x00" * 32)  # the size of a proof, not the proof
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.002)

def pump(src, dst, delay):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            time.sleep(delay)
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(1)
with open(port_file + ".tmp", "w") as f:
    f.write(str(lst.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
knocker = os.fork()
if knocker == 0:  # the strangers in a process of their own: the proxy never waits for them
    knock()
    os._exit(0)
with open(port_file + ".knocker", "w") as f:  # for the test to stop it: see stop_strangers
    f.write(str(knocker))
lst.settimeout(60)
client, _ = lst.accept()
upstream = socket.create_connection(("127.0.0.1", daemon_port), timeout=60)
client.settimeout(None)
upstream.settimeout(None)
t = threading.Thread(target=pump, args=(client, upstream, 0), daemon=True)
t.start()
pump(upstream, client, 0.3)
t.join(5)
PY
  python3 "$work/race.py" "$port" "$first" 2 "$work/stop" "$work/proxy_port" &
  racer=$!
  for _ in $(seq 1 100); do [ -s "$work/proxy_port" ] && break; sleep 0.1; done
  [ -s "$work/proxy_port" ] || fail "the proxy did not start"
  # The stop file alone is not enough: a knock stuck in connect() while the work directory goes
  # kept the strangers knocking (and ctest waiting on their output) for their whole 120 s.
  stop_strangers() {
    touch "$work/stop"
    for _ in $(seq 1 50); do [ -s "$work/proxy_port.knocker" ] && break; sleep 0.1; done
    kill "$(cat "$work/proxy_port.knocker" 2>/dev/null)" 2>/dev/null || true
  }
  head -c $((1 << 20)) /dev/urandom >"$work/local/f1m"
  cmds=
  for i in $(seq 1 5); do cmds="$cmds; put $work/local/f1m r$i"; done
  out=$(port=$(cat "$work/proxy_port") client -p 2 -e "${cmds#; }" 2>&1) ||
    { rc=$?; stop_strangers; tail -5 "$work/daemon.log"; fail "transfers: exit $rc: $out"; }
  stop_strangers
  wait "$racer" || true
  for i in $(seq 1 5); do cmp "$work/local/f1m" "$work/root/r$i" || fail "r$i differs"; done
  grep -q "refused: not this session's proof" "$work/daemon.log" ||
    fail "no stranger was refused: $(tail -20 "$work/daemon.log")"
  n=$(grep -c "refused: not this session's proof" "$work/daemon.log")
  ok "strangers first on the data ports refused for their proof ($n logged); 5 puts in 2 streams identical"
}

extension_off() {
  start_ferry_daemon "$bbftpd"
  out=$(client --extension off -p 2 -e "put $work/local/f8m plain; get plain $work/local/p.back" 2>&1) ||
    fail "plain: $out"
  cmp "$work/local/f8m" "$work/local/p.back" || fail "file differs"
  grep -q 'sealed control channel' "$work/daemon.log" && fail "sealed though off"
  [ ! -e "$known" ] || fail "pinned though off"
  ok "--extension off: plain protocol 3 with the same daemon"
}

checksums() {
  start_ferry_daemon "$bbftpd"
  out=$(client -V -p 3 -e "put $work/local/f8m c; get c $work/local/c.back" 2>&1) ||
    fail "transfer: $out"
  sums=$(echo "$out" | grep -o '^checksum xxh3-128 [0-9a-f]*$' | sort -u)
  [ "$(echo "$out" | grep -c '^checksum xxh3-128 ')" -eq 2 ] && [ "$(echo "$sums" | wc -l)" -eq 1 ] ||
    fail "-V: no single xxh3-128 checksum for the put and the get: $out"
  hex=${sums##* }
  grep -q "put /c (8388608 bytes, 3 streams) in .* xxh3-128 $hex, 0 blocks sent again" "$work/daemon.log" ||
    fail "the daemon logs another checksum: $(grep 'put /c' "$work/daemon.log")"
  cmp "$work/local/f8m" "$work/local/c.back" || fail "file differs"
  # The daemon reads a stored file for its checksum: the transfer's.
  out=$(client -e "checksum c" 2>&1) || fail "checksum c: $out"
  echo "$out" | grep -qxF "checksum c xxh3-128 $hex" || fail "checksum c: $out (want $hex)"
  set +e
  out=$(client -e "checksum missing" 2>&1)
  set -e
  echo "$out" | grep -q "checksum missing FAILED" || fail "checksum of a missing file: $out"
  # SHA-256, computed here from the file alone.
  head -c $(((5 << 20) + 12345)) /dev/urandom >"$work/local/odd"
  want=$(python3 - "$work/local/odd" <<'PY'
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
B = 1 << 20
h = hashlib.sha256(struct.pack(">QI", len(data), B))
for i in range(0, len(data), B):
    h.update(hashlib.sha256(data[i:i + B]).digest())
print(h.hexdigest())
PY
)
  out=$(client -V -p 2 --checksum sha256 -e "put $work/local/odd odd; get odd $work/local/odd.back" 2>&1) ||
    fail "sha256 transfer: $out"
  [ "$(echo "$out" | grep -cxF "checksum sha256 $want")" -eq 2 ] ||
    fail "sha256: expected $want twice: $out"
  out=$(client --checksum sha256 -e "checksum odd" 2>&1) || fail "checksum odd: $out"
  echo "$out" | grep -qxF "checksum odd sha256 $want" || fail "checksum odd (sha256): $out"
  cmp "$work/local/odd" "$work/local/odd.back" || fail "sha256: file differs"
  out=$(client -V --checksum off -e "put $work/local/odd plain" 2>&1) || fail "checksum off: $out"
  echo "$out" | grep -q '^checksum' && fail "checksum off still checks: $out"
  cmp "$work/local/odd" "$work/root/plain" || fail "checksum off: file differs"
  ok "xxh3-128 $hex the same both ways and in the log; sha256 as computed independently; off: none"
}

# Rewrites a few bytes of $1 every millisecond until $2 exists (at most 60 s).
keep_rewriting() {
  python3 - "$1" "$2" <<'PY' &
import os, sys, time
path, stop = sys.argv[1], sys.argv[2]
deadline = time.time() + 60
fd = os.open(path, os.O_WRONLY)
i = 0
while not os.path.exists(stop) and time.time() < deadline:
    os.pwrite(fd, bytes([i % 256]) * 16, (i * 7919 * 4096) % (100 << 20))
    if i == 0:
        open(stop + ".started", "w").close()
    i += 1
    time.sleep(0.001)
PY
  rewriter=$!
  for _ in $(seq 1 100); do [ -e "$2.started" ] && return 0; sleep 0.05; done
  fail "the rewriter did not start"
}

changed_file() {
  start_ferry_daemon "$bbftpd"
  head -c $((128 << 20)) /dev/urandom >"$work/local/moving"
  keep_rewriting "$work/local/moving" "$work/stop1"
  set +e
  out=$(client -p 2 -e "put $work/local/moving moved" 2>&1)
  rc=$?
  set -e
  touch "$work/stop1"
  wait "$rewriter" || true
  [ "$rc" -ne 0 ] || fail "a put of a file rewritten meanwhile succeeded: $out"
  echo "$out" | grep -qF "$work/local/moving changed while being sent: nothing was put in place" ||
    fail "put: $out"
  [ ! -e "$work/root/moved" ] || fail "the changed put took its name"
  cp "$work/local/f8m" "$work/root/still"
  head -c $((128 << 20)) /dev/urandom >"$work/root/moving2"
  keep_rewriting "$work/root/moving2" "$work/stop2"
  set +e
  out=$(client -p 2 -e "get moving2 $work/local/got2" 2>&1)
  rc=$?
  set -e
  touch "$work/stop2"
  wait "$rewriter" || true
  [ "$rc" -ne 0 ] || fail "a get of a file rewritten meanwhile succeeded: $out"
  echo "$out" | grep -qF "changed while being sent: nothing was put in place" || fail "get: $out"
  [ ! -e "$work/local/got2" ] || fail "the changed get took its name"
  ok "a file rewritten while sent fails (put and get) with a clear message; nothing took its name"
}

# truncate_when_streaming FILE: in the background ($truncater), waits until the control connection
# and both data streams of a -p 2 transfer are up in the shaped namespace (3 connections, both
# ends: 6 sockets; at most 30 s), then a little longer, and cuts FILE to 1 MiB.
truncate_when_streaming() {
  (
    for _ in $(seq 1 600); do
      [ "$(ip netns exec "$shaped_ns" ss -Htn state established | wc -l)" -ge 6 ] && break
      sleep 0.05
    done
    sleep 0.2
    truncate -s 1M "$1"
  ) &
  truncater=$!
}

# cut_short_fails WHAT SOURCE TARGET COMMAND: COMMAND (a -p 2 transfer of SOURCE, 512 MiB, to
# TARGET) with SOURCE cut short once it streams must fail, say so, and leave no TARGET.
cut_short_fails() {
  head -c $((512 << 20)) /dev/urandom >"$2"
  truncate_when_streaming "$2"
  set +e
  out=$(client -p 2 -e "$4" 2>&1)
  rc=$?
  set -e
  wait "$truncater" || true
  [ "$rc" -ne 0 ] || fail "a $1 of a file cut short meanwhile succeeded: $out"
  echo "$out" | grep -qF "changed while being sent" || fail "$1: $out"
  [ ! -e "$3" ] || fail "the cut-short $1 took its name"
}

truncated_file() {
  shaped_namespace  # 200 MB/s: the cut comes while the blocks past 1 MiB are still to be sent
  start_ferry_daemon "$bbftpd"
  cut_short_fails put "$work/local/shrinking" "$work/root/shrunk" "put $work/local/shrinking shrunk"
  cp "$work/local/f8m" "$work/root/still"
  cut_short_fails get "$work/root/shrinking2" "$work/local/shrunk2" \
    "get shrinking2 $work/local/shrunk2"
  out=$(client -e "get still $work/local/still.back" 2>&1) || fail "the daemon stopped serving: $out"
  cmp -s "$work/root/still" "$work/local/still.back" || fail "the next get differs"
  ok "a file cut short while sent fails (put and get) with a clear message; the daemon goes on"
}

corrupt_in_flight() {
  # The daemon on 127.0.0.1; the client goes through 127.0.0.2, where a proxy relays the control
  # connection as it is and each data port (the same numbers) to the daemon's, flipping one byte
  # of the first data stream it sees in the direction the data goes, once.
  local first=$((20000 + ($$ % 20000)))
  start_ferry_daemon "$bbftpd" -e "$first:$((first + 3))"
  cat >"$work/flip.py" <<'PY'
import os, socket, sys, threading, time
daemon_port, first, count, direction, port_file, stop = (
    int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
FLIP_AT = 32 + (3 << 20) + 4321   # past the 32-byte proof, inside the fourth block
flipped = threading.Lock()
done = [False]

def pump(src, dst, flip):
    seen = 0
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if flip and not done[0] and seen <= FLIP_AT < seen + len(b):
                with flipped:
                    if not done[0]:
                        b = bytearray(b)
                        b[FLIP_AT - seen] ^= 0x40
                        b = bytes(b)
                        done[0] = True
            seen += len(b)
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def relay(listener, target_port, data):
    while True:
        try:
            c, _ = listener.accept()
        except OSError:
            return
        u = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(c, u, data and direction == "up"), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, data and direction == "down"), daemon=True).start()

def listen(port):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.2", port))
    l.listen(8)
    return l

control = listen(0)
for p in range(first, first + count):
    threading.Thread(target=relay, args=(listen(p), p, True), daemon=True).start()
threading.Thread(target=relay, args=(control, daemon_port, False), daemon=True).start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(control.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
deadline = time.time() + 120
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.05)
print("flipped" if done[0] else "not flipped")
PY
  for dir in up down; do
    rm -f "$work/proxy_port"
    python3 "$work/flip.py" "$port" "$first" 4 "$dir" "$work/proxy_port" "$work/stop.$dir" >"$work/flip.$dir" &
    proxy=$!
    for _ in $(seq 1 100); do [ -s "$work/proxy_port" ] && break; sleep 0.1; done
    [ -s "$work/proxy_port" ] || fail "the proxy did not start"
    if [ "$dir" = up ]; then cmd="put $work/local/f8m flipped"; else cmd="get flipped $work/local/flipped.back"; fi
    set +e
    out=$(BBFTP_PASSWORD=$password timeout 120 "$bbftp" --known-hosts "$known" -u alice \
      -w "$(cat "$work/proxy_port")" -r 1 -V -p 2 -e "$cmd" 127.0.0.2 2>&1)
    rc=$?
    set -e
    touch "$work/stop.$dir"
    wait "$proxy" || true
    [ "$(cat "$work/flip.$dir")" = flipped ] || fail "$dir: the proxy flipped nothing: $out"
    [ "$rc" -eq 0 ] || fail "$dir: transfer failed: $out"
    echo "$out" | grep -q "(1 blocks arrived bad and came again)" || fail "$dir: no block came again: $out"
  done
  cmp "$work/local/f8m" "$work/root/flipped" || fail "put through the proxy: stored file differs"
  cmp "$work/local/f8m" "$work/local/flipped.back" || fail "get through the proxy: file differs"
  grep -q "put /flipped (8388608 bytes, 2 streams) in .*, 1 blocks sent again" "$work/daemon.log" ||
    fail "the daemon logs no block sent again: $(grep flipped "$work/daemon.log")"
  ok "a byte flipped in flight (put, then get): one block sent again, the file identical"
}

busy_pinned() {
  start_ferry_daemon "$bbftpd" --max-prelogin-per-source 1
  client -e "dir ." >/dev/null 2>&1 || fail "first connection (pinning)"
  grep -q "127.0.0.1 $port ed25519" "$known" || fail "not pinned"
  # Someone from the same address holds the only pre-login slot, saying nothing.
  python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(15)' "$port" &
  holder=$!
  sleep 0.5
  set +e
  out=$(client -e "dir ." 2>&1)
  rc=$?
  set -e
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  [ "$rc" -ne 102 ] || fail "a busy listener taken for a downgrade: $out"
  echo "$out" | grep -qi "busy\|try again" || fail "busy: exit $rc: $out"
  ok "a pinned client refused by a busy listener hears busy (exit $rc), not a downgrade"
}

# --- resume (section 6) -------------------------------------------------------------------

# wait_record FILE: until the receiver's record holds a snapshot and 32 journal entries (32
# blocks arrived this run: 60 bytes of empty snapshot, 24 per entry), while $bg runs.
wait_record() {
  for _ in $(seq 1 3000); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge $((60 + 24 * 32)) ] && return 0
    kill -0 "$bg" 2>/dev/null || fail "the transfer ended before 32 blocks arrived at $1"
    sleep 0.01
  done
  fail "no record of 32 blocks at $1 after 30 s"
}
# wait_log PATTERN: until the daemon's log has a line matching it (30 s at most).
wait_log() {
  for _ in $(seq 1 300); do
    grep -q "$1" "$work/daemon.log" && return 0
    sleep 0.1
  done
  fail "the daemon never logged '$1': $(tail -25 "$work/daemon.log")"
}
big_file() { head -c $((512 << 20)) /dev/urandom >"$work/local/$1"; }
# client_bg ARGS...: the client itself in the background (no wrapper: $bg is what gets killed).
client_bg() {
  BBFTP_PASSWORD=$password ${client_wrap[@]+"${client_wrap[@]}"} "$bbftp" --known-hosts "$known" -u alice -w "$port" -r 1 \
    --retry-wait 0 "$@" 127.0.0.1 >"$work/bg.out" 2>&1 &
  bg=$!
}

resume_killed() {
  try_shaped_namespace || true
  start_ferry_daemon "$bbftpd"
  big_file src
  size=$(stat -c %s "$work/local/src")
  client_bg -p 4 -e "put $work/local/src big"
  wait_record "$work/root/.ferry-ranges.big"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  wait_log "put /big failed: .* bytes received, kept for resume"
  [ ! -e "$work/root/big" ] || fail "a killed put left its file under the final name"
  [ -e "$work/root/.ferry-partial.big" ] || fail "the killed put kept no partial data"
  out=$(client -V -p 4 -e "reput $work/local/src big" 2>&1) || fail "reput: $out"
  cmp "$work/local/src" "$work/root/big" || fail "the resumed put differs"
  line=$(grep "put /big ($size bytes" "$work/daemon.log" | tail -1)
  there=$(echo "$line" | sed -n 's/.*resumed: \([0-9]*\) bytes were there, \([0-9]*\) received.*/\1/p')
  got=$(echo "$line" | sed -n 's/.*resumed: \([0-9]*\) bytes were there, \([0-9]*\) received.*/\2/p')
  [ "${there:-0}" -ge $((32 << 20)) ] || fail "the reput did not resume: $line"
  [ $((there + got)) -eq "$size" ] || fail "resumed $there + received $got is not $size: $line"
  echo "$out" | grep -q "resumed: $there bytes were there already" || fail "-V: $out"
  ls -A "$work/root" | grep -q ferry- && fail "partial data left: $(ls -A "$work/root")"
  ok "put killed (client, SIGKILL), reput: $there bytes were there, $got received, identical"

  client_bg -p 4 -e "get big $work/local/back"
  wait_record "$work/local/.ferry-ranges.back"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  [ ! -e "$work/local/back" ] || fail "a killed get left its file under the final name"
  out=$(client -V -p 4 -e "reget big $work/local/back" 2>&1) || fail "reget: $out"
  cmp "$work/local/src" "$work/local/back" || fail "the resumed get differs"
  there=$(echo "$out" | sed -n 's/.*resumed: \([0-9]*\) bytes were there already.*/\1/p')
  [ "${there:-0}" -ge $((32 << 20)) ] || fail "the reget did not resume: $out"
  grep -q "get /big ($size bytes.*resumed: $there bytes were there, $((size - there)) sent" \
    "$work/daemon.log" || fail "the daemon's line: $(grep 'get /big' "$work/daemon.log")"
  ls -A "$work/local" | grep -q ferry- && fail "partial data left: $(ls -A "$work/local")"
  ok "get killed (client, SIGKILL), reget: $there bytes were there, identical, nothing left beside it"

}

corrupt_partial() {
  try_shaped_namespace || true
  start_ferry_daemon "$bbftpd"
  big_file src
  client_bg -p 4 -e "put $work/local/src big"
  wait_record "$work/root/.ferry-ranges.big"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  wait_log "put /big failed"
  printf 'XXXXXXXX' | dd of="$work/root/.ferry-partial.big" bs=1 seek=100 conv=notrunc 2>/dev/null
  out=$(client -p 4 -e "reput $work/local/src big" 2>&1) || fail "reput: $out"
  grep -q "put /big resumes: [0-9]* bytes present and verified, [0-9]* to receive, 1 blocks failed their check" \
    "$work/daemon.log" || fail "the damaged block was not found: $(grep big "$work/daemon.log")"
  cmp "$work/local/src" "$work/root/big" || fail "the resumed put differs"
  ok "a put's partial data damaged on the daemon: the block fails its check, is sent again, identical"

  client_bg -p 4 -e "get big $work/local/back"
  wait_record "$work/local/.ferry-ranges.back"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  printf 'XXXXXXXX' | dd of="$work/local/.ferry-partial.back" bs=1 seek=100 conv=notrunc 2>/dev/null
  out=$(client -V -p 4 -e "reget big $work/local/back" 2>&1) || fail "reget: $out"
  cmp "$work/local/src" "$work/local/back" || fail "the resumed get differs"
  echo "$out" | grep -q "resumed: [1-9][0-9]* bytes were there already" || fail "no resume: $out"
  ok "a get's partial data damaged on the client: the block is left out of the offer, fetched again, identical"
}

# recorded_block RECORD: the index of a block the record lists as arrived (its journal's first
# entry; the layout is src/storage/partial_record.hpp's).
recorded_block() {
  python3 -c 'import sys
b = open(sys.argv[1], "rb").read()
at = 56 + 16 * int.from_bytes(b[44:48], "big")
print(int.from_bytes(b[at:at + 8], "big"))' "$1"
}

resume_changed_source() {
  try_shaped_namespace || true
  start_ferry_daemon "$bbftpd"
  big_file src
  client_bg -p 4 -e "put $work/local/src big"
  wait_record "$work/root/.ferry-ranges.big"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  wait_log "put /big failed: .* bytes received, kept for resume"
  # The source changes in a block the daemon holds: its offer names it, and the client's answer
  # must leave it out.
  held=$(recorded_block "$work/root/.ferry-ranges.big")
  printf 'CHANGED!' | dd of="$work/local/src" bs=1 seek=$((held * 1048576 + 100)) conv=notrunc 2>/dev/null
  out=$(client -V -p 4 -e "reput $work/local/src big" 2>&1) || fail "reput: $out"
  cmp "$work/local/src" "$work/root/big" || fail "the resumed put is not the changed source"
  echo "$out" | grep -q "resumed: [1-9][0-9]* bytes were there already" || fail "no resume: $out"
  # The daemon offered what it held; the client's answer kept less (the changed block's range).
  offered=$(grep -o "put /big resumes: [0-9]* bytes present" "$work/daemon.log" | tail -1 |
    grep -o "[0-9][0-9]*" || true)
  there=$(grep "put /big ($(stat -c %s "$work/local/src") bytes" "$work/daemon.log" | tail -1 |
    sed -n 's/.*resumed: \([0-9]*\) bytes were there.*/\1/p' || true)
  [ -n "$offered" ] && [ -n "$there" ] && [ "$there" -lt "$offered" ] ||
    fail "the answer did not leave the changed range out: offered ${offered:-?}, kept ${there:-?}"
  ok "a put's source changed between the kill and the reput: the changed block is sent again, the file is the new source"

  client_bg -p 4 -e "get big $work/local/back"
  wait_record "$work/local/.ferry-ranges.back"
  kill -9 "$bg"; wait "$bg" 2>/dev/null || true
  held=$(recorded_block "$work/local/.ferry-ranges.back")
  printf 'AGAIN!!!' | dd of="$work/root/big" bs=1 seek=$((held * 1048576 + 200)) conv=notrunc 2>/dev/null
  out=$(client -V -p 4 -e "reget big $work/local/back" 2>&1) || fail "reget: $out"
  cmp "$work/root/big" "$work/local/back" || fail "the resumed get is not the changed file"
  echo "$out" | grep -q "resumed: [1-9][0-9]* bytes were there already" || fail "no resume: $out"
  # The client offered what it held; the daemon's answer kept less.
  line=$(grep "get /big resumes: the client has" "$work/daemon.log" | tail -1 || true)
  has=$(echo "$line" | sed -n 's/.*the client has \([0-9]*\) bytes (\([0-9]*\) offered).*/\1/p')
  offered=$(echo "$line" | sed -n 's/.*the client has \([0-9]*\) bytes (\([0-9]*\) offered).*/\2/p')
  [ -n "$has" ] && [ -n "$offered" ] && [ "$has" -lt "$offered" ] ||
    fail "the daemon's answer did not leave the changed range out: $line"
  ok "a get's source changed on the daemon between the kill and the reget: the changed block is fetched again, the file is the new one"
}

# kill_daemon: SIGKILL to the daemon and every process it forked (its sessions), as a crash
# or a power cut would stop them; waits until they are gone.
kill_daemon() {
  local pids
  pids=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import harness
print(*harness.process_tree(int(sys.argv[2])))' "$(dirname "$0")/../attack" "$daemon_pid")
  kill -9 $pids 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do  # gone, or zombies (dead, waiting for their parent to reap them)
    ps -o stat= -p $pids 2>/dev/null | grep -qv '^Z' || return 0
    sleep 0.05
  done
  fail "the daemon's processes outlived SIGKILL"
}

resume_daemon_restart() {
  shaped_namespace  # the kill must come before the put ends, in a sanitized build too
  start_ferry_daemon "$bbftpd"
  big_file src
  size=$(stat -c %s "$work/local/src")
  client_bg -p 4 -e "put $work/local/src big"
  wait_record "$work/root/.ferry-ranges.big"
  kill_daemon
  wait "$bg" 2>/dev/null && fail "the put succeeded with its daemon killed"
  [ ! -e "$work/root/big" ] || fail "a put whose daemon was killed left its file under the final name"
  start_ferry_daemon "$bbftpd"
  out=$(client -V -p 4 -e "reput $work/local/src big" 2>&1) || fail "reput: $out"
  cmp "$work/local/src" "$work/root/big" || fail "the resumed put differs"
  line=$(grep "put /big ($size bytes" "$work/daemon.log" | tail -1 || true)
  there=$(echo "$line" | sed -n 's/.*resumed: \([0-9]*\) bytes were there, \([0-9]*\) received.*/\1/p')
  [ "${there:-0}" -ge $((32 << 20)) ] || fail "the reput after the restart did not resume: $line"
  ok "put with its daemon killed (SIGKILL, sessions too), daemon restarted, reput: $there bytes were there, identical"

  client_bg -p 4 -e "get big $work/local/back"
  wait_record "$work/local/.ferry-ranges.back"
  kill_daemon
  wait "$bg" 2>/dev/null && fail "the get succeeded with its daemon killed"
  [ ! -e "$work/local/back" ] || fail "a get whose daemon was killed left its file under the final name"
  start_ferry_daemon "$bbftpd"
  out=$(client -V -p 4 -e "reget big $work/local/back" 2>&1) || fail "reget: $out"
  cmp "$work/local/src" "$work/local/back" || fail "the resumed get differs"
  there=$(echo "$out" | sed -n 's/.*resumed: \([0-9]*\) bytes were there already.*/\1/p')
  [ "${there:-0}" -ge $((32 << 20)) ] || fail "the reget after the restart did not resume: $out"
  ls -A "$work/local" | grep -q ferry- && fail "partial data left: $(ls -A "$work/local")"
  ok "get with its daemon killed, daemon restarted, reget: $there bytes were there, identical"
}

# shaped_namespace: the daemon and the clients from here on in a namespace whose loopback is
# shaped to 200 MB/s (tc tbf), so that a warm-cache transfer lasts long enough to be killed
# mid-way, wherever the kill is aimed (512 MiB otherwise moves in a fraction of a second).
# try_shaped_namespace: the same, or a message and status 1 where it cannot be made; the
# scenarios that kill after 32 blocks call it, and go on unshaped without it.
shaped_namespace() {
  try_shaped_namespace || skip "no namespace with a shaped loopback (root, ip netns, tc tbf)"
}
try_shaped_namespace() {
  [ "$(id -u)" -eq 0 ] || { echo "not root: loopback unshaped"; return 1; }
  shaped_ns="ferry-shaped$$"
  ip netns add "$shaped_ns" || { echo "no namespace: loopback unshaped"; return 1; }
  trap 'ip netns del "$shaped_ns" 2>/dev/null || true; cleanup' EXIT
  ip -n "$shaped_ns" link set lo up
  ip netns exec "$shaped_ns" tc qdisc add dev lo root tbf rate 1600mbit burst 256kb latency 20ms ||
    { echo "no tbf qdisc: loopback unshaped"; ip netns del "$shaped_ns"; return 1; }
  daemon_wrap=(ip netns exec "$shaped_ns")
  client_wrap=(ip netns exec "$shaped_ns")
}

resume_storm() {
  shaped_namespace
  start_ferry_daemon "$bbftpd"
  FERRY_NETNS=$shaped_ns FERRY_BBFTP=$bbftp FERRY_PORT=$port FERRY_PASSWORD=$password FERRY_KNOWN=$known \
    FERRY_WORK=$work FERRY_DAEMON_PID=$daemon_pid \
    python3 "$(dirname "$0")/bbftp_resume_storm.py" || fail "the resume storm failed"
  ok "put and get killed ${FERRY_STORM_KILLS:-4} times each, client and session in turn, resumed to identical files"
}

passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
"$scenario"
[ "$passed" -gt 0 ] || fail "scenario $scenario checked nothing"
