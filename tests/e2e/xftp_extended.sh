#!/usr/bin/env bash
# XFTP extended mode end to end, our xftp against our xftpd (docs/protocol/xftp-extended.md), one
# scenario per run:
#   default_is_extended  put, get, ls, mkdir, mv, rm in extended mode (the server log says so);
#                        --legacy still speaks legacy to the same server
#   keyed                both sides with --key-file (or XFTP_KEY_FILE): works; no key, a wrong
#                        key, or legacy against a keyed server: refused or unanswered, nothing
#                        changes on the server
#   fallback_original    against the scripted original server: falls back to legacy and works;
#                        with a key, refuses to fall back
#   loss_1percent        in a namespace whose loopback drops 1% of UDP datagrams (nftables), a
#                        64 MiB upload and download arrive byte-identical
#   resume_client_killed a put, then a get, whose client is killed (SIGKILL) mid-way, run
#                        again: each continues from what arrived (fewer bytes sent again than
#                        the file holds) and ends byte-identical (a namespace slows the link)
#   resume_server_killed the same with xftpd killed mid-way and started again
#   corrupt_partial      partial data damaged between the kill and the rerun (on the server for
#                        a put, on the client for a get): the bad block is found and sent again
#   injection            an on-path attacker (xftp_inject.py) copies DATA datagrams of a keyed
#                        put from another address, and with a bad tag from the client's own
#                        (spoofed): all dropped and counted in xftpd's log, the file identical,
#                        none of its bytes on the wire; without a key (the check's control) the
#                        bytes are seen, and a stranger's copies are still dropped
#   partial_names        partial data is hidden from listings and refused by every command;
#                        past --partial-expiry it is removed at start, fresh ones are kept
# Usage: xftp_extended.sh XFTP XFTPD SCENARIO
set -euo pipefail
xftp=$(realpath "$1")
xftpd=$(realpath "$2")
scenario=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../interop/common.sh"
. "$here/xftp_lib.sh"
xftp_options=(-t 10)
mkdir -p "$work/root/sub" "$work/local"
echo hello >"$work/root/hello.txt"
netns=
peers=()
finish() {
  for p in "${peers[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -z "$netns" ] || ip netns del "$netns" 2>/dev/null || true
  cleanup
}
trap finish EXIT

# start_xftpd [options]: our server on 127.0.0.1 (in $netns when set); sets $server.
start_xftpd() {
  local -a in_ns=()
  [ -z "$netns" ] || in_ns=(ip netns exec "$netns")
  # Emptied here, before the fork: a restart must not read the killed daemon's port from it.
  : >"$work/xftpd.log"
  "${in_ns[@]}" "$xftpd" --root "$work/root" --listen 127.0.0.1 --port 0 \
    --idle-timeout "${xftpd_idle:-10}" "$@" \
    >>"$work/xftpd.log" 2>&1 &
  peers+=($!)
  local port
  port=$(wait_for_port "$work/xftpd.log") || { cat "$work/xftpd.log"; fail "xftpd did not start"; }
  server="127.0.0.1:$port"
}

# plain_namespace: $netns, a namespace of our own with its loopback up.
plain_namespace() {
  [ "$(id -u)" -eq 0 ] || skip "namespaces need root"
  netns="ferry-xr$$"
  ip netns add "$netns" || skip "cannot create a network namespace"
  ip -n "$netns" link set lo up
}

# slow_namespace: the same, its loopback passing full-size UDP datagrams at 8 MB/s at most, so a
# 32 MiB transfer takes seconds and can be interrupted mid-way. The attacker's datagrams (from
# 127.0.0.2, or sent with TTL 17) are not limited: each one reaches the server.
slow_namespace() {
  local rate=${1:-8}
  case $scenario in
    resume_*|corrupt_partial)
      [ -z "${FERRY_SANITIZED:-}" ] ||
        skip "a sanitized build is too slow for the kill-and-rerun timings (run in Release)" ;;
  esac
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  plain_namespace
  ip netns exec "$netns" nft -f - <<NFT
