#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/sessions.py - the sessions example (examples/sessions) under actorsd: a
TCP line-protocol front end that spawns one session actor per connection
into another group, and a SIGKILL of that group in the middle of pipelined
requests.

CLIENTS clients connect; each sends REQS "incr" lines pipelined: the first
half at once, then the test SIGKILLs the sessions group's worker (pid from
status), then the second half.  Every client must get exactly REQS lines
back, "1" .. "REQS" in order: none dropped (queued requests answered after
the restart), none applied twice (a redelivered one is answered from the
session's file), none answered twice (the front drops duplicates), and the
counter survived the kill.  Then one client disconnects: its session stops,
the front sees its Down, actorsctl actors no longer lists it, the others
are still there; a new connection takes the freed registry slot with a
fresh counter, and too long lines (600 bytes, and 70,000 arriving in
pieces) get one error line each, in their turn.  Waits poll against
deadlines; nothing sleeps.
"""
import os
import select
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import free_port, Tap, Node, actor, wait_for, TOP_BUILDDIR  # noqa: E402

SESSIONS_SO = os.path.join(TOP_BUILDDIR, "examples", "sessions", ".libs", "sessions.so")
CLIENTS = 8
REQS = 2000



def read_lines(socks, want, timeout):
    """Reads until every socket has `want` lines (or the deadline); {sock: [lines]}."""
    bufs = {s: b"" for s in socks}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        todo = [s for s in socks if bufs[s].count(b"\n") < want]
        if not todo:
            break
        r, _, _ = select.select(todo, [], [], max(0, deadline - time.monotonic()))
        for s in r:
            d = s.recv(65536)
            if not d:
                socks = [x for x in socks if x is not s]
            bufs[s] += d
    return {s: bufs[s].decode().splitlines() for s in bufs}


if not os.path.exists(SESSIONS_SO):
    print("1..0 # SKIP %s not built" % SESSIONS_SO, flush=True)
    sys.exit(0)

tap = Tap(timeout=100)
with tap:
    t0 = time.monotonic()
    port = free_port()
    node = Node(tap, {"max_restarts": 10, "period_ms": 5000, "groups": [
        {"name": "front", "module": SESSIONS_SO, "actors": [
            actor("front", "front", {"port": port, "dir": "/placeholder"})]},
        {"name": "sessions", "module": SESSIONS_SO, "actors": [
            actor("sessions_keeper", "sessions_keeper")]},
    ]}, name="sess")
    node.app["groups"][0]["actors"][0]["args"]["dir"] = node.path("sessions")
    node.start()

    def stats():
        r = node.ask("front", "Stats", {})
        return r.get("message") or {}

    socks = []
    for i in range(CLIENTS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        socks.append(s)
        tap.cleanups.append(s.close)
    wait_for(lambda: stats().get("sessions") == CLIENTS, 20, "the front to spawn the sessions")
    tap.is_(stats()["accepted"], CLIENTS, "the front accepted %d connections" % CLIENTS)

    # A first round: the sessions answer at all.
    for s in socks:
        s.sendall(b"ping\n")
    got = read_lines(socks, 1, 20)
    tap.ok(all(got[s] == ["pong"] for s in socks), "every client: ping -> pong")

    # Pipelined incr, the sessions group killed in the middle.
    half = REQS // 2
    for s in socks:
        s.sendall(b"incr\n" * half)
    pid = node.group("sessions")["pid"]
    os.kill(pid, signal.SIGKILL)
    for s in socks:
        s.sendall(b"incr\n" * (REQS - half) + b"get\n")
    got = read_lines(socks, REQS + 1, 60)
    want = [str(i) for i in range(1, REQS + 1)] + [str(REQS)]
    bad = [i for i, s in enumerate(socks) if got[s] != want]
    tap.ok(not bad, "every client got exactly its %d answers, in order, counter intact "
           "across the kill (bad: %s)" % (REQS + 1, [(i, len(got[socks[i]])) for i in bad]))
    st = node.wait_group("sessions", lambda g, s: g["state"] == "ready" and g["pid"] != pid,
                         what="the sessions group back")
    tap.ok(node.group("sessions", st)["restarts"] >= 1, "the sessions group was restarted")
    tap.is_(node.group("front", st)["restarts"], 0, "the front never restarted")
    fs = stats()
    tap.is_(fs["replies"], CLIENTS * (REQS + 2), "the front sent one reply per request")
    tap.is_(fs["downs"], 0, "no Down: the permanent sessions came back with their ref")
    with open(node.log_path, errors="replace") as f:
        log = f.read()
    tap.ok("re-created %d spawned actors" % CLIENTS in log,
           "the restarted worker re-created the %d sessions" % CLIENTS)
    tap.diag("front stats after the kill: %r" % (fs,))

    # The state survives a second kill too, with nothing in flight.
    pid2 = node.group("sessions")["pid"]
    os.kill(pid2, signal.SIGKILL)
    node.wait_group("sessions", lambda g, s: g["state"] == "ready" and g["pid"] not in (pid, pid2),
                    what="the sessions group back again")
    for s in socks:
        s.sendall(b"incr 5\n")
    got = read_lines(socks, 1, 20)
    tap.ok(all(got[s] == [str(REQS + 5)] for s in socks), "after a second kill: incr 5 -> %d"
           % (REQS + 5))

    # Bad requests get an error line, the session lives on.
    socks[1].sendall(b"frobnicate\nincr x\nget\n")
    got = read_lines([socks[1]], 3, 20)[socks[1]]
    tap.is_(got, ["error: unknown request 'frobnicate'", "error: unknown request 'incr'",
                  str(REQS + 5)], "unknown requests get an error line, the state is intact")

    # A disconnect stops its session: Down, gone from actorsctl actors.
    def names():
        rc, ans, err = node.ctl_json("actors")
        return {a["name"] for a in (ans or {}).get("actors", [])}
    before = names()
    tap.ok({"sess-%d" % i for i in range(1, CLIENTS + 1)} <= before,
           "actorsctl actors lists the %d sessions" % CLIENTS)
    socks[0].close()
    fs = wait_for(lambda: (lambda f: f if f.get("downs") == 1 else None)(stats()), 20,
                  "the front to see the Down")
    tap.is_((fs["sessions"], fs["open"]), (CLIENTS - 1, CLIENTS - 1),
            "the registry dropped the closed connection's session")
    after = names()
    tap.ok("sess-1" not in after and {"sess-%d" % i for i in range(2, CLIENTS + 1)} <= after,
           "actorsctl actors: sess-1 gone, the others there")
    tap.ok(not os.path.exists(node.path("sessions", "sess-1")) and
           os.path.exists(node.path("sessions", "sess-2")),
           "the stopped session's state file was removed, the others kept")

    # A new connection takes the freed registry slot and starts fresh.
    s9 = socket.create_connection(("127.0.0.1", port), timeout=10)
    tap.cleanups.append(s9.close)
    s9.sendall(b"incr\nget\n" + b"x" * 600 + b"\nping\n" + b"y" * 70000 + b"\nget\n")
    got = read_lines([s9], 6, 20)[s9]
    tap.is_(got, ["1", "1", "error: line too long", "pong", "error: line too long", "1"],
            "a new connection: a fresh counter, a too long line refused, the session lives on")
    tap.is_(stats()["sessions"], CLIENTS, "the registry holds %d sessions again" % CLIENTS)

    tap.is_(node.terminate(), 0, "actorsd stops cleanly")
    tap.diag("runtime %.1f s" % (time.monotonic() - t0))
