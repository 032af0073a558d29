# Shell helpers shared by the demo, the benchmarks and the tests (source this file).

# wait_for_port LOGFILE: the port a daemon started with port 0 logged ("listening on HOST:PORT"),
# waiting up to 5 s for it. Prints nothing and fails when none appeared.
wait_for_port() {
  local log=$1 port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.05
  done
  return 1
}
