#!/usr/bin/env python3
"""How long bbftpd takes to refuse a login: unknown user against wrong password, per backend
(our password file; system accounts through shadow + crypt(3) and through PAM, which need root
and a throw-away account). Each attempt comes from its own 127.0.0.x address so that the per-
source penalty for failures never mixes in; the time is from the login message sent to the
refusal read (clear-text login, -u: the RSA decryption costs both cases the same).
Prints the medians of N attempts each and their ratio, once with the shipped equalisation
(--login-failure-time 250) and once nearly without it (10 ms), to show what it hides.
Usage: bench/login_timing.py BUILD_DIR [N]   (default N = 40)"""
import os
import statistics
import struct
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "attack"))
from harness import (MSG_CRYPT, MSG_LOG, MSG_OK, Daemon, Work, bbftpd_accounts,  # noqa: E402
                     recv_msg, send_msg, start_bbftpd, tcp_from)


def refusal_time(port, source, user, password):
    s = tcp_from(source, port)
    recv_msg(s)
    send_msg(s, MSG_CRYPT, struct.pack(">iii", 0, 0, 0))
    if recv_msg(s)[0] != MSG_OK:
        raise RuntimeError("clear text refused")
    u, p = user.encode(), password.encode()
    body = struct.pack(">iii", 0, 0, 0) + u.ljust(128, b"\0") + p.ljust(128, b"\0") + \
        struct.pack(">ii", len(u), len(p))
    t0 = time.monotonic()
    send_msg(s, MSG_LOG, body)
    code, _ = recv_msg(s)
    t = time.monotonic() - t0
    s.close()
    if code == MSG_OK:
        raise RuntimeError("a bad login was accepted")
    return t


def measure(port, n, user, base):
    unknown, wrong = [], []
    for i in range(n):  # interleaved, each from a fresh address
        unknown.append(refusal_time(port, "127.0.%d.%d" % (base, 2 * i + 1), "nobody-%d" % i,
                                    "pw"))
        wrong.append(refusal_time(port, "127.0.%d.%d" % (base, 2 * i + 2), user, "wrong-pw"))
    return statistics.median(unknown) * 1000, statistics.median(wrong) * 1000


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    bbftpd = os.path.join(build, "apps", "bbftpd")
    account = None
    backends = [("password file", None)]
    if os.geteuid() == 0:
        account = "ferrybench%d" % (os.getpid() % 10000)
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", account], check=True)
        subprocess.run(["chpasswd"], input=("%s:bench-pw-1\n" % account).encode(), check=True)
        backends += [("shadow", "shadow"), ("PAM", "pam")]
    else:
        print("not root: system-account backends (shadow, PAM) skipped")
    try:
        base = 10
        for name, system in backends:
            for floor in ("250", "10"):
                w = Work()
                extra = ["--login-failure-time", floor, "--max-prelogin", "1024"]
                if system is None:
                    d = start_bbftpd(bbftpd, w, *extra)
                    user = "alice"
                else:
                    argv = [bbftpd, "--foreground", "--listen", "127.0.0.1", "-w", "0", "-u",
                            "--system-auth", system, *bbftpd_accounts()[0], *extra]
                    d = Daemon(argv, w.path("bbftpd.log"), r"listening on [^ ]*:(\d+)")
                    user = account
                u, wr = measure(d.port, n, user, base)
                base += 1
                d.stop()
                print("%-14s failure time %3s ms: unknown user %7.1f ms, wrong password %7.1f ms,"
                      " ratio %.3f (medians of %d)" % (name, floor, u, wr, u / wr, n))
    finally:
        if account:
            subprocess.run(["userdel", account], stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
