# Helpers for the XFTP end-to-end scripts (source after tests/interop/common.sh, which provides
# $work and fail). Set xftp (the client) and xftp_options (what every run passes) before `run`.

passed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }

# run EXPECTED_RC ARGS...: runs the client with $xftp_options and ARGS, checks its exit status,
# keeps its output in $work/out and $work/err.
run() {
  local want=$1; shift
  set +e
  timeout 120 "$xftp" "${xftp_options[@]}" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  set -e
  [ "$rc" = "$want" ] || { cat "$work/err"; fail "xftp $* exited $rc, expected $want"; }
}

# wait_same A B: A and B identical within 5 s. A server renames an upload into place when its end
# arrives, just after the client is done.
wait_same() { for _ in $(seq 1 50); do cmp -s "$1" "$2" && return 0; sleep 0.1; done; cmp "$1" "$2"; }
