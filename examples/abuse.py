#!/usr/bin/env python3
"""The example servers under abuse (issue 7; meson suite 'examples').

    abuse.py [--quick] [--backend uring|epoll] [--only echo,http,resp]
             ECHO HTTP RESP                 (the three built executables)

Each server is started with --port 0 and --workers 2 (http also with a
short --idle-timeout-ms), and attacked in turn by:

  slowloris   hundreds of connections that dribble a request that never
              ends, a byte every second or so;
  bad input   malformed, truncated (cut mid-line, then closed), oversized
              (huge header line, huge body or bulk length, a million
              arguments, 64 MiB requests) and binary garbage, many copies
              at once, each checked for the answer it must get;
  flood       thousands of connections opened and closed as fast as
              possible, some with a request, some closed with a reset;
  emfile      a second instance of the server with RLIMIT_NOFILE 256,
              and more connections held open than it has descriptors:
              connections made before keep being served, and new ones
              are served again once the holders leave;
  no reader   clients that send requests with large answers (pipelined)
              and never read them.

While each attack runs, a well-behaved client in a separate process (so
that the attackers' Python threads cannot slow it) sends a request every
50 ms on a connection opened before the attack and another on a fresh
connection, and times the answers.  After each attack the attackers
disconnect, and the server must be alive, its open descriptors back to
within a few of what it had before the attack, and its RSS bounded.

Prints a table (attack, what the server did, the normal client's latency
p50/p99/max, ok or FAIL) and exits 1 when any attack fails.  --quick runs
fewer, shorter attacks (about 30 s for the three servers); the full run
is meant to be started by hand, against a release build:

    python3 examples/abuse.py build-rel/examples/{echo,http,resp}
"""
import argparse
import json
import os
import random
import re
import resource
import socket
import subprocess
import sys
import threading
import time

HELLO = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
         b"Content-Length: 13\r\n\r\nHello, World!")
# The normal client's request and the answer it must get, per server.
PROBE = {
    "echo": (b"ping\n", b"ping\n"),
    "http": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", HELLO),
    "resp": (b"PING\r\n", b"+PONG\r\n"),
}
LATENCY_MAX = 1.0       # every normal request answered within this, s
PROBE_EVERY = 0.05      # s between the normal client's requests
FD_SLACK = 3            # descriptors over the baseline that still pass
MIB = 1024 * 1024


# ---------------------------------------------------------------------------
# The normal client: a child process (abuse.py --probe KIND PORT) that runs
# until its stdin closes, then prints its latencies as JSON.

def probe_once(s, req, want, timeout):
    s.settimeout(timeout)
    s.sendall(req)
    got = b""
    while len(got) < len(want):
        d = s.recv(len(want) - len(got))
        if not d:
            raise ConnectionError("closed by server")
        got += d
    if got != want:
        raise ConnectionError("wrong answer %r" % got[:60])


def probe_loop(port, which, res, stop, ready):
    """Requests on one connection made at the start ("kept"), or on a new
    connection each ("fresh"), until stop is set; ready is set after the
    first answer on the kept one."""
    req, want = PROBE[res["kind"]]
    # A failed request counts as this long: over LATENCY_MAX, it fails.
    timeout = 2 * LATENCY_MAX
    s = None
    while not stop.wait(PROBE_EVERY):
        t = time.monotonic()
        try:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout)
            probe_once(s, req, want, timeout)
            res[which].append(time.monotonic() - t)
            if which == "kept":
                ready.set()
        except OSError as e:
            res[which].append(None)
            res["errors"].append("%s: %s" % (which, e))
            s.close()
            s = None
        if which == "fresh" and s:
            s.close()
            s = None
    if s:
        s.close()


def probe_main(kind, port):
    res = {"kind": kind, "kept": [], "fresh": [], "errors": []}
    stop, ready = threading.Event(), threading.Event()
    ts = [threading.Thread(target=probe_loop,
                           args=(port, w, res, stop, ready))
          for w in ("kept", "fresh")]
    for t in ts:
        t.start()
    ready.wait(10)
    print("ready", flush=True)
    sys.stdin.buffer.read()     # until the parent closes it
    stop.set()
    for t in ts:
        t.join()
    print(json.dumps(res))


