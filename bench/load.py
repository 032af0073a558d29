#!/usr/bin/env python3
"""Load: N concurrent clients against one daemon with its default limits, each from its own
source address in 127.0.0.0/8; first bbftpd, then xftpd.
bbftpd: every client logs in at once; the sessions admitted are held open until every client
has its answer (so the session cap is reached), then each puts a file of its own.
xftpd: every client asks for an UPLOAD at once; the transfers granted are held until every
client has its answer (so the transfer cap is reached), then each sends its file.
The stored files are compared with what was sent. Prints how many were served and refused (and
with what), and the daemon's processes, memory and descriptors idle, at the peak and after.
Each burst is repeated ROUNDS times against the same daemon: what it holds after a burst must
not grow from one to the next.
Usage: bench/load.py BUILD_DIR [N] [KIB] [ROUNDS]   (default 500 clients, 256 KiB each, 3
rounds; as root for bbftpd's accounts)"""
import collections
import os
import resource
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "attack"))
from harness import (MSG_ACK, MSG_OK, BbftpSession, Work, process_tree,  # noqa: E402
                     recv_msg, start_bbftpd, start_xftpd, tcp_from, wait_until)
from xftpd_attacks import OK as XFTP_OK, Peer  # noqa: E402


def footprint(pid):
    """(processes, PSS KiB summed over the tree, the listener's descriptors)."""
    procs = process_tree(pid)
    pss = 0
    for p in procs:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                pss += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return len(procs), pss, len(os.listdir("/proc/%d/fd" % pid))


