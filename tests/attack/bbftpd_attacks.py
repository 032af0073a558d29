#!/usr/bin/env python3
"""Attacks on bbftpd, each performed for real on loopback (a stranger on 127.0.0.2), each
asserting that it fails and that the victim's transfer is byte-identical.
Usage: bbftpd_attacks.py BBFTPD BBFTP CASE (one ctest entry per CASE; see CASES below)."""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403


def random_file(path, size):
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    return data


def victim_put_get(bbftp, d, w, size, streams, refused):
    """The victim, from 127.0.0.1, with our client and no retry allowed: puts a file of `size`
    bytes over `streams` streams and gets it back; fails the test with `refused` unless both
    succeed and the file comes back identical."""
    src = w.path("payload")
    data = random_file(src, size)
    env = dict(os.environ, BBFTP_PASSWORD="attack-pw")
    r = subprocess.run([bbftp, "-u", "alice", "-w", str(d.port), "-r", "1", "-p", str(streams),
                        "-e", "put %s p; get p %s" % (src, w.path("back")), VICTIM],
                       env=env, capture_output=True, timeout=60)
    if r.returncode != 0:
        fail("%s: %s %s" % (refused, r.stdout, r.stderr))
    with open(w.path("back"), "rb") as f:
        if f.read() != data:
            fail("the victim's file differs")


def strangers_on(ports, port_host=VICTIM):
    socks = []
    for p in ports:
        socks.append(tcp_from(STRANGER, p, host=port_host))
    return socks


def victim_connects_after_strangers(strangers, ports, what):
    """The daemon accepts its data ports in order: each stranger must be shut out (closed,
    nothing received) before the victim's own connection to that port is taken."""
    mine = []
    for i, (s, p) in enumerate(zip(strangers, ports)):
        closed, got = closed_by_peer(s, 10)
        if got:
            fail("%s: the stranger on data port %d received %d bytes" % (what, i, got))
        if not closed:
            fail("%s: the stranger's connection to data port %d was left open" % (what, i))
        s.close()
        mine.append(tcp_from(VICTIM, p))
    return mine


def data_theft_get(bbftpd, bbftp):
    """A stranger connects to the passive ports between TRANS_OK_V3 and the client."""
    w = Work()
    d = start_bbftpd(bbftpd, w)
    data = random_file(w.path("root", "secret"), 4 << 20)
    v = BbftpSession(d.port)
    size, n, ports = v.request_transfer(False, "secret", 0, 4)
    strangers = strangers_on(ports)
    v.start_v3(n)
    mine = victim_connects_after_strangers(strangers, ports, "get")
    got = b""
    for (off, length), s in zip(segments(size, n), mine):
        got += recv_exact(s, length)
        send_msg(s, MSG_ACK)
        s.close()
    code, text = v.final()
    if code != MSG_OK or got != data:
        fail("the victim's get: %#x %r, %s" % (code, text, "identical" if got == data else "differs"))
    if "data connection from 127.0.0.2" not in d.log_text():
        fail("the stranger was not logged")
    v.close()
    ok("a stranger on the data ports of a get receives nothing; the victim's 4 MiB are identical")


def data_injection_put(bbftpd, bbftp):
    w = Work()
    d = start_bbftpd(bbftpd, w)
    data = os.urandom(4 << 20)
    v = BbftpSession(d.port)
    size, n, ports = v.request_transfer(True, "upload", len(data), 4)
    strangers = strangers_on(ports)
    for s in strangers:
        try:
            s.sendall(b"\xee" * 65536)
        except OSError:
            pass
    v.start_v3(n)
    mine = victim_connects_after_strangers(strangers, ports, "put")
    for (off, length), s in zip(segments(size, n), mine):
        s.sendall(data[off:off + length])
        code, _ = recv_msg(s)
        if code != MSG_ACK:
            fail("no ACK on a data stream")
        s.close()
    code, text = v.final()
    with open(w.path("root", "upload"), "rb") as f:
        stored = f.read()
    if code != MSG_OK or stored != data:
        fail("the victim's put: %#x %r, stored %s" % (code, text,
                                                      "identical" if stored == data else "differs"))
    v.close()
    ok("a stranger on the data ports of a put injects nothing; the victim's 4 MiB are identical")


