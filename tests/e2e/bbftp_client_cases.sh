#!/usr/bin/env bash
# Cases where our client must behave as the real bbftp 3.3 client does: the same exit code and
# the same error line. With FERRY_REAL_BBFTP set, the real client is run on the same case too and
# must agree (the expectations below were taken from it).
# Usage: bbftp_client_cases.sh BBFTP BBFTPD GETPASS_SHIM CASE
set -euo pipefail
bbftp=$1
bbftpd=$2
shim=$3
case_name=$4
. "$(dirname "$0")/../interop/common.sh"

# run_case NAME CLIENT ARGS...: prints "exit=N" then the client's stderr.
run_client() {
  local which=$1; shift
  local -a env_=(BBFTP_PASSWORD="$password")
  local client=$bbftp
  if [ "$which" = real ]; then
    client=$FERRY_REAL_BBFTP
    env_+=(LD_PRELOAD="$shim")
  fi
  set +e
  env "${env_[@]}" timeout 60 "$client" "$@" >"$work/out.$which" 2>"$work/err.$which"
  echo $? >"$work/rc.$which"
  set -e
}

# expect EXIT LINE ARGS...: our client (and the real one, if given) exits EXIT and prints LINE
# on stderr (exactly, as a whole line).
expect() {
  local code=$1 line=$2; shift 2
  local clients=(ours)
  [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
  for c in "${clients[@]}"; do
    run_client "$c" "$@"
    local rc
    rc=$(cat "$work/rc.$c")
    [ "$rc" = "$code" ] || fail "$c client: exit $rc, expected $code; stderr: $(cat "$work/err.$c")"
    grep -qxF -- "$line" "$work/err.$c" ||
      fail "$c client: no line '$line' in: $(cat "$work/err.$c")"
    echo "ok: $c client: exit $rc, '$line'"
  done
}

case $case_name in
  unresolvable_host)
    expect 17 "BBFTP-ERROR-00017 : BBftp_Hostname not found (no-such-host.invalid)" \
      -u alice -r 1 -e "dir ." no-such-host.invalid
    ;;
  output_unwritable)
    start_ferry_daemon "$bbftpd"
    expect 10 "BBFTP-ERROR-00010 : Error openning file (/nonexistent/dir/out) : No such file or directory" \
      -u alice -r 1 -w "$port" -o /nonexistent/dir/out -e "dir ." 127.0.0.1
    ;;
  put_missing_local)
    start_ferry_daemon "$bbftpd"
    expect 72 "BBFTP-ERROR-00072 : Error stating file $work/nothere : No such file or directory " \
      -u alice -r 1 -w "$port" -e "put $work/nothere x" 127.0.0.1
    grep -qxF "put $work/nothere x FAILED" "$work/out.ours" || fail "no FAILED line"
    ;;
  dir_missing_once)
    start_ferry_daemon "$bbftpd"
    expect 100 "BBFTP-ERROR-00100 : bbftpd_retrlistdir failed" \
      -u alice -r 1 -w "$port" -e "dir nodir/*" 127.0.0.1
    n=$(grep -c "bbftpd_retrlistdir failed" "$work/err.ours")
    [ "$n" = 1 ] || fail "the error was printed $n times"
    echo "ok: the error is printed once"
    ;;
  retry_succeeds)
    # The first try is refused as busy (the only pre-login slot of 127.0.0.1 is held), the
    # second gets in: exit 0, like the real client (which waits its fixed 30 s between tries).
    start_ferry_daemon "$bbftpd" --max-prelogin-per-source 1
    clients=(ours)
    [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
    for c in "${clients[@]}"; do
      # A connection that holds the slot for 2 s (it reads the greeting and says nothing).
      (exec 3<>/dev/tcp/127.0.0.1/"$port"; sleep 2) &
      holder=$!
      sleep 0.5
      wait_args=(--retry-wait 3)
      [ "$c" = real ] && wait_args=()
      run_client "$c" -u alice -r 2 "${wait_args[@]}" -w "$port" -e "dir ." 127.0.0.1
      wait "$holder" || true
      rc=$(cat "$work/rc.$c")
      grep -qxF "BBFTP-ERROR-00100 : The server is busy, try again later" "$work/err.$c" ||
        fail "$c client: the first try was not refused: $(cat "$work/err.$c")"
      [ "$rc" = 0 ] || fail "$c client: a retry that succeeds exits $rc"
      echo "ok: $c client: refused once (busy), then served: exit 0"
    done
    ;;
  get_creates_directory)
    # createdir is on by default: a get into a missing directory creates it (every level);
    # with "setoption nocreatedir" it fails with the real client's code and words.
    start_ferry_daemon "$bbftpd"
    head -c 100000 /dev/urandom >"$work/root/remote"
    clients=(ours)
    [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
    for c in "${clients[@]}"; do
      run_client "$c" -u alice -r 1 -w "$port" -e "get remote $work/$c/new/sub/file" 127.0.0.1
      rc=$(cat "$work/rc.$c")
      [ "$rc" = 0 ] || fail "$c client: get into a missing directory exits $rc: $(cat "$work/err.$c")"
      cmp "$work/root/remote" "$work/$c/new/sub/file" || fail "$c client: the file differs"
      echo "ok: $c client: the missing directories were created, the file arrived"
    done
    expect 75 "BBFTP-ERROR-00075 : Directory ($work/none/sub) creation needed but TROPT_DIR not set" \
      -u alice -r 1 -w "$port" -e "setoption nocreatedir; get remote $work/none/sub/file" 127.0.0.1
    [ ! -e "$work/none" ] || fail "nocreatedir: a directory was created"
    grep -qxF " get remote $work/none/sub/file FAILED" "$work/out.ours" || fail "no FAILED line"
    ;;
  home_bbftprc)
    # Without -R the client reads ~/.bbftprc from the home directory of the account running it
    # (the passwd entry, as the real client): a throw-away account whose file turns createdir
    # off and holds a line the client does not know (skipped, a warning with -W).
    [ "$(id -u)" = 0 ] || skip "needs root to create a throw-away account with a home"
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    home=$(mktemp -d /tmp/ferry-home-XXXXXX)
    account="ferry-rc$$"
    useradd --no-create-home --home-dir "$home" --shell /usr/sbin/nologin "$account" ||
      fail "cannot create the account"
    trap 'userdel "$account" 2>/dev/null || true; rm -rf "$home"; cleanup' EXIT
    printf 'setnbstream 2\nsetoption nocreatedir\nthis is not a command\n' >"$home/.bbftprc"
    chown -R "$account:" "$home"
    chmod 755 "$home"
    # The account runs our client: a copy it can reach, wherever the build tree lives.
    cp "$bbftp" "$home/bbftp-ours"
    chmod 755 "$home/bbftp-ours"
    clients=(ours)
    [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
    for c in "${clients[@]}"; do
      client=$home/bbftp-ours
      preload=
      if [ "$c" = real ]; then client=$FERRY_REAL_BBFTP; preload=$shim; fi
      as_account() {
        set +e
        env -i PATH="$PATH" HOME=/nonexistent BBFTP_PASSWORD="$password" LD_PRELOAD="$preload" \
          setpriv --reuid="$account" --regid="$account" --clear-groups -- \
          timeout 60 "$client" "$@" >"$work/out.$c" 2>"$work/err.$c" </dev/null
        echo $? >"$work/rc.$c"
        set -e
      }
      as_account -u alice -r 1 -w "$port" -W -e "get remote $home/$c/sub/file" 127.0.0.1
      rc=$(cat "$work/rc.$c")
      [ "$rc" = 75 ] || fail "$c client: ~/.bbftprc not applied: exit $rc: $(cat "$work/err.$c")"
      grep -qxF "BBFTP-WARNING-00013 : Skipping Unknown command in .bbftprc file (this is not a command)" \
        "$work/err.$c" || fail "$c client: no warning for the unknown line: $(cat "$work/err.$c")"
      as_account -u alice -r 1 -w "$port" -R none -e "get remote $home/$c/sub/file" 127.0.0.1
      rc=$(cat "$work/rc.$c")
      [ "$rc" = 0 ] && [ -f "$home/$c/sub/file" ] ||
        fail "$c client: -R none still read ~/.bbftprc: exit $rc: $(cat "$work/err.$c")"
      echo "ok: $c client: ~/.bbftprc of the account read (HOME ignored), unknown line skipped; -R none skips it"
    done
    ;;
  ipv6_literal)
    # A deliberate improvement: an IPv6 literal in brackets (the real client refuses it, error
    # 15). Put and get with 3 streams in each protocol, and protocol 2 active (-D).
    ip -6 addr show dev lo 2>/dev/null | grep -q "inet6 ::1" || skip "no ::1 on the loopback"
    listen_address=::1
    start_ferry_daemon "$bbftpd"
    head -c 3000000 /dev/urandom >"$work/file"
    for how in "--protocol 3" "--protocol 2" "--protocol 1" "-D"; do
      # shellcheck disable=SC2086 # $how is two words or one
      run_client ours -u alice -r 1 -p 3 $how -w "$port" \
        -e "put $work/file up; get up $work/back" '[::1]'
      rc=$(cat "$work/rc.ours")
      [ "$rc" = 0 ] || fail "[::1] $how: exit $rc: $(cat "$work/err.ours")"
      cmp "$work/file" "$work/back" || fail "[::1] $how: the file came back different"
      cmp "$work/file" "$work/root/up" || fail "[::1] $how: the stored file differs"
      rm -f "$work/back"
      echo "ok: [::1] $how: put and get, 3 streams"
    done
    grep -q "from ::1 port" "$work/daemon.log" || fail "the daemon did not see ::1"
    ;;
  no_terminal_password)
    # A deliberate improvement: no terminal (setsid: no controlling one), nothing on stdin and
    # no password given: say how to give one instead of trying an empty password.
    start_ferry_daemon "$bbftpd"
    set +e
    env -u BBFTP_PASSWORD setsid "$bbftp" -u alice -r 1 -w "$port" -e "dir ." 127.0.0.1 \
      </dev/null >"$work/out.ours" 2>"$work/err.ours"
    rc=$?
    set -e
    [ "$rc" = 19 ] || fail "exit $rc, expected 19: $(cat "$work/err.ours")"
    grep -qxF "BBFTP-ERROR-00019 : Password is mandatory: there is no terminal to ask on; give it in BBFTP_PASSWORD or with --password-file FILE" \
      "$work/err.ours" || fail "no hint in: $(cat "$work/err.ours")"
    ! grep -q alice "$work/daemon.log" || fail "a login was tried: $(cat "$work/daemon.log")"
    echo "ok: no terminal, no password: exit 19 with the hint, no login tried"
    # A password on stdin (no terminal) is still read, as getpass(3) does.
    set +e
    echo "$password" | env -u BBFTP_PASSWORD setsid "$bbftp" -u alice -r 1 -w "$port" \
      -e "dir ." 127.0.0.1 >"$work/out.ours" 2>"$work/err.ours"
    rc=$?
    set -e
    [ "$rc" = 0 ] || fail "a password on stdin: exit $rc: $(cat "$work/err.ours")"
    echo "ok: a password piped on stdin is read"
    ;;
  progress_on_terminal)
    # Under a pseudo-terminal (script(1)) a progress bar is drawn on stderr, then erased before
    # the real client's result line; piped, nothing but the real client's lines. A retry wait is
    # announced on a terminal only.
    command -v script >/dev/null || skip "no script(1) (util-linux)"
    start_ferry_daemon "$bbftpd"
    head -c 20000000 /dev/urandom >"$work/big"
    cmd="BBFTP_PASSWORD=$password $bbftp -u alice -r 1 -p 2 -w $port -e 'put $work/big up; get up $work/back' 127.0.0.1"
    script -qec "$cmd" /dev/null >"$work/tty" </dev/null || fail "under a terminal: $(cat -v "$work/tty")"
    grep -qaF "$(printf '\r\033[K')$work/big  " "$work/tty" || fail "no progress bar for the put: $(cat -v "$work/tty")"
    grep -qaF "$(printf '\r\033[K')$work/back  " "$work/tty" || fail "no progress bar for the get: $(cat -v "$work/tty")"
    grep -qaE "[0-9]+% .*B/s" "$work/tty" || fail "no percentage and rate: $(cat -v "$work/tty")"
    grep -qaF "$(printf '\033[K')put $work/big up OK" "$work/tty" || fail "the bar was not erased before the result line"
    cmp "$work/big" "$work/back" || fail "the file came back different"
    echo "ok: under a terminal: a bar per file with percentage and rate, erased before each result line"
    rm -f "$work/back"
    run_client ours -u alice -r 1 -p 2 -w "$port" -e "put $work/big up; get up $work/back" 127.0.0.1
    [ "$(cat "$work/rc.ours")" = 0 ] || fail "piped: exit $(cat "$work/rc.ours")"
    ! grep -qaF "$(printf '\033')" "$work/err.ours" "$work/out.ours" || fail "piped: a bar was drawn"
    [ "$(cat "$work/out.ours")" = "$(printf 'put %s up OK\n get up %s OK' "$work/big" "$work/back")" ] ||
      fail "piped: the output is not the real client's lines: $(cat -v "$work/out.ours")"
    echo "ok: piped: no bar, only the real client's lines"
    free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    script -qec "BBFTP_PASSWORD=x $bbftp -u alice -r 2 --retry-wait 1 -w $free_port -e 'dir .' 127.0.0.1" \
      /dev/null >"$work/tty" </dev/null || true
    grep -qaF "bbftp: waiting 1 s before try 2 of 2" "$work/tty" || fail "no retry announcement: $(cat -v "$work/tty")"
    run_client ours -u alice -r 2 --retry-wait 1 -w "$free_port" -e "dir ." 127.0.0.1
    ! grep -qF "waiting" "$work/err.ours" || fail "piped: the retry wait was announced"
    echo "ok: a retry wait is announced on a terminal only"
    ;;
  json_summary)
    # --json: one JSON object per command instead of its OK/FAILED line, matching the transfer.
    start_ferry_daemon "$bbftpd"
    head -c 3000000 /dev/urandom >"$work/file"
    run_client ours -u alice -r 1 -p 3 -w "$port" --json \
      -e "put $work/file up; get missing $work/x; mkdir d; mget up* $work/many" 127.0.0.1
    # The exit code is the last failure's, as without --json.
    [ "$(cat "$work/rc.ours")" = 100 ] || fail "exit $(cat "$work/rc.ours"): $(cat "$work/err.ours")"
    cmp "$work/file" "$work/many/up" || fail "mget: the file differs"
    python3 - "$work/out.ours" "$work" <<'PY' || fail "the JSON does not match: $(cat "$work/out.ours")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
