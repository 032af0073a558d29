"""What the attack tests share: our daemons started on loopback with throw-away roots, sockets
bound to another loopback address (the stranger is 127.0.0.2, the victim 127.0.0.1), and just
enough of the bbftp wire (clear-text login, protocols 2 and 3) to drive a session step by step.
Every wait is bounded; everything started is stopped and removed at exit."""

import atexit
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

VICTIM = "127.0.0.1"
STRANGER = "127.0.0.2"


def fail(why):
    print("FAILED: " + why, file=sys.stderr)
    sys.exit(1)


def ok(what):
    print("ok: " + what)


def skip(why):
    print("SKIPPED: " + why)
    sys.exit(77)


def wait_until(predicate, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def stranger_address_usable():
    try:
        s = socket.socket()
        s.bind((STRANGER, 0))
        s.close()
        return True
    except OSError:
        return False


class Daemon:
    """A daemon process whose log goes to a file; the port it logged is `port`."""

    def __init__(self, argv, log, pattern, env=None):
        self.log = log
        self.proc = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                     env=env)
        atexit.register(self.stop)
        found = wait_until(lambda: re.search(pattern, self.log_text()), 10)
        if not found:
            self.stop()
            fail("daemon did not start: " + self.log_text()[-2000:])
        self.port = int(found.group(1))

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.kill(signal.SIGTERM)


class Work:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ferry-attack-")
        atexit.register(lambda: shutil.rmtree(self.dir, ignore_errors=True))

    def path(self, *parts):
        return os.path.join(self.dir, *parts)


_accounts = []


def bbftpd_accounts():
    """As root, bbftpd's pre-login and service accounts: throw-away ones (made once per run),
    removed at exit. Returns the options naming them and the service account (None when not
    root)."""
    if os.geteuid() != 0:
        return [], None
    tag = "ferry-a%d" % os.getpid()
    if _accounts:
        return ["--prelogin-user", tag + "-p", "--service-user", tag + "-s"], tag + "-s"
    _accounts.append(tag)
    made = []
    atexit.register(lambda: [subprocess.run(["userdel", a], stderr=subprocess.DEVNULL)
                             for a in made])
    for a in (tag + "-p", tag + "-s"):
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", a], check=True)
        made.append(a)
    return ["--prelogin-user", tag + "-p", "--service-user", tag + "-s"], tag + "-s"


def start_bbftpd(bbftpd, work, *extra, user="alice", password="attack-pw", env=None):
    root = work.path("root")
    os.makedirs(root, exist_ok=True)
    pw = work.path("passwd")
    subprocess.run([bbftpd, "--add-user", user, "--password-file", pw, "--root", root],
                   input=(password + "\n").encode(), check=True, stdout=subprocess.DEVNULL)
    accounts, service = bbftpd_accounts()
    if service:
        subprocess.run(["chown", "-R", service + ":", root], check=True)
    argv = [bbftpd, "--foreground", "--listen", VICTIM, "-w", "0", "--password-file", pw,
            "--state-dir", work.path("state"), "-u", *accounts, *extra]
    return Daemon(argv, work.path("bbftpd.log"), r"listening on [^ ]*:(\d+)", env=env)


def start_xftpd(xftpd, work, *extra, root=None):
    root = root or work.path("xroot")
    os.makedirs(root, exist_ok=True)
    argv = [xftpd, "--root", root, "--listen", "0.0.0.0", "--port", "0", *extra]
    return Daemon(argv, work.path("xftpd.log"), r"listening on [^ ]*:(\d+)")


