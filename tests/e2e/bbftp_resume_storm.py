#!/usr/bin/env python3
"""Kills a put, then a get, of one file again and again, and checks what every resume keeps.

Each round starts `bbftp reput` (or `reget`) in 4 streams and SIGKILLs, at a random point, the
client or, in turn, the daemon's session (every process the daemon forked). After each kill it
counts the bytes that had arrived (4 KiB pages of the partial data equal to the source: the data
is random, the rest of the preallocated file zeros), and the next round's resume line in the
daemon's log says how many of them were kept (present and verified, or the client has). What
arrived but was not kept is received again: at most one integrity block per stream (a block in
progress when the kill came). A last round runs to the end: the file must be identical, and no
partial data may be left beside it.

Environment (set by bbftp_extension.sh, scenario resume_storm): FERRY_BBFTP, FERRY_PORT,
FERRY_PASSWORD, FERRY_KNOWN, FERRY_WORK, FERRY_DAEMON_PID, FERRY_NETNS (where the daemon
listens; empty: here), and optionally FERRY_STORM_MIB
(the file's size), FERRY_STORM_KILLS (kills per direction), FERRY_STORM_SEED and
FERRY_STORM_SECONDS (the whole run's time limit, 240 by default).
Prints one line per round and a summary; exits 1 on the first failed check.
"""
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attack"))
import harness  # noqa: E402  (process_tree: the /proc walk the attack tests use)

BLOCK = 1 << 20  # the integrity block of files under 64 GiB (docs/protocol/bbftp-extended.md)
STREAMS = 4
PAGE = 4096
# The record (src/storage/partial_record.hpp): a 48-byte head whose last field counts the
# snapshot's 16-byte blocks, their 8-byte check, then 24-byte journal entries.
RECORD_HEAD = 48
SNAPSHOT_ENTRY = 16
ENTRY = 24

env = os.environ
bbftp = env["FERRY_BBFTP"]
work = env["FERRY_WORK"]
daemon_pid = int(env["FERRY_DAEMON_PID"])
size = int(env.get("FERRY_STORM_MIB", "256")) << 20
kills = int(env.get("FERRY_STORM_KILLS", "4"))
seed = int(env.get("FERRY_STORM_SEED", str(int(time.time()))))
rng = random.Random(seed)
log_path = os.path.join(work, "daemon.log")
src = os.path.join(work, "local", "storm")
remote_name = "storm"
stored = os.path.join(work, "root", remote_name)
back = os.path.join(work, "local", "storm.back")


# Every wait ends by this (FERRY_STORM_SECONDS, under ctest's timeout by default), and a
# failure stops the client it left running.
deadline = time.monotonic() + int(env.get("FERRY_STORM_SECONDS", "240"))
running = []


def left_of_deadline():
    return max(1.0, deadline - time.monotonic())


def fail(why):
    print(f"FAILED (seed {seed}): {why}", flush=True)
    for p in running:
        if p.poll() is None:
            p.kill()
            p.wait()
    sys.exit(1)