table inet ferry_slow {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 127.0.0.2 accept
    ip ttl 17 accept
    meta l4proto udp meta length > 1000 limit rate over $rate mbytes/second drop
  }
}
NFT
}

# rcvbuf_errors: UDP datagrams the kernel dropped in $netns because a socket's buffer was full
# (an injected datagram lost there was never seen by the server, so it cannot be counted).
rcvbuf_errors() {
  ip netns exec "$netns" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
    else print $c["RcvbufErrors"] }' /proc/net/snmp
}

# in_background ARGS...: the client in $netns, in the background; sets $client.
in_background() {
  ip netns exec "$netns" "$xftp" -q -t 3 "$@" >"$work/bg.out" 2>"$work/bg.err" &
  client=$!
}

# wait_for_record FILE: until a partial record lists 2 blocks or more (30 s at most), while the
# background client runs. Only blocks hashed in file order are recorded, and under heavy loss
# the contiguous prefix can trail what arrived: on a loaded machine this takes a while.
wait_for_record() {
  for _ in $(seq 1 600); do
    [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge $((56 + 16 * 2)) ] && return 0
    kill -0 "$client" 2>/dev/null ||
      fail "the client ended before 2 blocks were recorded at $1: $(cat "$work/bg.err")"
    sleep 0.05
  done
  fail "no record of 2 blocks at $1 after 30 s: $(cat "$work/bg.err")"
}

# old_download_gone: waits (60 s at most) until xftpd has given up the download whose client
# was killed. Its data socket is not connected, so no ICMP error tells it the client is gone:
# it goes on probing until its idle timeout, and through this namespace's rate limit that can
# starve the rerun (a known limit: see the issue's notes; pacing is part 2's).
old_download_gone() {
  for _ in $(seq 1 600); do
    grep -q "download /sub/f to .* abandoned" "$work/xftpd.log" && return 0
    sleep 0.1
  done
  fail "xftpd did not give up the killed client's download: $(tail -5 "$work/xftpd.log")"
}

# in_ns_run EXPECTED_RC ARGS...: `run` inside $netns.
in_ns_run() {
  local want=$1; shift
  set +e
  ip netns exec "$netns" timeout 120 "$xftp" "${xftp_options[@]}" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || {
    cat "$work/err"
    tail -20 "$work/xftpd.log"
    fail "xftp $* exited $rc, expected $want"
  }
}

# resumed_from: the bytes the client said were there already (0 when it did not resume).
resumed_from() { sed -n 's/.*resumed, \([0-9]*\) bytes were there already.*/\1/p' "$work/err" | tail -1; }

# server_sent_again WHAT PATH: bytes the server's log line for that transfer says moved this
# time ("received" for an upload, "sent" for a download); waits 5 s for the line.
server_moved() {
  local line
  for _ in $(seq 1 50); do
    line=$(grep "$1 $2 (.*done (extended)" "$work/xftpd.log" | tail -1) && [ -n "$line" ] && break
    sleep 0.1
  done
  [ -n "$line" ] || fail "no line for $1 $2 in $(cat "$work/xftpd.log")"
  echo "$line" | sed -n 's/.*done (extended): \([0-9]*\) bytes \(received\|sent\).*/\1/p'
}

# check_resumed WHAT PATH LOCAL REMOTE: the rerun said it resumed, moved less than the whole
# file, and the two copies are identical.
check_resumed() {
  local what=$1 path=$2 size resumed moved
  size=$(stat -c %s "$3")
  resumed=$(resumed_from)
  [ "${resumed:-0}" -gt 0 ] || fail "$what: the rerun did not resume: $(cat "$work/err")"
  moved=$(server_moved "$what" "$path")
  [ "$moved" -lt "$size" ] || fail "$what: $moved bytes moved again of $size"
  wait_same "$3" "$4" || fail "$what: the copies differ"
  echo "$what $path: $resumed of $size bytes were there, $moved moved again"
}

