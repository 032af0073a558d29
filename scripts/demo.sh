#!/usr/bin/env bash
# The demo the README's first command ends with: bbftpd on 127.0.0.1 with a throw-away user and
# served root, a 256 MiB file put and got back over 4 streams, checksums compared, rates shown;
# then xftpd (UDP) with a 64 MiB file put and got back the same way (extended mode, the
# default between our pair).
# Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
. "$(dirname "$0")/lib/daemon.sh"
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d /tmp/ferry-demo-XXXXXX)
daemon=
xdaemon=
cleanup() {
  for d in $daemon $xdaemon; do kill "$d" 2>/dev/null && wait "$d" 2>/dev/null; done
  remove_bbftpd_accounts
  rm -rf "$work"
}
trap cleanup EXIT

for p in bbftp bbftpd xftp xftpd; do "$build/apps/$p" --version; done
echo

password="demo-$RANDOM$RANDOM"
mkdir "$work/root"
echo "$password" | "$build/apps/bbftpd" --add-user demo --password-file "$work/passwords" \
  --root "$work/root" >/dev/null
# As root, bbftpd wants its pre-login and service accounts (packaging/sysusers.d makes the real
# ones): the demo makes throw-away ones, and the served root belongs to the service account.
make_bbftpd_accounts "ferry-demo$$"
give_to_service_user "$work/root"
"$build/apps/bbftpd" --foreground --listen 127.0.0.1 -w 0 --password-file "$work/passwords" \
  --state-dir "$work/state" \
  "${bbftpd_account_options[@]}" \
  >"$work/bbftpd.log" 2>&1 &
daemon=$!
port=$(wait_for_port "$work/bbftpd.log") || port=
[ -n "$port" ] || { cat "$work/bbftpd.log"; echo "demo: bbftpd did not start" >&2; exit 1; }
echo "bbftpd listening on 127.0.0.1:$port, serving $work/root for user 'demo'"

head -c $((256 << 20)) /dev/urandom >"$work/demo.bin"
BBFTP_PASSWORD=$password "$build/apps/bbftp" --known-hosts "$work/known_hosts" -u demo -w "$port" -p 4 -V \
  -e "put $work/demo.bin demo.bin; get demo.bin $work/demo.back" 127.0.0.1 |
  grep -E "bytes (send|got)| OK$| FAILED$"

sent=$(sha256sum <"$work/demo.bin" | cut -d' ' -f1)
stored=$(sha256sum <"$work/root/demo.bin" | cut -d' ' -f1)
back=$(sha256sum <"$work/demo.back" | cut -d' ' -f1)
echo "sha256 sent     $sent"
echo "sha256 stored   $stored"
echo "sha256 got back $back"
[ "$sent" = "$stored" ] && [ "$sent" = "$back" ] || { echo "demo: checksums differ" >&2; exit 1; }
echo "demo: 256 MiB over 4 streams and back, identical"

echo
mkdir "$work/xroot"
"$build/apps/xftpd" --root "$work/xroot" --listen 127.0.0.1 --port 0 >"$work/xftpd.log" 2>&1 &
xdaemon=$!
xport=$(wait_for_port "$work/xftpd.log") || xport=
[ -n "$xport" ] || { cat "$work/xftpd.log"; echo "demo: xftpd did not start" >&2; exit 1; }
echo "xftpd listening on 127.0.0.1:$xport (UDP), serving $work/xroot"
head -c $((64 << 20)) "$work/demo.bin" >"$work/xdemo.bin"
timed() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
tput=$(timed "$build/apps/xftp" -q "localhost:$xport" put "$work/xdemo.bin" /xdemo.bin)
tget=$(timed "$build/apps/xftp" -q "localhost:$xport" get /xdemo.bin "$work/xdemo.back")
printf 'xftp put 64 MiB: %.1f MiB/s, get: %.1f MiB/s (extended mode: acknowledged, checksummed)\n' \
  "$(echo "64 / $tput" | bc -l)" "$(echo "64 / $tget" | bc -l)"
cmp "$work/xdemo.bin" "$work/xdemo.back" || { echo "demo: xftp copy differs" >&2; exit 1; }
echo "demo: 64 MiB over XFTP and back, identical"
