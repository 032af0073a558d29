#!/usr/bin/env python3
"""The fault suite: faults injected into real transfers between our bbftp and our bbftpd on
loopback, one ctest entry per case. Each asserts that the daemon keeps serving others, that
nothing appears under a final name (neither the daemon's nor the client's), that the user sees
a clear error and a non-zero exit, and that a retry ends byte-identical.
Faults come from outside the binaries: kill(2), SIGSTOP, a small tmpfs, truncate(2), raw
sockets, and tests/faults/fault_shim.c preloaded into the client (FERRY_FAULT).
Usage: fault_cases.py BBFTPD BBFTP SHIM CASE"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "attack"))
from harness import (MSG_CRYPT, MSG_LIST_V2, MSG_LOG, VICTIM, BbftpSession, Work,  # noqa: E402
                     closed_by_peer, fail, ok, recv_msg, send_msg, skip, start_bbftpd, wait_until)

PASSWORD = "attack-pw"
SIZE = 24 << 20
STREAMS = 8


class Case:
    def __init__(self, bbftpd, bbftp, shim, *daemon_options, root_setup=None, size=None):
        self.bbftp, self.shim = bbftp, shim
        self.w = Work()
        if root_setup:
            root_setup(self.w)
        self.d = start_bbftpd(bbftpd, self.w, *daemon_options)
        self.local = self.w.path("local")
        os.makedirs(self.local, exist_ok=True)
        self.data = os.urandom(size or SIZE)
        self.src = os.path.join(self.local, "src.bin")
        with open(self.src, "wb") as f:
            f.write(self.data)

    def root(self, *parts):
        return self.w.path("root", *parts)

    streams = STREAMS

    def argv(self, commands, streams=None):
        streams = streams or self.streams
        return [self.bbftp, "-u", "alice", "-w", str(self.d.port), "-r", "1", "-p",
                str(streams), "-e", commands, VICTIM]

    def env(self, fault=None, **extra):
        env = dict(os.environ, BBFTP_PASSWORD=PASSWORD)
        if fault:
            env.update(LD_PRELOAD=self.shim, FERRY_FAULT=fault,
                       ASAN_OPTIONS="verify_asan_link_order=0:detect_leaks=0")
            env.update({k: str(v) for k, v in extra.items()})
        return env

    def run(self, commands, fault=None, **extra):
        return subprocess.run(self.argv(commands), env=self.env(fault, **extra),
                              capture_output=True, text=True, timeout=120)

    def start(self, commands, fault=None, **extra):
        return subprocess.Popen(self.argv(commands), env=self.env(fault, **extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # --- what every case asserts -----------------------------------------------------------

    def failed_clearly(self, rc, out, err, what):
        if rc == 0:
            fail("%s: the client exited 0: %s %s" % (what, out, err))
        if "BBFTP-ERROR-" not in err and "FAILED" not in out:
            fail("%s: no error for the user: %r %r" % (what, out, err))
        line = (err.strip().splitlines() or out.strip().splitlines() or ["?"])[-1]
        ok("%s: the client exits %d with: %s" % (what, rc, line))

    def nothing_final(self, *paths):
        for p in paths:
            if os.path.exists(p):
                fail("%s appeared under its final name" % p)

    def no_temporaries(self, directory, seconds=15):
        def clean():
            return not [n for n in os.listdir(directory) if n.startswith(".")]
        if not wait_until(clean, seconds):
            fail("temporaries left in %s: %s" % (directory, os.listdir(directory)))

    def only_partial_data(self, directory, name, seconds=15):
        """What a killed put leaves with the bbftp extension: its partial data and record, hidden,
        kept for resume, and nothing else."""
        kept = {".ferry-partial." + name, ".ferry-ranges." + name}
        def settled():
            return set(n for n in os.listdir(directory) if n.startswith(".")) <= kept
        if not wait_until(settled, seconds):
            fail("temporaries left in %s: %s" % (directory, os.listdir(directory)))

    def serves_others(self, what):
        other = self.w.path("other.bin")
        data = os.urandom(3 << 20)
        with open(other, "wb") as f:
            f.write(data)
        back = self.w.path("other.back")
        r = subprocess.run(self.argv("put %s other; get other %s" % (other, back), streams=4),
                           env=self.env(), capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or open(back, "rb").read() != data:
            fail("%s: the daemon does not serve another client: %s %s" % (what, r.stdout,
                                                                          r.stderr))
        os.unlink(back)
        ok("%s: the daemon serves another client (3 MiB put and got back)" % what)

    def retry_put(self, name="big"):
        r = self.run("put %s %s" % (self.src, name))
        if r.returncode != 0:
            fail("the retried put failed: %s %s" % (r.stdout, r.stderr))
        if open(self.root(name), "rb").read() != self.data:
            fail("the retried put is not byte-identical")
        ok("a retry puts %d MiB byte-identical" % (len(self.data) >> 20))

    def retry_get(self, name="big"):
        dest = os.path.join(self.local, "got.bin")
        r = self.run("get %s %s" % (name, dest))
        if r.returncode != 0:
            fail("the retried get failed: %s %s" % (r.stdout, r.stderr))
        if open(dest, "rb").read() != self.data:
            fail("the retried get is not byte-identical")
        ok("a retry gets %d MiB byte-identical" % (len(self.data) >> 20))

    def serve_file(self, name="big"):
        with open(self.root(name), "wb") as f:
            f.write(self.data)

    def session_pids(self):
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.d.proc.pid:
                            pids.append(int(entry))
                except (OSError, ValueError):
                    pass
        return pids

    def paused(self, commands, pause_ms):
        """Starts the client; returns it once its first data stream stood still (1 MiB in)."""
        mark = self.w.path("paused.mark")
        p = self.start(commands, "pause", FERRY_FAULT_AFTER=1 << 20,
                       FERRY_FAULT_PAUSE_MS=pause_ms, FERRY_FAULT_MARK=mark)
        if not wait_until(lambda: os.path.exists(mark), 30):
            p.kill()
            fail("the transfer never reached its first MiB: %s" % (p.communicate(),))
        return p


def case_kill_client_put(c):
    p = c.paused("put %s big" % c.src, 10000)
    p.kill()
    p.wait()
    ok("client killed (SIGKILL) mid-put, 1 MiB into the stream")
    c.only_partial_data(c.root(), "big")
    c.nothing_final(c.root("big"))
    ok("the daemon dropped the upload: no big, no temporary but its partial data for resume")
    c.serves_others("after the client's death")
    c.retry_put()


def case_kill_session_put(c):
    p = c.paused("put %s big" % c.src, 1500)
    sessions = c.session_pids()
    if len(sessions) != 1:
        fail("expected one session process, found %r" % sessions)
    os.kill(sessions[0], signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    c.failed_clearly(p.returncode, out, err, "session killed (SIGKILL) mid-put")
    c.nothing_final(c.root("big"))
    c.serves_others("after the session's death")
    c.retry_put()
    c.no_temporaries(c.root(), 1)
    ok("the killed session's temporary was removed at the next login")


def case_kill_session_get(c):
    c.serve_file()
    dest = os.path.join(c.local, "got.bin")
    p = c.paused("get big %s" % dest, 1500)
    sessions = c.session_pids()
    if len(sessions) != 1:
        fail("expected one session process, found %r" % sessions)
    os.kill(sessions[0], signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    c.failed_clearly(p.returncode, out, err, "session killed (SIGKILL) mid-get")
    c.nothing_final(dest)
    c.only_partial_data(c.local, "got.bin")
    c.serves_others("after the session's death")
    c.retry_get()


def case_stream_reset_put(c):
    r = c.run("put %s big" % c.src, "reset", FERRY_FAULT_AFTER=1 << 20)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "1 of 8 streams reset mid-put")
    c.only_partial_data(c.root(), "big")
    c.nothing_final(c.root("big"))
    c.serves_others("after the reset")
    c.retry_put()


def case_stream_reset_get(c):
    c.serve_file()
    dest = os.path.join(c.local, "got.bin")
    r = c.run("get big %s" % dest, "reset", FERRY_FAULT_AFTER=1 << 20)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "1 of 8 streams reset mid-get")
    c.nothing_final(dest)
    c.only_partial_data(c.local, "got.bin")
    c.serves_others("after the reset")
    c.retry_get()


def case_silent_client_put(c):
    # The client goes silent on one stream without a FIN (its thread stands still); the daemon's
    # data timeout (rc file: setdatato 3) ends the transfer.
    p = c.paused("put %s big" % c.src, 30000)
    if not wait_until(lambda: re.search(r"put /big failed", c.d.log_text()), 20):
        p.kill()
        fail("the daemon did not give up on a silent stream: " + c.d.log_text()[-1500:])
    ok("the daemon gave up on the silent stream: %s" %
       re.search(r"put /big failed: [^\n]*", c.d.log_text()).group(0))
    c.only_partial_data(c.root(), "big")
    c.nothing_final(c.root("big"))
    c.serves_others("while the silent client hangs")
    p.kill()
    p.wait()
    c.retry_put()


def case_silent_server_get(c):
    # The session stops (SIGSTOP: no data, no FIN) mid-get; the client's data timeout
    # (setdatato 3) ends it.
    c.serve_file()
    dest = os.path.join(c.local, "got.bin")
    p = c.paused("setdatato 3; setrecvcontrolto 3; get big %s" % dest, 500)
    sessions = c.session_pids()
    os.kill(sessions[0], signal.SIGSTOP)
    try:
        c.serves_others("while a session is stopped")
        out, err = p.communicate(timeout=60)
        c.failed_clearly(p.returncode, out, err, "session stopped mid-get (setdatato 3)")
        c.nothing_final(dest)
        c.only_partial_data(c.local, "got.bin")
    finally:
        os.kill(sessions[0], signal.SIGKILL)
    c.retry_get()


def mount_small_tmpfs(path, mib):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % mib, "tmpfs", path], check=True)


def unmount_later(path):
    import atexit
    atexit.register(lambda: subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL))


def case_disk_full_server(bbftpd, bbftp, shim):
    if os.geteuid() != 0:
        skip("needs root (mounts a small tmpfs as the served root)")

    def small_root(w):
        mount_small_tmpfs(w.path("root"), 8)
        unmount_later(w.path("root"))
    c = Case(bbftpd, bbftp, shim, root_setup=small_root)
    r = c.run("put %s big" % c.src)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "put of 24 MiB into an 8 MiB file system")
    if "space" not in (r.stdout + r.stderr).lower():
        fail("the error does not say the disk is full: %s %s" % (r.stdout, r.stderr))
    c.nothing_final(c.root("big"))
    c.no_temporaries(c.root(), 5)
    ok("no big, no temporary: the space is free again")
    c.data = c.data[:4 << 20]
    with open(c.src, "wb") as f:
        f.write(c.data)
    c.serves_others("after the full disk")
    c.retry_put()


def case_disk_full_client(bbftpd, bbftp, shim):
    if os.geteuid() != 0:
        skip("needs root (mounts a small tmpfs as the local directory)")
    c = Case(bbftpd, bbftp, shim)
    c.serve_file()
    small = c.w.path("small")
    mount_small_tmpfs(small, 8)
    unmount_later(small)
    dest = os.path.join(small, "got.bin")
    r = c.run("get big %s" % dest)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "get of 24 MiB into an 8 MiB file system")
    c.nothing_final(dest)
    c.no_temporaries(small, 1)
    c.serves_others("after the client's full disk")
    c.retry_get()


def case_file_shrinks_put(c):
    sending = c.w.path("sending.bin")
    with open(sending, "wb") as f:
        f.write(c.data)
    r = c.run("put %s big" % sending, "shrink", FERRY_FAULT_AFTER=1 << 20,
              FERRY_FAULT_FILE=sending, FERRY_FAULT_SIZE=4 << 20)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "local file cut to 4 MiB while put")
    c.no_temporaries(c.root())
    c.nothing_final(c.root("big"))
    c.serves_others("after the shrinking file")
    c.retry_put()


def case_file_shrinks_get(c):
    c.serve_file()
    dest = os.path.join(c.local, "got.bin")
    p = c.paused("get big %s" % dest, 1500)
    os.truncate(c.root("big"), 4 << 20)  # while the daemon sends it
    out, err = p.communicate(timeout=60)
    c.failed_clearly(p.returncode, out, err, "served file cut to 4 MiB while got")
    c.nothing_final(dest)
    c.no_temporaries(c.local, 1)
    c.serves_others("after the shrinking file")
    c.serve_file()
    c.retry_get()


def case_lost_daemon_aborts(c):
    # The whole daemon dies mid-put (listener, monitor and session, kill -9): the client tries to
    # connect again with all its tries (-r 2), then ends the run as the real client does, exit 33
    # with "Maximum try on connection reached (2) aborting" and no result line for the command or
    # for the commands after it.
    pids = None
    mark = c.w.path("paused.mark")
    argv = c.argv("mkdir a; put %s big; mkdir c" % c.src)
    argv[argv.index("-r") + 1] = "2"
    argv[1:1] = ["--retry-wait", "1"]
    p = subprocess.Popen(argv, env=c.env("pause", FERRY_FAULT_AFTER=1 << 20,
                                          FERRY_FAULT_PAUSE_MS=1500, FERRY_FAULT_MARK=mark),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait_until(lambda: os.path.exists(mark), 30):
        p.kill()
        fail("the transfer never reached its first MiB: %s" % (p.communicate(),))
    pids = [c.d.proc.pid] + c.session_pids()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    c.d.proc.wait(10)
    out, err = p.communicate(timeout=60)
    if p.returncode != 33:
        fail("exit %d, expected 33: %s %s" % (p.returncode, out, err))
    if "BBFTP-ERROR-00033 : Maximum try on connection reached (2) aborting" not in err.splitlines():
        fail("no abort line: %r" % err)
    if "FAILED" in out or "mkdir c" in out or "cannot reconnect" in err:
        fail("the run went on after the abort: %r %r" % (out, err))
    if "mkdir a OK" not in out:
        fail("the command before the loss is missing: %r" % out)
    c.nothing_final(c.root("big"))
    ok("daemon killed mid-put: reconnect tried twice, run aborted with exit 33, no result line")


def case_huge_length(c):
    # Before the login: a MSG_LOG header announcing 2 GiB.
    s = socket.create_connection((VICTIM, c.d.port), timeout=10)
    code, _ = recv_msg(s)
    if code != MSG_CRYPT:
        fail("no greeting")
    s.sendall(struct.pack(">ii", MSG_LOG, 0x7ffffff0))
    if not closed_by_peer(s, 10)[0]:
        fail("a 2 GiB login header was not refused")
    ok("before the login, a header announcing 2 GiB is refused and the connection closed")
    # After the login: a command header announcing 2 GiB.
    sess = BbftpSession(c.d.port)
    if not sess.logged_in():
        fail("no login")
    send_msg(sess.s, MSG_LIST_V2, b"", msglen=0x7ffffff0)
    if not closed_by_peer(sess.s, 10)[0]:
        fail("a 2 GiB command header was not refused")
    if "message too long" not in c.d.log_text():
        fail("the refusal was not logged")
    ok("after the login too (logged: message too long)")
    # A hostile server announcing 2 GiB to our client.
    srv = socket.socket()
    srv.bind((VICTIM, 0))
    srv.listen(1)

    def hostile():
        conn, _ = srv.accept()
        conn.sendall(struct.pack(">ii", MSG_CRYPT, 0x7ffffff0) + b"\0" * 64)
        time.sleep(5)
        conn.close()
    threading.Thread(target=hostile, daemon=True).start()
    r = subprocess.run([c.bbftp, "-u", "alice", "-w", str(srv.getsockname()[1]), "-r", "1",
                        "-e", "dir .", VICTIM], env=c.env(), capture_output=True, text=True,
                       timeout=30)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "a server announcing 2 GiB")
    c.serves_others("after the huge headers")
    c.retry_put()


def case_silent_client_login(c):
    s = socket.create_connection((VICTIM, c.d.port), timeout=10)
    t0 = time.monotonic()
    c.serves_others("while a client says nothing")
    if not closed_by_peer(s, 15)[0]:
        fail("a client that sends nothing was not closed")
    ok("a client that sends nothing is closed after %.1f s (--login-deadline 2)" %
       (time.monotonic() - t0))
    if "no login within 2 s" not in c.d.log_text():
        fail("not logged: " + c.d.log_text()[-1000:])
    c.retry_put()


def case_silent_server_login(c):
    srv = socket.socket()
    srv.bind((VICTIM, 0))
    srv.listen(1)
    held = []
    threading.Thread(target=lambda: held.append(srv.accept()), daemon=True).start()
    rc = c.w.path("bbftprc")
    with open(rc, "w") as f:
        f.write("setrecvcontrolto 2\n")
    r = subprocess.run([c.bbftp, "-u", "alice", "-w", str(srv.getsockname()[1]), "-r", "1",
                        "-R", rc, "-e", "dir .", VICTIM], env=c.env(), capture_output=True,
                       text=True, timeout=60)
    c.failed_clearly(r.returncode, r.stdout, r.stderr, "a server that says nothing "
                     "(setrecvcontrolto 2)")
    c.serves_others("meanwhile, the real daemon")
    c.retry_put()


WITH_CASE = {
    "kill_client_put": (), "kill_session_put": (), "kill_session_get": (),
    "stream_reset_put": (), "stream_reset_get": (),
    "silent_client_put": ("-R", "RC"), "silent_server_get": (),
    "file_shrinks_put": (), "file_shrinks_get": (), "huge_length": (),
    "silent_client_login": ("--login-deadline", "2"), "silent_server_login": (),
    "lost_daemon_aborts": (),
}
# The cases that stop a stream 1 MiB in (the shim's pause) use one stream of 96 MiB: the socket
# buffers hold a few MiB, so most of the file is still to move when the fault comes.
# The shrinking put too: with 8 streams of 3 MiB the other streams could have sent their whole
# segments before the first crossed 1 MiB (seen under load), and then nothing was cut.
PAUSED = ("kill_client_put", "kill_session_put", "kill_session_get", "silent_client_put",
          "silent_server_get", "file_shrinks_get", "file_shrinks_put", "lost_daemon_aborts")
PAUSED_SIZE = 96 << 20
RAW = {"disk_full_server": case_disk_full_server, "disk_full_client": case_disk_full_client}

if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[4] not in list(WITH_CASE) + list(RAW):
        print(__doc__ + "\ncases: " + " ".join(list(WITH_CASE) + list(RAW)))
        sys.exit(2)
    bbftpd, bbftp, shim, name = sys.argv[1:]
    if name in RAW:
        RAW[name](bbftpd, bbftp, shim)
        sys.exit(0)
    options = list(WITH_CASE[name])
    if "RC" in options:
        rc = tempfile.NamedTemporaryFile("w", suffix=".bbftpdrc", delete=False)
        rc.write("setdatato 3\n")
        rc.close()
        options[options.index("RC")] = rc.name
    c = Case(bbftpd, bbftp, shim, *options, size=PAUSED_SIZE if name in PAUSED else None)
    if name in PAUSED:
        c.streams = 1
    globals()["case_" + name](c)