case $scenario in
  resume_client_killed)
    # The rate-limited namespace drops most of a fixed window (no congestion control yet):
    # probes back off, and a loaded machine needs room on both sides.
    xftp_options=(-t 30)
    xftpd_idle=30
    slow_namespace
    start_xftpd
    head -c $((32 << 20)) /dev/urandom >"$work/local/f"
    in_background "$server" put "$work/local/f" /sub/f
    wait_for_record "$work/root/sub/.ferry-ranges.f"
    kill -9 "$client"; wait "$client" 2>/dev/null || true
    [ ! -e "$work/root/sub/f" ] || fail "a killed put left its file under the final name"
    in_ns_run 0 "$server" put "$work/local/f" /sub/f
    check_resumed upload /sub/f "$work/local/f" "$work/root/sub/f"
    ok "put killed mid-way, run again: resumed, byte-identical"
    in_background "$server" get /sub/f "$work/local/back"
    wait_for_record "$work/local/.ferry-ranges.back"
    kill -9 "$client"; wait "$client" 2>/dev/null || true
    [ ! -e "$work/local/back" ] || fail "a killed get left its file under the final name"
    old_download_gone
    in_ns_run 0 "$server" get /sub/f "$work/local/back"
    check_resumed download /sub/f "$work/local/f" "$work/local/back"
    [ -z "$(ls -A "$work/local" | grep ferry-)" ] || fail "partial data left: $(ls -A "$work/local")"
    ok "get killed mid-way, run again: resumed, byte-identical, nothing left beside it"
    ;;
  resume_server_killed)
    xftp_options=(-t 30)
    xftpd_idle=30
    slow_namespace
    start_xftpd
    daemon=${peers[-1]}
    head -c $((32 << 20)) /dev/urandom >"$work/local/f"
    in_background "$server" put "$work/local/f" /sub/f
    wait_for_record "$work/root/sub/.ferry-ranges.f"
    kill -9 "$daemon"
    set +e; wait "$client"; rc=$?; set -e
    [ "$rc" != 0 ] || fail "the put succeeded with its server killed"
    start_xftpd
    daemon=${peers[-1]}
    in_ns_run 0 "$server" put "$work/local/f" /sub/f
    check_resumed upload /sub/f "$work/local/f" "$work/root/sub/f"
    ok "put with its server killed mid-way, server restarted, run again: resumed, byte-identical"
    in_background "$server" get /sub/f "$work/local/back"
    wait_for_record "$work/local/.ferry-ranges.back"
    kill -9 "$daemon"
    set +e; wait "$client"; rc=$?; set -e
    [ "$rc" != 0 ] || fail "the get succeeded with its server killed"
    start_xftpd
    in_ns_run 0 "$server" get /sub/f "$work/local/back"
    check_resumed download /sub/f "$work/local/f" "$work/local/back"
    ok "get with its server killed mid-way, server restarted, run again: resumed, byte-identical"
    ;;
  corrupt_partial)
    xftp_options=(-t 30)
    xftpd_idle=30
    slow_namespace
    start_xftpd
    daemon=${peers[-1]}
    head -c $((32 << 20)) /dev/urandom >"$work/local/f"
    in_background "$server" put "$work/local/f" /sub/f
    wait_for_record "$work/root/sub/.ferry-ranges.f"
    kill -9 "$client"; wait "$client" 2>/dev/null || true
    kill -9 "$daemon"  # so nothing rewrites the record meanwhile
    printf 'XXXXXXXX' | dd of="$work/root/sub/.ferry-partial.f" bs=1 seek=100 conv=notrunc 2>/dev/null
    start_xftpd
    in_ns_run 0 "$server" put "$work/local/f" /sub/f
    grep -q "upload /sub/f from .* resumes: [0-9]* bytes present and verified, 1 blocks failed their check" \
      "$work/xftpd.log" || fail "the damaged block was not found: $(cat "$work/xftpd.log")"
    check_resumed upload /sub/f "$work/local/f" "$work/root/sub/f"
    ok "a put's partial data damaged on the server: the block fails its check, is sent again"
    in_background "$server" get /sub/f "$work/local/back"
    wait_for_record "$work/local/.ferry-ranges.back"
    kill -9 "$client"; wait "$client" 2>/dev/null || true
    printf 'XXXXXXXX' | dd of="$work/local/.ferry-partial.back" bs=1 seek=100 conv=notrunc 2>/dev/null
    old_download_gone
    in_ns_run 0 "$server" get /sub/f "$work/local/back"
    check_resumed download /sub/f "$work/local/f" "$work/local/back"
    ok "a get's partial data damaged on the client: the block fails its check, is sent again"
    ;;
  injection)
    slow_namespace 2  # 2 MB/s: the server keeps up, so what is injected reaches it
    command -v python3 >/dev/null || skip "python3 runs the attacker"
    head -c 32 /dev/urandom >"$work/key"
    start_xftpd --key-file "$work/key"
    head -c $((8 << 20)) /dev/urandom >"$work/local/f"
    lost_before=$(rcvbuf_errors)
    ip netns exec "$netns" python3 "$here/xftp_inject.py" "$work/local/f" --forge \
      >"$work/inject.out" 2>"$work/inject.err" &
    attacker=$!
    sleep 0.5  # listening before the first datagram
    in_ns_run 0 --key-file "$work/key" "$server" put "$work/local/f" /sub/f
    wait "$attacker" || fail "the attacker failed: $(cat "$work/inject.err")"
    wait_same "$work/local/f" "$work/root/sub/f" || fail "the attacked put differs"
    seen=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seen"], d["stranger"], d["forged"], d["clear"])' "$work/inject.out")
    read -r n_seen n_stranger n_forged n_clear <<<"$seen"
    [ "$n_stranger" -ge 20 ] && [ "$n_forged" -ge 20 ] || fail "too few injected: $(cat "$work/inject.out")"
    [ "$n_clear" = 0 ] || fail "$n_clear of $n_seen keyed DATA datagrams carry the file's bytes in clear"
    line=
    for _ in $(seq 1 50); do
      line=$(grep "upload /sub/f with .*: dropped" "$work/xftpd.log" || true); [ -n "$line" ] && break; sleep 0.1
    done
    from_other=$(echo "$line" | sed -n 's/.* \([0-9]*\) from another address.*/\1/p')
    bad_tag=$(echo "$line" | sed -n 's/.* \([0-9]*\) failing their tag.*/\1/p')
    lost=$(( $(rcvbuf_errors) - lost_before ))
    # Every injected datagram is counted, but those the kernel lost to a full socket buffer
    # (on a loaded machine), which the server never saw.
    [ $(( ${from_other:-0} + lost )) -ge "$n_stranger" ] &&
      [ $(( ${bad_tag:-0} + lost )) -ge "$n_forged" ] && [ "${bad_tag:-0}" -gt 0 ] &&
      [ "${from_other:-0}" -gt 0 ] ||
      fail "not counted: '$line' after $(cat "$work/inject.out"), $lost lost to full buffers"
    echo "injected $n_stranger + $n_forged; counted $from_other + $bad_tag; $lost datagrams lost to full socket buffers"
    ok "keyed put under attack: $n_stranger copies from another address and $n_forged forged ones dropped and counted ($line), none of $n_seen datagrams in clear, the file identical"
    kill "${peers[-1]}"
    start_xftpd
    ip netns exec "$netns" python3 "$here/xftp_inject.py" "$work/local/f" \
      >"$work/inject.out" 2>"$work/inject.err" &
    attacker=$!
    sleep 0.5
    in_ns_run 0 "$server" put "$work/local/f" /sub/clear
    wait "$attacker" || fail "the attacker failed: $(cat "$work/inject.err")"
    wait_same "$work/local/f" "$work/root/sub/clear" || fail "the attacked clear put differs"
    read -r n_seen n_stranger n_forged n_clear <<<"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seen"], d["stranger"], d["forged"], d["clear"])' "$work/inject.out")"
    [ "$n_clear" -gt 0 ] || fail "the check found no clear bytes even without a key: it cannot fail"
    for _ in $(seq 1 50); do grep -q "upload /sub/clear with .*: dropped" "$work/xftpd.log" && break; sleep 0.1; done
    grep -q "upload /sub/clear with .*: dropped .* from another address" "$work/xftpd.log" ||
      fail "a stranger's copies were not counted: $(cat "$work/xftpd.log")"
    ok "without a key (control): $n_clear of $n_seen datagrams show the file's bytes; a stranger's copies are still dropped"
    ;;
  partial_names)
    start_xftpd --partial-expiry 86400
    daemon=${peers[-1]}
    printf 'partial' >"$work/root/sub/.ferry-partial.x"
    printf 'record' >"$work/root/sub/.ferry-ranges.x"
    head -c 2000 /dev/urandom >"$work/local/f"
    run 0 "$server" ls /sub
    ! grep -q ferry "$work/out" || fail "a listing shows partial data: $(cat "$work/out")"
    run 5 "$server" get /sub/.ferry-partial.x "$work/local/px"
    run 5 "$server" get /sub/.ferry-ranges.x "$work/local/rx"
    run 5 "$server" put "$work/local/f" /sub/.ferry-partial.y
    run 5 "$server" rm /sub/.ferry-partial.x
    run 5 "$server" mv /sub/.ferry-partial.x /sub/stolen
    run 5 "$server" mv /hello.txt /sub/.ferry-ranges.x
    [ "$(cat "$work/root/sub/.ferry-partial.x")" = partial ] &&
      [ "$(cat "$work/root/sub/.ferry-ranges.x")" = record ] &&
      [ ! -e "$work/root/sub/.ferry-partial.y" ] && [ ! -e "$work/root/sub/stolen" ] ||
      fail "a command reached partial data"
    ok "partial data: not listed; get, put, rm and mv of its names refused (INVALID), untouched"
    kill "$daemon"
    printf 'old' >"$work/root/sub/.ferry-partial.old"
    printf 'old' >"$work/root/sub/.ferry-ranges.old"
    touch -d '2 days ago' "$work/root/sub/.ferry-partial.old" "$work/root/sub/.ferry-ranges.old"
    start_xftpd --partial-expiry 86400
    for _ in $(seq 1 50); do [ -e "$work/root/sub/.ferry-partial.old" ] || break; sleep 0.1; done
    [ ! -e "$work/root/sub/.ferry-partial.old" ] && [ ! -e "$work/root/sub/.ferry-ranges.old" ] ||
      fail "expired partial data was kept: $(ls -A "$work/root/sub")"
    [ -e "$work/root/sub/.ferry-partial.x" ] || fail "fresh partial data was removed"
    grep -q "removed 2 temporaries" "$work/xftpd.log" || fail "not logged: $(cat "$work/xftpd.log")"
    ok "partial data older than --partial-expiry is removed at start, with its record; fresh is kept"
    ;;
  default_is_extended)
    start_xftpd
    head -c 20000000 /dev/urandom >"$work/local/big"
    run 0 "$server" put "$work/local/big" /sub/big
    wait_same "$work/local/big" "$work/root/sub/big" || fail "put differs"
    run 0 "$server" get /sub/big "$work/local/back"
    cmp "$work/local/big" "$work/local/back" || fail "get differs"
    run 0 "$server" mkdir /made
    run 0 "$server" mv /sub/big /made/big
    run 0 "$server" ls /made
    [ "$(cat "$work/out")" = big ] || fail "ls: $(cat "$work/out")"
    run 3 "$server" rm /nothere
    run 4 "$server" put "$work/local/big" /hello.txt
    run 0 "$server" rm /made/big
    for what in "download /sub/big (20000000 bytes) to .* done (extended)" \
                "MKDIR /made from .* (extended): OK" "DELETE /nothere from .* (extended): NOT_FOUND"; do
      grep -q "$what" "$work/xftpd.log" || fail "not in extended mode: no '$what' in $(cat "$work/xftpd.log")"
    done
    ok "put, get, mkdir, mv, ls, rm in extended mode, byte-identical, statuses as in legacy"
    run 0 --legacy "$server" get /hello.txt "$work/local/h"
    grep -q "DOWNLOAD /hello.txt from .*: OK$" "$work/xftpd.log" || fail "--legacy did not speak legacy"
    ok "--legacy speaks legacy to the same server"
    mkdir "$work/root/many"
    (cd "$work/root/many" && for i in $(seq 1 3000); do : >"file-with-a-longish-name-$i"; done)
    mkdir "$work/root/many/a-directory"
    run 0 "$server" ls /many
    [ "$(wc -l <"$work/out")" = 3001 ] || fail "extended ls gave $(wc -l <"$work/out") of 3001 names"
    [ "$(head -1 "$work/out")" = a-directory/ ] || fail "directories first: $(head -1 "$work/out")"
    [ "$(sort -u "$work/out" | wc -l)" = 3001 ] || fail "extended ls repeated names"
    run 0 --legacy "$server" ls /many
    [ "$(wc -l <"$work/out")" -lt 3001 ] || fail "legacy ls is one datagram: $(wc -l <"$work/out") names?"
    ok "ls of 3001 names: all of them, in pages, in extended mode (one datagram's worth in legacy)"
    ;;
  keyed)
    head -c 32 /dev/urandom >"$work/key"
    head -c 32 /dev/urandom >"$work/other-key"
    start_xftpd --key-file "$work/key"
    head -c 3000000 /dev/urandom >"$work/local/f"
    run 0 --key-file "$work/key" "$server" put "$work/local/f" /sub/f
    wait_same "$work/local/f" "$work/root/sub/f" || fail "keyed put differs"
    XFTP_KEY_FILE="$work/key" run 0 "$server" get /sub/f "$work/local/back"
    cmp "$work/local/f" "$work/local/back" || fail "keyed get differs"
    grep -q "download /sub/f (3000000 bytes) to .* done (extended)" "$work/xftpd.log" ||
      fail "the keyed get was not in extended mode: $(cat "$work/xftpd.log")"
    ok "keyed put and get (--key-file, XFTP_KEY_FILE)"
    run 1 "$server" put "$work/local/f" /sub/nokey
    grep -q "needs a key" "$work/err" || fail "no reason given: $(cat "$work/err")"
    xftp_options=(-t 2)
    run 7 --key-file "$work/other-key" "$server" put "$work/local/f" /sub/wrongkey
    run 7 --legacy "$server" put "$work/local/f" /sub/legacy
    xftp_options=(-t 10)
    [ ! -e "$work/root/sub/nokey" ] && [ ! -e "$work/root/sub/wrongkey" ] &&
      [ ! -e "$work/root/sub/legacy" ] || fail "a request without the key changed the server"
    ok "no key: refused with the reason; a wrong key or legacy: no answer; nothing written"
    kill -TERM "${peers[-1]}"
    for _ in $(seq 1 50); do grep -q "xftpd stopped" "$work/xftpd.log" && break; sleep 0.1; done
    grep -q "extended-mode datagrams dropped so far: [0-9]* (.*failing their tag" "$work/xftpd.log" ||
      fail "the wrong key's HELLOs were not counted: $(cat "$work/xftpd.log")"
    ok "the wrong key's HELLOs are counted: $(grep -o 'dropped so far: .*' "$work/xftpd.log" | tail -1)"
    ;;
  fallback_original)
    command -v python3 >/dev/null || skip "python3 runs the scripted original server"
    python3 "$here/xftp_original_server.py" "$work/root" --requests "$work/requests" \
      >"$work/original.log" 2>&1 &
    peers+=($!)
    port=$(wait_for_port "$work/original.log") || { cat "$work/original.log"; fail "no original server"; }
    head -c 100000 /dev/urandom >"$work/local/f"
    run 0 "127.0.0.1:$port" put "$work/local/f" /sub/f
    wait_same "$work/local/f" "$work/root/sub/f" || fail "put through the fallback differs"
    run 0 "127.0.0.1:$port" ls /
    grep -qx "1 /sub/f" "$work/requests" || fail "the original server got no legacy UPLOAD: $(cat "$work/requests")"
    ok "against the original server: HELLO unanswered, legacy used, the put arrives"
    head -c 32 /dev/urandom >"$work/key"
    run 7 --key-file "$work/key" "127.0.0.1:$port" put "$work/local/f" /sub/keyed
    grep -q "does not fall back" "$work/err" || fail "no reason given: $(cat "$work/err")"
    [ ! -e "$work/root/sub/keyed" ] || fail "a keyed client sent in clear"
    ok "with a key: no fallback to legacy, nothing sent in clear"
    ;;
  loss_1percent)
    [ "$(id -u)" -eq 0 ] || skip "namespaces need root"
    command -v nft >/dev/null || skip "nft (nftables) is not installed"
    netns="ferry-xl$$"
    ip netns add "$netns" || skip "cannot create a network namespace"
    ip -n "$netns" link set lo up
    ip netns exec "$netns" nft -f - <<'NFT'