def data_ports_random(bbftpd, bbftp):
    w = Work()
    first = random.randrange(20000, 50000)
    d = start_bbftpd(bbftpd, w, "-e", "%d:%d" % (first, first + 999))
    random_file(w.path("root", "one"), 1)
    seen = []
    for _ in range(10):
        v = BbftpSession(d.port)
        size, n, ports = v.request_transfer(False, "one", 0, 1)
        v.start_v3(n)
        s = tcp_from(VICTIM, ports[0])
        recv_exact(s, 1)
        send_msg(s, MSG_ACK)
        s.close()
        if v.final()[0] != MSG_OK:
            fail("a transfer failed")
        v.close()
        seen += ports
    if any(not first <= p <= first + 999 for p in seen):
        fail("ports outside the range: %s" % seen)
    steps = {b - a for a, b in zip(seen, seen[1:])}
    if len(set(seen)) < 5 or len(steps) == 1:
        fail("data ports are guessable: %s" % seen)
    ok("10 transfers drew %d distinct data ports from a range of 1000: %s" %
       (len(set(seen)), sorted(seen)))


def active_to_control_peer(bbftpd, bbftp):
    """Protocol 2: the daemon connects to the client; only ever to the control peer's address."""
    w = Work()
    d = start_bbftpd(bbftpd, w)
    data = random_file(w.path("root", "f"), 1 << 20)
    control_from = "127.0.0.3"
    v = BbftpSession(d.port, version=2, source=control_from)
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))  # any address: what the daemon connects to is what we see
    listener.listen(1)
    listener.settimeout(10)
    size, n, _ = v.request_transfer(False, "f", 0, 1)
    v.start_v2([listener.getsockname()[1]])
    s, peer = listener.accept()
    local = s.getsockname()[0]
    got = recv_exact(s, size)
    send_msg(s, MSG_ACK)
    s.close()
    code, _ = v.final()
    if local != control_from:
        fail("the daemon connected to %s, not the control peer %s" % (local, control_from))
    if code != MSG_OK or got != data:
        fail("the active get failed")
    v.close()
    ok("protocol 2: the daemon connected to the control peer's address (%s) only" % local)


def idle_lockout(bbftpd, bbftp):
    """70 idle connections and a slow sender from one address; a user from another gets in."""
    w = Work()
    d = start_bbftpd(bbftpd, w, "--login-deadline", "6")
    slow = tcp_from(STRANGER, d.port)
    stop = threading.Event()

    def dribble():  # a login header, then one byte every 0.3 s, for as long as it is let
        try:
            recv_msg(slow)  # the greeting
            slow.send(struct.pack(">ii", MSG_LOG, 276))
            while not stop.is_set():
                slow.send(b"\0")
                time.sleep(0.3)
        except OSError:
            pass
    slow_started = time.monotonic()
    t = threading.Thread(target=dribble, daemon=True)
    t.start()
    idle = [tcp_from(STRANGER, d.port) for _ in range(70)]
    victim_put_get(bbftp, d, w, 8 << 20, 4, "the victim was locked out")
    ok("with 70 idle connections and a slow sender from 127.0.0.2, a user from 127.0.0.1 "
       "put and got 8 MiB, identical")
    # The slow sender is closed by the login deadline (6 s), dribbling or not.
    t.join(30)
    held = time.monotonic() - slow_started
    if t.is_alive():
        fail("the slow sender is still connected after %.0f s" % held)
    if held > 6 + 10:
        fail("the slow sender was held %.1f s (login deadline 6 s)" % held)
    ok("the slow sender was closed after %.1f s (login deadline 6 s)" % held)
    # Every idle one is closed too: refused ones after the refusal deadline, admitted ones after
    # the login deadline.
    for s in idle:
        closed, _ = closed_by_peer(s, 30)
        if not closed:
            fail("an idle connection is still open")
    log = d.log_text()
    if "refused (busy): too many connections not logged in from this address" not in log:
        fail("refusals not logged: " + log[-2000:])
    ok("the 70 idle connections were closed; refusals logged with their cause")