work = sys.argv[2]
objs = [json.loads(l) for l in lines]  # every line is one object
assert len(objs) == 4, lines
put, get, mkdir, mget = objs
assert put["command"] == "put %s/file up" % work and put["verb"] == "put" and put["outcome"] == "ok", put
assert put["bytes"] == 3000000 and put["streams"] == 3 and put["seconds"] >= 0, put
assert put["files"] == [dict(source=work + "/file", destination="up", outcome="ok", bytes=3000000,
                             seconds=put["seconds"], streams=3)], put
assert get["outcome"] == "failed" and get["error"] == 100 and "missing" in get["message"], get
assert get["files"][0]["outcome"] == "failed" and get["bytes"] == 0, get
assert mkdir == {"command": "mkdir d", "verb": "mkdir", "outcome": "ok"}, mkdir
assert [f["destination"] for f in mget["files"]] == [work + "/many/up"], mget
assert mget["bytes"] == 3000000 and mget["outcome"] == "ok", mget
PY
    grep -qxF "BBFTP-ERROR-00100 : Error stating file missing : No such file or directory " "$work/err.ours" ||
      fail "the error line is gone from stderr: $(cat "$work/err.ours")"
    echo "ok: --json: 4 objects, bytes, streams, files and outcomes as transferred; errors still on stderr"
    ;;
  default_names)
    # "get r" lands in ./basename(r), a destination ending with '/' gets the source's base
    # name, "put l" stores basename(l); a file where the get's directory should be is error 72.
    start_ferry_daemon "$bbftpd"
    mkdir -p "$work/root/d"
    echo first >"$work/root/d/g1"
    give_to_service_user "$work/root"
    echo plain >"$work/plain"
    clients=(ours)
    [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
    for c in "${clients[@]}"; do
      mkdir -p "$work/$c" && cd "$work/$c"
      run_client "$c" -u alice -r 1 -w "$port" -e "get d/g1; get d/g1 n9/; put $work/plain" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 0 ] || fail "$c client: exit $(cat "$work/rc.$c"): $(cat "$work/err.$c")"
      cmp "$work/root/d/g1" g1 && cmp "$work/root/d/g1" n9/g1 && cmp "$work/plain" "$work/root/plain" ||
        fail "$c client: the files are not where the real client puts them: $(ls -R)"
      rm -f "$work/root/plain"
      touch plainfile
      run_client "$c" -u alice -r 1 -w "$port" -e "get d/g1 plainfile/g1" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 72 ] || fail "$c client: exit $(cat "$work/rc.$c") for a file as directory"
      grep -q "^BBFTP-ERROR-00072 : Error stating file plainfile/g1.* : Not a directory$" "$work/err.$c" ||
        fail "$c client: $(cat "$work/err.$c")"
      echo "ok: $c client: ./g1, n9/g1 and basename(put) as the real client names them; a file as directory: 72"
      cd "$work"
    done
    ;;
  mget_mput_lines)
    # mget and mput print one line per file ("get SRC DIR/NAME OK", DIR as typed, ./ by default;
    # mput lists a bare pattern as ./NAME), each failure's error, and their own line OK; a
    # pattern that matches nothing is OK. Both clients' output must be the same, line for line.
    start_ferry_daemon "$bbftpd"
    mkdir -p "$work/root/m"
    echo one >"$work/root/m/x1"
    give_to_service_user "$work/root"
    clients=(ours)
    [ -n "${FERRY_REAL_BBFTP:-}" ] && clients+=(real)
    for c in "${clients[@]}"; do
      mkdir -p "$work/$c/loc" && cd "$work/$c"
      echo local >l1
      run_client "$c" -u alice -r 1 -w "$port" \
        -e "mget m/x* loc; mget m/x*; mput nothing* m; mkdir up$c; mput l* up$c; setoption nocreatedir; mget m/x* none/sub" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 75 ] || fail "$c client: exit $(cat "$work/rc.$c"), expected 75"
      cmp "$work/root/m/x1" loc/x1 && cmp "$work/root/m/x1" x1 && cmp l1 "$work/root/up$c/l1" ||
        fail "$c client: the files are not where they should be"
      # (the getpass shim under the real client writes its prompt on stdout)
      sed -e "s/up$c/upC/g" -e "s/^Password: //" "$work/out.$c" >"$work/lines.$c"
      cd "$work"
    done
    expected="get m/x1 loc/x1 OK
