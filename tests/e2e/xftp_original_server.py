#!/usr/bin/env python3
"""A scripted peer that behaves on the wire as the original XFTP server does (XFTP spec, sections
1-2): every datagram read into 4096 bytes, anything not 0xCF or shorter than 11 bytes dropped, a
thread per request, LIST as json.dumps writes it, UPLOAD/DOWNLOAD on a fresh data socket with
stop-and-wait and no retransmission, DELETE/MOVE/MKDIR never answered, 30 s of silence as the only
timeout. The first data datagram of a download is sent before the OK reply (the original may let
it overtake). It does not reproduce the original's crashes.
Test hooks: --requests FILE logs "CMD DATA" per request received; --drop-first CMD drops the reply
to the first request with that command number; --stray sends a bogus OK for each request from
another socket first; --stall-after N stops a download after N data datagrams.
Usage: xftp_original_server.py ROOT [--port P] [hooks]   (prints "listening on 127.0.0.1:P")"""
import argparse
import json
import os
import socket
import sys
import threading

MAGIC = 0xCF
BUF = 4096
OK, INVALID, NOT_FOUND, FILE_EXISTS, INTERNAL_ERROR, ACK = 1, 2, 3, 4, 5, 6
LIST, UPLOAD, DOWNLOAD = 0, 1, 2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--requests")
    ap.add_argument("--drop-first", type=int, action="append", default=[])
    ap.add_argument("--stray", action="store_true")
    ap.add_argument("--stall-after", type=int, default=-1)
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", args.port))
    print("listening on 127.0.0.1:%d" % sock.getsockname()[1], flush=True)
    lock = threading.Lock()
    dropped = set()

    def reply(addr, status, cmd, rid, data=b""):
        if cmd in args.drop_first and cmd not in dropped:
            dropped.add(cmd)
            return
        if args.stray:
            other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            other.sendto(bytes([MAGIC, OK, cmd]) + rid + b"\x01\x00", addr)
            other.close()
        sock.sendto(bytes([MAGIC, status, cmd]) + rid + data, addr)

    def serve(pkt, addr):
        cmd, rid, path = pkt[2], pkt[3:11], pkt[11:].decode("utf-8", "replace")
        if args.requests:
            with lock, open(args.requests, "a") as log:
                log.write("%d %s\n" % (cmd, path))
        local = os.path.join(args.root, path.lstrip("/"))
        if cmd == LIST:
            if not os.path.exists(local):
                return reply(addr, NOT_FOUND, cmd, rid)
            if not os.path.isdir(local):
                return reply(addr, INVALID, cmd, rid)
            names = os.listdir(local)
            listing = {"dirs": [n for n in names if os.path.isdir(os.path.join(local, n))],
                       "files": [n for n in names if not os.path.isdir(os.path.join(local, n))]}
            return reply(addr, OK, cmd, rid, json.dumps(listing).encode())
        if cmd == UPLOAD:
            if os.path.exists(local):
                return reply(addr, FILE_EXISTS, cmd, rid)
            try:
                f = open(local, "wb")
            except OSError:
                return reply(addr, INTERNAL_ERROR, cmd, rid)
            data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            data.bind(("127.0.0.1", 0))
            data.settimeout(30)
            reply(addr, OK, cmd, rid, data.getsockname()[1].to_bytes(2, "little"))
            with f:
                while True:
                    chunk, src = data.recvfrom(BUF)
                    if not chunk:
                        break
                    f.write(chunk)
                    data.sendto(bytes([MAGIC, ACK, UPLOAD]) + rid, src)
            return
        if cmd == DOWNLOAD:
            if not os.path.exists(local):
                return reply(addr, NOT_FOUND, cmd, rid)
            data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            data.bind(("127.0.0.1", 0))
            data.settimeout(30)
            sent = 0
            with open(local, "rb") as f:
                first = True
                while True:
                    chunk = f.read(BUF)
                    if not chunk:
                        break
                    if args.stall_after >= 0 and sent == args.stall_after:
                        return  # goes silent, as after a lost datagram
                    data.sendto(chunk, addr)
                    sent += 1
                    if first:  # the reply follows the first data datagram
                        reply(addr, OK, cmd, rid, data.getsockname()[1].to_bytes(2, "little"))
                        first = False
                    data.recvfrom(BUF)  # the ACK (the original checks nothing more)
                if first:
                    data.sendto(b"", addr)
                    reply(addr, OK, cmd, rid, data.getsockname()[1].to_bytes(2, "little"))
                    return
            data.sendto(b"", addr)
            return
        # DELETE, MOVE, MKDIR and anything else: the original never answers.

    while True:
        pkt, addr = sock.recvfrom(BUF)
        if len(pkt) < 11 or pkt[0] != MAGIC:
            continue
        threading.Thread(target=serve, args=(pkt, addr), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
