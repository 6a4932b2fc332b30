#!/bin/sh
''''exec "${PYTHON_ZMQ:-/usr/bin/python3}" "$0" "$@" # '''
# SPDX-License-Identifier: MIT
"""
t/reload-remove-dead.py - a group removed while its worker is dead (in
its restart backoff): the monitors of its spawned actors get their Down,
and a reload that adds it back does not bring those actors back.

Groups "prod" (watchers w0, w1) and "bo" (tally t8), t/mod/reloadmod.c,
with a 60 s backoff.  w1 spawns k8 into bo and w0 monitors it.  bo's
worker is SIGKILLed twice: the first restart is immediate and re-creates
k8 (a permanent spawned actor), the second waits in its backoff.  A
reload removes bo then: w0 gets k8's Down.  Before, k8's record stayed
live, so the reload that added bo back re-created it under its name,
after its Down.
"""
import copy
import errno
import os
import signal

from actorsd_harness import (Tap, Node, actor, wait_for, TOP_BUILDDIR)

RELOADMOD = os.path.join(TOP_BUILDDIR, "t", "mod", ".libs", "reloadmod.so")
BACKOFF_MS = 60000

tap = Tap(timeout=120)

with tap:
    node = Node(tap, {
        "max_restarts": 100, "period_ms": 60000,
        "backoff": {"initial_ms": BACKOFF_MS, "factor": 1.0, "max_ms": BACKOFF_MS},
        "groups": [
            {"name": "prod", "module": RELOADMOD,
             "actors": [actor("w0", "watcher"), actor("w1", "watcher")]},
            {"name": "bo", "module": RELOADMOD, "actors": [actor("t8", "tally")]},
        ],
    }, name="rlrd")
    full = copy.deepcopy(node.app)
    node.start()
    small = copy.deepcopy(full)
    small["groups"] = [g for g in small["groups"] if g["name"] != "bo"]
    ok = {"count": 1, "refused": 0}

    tap.is_(node.ask_ok("w1", "SpawnIn", {"name": "bo/k8"}), ok, "w1 spawns k8 into bo")
    tap.is_(node.ask_ok("w0", "Watch", {"name": "k8"}), ok, "w0 monitors k8")

    def back(old):
        def pred():
            g = node.group("bo")
            return g if g["state"] == "ready" and g["pid"] and g["pid"] != old else None
        return pred

    old = node.group("bo")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(back(old), 20, "bo back after its first (immediate) restart")
    tap.is_(node.ask_ok("k8", "Ping", {"count": 0}), {"count": 1},
            "k8 was re-created by the restart")
    d0 = node.ask_ok("w0", "GetDowns", {})
    tap.is_(d0["count"], 0, "no Down for it: w0's monitor holds across the restart (%r)"
            % d0["last"])
    old = node.group("bo")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: node.group("bo")["state"] == "backoff", 20, "bo in its backoff")

    rc, out, err = node.reload(small)
    tap.ok(rc == 0 and "-bo" in out, "a reload removes bo in its backoff (%r)"
           % (out.strip() or err.strip()))
    d = node.wait_downs(1, "k8's Down at w0")
    tap.is_((d["count"], d["last"]), (1, "k8: group stopped"), "w0 got one Down for k8")
    tap.is_(node.group("bo")["state"], "removed", "bo is removed")

    rc, out, err = node.reload(full)
    tap.ok(rc == 0 and "+bo" in out, "a reload adds bo back (%r)" % (out.strip() or err.strip()))
    node.wait_ready(groups=["bo"])
    tap.is_(node.ask_ok("t8", "Ping", {"count": 0}), {"count": 1}, "its static t8 is back")
    tap.is_(node.ask_ok("w0", "Watch", {"name": "k8"}), {"count": 0, "refused": -errno.ENOENT},
            "k8 is not back")
    tap.is_(node.ask_ok("w1", "SpawnIn", {"name": "bo/k8"}), ok, "its name is free: w1 spawns a new k8")
    d2 = node.ask_ok("w0", "GetDowns", {})
    tap.is_(d2["count"], d["count"], "no Down more since (%r)" % d2["last"])
    tap.is_(node.terminate(), 0, "clean stop")
