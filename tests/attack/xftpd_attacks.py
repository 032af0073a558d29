#!/usr/bin/env python3
"""Attacks on xftpd, each performed for real on loopback, each asserting that it fails and that
the victim's transfer is byte-identical. The clients behave as the original XFTP client does
(one datagram per request, stop-and-wait data, no retransmission).
Usage: xftpd_attacks.py XFTPD XFTP CASE (one ctest entry per CASE; see CASES below)."""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

MAGIC = 0xCF
REQUEST, OK, INVALID, NOT_FOUND, FILE_EXISTS, INTERNAL_ERROR, ACK = range(7)
LIST, UPLOAD, DOWNLOAD, DELETE, MOVE, MKDIR = range(6)


class Peer:
    """One client socket (one source address), requests with IDs of our choosing."""

    def __init__(self, port, source=VICTIM):
        self.server = (VICTIM, port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((source, 0))
        self.s.settimeout(5)
        self.n = 0

    def new_id(self):
        self.n += 1
        return os.urandom(4) + self.n.to_bytes(4, "big")

    def send(self, cmd, data, rid):
        self.s.sendto(bytes([MAGIC, REQUEST, cmd]) + rid + data, self.server)

    def ask(self, cmd, data, rid=None):
        """The status and data of the reply (None: no reply within 5 s)."""
        rid = rid or self.new_id()
        self.send(cmd, data, rid)
        try:
            while True:
                pkt, addr = self.s.recvfrom(65536)
                if addr == self.server and len(pkt) >= 11 and pkt[3:11] == rid:
                    return pkt[1], pkt[11:]
        except socket.timeout:
            return None, b""

    def upload_start(self, path):
        status, data = self.ask(UPLOAD, path.encode())
        if status != OK:
            return status, None
        return status, (VICTIM, int.from_bytes(data[:2], "little"))

    def send_chunk(self, data_addr, chunk):
        self.s.sendto(chunk, data_addr)
        while True:
            pkt, addr = self.s.recvfrom(65536)
            if addr == data_addr and len(pkt) >= 2 and pkt[1] == ACK:
                return

    def upload(self, path, content):
        status, data_addr = self.upload_start(path)
        if status != OK:
            return status
        for i in range(0, len(content), 4096):
            self.send_chunk(data_addr, content[i:i + 4096])
        self.s.sendto(b"", data_addr)
        return OK


def wait_file(path, content, seconds=10):
    def same():
        try:
            with open(path, "rb") as f:
                return f.read() == content
        except OSError:
            return False
    return wait_until(same, seconds)


def duplicate_memory(xftpd, xftp):
    """Non-LIST requests of ~64 KiB and ~4 KiB, 3000 of each from one source, then from 20
    sources at once: memory stays bounded and a remembered request is still answered from it."""
    w = Work()
    # A small memory (2 MiB, 1 MiB per host) so that the floods fill it whole.
    d = start_xftpd(xftpd, w, "--max-queued-per-client", "64", "--duplicate-memory", "2")
    victim = Peer(d.port)
    rid = victim.new_id()
    first = victim.ask(MKDIR, b"/made", rid)
    if first[0] != OK:
        fail("victim's MKDIR: %s" % (first,))
    idle_rss = rss_kib(d.proc.pid)

    def flood(source, count=3000):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.setblocking(False)
        big = b"/" + b"x" * 65000
        for i in range(count):
            for cmd, data in ((MKDIR, big), (DELETE, b"/nothing/%06d/" % i + b"y" * 4000)):
                try:
                    s.sendto(bytes([MAGIC, REQUEST, cmd]) + os.urandom(8) + data,
                             (VICTIM, d.port))
                except BlockingIOError:
                    time.sleep(0.001)
                try:
                    while s.recv(65536):
                        pass
                except BlockingIOError:
                    pass
        s.close()

    peak = [0]

    def sample(stop):
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(d.proc.pid))
            time.sleep(0.02)

    def measured(sources):
        stop = threading.Event()
        sampler = threading.Thread(target=sample, args=(stop,))
        sampler.start()
        floods = [threading.Thread(target=flood, args=(src,)) for src in sources]
        for t in floods:
            t.start()
        for t in floods:
            t.join(300)
        time.sleep(0.5)
        stop.set()
        sampler.join()
        p = peak[0]
        peak[0] = 0
        return p

    # Under AddressSanitizer the RSS says more about its quarantine than about us.
    sanitized = os.environ.get("FERRY_SANITIZED") == "1"
    one = measured([STRANGER])
    if one > 64 * 1024 and not sanitized:
        fail("RSS reached %d KiB with one source flooding" % one)
    ok("one source, 6000 requests (3000 of 64 KiB): RSS %d -> peak %d KiB (< 64 MiB)" %
       (idle_rss, one))
    twenty = measured(["127.0.1.%d" % i for i in range(1, 21)])
    if twenty > 128 * 1024 and not sanitized:
        fail("RSS reached %d KiB with 20 sources flooding" % twenty)
    ok("20 sources, 6000 requests each: peak RSS %d KiB (< 128 MiB)" % twenty)
    # The memory is full of the floods' entries: a client from another host is still served.
    fresh = victim.ask(MKDIR, b"/after-the-flood")
    if fresh[0] != OK:
        fail("a new request from another host after the floods: %s" % (fresh,))
    ok("a new MKDIR from 127.0.0.1 while the floods' entries fill the memory: OK")
    again = victim.ask(MKDIR, b"/made", rid)
    if again != first:
        fail("the repeated MKDIR got %s, not the first reply %s" % (again, first))
    ok("the victim's repeated MKDIR is answered with its first reply (OK), never run twice")
    size = os.path.getsize(d.log)
    if size > 2 << 20:
        fail("the log grew to %d bytes" % size)
    ok("log: %d bytes for 126000 hostile requests (refusals logged at a bounded rate)" % size)


