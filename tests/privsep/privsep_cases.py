#!/usr/bin/env python3
"""bbftpd's privilege separation, checked on the running processes (docs/security.md):
the pre-login process's account, groups and capabilities; the service account owning a
password-file user's uploads; a session killed for a forbidden system call; a session that
Landlock keeps inside its root. Usage: privsep_cases.py BBFTPD BBFTP CASE [SHIM]."""
import os
import pwd
import re
import socket
import struct
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "attack"))
from harness import (MSG_CRYPT, VICTIM, Work, fail, ok, recv_msg, skip,  # noqa: E402
                     start_bbftpd, wait_until)


def need_root():
    if os.geteuid() != 0:
        skip("needs root (the daemon drops to accounts of its own only as root)")


def confinement_default(bbftpd, name):
    """The build's default for --landlock / --seccomp, as --help shows it (off under
    sanitizers)."""
    text = subprocess.run([bbftpd, "--help"], capture_output=True, text=True).stdout
    m = re.search(r"--%s TEXT:\{on,off\}=(on|off)" % name, text)
    return m.group(1) if m else "off"


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def client(bbftp, d, commands, password="attack-pw"):
    env = dict(os.environ, BBFTP_PASSWORD=password)
    return subprocess.run([bbftp, "-u", "alice", "-w", str(d.port), "-r", "1", "-e", commands,
                           VICTIM], env=env, capture_output=True, text=True, timeout=60)


def put_get(bbftp, d, w, what):
    src = w.path("payload")
    data = os.urandom(3 << 20)
    with open(src, "wb") as f:
        f.write(data)
    r = client(bbftp, d, "put %s p; get p %s" % (src, w.path("back")))
    if r.returncode != 0:
        fail("%s: a normal transfer failed: %s %s" % (what, r.stdout, r.stderr))
    with open(w.path("back"), "rb") as f:
        if f.read() != data:
            fail("%s: the file came back different" % what)


def case_prelogin_process(bbftpd, bbftp, shim):
    need_root()
    w = Work()
    d = start_bbftpd(bbftpd, w)
    options = d.proc.args
    pre_user = options[options.index("--prelogin-user") + 1]
    account = pwd.getpwnam(pre_user)
    # A connection that waits at its login: its pre-login process has made its key and sent it.
    s = socket.create_connection((VICTIM, d.port), timeout=10)
    code, _ = recv_msg(s)
    if code != MSG_CRYPT:
        fail("no MSG_CRYPT greeting (got code %d)" % code)
    monitors = wait_until(lambda: children(d.proc.pid), 5)
    if len(monitors) != 1:
        fail("expected one monitor process, found %r" % monitors)
    pre = wait_until(lambda: children(monitors[0]), 5)
    if len(pre) != 1:
        fail("expected one pre-login process, found %r" % pre)
    m, p = status(monitors[0]), status(pre[0])
    if m["Uid"].split() != ["0"] * 4:
        fail("the monitor should keep root: Uid %s" % m["Uid"])
    want_uid, want_gid = [str(account.pw_uid)] * 4, [str(account.pw_gid)] * 4
    checks = [("Uid", p["Uid"].split() == want_uid), ("Gid", p["Gid"].split() == want_gid),
              ("Groups", p["Groups"].strip() == ""),
              ("CapEff", int(p["CapEff"], 16) == 0), ("CapPrm", int(p["CapPrm"], 16) == 0),
              ("CapInh", int(p["CapInh"], 16) == 0), ("CapAmb", int(p["CapAmb"], 16) == 0),
              ("NoNewPrivs", p["NoNewPrivs"].strip() == "1")]
    if confinement_default(bbftpd, "seccomp") == "on":
        checks.append(("Seccomp", p["Seccomp"].strip() == "2"))
    for name, good in checks:
        if not good:
            fail("pre-login process %d (%s): %s is %r" % (pre[0], pre_user, name, p.get(name)))
    ok("pre-login process %d runs as %s (uid %d gid %d): Uid %s, Gid %s, Groups '%s', CapEff %s,"
       " NoNewPrivs %s, Seccomp %s" % (pre[0], pre_user, account.pw_uid, account.pw_gid,
                                       p["Uid"], p["Gid"], p["Groups"].strip(), p["CapEff"],
                                       p["NoNewPrivs"], p["Seccomp"]))
    # It holds nothing of the daemon's: /dev/null as 0-2, the connection and its monitor link.
    fds = {}
    for fd in os.listdir("/proc/%d/fd" % pre[0]):
        fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pre[0], fd))
    if [fds.get(i) for i in (0, 1, 2)] != ["/dev/null"] * 3:
        fail("pre-login standard descriptors are not /dev/null: %r" % fds)
    others = sorted(set(v for k, v in fds.items() if k > 2))  # the connection may be dup'ed
    if len(others) != 2 or not all(v.startswith("socket:") for v in others):
        fail("pre-login holds more than its connection and its monitor link: %r" % fds)
    ok("pre-login descriptors: 0-2 /dev/null, then only %s" % ", ".join(others))
    # It dies with its monitor (the listener kills monitors that overstay).
    os.kill(monitors[0], 9)
    if not wait_until(lambda: not os.path.exists("/proc/%d/status" % pre[0]) or
                      status(pre[0]).get("State", "").startswith("Z"), 5):
        fail("the pre-login process outlived its monitor")
    ok("the pre-login process dies with its monitor (SIGKILL of the monitor)")
    s.close()


