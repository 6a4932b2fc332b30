#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/restart-unread-stop.py - a stop request its worker never read is not
the next worker's.

`actorsctl restart g` of a group whose worker does not read its rings
(SIGSTOPped: the STOP waits, then SIGTERM and SIGKILL at shutdown_ms)
used to leave that STOP in the ring; the next worker read it, handled
the envelopes queued meanwhile, exited 0 at once (its state gone with
it) and a third worker started.  Now a STOP names the worker generation
it is for: the new worker handles the queued Pings and stays.
(Found by an outside attack; restart-stopped.py.)
"""
import os
import signal

from actorsd_harness import Tap, Node, actor, TOP_BUILDDIR

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")

tap = Tap(timeout=60)
with tap:
    node = Node(tap, {"groups": [
        {"name": "g", "module": RELOADMOD, "shutdown_ms": 300,
         "heartbeat_timeout_ms": 60000, "actors": [actor("t0", "tally")]}]}, name="rstop")
    node.start()
    pid = node.group("g")["pid"]
    os.kill(pid, signal.SIGSTOP)
    for i in range(10):
        node.send("t0", "Ping", {"count": i})
    at = os.path.getsize(node.log_path)
    rc, out, err = node.ctl("restart", "g")
    tap.is_(rc, 0, "actorsctl restart g of a stopped worker: exit 0 (%s)" % err.strip())
    g = node.group("g")
    tap.ok(g["state"] == "ready" and g["pid"] not in (None, pid), "a new worker is ready")
    pong = node.ask_ok("t0", "Ping", {"count": 99})
    tap.is_(pong.get("count"), 11,
            "the new worker handled the 10 queued Pings and this one, and still runs")
    g2 = node.group("g")
    tap.is_((g2["pid"], g2["restarts"]), (g["pid"], 1), "no further worker, one restart")
    tap.ok("exited with code 0" not in node.log_text()[at:],
           "no worker of g exited 0 after the restart")
    tap.is_(node.terminate(), 0, "SIGTERM -> exit 0")