def temporaries(xftpd, xftp):
    """A partial upload's temporary: invisible and untouchable by every command; the same source
    may upload the name again at once."""
    w = Work()
    d = start_xftpd(xftpd, w)
    root = w.path("xroot")
    victim = Peer(d.port)
    status, data_addr = victim.upload_start("/f")
    if status != OK:
        fail("upload refused: %s" % status)
    victim.send_chunk(data_addr, b"partial" * 100)
    temp = os.path.join(root, ".f.ferry-part")
    if not os.path.exists(temp):
        fail("expected the temporary " + temp)
    stranger = Peer(d.port, STRANGER)
    status, listing = stranger.ask(LIST, b"/")
    if status != OK or b"ferry" in listing:
        fail("LIST shows it: %r" % listing)
    checks = [(DOWNLOAD, b"/.f.ferry-part"), (DELETE, b"/.f.ferry-part"),
              (MOVE, b"/.f.ferry-part\0/g"), (MOVE, b"/x\0/.f.ferry-part"),
              (UPLOAD, b"/.f.ferry-part"), (MKDIR, b"/.f.ferry-part"),
              (LIST, b"/.f.ferry-part")]
    for cmd, data in checks:
        status, _ = stranger.ask(cmd, data)
        if status != INVALID:
            fail("command %d on the temporary answered %s, not INVALID" % (cmd, status))
    if not os.path.exists(temp) or os.path.exists(os.path.join(root, "g")):
        fail("the temporary was touched")
    ok("LIST hides the temporary; DOWNLOAD, DELETE, MOVE (both ways), UPLOAD, MKDIR, LIST of it: "
       "INVALID")
    status, _ = stranger.ask(UPLOAD, b"/f")
    if status != FILE_EXISTS:
        fail("another host's upload of the name in progress: %s" % status)
    # The victim's client vanished (new socket, same host): its new upload goes through at once.
    content = os.urandom(100000)
    again = Peer(d.port)
    if again.upload("/f", content) != OK:
        fail("the same host's new upload was refused")
    if not wait_file(os.path.join(root, "f"), content):
        fail("the new upload did not arrive intact")
    if wait_until(lambda: os.path.exists(temp), 1):
        fail("a temporary is left")
    ok("the same host's new upload of the name replaced the abandoned one at once; 100000 bytes "
       "identical, no temporary left")


def killed_daemon_temporaries(xftpd, xftp):
    w = Work()
    d = start_xftpd(xftpd, w)
    root = w.path("xroot")
    os.makedirs(os.path.join(root, "sub"))
    victim = Peer(d.port)
    for path in ("/a", "/sub/b"):
        status, data_addr = victim.upload_start(path)
        victim.send_chunk(data_addr, b"x" * 4096)
    d.kill()
    left = [os.path.join(root, ".a.ferry-part"), os.path.join(root, "sub", ".b.ferry-part")]
    if not all(os.path.exists(p) for p in left):
        fail("expected the killed daemon's temporaries")
    d2 = start_xftpd(xftpd, w, root=root)
    if any(os.path.exists(p) for p in left):
        fail("the temporaries survived the restart")
    if "removed 2 temporaries" not in d2.log_text():
        fail("not logged: " + d2.log_text())
    content = os.urandom(5000)
    if Peer(d2.port).upload("/a", content) != OK or not wait_file(os.path.join(root, "a"), content):
        fail("uploading the name again failed")
    ok("a killed xftpd's 2 temporaries are removed at its restart; the name uploads again")


