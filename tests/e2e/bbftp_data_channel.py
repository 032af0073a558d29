#!/usr/bin/env python3
"""The data channel as the kernel sees it, mid-transfer: with -q (QBSS) every data socket of a
transfer is marked IP TOS 0x20 at both ends, the client's as well as the daemon's, in protocol 3
(the client connects) and protocol 2 (the daemon connects), put and get; without -q none is. The transfer is
held still 1 MiB into its first stream (tests/faults/fault_shim.c, preloaded into the client)
while `ss --tos` reads the sockets of the client and of the daemon's processes.
Usage: bbftp_data_channel.py BBFTPD BBFTP SHIM CASE"""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "faults"))
sys.path.insert(0, os.path.join(here, "..", "attack"))
from fault_cases import Case  # noqa: E402
from harness import fail, ok, process_tree, skip, wait_until  # noqa: E402

STREAMS = 3


def data_sockets(pids, control_port):
    """(pid, local port, peer port, tos) of every established TCP socket of `pids` that is not
    the control connection."""
    out = subprocess.run(["ss", "-tnpO", "--tos", "state", "established"], capture_output=True,
                         text=True, timeout=10).stdout
    found = []
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        local, peer = fields[2].rsplit(":", 1)[1], fields[3].rsplit(":", 1)[1]
        pid = re.search(r"pid=(\d+)", line)
        tos = re.search(r"tos:(0x[0-9a-f]+|\d+)", line)
        if not pid or int(pid.group(1)) not in pids or str(control_port) in (local, peer):
            continue
        found.append((int(pid.group(1)), int(local), int(peer), int(tos.group(1), 0) if tos else -1))
    return found


def check(c, client_options, want_tos, what, get=False):
    c.streams = STREAMS
    mark = c.w.path("paused.mark")
    if get:
        c.serve_file()
    argv = c.argv(("get big %s" % c.w.path("back")) if get else ("put %s big" % c.src))
    argv[1:1] = client_options
    env = c.env("pause", FERRY_FAULT_AFTER=1 << 20, FERRY_FAULT_PAUSE_MS=3000,
                FERRY_FAULT_MARK=mark)
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    if not wait_until(lambda: os.path.exists(mark), 30):
        p.kill()
        fail("%s: the transfer never reached its first MiB: %s" % (what, p.communicate()))
    daemon = set(process_tree(c.d.proc.pid))
    socks = data_sockets(daemon | {p.pid}, c.d.port)
    out, err = p.communicate(timeout=60)
    if p.returncode != 0:
        fail("%s: the transfer failed: %s %s" % (what, out, err))
    ours = [s for s in socks if s[0] == p.pid]
    theirs = [s for s in socks if s[0] != p.pid]
    if len(ours) != STREAMS or len(theirs) != STREAMS:
        fail("%s: expected %d data sockets at each end, saw client %s daemon %s" %
             (what, STREAMS, ours, theirs))
    # Both ends of each connection: the client's local port is the daemon's peer port.
    if sorted(s[1] for s in ours) != sorted(s[2] for s in theirs):
        fail("%s: the two ends do not pair up: %s / %s" % (what, ours, theirs))
    wrong = [s for s in socks if s[3] != want_tos]
    if wrong:
        fail("%s: sockets not at TOS %#x: %s (client pid %d)" % (what, want_tos, wrong, p.pid))
    if open(c.w.path("back") if get else c.root("big"), "rb").read() != c.data:
        fail("%s: the file differs" % what)
    ok("%s: %d data connections, both ends at TOS %#x (client %s, daemon %s)" %
       (what, STREAMS, want_tos, [s[3] for s in ours], [s[3] for s in theirs]))


CASES = {
    "qbss_passive": (["-q"], 0x20, "protocol 3, -q"),
    "qbss_active": (["-q", "-D"], 0x20, "protocol 2 (-D), -q"),
    "qbss_get": (["-q"], 0x20, "protocol 3 get, -q", True),
    "unmarked_without_q": (["--protocol", "3"], 0, "protocol 3 without -q"),
}

if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[4] not in CASES:
        print(__doc__ + "\ncases: " + " ".join(CASES))
        sys.exit(2)
    bbftpd, bbftp, shim, name = sys.argv[1:]
    try:
        shown = subprocess.run(["ss", "--tos", "-tn"], capture_output=True).returncode == 0
    except FileNotFoundError:
        shown = False
    if not shown:
        skip("ss(8) (iproute2) cannot show TOS here")
    c = Case(bbftpd, bbftp, shim, size=64 << 20)
    check(c, *CASES[name])
