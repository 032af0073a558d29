#!/usr/bin/env bash
# ssh mode end to end against a throw-away OpenSSH server on 127.0.0.1: its own host key, a
# throw-away account whose only way in is a throw-away key. bbftp -s runs "ssh ... bbftpd -s";
# the daemon runs as that account, speaks the control protocol over ssh's standard input and
# output, takes the client's address from the check connection, and moves data over TCP.
# Usage: bbftp_ssh_mode.sh BBFTP BBFTPD CASE
#   CASE: ours (our client, our daemon: protocols 3, 2 active and 1, put and get),
#         real_client (the real bbftp -s against our bbftpd -s; FERRY_REAL_BBFTP),
#         real_daemon (our bbftp -s against the real bbftpd -s; FERRY_REAL_BBFTPD)
set -euo pipefail
bbftp=$1
bbftpd=$2
case_name=$3
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; [ -f "$work/sshd.log" ] && tail -20 "$work/sshd.log" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (a throw-away account and sshd)"
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
  skip "no OpenSSH server and client (scripts/install-deps.sh installs them)"
case $case_name in
  real_client) [ -n "${FERRY_REAL_BBFTP:-}" ] || skip "FERRY_REAL_BBFTP not set" ;;
  real_daemon) [ -n "${FERRY_REAL_BBFTPD:-}" ] || skip "FERRY_REAL_BBFTPD not set" ;;
esac

work=$(mktemp -d /tmp/ferry-ssh-XXXXXX)
chmod 755 "$work"
# The account runs our daemon: a copy it can reach, wherever the build tree lives (a clone in a
# private directory would be out of its reach).
mkdir -m 755 "$work/bin"
cp "$bbftpd" "$work/bin/bbftpd"
bbftpd="$work/bin/bbftpd"
account="ferry-ss$$"
sshd_pid=
cleanup() {
  [ -z "$sshd_pid" ] || kill "$sshd_pid" 2>/dev/null || true
  userdel -r "$account" 2>/dev/null || userdel "$account" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

home="$work/home"
useradd --create-home --home-dir "$home" --shell /bin/bash "$account" || fail "cannot create $account"
chmod 755 "$home"
# "!" (locked, useradd's default) keeps sshd from letting even a key in; "*" only means no
# password.
usermod -p '*' "$account"
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" -C ferry-test-host
ssh-keygen -q -t ed25519 -N '' -f "$work/user_key" -C ferry-test-user
install -d -m 700 -o "$account" "$home/.ssh"
install -m 600 -o "$account" "$work/user_key.pub" "$home/.ssh/authorized_keys"
mkdir -p /run/sshd

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
PidFile $work/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $account
StrictModes no
LogLevel VERBOSE
CONF
"$sshd" -D -e -f "$work/sshd_config" >"$work/sshd.log" 2>&1 &
sshd_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null || fail "sshd did not start: $(cat "$work/sshd.log")"
  sleep 0.1
done

# The ssh command both clients run: our known_hosts (learnt on first use in batch mode), our
# port. -S: batch mode (no question asked), -I: the key, -u: the account, -E: the daemon.
ssh_cmd="ssh -q -p $port -o UserKnownHostsFile=$work/known_hosts"
head -c 3000000 /dev/urandom >"$work/file"

# transfer CLIENT DAEMON NAME [OPTIONS...]: a put and a get through ssh, checked.
transfer() {
  local client=$1 daemon=$2 name=$3; shift 3
  rm -f "$work/back"
  set +e
  (cd "$work" && timeout 120 "$client" -S -L "$ssh_cmd" -I "$work/user_key" -u "$account" \
    -E "$daemon -s" -r 1 "$@" -e "put file $name; get $name back; dir ." 127.0.0.1 \
    >"$work/out" 2>"$work/err" </dev/null)
  local rc=$?
  set -e
  [ "$rc" = 0 ] || fail "$name: exit $rc: $(cat "$work/err" "$work/out")"
  cmp "$work/file" "$home/$name" || fail "$name: the stored file differs"
  cmp "$work/file" "$work/back" || fail "$name: the file came back different"
  [ "$(stat -c %U "$home/$name")" = "$account" ] || fail "$name: not owned by the ssh user"
  grep -qxF "put file $name OK" "$work/out" || fail "$name: no result line: $(cat "$work/out")"
  echo "ok: $name: put and get through ssh ($*), stored as $account"
}

case $case_name in
  ours)
    transfer "$bbftp" "$bbftpd" ours3 -p 3
    transfer "$bbftp" "$bbftpd" ours2 -p 2 -D
    transfer "$bbftp" "$bbftpd" ours1 -p 2 --protocol 1
    grep -q "Accepted publickey for $account" "$work/sshd.log" || fail "sshd did not log the login"
    # No daemon is left behind: each ended with its client.
    sleep 0.5
    ! pgrep -u "$account" -f "bbftpd" >/dev/null || fail "a bbftpd -s outlived its client"
    echo "ok: every bbftpd -s ended with its client"
    ;;
  real_client)
    transfer "$FERRY_REAL_BBFTP" "$bbftpd" real_to_ours -p 3
    ;;
  real_daemon)
    transfer "$bbftp" "$FERRY_REAL_BBFTPD" ours_to_real -p 3
    ;;
  *) fail "unknown case $case_name" ;;
esac