def case_service_account_owns_uploads(bbftpd, bbftp, shim):
    need_root()
    w = Work()
    d = start_bbftpd(bbftpd, w)
    options = d.proc.args
    service = pwd.getpwnam(options[options.index("--service-user") + 1])
    put_get(bbftp, d, w, "service account")
    st = os.stat(w.path("root", "p"))
    if st.st_uid != service.pw_uid or st.st_gid != service.pw_gid:
        fail("upload owned by %d:%d, not by the service account %s (%d:%d)" %
             (st.st_uid, st.st_gid, service.pw_name, service.pw_uid, service.pw_gid))
    r = client(bbftp, d, "mkdir sub; put %s sub/q" % w.path("payload"))
    if r.returncode != 0:
        fail("mkdir + put failed: %s %s" % (r.stdout, r.stderr))
    for path in (w.path("root", "sub"), w.path("root", "sub", "q")):
        if os.stat(path).st_uid != service.pw_uid:
            fail("%s not owned by the service account" % path)
    ok("uploads and directories of a password-file user belong to %s (uid %d)" %
       (service.pw_name, service.pw_uid))


def plant(w, name):
    """A file named `name` in the served root: listing the root makes the shim act."""
    with open(w.path("root", name), "wb"):
        pass


def shim_env(shim):
    env = dict(os.environ, LD_PRELOAD=shim)
    env["ASAN_OPTIONS"] = "verify_asan_link_order=0"
    return env


def forbidden_call_killed(bbftpd, bbftp, shim, probe, what):
    if confinement_default(bbftpd, "seccomp") != "on":
        skip("seccomp is off by default in this build (sanitizers)")
    w = Work()
    d = start_bbftpd(bbftpd, w, env=shim_env(shim))
    plant(w, probe)
    r = client(bbftp, d, "dir .")
    if r.returncode == 0:
        fail("the session survived a forbidden system call: %s" % r.stdout)
    if not wait_until(lambda: "killed: a forbidden system call" in d.log_text(), 5):
        fail("the daemon did not report the kill: " + d.log_text()[-2000:])
    ok("a session calling %s was killed (%s)" % (what, r.stderr.strip().splitlines()[-1]))
    # Our client's transfers are checked: sending the get, the daemon's block hasher lowers its
    # own priority, which the same filter allows.
    put_get(bbftp, d, w, "after the kill")
    ok("the daemon keeps serving: 3 MiB put and got back identical")
    checked = r"get /p \(3145728 bytes, 1 streams\) in .*, xxh3-128 "
    if not wait_until(lambda: re.search(checked, d.log_text()), 5):
        fail("the get was not a checked one: " + d.log_text()[-2000:])
    # The hook is what kills: without seccomp the same command is answered.
    d.stop()
    w2 = Work()
    d2 = start_bbftpd(bbftpd, w2, "--seccomp", "off", env=shim_env(shim))
    plant(w2, probe)
    r = client(bbftp, d2, "dir .")
    if r.returncode != 0 or "forbidden system call" in d2.log_text():
        fail("with --seccomp off the command should be answered: %s %s" % (r.stdout, r.stderr))
    ok("with --seccomp off the same command is answered")


def case_forbidden_syscall_killed(bbftpd, bbftp, shim):
    forbidden_call_killed(bbftpd, bbftp, shim, "ferry-forbidden-syscall", "personality(2)")


def case_priority_raise_killed(bbftpd, bbftp, shim):
    forbidden_call_killed(bbftpd, bbftp, shim, "ferry-priority-raise", "setpriority(2) to -20")


def case_landlock_confines_session(bbftpd, bbftp, shim):
    if confinement_default(bbftpd, "landlock") != "on":
        skip("Landlock is off by default in this build (sanitizers)")
    w = Work()
    d = start_bbftpd(bbftpd, w, env=shim_env(shim))
    plant(w, "ferry-landlock-probe")
    client(bbftp, d, "dir .")
    line = wait_until(lambda: re.search(r"ferry-landlock-probe: open /etc/hostname: ([^\n]*)",
                                        d.log_text()), 5)
    if "no Landlock" in d.log_text():
        skip("this kernel has no Landlock")
    if not line:
        fail("the probe did not run: " + d.log_text()[-2000:])
    if line.group(1) == "opened":
        fail("a confined session opened /etc/hostname")
    ok("a confined session cannot open /etc/hostname: %s" % line.group(1))
    put_get(bbftp, d, w, "under Landlock")
    ok("transfers within the root pass under Landlock")
    d.stop()
    w2 = Work()
    d2 = start_bbftpd(bbftpd, w2, "--landlock", "off", env=shim_env(shim))
    plant(w2, "ferry-landlock-probe")
    client(bbftp, d2, "dir .")
    line = wait_until(lambda: re.search(r"ferry-landlock-probe: open /etc/hostname: ([^\n]*)",
                                        d2.log_text()), 5)
    if not line or line.group(1) != "opened":
        fail("with --landlock off the probe should open the file: %r" % (line and line.group(1)))
    ok("with --landlock off the same probe opens it")


CASES = {name[5:]: f for name, f in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[3] not in CASES:
        print(__doc__ + "\ncases: " + " ".join(CASES))
        sys.exit(2)
    CASES[sys.argv[3]](sys.argv[1], sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else None)
