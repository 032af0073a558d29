#!/usr/bin/env python3
"""Minimal inetd for tests: listen on HOST:PORT, run COMMAND per connection with the socket as
stdin/stdout (how the real bbftpd runs without -b). Prints the bound port, then serves until
killed. Usage: inetd.py HOST PORT COMMAND [ARGS...]"""
import os
import signal
import socket
import sys


def main():
    host, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(16)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        if os.fork() == 0:
            srv.close()
            os.dup2(conn.fileno(), 0)
            os.dup2(conn.fileno(), 1)
            conn.close()
            os.execv(argv[0], argv)
        conn.close()


if __name__ == "__main__":
    main()
