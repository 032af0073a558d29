#!/usr/bin/env python3
"""A scripted peer that behaves as the original XFTP client does (XFTP spec, sections 1-2): one
random ID per process, every datagram read into 4096 bytes, replies accepted only from the exact
address asked, stop-and-wait data with no retransmission, 30 s inactivity as the only timeout.
It adds nothing the original lacks, so a server that passes it passes the original.
Usage: xftp_original_peer.py HOST PORT COMMAND ARGS...
  list PATH | upload LOCAL REMOTE | download REMOTE LOCAL | raw STATUS CMD HEXDATA
Prints the reply status name (and data for list) and exits 0 when the exchange completed."""
import os
import socket
import sys

MAGIC = 0xCF
STATUS = {0: "REQUEST", 1: "OK", 2: "INVALID", 3: "NOT_FOUND", 4: "FILE_EXISTS",
          5: "INTERNAL_ERROR", 6: "ACK"}
BUF = 4096
ID = os.urandom(8)


def request(sock, server, cmd, data, status=0):
    sock.sendto(bytes([MAGIC, status, cmd]) + ID + data, server)
    while True:
        pkt, addr = sock.recvfrom(BUF)
        if addr != server or len(pkt) < 11 or pkt[0] != MAGIC:
            continue  # the original ignores strays
        return pkt


def main():
    host, port, command = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = (host, port) if family == socket.AF_INET else (host, port, 0, 0)
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(30)
    if command == "list":
        reply = request(sock, server, 0, sys.argv[4].encode())
        print(STATUS[reply[1]], reply[11:].decode())
    elif command == "raw":
        reply = request(sock, server, int(sys.argv[5], 16), bytes.fromhex(sys.argv[6]),
                        int(sys.argv[4], 16))
        print(STATUS[reply[1]], len(reply))
    elif command == "upload":
        local, remote = sys.argv[4], sys.argv[5]
        reply = request(sock, server, 1, remote.encode())
        if reply[1] != 1:
            print(STATUS[reply[1]])
            return
        data_addr = (host, int.from_bytes(reply[11:13], "little"))
        with open(local, "rb") as f:
            while True:
                chunk = f.read(BUF)
                if not chunk:
                    break
                sock.sendto(chunk, data_addr)
                while True:  # wait for this chunk's ACK from the data port
                    ack, addr = sock.recvfrom(BUF)
                    if addr[:2] == data_addr[:2] and len(ack) >= 2 and ack[1] == 6:
                        break
        sock.sendto(b"", data_addr)  # end of file, not acknowledged
        print("OK")
    elif command == "download":
        remote, local = sys.argv[4], sys.argv[5]
        sock.sendto(bytes([MAGIC, 0, 2]) + ID + remote.encode(), server)
        early = []
        data_port = None
        with open(local + ".part", "wb") as f:
            while True:
                pkt, addr = sock.recvfrom(BUF)
                if addr == server and len(pkt) >= 11 and pkt[0] == MAGIC:
                    if pkt[1] != 1:
                        print(STATUS[pkt[1]])
                        os.unlink(local + ".part")
                        return
                    data_port = int.from_bytes(pkt[11:13], "little")
                    for chunk, src in early:  # data that overtook the reply
                        f.write(chunk)
                        sock.sendto(bytes([MAGIC, 6, 0xFF]) + ID, src)
                    early = []
                    continue
                if data_port is None:
                    early.append((pkt, addr))
                    continue
                if addr[1] != data_port:
                    continue
                if not pkt:
                    break
                f.write(pkt)
                sock.sendto(bytes([MAGIC, 6, 0xFF]) + ID, addr)
        os.rename(local + ".part", local)
        print("OK")


if __name__ == "__main__":
    main()
