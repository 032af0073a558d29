# Helpers for the interop scripts: a throw-away served root and user, our daemon on a free port.
# Every wait is bounded; everything is removed on exit.

. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/daemon.sh"

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/ferry-interop-XXXXXX)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  remove_bbftpd_accounts
  rm -rf "$work"
}
trap cleanup EXIT

# start_ferry_daemon BBFTPD [extra options]: sets $port; user "alice", password in $password.
# It listens on $listen_address (default 127.0.0.1).
password="interop-pw-$$"
start_ferry_daemon() {
  local bbftpd=$1; shift
  mkdir -p "$work/root"
  echo "$password" | "$bbftpd" --add-user alice --password-file "$work/pw" --root "$work/root" >/dev/null
  [ ${#bbftpd_accounts_made[@]} -gt 0 ] || make_bbftpd_accounts "ferry-t$$" || fail "cannot create the daemon's accounts"
  give_to_service_user "$work/root"
  : >"$work/daemon.log"  # before the fork: a restart must not read the last daemon's port
  # $daemon_wrap: a command the daemon runs under (ip netns exec NS), empty by default.
  ${daemon_wrap[@]+"${daemon_wrap[@]}"} "$bbftpd" --foreground --listen "${listen_address:-127.0.0.1}" -w 0 --password-file "$work/pw" \
    --state-dir "$work/state" "${bbftpd_account_options[@]}" "$@" >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  port=$(wait_for_port "$work/daemon.log") && return 0
  cat "$work/daemon.log" >&2
  fail "our bbftpd did not start"
}
