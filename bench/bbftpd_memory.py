#!/usr/bin/env python3
"""Peak memory of the whole bbftpd process tree (listener, monitor, session and its stream
threads) during 8-stream transfers: proportional set size from /proc/PID/smaps_rollup, summed
over the tree, sampled every 10 ms. Prints the peaks for a put and a get of SIZE MiB.
Usage: bench/bbftpd_memory.py BUILD_DIR [SIZE_MIB]   (root: with the pre-login and service
accounts, as deployed)"""
import os
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "attack"))
from harness import VICTIM, Work, process_tree, start_bbftpd  # noqa: E402


def pss_kib(pid):
    total = anon = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    total = int(line.split()[1])
                elif line.startswith("Pss_Anon:"):
                    anon = int(line.split()[1])
    except OSError:
        pass
    return total, anon


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak, self.peak_anon, self.peak_procs = pid, False, 0, 0, 0

    def run(self):
        while not self.stop:
            procs = process_tree(self.pid)
            t = a = 0
            for p in procs:
                pt, pa = pss_kib(p)
                t, a = t + pt, a + pa
            self.peak, self.peak_anon = max(self.peak, t), max(self.peak_anon, a)
            self.peak_procs = max(self.peak_procs, len(procs))
            time.sleep(0.01)


def main():
    build = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    w = Work()
    d = start_bbftpd(os.path.join(build, "apps", "bbftpd"), w)
    src = "/dev/shm/ferry-memory-%d" % os.getpid()
    try:
        with open(src, "wb") as f:
            for _ in range(size):
                f.write(os.urandom(1 << 20))
        idle, idle_anon = 0, 0
        for p in process_tree(d.proc.pid):
            t, a = pss_kib(p)
            idle, idle_anon = idle + t, idle_anon + a
        print("idle daemon: PSS %.1f MiB (anonymous %.1f MiB)" % (idle / 1024, idle_anon / 1024))
        env = dict(os.environ, BBFTP_PASSWORD="attack-pw")
        for what, cmd in (("put", "put %s big" % src), ("get", "get big %s.back" % src)):
            s = Sampler(d.proc.pid)
            s.start()
            t0 = time.monotonic()
            r = subprocess.run([os.path.join(build, "apps", "bbftp"), "-u", "alice", "-w",
                                str(d.port), "-p", "8", "-r", "1", "-e", cmd, VICTIM], env=env,
                               capture_output=True, timeout=600)
            secs = time.monotonic() - t0
            s.stop = True
            s.join()
            if r.returncode != 0:
                sys.exit("bench: %s failed: %s %s" % (what, r.stdout, r.stderr))
            print("%s %d MiB over 8 streams in %.2f s: peak PSS of the bbftpd tree %.1f MiB "
                  "(anonymous %.1f MiB, %d processes), limit 64 MiB: %s" %
                  (what, size, secs, s.peak / 1024, s.peak_anon / 1024, s.peak_procs,
                   "within" if s.peak <= 64 * 1024 else "OVER"))
        os.unlink(src + ".back")
    finally:
        if os.path.exists(src):
            os.unlink(src)


if __name__ == "__main__":
    main()