def client(command):
    wrap = ["ip", "netns", "exec", env["FERRY_NETNS"]] if env.get("FERRY_NETNS") else []
    args = wrap + [bbftp, "--known-hosts", env["FERRY_KNOWN"], "-u", "alice", "-w", env["FERRY_PORT"],
            "-r", "1", "--retry-wait", "0", "-p", str(STREAMS), "-V", "-e", command, "127.0.0.1"]
    p = subprocess.Popen(args, env=dict(env, BBFTP_PASSWORD=env["FERRY_PASSWORD"]),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    running.append(p)
    return p


def descendants(pid):
    """Every process below `pid` (the daemon's sessions: monitor and unprivileged child)."""
    return harness.process_tree(pid)[1:]


def entries(record):
    """Blocks the record lists: its snapshot's (what earlier rounds kept) and its journal's."""
    try:
        with open(record, "rb") as f:
            head = f.read(RECORD_HEAD)
            total = os.fstat(f.fileno()).st_size
    except OSError:
        return 0
    if len(head) < RECORD_HEAD:
        return 0
    count = int.from_bytes(head[44:48], "big")
    snapshot = RECORD_HEAD + SNAPSHOT_ENTRY * count + 8
    return count + max(0, (total - snapshot) // ENTRY)


def arrived(partial):
    """Bytes of `partial` equal to the source, counted in pages."""
    total = 0
    chunk = 16 << 20
    with open(src, "rb") as a, open(partial, "rb") as b:
        while True:
            x, y = a.read(chunk), b.read(chunk)
            if not x:
                return total
            if x == y:
                total += len(x)
                continue
            for i in range(0, len(x), PAGE):
                if x[i:i + PAGE] == y[i:i + PAGE]:
                    total += len(x[i:i + PAGE])


def log_lines():
    with open(log_path, errors="replace") as f:
        return f.read().splitlines()


def wait_until(what, check, seconds=60):
    end = min(time.monotonic() + seconds, deadline)
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.01)
    fail(f"{what}: not within {seconds} s; the log ends: {log_lines()[-5:]}")


def run_direction(direction):
    if direction == "put":
        command = f"reput {src} {remote_name}"
        folder, target = os.path.join(work, "root"), remote_name
        kept_re = re.compile(rf"put /{remote_name} resumes: (\d+) bytes present and verified")
    else:
        command = f"reget {remote_name} {back}"
        folder, target = os.path.join(work, "local"), "storm.back"
        kept_re = re.compile(rf"get /{remote_name} resumes: the client has (\d+) bytes")
    record = os.path.join(folder, ".ferry-ranges." + target)
    partial = os.path.join(folder, ".ferry-partial." + target)
    final = os.path.join(folder, target)
    blocks = size // BLOCK
    if blocks < kills + 2:
        fail(f"{kills} kills need a file of {kills + 2} blocks or more")
    # Where to kill, in blocks recorded: short of the last blocks of every stream, so that a
    # kill always comes before the transfer ends.
    last_point = blocks - STREAMS - 1
    points = sorted(rng.sample(range(1, last_point), kills))
    worst, killed, again_total = 0, 0, 0
    held = None  # bytes that had arrived at the last kill, not yet matched with a resume line
    for round_no in range(kills + 1):
        last = round_no == kills
        seen = len(log_lines())
        have = entries(record)
        proc = client(command)
        if held is not None:
            # The resume line comes before any data: what the receiver kept of what arrived.
            def resumed():
                return any(kept_re.search(l) for l in log_lines()[seen:])
            wait_until(f"{direction} round {round_no}: the resume line", resumed)
            kept = int(next(kept_re.search(l) for l in log_lines()[seen:]
                            if kept_re.search(l)).group(1))
            again = held - kept
            if kept > held:  # kept blocks are blocks that arrived: never more
                fail(f"{direction} round {round_no}: {kept} bytes kept of {held} that arrived")
            if again > STREAMS * BLOCK:
                fail(f"{direction} round {round_no}: {held} bytes had arrived, {kept} kept: "
                     f"{again} to receive again, more than {STREAMS} blocks")
            worst = max(worst, again)
            again_total += max(0, again)
        if last:
            out, _ = proc.communicate(timeout=left_of_deadline())
            if proc.returncode != 0:
                fail(f"{direction}: the last round exited {proc.returncode}: {out}")
            if direction == "put" and held is not None:
                # The client's answer decides what moves again: the daemon's line for the
                # transfer must say it took all that was offered, and received the rest.
                done = [l for l in log_lines()[seen:] if f"put /{remote_name} ({size} bytes" in l]
                m = re.search(r"resumed: (\d+) bytes were there, (\d+) received", done[-1]) \
                    if done else None
                if not m or int(m.group(1)) != kept or int(m.group(1)) + int(m.group(2)) != size:
                    fail(f"put: the last round's line does not show {kept} kept and the rest "
                         f"received: {done[-1:] or log_lines()[-3:]}")
            break
        victim = "client" if round_no % 2 == 0 else "session"
        # The next of the random points, or a block further when the last kill came late.
        target_entries = min(max(points[round_no], have + 1), last_point)
        while entries(record) < target_entries and proc.poll() is None:
            if time.monotonic() > deadline:
                fail(f"{direction} round {round_no}: no progress to {target_entries} blocks")
            time.sleep(0.002)
        if proc.poll() is not None:
            fail(f"{direction} round {round_no}: ended (exit {proc.returncode}) before the kill "
                 f"at {target_entries} of {blocks} blocks: {proc.communicate()[0]}")
        if victim == "client":
            proc.kill()
        else:
            for _ in range(100):  # until none is left (one forked meanwhile is killed too)
                pids = descendants(daemon_pid)
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)
        try:
            proc.communicate(timeout=min(120, left_of_deadline()))
        except subprocess.TimeoutExpired:
            fail(f"{direction} round {round_no}: the client did not end after the kill")
        # The receiver must be done writing before its bytes are counted: the daemon's session
        # after a put's client is killed notices the loss and ends.
        wait_until(f"{direction} round {round_no}: the session ends",
                   lambda: not descendants(daemon_pid))
        if os.path.exists(final):
            fail(f"{direction} round {round_no}: a killed transfer left {final}")
        if not os.path.exists(partial):
            fail(f"{direction} round {round_no}: no partial data kept after the kill")
        held = arrived(partial)
        killed += 1
        print(f"{direction} round {round_no}: {victim} killed at {entries(record)} of {blocks} "
              f"blocks recorded, {held} bytes there", flush=True)
    with open(src, "rb") as a, open(final, "rb") as b:
        while True:
            x, y = a.read(16 << 20), b.read(16 << 20)
            if x != y:
                fail(f"{direction}: the file differs from the source")
            if not x:
                break
    left_over = [n for n in os.listdir(folder) if n.startswith(".ferry-")]
    if left_over:
        fail(f"{direction}: partial data left: {left_over}")
    print(f"{direction}: {killed} kills, identical; received again per resume at most {worst} "
          f"bytes ({worst / BLOCK:.2f} blocks; the bound is {STREAMS}), {again_total} in all",
          flush=True)


def main():
    with open(src, "wb") as f:
        left = size
        while left:
            n = min(left, 16 << 20)
            f.write(os.urandom(n))
            left -= n
    print(f"seed {seed}: {size >> 20} MiB, {kills} kills per direction, client and session "
          "in turn", flush=True)
    run_direction("put")
    run_direction("get")


main()