def prelogin_total(bbftpd, bbftp):
    """Several addresses together fill every pre-login slot: a user from yet another address
    still gets in (the address holding the most slots makes room)."""
    w = Work()
    d = start_bbftpd(bbftpd, w, "--max-prelogin", "10", "--max-prelogin-per-source", "5")
    idle = []
    for source in (STRANGER, "127.0.0.3"):
        for _ in range(5):
            s = tcp_from(source, d.port)
            recv_msg(s)  # admitted: its greeting
            idle.append(s)
    wait_until(lambda: False, 0.3)
    victim_put_get(bbftp, d, w, 1 << 20, 1, "the victim was kept out")
    if "closed before its login: every pre-login slot is taken" not in d.log_text():
        fail("no eviction logged")
    ok("10 idle connections from two addresses fill every pre-login slot; a user from a third "
       "logs in (one idle connection closed to make room) and moves 1 MiB, identical")
    for s in idle:
        s.close()


def refusal_is_busy(bbftpd, bbftp):
    """Over the per-source cap: the greeting at once, MSG_BAD after the login, client retries."""
    w = Work()
    d = start_bbftpd(bbftpd, w, "--max-prelogin-per-source", "1")
    hold = tcp_from(VICTIM, d.port)
    recv_msg(hold)
    s = tcp_from(VICTIM, d.port)
    code, body = recv_msg(s)
    if code != MSG_CRYPT or len(body) != 152:
        fail("refused connection: no MSG_CRYPT greeting (%#x, %d bytes)" % (code, len(body)))
    send_msg(s, MSG_LOG, b"\0" * 276)
    code, text = recv_msg(s)
    if code != MSG_BAD or b"busy" not in text:
        fail("refusal: %#x %r" % (code, text))
    ok("over the cap: MSG_CRYPT, then MSG_BAD %r after the login" % text.decode())
    clients = [("ours", bbftp)]
    real = os.environ.get("FERRY_REAL_BBFTP")
    if real:
        clients.append(("real", real))
    for name, client in clients:
        env = dict(os.environ, BBFTP_PASSWORD="attack-pw")
        argv = [client, "-u", "alice", "-w", str(d.port), "-r", "1", "-e", "dir .", VICTIM]
        if name == "real":
            shim = os.environ.get("FERRY_GETPASS_SHIM")
            if not shim:
                continue
            env["LD_PRELOAD"] = shim
        r = subprocess.run(argv, env=env, capture_output=True, timeout=60)
        err = r.stderr.decode()
        if "BBFTP-ERROR-00100 : The server is busy, try again later" not in err or \
                r.returncode != 33:
            fail("%s client (exit %d): %s" % (name, r.returncode, err))
        ok("%s client shows: %s (exit %d)" % (name, err.strip().splitlines()[0], r.returncode))
    hold.close()