def tcp_from(source, port, host=VICTIM, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((host, port))
    return s


def process_tree(pid):
    """`pid` and all its descendants (from /proc), parents first."""
    by_parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            by_parent.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(by_parent.get(p, []))
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- bbftp wire (../../docs/protocol/bbftp.md): big-endian, 8-byte header {code, msglen} ---

MSG_OK, MSG_LOG, MSG_BAD, MSG_ACK, MSG_CRYPT = 0x00, 0x01, 0x03, 0x04, 0x06
MSG_BAD_NO_RETRY, MSG_PROT, MSG_PROT_ANS = 0x0E, 0x17, 0x18
MSG_STORE_V2, MSG_RETR_V2, MSG_TRANS_OK_V2, MSG_TRANS_START_V2 = 0x19, 0x1A, 0x1C, 0x1D
MSG_FILENAME, MSG_LIST_V2, MSG_LIST_REPL_V2 = 0x1F, 0x23, 0x24
MSG_TRANS_START_V3, MSG_TRANS_OK_V3, MSG_CLOSE_CONN = 0x2B, 0x2D, 0x28


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def send_msg(s, code, payload=b"", msglen=None):
    s.sendall(struct.pack(">ii", code, len(payload) if msglen is None else msglen) + payload)


def recv_msg(s):
    code, n = struct.unpack(">ii", recv_exact(s, 8))
    return code, recv_exact(s, n)


def store_v2(filesize=0, nbstream=1, options=0, buffer_kb=256):
    return struct.pack(">qii8s8siiii", filesize, options, 0o644, b"00000000", b"00000000",
                       256, 256, buffer_kb, nbstream)


class BbftpSession:
    """A clear-text bbftp login (the daemon runs with -u), then protocol `version`."""

    def __init__(self, port, user="alice", password="attack-pw", version=3, source=VICTIM):
        self.s = tcp_from(source, port)
        code, _ = recv_msg(self.s)
        if code != MSG_CRYPT:
            raise RuntimeError("greeting %#x" % code)
        send_msg(self.s, MSG_CRYPT, struct.pack(">iii", 0, 0, 0))
        self.login_reply = recv_msg(self.s)
        if self.login_reply[0] != MSG_OK:
            return  # refused before the login (banned, busy)
        u = user.encode() if isinstance(user, str) else user
        p = password.encode()
        send_msg(self.s, MSG_LOG, struct.pack(">iii", 0, 0, 0) + u.ljust(128, b"\0")[:128] +
                 p.ljust(128, b"\0")[:128] + struct.pack(">ii", len(u), len(p)))
        self.login_reply = recv_msg(self.s)
        if self.login_reply[0] != MSG_OK:
            return
        send_msg(self.s, MSG_PROT)
        code, body = recv_msg(self.s)
        if code != MSG_PROT_ANS:
            raise RuntimeError("PROT_ANS expected, got %#x" % code)
        send_msg(self.s, MSG_PROT_ANS, struct.pack(">i", version))
        self.version = version

    def logged_in(self):
        return self.login_reply[0] == MSG_OK

    def request_transfer(self, store, path, filesize, nbstream, v2_ports=None):
        """Sends STORE_V2/RETR_V2 + FILENAME; returns (accepted params, server ports)."""
        send_msg(self.s, MSG_STORE_V2 if store else MSG_RETR_V2, store_v2(filesize, nbstream))
        send_msg(self.s, MSG_FILENAME, path.encode())
        code, body = recv_msg(self.s)
        if code not in (MSG_TRANS_OK_V3, MSG_TRANS_OK_V2):
            raise RuntimeError("transfer refused: %#x %r" % (code, body))
        size, = struct.unpack(">q", body[:8])
        n, = struct.unpack(">i", body[44:48])
        ports = []
        if code == MSG_TRANS_OK_V3 and size > 0:
            ports = list(struct.unpack(">%di" % n, recv_exact(self.s, 4 * n)))
        return size, n, ports

    def start_v3(self, n):
        send_msg(self.s, MSG_TRANS_START_V3, b"", msglen=4 * n)

    def start_v2(self, ports):
        send_msg(self.s, MSG_TRANS_START_V2, struct.pack(">%di" % len(ports), *ports))

    def final(self):
        return recv_msg(self.s)

    def close(self):
        try:
            send_msg(self.s, MSG_CLOSE_CONN)
        except OSError:
            pass
        self.s.close()


def segments(size, n):
    per = size // n
    return [(i * per, per if i < n - 1 else size - per * (n - 1)) for i in range(n)]


def closed_by_peer(s, seconds=10):
    """True when the peer closes (EOF or reset) within `seconds`, reading and counting what it
    sent meanwhile. Returns (closed, bytes received)."""
    s.settimeout(seconds)
    got = 0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True, got
            got += len(chunk)
    except (ConnectionResetError, BrokenPipeError):
        return True, got
    except socket.timeout:
        return False, got
