#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/pool-backoff.py - a pool member in a long backoff does not hold back a
sibling's restart.

Member p#0 is SIGKILLed twice: its first restart is immediate, its second
waits backoff.initial_ms (8 s).  Member p#1 is then SIGKILLed once: its own
first restart is immediate, so it must be serving again long before p#0's
backoff ends (it used to wait in the start queue behind p#0).
"""
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from actorsd_harness import Tap, Node, group, actor, wait_for  # noqa: E402

BACKOFF_MS = 8000

tap = Tap(timeout=90)
with tap:
    g = group("p", [actor("x", "pid")])
    g["pool"] = 2
    node = Node(tap, {"max_restarts": 100, "period_ms": 60000,
                      "backoff": {"initial_ms": BACKOFF_MS, "factor": 1.0,
                                  "max_ms": BACKOFF_MS},
                      "groups": [g]}, name="pbo")
    node.start(timeout=30)

    def killed_and_back(name, old):
        def back():
            m = node.group(name)
            return m if m["state"] == "ready" and m["pid"] and m["pid"] != old else None
        return back

    old = node.group("p#0")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(killed_and_back("p#0", old), 20, "p#0 back after its first (immediate) restart")
    old = node.group("p#0")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: node.group("p#0")["state"] == "backoff", 20, "p#0 in its backoff")
    t0 = time.monotonic()
    old1 = node.group("p#1")["pid"]
    os.kill(old1, signal.SIGKILL)
    wait_for(killed_and_back("p#1", old1), 20, "p#1 back")
    took = time.monotonic() - t0
    st = node.status()
    tap.ok(took < BACKOFF_MS / 2000.0,
           "p#1 restarted in %.2f s, not behind p#0's %d ms backoff" % (took, BACKOFF_MS))
    tap.is_(node.group("p#0", st)["state"], "backoff", "p#0 still in its backoff meanwhile")
    rc, out, err = node.ctl("ask", "x", "Ping", '{"count":1}')
    tap.is_(rc, 0, "the pool answers while p#0 waits (%s)" % (out or err).strip())
    wait_for(lambda: node.group("p#0")["state"] == "ready", 30, "p#0 back after its backoff")
    tap.is_(node.terminate(), 0, "clean stop")
