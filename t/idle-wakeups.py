#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/idle-wakeups.py - an idle node does not wake needlessly (issue 14).

A node of 8 idle groups (no gateway, no control client connected): over
3 s, actorsd wakes (voluntary context switches, /proc/PID/status) at most
a few times a second - its heartbeat looks at sleeping workers, every half
heartbeat_timeout_ms - where it used to tick every 50 ms (60 in 3 s), and
no idle worker wakes at all.  Then hang detection still works on the idle
node: a worker SIGSTOPped while it sleeps, sent a message, is killed as
hung and restarted.  Last, a send that can never be taken (queued behind
a hung handler of a temporary group, which is killed and never restarted)
is answered "queued" and does not keep the node ticking; a send to the
group after that is refused at once.
"""
import os
import signal
import time

from actorsd_harness import Tap, Node, group, actor, wait_for, switches

WINDOW = 3.0
G = 8

tap = Tap(timeout=90)


with tap:
    node = Node(tap, {"groups": [group("g%d" % i, [actor("a%d" % i, "echo")],
                                       heartbeat_timeout_ms=1000) for i in range(G)] +
                      [group("tmp", [actor("t0", "echo")], restart="temporary",
                             heartbeat_timeout_ms=1000)]},
                name="idle")
    st = node.start()
    pids = {g["name"]: g["pid"] for g in st["groups"]}
    sup = node.proc.pid
    time.sleep(0.5)  # let the start settle (the status request itself is a wake)
    before = {p: switches(p) for p in [sup] + list(pids.values())}
    time.sleep(WINDOW)
    after = {p: switches(p) for p in before}
    sup_w = after[sup] - before[sup]
    tap.diag("actorsd woke %d times in %.1f s" % (sup_w, WINDOW))
    tap.ok(sup_w <= 4 * WINDOW, "actorsd: %d wake-ups in %.0f s (at most %d; a 50 ms tick "
           "made 60)" % (sup_w, WINDOW, 4 * WINDOW))
    worker_w = {n: after[p] - before[p] for n, p in pids.items()}
    tap.ok(all(w == 0 for w in worker_w.values()), "idle workers did not wake: %s" % worker_w)

    # Hang detection on the idle node: SIGSTOP a sleeping worker, give it work.
    victim = pids["g3"]
    os.kill(victim, signal.SIGSTOP)
    t0 = time.monotonic()
    r = node.send("a3", "Ping", {"count": 1})
    tap.ok(r.get("ok"), "a Ping for the stopped worker is accepted")
    wait_for(lambda: node.group("g3")["pid"] not in (None, victim) and
             node.group("g3")["state"] == "ready", 10, "the hung worker to be replaced")
    took = time.monotonic() - t0
    tap.ok(took < 3.0, "killed as hung and restarted %.2f s after the send (timeout 1 s)" % took)
    with open(node.log_path, errors="replace") as f:
        tap.ok("'g3' (pid %d) is hung: asleep" % victim in f.read(), "the log says it hung asleep")

    # A send that will never be taken: queued behind a handler that hangs
    # in a temporary group, which is then killed as hung and never
    # restarted.  actorsctl hears "queued", and the node goes back to
    # sleep instead of ticking for it forever.  A send after that is
    # refused at once: the group will not run again.
    r = node.ctl("send", "t0", "Crash", '{"how": "hang"}')
    tap.is_(r[0], 0, "the temporary group's actor takes a Crash that hangs")
    a = node.request({"cmd": "send", "actor": "t0", "type": "Ping", "message": {"count": 1},
                      "timeout_ms": 100})
    tap.is_(a, {"ok": True, "queued": True}, "a send behind the hung handler is queued")
    wait_for(lambda: node.group("tmp")["state"] == "done", 10,
             "the hung temporary group to be killed and done")
    r = node.ctl("send", "t0", "Ping", '{"count": 2}')
    tap.ok(r[0] != 0 and "runs again only after" in r[2],
           "a send to the done group is refused at once (%r)" % (r[2].strip(),))
    time.sleep(0.5)  # as above: the status requests and the send are wakes
    before = switches(sup)
    time.sleep(WINDOW)
    sup_w = switches(sup) - before
    tap.ok(sup_w <= 4 * WINDOW, "with that send queued for good, actorsd: %d wake-ups in %.0f s "
           "(at most %d; a 50 ms tick made 60)" % (sup_w, WINDOW, 4 * WINDOW))
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