def refused_names(xftpd, xftp):
    w = Work()
    outside = w.path("outside")
    os.makedirs(outside)
    d = start_xftpd(xftpd, w)
    os.symlink(outside, w.path("xroot", "out"))
    p = Peer(d.port)
    cases = [(UPLOAD, b"/out/x", "an UPLOAD through a symlink out of the root"),
             (UPLOAD, b"/" + b"n" * 60000, "an UPLOAD with a 60000-byte name"),
             (UPLOAD, b"/" + b"n" * 300, "an UPLOAD with a 300-byte component"),
             (MKDIR, b"/out/d", "a MKDIR through the symlink"),
             (DOWNLOAD, b"/" + b"n" * 60000, "a DOWNLOAD with a 60000-byte name")]
    for cmd, data, what in cases:
        status, _ = p.ask(cmd, data)
        if status != INVALID:
            fail("%s: %s, not INVALID" % (what, status))
    if os.listdir(outside):
        fail("something was created outside the root")
    ok("UPLOAD/MKDIR through a symlink out, names of 60000 bytes and 300-byte components: INVALID")


def data_ports(xftpd, xftp):
    w = Work()
    d = start_xftpd(xftpd, w, "--data-ports", "47100:47199")
    p = Peer(d.port)
    seen = []
    for i in range(5):
        content = os.urandom(3000)
        status, data_addr = p.upload_start("/f%d" % i)
        if status != OK:
            fail("upload refused")
        seen.append(data_addr[1])
        p.send_chunk(data_addr, content)
        p.s.sendto(b"", data_addr)
        if not wait_file(w.path("xroot", "f%d" % i), content):
            fail("upload %d failed" % i)
    if any(not 47100 <= port <= 47199 for port in seen):
        fail("data ports outside the range: %s" % seen)
    ok("--data-ports 47100:47199: 5 uploads on ports %s" % seen)


def enobufs(xftpd, xftp):
    """The client's sendto fails with ENOBUFS now and then (LD_PRELOAD shim): it waits and
    sends again; the transfer completes identical."""
    shim = os.environ.get("FERRY_ENOBUFS_SHIM")
    if not shim:
        skip("FERRY_ENOBUFS_SHIM not set")
    w = Work()
    d = start_xftpd(xftpd, w)
    src = w.path("src")
    content = os.urandom(1 << 20)
    with open(src, "wb") as f:
        f.write(content)
    env = dict(os.environ, LD_PRELOAD=shim, FERRY_ENOBUFS_EVERY="5")
    target = "127.0.0.1:%d" % d.port
    r = subprocess.run([xftp, target, "put", src, "/up"], env=env, capture_output=True,
                       timeout=120)
    if r.returncode != 0:
        fail("put under ENOBUFS: %s" % r.stderr)
    if not wait_file(w.path("xroot", "up"), content):
        fail("upload differs")
    back = w.path("back")
    r = subprocess.run([xftp, target, "get", "/up", back], env=env, capture_output=True,
                       timeout=120)
    with open(back, "rb") as f:
        if r.returncode != 0 or f.read() != content:
            fail("get under ENOBUFS: %s" % r.stderr)
    ok("with every 5th sendto failing ENOBUFS, put and get of 1 MiB complete identical")


def log_injection(xftpd, xftp):
    """Names with newlines and escape sequences, in a request and in an error message."""
    w = Work()
    d = start_xftpd(xftpd, w)
    forged = "\n[2026-01-01 00:00:00.000] [xftpd] [info] FORGED\x1b[2J"
    p = Peer(d.port)
    if p.ask(MKDIR, ("/a" + forged).encode())[0] != OK:
        fail("MKDIR refused")
    # An upload whose commit fails: its error message carries the name.
    status, data_addr = p.upload_start("/b" + forged)
    p.send_chunk(data_addr, b"x" * 100)
    if Peer(d.port, STRANGER).ask(MKDIR, ("/b" + forged).encode())[0] != OK:
        fail("MKDIR of the upload's name refused")
    p.s.sendto(b"", data_addr)
    wait_until(lambda: "abandoned" in d.log_text(), 5)
    log = d.log_text()
    if "abandoned" not in log:
        fail("the failed commit was not logged:\n" + log)
    if any(l.startswith("[2026-01-01") or "FORGED" in l and "\\n" not in l
           for l in log.splitlines()) or "\x1b" in log:
        fail("a log line was forged:\n" + log)
    ok("names with a newline and an escape sequence are logged escaped, in requests and in the "
       "error of a failed upload")


CASES = {f.__name__: f for f in (duplicate_memory, temporaries, killed_daemon_temporaries,
                                 refused_names, data_ports, enobufs, log_injection)}

if __name__ == "__main__":
    if not stranger_address_usable():
        skip("127.0.0.2 cannot be bound here")
    CASES[sys.argv[3]](sys.argv[1], sys.argv[2])
