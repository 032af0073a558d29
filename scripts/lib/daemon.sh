# Shell helpers shared by the demo, the benchmarks and the tests (source this file).

# wait_for_port LOGFILE: the port a daemon started with port 0 logged ("listening on HOST:PORT"),
# waiting up to 5 s for it. Prints nothing and fails when none appeared.
wait_for_port() {
  local log=$1 port=
  for _ in $(seq 1 100); do
    # The background job's redirection may not have created the log yet.
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" 2>/dev/null | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}

# As root, bbftpd runs each connection's pre-login process under an account of its own and the
# sessions of password-file users under a service account (docs/security.md). make_bbftpd_accounts
# TAG creates throw-away ones (TAG-p, TAG-s), sets bbftpd_account_options to pass them and
# bbftpd_service_user; remove_bbftpd_accounts removes them. Not root: nothing to do (the daemon
# keeps its own uid), and the options stay empty.
bbftpd_account_options=()
bbftpd_service_user=
bbftpd_accounts_made=()
make_bbftpd_accounts() {
  [ "$(id -u)" -eq 0 ] || return 0
  local a
  for a in "$1-p" "$1-s"; do
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group "$a" || return 1
    bbftpd_accounts_made+=("$a")
  done
  bbftpd_account_options=(--prelogin-user "$1-p" --service-user "$1-s")
  bbftpd_service_user="$1-s"
}
remove_bbftpd_accounts() {
  local a
  for a in "${bbftpd_accounts_made[@]}"; do userdel "$a" 2>/dev/null || true; done
  bbftpd_accounts_made=()
}
# give_to_service_user DIR...: the served roots belong to the service account (as root only).
give_to_service_user() {
  [ -n "$bbftpd_service_user" ] || return 0
  chown -R "$bbftpd_service_user:" "$@"
}
