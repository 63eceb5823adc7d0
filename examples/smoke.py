#!/usr/bin/env python3
"""End-to-end check of the example servers (meson test suite 'examples').

    smoke.py ECHO HTTP RESP        (the three built executables)

Each server is started with --port 0 and --workers 2, its port read from
its "listening on 127.0.0.1:PORT" line, then spoken to over loopback; at
the end it is stopped with SIGTERM or SIGINT while a connection is still
open, and must exit with status 0 within 5 s.  Exits 1 on the first
failure, naming it.  Every socket has a timeout, so a server that hangs
fails the check instead of the test.
"""
import re
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 5.0
HELLO = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 13\r\n\r\nHello, World!")


# Servers started and not yet stopped; killed on failure.
running = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    for p in running:
        p.kill()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Server:
    def __init__(self, exe, *args):
        self.proc = subprocess.Popen([exe, "--port", "0", "--workers", "2",
                                      *args], stderr=subprocess.PIPE)
        running.append(self.proc)
        line = self.proc.stderr.readline().decode()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        check(m, "%s: first stderr line %r" % (exe, line))
        self.port = int(m.group(1))
        self.exe = exe

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), TIMEOUT)
        s.settimeout(TIMEOUT)
        return s

    def stop(self, sig):
        idle = self.connect()   # still open when the signal comes
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("%s did not stop on signal %d" % (self.exe, sig))
        running.remove(self.proc)
        idle.close()
        check(rc == 0, "%s exited with %d after signal %d" %
              (self.exe, rc, sig))


def recv_exactly(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def recv_until_eof(s):
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return buf
        buf += d


def smoke_echo(exe):
    srv = Server(exe)
    s = srv.connect()
    for i in range(100):
        msg = (b"%02d" % i) * 32
        s.sendall(msg)
        check(recv_exactly(s, len(msg)) == msg, "echo: message %d" % i)
    big = bytes(range(256)) * 4096
    s.sendall(big)
    s.shutdown(socket.SHUT_WR)
    check(recv_until_eof(s) == big, "echo: 1 MiB then EOF")
    srv.stop(signal.SIGINT)


def smoke_http(exe):
    srv = Server(exe, "--idle-timeout-ms", "300")
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check(recv_exactly(s, len(HELLO)) == HELLO, "http: GET /")
    # Pipelined: every answer, in order; the close one ends the stream.
    s.sendall(b"GET / HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
              b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
              b"GET / HTTP/1.1\r\n\r\n")
    out = recv_until_eof(s)
    check(out.startswith(HELLO + b"HTTP/1.1 404 Not Found\r\n"),
          "http: pipelined answers %r" % out[:200])
    check(out.count(b"HTTP/1.1 ") == 3 and
          out.endswith(b"Connection: close\r\n\r\nHello, World!"),
          "http: nothing after Connection: close %r" % out[-100:])
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    out = recv_until_eof(s)
    check(out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), "http: 400")
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
    out = recv_until_eof(s)
    check(out.startswith(b"HTTP/1.1 431 "), "http: 431 %r" % out[:40])
    s = srv.connect()
    t = time.monotonic()
    check(recv_until_eof(s) == b"", "http: idle connection")
    dt = time.monotonic() - t
    check(0.25 < dt < 3, "http: idle timeout of 300 ms took %.2f s" % dt)
    srv.stop(signal.SIGTERM)


def smoke_resp(exe):
    srv = Server(exe)
    s = srv.connect()
    cmds = (b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nincr k\r\nFOO\r\nINCR n\r\n")
    want = (b"+PONG\r\n+OK\r\n$5\r\nhello\r\n"
            b"-ERR value is not an integer or out of range\r\n"
            b"-ERR unknown command 'FOO'\r\n:1\r\n")
    s.sendall(cmds)
    check(recv_exactly(s, len(want)) == want, "resp: pipelined commands")
    s.sendall(b"*1\r\n$x\r\n")
    out = recv_until_eof(s)
    check(out == b"-ERR Protocol error: invalid bulk length\r\n",
          "resp: protocol error then close %r" % out)
    srv.stop(signal.SIGTERM)


def main():
    if len(sys.argv) != 4:
        fail("usage: smoke.py ECHO HTTP RESP")
    try:
        smoke_echo(sys.argv[1])
        smoke_http(sys.argv[2])
        smoke_resp(sys.argv[3])
    except (OSError, socket.timeout) as e:
        fail("%s: %s" % (type(e).__name__, e))
    print("examples smoke: ok")


if __name__ == "__main__":
    main()
