#!/usr/bin/env python3
"""An on-path attacker of an XFTP extended-mode transfer, run inside the test's namespace (root).

It watches the loopback (AF_PACKET) for DATA datagrams (0xD0, type 5) and, for the first
INJECT of them, sends
  - the same datagram again from another address (127.0.0.2): a stranger's;
  - with --forge, the same datagram with its last byte flipped, its source spoofed to be the
    client's own address and port (a raw IP socket, TTL 17): with a key, a bad tag.
It leaves DATA alone for --skip-seconds after the first (the transfer's first burst). It also looks for
the file's bytes on the wire: for each DATA datagram it sees, whether the
48 bytes where a clear DATA carries its payload occur in FILE.

Prints one line of JSON: {"seen": N, "stranger": N, "forged": N, "clear": N}.
Stops after --seconds, or once it has injected and inspected enough datagrams.
Usage: xftp_inject.py FILE [--forge] [--inject 20] [--inspect 200] [--skip-seconds 0.5] [--seconds 30]
"""
import argparse
import json
import socket
import struct
import time

ETH_P_ALL = 0x0003
PACKET_HOST = 0
HEADER = 18  # magic, type, connection ID, packet number
DATA_PAYLOAD = HEADER + 4 + 8 + 8  # where a clear DATA's file bytes start
INJECTED_TTL = 17  # the test's namespace lets these past its rate limit


def udp_of(frame):
    """(src ip, src port, dst ip, dst port, payload) of an IPv4 UDP frame on lo, else None."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17 or len(ip) < ihl + 8:
        return None
    sport, dport, length = struct.unpack("!HHH", ip[ihl:ihl + 6])
    payload = ip[ihl + 8:ihl + length]
    return socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, payload


def spoofed(src, sport, dst, dport, payload):
    """An IPv4 packet from src:sport (the kernel fills in the IP checksum; UDP's is optional)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, INJECTED_TTL, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + udp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--forge", action="store_true")
    ap.add_argument("--inject", type=int, default=20)
    ap.add_argument("--inspect", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    # The first datagrams of a transfer come as a burst that can fill the server's socket
    # buffer; copies sent then could be lost there rather than dropped and counted.
    ap.add_argument("--skip-seconds", type=float, default=0.5)
    a = ap.parse_args()
    with open(a.file, "rb") as f:
        content = f.read()
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sniff.bind(("lo", 0))
    sniff.settimeout(0.2)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    out = {"seen": 0, "stranger": 0, "forged": 0, "clear": 0}
    end = time.monotonic() + a.seconds
    first = None  # when the first DATA was seen
    while time.monotonic() < end:
        if out["seen"] >= a.inspect and out["stranger"] >= a.inject:
            break
        try:
            frame, where = sniff.recvfrom(65535)
        except socket.timeout:
            continue
        if where[2] != PACKET_HOST:
            continue  # lo shows each packet twice: take the one delivered
        u = udp_of(frame)
        if u is None:
            continue
        src, sport, dst, dport, payload = u
        if src == "127.0.0.2" or len(payload) < DATA_PAYLOAD + 48:
            continue
        if payload[0] != 0xD0 or payload[1] != 0x05:
            continue
        out["seen"] += 1
        if first is None:
            first = time.monotonic()
        if content.find(payload[DATA_PAYLOAD:DATA_PAYLOAD + 48]) >= 0:
            out["clear"] += 1
        if time.monotonic() - first >= a.skip_seconds and out["stranger"] < a.inject:
            stranger.sendto(payload, (dst, dport))
            out["stranger"] += 1
            if a.forge:
                bad = payload[:-1] + bytes([payload[-1] ^ 0x01])
                raw.sendto(spoofed(src, sport, dst, dport, bad), (dst, 0))
                out["forged"] += 1
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