def banned(bbftpd, bbftp):
    w = Work()
    d = start_bbftpd(bbftpd, w, "--ban-after", "3", "--failure-delay", "50",
                     "--login-failure-time", "20")
    for i in range(3):
        v = BbftpSession(d.port, password="wrong-%d" % i, source=STRANGER)
        if v.logged_in():
            fail("a wrong password was accepted")
    # Each failure made the next one wait longer: 0, then 50, then 100 ms (the listener's
    # decision, which the daemon logs).
    log = d.log_text()
    for n, delay in ((1, None), (2, 50), (3, 100)):
        lines = [l for l in log.splitlines() if "login refused from 127.0.0.2" in l]
        if len(lines) < n:
            fail("failure %d not logged" % n)
        said = "answered %d ms later" % delay if delay else None
        if (said and said not in lines[n - 1]) or (not said and "answered" in lines[n - 1]):
            fail("failure %d: expected %s in %r" % (n, said, lines[n - 1]))
    ok("failed logins from 127.0.0.2 were answered 0, 50 and 100 ms later than the failure time")
    s = tcp_from(STRANGER, d.port)
    code, _ = recv_msg(s)
    send_msg(s, MSG_LOG, b"\0" * 276)
    code, text = recv_msg(s)
    if code != MSG_BAD_NO_RETRY or b"Too many failed logins" not in text:
        fail("after 3 failures: %#x %r" % (code, text))
    ok("after 3 failed logins, 127.0.0.2 is refused: MSG_BAD_NO_RETRY %r" % text.decode())
    v = BbftpSession(d.port, source=STRANGER)
    if v.logged_in():
        fail("a banned source logged in with the right password")
    v = BbftpSession(d.port, source=VICTIM)
    if not v.logged_in():
        fail("another address was banned too")
    v.close()
    ok("the ban holds for the right password too; 127.0.0.1 logs in")


def log_injection(bbftpd, bbftp):
    w = Work()
    d = start_bbftpd(bbftpd, w, "-l", "debug", "--login-failure-time", "20")
    forged = "[2026-01-01 00:00:00.000] [bbftpd] [info] login of user \"root\""
    secret = "Sekr1t-Passw0rd"
    v = BbftpSession(d.port, user="mallory\n" + forged + "\x1b[2J", password=secret)
    if v.logged_in():
        fail("accepted")
    v = BbftpSession(d.port, password="also-" + secret)
    wait_until(lambda: d.log_text().count("login refused") >= 2, 5)
    log = d.log_text()
    if any(line.startswith("[2026-01-01") for line in log.splitlines()):
        fail("a log line was forged:\n" + log)
    if "\x1b" in log or "mallory\\n[2026-01-01" not in log:
        fail("the user name was not escaped:\n" + log)
    if secret in log:
        fail("a password is in the log")
    if "login refused from 127.0.0.1 port" not in log:
        fail("no fail2ban-matchable line:\n" + log)
    ok("a user name with a newline and an escape sequence is logged escaped, on one line; no "
       "password in the log at debug level")


def hidden_temporaries(bbftpd, bbftp):
    w = Work()
    d = start_bbftpd(bbftpd, w)
    random_file(w.path("root", ".f.ferry-part"), 1000)
    random_file(w.path("root", ".g.ferry-tmp.0123456789ab"), 1000)
    random_file(w.path("root", "visible"), 10)
    v = BbftpSession(d.port)
    send_msg(v.s, MSG_LIST_V2, struct.pack(">i", 0) + b"*")
    code, body = recv_msg(v.s)
    if code != MSG_LIST_REPL_V2 or b"ferry-" in body or b"visible" not in body:
        fail("dir *: %#x %r" % (code, body))
    for name in (".f.ferry-part", ".g.ferry-tmp.0123456789ab"):
        send_msg(v.s, MSG_RETR_V2, store_v2(0, 1))
        send_msg(v.s, MSG_FILENAME, name.encode())
        code, text = recv_msg(v.s)
        if code in (MSG_TRANS_OK_V3, MSG_TRANS_OK_V2):
            fail("get of a temporary accepted: " + name)
    v.close()
    ok("temporaries are not listed by dir and cannot be got")


CASES = {f.__name__: f for f in (data_theft_get, data_injection_put, data_ports_random,
                                 active_to_control_peer, idle_lockout, prelogin_total,
                                 refusal_is_busy, banned,
                                 log_injection, hidden_temporaries)}

if __name__ == "__main__":
    if not stranger_address_usable():
        skip("127.0.0.2 cannot be bound here")
    CASES[sys.argv[3]](sys.argv[1], sys.argv[2])
