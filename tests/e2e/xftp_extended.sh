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
  "${in_ns[@]}" "$xftpd" --root "$work/root" --listen 127.0.0.1 --port 0 --idle-timeout 10 "$@" \
    >"$work/xftpd.log" 2>&1 &
  peers+=($!)
  local port
  port=$(wait_for_port "$work/xftpd.log") || { cat "$work/xftpd.log"; fail "xftpd did not start"; }
  server="127.0.0.1:$port"
}

case $scenario in
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
