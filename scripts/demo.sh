#!/usr/bin/env bash
# The demo the README's first command ends with: bbftpd on 127.0.0.1 with a throw-away user and
# served root, a 256 MiB file put and got back over 4 streams, checksums compared, rates shown.
# Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail
. "$(dirname "$0")/lib/daemon.sh"
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d /tmp/ferry-demo-XXXXXX)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for p in bbftp bbftpd xftp xftpd; do "$build/apps/$p" --version; done
echo

password="demo-$RANDOM$RANDOM"
mkdir "$work/root"
echo "$password" | "$build/apps/bbftpd" --add-user demo --password-file "$work/passwords" \
  --root "$work/root" >/dev/null
"$build/apps/bbftpd" --foreground --listen 127.0.0.1 -w 0 --password-file "$work/passwords" \
  >"$work/bbftpd.log" 2>&1 &
daemon=$!
port=$(wait_for_port "$work/bbftpd.log") || port=
[ -n "$port" ] || { cat "$work/bbftpd.log"; echo "demo: bbftpd did not start" >&2; exit 1; }
echo "bbftpd listening on 127.0.0.1:$port, serving $work/root for user 'demo'"

head -c $((256 << 20)) /dev/urandom >"$work/demo.bin"
BBFTP_PASSWORD=$password "$build/apps/bbftp" -u demo -w "$port" -p 4 -V \
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