table inet ferry_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    meta l4proto udp numgen random mod 100 0 counter drop
  }
}
NFT
    start_xftpd
    head -c $((64 << 20)) /dev/urandom >"$work/local/f64"
    nsrun() { ip netns exec "$netns" "$@"; }
    set +e
    nsrun timeout 300 "$xftp" -q -t 30 "$server" put "$work/local/f64" /sub/f64 >"$work/out" 2>"$work/err"
    rc=$?
    set -e
    [ "$rc" = 0 ] || fail "put through 1% loss: exit $rc: $(cat "$work/err")"
    wait_same "$work/local/f64" "$work/root/sub/f64" || fail "put through 1% loss differs"
    set +e
    nsrun timeout 300 "$xftp" -q -t 30 "$server" get /sub/f64 "$work/local/back" >"$work/out" 2>"$work/err"
    rc=$?
    set -e
    [ "$rc" = 0 ] || fail "get through 1% loss: exit $rc: $(cat "$work/err")"
    cmp "$work/local/f64" "$work/local/back" || fail "get through 1% loss differs"
    for what in "upload /sub/f64 (67108864 bytes) from .* done (extended)" \
                "download /sub/f64 (67108864 bytes) to .* done (extended)"; do
      for _ in $(seq 1 50); do grep -q "$what" "$work/xftpd.log" && break; sleep 0.1; done
      grep -q "$what" "$work/xftpd.log" || fail "not in extended mode: $(cat "$work/xftpd.log")"
    done
    dropped=$(ip netns exec "$netns" nft list ruleset | grep -o 'packets [0-9]*' | head -1 | cut -d' ' -f2)
    [ "${dropped:-0}" -gt 100 ] || fail "the rule dropped only ${dropped:-0} datagrams"
    ok "64 MiB up and down through a loopback that dropped $dropped UDP datagrams (1%), byte-identical"
    ;;
  *)
    fail "unknown scenario $scenario"
    ;;
esac
[ "$passed" -gt 0 ] || fail "nothing was checked"
echo "$passed passed, 0 failed"
