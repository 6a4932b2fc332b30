#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/control-conns.py - clients of the control socket cannot stall or starve the node.

Slow readers: clients that ask for a big answer (1,000 dead letters, over a
megabyte) and never read it do not block the supervisor: status answers
promptly meanwhile, a client that reads gets the whole answer, and the
slow ones are closed (EOF) after the write timeout.

Silent clients: 1,000 connections that never send a request do not lock
status out (a new connection takes the slot of the oldest silent one),
every one of them sees EOF by the read timeout, and the node's sockets
stay bounded (its fds and the kernel's unix sockets on its path), also
after the next wave.

Clients that leave: 64 clients that close while their hour-long asks
wait do not hold the slots; a client that only half-closes still gets
its answer.

Out of fds: the node does not spin on a listener it cannot accept from,
logs that once, and serves again when fds are back.
"""
import fcntl
import json
import os
import resource
import select
import selectors
import socket
import struct
import termios
import time

from actorsd_harness import Tap, Node, group, actor, wait_for

tap = Tap(timeout=150)
MAX_CONNS = 64
READ_TIMEOUT_S = 5
WRITE_TIMEOUT_S = 5
BACKLOG = 16


def connect(path):
    """A blocking connect: waits while the node's backlog is full (Tap's alarm bounds it)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def wait_hangup(socks, timeout):
    """Waits, without reading, until the node shut every socket down; returns how many it did."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLRDHUP)
    left = len(socks)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for fd, ev in p.poll(max(0, int((deadline - time.monotonic()) * 1000))):
            p.unregister(fd)
            left -= 1
    return len(socks) - left


def kernel_sockets(path):
    """Unix sockets on path in the kernel (listener, accepted and queued ones)."""
    n = 0
    with open("/proc/net/unix") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                n += 1
    return n


def unread(s):
    """Bytes s sent that its peer has not read yet (SIOCOUTQ)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def cpu_s(pid):
    """CPU time (user + system) of pid, in seconds."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def timed_status(node):
    """Status over a blocking connect (the harness's would fail on a full backlog)."""
    t0 = time.monotonic()
    try:
        s = connect(node.sock)
        s.settimeout(20)
        s.sendall(b'{"cmd":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(65536)
            if not b:
                break
            buf += b
        s.close()
        a = json.loads(buf)
    except (OSError, ValueError) as e:
        a = {"error": repr(e)}
    return a, time.monotonic() - t0


def wait_eof(socks, timeout):
    """Reads every socket until EOF; returns {sock: bytes read} for those that saw it."""
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        got[s] = 0
    done = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                b = s.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                b = b""
            if b:
                got[s] += len(b)
            else:
                done[s] = got[s]
                sel.unregister(s)
    sel.close()
    return done


with tap:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 1400
    if soft < want and (hard == resource.RLIM_INFINITY or hard >= want):
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    n_silent = min(1000, soft - 300)

    node = Node(tap, {"groups": [group("g", [actor("e", "echo")])]}, name="conns")
    # A big dead-letter store, so that one answer is larger than any socket buffer.
    os.makedirs(node.state_dir)
    pad = "x" * 1200
    with open(os.path.join(node.state_dir, "dead-letters.jsonl"), "w") as f:
        for i in range(1, 1001):
            f.write(json.dumps({"id": i, "time_ms": 0, "group": "g", "receiver": "e",
                                "sender": "", "type": "Ping", "payload": {"pad": pad},
                                "reason": "test", "redeliveries": 0}) + "\n")
    node.start()
    pid = node.proc.pid

    # ---- slow readers ----------------------------------------------------------------
    slow = []
    for _ in range(5):
        s = connect(node.sock)
        s.sendall(b'{"cmd":"dead_letters"}\n')
        slow.append(s)
    r, _, _ = select.select([slow[0]], [], [], 10)
    tap.ok(r, "the node started answering a slow reader")
    a, took = timed_status(node)
    tap.ok(a.get("ok") is True and took < 3.0,
           "status answers in %.2f s while 5 clients do not read 1 MB answers" % took)
    full = node.request({"cmd": "dead_letters"}, timeout=20)
    tap.ok(full.get("ok") is True and len(full.get("dead_letters", [])) == 1000,
           "a client that reads gets the whole answer (%d entries)"
           % len(full.get("dead_letters", [])))
    size = len(json.dumps(full, separators=(",", ":")))
    hung_up = wait_hangup(slow, WRITE_TIMEOUT_S + 10)
    done = wait_eof(slow, 5)
    tap.ok(hung_up == len(slow) and len(done) == len(slow) and
           all(n < size for n in done.values()),
           "the slow readers are closed after the write timeout (%d of %d, %r of %d bytes)"
           % (hung_up, len(slow), sorted(done.values()), size))
    for s in slow:
        s.close()

    # ---- silent clients --------------------------------------------------------------
    base_fds = fds(pid)
    silent = []
    for _ in range(n_silent):
        silent.append(connect(node.sock))
    a, took = timed_status(node)
    tap.ok(a.get("ok") is True and took < 3.0,
           "status answers in %.2f s with %d silent connections open (%r)"
           % (took, n_silent, a.get("error")))
    tap.ok(fds(pid) <= base_fds + MAX_CONNS + 2,
           "the node holds at most %d more fds (%d -> %d)" % (MAX_CONNS, base_fds, fds(pid)))
    done = wait_eof(silent, READ_TIMEOUT_S + 5)
    tap.is_(len(done), n_silent, "every silent client sees EOF by the read timeout")

    # The expired connections must be gone from the kernel too, not just
    # from the node's fd table: a second wave must not pile up on them.
    wave = [connect(node.sock) for _ in range(200)]
    limit = 1 + MAX_CONNS + BACKLOG + 1
    try:
        n_k = wait_for(lambda: (lambda k: k if k <= limit else None)(kernel_sockets(node.sock)),
                       3, "kernel sockets on the path to drop")
    except Exception:
        n_k = kernel_sockets(node.sock)
    tap.ok(n_k <= limit, "kernel sockets on the control path stay bounded: %d (at most %d)"
           % (n_k, limit))
    tap.ok(fds(pid) <= base_fds + MAX_CONNS + 2,
           "the node's fds stay bounded after the second wave (%d)" % fds(pid))
    a, took = timed_status(node)
    tap.ok(a.get("ok") is True and took < 3.0, "status still answers (%.2f s)" % took)
    done = wait_eof(wave, READ_TIMEOUT_S + 5)
    tap.is_(len(done), len(wave), "the second wave sees EOF too")
    for s in silent + wave:
        s.close()
    tap.ok(wait_for(lambda: kernel_sockets(node.sock) == 1, 5, "only the listener left"),
           "in the end only the listener is left on the path")

    # ---- clients that leave while they wait ------------------------------------------
    # An ask may wait an hour; a client that gave up must not hold its slot
    # that long.  (echo's Crash handler with "none" does nothing: no reply.)
    leavers = []
    for _ in range(MAX_CONNS):
        s = connect(node.sock)
        s.sendall(json.dumps({"cmd": "ask", "actor": "e", "type": "Crash",
                              "message": {"how": "none"},
                              "timeout_ms": 3600000}).encode() + b"\n")
        leavers.append(s)
    # Each request read by the node (nothing left unread on the socket)
    # means each ask is waiting for its reply, not for its request.
    for s in leavers:
        wait_for(lambda: unread(s) == 0, 10, "the node to read an ask")
    for s in leavers:
        s.close()
    a, took = timed_status(node)
    tap.ok(a.get("ok") is True and took < 3.0,
           "status answers after %d clients left their hour-long asks (%.2f s, %r)"
           % (MAX_CONNS, took, a.get("error")))
    tap.ok(wait_for(lambda: fds(pid) <= base_fds + 1, 5, "the leavers' fds closed"),
           "their connections are closed (%d fds)" % fds(pid))
    # A client that shuts down its writing side after the request still
    # gets its answer.
    s = connect(node.sock)
    s.sendall(b'{"cmd":"ask","actor":"e","type":"Ping","message":{"count":5}}\n')
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    s.close()
    tap.ok(json.loads(buf or b"{}").get("message") == {"count": 5},
           "a half-closed client still gets its reply (%r)" % buf[:200])

    # ---- out of fds: the node does not spin on its listener ----------------------------
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (fds(pid), limits[1]))
    try:
        waiting = [connect(node.sock) for _ in range(3)]
        cpu0, t0 = cpu_s(pid), time.monotonic()
        time.sleep(1.0)  # a measurement window, not a synchronisation
        used = cpu_s(pid) - cpu0
        tap.ok(used < 0.2, "out of fds, the node used %.2f s of CPU in %.1f s (no busy loop)"
               % (used, time.monotonic() - t0))
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    a, took = timed_status(node)
    tap.ok(a.get("ok") is True, "with fds again, status answers (%.2f s)" % took)
    with open(node.log_path, errors="replace") as f:
        n_warn = sum(1 for l in f if "accept:" in l)
    tap.ok(1 <= n_warn <= 2, "the accept failure is logged, not flooded (%d lines)" % n_warn)
    for s in waiting:
        s.close()
    tap.is_(node.terminate(), 0, "the node stops cleanly")