mget m/x* loc OK
get m/x1 .//x1 OK
 mget m/x* OK
 mput nothing* m OK
 mkdir upC OK
put ./l1 upC/l1 OK
 mput l* upC OK
 setoption nocreatedir OK
get m/x1 none/sub/x1 FAILED
 mget m/x* none/sub OK"
    [ "$(cat "$work/lines.ours")" = "$expected" ] || fail "ours: $(cat "$work/lines.ours")"
    if [ -n "${FERRY_REAL_BBFTP:-}" ]; then
      diff "$work/lines.ours" "$work/lines.real" || fail "the two clients' lines differ"
    fi
    grep -qxF "BBFTP-ERROR-00075 : Directory (none/sub) creation needed but TROPT_DIR not set" \
      "$work/err.ours" || fail "no error line for the failed file"
    echo "ok: mget/mput lines per file, OK for the command, exit 75 from the failed file$([ -n "${FERRY_REAL_BBFTP:-}" ] && echo ", the same as the real client's")"
    ;;
  no_user_and_refused)
    # No -u: 18 "No username given"; a port nobody listens on: 52 with the bare reason, then 33.
    expect 18 "BBFTP-ERROR-00018 : No username given" -r 1 -e "dir ." 127.0.0.1
    free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    expect 33 "BBFTP-ERROR-00052 : Cannot connect to control socket: Connection refused" \
      -u alice -r 1 -w "$free_port" -e "dir ." 127.0.0.1
    ;;
  local_directories)
    # lcd that fails: 71; a put of a directory: 73; a get into a directory: 81 (the real client's
    # rename fails; ours refuses before any data moves), 73 with notmpfile.
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    give_to_service_user "$work/root"
    mkdir -p "$work/ldir"
    cd "$work"
    expect 71 "BBFTP-ERROR-00071 : Error changing directory /nonexistent (No such file or directory)" \
      -u alice -r 1 -w "$port" -e "lcd /nonexistent" 127.0.0.1
    expect 73 "BBFTP-ERROR-00073 : File ldir is a directory" \
      -u alice -r 1 -w "$port" -e "put ldir x" 127.0.0.1
    [ ! -e "$work/root/x" ] || fail "a put of a directory left a file"
    expect 73 "BBFTP-ERROR-00073 : File ldir is a directory" \
      -u alice -r 1 -w "$port" -e "setoption notmpfile; get remote ldir" 127.0.0.1
    # With tmpfile, both exit 81; the real client's line names its temporary file.
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      run_client "$c" -u alice -r 1 -w "$port" -e "get remote ldir" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 81 ] || fail "$c client: exit $(cat "$work/rc.$c"): $(cat "$work/err.$c")"
      grep -q "^BBFTP-ERROR-00081 : .* ldir" "$work/err.$c" || fail "$c client: $(cat "$work/err.$c")"
      [ -z "$(ls -A "$work/ldir")" ] || fail "$c client: something was left in the directory: $(ls -A "$work/ldir")"
      echo "ok: $c client: a get into a directory is 81"
    done
    ;;
  bad_commands)
    # An unknown command: error 25 when its turn comes, FAILED, the rest runs, exit code untouched;
    # too many or too few arguments: 26 (the exit code). Blank pieces and comments are echoed OK,
    # in -e as in a control file (whose last newline makes an empty last command).
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    give_to_service_user "$work/root"
    cd "$work"
    expect 0 "BBFTP-ERROR-00025 : Unkown command : bogus" \
      -u alice -r 1 -w "$port" -e "bogus x; get remote" 127.0.0.1
    printf 'bogus x FAILED\n get remote OK\n' >"$work/expected"
    diff "$work/out.ours" "$work/expected" || fail "ours: the result lines differ"
    cmp remote "$work/root/remote" || fail "the get after the unknown command did not run"
    expect 26 "BBFTP-ERROR-00026 : Incorrect command : put" \
      -u alice -r 1 -w "$port" -e "dir .; put" 127.0.0.1
    printf 'dir . OK\n put FAILED\n' >"$work/expected"
    diff "$work/out.ours" "$work/expected" || fail "ours: the result lines differ"
    printf 'dir .\n\n# a comment\n  !x\n' >"$work/control"
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      run_client "$c" -u alice -r 1 -w "$port" -i "$work/control" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 0 ] || fail "$c client: exit $(cat "$work/rc.$c"): $(cat "$work/err.$c")"
      printf 'dir . OK\n OK\n# a comment OK\n  !x OK\n OK\n' >"$work/expected"
      diff "$work/control.res" "$work/expected" || fail "$c client: the control file's results differ"
      run_client "$c" -u alice -r 1 -w "$port" -e "dir .;;#c" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 0 ] || fail "$c client: exit $(cat "$work/rc.$c")"
      sed -i 's/^Password: //' "$work/out.$c"  # the real client's prompt, from the shim
      printf 'dir . OK\n OK\n#c OK\n' >"$work/expected"
      diff "$work/out.$c" "$work/expected" || fail "$c client: the -e results differ"
      echo "ok: $c client: blank pieces and comments echoed OK"
    done
    ;;
  ssh_command_missing)
    # ssh mode with an ssh command that cannot be run: the child's 46 line (with its pid, as the
    # real client's child prints it), then 61 and 33.
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      run_client "$c" -u alice -r 1 -L /nonexistent/ssh -e "dir ." 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 33 ] || fail "$c client: exit $(cat "$work/rc.$c"): $(cat "$work/err.$c")"
      grep -qx "BBFTP-ERROR-00046 : Child: [0-9]\{6,\} : Error while execvp ssh command (/nonexistent/ssh) : No such file or directory" \
        "$work/err.$c" || fail "$c client: $(cat "$work/err.$c")"
      grep -qxF "BBFTP-ERROR-00061 : Error waiting MSG_LOGGED_STDIN message" "$work/err.$c" ||
        fail "$c client: $(cat "$work/err.$c")"
      echo "ok: $c client: 46 from the child, 61, exit 33"
    done
    ;;
  command_line_errors)
    # -i with a file that is not there: 7; neither -e nor -i, or both: 20 (the real client's words).
    expect 7 "BBFTP-ERROR-00007 : Input file ($work/nothere) cannot be stated" \
      -u alice -r 1 -i "$work/nothere" 127.0.0.1
    expect 20 "BBFTP-ERROR-00020 : Error on command line (-i or -e option are mandatory)" \
      -u alice -r 1 127.0.0.1
    : >"$work/ctl"
    expect 20 "BBFTP-ERROR-00020 : Error on command line (Only one of -i or -e option are permitted)" \
      -u alice -r 1 -i "$work/ctl" -e "dir ." 127.0.0.1
    ;;
  set_commands)
    # The set... commands as the real client takes them: any leading number (0, -1, 3x), error
    # 26 with its words for what is not a number or not an option, setlocalcos unknown (25).
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    give_to_service_user "$work/root"
    cd "$work"
    cmds="setnbstream 0; setnbstream x; setoption bogus; setnbstream 3x; setbuffersize 0"
    cmds="$cmds; setoption localrfio; setlocalcos 3; setlocalumask 9; setremoteumask 022"
    cmds="$cmds; setremotecos -1; get remote"
    printf '%s\n' "setnbstream 0 OK" " setnbstream x FAILED" " setoption bogus FAILED" \
      " setnbstream 3x OK" " setbuffersize 0 OK" " setoption localrfio FAILED" \
      " setlocalcos 3 FAILED" " setlocalumask 9 FAILED" " setremoteumask 022 OK" \
      " setremotecos -1 OK" >"$work/expected.out"
    printf '%s\n' \
      "BBFTP-ERROR-00026 : Incorrect command : setnbstream x (value must be positive decimal)" \
      "BBFTP-ERROR-00026 : Incorrect command : setoption bogus" \
      "BBFTP-ERROR-00026 : Incorrect command : setoption localrfio (RFIO not supported)" \
      "BBFTP-ERROR-00025 : Unkown command : setlocalcos" \
      "BBFTP-ERROR-00026 : Incorrect command : setlocalumask 9 (value must be positive octal)" \
      >"$work/expected.err"
    # The real client hangs on the get with 0 streams and 0 KB buffers: it runs without it.
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      if [ "$c" = ours ]; then run_client ours -u alice -r 1 -w "$port" -e "$cmds" 127.0.0.1
      else run_client real -u alice -r 1 -w "$port" -e "${cmds%; get remote}" 127.0.0.1; fi
      sed -i 's/^Password: //' "$work/out.$c"
      diff <(head -10 "$work/out.$c") "$work/expected.out" || fail "$c client: result lines differ"
      diff "$work/err.$c" "$work/expected.err" || fail "$c client: error lines differ"
      echo "ok: $c client: set... lines and errors as expected"
    done
    [ "$(cat "$work/rc.ours")" = 26 ] || fail "ours: exit $(cat "$work/rc.ours")"
    grep -qxF " get remote OK" "$work/out.ours" && cmp remote "$work/root/remote" ||
      fail "ours: the get with the odd settings did not work"
    ;;
  option_quirks)
    # -t stamps messages, not result lines; an option given twice takes the last value; -r 0 is 4.
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    give_to_service_user "$work/root"
    cd "$work"
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      run_client "$c" -u alice -t -r 3 -r 1 -w 1 -w "$port" -e "get remote; get nothere" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 100 ] || fail "$c client: exit $(cat "$work/rc.$c"): $(cat "$work/err.$c")"
      sed -i 's/^Password: //' "$work/out.$c"
      printf 'get remote OK\n get nothere FAILED\n' | diff "$work/out.$c" - ||
        fail "$c client: -t stamped the result lines"
      grep -q "^[A-Z][a-z][a-z] [A-Z][a-z][a-z] [0-9][0-9] [0-9:]* (.*) : BBFTP-ERROR-00100 : " "$work/err.$c" ||
        fail "$c client: the error line is not stamped: $(cat "$work/err.$c")"
      echo "ok: $c client: -t leaves result lines alone; the last -r and -w count"
    done
    expect 4 "BBFTP-ERROR-00004 : Number of tries must be numeric > 0" \
      -u alice -r 0 -w "$port" -e "dir ." 127.0.0.1
    ;;
  background)
    # -b: the command returns 0 at once; a child does the work, its results in the -o file.
    start_ferry_daemon "$bbftpd"
    echo data >"$work/root/remote"
    give_to_service_user "$work/root"
    cd "$work"
    for c in ours $([ -n "${FERRY_REAL_BBFTP:-}" ] && echo real); do
      rm -f "$work/bg.res" "$work/got"
      run_client "$c" -u alice -b -r 1 -w "$port" -o "$work/bg.res" -e "get remote $work/got; get nothere" 127.0.0.1
      [ "$(cat "$work/rc.$c")" = 0 ] || fail "$c client: exit $(cat "$work/rc.$c") in the foreground"
      for _ in $(seq 1 100); do grep -q "nothere" "$work/bg.res" 2>/dev/null && break; sleep 0.1; done
      sed -i 's/^Password: //' "$work/bg.res"  # the real client's prompt (the shim's), redirected
      printf 'get remote %s OK\n get nothere FAILED\n' "$work/got" | diff "$work/bg.res" - ||
        fail "$c client: the background run's results differ"
      cmp "$work/got" "$work/root/remote" || fail "$c client: the background get"
      echo "ok: $c client: -b returned 0 and the child did the work"
    done
    ;;
  *)
    fail "unknown case $case_name"
    ;;
esac