def source_of(i):
    return "127.%d.%d.%d" % (20 + i // 62500, (i // 250) % 250 + 1, i % 250 + 1)


def bbftp_load(build, n, kib, rounds):
    w = Work()
    d = start_bbftpd(os.path.join(build, "apps", "bbftpd"), w)  # default limits (+ -u)
    time.sleep(0.5)
    idle = footprint(d.proc.pid)
    print("bbftpd, default limits, %d clients from %d addresses, %d KiB each, %d rounds:" %
          (n, n, kib, rounds))
    good = True
    for r in range(rounds):
        good = bbftp_round(d, w, n, kib, idle, r) and good
    d.stop()
    return good


def bbftp_round(d, w, n, kib, idle, rnd):
    answered = threading.Barrier(n + 1)
    go = threading.Event()
    results = [None] * n
    peak = [0, 0, 0]
    payloads = [os.urandom(kib << 10) for _ in range(n)]

    def client(i):
        source = source_of(i)
        v = None
        try:
            v = BbftpSession(d.port, source=source)
        except Exception as e:  # noqa: BLE001 - every outcome is counted
            results[i] = ("error", repr(e)[:80])
        if v is not None and not v.logged_in():
            code, text = v.login_reply
            results[i] = ("refused", "%#x %s" % (code, text.decode(errors="replace")))
        answered.wait(120)
        if v is None or results[i] is not None:
            return
        go.wait(120)
        try:
            size, streams, ports = v.request_transfer(True, "f%d_%d" % (rnd, i), kib << 10, 1)
            v.start_v3(streams)
            s = tcp_from(source, ports[0])
            s.sendall(payloads[i])
            code, _ = recv_msg(s)
            s.close()
            final, text = v.final()
            v.close()
            results[i] = ("served", "") if code == MSG_ACK and final == MSG_OK else \
                ("failed", "%#x %r" % (final, text))
        except Exception as e:  # noqa: BLE001
            results[i] = ("failed", repr(e)[:80])

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    answered.wait(180)  # every client has its login answer; the admitted ones hold a session
    login_secs = time.monotonic() - t0
    peak = footprint(d.proc.pid)
    go.set()
    for t in threads:
        t.join(180)
    total_secs = time.monotonic() - t0
    after = wait_until(lambda: (lambda f: f if f[0] == idle[0] and f[2] <= idle[2] else None)(
        footprint(d.proc.pid)), 30) or footprint(d.proc.pid)

    kinds = collections.Counter(r[0] if r else "none" for r in results)
    why = collections.Counter(r[1] for r in results if r and r[0] != "served")
    corrupted = 0
    for i, r in enumerate(results):
        if r and r[0] == "served":
            with open(w.path("root", "f%d_%d" % (rnd, i)), "rb") as f:
                corrupted += f.read() != payloads[i]
    print(" round %d:" % (rnd + 1))
    print("  served %d, refused %d, failed %d, errors %d (all answered in %.1f s, done in %.1f s)"
          % (kinds["served"], kinds["refused"], kinds["failed"], kinds["error"], login_secs,
             total_secs))
    for text, count in why.most_common(5):
        print("    %4d x %s" % (count, text))
    print("  stored files differing from what was sent: %d" % corrupted)
    print("  processes / PSS / listener descriptors: idle %d / %.1f MiB / %d; with every session "
          "held %d / %.1f MiB / %d; after %d / %.1f MiB / %d" %
          (idle[0], idle[1] / 1024, idle[2], peak[0], peak[1] / 1024, peak[2], after[0],
           after[1] / 1024, after[2]))
    return not (corrupted or kinds["failed"] or kinds["none"])


def xftp_load(build, n, kib, rounds):
    w = Work()
    d = start_xftpd(os.path.join(build, "apps", "xftpd"), w)  # default limits
    time.sleep(0.5)
    idle = footprint(d.proc.pid)
    print("xftpd, default limits, %d clients from %d addresses, %d KiB each (legacy XFTP), "
          "%d rounds:" % (n, n, kib, rounds))
    good = True
    for r in range(rounds):
        good = xftp_round(d, w, n, kib, idle, r) and good
    # The duplicate memory keeps each answered request for 35 s (a repeat gets the same reply):
    # past that window, one more request (not a LIST: LIST is never remembered, so it does not
    # expire anything) empties it, and what the bursts left must be gone.
    if os.environ.get("FERRY_LOAD_QUICK"):  # the ctest entry: correctness only
        d.stop()
        return good
    time.sleep(36)
    Peer(d.port, source="127.19.0.1").ask(2, b"no-such-file")  # DOWNLOAD: NOT_FOUND
    time.sleep(0.5)
    later = footprint(d.proc.pid)
    print(" 36 s after the last burst (the duplicate memory's window past): PSS %.1f MiB, %d "
          "descriptors (idle %.1f MiB, %d)" % (later[1] / 1024, later[2], idle[1] / 1024, idle[2]))
    d.stop()
    return good


def xftp_round(d, w, n, kib, idle, rnd):
    answered = threading.Barrier(n + 1)
    go = threading.Event()
    results = [None] * n
    payloads = [os.urandom(kib << 10) for _ in range(n)]

    def client(i):
        try:
            peer = Peer(d.port, source=source_of(i))
            status, data_addr = peer.upload_start("u%d_%d" % (rnd, i))
            if status != XFTP_OK:
                results[i] = ("refused", "no reply" if status is None else "status %d" % status)
        except Exception as e:  # noqa: BLE001 - every outcome is counted
            results[i] = ("error", repr(e)[:80])
        answered.wait(120)
        if results[i] is not None:
            return
        go.wait(120)
        try:
            for off in range(0, len(payloads[i]), 4096):
                peer.send_chunk(data_addr, payloads[i][off:off + 4096])
            peer.s.sendto(b"", data_addr)
            results[i] = ("served", "")
        except Exception as e:  # noqa: BLE001
            results[i] = ("failed", repr(e)[:80])

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    answered.wait(180)
    ask_secs = time.monotonic() - t0
    peak = footprint(d.proc.pid)
    go.set()
    for t in threads:
        t.join(300)
    total_secs = time.monotonic() - t0
    kinds = collections.Counter(r[0] if r else "none" for r in results)
    why = collections.Counter(r[1] for r in results if r and r[0] != "served")
    corrupted = 0
    for i, r in enumerate(results):
        if r and r[0] == "served":
            def same(i=i):
                try:
                    with open(w.path("xroot", "u%d_%d" % (rnd, i)), "rb") as f:
                        return f.read() == payloads[i]
                except OSError:
                    return False
            corrupted += not wait_until(same, 10)
    after = wait_until(lambda: (lambda f: f if f[2] <= idle[2] else None)(
        footprint(d.proc.pid)), 30) or footprint(d.proc.pid)
    print(" round %d:" % (rnd + 1))
    print("  served %d, refused %d, failed %d (all answered in %.1f s, done in %.1f s)" %
          (kinds["served"], kinds["refused"], kinds["failed"], ask_secs, total_secs))
    for text, count in why.most_common(5):
        print("    %4d x %s" % (count, text))
    print("  stored files differing from what was sent: %d" % corrupted)
    print("  PSS / descriptors: idle %.1f MiB / %d; with every transfer held %.1f MiB / %d; "
          "after %.1f MiB / %d" % (idle[1] / 1024, idle[2], peak[1] / 1024, peak[2],
                                   after[1] / 1024, after[2]))
    if kinds["served"] != min(n, 64):
        print("  the transfer cap (64) was not reached")
    return kinds["served"] == min(n, 64) and not (corrupted or kinds["failed"] or kinds["none"] or
                                                  kinds["error"])


def main():
    build = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    kib = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8 * n + 256)), hard))
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    good = bbftp_load(build, n, kib, rounds)
    good = xftp_load(build, n, kib, rounds) and good
    if not good:
        sys.exit("load: a served client failed or a file differs")


if __name__ == "__main__":
    main()
