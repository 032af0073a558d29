#!/usr/bin/env bash
# Interop as root: the real bbftp 3.x client (FERRY_REAL_BBFTP) against our bbftpd serving
# system accounts (like the real bbftpd), through PAM or shadow + crypt(3). The pre-login process
# runs as a throw-away account; each session runs as the user, whose uploads it owns.
# Usage: real_client_vs_ferry_daemon_system.sh BBFTPD GETPASS_SHIM pam|shadow
set -euo pipefail
bbftpd=$1
shim=$2
backend=$3
. "$(dirname "$0")/common.sh"
[ -n "${FERRY_REAL_BBFTP:-}" ] || skip "set FERRY_REAL_BBFTP to a real bbftp 3.x client to run this test"
[ -x "$FERRY_REAL_BBFTP" ] || skip "FERRY_REAL_BBFTP=$FERRY_REAL_BBFTP is not executable"
[ "$(id -u)" -eq 0 ] || skip "system accounts need a daemon running as root"
# Captured first: under pipefail, `--help | grep -q` fails whenever grep stops reading before
# bbftpd's last write (SIGPIPE), and the test skipped at random.
help=$("$bbftpd" --help)
if [ "$backend" = pam ] && [[ $help != *--system-auth* ]]; then
  skip "this bbftpd has no --system-auth"
fi

user="ferry-i$$"
sys_password="sys-pw-$RANDOM$RANDOM"
chmod 711 "$work"
mkdir "$work/home"
useradd -M -d "$work/home" -s /usr/sbin/nologin "$user"
trap 'pkill -u "$user" 2>/dev/null || true; userdel "$user" 2>/dev/null || true; cleanup' EXIT
chown "$user:" "$work/home"
echo "$user:$sys_password" | chpasswd
make_bbftpd_accounts "ferry-t$$" || fail "cannot create the daemon's accounts"
"$bbftpd" --foreground --listen 127.0.0.1 -w 0 --system-auth "$backend" \
  --state-dir "$work/state" "${bbftpd_account_options[@]}" >"$work/daemon.log" 2>&1 &
daemon_pid=$!
port=$(wait_for_port "$work/daemon.log") || { cat "$work/daemon.log"; fail "our bbftpd did not start"; }

head -c $((16 << 20)) /dev/urandom >"$work/big"
client() {
  BBFTP_PASSWORD=$1 LD_PRELOAD=$shim timeout 120 "$FERRY_REAL_BBFTP" -u "$user" -w "$port" -r 1 \
    "${@:2}" 127.0.0.1
}
uid=$(id -u "$user")
for flags in "-p 1" "-p 4 -c" "-D -p 4"; do
  rm -f "$work/big.back"
  # shellcheck disable=SC2086
  out=$(client "$sys_password" $flags -e "mkdir d; cd d; put $work/big big; get big $work/big.back; stat big; cd ..") ||
    fail "$backend $flags: exit $?: $out"
  echo "$out" | grep -q FAILED && fail "$backend $flags: $out"
  cmp "$work/big" "$work/big.back" || fail "$backend $flags: 16 MiB file differs"
  [ "$(stat -c %u "$work/home/d/big")" = "$uid" ] || fail "$backend $flags: upload not owned by $user"
  echo "ok: real client $flags, $backend: put, get, stat OK; upload owned by $user (uid $uid)"
  rm -rf "$work/home/d"
done
out=$(client "wrong-$sys_password" -e "dir ." 2>&1) && fail "$backend: a wrong password was accepted"
echo "ok: $backend: a wrong password is refused ($(echo "$out" | tail -1))"
grep -q "login refused from 127.0.0.1 port [0-9]* for user \"$user\": " "$work/daemon.log" ||
  fail "$backend: the refusal was not logged"
echo "3 passed, 0 failed"