class Prober:
    def __init__(self, srv):
        self.p = subprocess.Popen(
            [sys.executable, __file__, "--probe", srv.kind, str(srv.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        # Its connection is made, and answered, before the attack.
        self.p.stdout.readline()

    def stop(self):
        out, _ = self.p.communicate(timeout=30)
        return json.loads(out)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


# ---------------------------------------------------------------------------
# Servers.

class Server:
    def __init__(self, exe, kind, args, nofile=None, env=None):
        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.kind = kind
        self.proc = subprocess.Popen(
            [exe, "--port", "0", "--workers", "2", *args],
            stderr=subprocess.PIPE, preexec_fn=limit, env=env)
        line = self.proc.stderr.readline().decode()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            raise RuntimeError("%s: first stderr line %r" % (exe, line))
        self.port = int(m.group(1))
        self.pid = self.proc.pid
        # Drain stderr, so that a chatty server never blocks on it.
        self.err = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.err.append(line.decode(errors="replace").rstrip())

    def alive(self):
        return self.proc.poll() is None

    def fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return -1

    def rss_mib(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return -1

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout)
        s.settimeout(timeout)
        return s

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "did not stop on SIGTERM"
        return None


# ---------------------------------------------------------------------------
# Helpers for attackers.

def read_all(s, timeout, limit=1 << 30, end=None):
    """Read until EOF, a reset, `limit` bytes, data that ends with `end`,
    or `timeout` seconds.  Returns (data, how): how is "eof", "reset",
    "limit", "end" or "timeout"."""
    got = bytearray()
    stop = time.monotonic() + timeout
    while True:
        left = stop - time.monotonic()
        if left <= 0:
            return bytes(got), "timeout"
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return bytes(got), "timeout"
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got), "reset"
        if not d:
            return bytes(got), "eof"
        got += d
        if len(got) >= limit:
            return bytes(got), "limit"
        if end and got.endswith(end):
            return bytes(got), "end"


def send_quietly(s, data):
    """sendall that stops at the server's close or reset."""
    try:
        s.sendall(data)
        return True
    except OSError:
        return False


def close_reset(s):
    """Close with an RST instead of a FIN (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def connect_many(port, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), 5))
        except OSError:
            break
    return socks


def run_threads(fns):
    out = [None] * len(fns)

    def run(i, fn):
        try:
            out[i] = fn()
        except Exception as e:   # an attacker's own failure is a result
            out[i] = e
    ts = [threading.Thread(target=run, args=(i, fn))
          for i, fn in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


# ---------------------------------------------------------------------------
# Attacks.  Each returns (what the server did, list of failures), and
# leaves no connection of its own open.

def slowloris_bytes(kind):
    """A request that never ends, one byte at a time."""
    if kind == "http":
        yield from b"GET / HTTP/1.1\r\nHost: x\r\n"
        i = 0
        while True:
            yield from b"X-%d: a\r\n" % i
            i += 1
    elif kind == "resp":
        yield from b"*2\r\n$3\r\nGET\r\n$100000\r\n"
        while True:
            yield ord("a")
    else:
        while True:
            yield ord("a")


def attack_slowloris(ctx, srv):
    n, secs, every = ctx.slow_conns, ctx.slow_secs, ctx.slow_every
    socks = connect_many(srv.port, n)
    gens = [slowloris_bytes(srv.kind) for _ in socks]
    closed = {}     # socket index -> seconds until the server closed it
    answers = {}
    t0 = time.monotonic()
    for s in socks:
        s.setblocking(False)
    while time.monotonic() - t0 < secs:
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                s.send(bytes([next(gens[i])]))
                while True:     # drain echoes and answers
                    d = s.recv(4096)
                    if not d:
                        raise ConnectionError
                    answers.setdefault(i, d[:12])
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = time.monotonic() - t0
        time.sleep(every)
    fails = []
    if len(socks) < n:
        fails.append("only %d of %d connections made" % (len(socks), n))
    did = "%d conns" % len(socks)
    if closed:
        firsts = sorted(closed.values())
        did += ", %d closed by server after %.1f-%.1f s" % (
            len(closed), firsts[0], firsts[-1])
        kinds = set(a.split(b"\r\n")[0] for a in answers.values()
                    if srv.kind == "http")
        if kinds:
            did += " (%s)" % b", ".join(sorted(kinds)).decode()
    else:
        did += ", all held for %.0f s" % secs
    if srv.kind == "http" and len(closed) < len(socks):
        # A request must arrive whole within the idle timeout.
        fails.append("%d slowloris conns still open after %.0f s" %
                     (len(socks) - len(closed), secs))
    for s in socks:
        s.close()
    return did, fails


# Bad input: (name, payload, expected start of the answer, mode).  Modes:
#   "close"   the server answers and closes the connection;
#   "keep"    the server answers and keeps the connection: a normal
#             request sent after it gets its answer;
#   "eof"     sent, then our write side shut: the server closes without
#             an answer (the request was cut short);
#   "any"     the server answers anything or nothing, or closes.
def bad_inputs(kind, quick):
    rnd = random.Random(7)
    garbage = bytes(rnd.getrandbits(8) for _ in range(64 * 1024))
    if kind == "http":
        return [
            ("header without colon",
             b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"HTTP/1.1 400 ",
             "close"),
            ("two spaces", b"GET  / HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 ",
             "close"),
            ("TLS client hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc" +
             garbage[:500], b"HTTP/1.1 400 ", "close"),
            ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
             b"HTTP/1.1 400 ", "close"),
            ("NUL in a header", b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
             b"HTTP/1.1 400 ", "close"),
            ("obs-fold", b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
             b"HTTP/1.1 400 ", "close"),
            ("two Content-Lengths",
             b"POST / HTTP/1.1\r\nContent-Length: 1\r\n"
             b"Content-Length: 2\r\n\r\nab", b"HTTP/1.1 400 ", "close"),
            ("Content-Length -1",
             b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
             b"HTTP/1.1 400 ", "close"),
            ("chunked body",
             b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\n", b"HTTP/1.1 501 ", "close"),
            ("cut mid-line", b"GET / HTTP/1.1\r\nHo", b"", "eof"),
            ("cut in the body",
             b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc", b"",
             "eof"),
            ("1 MiB header line",
             b"GET / HTTP/1.1\r\nX: " + b"a" * MIB + b"\r\n\r\n",
             b"HTTP/1.1 431 ", "close"),
            ("1 MiB request line, no LF", b"GET /" + b"a" * MIB,
             b"HTTP/1.1 431 ", "close"),
            ("5000 headers", b"GET / HTTP/1.1\r\n" +
             b"X: y\r\n" * 5000 + b"\r\n", b"HTTP/1.1 431 ", "close"),
            ("100 KiB of empty lines", b"\r\n" * 51200,
             b"HTTP/1.1 431 ", "close"),
            ("Content-Length 999999999999",
             b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n",
             b"HTTP/1.1 413 ", "close"),
            ("Content-Length 10^30",
             b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 30 +
             b"\r\n\r\n", b"HTTP/1.1 413 ", "close"),
            ("1 MiB body", b"POST / HTTP/1.1\r\nContent-Length: 1048576"
             b"\r\n\r\n" + b"b" * MIB, b"HTTP/1.1 413 ", "close"),
            ("60 KiB body", b"POST / HTTP/1.1\r\nContent-Length: 61440"
             b"\r\n\r\n" + b"b" * 61440,
             b"HTTP/1.1 405 Method Not Allowed\r\n", "keep"),
            ("64 KiB binary garbage", garbage, b"HTTP/1.1 400 ", "close"),
        ]
    if kind == "resp":
        cases = [
            ("bad bulk length", b"*1\r\n$x\r\n",
             b"-ERR Protocol error: invalid bulk length\r\n", "close"),
            ("bad multibulk length", b"*x\r\n",
             b"-ERR Protocol error: invalid multibulk length\r\n", "close"),
            ("nested array", b"*1\r\n*1\r\n",
             b"-ERR Protocol error: expected '$', got '*'\r\n", "close"),
            ("*1000000 nested 1000 deep", b"*1000000\r\n" * 1000,
             b"-ERR Protocol error: expected '$', got '*'\r\n", "close"),
            ("bulk length 999999999999", b"*1\r\n$999999999999\r\n",
             b"-ERR Protocol error: invalid bulk length\r\n", "close"),
            ("multibulk length 2^31", b"*2147483648\r\n",
             b"-ERR Protocol error: invalid multibulk length\r\n", "close"),
            ("no CRLF after bulk", b"*1\r\n$4\r\nPINGxx",
             b"-ERR Protocol error: expected CRLF after bulk data\r\n",
             "close"),
            ("unbalanced quotes", b'SET "a b\r\n',
             b"-ERR Protocol error: unbalanced quotes in request\r\n",
             "close"),
            ("cut mid-command", b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"", "eof"),
            ("cut in a bulk", b"*1\r\n$100\r\nabc", b"", "eof"),
            ("1 MiB inline, no LF", b"a" * MIB,
             b"-ERR Protocol error: too big inline request\r\n", "close"),
            ("1 MiB length line", b"*1\r\n$" + b"1" * MIB,
             b"-ERR Protocol error: too big bulk count string\r\n",
             "close"),
            ("bulk length 512 MiB", b"*1\r\n$536870912\r\n",
             b"-ERR Protocol error: request larger than 64 MiB\r\n",
             "close"),
            ("63 MiB command name", b"*1\r\n$66060288\r\n" +
             b"b" * (63 * MIB) + b"\r\n", b"-ERR unknown command 'bbbb",
             "keep"),
            ("65 MiB inline of spaces", b" " * (65 * MIB),
             b"-ERR Protocol error: too big inline request\r\n", "close"),
            ("a million arguments",
             b"*1048576\r\n" + b"$1\r\na\r\n" * 1048576,
             b"-ERR unknown command 'a'", "keep"),
            ("64 KiB binary garbage", garbage, b"", "any"),
        ]
        return cases
    return [
        ("1 MiB binary garbage, echoed", garbage * 16, garbage * 16, "eof"),
    ]


def run_bad_input(srv, case):
    name, payload, want, mode = case
    s = srv.connect()
    t0 = time.monotonic()
    if mode == "keep":
        payload += PROBE[srv.kind][0]
    sender = threading.Thread(target=send_quietly, args=(s, payload))
    sender.start()
    if mode == "eof":
        sender.join()
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    end = PROBE[srv.kind][1] if mode == "keep" else None
    got, how = read_all(s, 1.0 if mode == "any" else 5.0, end=end)
    dt = time.monotonic() - t0
    if mode == "keep" and how != "end":
        how = "not kept"
    s.close()
    sender.join()
    if not got.startswith(want):
        return "%s: answer %r, want %r" % (name, got[:60], want[:60])
    if mode in ("close", "eof") and how not in ("eof", "reset"):
        return "%s: connection not closed by the server (%s after %.1f s)" \
            % (name, how, dt)
    if mode == "keep" and how == "not kept":
        return "%s: connection not usable after the answer" % name
    return None


def attack_bad_input(ctx, srv):
    cases = bad_inputs(srv.kind, ctx.quick)
    # Copies of each at once; a single one of the 64 MiB kind.
    fns = []
    for case in cases:
        copies = 1 if len(case[1]) > 8 * MIB else ctx.bad_copies
        fns += [lambda c=case: run_bad_input(srv, c)] * copies
    fails = []
    res = run_threads(fns)
    for r in res:
        if isinstance(r, Exception):
            r = "attacker: %r" % r
        if r and r not in fails:
            fails.append(r)
    return "%d kinds x %d: %d of %d as expected" % (
        len(cases), ctx.bad_copies, res.count(None), len(fns)), fails


def flood_worker(srv, n, secs, seed):
    rnd = random.Random(seed)
    req = PROBE[srv.kind][0]
    made = refused = 0
    end = time.monotonic() + secs
    while made + refused < n and time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), 2)
        except OSError:
            refused += 1
            continue
        made += 1
        k = rnd.randrange(4)
        try:
            if k >= 2:
                s.send(req)
        except OSError:
            pass
        if k % 2:
            close_reset(s)
        else:
            s.close()
    return made, refused


def attack_flood(ctx, srv):
    t0 = time.monotonic()
    # Two threads; a count, so as not to run out of local ports (closed
    # connections wait in TIME_WAIT), and a time bound.
    res = run_threads([lambda i=i: flood_worker(srv, ctx.flood_conns // 2,
                                                10.0, i)
                       for i in range(2)])
    dt = time.monotonic() - t0
    made = sum(r[0] for r in res if isinstance(r, tuple))
    refused = sum(r[1] for r in res if isinstance(r, tuple))
    fails = [repr(r) for r in res if isinstance(r, Exception)]
    if refused:
        fails.append("%d connections refused" % refused)
    return "%d conns opened and closed in %.1f s (%.0f/s), half reset" % (
        made, dt, made / dt), fails


def attack_emfile(ctx, srv):
    """srv runs with RLIMIT_NOFILE 256: hold more connections than that."""
    req, want = PROBE[srv.kind]
    holders = connect_many(srv.port, ctx.emfile_conns)
    # Meanwhile the normal client's connection made before keeps being
    # served (run_attack checks), while accept fails.
    time.sleep(1.0)
    fails = []
    at_limit = srv.fds()
    for s in holders:
        s.close()
    # The backlog drains; then a new connection is served.
    t = time.monotonic()
    new_ok = None
    while time.monotonic() - t < 10 and new_ok is None:
        try:
            s = srv.connect(2.0)
            probe_once(s, req, want, 2.0)
            new_ok = time.monotonic() - t
            s.close()
        except OSError:
            pass
    if new_ok is None:
        fails.append("new connections not served 10 s after the holders"
                     " left")
    did = "%d held, server at %d fds; new conns served %s after " \
          "release" % (len(holders), at_limit, "%.1f s" % new_ok
                       if new_ok is not None else "never")
    return did, fails


def nonreader(srv, secs):
    """Send requests with large answers, never read; bytes sent."""
    s = srv.connect()
    if srv.kind == "resp":
        s.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" %
                  (MIB, b"v" * MIB))
        read_all(s, 2.0, 5)     # +OK
        req = b"GET big\r\n" * 64
    elif srv.kind == "http":
        req = PROBE["http"][0] * 256
    else:
        req = b"x" * 65536
    s.setblocking(False)
    sent = 0
    end = time.monotonic() + secs
    closed = False
    while time.monotonic() < end:
        try:
            sent += s.send(req)
        except BlockingIOError:
            time.sleep(0.02)
        except OSError:
            closed = True
            break
    s.close()
    return sent, closed


def attack_nonreader(ctx, srv):
    res = run_threads([lambda: nonreader(srv, ctx.nonreader_secs)] *
                      ctx.nonreader_conns)
    fails = [repr(r) for r in res if isinstance(r, Exception)]
    ok = [r for r in res if isinstance(r, tuple)]
    sent = sum(r[0] for r in ok)
    closed = sum(1 for r in ok if r[1])
    did = "%d conns sent %.1f MiB of requests in %.0f s, read nothing" % (
        len(ok), sent / MIB, ctx.nonreader_secs)
    if closed:
        did += "; %d closed by server (send timeout)" % closed
    return did, fails


# ---------------------------------------------------------------------------
# The run.

class Context:
    def __init__(self, args):
        self.quick = args.quick
        q = args.quick
        self.slow_conns = 200 if q else 500
        self.slow_secs = 4.0 if q else 20.0
        self.slow_every = 0.5 if q else 1.0
        self.bad_copies = 3 if q else 20
        self.flood_conns = 10000 if q else 25000
        self.emfile_conns = 400 if q else 1000
        self.nonreader_conns = 4 if q else 16
        self.nonreader_secs = 2.0 if q else 10.0
        # http closes idle and slow connections after this.
        self.idle_ms = 1000 if q else 5000
        self.rss_max_mib = 160 if q else 256
        self.env = dict(os.environ)
        if args.backend:
            self.env["WEFT_IO_BACKEND"] = args.backend


def wait_fds(srv, base, secs):
    end = time.monotonic() + secs
    n = srv.fds()
    while n > base + FD_SLACK and time.monotonic() < end and srv.alive():
        time.sleep(0.1)
        n = srv.fds()
    return n


def run_attack(ctx, srv, name, fn, recover_secs):
    """One attack with the normal client running; returns a table row."""
    base_fd, base_rss = wait_fds(srv, 0, 0), srv.rss_mib()
    peak = {"fds": base_fd, "rss": base_rss}
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak["fds"] = max(peak["fds"], srv.fds())
            peak["rss"] = max(peak["rss"], srv.rss_mib())
    sampler = threading.Thread(target=sample)
    sampler.start()
    prober = Prober(srv)
    t0 = time.monotonic()
    try:
        did, fails = fn(ctx, srv)
    except Exception as e:
        did, fails = "attacker failed", ["%s: %r" % (name, e)]
    # A second at least of normal requests, however short the attack.
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    lat = prober.stop()
    done.set()
    sampler.join()
    fails = list(fails)
    after_fd = wait_fds(srv, base_fd, recover_secs)
    after_rss = srv.rss_mib()
    if not srv.alive():
        fails.append("server died (status %s)" % srv.proc.returncode)
    elif after_fd > base_fd + FD_SLACK:
        fails.append("fds %d, %d before the attack, %.0f s after it" %
                     (after_fd, base_fd, recover_secs))
    if peak["rss"] > ctx.rss_max_mib:
        fails.append("RSS peaked at %.0f MiB" % peak["rss"])
    # The normal client: no error, every answer within LATENCY_MAX.  In
    # the emfile attack, new connections wait for a descriptor.
    ms = [x for x in lat["kept"] + lat["fresh"] if x is not None]
    errs = lat["errors"]
    if name == "emfile":
        ms = [x for x in lat["kept"] if x is not None]
        errs = [e for e in errs if e.startswith("kept")]
    slow = sum(1 for x in ms if x > LATENCY_MAX)
    if slow or errs:
        fails.append("normal client: %d slow, %d errors%s" % (
            slow, len(errs), (" (%s)" % errs[0]) if errs else ""))
    did += "; fds %d->%d->%d, RSS %.1f->%.1f->%.1f MiB" % (
        base_fd, peak["fds"], after_fd, base_rss, peak["rss"], after_rss)
    return {
        "server": srv.kind, "attack": name, "did": did,
        "lat": "%d%s reqs, p50 %.1f p99 %.1f max %.1f ms" % (
            len(ms), " old-conn" if name == "emfile" else "",
            percentile(ms, 0.5) * 1000,
            percentile(ms, 0.99) * 1000, max(ms + [0]) * 1000),
        "fails": fails,
    }


def run_server(ctx, exe, kind):
    args = ["--idle-timeout-ms", str(ctx.idle_ms)] if kind == "http" else []
    rows = []
    srv = Server(exe, kind, args, env=ctx.env)
    try:
        # Warm up: a few requests, so the baseline has its first stacks.
        for _ in range(20):
            with srv.connect() as s:
                probe_once(s, *PROBE[kind], 2.0)
        recover = ctx.idle_ms / 1000 + 3
        for name, fn in (("slowloris", attack_slowloris),
                         ("bad input", attack_bad_input),
                         ("flood", attack_flood),
                         ("no reader", attack_nonreader)):
            rows.append(run_attack(ctx, srv, name, fn, recover))
    finally:
        err = srv.stop()
    if err:
        rows[-1]["fails"].append(err)
    elif srv.proc.returncode != 0:
        rows[-1]["fails"].append("exit status %d after SIGTERM" %
                                 srv.proc.returncode)
    srv = Server(exe, kind, args, nofile=256, env=ctx.env)
    try:
        rows.append(run_attack(ctx, srv, "emfile", attack_emfile,
                               ctx.idle_ms / 1000 + 3))
    finally:
        err = srv.stop()
    if err:
        rows[-1]["fails"].append(err)
    return rows


def print_table(rows):
    print("%-5s %-10s %-4s %-46s %s" % ("srv", "attack", "", "normal client",
                                        "what the server did"))
    for r in rows:
        print("%-5s %-10s %-4s %-46s %s" % (
            r["server"], r["attack"], "FAIL" if r["fails"] else "ok",
            r["lat"], r["did"]))
        for f in r["fails"]:
            print("%22s- %s" % ("", f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backend", choices=["uring", "epoll"])
    ap.add_argument("--only", default="echo,http,resp")
    ap.add_argument("exes", nargs=3, metavar="EXE")
    args = ap.parse_args()
    # Room for the attackers' sockets.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = Context(args)
    need = max(ctx.slow_conns, ctx.emfile_conns) + 100
    if hard < need:
        print("abuse: RLIMIT_NOFILE %d, need %d: skipped" % (hard, need))
        sys.exit(77)
    rows = []
    t0 = time.monotonic()
    for exe, kind in zip(args.exes, ("echo", "http", "resp")):
        if kind in args.only.split(","):
            rows += run_server(ctx, exe, kind)
    print_table(rows)
    failed = sum(1 for r in rows if r["fails"])
    print("abuse: %d attacks, %d failed, %.0f s" % (
        len(rows), failed, time.monotonic() - t0))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        probe_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
